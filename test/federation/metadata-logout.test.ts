import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import type { Profile } from '@node-saml/node-saml';
import { isAppError } from '#src/shared/errors.ts';
import { decodeRedirect } from '#src/federation/saml/binding.ts';
import { certificateBase64 } from '#src/federation/saml/keys.ts';
import { acceptLogoutRequest, buildLogoutResponse, logoutResponseUrl, parseLogoutRequest } from '#src/federation/saml/logout.ts';
import { buildIdpMetadata } from '#src/federation/saml/metadata.ts';
import { createReplayCache } from '#src/federation/saml/replay-cache.ts';
import { IDP_ENTITY_ID, PERSISTENT, SLO_URL, SP_ENTITY_ID, SP_SLO_URL, SSO_URL, application, finder, idp, idpCert, idpNextCert, otherCert, rawQuery, serviceProvider, spSigningCert, stored } from './saml-fixtures.ts';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';

void describe('IdP metadata', () => {
  it('describes the IdP: entityID, both signing certificates, NameID formats, SSO over both bindings, SLO over redirect', () => {
    const xml = buildIdpMetadata({ entityId: IDP_ENTITY_ID, ssoUrl: SSO_URL, sloUrl: SLO_URL, signingCertificates: [idpCert.certPem, certificateBase64(idpNextCert.certPem)] });
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const root = doc.documentElement;
    assert.equal(root?.getAttribute('entityID'), IDP_ENTITY_ID);
    const descriptor = doc.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0];
    assert.equal(descriptor?.getAttribute('WantAuthnRequestsSigned'), 'false');
    assert.equal(descriptor?.getAttribute('protocolSupportEnumeration'), 'urn:oasis:names:tc:SAML:2.0:protocol');

    const keys = Array.from(doc.getElementsByTagNameNS(MD, 'KeyDescriptor'));
    assert.deepEqual(keys.map((k) => k.getAttribute('use')), ['signing', 'signing']);
    assert.deepEqual(
      Array.from(doc.getElementsByTagNameNS(DS, 'X509Certificate')).map((c) => c.textContent),
      [certificateBase64(idpCert.certPem), certificateBase64(idpNextCert.certPem)],
    );
    assert.deepEqual(
      Array.from(doc.getElementsByTagNameNS(MD, 'NameIDFormat')).map((n) => n.textContent),
      [PERSISTENT, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified', 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient'],
    );
    const endpoints = (name: string) => Array.from(doc.getElementsByTagNameNS(MD, name)).map((e) => [e.getAttribute('Binding'), e.getAttribute('Location')]);
    assert.deepEqual(endpoints('SingleSignOnService'), [
      ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', SSO_URL],
      ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', SSO_URL],
    ]);
    assert.deepEqual(endpoints('SingleLogoutService'), [['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', SLO_URL]]);
    // Schema order within IDPSSODescriptor.
    const order = Array.from(descriptor?.childNodes ?? []).map((n) => (n as { localName?: string }).localName);
    assert.deepEqual([...new Set(order)], ['KeyDescriptor', 'SingleLogoutService', 'NameIDFormat', 'SingleSignOnService']);
  });

  it('refuses zero, three, or unreadable certificates', () => {
    const base = { entityId: IDP_ENTITY_ID, ssoUrl: SSO_URL, sloUrl: SLO_URL };
    assert.throws(() => buildIdpMetadata({ ...base, signingCertificates: [] }), RangeError);
    assert.throws(() => buildIdpMetadata({ ...base, signingCertificates: [idpCert.certPem, idpCert.certPem, idpCert.certPem] }), RangeError);
    assert.throws(() => buildIdpMetadata({ ...base, signingCertificates: ['bm90IGEgY2VydA=='] }), (error) => isAppError(error, 'saml.certificate_invalid'));
  });
});

void describe('single logout (IdP side, HTTP-Redirect)', () => {
  const signedApp = application({ signingCertificate: stored(spSigningCert.certPem) });
  const logoutUser: Profile = { issuer: SP_ENTITY_ID, nameID: 'opaque-id', nameIDFormat: PERSISTENT, spNameQualifier: SP_ENTITY_ID, sessionIndex: '_session-1' };

  it("accepts node-saml's signed LogoutRequest and reads NameID and SessionIndex", async () => {
    const sp = serviceProvider({ privateKey: spSigningCert.keyPem });
    const url = await sp.getLogoutUrlAsync(logoutUser, 'relay-out', {});
    const accepted = await acceptLogoutRequest(decodeRedirect(rawQuery(url)), { findApplication: finder(signedApp), destinations: [SLO_URL], replayCache: createReplayCache({ ttlMs: 600_000, maxEntries: 100 }) });
    assert.equal(accepted.signed, true);
    assert.equal(accepted.relayState, 'relay-out');
    assert.equal(accepted.request.issuer, SP_ENTITY_ID);
    assert.deepEqual(accepted.request.nameId, { value: 'opaque-id', format: PERSISTENT, spNameQualifier: SP_ENTITY_ID });
    assert.deepEqual(accepted.request.sessionIndexes, ['_session-1']);
  });

  it('refuses a LogoutRequest signed with another key, unsigned when required, replayed, or from an unknown issuer', async () => {
    const forged = await serviceProvider({ privateKey: otherCert.keyPem }).getLogoutUrlAsync(logoutUser, '', {});
    await assert.rejects(acceptLogoutRequest(decodeRedirect(rawQuery(forged)), { findApplication: finder(signedApp) }), (e) => isAppError(e, 'saml.signature_invalid'));
    const unsigned = await serviceProvider().getLogoutUrlAsync(logoutUser, '', {});
    await assert.rejects(acceptLogoutRequest(decodeRedirect(rawQuery(unsigned)), { findApplication: finder(signedApp) }), (e) => isAppError(e, 'saml.signature_required'));
    const replayCache = createReplayCache({ ttlMs: 600_000, maxEntries: 100 });
    await acceptLogoutRequest(decodeRedirect(rawQuery(unsigned)), { findApplication: finder(application()), replayCache });
    await assert.rejects(acceptLogoutRequest(decodeRedirect(rawQuery(unsigned)), { findApplication: finder(application()), replayCache }), (e) => isAppError(e, 'saml.request_replayed'));
    await assert.rejects(acceptLogoutRequest(decodeRedirect(rawQuery(unsigned)), { findApplication: finder() }), (e) => isAppError(e, 'saml.unknown_application'));
  });

  it('refuses a LogoutRequest without NameID, or with an expired NotOnOrAfter', async () => {
    const request = (inner: string, extra = '') =>
      `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l1" Version="2.0" IssueInstant="${new Date().toISOString()}"${extra}><saml:Issuer>${SP_ENTITY_ID}</saml:Issuer>${inner}</samlp:LogoutRequest>`;
    assert.throws(() => parseLogoutRequest(request('')), (e) => isAppError(e, 'saml.request_malformed') && /NameID/.test(e.message));
    const expired = request('<saml:NameID>x</saml:NameID>', ` NotOnOrAfter="${new Date(Date.now() - 10 * 60_000).toISOString()}"`);
    const query = `SAMLRequest=${encodeURIComponent(deflateRawSync(expired).toString('base64'))}`;
    await assert.rejects(acceptLogoutRequest(decodeRedirect(query), { findApplication: finder(application()) }), (e) => isAppError(e, 'saml.request_expired'));
  });

  it("answers with a signed LogoutResponse that node-saml's validateRedirectAsync accepts", async () => {
    const sp = serviceProvider({ privateKey: spSigningCert.keyPem });
    const requestUrl = await sp.getLogoutUrlAsync(logoutUser, 'relay-out', {});
    const accepted = await acceptLogoutRequest(decodeRedirect(rawQuery(requestUrl)), { findApplication: finder(signedApp) });

    const responseUrl = logoutResponseUrl({ idp, destination: SP_SLO_URL, inResponseTo: accepted.request.id, relayState: accepted.relayState });
    assert.ok(responseUrl.startsWith(`${SP_SLO_URL}?SAMLResponse=`));
    const query = rawQuery(responseUrl);
    const result = await sp.validateRedirectAsync(Object.fromEntries(new URL(responseUrl).searchParams), query);
    assert.equal(result.loggedOut, true);
    // The query signature is what node-saml checked: tampering with RelayState breaks it.
    const tampered = query.replace('RelayState=relay-out', 'RelayState=other');
    await assert.rejects(sp.validateRedirectAsync(Object.fromEntries(new URLSearchParams(tampered)), tampered), /signature/i);
  });

  it('builds a LogoutResponse with status Success, InResponseTo and Destination', () => {
    const { xml, id } = buildLogoutResponse({ idp, destination: SP_SLO_URL, inResponseTo: '_req"<x', now: new Date('2024-01-01T00:00:00Z') });
    const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement;
    assert.equal(root?.getAttribute('ID'), id);
    assert.equal(root?.getAttribute('InResponseTo'), '_req"<x', 'escaped and read back intact');
    assert.equal(root?.getAttribute('Destination'), SP_SLO_URL);
    assert.equal(root?.getAttribute('IssueInstant'), '2024-01-01T00:00:00Z');
    assert.match(xml, /status:Success/);
  });
});
