/**
 * Enveloped XML signatures (xml-crypto): signing what we send, verifying what a service provider
 * POSTs. Verification is deliberately narrow — one signature, a direct child of the root, one
 * reference to the root's ID, only the enveloped and exclusive-c14n transforms, the ID unique in
 * the document — because every extra freedom is a known signature-wrapping attack. Callers read
 * the message from the XML returned here (what was signed), not from the document they parsed.
 */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ExclusiveCanonicalization, ExclusiveCanonicalizationWithComments, SignedXml } from 'xml-crypto';
import type { Document, Element } from '@xmldom/xmldom';
import { certificatePem, privateKeyOf, type SigningCredential } from './keys.ts';
import { unsupportedAlgorithm } from './binding.ts';
import { NS, childElements, refuse } from './xml.ts';

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';

/** What we accept from service providers (xml-crypto has no ECDSA; SHA-1 is refused by policy). */
const ACCEPTED_SIGNATURE_METHODS = new Set([RSA_SHA256, 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512']);
const ACCEPTED_DIGESTS = new Set([SHA256, 'http://www.w3.org/2001/04/xmlenc#sha512']);
const ACCEPTED_TRANSFORMS = new Set([ENVELOPED, EXC_C14N, `${EXC_C14N}WithComments`]);
/** Inclusive c14n of SignedInfo would need the whole document's namespaces: exclusive only. */
const ACCEPTED_CANONICALIZATIONS = new Set([EXC_C14N, `${EXC_C14N}WithComments`]);
const SIGNATURE_HASH: Record<string, 'sha256' | 'sha512'> = { [RSA_SHA256]: 'sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'sha512' };

/** xml-crypto's own canonicalisation of SignedInfo (not public API, hence the narrow view). */
interface SignedInfoCanonicalizer {
  getCanonSignedInfoXml(doc: Document): string;
}

/**
 * SignedInfo in exclusive c14n, as xml-crypto computes it, without its XPath search of the whole
 * document for ancestor namespaces — they matter only to an InclusiveNamespaces prefix list, which
 * SAML signers rarely use; then xml-crypto's own (slower, still bounded) method is used.
 */
function canonicalSignedInfo(signature: Element, verifier: SignedXml, doc: Document): string {
  const signedInfo = childElements(signature, NS.dsig, 'SignedInfo')[0];
  const method = signedInfo ? childElements(signedInfo, NS.dsig, 'CanonicalizationMethod')[0] : undefined;
  if (signedInfo === undefined || method === undefined) throw new Error('no SignedInfo');
  const inclusive = Array.from(method.childNodes).some((node) => node.nodeType === 1 && (node as Element).localName === 'InclusiveNamespaces');
  if (inclusive) return (verifier as unknown as SignedInfoCanonicalizer).getCanonSignedInfoXml(doc);
  const c14n = method.getAttribute('Algorithm')?.endsWith('WithComments') ? new ExclusiveCanonicalizationWithComments() : new ExclusiveCanonicalization();
  return c14n.process(signedInfo.cloneNode(true), { defaultNsForPrefix: SignedXml.defaultNsForPrefix, ancestorNamespaces: [] }).toString();
}

// Parsing a certificate's key costs about a millisecond: kept for the few certificates in use.
const publicKeys = new Map<string, KeyObject>();
function publicKeyOf(certificate: string): KeyObject {
  let key = publicKeys.get(certificate);
  if (key === undefined) {
    key = createPublicKey(certificatePem(certificate));
    if (publicKeys.size >= 64) publicKeys.clear();
    publicKeys.set(certificate, key);
  }
  return key;
}

/**
 * Signs the root element of `xml` (which must carry an ID and, as first child, an Issuer):
 * RSA-SHA256, exclusive c14n, the Signature placed right after Issuer where the SAML schema
 * wants it, and the certificate in KeyInfo so service providers can pick the right key.
 */
export function signRoot(xml: string, rootLocalName: string, credential: SigningCredential): string {
  const signer = new SignedXml({
    privateKey: privateKeyOf(credential.keyPem),
    publicCert: certificatePem(credential.certificate),
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
  });
  signer.addReference({
    xpath: `/*[local-name()='${rootLocalName}']`,
    transforms: [ENVELOPED, EXC_C14N],
    digestAlgorithm: SHA256,
  });
  signer.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `/*[local-name()='${rootLocalName}']/*[local-name()='Issuer']`, action: 'after' },
  });
  return signer.getSignedXml();
}

/** The enveloped signature directly under `root`, or undefined when the message is unsigned. */
export function envelopedSignature(root: Element): Element | undefined {
  const signatures = childElements(root, NS.dsig, 'Signature');
  if (signatures.length > 1) refuse('saml.signature_invalid', 'the message carries more than one signature');
  return signatures[0];
}

/**
 * Verifies the enveloped signature of `root` (from the document parsed out of `xml`) against
 * the certificate, and returns the canonical XML of what it covers.
 */
export function verifyEnvelopedSignature(xml: string, root: Element, signature: Element, certificate: string): string {
  const id = root.getAttribute('ID') ?? '';
  const method = checkSignatureShape(signature, id);
  // xml-crypto resolves the reference among ID, Id and id attributes: the value must name only the
  // root (which is the document element, so the root and its descendants are the whole document).
  const owners = [root, ...Array.from(root.getElementsByTagName('*'))].filter((element) => ['ID', 'Id', 'id'].some((name) => element.getAttribute(name) === id));
  if (owners.length !== 1) refuse('saml.signature_invalid', 'the message contains more than one element with the signed ID');

  const verifier = new SignedXml({ publicCert: certificatePem(certificate) });
  let valid = false;
  try {
    verifier.loadSignature(signature);
    // SignatureValue over SignedInfo first: a few microseconds, and a forged signature stops here.
    // xml-crypto checks the references (canonicalising and digesting the document) before it
    // looks at the signature value, so on its own it would do that work for any forgery.
    const signedInfo = canonicalSignedInfo(signature, verifier, root.ownerDocument as Document);
    const value = Buffer.from(childElements(signature, NS.dsig, 'SignatureValue')[0]?.textContent?.replace(/\s+/g, '') ?? '', 'base64');
    if (value.length === 0 || !verify(SIGNATURE_HASH[method] ?? 'sha256', Buffer.from(signedInfo, 'utf8'), { key: publicKeyOf(certificate), padding: constants.RSA_PKCS1_PADDING }, value)) {
      throw new Error('the signature value does not verify');
    }
    valid = verifier.checkSignature(xml);
  } catch {
    valid = false;
  }
  const signed = verifier.getSignedReferences();
  if (!valid || signed.length !== 1 || signed[0] === undefined) {
    refuse('saml.signature_invalid', "the message's signature does not verify with the application's signing certificate");
  }
  return signed[0];
}

/** The shape we accept, checked on the parsed signature before any cryptography; returns the signature method. */
function checkSignatureShape(signature: Element, rootId: string): string {
  const signedInfo = childElements(signature, NS.dsig, 'SignedInfo');
  const method = signedInfo[0] ? childElements(signedInfo[0], NS.dsig, 'SignatureMethod')[0]?.getAttribute('Algorithm') : undefined;
  const canonicalization = signedInfo[0] ? childElements(signedInfo[0], NS.dsig, 'CanonicalizationMethod') : [];
  if (canonicalization.length !== 1 || !ACCEPTED_CANONICALIZATIONS.has(canonicalization[0]?.getAttribute('Algorithm') ?? '')) {
    refuse('saml.signature_invalid', 'the message signature must use exclusive canonicalisation (xml-exc-c14n) for SignedInfo');
  }
  if (childElements(signature, NS.dsig, 'SignatureValue').length !== 1) refuse('saml.signature_invalid', 'the message signature must have one SignatureValue');
  const references = signedInfo[0] ? childElements(signedInfo[0], NS.dsig, 'Reference') : [];
  if (signedInfo.length !== 1 || method == null || references.length !== 1 || references[0] === undefined) {
    refuse('saml.signature_invalid', 'the message signature must have one SignedInfo with one SignatureMethod and one Reference');
  }
  if (!ACCEPTED_SIGNATURE_METHODS.has(method)) refuse('saml.signature_algorithm_unsupported', unsupportedAlgorithm(method));
  if (rootId === '' || references[0].getAttribute('URI') !== `#${rootId}`) {
    refuse('saml.signature_invalid', 'the message signature does not cover the message itself (its Reference must point to the root ID)');
  }
  const digest = childElements(references[0], NS.dsig, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? '';
  if (!ACCEPTED_DIGESTS.has(digest)) refuse('saml.signature_algorithm_unsupported', unsupportedAlgorithm(digest));
  const transformLists = childElements(references[0], NS.dsig, 'Transforms');
  const transforms = transformLists.flatMap((t) => childElements(t, NS.dsig, 'Transform'));
  if (transformLists.length > 1 || transforms.length > 2 || transforms.some((t) => !ACCEPTED_TRANSFORMS.has(t.getAttribute('Algorithm') ?? ''))) {
    refuse('saml.signature_invalid', 'the message signature uses transforms other than enveloped-signature and exclusive c14n');
  }
  return method;
}
