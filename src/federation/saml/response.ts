/**
 * Building the SAML Response that carries a signed-in user to an application: a signed
 * assertion (optionally encrypted for the application, optionally inside a signed Response),
 * ready for the HTTP-POST binding. Pure: the caller decides who the user is, which ACS URL was
 * accepted, and which attributes the application gets.
 */
import { createHmac } from 'node:crypto';
import { durationMinutes } from '#src/shared/duration.ts';
import type { IdentityUser } from '#src/identity-store/user.ts';
import { ATTRIBUTE_NAME_FORMATS, type SamlAttribute } from './attributes.ts';
import { encryptAssertion } from './encryption.ts';
import type { SigningCredential } from './keys.ts';
import { c14nAttr, c14nText, signCanonicalElement } from './canonical-signature.ts';
import { signRoot } from './signature.ts';
import { NAME_ID_FORMATS, type NameIdFormat } from './vocabulary.ts';
import { NS, STATUS_SUCCESS, attr, instant, newId, refuse, text } from './xml.ts';

export interface IdentityProvider {
  entityId: string;
  signing: SigningCredential;
}

/** What building a Response needs of an application. */
export interface ResponseApplication {
  entityId: string;
  nameIdFormat: NameIdFormat;
  /** ISO-8601, e.g. PT1H. */
  sessionDuration: string;
  /** PEM; when set, assertions are encrypted for it. */
  encryptionCertificate?: string | undefined;
}

export interface ResponseInput {
  idp: IdentityProvider;
  application: ResponseApplication;
  user: IdentityUser;
  /**
   * Secret behind persistent NameIDs. Changing it changes every persistent NameID, which
   * applications see as new users: keep it for the life of the instance.
   */
  nameIdSecret: string | Buffer;
  /** The ACS URL `acceptAuthnRequest` resolved (or the application's first, IdP-initiated). */
  acsUrl: string;
  /** The AuthnRequest ID; absent for IdP-initiated sign-in. */
  inResponseTo?: string | undefined;
  attributes?: readonly SamlAttribute[] | undefined;
  /** Identifies the portal session to the SP (for logout); a fresh random one by default. */
  sessionIndex?: string | undefined;
  /** When the user authenticated; now by default. */
  authnInstant?: Date | undefined;
  /** How the user authenticated (AuthnContextClassRef); PasswordProtectedTransport by default. */
  authnContextClassRef?: string | undefined;
  now?: Date | undefined;
  /** Sign the Response too (the assertion is always signed). */
  signResponse?: boolean | undefined;
  /** Encrypt the assertion; by default when the application has an encryption certificate. */
  encryptAssertion?: boolean | undefined;
}

export interface NameId {
  value: string;
  format: string;
}

export interface BuiltResponse {
  xml: string;
  /** The SAMLResponse form field of the HTTP-POST binding. */
  base64: string;
  responseId: string;
  assertionId: string;
  nameId: NameId;
  sessionIndex: string;
  sessionNotOnOrAfter: Date;
}

/** How long the bearer assertion may be presented (SubjectConfirmationData and Conditions NotOnOrAfter). */
export const ASSERTION_LIFETIME_MS = 5 * 60_000;
/** NotBefore is set slightly in the past so an SP whose clock lags a little accepts the assertion. */
const NOT_BEFORE_LEEWAY_MS = 60_000;
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
export const PASSWORD_PROTECTED_TRANSPORT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
/** The REFEDS MFA profile: a password and a second, independent factor. */
export const REFEDS_MFA = 'https://refeds.org/profile/mfa';

/**
 * The user's NameID for an application.
 * - persistent: HMAC-SHA256(secret, objectGUID + entityId), base64url. Stable for a user and an
 *   application (it survives renames, moves and reprovisioning, as the objectGUID does), different
 *   between applications so they cannot correlate users, and opaque: the GUID is not recoverable.
 * - emailAddress: the primary email; unspecified: the user name (UPN); transient: random each time.
 */
export function nameIdFor(format: NameIdFormat, user: IdentityUser, entityId: string, secret: string | Buffer): NameId {
  const value = nameIdValue(format, user, entityId, secret);
  return { value, format: NAME_ID_FORMATS[format] };
}

function nameIdValue(format: NameIdFormat, user: IdentityUser, entityId: string, secret: string | Buffer): string {
  switch (format) {
    case 'persistent':
      // The newline keeps the two parts apart; a GUID never contains one.
      return createHmac('sha256', secret).update(`${user.activeDirectory.guid.toLowerCase()}\n${entityId}`).digest('base64url');
    case 'emailAddress': {
      const email = user.emails[0]?.value;
      if (!email) refuse('saml.name_id_unavailable', 'your account has no email address, which this application uses to identify you; ask an administrator', 403);
      return email;
    }
    case 'unspecified':
      return user.userName;
    case 'transient':
      return newId();
  }
}

export function buildResponse(input: ResponseInput): BuiltResponse {
  const now = input.now ?? new Date();
  const sessionMinutes = durationMinutes(input.application.sessionDuration) ?? 60;
  const context: AssertionContext = {
    ...input,
    now,
    nameId: nameIdFor(input.application.nameIdFormat, input.user, input.application.entityId, input.nameIdSecret),
    assertionId: newId(),
    sessionIndex: input.sessionIndex ?? newId(),
    authnInstant: input.authnInstant ?? now,
    sessionNotOnOrAfter: new Date(now.getTime() + sessionMinutes * 60_000),
  };

  const signedAssertion = signCanonicalElement(
    { xml: assertionXml(context), id: context.assertionId, signatureAfter: '</saml:Issuer>', inclusivePrefixes: ['xs', 'xsi'] },
    input.idp.signing,
  );
  const encrypt = input.encryptAssertion ?? input.application.encryptionCertificate !== undefined;
  const certificate = input.application.encryptionCertificate;
  if (encrypt && certificate === undefined) refuse('saml.certificate_invalid', 'the application has no encryption certificate to encrypt the assertion for', 500);
  const carried = encrypt && certificate !== undefined ? encryptAssertion(signedAssertion, certificate) : signedAssertion;

  const responseId = newId();
  const unsigned = responseXml({ ...context, responseId, content: carried });
  const xml = input.signResponse ? signRoot(unsigned, 'Response', input.idp.signing) : unsigned;
  return {
    xml,
    base64: Buffer.from(xml, 'utf8').toString('base64'),
    responseId,
    assertionId: context.assertionId,
    nameId: context.nameId,
    sessionIndex: context.sessionIndex,
    sessionNotOnOrAfter: context.sessionNotOnOrAfter,
  };
}

interface AssertionContext extends ResponseInput {
  now: Date;
  nameId: NameId;
  assertionId: string;
  sessionIndex: string;
  authnInstant: Date;
  sessionNotOnOrAfter: Date;
}

/**
 * The unsigned assertion, standalone (it declares its own namespaces, so it verifies after
 * decryption too) and written in its exclusive canonical form for signCanonicalElement: c14n
 * escaping, attributes in canonical order, no empty-element tags.
 */
function assertionXml(c: AssertionContext): string {
  const issued = instant(c.now);
  const notOnOrAfter = instant(new Date(c.now.getTime() + ASSERTION_LIFETIME_MS));
  const inResponseTo = c.inResponseTo === undefined ? '' : ` InResponseTo="${c14nAttr(c.inResponseTo)}"`;
  return (
    `<saml:Assertion xmlns:saml="${NS.assertion}" xmlns:xs="${NS.xs}" xmlns:xsi="${NS.xsi}" ID="${c.assertionId}" IssueInstant="${issued}" Version="2.0">` +
    `<saml:Issuer>${c14nText(c.idp.entityId)}</saml:Issuer>` +
    `<saml:Subject>` +
    nameIdXml(c) +
    `<saml:SubjectConfirmation Method="${BEARER}">` +
    `<saml:SubjectConfirmationData${inResponseTo} NotOnOrAfter="${notOnOrAfter}" Recipient="${c14nAttr(c.acsUrl)}"></saml:SubjectConfirmationData>` +
    `</saml:SubjectConfirmation>` +
    `</saml:Subject>` +
    `<saml:Conditions NotBefore="${instant(new Date(c.now.getTime() - NOT_BEFORE_LEEWAY_MS))}" NotOnOrAfter="${notOnOrAfter}">` +
    `<saml:AudienceRestriction><saml:Audience>${c14nText(c.application.entityId)}</saml:Audience></saml:AudienceRestriction>` +
    `</saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant(c.authnInstant)}" SessionIndex="${c14nAttr(c.sessionIndex)}" SessionNotOnOrAfter="${instant(c.sessionNotOnOrAfter)}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${c14nText(c.authnContextClassRef ?? PASSWORD_PROTECTED_TRANSPORT)}</saml:AuthnContextClassRef></saml:AuthnContext>` +
    `</saml:AuthnStatement>` +
    attributeStatementXml(c.attributes ?? []) +
    `</saml:Assertion>`
  );
}

function nameIdXml(c: AssertionContext): string {
  // Qualifiers scope a persistent identifier to this IdP–SP pair (SAML core 8.3.7).
  const qualifiers = c.application.nameIdFormat === 'persistent' ? ` NameQualifier="${c14nAttr(c.idp.entityId)}" SPNameQualifier="${c14nAttr(c.application.entityId)}"` : '';
  return `<saml:NameID Format="${c.nameId.format}"${qualifiers}>${c14nText(c.nameId.value)}</saml:NameID>`;
}

/** The schema wants at least one Attribute in an AttributeStatement, so none means no statement. */
function attributeStatementXml(attributes: readonly SamlAttribute[]): string {
  const present = attributes.filter((a) => a.values.length > 0);
  if (present.length === 0) return '';
  const attribute = (a: SamlAttribute) =>
    `<saml:Attribute Name="${c14nAttr(a.name)}" NameFormat="${ATTRIBUTE_NAME_FORMATS[a.nameFormat]}">` +
    a.values.map((value) => `<saml:AttributeValue xsi:type="xs:string">${c14nText(value)}</saml:AttributeValue>`).join('') +
    `</saml:Attribute>`;
  return `<saml:AttributeStatement>${present.map(attribute).join('')}</saml:AttributeStatement>`;
}

function responseXml(c: AssertionContext & { responseId: string; content: string }): string {
  const inResponseTo = c.inResponseTo === undefined ? '' : ` InResponseTo="${attr(c.inResponseTo)}"`;
  return (
    `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${c.responseId}" Version="2.0" IssueInstant="${instant(c.now)}" Destination="${attr(c.acsUrl)}"${inResponseTo}>` +
    `<saml:Issuer>${text(c.idp.entityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS_SUCCESS}"/></samlp:Status>` +
    c.content +
    `</samlp:Response>`
  );
}

export interface StatusResponseInput {
  idp: IdentityProvider;
  acsUrl: string;
  inResponseTo: string;
  /** A second-level status code, e.g. `urn:oasis:names:tc:SAML:2.0:status:NoPassive`. */
  subStatus: string;
  message: string;
  now?: Date | undefined;
}

export const STATUS_RESPONDER = 'urn:oasis:names:tc:SAML:2.0:status:Responder';
export const STATUS_NO_PASSIVE = 'urn:oasis:names:tc:SAML:2.0:status:NoPassive';
/** The SP's RequestedAuthnContext cannot be met (SAML core 3.2.2.2). */
export const STATUS_NO_AUTHN_CONTEXT = 'urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext';

/** A signed Response without an assertion, telling the SP why it gets none (e.g. NoPassive). */
export function buildStatusResponse(input: StatusResponseInput): { xml: string; base64: string } {
  const id = newId();
  const unsigned =
    `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" IssueInstant="${instant(input.now ?? new Date())}" Destination="${attr(input.acsUrl)}" InResponseTo="${attr(input.inResponseTo)}">` +
    `<saml:Issuer>${text(input.idp.entityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS_RESPONDER}"><samlp:StatusCode Value="${attr(input.subStatus)}"/></samlp:StatusCode>` +
    `<samlp:StatusMessage>${text(input.message)}</samlp:StatusMessage></samlp:Status>` +
    `</samlp:Response>`;
  const xml = signRoot(unsigned, 'Response', input.idp.signing);
  return { xml, base64: Buffer.from(xml, 'utf8').toString('base64') };
}
