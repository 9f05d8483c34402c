/**
 * Encrypts a (signed) assertion for a service provider's certificate: XML Encryption with
 * AES-256-GCM for the content and RSA-OAEP for the key, done with node:crypto.
 *
 * The key transport is `xmlenc#rsa-oaep-mgf1p` with SHA-1 as the OAEP digest — on purpose:
 * - xml-encryption (what node-saml and passport-saml decrypt with) knows only rsa-oaep-mgf1p and
 *   rsa-1_5; it does not know `xmlenc11#rsa-oaep`.
 * - Given a SHA-256 DigestMethod, xml-encryption hands Node `oaepHash: 'sha256'`, which also
 *   makes MGF1 use SHA-256, while rsa-oaep-mgf1p fixes MGF1 to SHA-1 (and Shibboleth, xmlsec or
 *   OpenSAML follow the spec). Only SHA-1 agrees everywhere.
 * SHA-1 inside OAEP is not the weakness SHA-1 is in signatures: OAEP needs no collision resistance.
 * The content cipher is AES-GCM (authenticated), which both sides support; CBC is not offered
 * because of the padding-oracle attacks on XML Encryption.
 */
import { constants, createCipheriv, publicEncrypt, randomBytes } from 'node:crypto';
import { certificateBase64, x509 } from './keys.ts';
import { NS, refuse, text } from './xml.ts';

export const AES256_GCM = 'http://www.w3.org/2009/xmlenc11#aes256-gcm';
export const RSA_OAEP_MGF1P = 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';

/** Returns `<saml:EncryptedAssertion>` holding the assertion, for the holder of `certificate`. */
export function encryptAssertion(assertionXml: string, certificate: string): string {
  const publicKey = x509(certificate, "the application's encryption certificate").publicKey;
  if (publicKey.asymmetricKeyType !== 'rsa') {
    refuse('saml.certificate_invalid', `the application's encryption certificate holds a ${publicKey.asymmetricKeyType?.toUpperCase() ?? 'non-RSA'} key; assertions can only be encrypted for an RSA key`, 500);
  }

  const contentKey = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', contentKey, iv);
  const ciphertext = Buffer.concat([cipher.update(assertionXml, 'utf8'), cipher.final()]);
  // XML Encryption 1.1 §5.2.4: the CipherValue is IV || ciphertext || 128-bit tag.
  const cipherValue = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64');
  const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, contentKey).toString('base64');

  // The EncryptedKey sits inside EncryptedData's KeyInfo: xml-encryption looks for it only there.
  return (
    `<saml:EncryptedAssertion xmlns:saml="${NS.assertion}">` +
    `<xenc:EncryptedData xmlns:xenc="${NS.xenc}" Type="http://www.w3.org/2001/04/xmlenc#Element">` +
    `<xenc:EncryptionMethod Algorithm="${AES256_GCM}"/>` +
    `<ds:KeyInfo xmlns:ds="${NS.dsig}">` +
    `<xenc:EncryptedKey>` +
    `<xenc:EncryptionMethod Algorithm="${RSA_OAEP_MGF1P}"><ds:DigestMethod Algorithm="${SHA1}"/></xenc:EncryptionMethod>` +
    // Names the key it was encrypted for, so an SP in the middle of a key rollover picks the right one.
    `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${text(certificateBase64(certificate))}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>` +
    `<xenc:CipherData><xenc:CipherValue>${encryptedKey}</xenc:CipherValue></xenc:CipherData>` +
    `</xenc:EncryptedKey>` +
    `</ds:KeyInfo>` +
    `<xenc:CipherData><xenc:CipherValue>${cipherValue}</xenc:CipherValue></xenc:CipherData>` +
    `</xenc:EncryptedData>` +
    `</saml:EncryptedAssertion>`
  );
}
