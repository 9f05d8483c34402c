/**
 * Signing an element Portico wrote itself, without re-reading it. The element is written in its
 * exclusive canonical form (c14n escaping, attributes in canonical order, no empty-element tags,
 * its namespaces declared on itself and listed as inclusive prefixes), so its digest is the hash of
 * the string as written. General-purpose signing (xml-crypto) parses, copies and walks the XML it
 * was handed; for an assertion that costs four times the RSA operation itself.
 *
 * The result is an ordinary enveloped signature — RSA-SHA256, transforms enveloped-signature and
 * exclusive c14n with an InclusiveNamespaces prefix list — that any SAML library verifies.
 */
import { createHash, sign } from 'node:crypto';
import { certificateBase64, privateKeyOf, type SigningCredential } from './keys.ts';
import { NOT_XML_CHAR, NS } from './xml.ts';

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

/** Character data as exclusive c14n writes it. */
export const c14nText = (value: string): string =>
  value.replace(NOT_XML_CHAR, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');

/** An attribute value as exclusive c14n writes it (`>` stays, whitespace is escaped). */
export const c14nAttr = (value: string): string =>
  value
    .replace(NOT_XML_CHAR, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');

export interface CanonicalElement {
  /** The element in exclusive canonical form, without a signature. */
  xml: string;
  /** Its ID attribute, which the signature references. */
  id: string;
  /** The end tag after which the Signature goes (the Issuer, as the SAML schema wants). */
  signatureAfter: string;
  /** Prefixes declared on the element and used only inside values (e.g. `xs` in xsi:type="xs:string"). */
  inclusivePrefixes: readonly string[];
}

/** The element with an enveloped RSA-SHA256 signature inserted after `signatureAfter`. */
export function signCanonicalElement(element: CanonicalElement, credential: SigningCredential): string {
  const at = element.xml.indexOf(element.signatureAfter);
  if (at < 0) throw new Error(`signCanonicalElement: ${element.signatureAfter} not found`);
  const digest = createHash('sha256').update(element.xml, 'utf8').digest('base64');
  const prefixes = element.inclusivePrefixes.join(' ');
  const signedInfoContent =
    `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>` +
    `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>` +
    `<ds:Reference URI="#${c14nAttr(element.id)}">` +
    `<ds:Transforms>` +
    `<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform>` +
    `<ds:Transform Algorithm="${EXC_C14N}"><ec:InclusiveNamespaces xmlns:ec="${EXC_C14N}" PrefixList="${c14nAttr(prefixes)}"></ec:InclusiveNamespaces></ds:Transform>` +
    `</ds:Transforms>` +
    `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>` +
    `<ds:DigestValue>${digest}</ds:DigestValue>` +
    `</ds:Reference>`;
  // Canonicalised on its own, SignedInfo declares the ds namespace itself.
  const canonicalSignedInfo = `<ds:SignedInfo xmlns:ds="${NS.dsig}">${signedInfoContent}</ds:SignedInfo>`;
  const signatureValue = sign('sha256', Buffer.from(canonicalSignedInfo, 'utf8'), privateKeyOf(credential.keyPem)).toString('base64');
  const signature =
    `<ds:Signature xmlns:ds="${NS.dsig}">` +
    `<ds:SignedInfo>${signedInfoContent}</ds:SignedInfo>` +
    `<ds:SignatureValue>${signatureValue}</ds:SignatureValue>` +
    `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBase64(credential.certificate)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>` +
    `</ds:Signature>`;
  const end = at + element.signatureAfter.length;
  return `${element.xml.slice(0, end)}${signature}${element.xml.slice(end)}`;
}
