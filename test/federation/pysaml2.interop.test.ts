/**
 * Interoperability with pysaml2 (Debian's python3-pysaml2 with xmlsec1), a SAML service
 * provider we did not write: it makes the AuthnRequests and LogoutRequests Portico receives,
 * and validates the Responses Portico builds — signatures against Portico's metadata only,
 * audience, recipient, destination, InResponseTo and validity window. The negative controls
 * show it really checks each of those, so an acceptance here means something.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Application } from '#src/access/model.ts';
import { assertionAttributes } from '#src/federation/saml/attributes.ts';
import { acceptAuthnRequest, decodeRedirect } from '#src/federation/saml/authn-request.ts';
import { acceptLogoutRequest, logoutResponseUrl } from '#src/federation/saml/logout.ts';
import { buildIdpMetadata } from '#src/federation/saml/metadata.ts';
import { buildResponse, nameIdFor, type BuiltResponse, type IdentityProvider, type ResponseInput } from '#src/federation/saml/response.ts';
import type { GeneratedCertificate } from '#src/shared/certificates.ts';
import { assertAccepted, pysaml2Sp, type AcceptedResponse, type Pysaml2SpConfig, type Refusal } from '../support/pysaml2.ts';
import {
  IDP_ENTITY_ID,
  PERSISTENT,
  SLO_URL,
  SP_ACS_URL,
  SP_ENTITY_ID,
  SP_SLO_URL,
  SSO_URL,
  application,
  finder,
  idp,
  idpCert,
  idpNextCert,
  otherCert,
  rawQuery,
  spEncryptionCert,
  spSigningCert,
  stored,
  user,
} from './saml-fixtures.ts';

const SECRET = 'pysaml2-interop-name-id-secret';
const GROUPS = ['Engineering', 'VPN Users'];
const MAIL_OID = 'urn:oid:0.9.2342.19200300.100.1.3';
/** pysaml2 form-encodes it (space as +, ( ) ! escaped): Portico must verify the query as received. */
const RELAY_STATE = '/start?page=1 (new)!';

const metadata = (certificates: GeneratedCertificate[] = [idpCert]) => buildIdpMetadata({ entityId: IDP_ENTITY_ID, ssoUrl: SSO_URL, sloUrl: SLO_URL, signingCertificates: certificates.map((c) => c.certPem) });
const signingWith = (certificate: GeneratedCertificate): IdentityProvider => ({ entityId: IDP_ENTITY_ID, signing: { keyPem: certificate.keyPem, certificate: certificate.certPem } });

const app = (overrides: Partial<Application> = {}): Application =>
  application({
    attributeMappings: [
      { name: MAIL_OID, value: '${user:email}', format: 'uri' },
      { name: 'displayName', value: '${user:name.givenName} ${user:name.familyName}', format: 'basic' },
      { name: 'department', value: '${user:enterprise.department}', format: 'unspecified' },
      { name: 'groups', value: '${user:groups}', format: 'unspecified' },
    ],
    ...overrides,
  });

const sp = (config: Partial<Pysaml2SpConfig> = {}, certificates?: GeneratedCertificate[]) =>
  pysaml2Sp({ idpMetadata: metadata(certificates), sp: { entityId: SP_ENTITY_ID, acsUrl: SP_ACS_URL, sloUrl: SP_SLO_URL, ...config } });

/** A Response for the application, IdP-initiated unless `inResponseTo` is given. */
const respond = (overrides: Partial<ResponseInput> = {}) =>
  buildResponse({
    idp,
    application: app(),
    user: user(),
    nameIdSecret: SECRET,
    acsUrl: SP_ACS_URL,
    attributes: assertionAttributes(app().attributeMappings, user(), GROUPS),
    ...overrides,
  });

/**
 * pysaml2 issues an AuthnRequest over HTTP-Redirect; Portico decodes and accepts it, builds the
 * Response; pysaml2 validates it against the outstanding request.
 */
async function spInitiated(options: { sp?: Partial<Pysaml2SpConfig>; app?: Partial<Application>; response?: Partial<ResponseInput> } = {}) {
  const serviceProvider = sp(options.sp);
  const application = app(options.app);
  const request = await serviceProvider.authnRequest({ relayState: RELAY_STATE });
  assert.equal(request.signed, options.sp?.signing !== undefined);
  const accepted = await acceptAuthnRequest(decodeRedirect(rawQuery(request.url)), { findApplication: finder(application), destinations: [SSO_URL] });
  assert.equal(accepted.request.id, request.requestId);
  assert.equal(accepted.relayState, RELAY_STATE);
  assert.equal(accepted.acsUrl, SP_ACS_URL);
  assert.equal(accepted.request.nameIdPolicyFormat, PERSISTENT);
  const built = respond({ application: accepted.application, acsUrl: accepted.acsUrl, inResponseTo: accepted.request.id, ...options.response });
  const result = await serviceProvider.parseResponse(built.base64, { outstanding: [request.requestId] });
  assertAccepted(result);
  assert.equal(result.inResponseTo, request.requestId);
  assert.equal(result.subjectInResponseTo, request.requestId);
  assert.equal(result.cameFrom, '/');
  return { result, built, accepted };
}

/** `quiet`: pysaml2 logged nothing at WARNING or above (with two keys it logs the one that did not verify). */
function assertUser(result: AcceptedResponse, built: BuiltResponse, { quiet = true } = {}): void {
  if (quiet) assert.deepEqual(result.log, [], 'pysaml2 accepted without a warning');
  assert.equal(result.issuer, IDP_ENTITY_ID);
  assert.equal(result.nameId, nameIdFor('persistent', user(), SP_ENTITY_ID, SECRET).value);
  assert.equal(result.nameIdFormat, PERSISTENT);
  assert.equal(result.nameQualifier, IDP_ENTITY_ID);
  assert.equal(result.spNameQualifier, SP_ENTITY_ID);
  assert.equal(result.sessionIndex, built.sessionIndex);
  assert.equal(result.notOnOrAfter, Math.floor(built.sessionNotOnOrAfter.getTime() / 1000), 'SessionNotOnOrAfter (whole seconds)');
  assert.match(result.sessionIndex ?? '', /^_/);
  assert.equal(result.recipient, SP_ACS_URL);
  assert.deepEqual(result.audiences, [SP_ENTITY_ID]);
  assert.equal(result.authnContextClassRef, 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport');
  assert.ok(result.assertionSigned);
  // pysaml2's attribute maps know the uri name of mail; the other names arrive as they are.
  assert.deepEqual(result.ava.mail, ['alice@corp.example.test']);
  assert.deepEqual(result.ava.displayName, ['Zoë Hallström']);
  assert.deepEqual(result.ava.department, ['R&D <core>']);
  assert.deepEqual(result.ava.groups, GROUPS);
  assert.deepEqual(
    result.attributes.map((a) => [a.name, a.nameFormat]),
    [
      [MAIL_OID, 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri'],
      ['displayName', 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic'],
      ['department', 'urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified'],
      ['groups', 'urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified'],
    ],
  );
}

function assertRefused(result: { ok: true } | Refusal, pattern?: RegExp): asserts result is Refusal {
  assert.equal(result.ok, false, 'pysaml2 accepted what it should refuse');
  assert.ok(!result.ok);
  if (pattern) assert.match(`${result.errorType}: ${result.error}\n${result.log.join('\n')}`, pattern);
}

void describe('pysaml2 as the service provider: SP-initiated sign-in', { concurrency: true }, () => {
  it('unsigned AuthnRequest; signed assertion in an unsigned Response', async () => {
    const { result, built, accepted } = await spInitiated();
    assert.equal(accepted.signed, false);
    assertUser(result, built);
    assert.equal(result.responseSigned, false);
    assert.equal(result.encrypted, false);
  });

  it('AuthnRequest signed with the SP key (RSA-SHA256 query signature); signed Response and signed assertion', async () => {
    const { result, built, accepted } = await spInitiated({
      sp: { signing: spSigningCert, wantResponseSigned: true },
      app: { signingCertificate: stored(spSigningCert.certPem) },
      response: { signResponse: true },
    });
    assert.equal(accepted.signed, true, 'Portico verified the query signature pysaml2 made');
    assertUser(result, built);
    assert.equal(result.responseSigned, true);
  });

  it('signed assertion encrypted for the SP (AES-256-GCM, RSA-OAEP), pysaml2 decrypting with its key', async () => {
    const { result, built } = await spInitiated({
      sp: { signing: spSigningCert, encryption: spEncryptionCert },
      app: { signingCertificate: stored(spSigningCert.certPem), encryptionCertificate: stored(spEncryptionCert.certPem) },
    });
    assert.match(built.xml, /<saml:EncryptedAssertion/);
    assert.doesNotMatch(built.xml, /alice|Zoë/);
    assert.equal(result.encrypted, true);
    assertUser(result, built);
  });

  it('signed and encrypted assertion in a signed Response', async () => {
    const { result, built } = await spInitiated({
      sp: { encryption: spEncryptionCert, wantResponseSigned: true },
      app: { encryptionCertificate: stored(spEncryptionCert.certPem) },
      response: { signResponse: true },
    });
    assert.equal(result.encrypted, true);
    assert.equal(result.responseSigned, true);
    assertUser(result, built);
  });
});

void describe('pysaml2 as the service provider: IdP-initiated sign-in', { concurrency: true }, () => {
  it('a Response without InResponseTo is accepted when the SP allows unsolicited responses', async () => {
    const built = respond();
    assert.doesNotMatch(built.xml, /InResponseTo/);
    const result = await sp({ allowUnsolicited: true }).parseResponse(built.base64);
    assertAccepted(result);
    assertUser(result, built);
    assert.equal(result.inResponseTo, null);
    assert.equal(result.cameFrom, null);
  });

  it('…and refused when it does not (pysaml2 really matches InResponseTo)', async () => {
    assertRefused(await sp().parseResponse(respond().base64), /UnsolicitedResponse/);
  });
});

void describe('pysaml2 refuses what it should (negative controls)', { concurrency: true }, () => {
  it('an assertion signed by a key that is not in the metadata', async () => {
    const result = await sp({ allowUnsolicited: true }).parseResponse(respond({ idp: signingWith(otherCert) }).base64);
    // xmlsec1 is handed the metadata's certificate only, not the one in the signature's KeyInfo.
    assertRefused(result, /SignatureError: Failed to verify signature[\s\S]*signature verification failed/);
  });

  it('a Response whose NameID was changed after signing', async () => {
    const built = respond();
    const tampered = built.xml.replace(built.nameId.value, 'someone-else');
    assert.notEqual(tampered, built.xml);
    const result = await sp({ allowUnsolicited: true }).parseResponse(Buffer.from(tampered, 'utf8').toString('base64'));
    assertRefused(result, /SignatureError[\s\S]*data and digest do not match/);
  });

  it('an assertion for another audience', async () => {
    const result = await sp({ allowUnsolicited: true }).parseResponse(respond({ application: app({ entityId: 'https://other.example.test/metadata' }) }).base64);
    assertRefused(result, /AudienceRestrictions conditions not satisfied/);
  });

  it('an assertion issued an hour ago', async () => {
    const result = await sp({ allowUnsolicited: true }).parseResponse(respond({ now: new Date(Date.now() - 60 * 60_000) }).base64);
    assertRefused(result, /ResponseLifetimeExceed: Can't use response, too old/);
  });

  it('a Response for another ACS URL (Destination and Recipient)', async () => {
    const result = await sp({ allowUnsolicited: true }).parseResponse(respond({ acsUrl: 'https://sp.example.test/saml/acs2' }).base64);
    assertRefused(result, /acs2 not in \['https:\/\/sp\.example\.test\/saml\/acs'\]/);
  });

  it('an assertion whose Recipient is another ACS URL, in a Response addressed to ours', async () => {
    const other = 'https://sp.example.test/saml/acs2';
    const built = respond({ acsUrl: other });
    // The Response is unsigned, so its Destination can be changed without breaking a signature.
    const readdressed = built.xml.replace(`Destination="${other}"`, `Destination="${SP_ACS_URL}"`);
    assert.notEqual(readdressed, built.xml);
    const result = await sp({ allowUnsolicited: true }).parseResponse(Buffer.from(readdressed, 'utf8').toString('base64'));
    assertRefused(result, /VerificationError: No valid recipient/);
  });

  it('a Response in reply to a request the SP did not make', async () => {
    const result = await sp().parseResponse(respond({ inResponseTo: '_not-outstanding' }).base64, { outstanding: ['_outstanding'] });
    assertRefused(result, /UnsolicitedResponse: Unsolicited response: _not-outstanding/);
  });

  it('an unsigned Response when the SP wants the Response signed', async () => {
    const result = await sp({ allowUnsolicited: true, wantResponseSigned: true }).parseResponse(respond().base64);
    assertRefused(result, /Signature missing for response/);
  });

  it('an encrypted assertion signed by a key that is not in the metadata (checked after decryption)', async () => {
    const application = app({ encryptionCertificate: stored(spEncryptionCert.certPem) });
    const result = await sp({ allowUnsolicited: true, encryption: spEncryptionCert }).parseResponse(respond({ application, idp: signingWith(otherCert) }).base64);
    assertRefused(result, /SignatureError[\s\S]*signature verification failed/);
  });

  it('an encrypted assertion the SP has no key for', async () => {
    const result = await sp({ allowUnsolicited: true, encryption: otherCert }).parseResponse(respond({ application: app({ encryptionCertificate: stored(spEncryptionCert.certPem) }) }).base64);
    assertRefused(result, /RsaOaep/);
  });
});

void describe('pysaml2 reads Portico metadata with two signing certificates (key rotation)', { concurrency: true }, () => {
  for (const [label, certificate] of [
    ['the current', idpCert],
    ['the next', idpNextCert],
  ] as const) {
    it(`accepts a signed Response and assertion signed with ${label} key`, async () => {
      const built = respond({ idp: signingWith(certificate), signResponse: true });
      const result = await sp({ allowUnsolicited: true, wantResponseSigned: true }, [idpCert, idpNextCert]).parseResponse(built.base64);
      assertAccepted(result);
      assertUser(result, built, { quiet: certificate === idpCert });
    });
  }
});

/**
 * pysaml2 signs a LogoutRequest over HTTP-Redirect, Portico accepts it and answers with its signed
 * LogoutResponse URL, pysaml2 verifies the query signature against the metadata and reads it.
 */
async function singleLogout(relayState: string) {
  const serviceProvider = sp({ signing: spSigningCert });
  const application = app({ signingCertificate: stored(spSigningCert.certPem), logoutUrl: SP_SLO_URL });
  const nameId = nameIdFor('persistent', user(), SP_ENTITY_ID, SECRET);
  const request = await serviceProvider.logoutRequest({ value: nameId.value, format: nameId.format, nameQualifier: IDP_ENTITY_ID, spNameQualifier: SP_ENTITY_ID }, { sessionIndexes: ['_session-1'], relayState });
  assert.ok(request.signed);
  const accepted = await acceptLogoutRequest(decodeRedirect(rawQuery(request.url)), { findApplication: finder(application), destinations: [SLO_URL] });
  assert.equal(accepted.signed, true, 'Portico verified the query signature pysaml2 made');
  assert.equal(accepted.request.id, request.requestId);
  assert.equal(accepted.request.nameId.value, nameId.value);
  assert.equal(accepted.request.nameId.format, PERSISTENT);
  assert.equal(accepted.request.nameId.spNameQualifier, SP_ENTITY_ID);
  assert.deepEqual(accepted.request.sessionIndexes, ['_session-1']);
  assert.equal(accepted.relayState, relayState);

  const url = logoutResponseUrl({ idp, destination: SP_SLO_URL, inResponseTo: accepted.request.id, relayState: accepted.relayState });
  const result = await serviceProvider.parseLogoutResponse(url, { requestId: request.requestId });
  assertAccepted(result);
  assert.equal(result.issuer, IDP_ENTITY_ID);
  assert.equal(result.inResponseTo, request.requestId);
  assert.equal(result.destination, SP_SLO_URL);
  assert.equal(result.status, 'urn:oasis:names:tc:SAML:2.0:status:Success');
  assert.equal(result.relayState, relayState);
  assert.equal(result.signatureVerified, true);
}

void describe('pysaml2 as the service provider: SP-initiated single logout', { concurrency: true }, () => {
  it("signed LogoutRequest accepted by Portico; Portico's signed LogoutResponse accepted by pysaml2", () => singleLogout('/home?tab=1&x=y~z'));

  it('…with a RelayState holding a space or one of !\'()*', async () => {
    await singleLogout('/home?q=a b');
  });

  it('pysaml2 refuses a LogoutResponse signed by a key not in the metadata', async () => {
    const url = logoutResponseUrl({ idp: signingWith(otherCert), destination: SP_SLO_URL, inResponseTo: '_logout-1', relayState: 'r' });
    assertRefused(await sp().parseLogoutResponse(url, { requestId: '_logout-1' }), /signature/i);
  });
});
