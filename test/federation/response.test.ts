import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import { isAppError } from '#src/shared/errors.ts';
import { acceptAuthnRequest, decodeRedirect } from '#src/federation/saml/authn-request.ts';
import { assertionAttributes } from '#src/federation/saml/attributes.ts';
import { buildResponse, nameIdFor, type ResponseInput } from '#src/federation/saml/response.ts';
import {
  EC_CERTIFICATE,
  IDP_ENTITY_ID,
  PERSISTENT,
  SP_ACS_URL,
  SP_ENTITY_ID,
  application,
  finder,
  idp,
  idpCert,
  otherCert,
  rawQuery,
  serviceProvider,
  spEncryptionCert,
  stored,
  user,
} from './saml-fixtures.ts';

const SECRET = 'test-name-id-secret';
const mappings = application({
  attributeMappings: [
    { name: 'urn:oid:0.9.2342.19200300.100.1.3', value: '${user:email}', format: 'uri' },
    { name: 'displayName', value: '${user:name.givenName} ${user:name.familyName}', format: 'basic' },
    { name: 'department', value: '${user:enterprise.department}', format: 'unspecified' },
    { name: 'groups', value: '${user:groups}', format: 'unspecified' },
  ],
}).attributeMappings;

/** node-saml issues an AuthnRequest, Portico accepts it and answers; node-saml validates the answer. */
async function roundTrip(options: { sp?: Parameters<typeof serviceProvider>[0]; response?: Partial<ResponseInput>; app?: Parameters<typeof application>[0] } = {}): Promise<{ profile: Profile; xml: string }> {
  const sp = serviceProvider(options.sp);
  const app = application(options.app);
  const accepted = await acceptAuthnRequest(decodeRedirect(rawQuery(await sp.getAuthorizeUrlAsync('relay', undefined, {}))), { findApplication: finder(app) });
  const built = buildResponse({
    idp,
    application: accepted.application,
    user: user(),
    nameIdSecret: SECRET,
    acsUrl: accepted.acsUrl,
    inResponseTo: accepted.request.id,
    attributes: assertionAttributes(mappings, user(), ['Engineering', 'VPN Users']),
    ...options.response,
  });
  const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: built.base64 });
  assert.ok(profile, 'node-saml returned a profile');
  assert.equal(profile.inResponseTo, accepted.request.id);
  return { profile, xml: built.xml };
}

function assertProfile(profile: Profile): void {
  assert.equal(profile.issuer, IDP_ENTITY_ID);
  assert.equal(profile.nameIDFormat, PERSISTENT);
  assert.equal(profile.nameID, nameIdFor('persistent', user(), SP_ENTITY_ID, SECRET).value);
  assert.equal(profile.spNameQualifier, SP_ENTITY_ID);
  assert.match(profile.sessionIndex ?? '', /^_/);
  assert.equal(profile['urn:oid:0.9.2342.19200300.100.1.3'], 'alice@corp.example.test');
  assert.equal(profile.email, 'alice@corp.example.test');
  assert.equal(profile.displayName, 'Zoë Hallström');
  assert.equal(profile.department, 'R&D <core>');
  assert.deepEqual(profile.groups, ['Engineering', 'VPN Users']);
}

void describe('Response accepted by node-saml (validatePostResponseAsync)', () => {
  it('a signed assertion in an unsigned Response', async () => {
    const { profile, xml } = await roundTrip();
    assertProfile(profile);
    assert.doesNotMatch(xml, /<samlp:Response[^>]*>\s*<saml:Issuer>[^<]*<\/saml:Issuer><ds:Signature/);
  });

  it('a signed assertion in a signed Response (node-saml wantAuthnResponseSigned)', async () => {
    const { profile, xml } = await roundTrip({ sp: { wantAuthnResponseSigned: true }, response: { signResponse: true } });
    assertProfile(profile);
    assert.equal(xml.match(/<ds:Signature /g)?.length, 2);
  });

  it('a signed assertion encrypted (AES-256-GCM, RSA-OAEP) for the application, in a signed Response', async () => {
    const { profile, xml } = await roundTrip({
      sp: { wantAuthnResponseSigned: true, decryptionPvk: spEncryptionCert.keyPem },
      app: { encryptionCertificate: stored(spEncryptionCert.certPem) },
      response: { signResponse: true },
    });
    assertProfile(profile);
    assert.match(xml, /<saml:EncryptedAssertion/);
    assert.match(xml, /xmlenc11#aes256-gcm/);
    assert.match(xml, /xmlenc#rsa-oaep-mgf1p/);
    assert.doesNotMatch(xml, /alice|Zoë/, 'nothing of the user in clear');
  });

  it('an encrypted assertion in an unsigned Response', async () => {
    const { profile } = await roundTrip({ sp: { decryptionPvk: spEncryptionCert.keyPem }, app: { encryptionCertificate: stored(spEncryptionCert.certPem) } });
    assertProfile(profile);
  });

  it('an IdP-initiated Response (no InResponseTo)', async () => {
    const sp = serviceProvider({ validateInResponseTo: ValidateInResponseTo.ifPresent });
    const built = buildResponse({ idp, application: application(), user: user(), nameIdSecret: SECRET, acsUrl: SP_ACS_URL });
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: built.base64 });
    assert.equal(profile?.nameID, built.nameId.value);
    assert.doesNotMatch(built.xml, /InResponseTo/);
  });

  it('with the second certificate of a rotation, for an SP that trusts both', async () => {
    const next = { entityId: IDP_ENTITY_ID, signing: { keyPem: otherCert.keyPem, certificate: otherCert.certPem } };
    const sp = serviceProvider({ idpCert: [idpCert.certPem, otherCert.certPem], validateInResponseTo: ValidateInResponseTo.never });
    const built = buildResponse({ idp: next, application: application(), user: user(), nameIdSecret: SECRET, acsUrl: SP_ACS_URL, signResponse: true });
    assert.ok((await sp.validatePostResponseAsync({ SAMLResponse: built.base64 })).profile);
  });
});

void describe('Response refused by node-saml when it should be', () => {
  const sp = () => serviceProvider({ validateInResponseTo: ValidateInResponseTo.never });
  const built = () => buildResponse({ idp, application: application(), user: user(), nameIdSecret: SECRET, acsUrl: SP_ACS_URL });

  it('a NameID changed after signing', async () => {
    const { xml, nameId } = built();
    const tampered = xml.replace(nameId.value, 'someone-else');
    await assert.rejects(sp().validatePostResponseAsync({ SAMLResponse: Buffer.from(tampered).toString('base64') }), /signature/i);
  });

  it('a Response signed by a key the SP does not trust', async () => {
    await assert.rejects(serviceProvider({ idpCert: otherCert.certPem, validateInResponseTo: ValidateInResponseTo.never }).validatePostResponseAsync({ SAMLResponse: built().base64 }), /signature/i);
  });

  it('an assertion for another audience', async () => {
    await assert.rejects(serviceProvider({ audience: 'https://other.example.test', validateInResponseTo: ValidateInResponseTo.never }).validatePostResponseAsync({ SAMLResponse: built().base64 }), /audience/i);
  });

  it('an assertion past its 5 minutes', async () => {
    const old = buildResponse({ idp, application: application(), user: user(), nameIdSecret: SECRET, acsUrl: SP_ACS_URL, now: new Date(Date.now() - 6 * 60_000) });
    await assert.rejects(sp().validatePostResponseAsync({ SAMLResponse: old.base64 }), /expired/i);
  });
});

void describe('Response shape', () => {
  const now = new Date('2024-05-01T10:00:00Z');
  const parse = (xml: string) => new DOMParser().parseFromString(xml, 'text/xml');
  const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';

  it('places the Signature right after Issuer, and carries the times, audience, session and authn context', () => {
    const built = buildResponse({ idp, application: application({ sessionDuration: 'PT2H' }), user: user(), nameIdSecret: SECRET, acsUrl: SP_ACS_URL, inResponseTo: '_req', now, sessionIndex: '_sess1', signResponse: true });
    const doc = parse(built.xml);
    const response = doc.documentElement;
    assert.ok(response);
    const elementNames = (parent: { childNodes: ArrayLike<{ nodeType: number; localName?: string | null }> }) =>
      Array.from(parent.childNodes)
        .filter((n) => n.nodeType === 1)
        .map((n) => n.localName);
    assert.deepEqual(elementNames(response), ['Issuer', 'Signature', 'Status', 'Assertion']);
    const assertion = doc.getElementsByTagNameNS(ASSERTION, 'Assertion')[0];
    assert.ok(assertion);
    assert.deepEqual(elementNames(assertion), ['Issuer', 'Signature', 'Subject', 'Conditions', 'AuthnStatement']);
    assert.equal(response.getAttribute('Destination'), SP_ACS_URL);
    assert.equal(response.getAttribute('InResponseTo'), '_req');

    const confirmation = doc.getElementsByTagNameNS(ASSERTION, 'SubjectConfirmationData')[0];
    assert.equal(confirmation?.getAttribute('Recipient'), SP_ACS_URL);
    assert.equal(confirmation?.getAttribute('InResponseTo'), '_req');
    assert.equal(confirmation?.getAttribute('NotOnOrAfter'), '2024-05-01T10:05:00Z');
    const conditions = doc.getElementsByTagNameNS(ASSERTION, 'Conditions')[0];
    assert.equal(conditions?.getAttribute('NotBefore'), '2024-05-01T09:59:00Z');
    assert.equal(conditions?.getAttribute('NotOnOrAfter'), '2024-05-01T10:05:00Z');
    assert.equal(doc.getElementsByTagNameNS(ASSERTION, 'Audience')[0]?.textContent, SP_ENTITY_ID);
    const authn = doc.getElementsByTagNameNS(ASSERTION, 'AuthnStatement')[0];
    assert.equal(authn?.getAttribute('SessionIndex'), '_sess1');
    assert.equal(authn?.getAttribute('AuthnInstant'), '2024-05-01T10:00:00Z');
    assert.equal(authn?.getAttribute('SessionNotOnOrAfter'), '2024-05-01T12:00:00Z');
    assert.equal(built.sessionNotOnOrAfter.toISOString(), '2024-05-01T12:00:00.000Z');
    assert.equal(doc.getElementsByTagNameNS(ASSERTION, 'AuthnContextClassRef')[0]?.textContent, 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport');
    assert.equal(doc.getElementsByTagNameNS(ASSERTION, 'AttributeStatement').length, 0, 'no empty AttributeStatement');
  });

  it('refuses to encrypt for a non-RSA certificate', () => {
    assert.throws(
      () => buildResponse({ idp, application: application({ encryptionCertificate: EC_CERTIFICATE }), user: user(), nameIdSecret: SECRET, acsUrl: SP_ACS_URL }),
      (error) => isAppError(error, 'saml.certificate_invalid') && /RSA/.test(error.message),
    );
  });
});

void describe('NameID', () => {
  it('persistent: stable across calls and reprovisioning, different per application and per secret, opaque', () => {
    const first = nameIdFor('persistent', user(), SP_ENTITY_ID, SECRET);
    const reprovisioned = { ...user(), userId: 'u-2', userName: 'alice.renamed@corp.example.test' };
    assert.equal(nameIdFor('persistent', reprovisioned, SP_ENTITY_ID, SECRET).value, first.value);
    assert.equal(nameIdFor('persistent', user({ guid: user().activeDirectory.guid.toUpperCase() }), SP_ENTITY_ID, SECRET).value, first.value, 'GUID case does not matter');
    assert.notEqual(nameIdFor('persistent', user(), 'https://other.example.test', SECRET).value, first.value);
    assert.notEqual(nameIdFor('persistent', user(), SP_ENTITY_ID, 'another secret').value, first.value);
    assert.notEqual(nameIdFor('persistent', user({ guid: '11111111-2222-3333-4444-555555555555' }), SP_ENTITY_ID, SECRET).value, first.value);
    assert.match(first.value, /^[A-Za-z0-9_-]{43}$/);
    const guid = user().activeDirectory.guid;
    assert.ok(!first.value.includes(guid) && !first.value.includes(guid.replace(/-/g, '')));
    assert.equal(first.format, PERSISTENT);
    // The same through a full Response.
    const built = buildResponse({ idp, application: application(), user: user(), nameIdSecret: SECRET, acsUrl: SP_ACS_URL });
    assert.equal(built.nameId.value, first.value);
  });

  it('emailAddress, unspecified (the UPN), transient (new each time)', () => {
    assert.deepEqual(nameIdFor('emailAddress', user(), SP_ENTITY_ID, SECRET), { value: 'alice@corp.example.test', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' });
    assert.equal(nameIdFor('unspecified', user(), SP_ENTITY_ID, SECRET).value, 'alice@corp.example.test');
    const a = nameIdFor('transient', user(), SP_ENTITY_ID, SECRET);
    assert.notEqual(a.value, nameIdFor('transient', user(), SP_ENTITY_ID, SECRET).value);
    assert.equal(a.format, 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient');
  });

  it('emailAddress for a user without email is refused with a message for the user', () => {
    assert.throws(() => nameIdFor('emailAddress', user({ email: null }), SP_ENTITY_ID, SECRET), (error) => isAppError(error, 'saml.name_id_unavailable') && error.expose);
  });
});
