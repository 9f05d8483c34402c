import assert from 'node:assert/strict';
import { randomBytes, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { isAppError, type ErrorCode } from '#src/shared/errors.ts';
import { acceptAuthnRequest, createReplayCache, decodePost, decodeRedirect, parseAuthnRequest } from '#src/federation/saml/authn-request.ts';
import {
  EC_SP_CERT,
  EC_SP_KEY,
  SP_ACS_URL,
  SP_ENTITY_ID,
  SSO_URL,
  application,
  authnRequestXml,
  finder,
  otherCert,
  rawQuery,
  redirectQuery,
  serviceProvider,
  spSigningCert,
  stored,
} from './saml-fixtures.ts';

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const signedApp = application({ signingCertificate: stored(spSigningCert.certPem) });

/** Asserts that the promise (or call) is refused with `code`, and that the message is short and single-line. */
async function refused(attempt: Promise<unknown> | (() => unknown), code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(
    typeof attempt === 'function' ? () => Promise.resolve().then(attempt) : attempt,
    (error) => {
      assert.ok(isAppError(error, code), `expected ${code}, got ${String(error)}`);
      assert.equal(error.expose, true);
      assert.ok(error.status >= 400 && error.status < 500);
      assert.ok(!error.message.includes('\n') && error.message.length < 300, error.message);
      if (message) assert.match(error.message, message);
      return true;
    },
  );
}

void describe('AuthnRequest from node-saml over HTTP-Redirect', () => {
  it('decodes, parses and accepts an unsigned request: ID, issuer, ACS URL, RelayState, NameIDPolicy', async () => {
    const url = await serviceProvider({ forceAuthn: true }).getAuthorizeUrlAsync('relay-42', undefined, {});
    const message = decodeRedirect(rawQuery(url));
    assert.equal(message.querySignature, undefined);
    const accepted = await acceptAuthnRequest(message, { findApplication: finder(application()), destinations: [SSO_URL] });
    assert.match(accepted.request.id, /^_/);
    assert.equal(accepted.request.issuer, SP_ENTITY_ID);
    assert.equal(accepted.request.destination, SSO_URL);
    assert.equal(accepted.request.nameIdPolicyFormat, PERSISTENT);
    assert.equal(accepted.request.forceAuthn, true);
    assert.equal(accepted.request.isPassive, false);
    assert.ok(Math.abs(accepted.request.issueInstant.getTime() - Date.now()) < 5_000);
    assert.equal(accepted.acsUrl, SP_ACS_URL);
    assert.equal(accepted.relayState, 'relay-42');
    assert.equal(accepted.signed, false);
    assert.equal(accepted.application.id, 'app-1');
  });

  it('accepts a request signed over the query (RSA-SHA256) when the application has a signing certificate', async () => {
    const url = await serviceProvider({ privateKey: spSigningCert.keyPem }).getAuthorizeUrlAsync('relay', undefined, {});
    const message = decodeRedirect(rawQuery(url));
    assert.equal(message.querySignature?.algorithm, 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const accepted = await acceptAuthnRequest(message, { findApplication: finder(signedApp) });
    assert.equal(accepted.signed, true);
  });

  it('verifies the signature over the parameters as received, whatever their order in the URL', async () => {
    const url = new URL(await serviceProvider({ privateKey: spSigningCert.keyPem }).getAuthorizeUrlAsync('r', undefined, {}));
    const reordered = url.search.slice(1).split('&').reverse().join('&');
    const accepted = await acceptAuthnRequest(decodeRedirect(reordered), { findApplication: finder(signedApp) });
    assert.equal(accepted.signed, true);
  });

  it('refuses a request signed with another key', async () => {
    const url = await serviceProvider({ privateKey: otherCert.keyPem }).getAuthorizeUrlAsync('', undefined, {});
    await refused(acceptAuthnRequest(decodeRedirect(rawQuery(url)), { findApplication: finder(signedApp) }), 'saml.signature_invalid');
  });

  it('refuses a signed request whose RelayState was changed', async () => {
    const url = rawQuery(await serviceProvider({ privateKey: spSigningCert.keyPem }).getAuthorizeUrlAsync('original', undefined, {}));
    await refused(acceptAuthnRequest(decodeRedirect(url.replace('RelayState=original', 'RelayState=evil')), { findApplication: finder(signedApp) }), 'saml.signature_invalid');
  });

  it('refuses an unsigned request when the application has a signing certificate', async () => {
    const url = await serviceProvider().getAuthorizeUrlAsync('', undefined, {});
    await refused(acceptAuthnRequest(decodeRedirect(rawQuery(url)), { findApplication: finder(signedApp) }), 'saml.signature_required');
  });

  it('refuses SHA-1 signatures (node-saml signs with SHA-1 by default)', async () => {
    const url = await serviceProvider({ privateKey: spSigningCert.keyPem, signatureAlgorithm: 'sha1' }).getAuthorizeUrlAsync('', undefined, {});
    await refused(acceptAuthnRequest(decodeRedirect(rawQuery(url)), { findApplication: finder(signedApp) }), 'saml.signature_algorithm_unsupported', /SHA-1/);
  });

  it('accepts an ECDSA-SHA256 query signature from an SP with an EC certificate, and refuses an RSA SigAlg for that key', async () => {
    const ecApp = application({ signingCertificate: stored(EC_SP_CERT) });
    const signedQuery = (sigAlg: string) => {
      const content = `${redirectQuery(authnRequestXml())}&RelayState=r&SigAlg=${encodeURIComponent(sigAlg)}`;
      const signature = sign('sha256', Buffer.from(content), { key: EC_SP_KEY, dsaEncoding: 'ieee-p1363' });
      return `${content}&Signature=${encodeURIComponent(signature.toString('base64'))}`;
    };
    const accepted = await acceptAuthnRequest(decodeRedirect(signedQuery('http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256')), { findApplication: finder(ecApp) });
    assert.equal(accepted.signed, true);
    await refused(acceptAuthnRequest(decodeRedirect(signedQuery('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256')), { findApplication: finder(ecApp) }), 'saml.signature_invalid', /does not match/);
  });

  it('ignores a signature when the application has no certificate to check it with', async () => {
    const url = await serviceProvider({ privateKey: otherCert.keyPem }).getAuthorizeUrlAsync('', undefined, {});
    const accepted = await acceptAuthnRequest(decodeRedirect(rawQuery(url)), { findApplication: finder(application()) });
    assert.equal(accepted.signed, false);
  });
});

void describe('AuthnRequest from node-saml over HTTP-POST', () => {
  const postMessage = async (privateKey: string) => {
    const sp = serviceProvider({ privateKey, authnRequestBinding: 'HTTP-POST', skipRequestCompression: true });
    return (await sp.getAuthorizeMessageAsync('relay-post', undefined, {})) as Record<string, string>;
  };

  it('accepts a request with an enveloped XML signature', async () => {
    const fields = await postMessage(spSigningCert.keyPem);
    const accepted = await acceptAuthnRequest(decodePost(fields), { findApplication: finder(signedApp) });
    assert.equal(accepted.signed, true);
    assert.equal(accepted.acsUrl, SP_ACS_URL);
    assert.equal(accepted.relayState, 'relay-post');
  });

  it('refuses a signed request whose ACS URL was changed after signing', async () => {
    const fields = await postMessage(spSigningCert.keyPem);
    const xml = Buffer.from(fields.SAMLRequest ?? '', 'base64').toString().replace(SP_ACS_URL, 'https://sp.example.test/saml/acs2');
    await refused(acceptAuthnRequest(decodePost({ SAMLRequest: Buffer.from(xml).toString('base64') }), { findApplication: finder(signedApp) }), 'saml.signature_invalid');
  });

  it('refuses a request signed with another key, and an unsigned one', async () => {
    await refused(acceptAuthnRequest(decodePost(await postMessage(otherCert.keyPem)), { findApplication: finder(signedApp) }), 'saml.signature_invalid');
    const unsigned = { SAMLRequest: Buffer.from(authnRequestXml()).toString('base64') };
    await refused(acceptAuthnRequest(decodePost(unsigned), { findApplication: finder(signedApp) }), 'saml.signature_required');
  });

  it('refuses a wrapped request: a second element carrying the signed ID', async () => {
    const fields = await postMessage(spSigningCert.keyPem);
    const xml = Buffer.from(fields.SAMLRequest ?? '', 'base64').toString();
    const id = /ID="([^"]+)"/.exec(xml)?.[1] ?? '';
    const wrapped = xml.replace('</samlp:AuthnRequest>', `<samlp:Extensions><x ID="${id}" xmlns="urn:x"/></samlp:Extensions></samlp:AuthnRequest>`);
    await refused(acceptAuthnRequest(decodePost({ SAMLRequest: Buffer.from(wrapped).toString('base64') }), { findApplication: finder(signedApp) }), 'saml.signature_invalid', /more than one element with the signed ID/);
  });
});

void describe('AuthnRequest validation against the application', () => {
  const accept = (xml: string, options: Partial<Parameters<typeof acceptAuthnRequest>[1]> = {}) =>
    acceptAuthnRequest(decodeRedirect(redirectQuery(xml)), { findApplication: finder(application()), ...options });

  it('refuses an ACS URL the application did not register (node-saml with another callback URL)', async () => {
    const url = await serviceProvider({ callbackUrl: 'https://evil.example.test/acs' }).getAuthorizeUrlAsync('', undefined, {});
    await refused(acceptAuthnRequest(decodeRedirect(rawQuery(url)), { findApplication: finder(application()) }), 'saml.acs_url_not_registered', /evil\.example\.test/);
  });

  it('compares ACS URLs exactly: a trailing slash or another case is another URL', async () => {
    await refused(accept(authnRequestXml({ AssertionConsumerServiceURL: `${SP_ACS_URL}/` })), 'saml.acs_url_not_registered');
    await refused(accept(authnRequestXml({ AssertionConsumerServiceURL: SP_ACS_URL.toUpperCase() })), 'saml.acs_url_not_registered');
  });

  it('uses the first registered ACS URL when the request names none, and resolves an index', async () => {
    assert.equal((await accept(authnRequestXml())).acsUrl, SP_ACS_URL);
    assert.equal((await accept(authnRequestXml({ AssertionConsumerServiceIndex: '1' }))).acsUrl, 'https://sp.example.test/saml/acs2');
    await refused(accept(authnRequestXml({ AssertionConsumerServiceIndex: '7' })), 'saml.acs_url_not_registered');
    await refused(accept(authnRequestXml({ AssertionConsumerServiceIndex: '0', AssertionConsumerServiceURL: SP_ACS_URL })), 'saml.request_malformed');
  });

  it('refuses an unknown issuer', async () => {
    const url = await serviceProvider({ issuer: 'https://stranger.example.test' }).getAuthorizeUrlAsync('', undefined, {});
    await refused(acceptAuthnRequest(decodeRedirect(rawQuery(url)), { findApplication: finder(application()) }), 'saml.unknown_application', /stranger\.example\.test/);
  });

  it('refuses an IssueInstant outside the clock skew, on either side; the skew is configurable', async () => {
    const now = new Date();
    const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
    await refused(accept(authnRequestXml({ IssueInstant: at(-6) }), { now }), 'saml.request_expired', /more than 5 minutes ago/);
    await refused(accept(authnRequestXml({ IssueInstant: at(6) }), { now }), 'saml.request_not_yet_valid');
    await accept(authnRequestXml({ IssueInstant: at(-4) }), { now });
    await accept(authnRequestXml({ IssueInstant: at(4) }), { now });
    await refused(accept(authnRequestXml({ IssueInstant: at(-2) }), { now, clockSkewMs: 60_000 }), 'saml.request_expired', /more than 1 minute ago/);
    // node-saml's request, seen ten minutes later.
    const url = await serviceProvider().getAuthorizeUrlAsync('', undefined, {});
    await refused(acceptAuthnRequest(decodeRedirect(rawQuery(url)), { findApplication: finder(application()), now: new Date(Date.now() + 10 * 60_000) }), 'saml.request_expired');
  });

  it('refuses a replayed ID, per issuer', async () => {
    const replayCache = createReplayCache({ ttlMs: 10 * 60_000, maxEntries: 1000 });
    const url = await serviceProvider().getAuthorizeUrlAsync('', undefined, {});
    const message = decodeRedirect(rawQuery(url));
    await acceptAuthnRequest(message, { findApplication: finder(application()), replayCache });
    await refused(acceptAuthnRequest(message, { findApplication: finder(application()), replayCache }), 'saml.request_replayed');
    // The same ID from another application is another request.
    const other = application({ id: 'app-2', entityId: 'https://other.example.test' });
    await acceptAuthnRequest(decodeRedirect(redirectQuery(authnRequestXml({ ID: message.xml.match(/ID="([^"]+)"/)?.[1] ?? '' }, other.entityId))), { findApplication: finder(other), replayCache });
  });

  it('does not use up an ID on a refused request', async () => {
    const replayCache = createReplayCache({ ttlMs: 60_000, maxEntries: 10 });
    await refused(accept(authnRequestXml({ AssertionConsumerServiceURL: 'https://evil.example.test/' }), { replayCache }), 'saml.acs_url_not_registered');
    await accept(authnRequestXml(), { replayCache });
  });

  it('refuses a Destination other than ours, and a Response binding other than HTTP-POST', async () => {
    await refused(accept(authnRequestXml({ Destination: 'https://other-idp.example.test/sso' }), { destinations: [SSO_URL] }), 'saml.destination_mismatch');
    await refused(accept(authnRequestXml({ ProtocolBinding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact' })), 'saml.binding_unsupported');
  });
});

void describe('AuthnRequest decoding refusals', () => {
  it('refuses a DOCTYPE (entity expansion bomb) before parsing', async () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>${authnRequestXml().replace(SP_ENTITY_ID, '&lol3;')}`;
    await refused(acceptAuthnRequest(decodeRedirect(redirectQuery(bomb)), { findApplication: finder(application()) }), 'saml.request_dtd_forbidden');
    await refused(() => parseAuthnRequest('<!ENTITY x SYSTEM "file:///etc/passwd">'), 'saml.request_dtd_forbidden');
  });

  it('refuses bad base64, bad DEFLATE, a missing or doubled parameter, bad percent-encoding', async () => {
    await refused(() => decodeRedirect('SAMLRequest=not*base64!'), 'saml.request_malformed', /base64/);
    await refused(() => decodeRedirect(`SAMLRequest=${encodeURIComponent(Buffer.from('plain text, not deflate').toString('base64'))}`), 'saml.request_malformed', /DEFLATE/);
    await refused(() => decodeRedirect('RelayState=x'), 'saml.request_malformed', /SAMLRequest/);
    await refused(() => decodeRedirect(`${redirectQuery(authnRequestXml())}&${redirectQuery(authnRequestXml())}`), 'saml.request_malformed', /more than once/);
    await refused(() => decodeRedirect(`${redirectQuery(authnRequestXml())}&RelayState=%E0%A4%A`), 'saml.request_malformed', /URL-encoded/);
    await refused(() => decodeRedirect(`${redirectQuery(authnRequestXml())}&SigAlg=x`), 'saml.request_malformed', /SigAlg and Signature/);
    await refused(() => decodePost({ SAMLRequest: '%%%' }), 'saml.request_malformed', /base64/);
    await refused(() => decodePost({ SAMLRequest: ['a', 'b'] }), 'saml.request_malformed');
  });

  it('refuses input over the limits: 64 KiB compressed, 64 KiB inflated (a deflate bomb stops while inflating)', async () => {
    const bomb = deflateRawSync(Buffer.from(authnRequestXml().replace('</samlp:AuthnRequest>', `<!--${' '.repeat(10 * 1024 * 1024)}--></samlp:AuthnRequest>`)));
    assert.ok(bomb.length < 64 * 1024, 'the bomb itself is small');
    await refused(() => decodeRedirect(`SAMLRequest=${encodeURIComponent(bomb.toString('base64'))}`), 'saml.request_too_large', /64 KiB/);
    const incompressible = deflateRawSync(randomBytes(70 * 1024));
    await refused(() => decodeRedirect(`SAMLRequest=${encodeURIComponent(incompressible.toString('base64'))}`), 'saml.request_too_large');
    await refused(() => decodePost({ SAMLRequest: Buffer.alloc(65 * 1024, 'a').toString('base64') }), 'saml.request_too_large');
  });

  it('refuses what is not a SAML 2.0 AuthnRequest', async () => {
    await refused(() => parseAuthnRequest('<notxml'), 'saml.request_malformed', /well-formed/);
    await refused(() => parseAuthnRequest('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>'), 'saml.request_malformed', /AuthnRequest/);
    await refused(() => parseAuthnRequest(authnRequestXml({ Version: '1.1' })), 'saml.request_malformed', /version 2\.0/);
    await refused(() => parseAuthnRequest(authnRequestXml({ ID: '' })), 'saml.request_malformed', /ID/);
    await refused(() => parseAuthnRequest(authnRequestXml({ IssueInstant: '2024-01-01 12:00' })), 'saml.request_malformed', /IssueInstant/);
    await refused(() => parseAuthnRequest(authnRequestXml({}, '')), 'saml.request_malformed', /Issuer/);
    await refused(() => parseAuthnRequest(authnRequestXml({ ForceAuthn: 'yes' })), 'saml.request_malformed', /ForceAuthn/);
  });

  it('reads an Issuer split by a comment as one value', () => {
    const request = parseAuthnRequest(authnRequestXml({}, 'https://sp.example<!-- -->.test/metadata'));
    assert.equal(request.issuer, 'https://sp.example.test/metadata');
  });
});

void describe('createReplayCache', () => {
  it('remembers keys for the TTL and forgets the oldest beyond maxEntries', () => {
    let now = 0;
    const cache = createReplayCache({ ttlMs: 1000, maxEntries: 2, now: () => now });
    assert.equal(cache.seen('a'), false);
    assert.equal(cache.seen('a'), true);
    now = 1001;
    assert.equal(cache.seen('a'), false, 'expired');
    assert.equal(cache.seen('b'), false);
    assert.equal(cache.seen('c'), false);
    assert.equal(cache.size, 2);
    assert.equal(cache.seen('b'), true);
    assert.equal(cache.seen('a'), false, 'evicted as the oldest');
  });
});
