/**
 * The two SAML bindings a browser carries: HTTP-Redirect (base64 of raw DEFLATE in the query,
 * signed over the query string itself) and HTTP-POST (base64 in a form field, signed inside the
 * XML). Decoding is bounded at every step — query length, compressed size, inflated size — so a
 * request cannot make us allocate more than a few hundred KiB however it is crafted.
 */
import { constants, sign, verify, type X509Certificate } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { XML_BOUNDS, clip, refuse } from './xml.ts';
import { privateKeyOf } from './keys.ts';

export const MAX_COMPRESSED_BYTES = 64 * 1024;
/** The decoded message, whichever the binding (inflated for HTTP-Redirect): the XML bounds' size. */
export const MAX_INFLATED_BYTES = XML_BOUNDS.maxBytes;
/**
 * RelayState, in UTF-8 bytes. The SAML bindings (3.4.3, 3.5.3) say 80 bytes; service providers
 * commonly send more (a return URL), so Portico accepts up to 1 KiB and refuses beyond — the
 * value is kept with a waiting request and echoed back, so it must stay small.
 */
export const MAX_RELAY_STATE_BYTES = 1024;
// base64 of the largest message, and room for its percent-encoding (at most 3 characters a byte).
const MAX_BASE64_CHARS = Math.ceil(MAX_INFLATED_BYTES / 3) * 4;
const MAX_QUERY_CHARS = 3 * (Math.ceil(MAX_COMPRESSED_BYTES / 3) * 4) + 8 * 1024;

export type MessageParameter = 'SAMLRequest' | 'SAMLResponse';

/** A signature carried in the query string of an HTTP-Redirect message. */
export interface QuerySignature {
  /** SigAlg. */
  algorithm: string;
  value: Buffer;
  /** `SAMLRequest=…&RelayState=…&SigAlg=…` with each value exactly as received (still URL-encoded). */
  signedContent: string;
}

export interface RedirectMessage {
  binding: 'redirect';
  xml: string;
  relayState: string | undefined;
  /** Present when the sender signed the query. */
  querySignature: QuerySignature | undefined;
}

export interface PostMessage {
  binding: 'post';
  xml: string;
  relayState: string | undefined;
}

export type ReceivedMessage = RedirectMessage | PostMessage;

/**
 * Decodes an HTTP-Redirect message from the raw query string (what follows `?`, undecoded: the
 * signature covers the exact octets the sender produced, which a parsed query no longer has).
 */
export function decodeRedirect(rawQuery: string, parameter: MessageParameter = 'SAMLRequest'): RedirectMessage {
  if (rawQuery.length > MAX_QUERY_CHARS) refuse('saml.request_too_large', 'the SAML message in the URL is too large');
  const raw = rawQueryParameters(rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery);
  const message = raw.get(parameter);
  if (message === undefined) refuse('saml.request_malformed', `the URL carries no ${parameter} parameter`);
  const compressed = base64Bytes(formDecode(message, parameter), parameter);
  if (compressed.length > MAX_COMPRESSED_BYTES) refuse('saml.request_too_large', `the ${parameter} is larger than ${MAX_COMPRESSED_BYTES / 1024} KiB compressed`);
  const relayState = raw.get('RelayState');
  const sigAlg = raw.get('SigAlg');
  const signature = raw.get('Signature');
  if ((sigAlg === undefined) !== (signature === undefined)) refuse('saml.request_malformed', 'the URL carries only one of SigAlg and Signature');

  return {
    binding: 'redirect',
    xml: inflate(compressed, parameter),
    relayState: relayState === undefined ? undefined : checkRelayState(formDecode(relayState, 'RelayState')),
    querySignature:
      sigAlg === undefined || signature === undefined
        ? undefined
        : {
            algorithm: formDecode(sigAlg, 'SigAlg'),
            value: base64Bytes(formDecode(signature, 'Signature'), 'Signature'),
            // SAML bindings 3.4.4.1: this order, whatever the order in the URL.
            signedContent: [`${parameter}=${message}`, ...(relayState === undefined ? [] : [`RelayState=${relayState}`]), `SigAlg=${sigAlg}`].join('&'),
          },
  };
}

/** Decodes an HTTP-POST message from the parsed form fields. */
export function decodePost(fields: Record<string, unknown>, parameter: MessageParameter = 'SAMLRequest'): PostMessage {
  const message = fields[parameter];
  const relayState = fields.RelayState;
  if (typeof message !== 'string') refuse('saml.request_malformed', `the form carries no single ${parameter} field`);
  if (relayState !== undefined && typeof relayState !== 'string') refuse('saml.request_malformed', 'the form carries more than one RelayState');
  if (relayState !== undefined) checkRelayState(relayState);
  const xml = base64Bytes(message, parameter);
  if (xml.length > MAX_INFLATED_BYTES) refuse('saml.request_too_large', `the ${parameter} is larger than ${MAX_INFLATED_BYTES / 1024} KiB`);
  return { binding: 'post', xml: xml.toString('utf8'), relayState };
}

function checkRelayState(relayState: string): string {
  if (relayState.length > MAX_RELAY_STATE_BYTES || Buffer.byteLength(relayState, 'utf8') > MAX_RELAY_STATE_BYTES) {
    refuse('saml.relay_state_too_long', `the RelayState is longer than ${MAX_RELAY_STATE_BYTES} bytes; the SAML bindings allow 80`);
  }
  return relayState;
}

/**
 * The raw (still encoded) value of each parameter. A parameter given twice is refused: which of
 * the two the signature meant, and which one a later reader would take, cannot be told apart.
 */
function rawQueryParameters(query: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = equals === -1 ? pair : pair.slice(0, equals);
    if (parameters.has(name)) refuse('saml.request_malformed', `the URL carries the parameter ${clip(name)} more than once`);
    parameters.set(name, equals === -1 ? '' : pair.slice(equals + 1));
  }
  return parameters;
}

function formDecode(value: string, name: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    refuse('saml.request_malformed', `the ${name} parameter is not correctly URL-encoded`);
  }
}

/** Strict base64: Buffer.from would silently skip junk, and a message that is not base64 was not made by a SAML library. */
function base64Bytes(value: string, name: string): Buffer {
  const compact = value.replace(/[\r\n\t ]/g, '');
  if (compact.length > MAX_BASE64_CHARS) refuse('saml.request_too_large', `the ${name} is too large`);
  if (compact === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 === 1) {
    refuse('saml.request_malformed', `the ${name} is not valid base64`);
  }
  return Buffer.from(compact, 'base64');
}

function inflate(compressed: Buffer, name: string): string {
  try {
    // maxOutputLength stops a decompression bomb while it inflates, not after.
    return inflateRawSync(compressed, { maxOutputLength: MAX_INFLATED_BYTES }).toString('utf8');
  } catch (error) {
    if (error instanceof RangeError || (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      refuse('saml.request_too_large', `the ${name} inflates to more than ${MAX_INFLATED_BYTES / 1024} KiB`);
    }
    refuse('saml.request_malformed', `the ${name} is not raw DEFLATE data (HTTP-Redirect binding)`);
  }
}

// ---- query signatures ---------------------------------------------------------------------

interface QueryAlgorithm {
  hash: 'sha256' | 'sha384' | 'sha512';
  keyType: 'rsa' | 'ec';
}

export const SIG_RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const QUERY_ALGORITHMS: Record<string, QueryAlgorithm> = {
  [SIG_RSA_SHA256]: { hash: 'sha256', keyType: 'rsa' },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384': { hash: 'sha384', keyType: 'rsa' },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': { hash: 'sha512', keyType: 'rsa' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256': { hash: 'sha256', keyType: 'ec' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384': { hash: 'sha384', keyType: 'ec' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512': { hash: 'sha512', keyType: 'ec' },
};

/** Throws unless the query signature verifies with the certificate's key. */
export function verifyQuerySignature(signature: QuerySignature, certificate: X509Certificate): void {
  const algorithm = QUERY_ALGORITHMS[signature.algorithm];
  if (algorithm === undefined) refuse('saml.signature_algorithm_unsupported', unsupportedAlgorithm(signature.algorithm));
  const key = certificate.publicKey;
  // The algorithm must match the key's type: a key is never used with an algorithm it was not made for.
  if (key.asymmetricKeyType !== algorithm.keyType) {
    refuse('saml.signature_invalid', `the request is signed with ${clip(signature.algorithm)}, which does not match the application's ${key.asymmetricKeyType?.toUpperCase() ?? ''} signing certificate`);
  }
  const ok = verify(
    algorithm.hash,
    Buffer.from(signature.signedContent, 'utf8'),
    // XML DSig ECDSA signatures are r||s, not DER.
    algorithm.keyType === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : { key, padding: constants.RSA_PKCS1_PADDING },
    signature.value,
  );
  if (!ok) refuse('saml.signature_invalid', "the request's signature does not verify with the application's signing certificate");
}

export function unsupportedAlgorithm(algorithm: string): string {
  return /sha1$/i.test(algorithm)
    ? `the message is signed with SHA-1 (${clip(algorithm)}), which Portico does not accept; configure the service provider to sign with RSA-SHA256`
    : `the signature algorithm ${clip(algorithm)} is not supported; use RSA-SHA256`;
}

/**
 * Encodes an outgoing message for HTTP-Redirect, signed over the query with RSA-SHA256, and
 * returns the full URL.
 */
export function encodeRedirect(location: string, xml: string, options: { parameter: MessageParameter; relayState?: string | undefined; signingKeyPem: string }): string {
  // Form encoding (space as +, !'()* escaped), as Python's urlencode writes it: SPs such as
  // pysaml2 re-encode the values they received to check the signature, instead of using the raw query.
  const encoded = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
  const parts = [`${options.parameter}=${encoded(deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'))}`];
  if (options.relayState !== undefined) parts.push(`RelayState=${encoded(options.relayState)}`);
  parts.push(`SigAlg=${encoded(SIG_RSA_SHA256)}`);
  const signature = sign('sha256', Buffer.from(parts.join('&'), 'utf8'), privateKeyOf(options.signingKeyPem));
  parts.push(`Signature=${encoded(signature.toString('base64'))}`);
  return `${location}${location.includes('?') ? '&' : '?'}${parts.join('&')}`;
}
