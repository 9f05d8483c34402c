/**
 * Certificates arrive in two spellings: the application record keeps base64 DER without
 * whitespace (as SP metadata carries it), Portico's own credentials are PEM. These helpers turn
 * either into what each consumer needs and check it is a certificate at all.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { refuse } from './xml.ts';

/** The IdP's signing credential. */
export interface SigningCredential {
  /** PKCS#8 or PKCS#1 PEM private key (RSA). */
  keyPem: string;
  /** The matching certificate, PEM or base64 DER. */
  certificate: string;
}

/** base64 DER without whitespace, from PEM or base64 DER. */
export const certificateBase64 = (value: string): string => value.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

export function certificatePem(value: string): string {
  const lines = certificateBase64(value).replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`;
}

/** Parses a certificate; `what` names it in the error (e.g. "the application's signing certificate"). */
export function x509(value: string, what: string): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(certificateBase64(value), 'base64'));
  } catch {
    refuse('saml.certificate_invalid', `${what} is not a readable X.509 certificate`, 500);
  }
}

// Parsing a PEM key costs about as much as the RSA signature itself (~1 ms here): keep the
// parsed keys of the few credentials in use (the current one, and the next during a rotation).
const parsedKeys = new Map<string, KeyObject>();
const MAX_PARSED_KEYS = 8;

/** The private key of a credential, parsed once. */
export function privateKeyOf(keyPem: string): KeyObject {
  let key = parsedKeys.get(keyPem);
  if (key === undefined) {
    key = createPrivateKey(keyPem);
    if (parsedKeys.size >= MAX_PARSED_KEYS) parsedKeys.delete(parsedKeys.keys().next().value as string);
    parsedKeys.set(keyPem, key);
  }
  return key;
}
