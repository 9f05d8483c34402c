/**
 * Portico's IdP metadata, the document administrators hand to service providers. During a key
 * rotation it lists two signing certificates: SPs that read metadata accept signatures from
 * either, so the new key can be published first and used later without breaking anyone.
 */
import { NAME_ID_FORMATS } from './vocabulary.ts';
import { certificateBase64, x509 } from './keys.ts';
import { BINDINGS, NS, attr, text } from './xml.ts';

export interface IdpMetadataInput {
  entityId: string;
  /** Where AuthnRequests are received (both bindings are served at this URL). */
  ssoUrl: string;
  /** Where LogoutRequests are received (HTTP-Redirect). */
  sloUrl: string;
  /** One or two signing certificates (PEM or base64 DER): the current one, and the next during a rotation. */
  signingCertificates: readonly string[];
}

export function buildIdpMetadata(input: IdpMetadataInput): string {
  if (input.signingCertificates.length < 1 || input.signingCertificates.length > 2) {
    throw new RangeError('IdP metadata lists one or two signing certificates');
  }
  const keys = input.signingCertificates.map((certificate) => {
    x509(certificate, 'a signing certificate of the identity provider'); // fail here, not at the SP
    return (
      `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` +
      `${text(certificateBase64(certificate))}` +
      `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
    );
  });
  const nameIdFormats = Object.values(NAME_ID_FORMATS).map((format) => `<md:NameIDFormat>${format}</md:NameIDFormat>`);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" entityID="${attr(input.entityId)}">` +
    // Unsigned requests are accepted from applications without a signing certificate.
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="${NS.protocol}">` +
    keys.join('') +
    `<md:SingleLogoutService Binding="${BINDINGS.redirect}" Location="${attr(input.sloUrl)}"/>` +
    nameIdFormats.join('') +
    `<md:SingleSignOnService Binding="${BINDINGS.redirect}" Location="${attr(input.ssoUrl)}"/>` +
    `<md:SingleSignOnService Binding="${BINDINGS.post}" Location="${attr(input.ssoUrl)}"/>` +
    `</md:IDPSSODescriptor>` +
    `</md:EntityDescriptor>\n`
  );
}
