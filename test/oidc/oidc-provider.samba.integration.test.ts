/**
 * Portico as an OpenID provider end to end, against the real Samba AD DC, with openid-client
 * (panva) as a confidential and a public (PKCE) relying party: discovery, the code flow through
 * Portico's own sign-in, ID-token validation against the served JWKS (also across a key
 * rotation), userinfo, refresh-token rotation with reuse detection, introspection, revocation,
 * client credentials, prompt=none/login, and the refusals — unassigned user, wrong redirect URI,
 * missing or wrong PKCE verifier, replayed code, disabled client — each audited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { readFileSync } from 'node:fs';
import { directoryAdmin } from '../support/directory-admin.ts';
import { fixtureUser, sambaRuntime } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi } from '../support/saml-http.ts';
import { authorize, CookieJar, follow, request, signIn as signInTo } from './oidc-http.ts';

const alice = fixtureUser('alice'); // Eng-Platform-SRE → Eng-Platform → Eng-All (nested)
const bob = fixtureUser('bob'); // Sales-Team: not assigned
const CALLBACK = 'http://127.0.0.1:9/callback';
const PUBLIC_CALLBACK = 'http://127.0.0.1:9/native/callback';
const aliceLogin = { username: alice.upn, password: alice.password };

let portico: SambaPortico | undefined;
let base: string;
let token: string;
let issuer: string;
let confidential: { id: string; secret: string };
let publicClientId: string;
let machine: { id: string; secret: string };

type AuditEvent = { actor: string; action: string; target: string | null; outcome: string; errorCode: string | null; details: Record<string, unknown> };
async function auditEvents(action: string): Promise<AuditEvent[]> {
  return (await adminApi<{ events: AuditEvent[] }>(base, token, 'GET', `/audit?action=${encodeURIComponent(action)}&limit=200`)).events;
}
/** Audit records from the provider's events are written just after the response: wait for them. */
async function eventually(action: string, match: (event: AuditEvent) => boolean): Promise<AuditEvent> {
  for (let i = 0; i < 50; i++) {
    const found = (await auditEvents(action)).find(match);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`no ${action} audit event matched`);
}

async function rp(clientId: string, secret?: string): Promise<oidc.Configuration> {
  const config = await oidc.discovery(new URL(issuer), clientId, undefined, secret === undefined ? oidc.None() : oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
  // Verify ID-token signatures against the JWKS (openid-client trusts the TLS channel by default).
  oidc.enableNonRepudiationChecks(config);
  return config;
}

async function codeFlow(config: oidc.Configuration, options: { redirectUri?: string; scope?: string; pkce?: boolean; jar?: CookieJar; extra?: Record<string, string> } = {}) {
  const jar = options.jar ?? new CookieJar();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: options.redirectUri ?? CALLBACK,
    scope: options.scope ?? 'openid profile email groups',
    state,
    ...(options.pkce === false ? {} : { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }),
    ...options.extra,
  });
  const { callback, step } = await authorize(jar, base, url, aliceLogin);
  assert.ok(callback, `redirected back to the relying party (got ${step.status} ${step.text.slice(0, 200)})`);
  return { jar, callback, verifier, state };
}

async function authorizeAfterSignIn(jar: CookieJar, returnTo: string): Promise<void> {
  await signInTo(jar, base, alice.upn, alice.password);
  const back = await follow(jar, base, returnTo);
  assert.ok(back.location?.startsWith(CALLBACK), `back at the relying party after signing in again (${back.status} ${back.location ?? back.text.slice(0, 200)})`);
  assert.ok(new URL(back.location ?? '').searchParams.get('code'));
}

before(async () => {
  portico = await startSambaPortico();
  base = portico.app.url;
  token = portico.token;
  issuer = `${base}/oidc`;
  const created = await adminApi<{ application: { id: string }; clientSecret: string }>(base, token, 'POST', '/oidc-applications', {
    name: 'Grafana',
    redirectUris: [CALLBACK],
    postLogoutRedirectUris: ['http://127.0.0.1:9/signed-out'],
    groupsClaim: { prefix: 'Eng-' },
    claimMappings: [{ claim: 'nickname', value: 'ad:${user:activeDirectory.windowsUpn}' }],
  });
  confidential = { id: created.application.id, secret: created.clientSecret };
  publicClientId = (await adminApi<{ application: { id: string } }>(base, token, 'POST', '/oidc-applications', {
    name: 'Desktop App',
    clientType: 'public',
    redirectUris: [PUBLIC_CALLBACK],
  })).application.id;
  const cc = await adminApi<{ application: { id: string }; clientSecret: string }>(base, token, 'POST', '/oidc-applications', { name: 'Batch Job', grantTypes: ['client_credentials'] });
  machine = { id: cc.application.id, secret: cc.clientSecret };
  for (const applicationId of [confidential.id, publicClientId]) {
    await adminApi(base, token, 'POST', '/assignments', { principal: { type: 'group', id: 'Eng-All@corp.example.test' }, target: { type: 'application', applicationId } });
  }
});

after(async () => {
  await portico?.stop();
});

describe('OpenID provider against Samba AD, with openid-client', () => {
  it('publishes discovery and a JWKS: ES256 by default, RS256 available, S256 PKCE, no dynamic registration', async () => {
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(discovery.issuer, issuer);
    assert.equal(discovery.authorization_endpoint, `${issuer}/auth`);
    assert.equal(discovery.token_endpoint, `${issuer}/token`);
    assert.equal(discovery.jwks_uri, `${issuer}/jwks`);
    assert.ok(discovery.userinfo_endpoint && discovery.introspection_endpoint && discovery.revocation_endpoint && discovery.end_session_endpoint);
    assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['ES256', 'RS256']);
    assert.ok((discovery.subject_types_supported as string[]).includes('pairwise'));
    assert.equal(discovery.registration_endpoint, undefined);
    const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<{ kty: string; alg: string; d?: string }> };
    assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    assert.ok(jwks.keys.every((k) => k.d === undefined), 'no private parts in the JWKS');
  });

  it('signs a confidential client in through Portico\'s sign-in page: code → tokens → verified ID token → userinfo', async () => {
    const config = await rp(confidential.id, confidential.secret);
    const jar = new CookieJar();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid profile email groups', state: 'st-1', nonce: 'n-1' });
    // The interaction is Portico's own sign-in page, with the way back in returnTo.
    const first = await follow(jar, base, url.toString());
    assert.equal(first.status, 303);
    const signInUrl = new URL(first.location ?? '');
    assert.equal(signInUrl.pathname, '/sign-in');
    assert.match(signInUrl.searchParams.get('returnTo') ?? '', /^\/oidc\/interaction\/[\w-]+$/);
    const { callback } = await authorize(jar, base, url, aliceLogin);
    assert.ok(callback);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { expectedState: 'st-1', expectedNonce: 'n-1' });
    const claims = tokens.claims();
    assert.ok(claims);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, confidential.id);
    assert.equal(claims.email, alice.mail);
    assert.equal(claims.preferred_username, alice.upn);
    assert.equal(claims.name, alice.displayName);
    assert.equal(claims.nickname, `ad:${alice.upn}`);
    assert.deepEqual(claims.amr, ['pwd'], JSON.stringify(claims));
    assert.equal(claims.acr, 'urn:portico:acr:password');
    assert.ok(typeof claims.auth_time === 'number');
    // Nested groups (SRE → Platform → All), filtered to the Eng- prefix.
    assert.deepEqual(claims.groups, ['Eng-All', 'Eng-Platform', 'Eng-Platform-SRE']);
    // Pairwise: not the objectGUID, not the user name.
    const aliceRecord = JSON.stringify(await adminApi(base, token, 'GET', `/users/${encodeURIComponent(alice.upn)}`));
    const guid = /"guid":"([0-9a-f-]{36})"/.exec(aliceRecord)?.[1];
    assert.ok(guid, 'alice was provisioned with her objectGUID');
    assert.ok(!String(claims.sub).includes(guid) && !/^[0-9a-f-]{36}$/.test(String(claims.sub)));
    assert.ok(!String(claims.sub).includes(alice.sAMAccountName));
    assert.equal(decodeProtectedHeader(tokens.id_token ?? '').alg, 'ES256');
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(userinfo.email, alice.mail);
    assert.deepEqual(userinfo.groups, ['Eng-All', 'Eng-Platform', 'Eng-Platform-SRE']);
    const granted = await eventually('oidc.token.granted', (e) => e.target === confidential.id && e.outcome === 'success' && e.details.grantType === 'authorization_code');
    assert.equal(granted.actor, alice.upn);
  });

  it('rotates refresh tokens; a reused refresh token revokes the whole family', async () => {
    const config = await rp(confidential.id, confidential.secret);
    const { callback, state, verifier } = await codeFlow(config);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { expectedState: state, pkceCodeVerifier: verifier, idTokenExpected: true });
    const first = tokens.refresh_token;
    assert.ok(first);
    const second = await oidc.refreshTokenGrant(config, first);
    assert.ok(second.refresh_token && second.refresh_token !== first, 'a new refresh token at each use');
    assert.equal(second.claims()?.sub, tokens.claims()?.sub);
    const audited = await eventually('oidc.token.refreshed', (e) => e.target === confidential.id && e.outcome === 'success');
    assert.equal(audited.actor, alice.upn);
    // The old one again: refused, and the family (the new refresh token, the access tokens) is gone.
    await assert.rejects(oidc.refreshTokenGrant(config, first), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
    await assert.rejects(oidc.refreshTokenGrant(config, second.refresh_token), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
    assert.equal((await oidc.tokenIntrospection(config, second.access_token)).active, false);
    await eventually('oidc.refresh_token.reused', (e) => e.target === confidential.id && e.outcome === 'failure' && e.errorCode === 'oidc.invalid_grant');
  });

  it('introspects and revokes tokens', async () => {
    const config = await rp(confidential.id, confidential.secret);
    const { callback, state, verifier } = await codeFlow(config);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { expectedState: state, pkceCodeVerifier: verifier });
    const live = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(live.active, true);
    assert.equal(live.client_id, confidential.id);
    assert.equal(live.sub, tokens.claims()?.sub);
    assert.ok(live.scope?.split(' ').includes('openid'));
    await oidc.tokenRevocation(config, tokens.access_token);
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false);
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck));
    // Revoking the refresh token ends the grant.
    assert.ok(tokens.refresh_token);
    await oidc.tokenRevocation(config, tokens.refresh_token);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
  });

  it('requires S256 PKCE of a public client and checks the verifier; a code works once', async () => {
    const config = await rp(publicClientId);
    // No code_challenge: refused at the authorization endpoint (back to the client with an error).
    const jar = new CookieJar();
    await (async () => {
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: PUBLIC_CALLBACK, scope: 'openid', state: 's' });
      const { callback } = await authorize(jar, base, url, aliceLogin);
      assert.ok(callback);
      assert.equal(callback.searchParams.get('error'), 'invalid_request');
      assert.match(callback.searchParams.get('error_description') ?? '', /PKCE/);
    })();
    const flow = await codeFlow(config, { redirectUri: PUBLIC_CALLBACK, jar });
    await assert.rejects(
      oidc.authorizationCodeGrant(config, flow.callback, { expectedState: flow.state, pkceCodeVerifier: oidc.randomPKCECodeVerifier() }),
      (error: oidc.ResponseBodyError) => error.error === 'invalid_grant',
    );
    // That failed attempt consumed nothing it should not have… but a code is single use: a fresh one.
    const again = await codeFlow(config, { redirectUri: PUBLIC_CALLBACK, jar });
    const tokens = await oidc.authorizationCodeGrant(config, again.callback, { expectedState: again.state, pkceCodeVerifier: again.verifier });
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token, 'public clients get (rotating) refresh tokens too');
    await assert.rejects(oidc.authorizationCodeGrant(config, again.callback, { expectedState: again.state, pkceCodeVerifier: again.verifier }), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
    // Pairwise: the same person has another sub at another client.
    const confidentialFlow = await codeFlow(await rp(confidential.id, confidential.secret), { jar });
    const other = await oidc.authorizationCodeGrant(await rp(confidential.id, confidential.secret), confidentialFlow.callback, { expectedState: confidentialFlow.state, pkceCodeVerifier: confidentialFlow.verifier });
    assert.notEqual(other.claims()?.sub, tokens.claims()?.sub);
  });

  it('refuses a redirect URI that is not registered exactly, on its own page, audited', async () => {
    const config = await rp(confidential.id, confidential.secret);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: `${CALLBACK}/other`, scope: 'openid', state: 's' });
    const step = await request(new CookieJar(), url.toString());
    assert.equal(step.status, 400);
    assert.equal(step.location, null, 'never redirected to an unregistered URI');
    assert.match(step.text, /redirect_uri/);
    await eventually('oidc.authorization.refused', (e) => e.target === confidential.id && e.errorCode === 'oidc.invalid_redirect_uri');
  });

  it('refuses a user who is not assigned, with an error page and an audit event', async () => {
    const config = await rp(confidential.id, confidential.secret);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: 's' });
    const { step, callback } = await authorize(new CookieJar(), base, url, { username: bob.upn, password: bob.password });
    assert.equal(callback, null);
    assert.equal(step.status, 403);
    assert.match(step.text, /not assigned to Grafana/);
    await eventually('oidc.authorization.refused', (e) => e.actor === bob.upn && e.target === confidential.id && e.errorCode === 'access.not_assigned');
  });

  it('answers prompt=none without a Portico session with login_required, and prompt=login asks for the password again', async () => {
    const config = await rp(confidential.id, confidential.secret);
    const none = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: 's', prompt: 'none' });
    const { callback } = await authorize(new CookieJar(), base, none);
    assert.equal(callback?.searchParams.get('error'), 'login_required');

    const flow = await codeFlow(config);
    // Signed in (portal and provider session): prompt=none now succeeds silently.
    const silent = await authorize(flow.jar, base, oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: 's2', prompt: 'none' }));
    assert.ok(silent.callback?.searchParams.get('code'));
    // prompt=login: back to the sign-in page even so, with prompt=login passed on.
    const login = await follow(flow.jar, base, oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: 's3', prompt: 'login' }).toString());
    const signIn = new URL(login.location ?? '');
    assert.equal(signIn.pathname, '/sign-in');
    assert.equal(signIn.searchParams.get('prompt'), 'login');
    // The same session again does not do: only a new sign-in resumes the request.
    const returnTo = `${base}${signIn.searchParams.get('returnTo') ?? ''}`;
    assert.equal(new URL((await follow(flow.jar, base, returnTo)).location ?? '').pathname, '/sign-in');
    await authorizeAfterSignIn(flow.jar, returnTo);
  });

  it('client credentials: a machine client gets an access token (no user), introspectable, audited', async () => {
    const config = await rp(machine.id, machine.secret);
    const tokens = await oidc.clientCredentialsGrant(config, {});
    assert.ok(tokens.access_token);
    assert.equal(tokens.id_token, undefined);
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(introspected.active, true);
    assert.equal(introspected.client_id, machine.id);
    assert.equal(introspected.sub, undefined);
    await eventually('oidc.token.granted', (e) => e.target === machine.id && e.details.grantType === 'client_credentials');
    // A wrong secret is refused.
    await assert.rejects(oidc.clientCredentialsGrant(await rp(machine.id, 'not-the-secret'), {}), (error: Error) => error instanceof oidc.WWWAuthenticateChallengeError && error.status === 401 && JSON.stringify(error.cause).includes('invalid_client'));
  });

  it('validates ID tokens across a key rotation (stage → activate → retire): old tokens still verify, new ones carry the new key', async () => {
    const config = await rp(confidential.id, confidential.secret);
    const first = await codeFlow(config);
    const oldTokens = await oidc.authorizationCodeGrant(config, first.callback, { expectedState: first.state, pkceCodeVerifier: first.verifier });
    const oldKid = decodeProtectedHeader(oldTokens.id_token ?? '').kid;
    // Staged: published, not signing.
    const staged = await adminApi<{ keys: Array<{ kid: string; alg: string; state: string }> }>(base, token, 'POST', '/oidc/keys/next');
    const nextEs256 = staged.keys.find((k) => k.state === 'next' && k.alg === 'ES256');
    assert.ok(nextEs256);
    const stillOld = await codeFlow(config, { jar: first.jar });
    const stillOldTokens = await oidc.authorizationCodeGrant(config, stillOld.callback, { expectedState: stillOld.state, pkceCodeVerifier: stillOld.verifier });
    assert.equal(decodeProtectedHeader(stillOldTokens.id_token ?? '').kid, oldKid);
    // A relying party that fetched the JWKS since staging (openid-client refreshes it within 5 minutes)…
    const refreshed = await rp(confidential.id, confidential.secret);
    const warm = await codeFlow(refreshed, { jar: first.jar });
    // (its first ID token makes it download the JWKS, the staged pair included)
    await oidc.authorizationCodeGrant(refreshed, warm.callback, { expectedState: warm.state, pkceCodeVerifier: warm.verifier });
    const activated = await adminApi<{ keys: Array<{ kid: string; alg: string; state: string }> }>(base, token, 'POST', '/oidc/keys/activate', undefined, 200);
    assert.ok(activated.keys.some((k) => k.kid === oldKid && k.state === 'previous'));
    assert.ok(activated.keys.some((k) => k.kid === nextEs256.kid && k.state === 'current'));
    // …verifies tokens signed with the new key without fetching again.
    const after = await codeFlow(refreshed, { jar: first.jar });
    const newTokens = await oidc.authorizationCodeGrant(refreshed, after.callback, { expectedState: after.state, pkceCodeVerifier: after.verifier });
    assert.equal(decodeProtectedHeader(newTokens.id_token ?? '').kid, nextEs256.kid);
    // Old and new verify against the JWKS served now.
    const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    for (const idToken of [oldTokens.id_token, newTokens.id_token]) {
      const { payload } = await jwtVerify(idToken ?? '', jwks, { issuer, audience: confidential.id });
      assert.ok(payload.sub);
    }
    // Retiring the previous pair removes it from the JWKS; new tokens still verify.
    await adminApi(base, token, 'DELETE', '/oidc/keys/previous', undefined, 200);
    const served = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    assert.ok(!served.keys.some((k) => k.kid === oldKid));
    assert.ok(served.keys.some((k) => k.kid === nextEs256.kid));
    await assert.rejects(jwtVerify(oldTokens.id_token ?? '', createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer }));
    await eventually('oidc.key.activated', () => true);
  });

  it('a disabled application gets no tokens: its refresh tokens stop working', async () => {
    const created = await adminApi<{ application: { id: string }; clientSecret: string }>(base, token, 'POST', '/oidc-applications', { name: 'Soon Disabled', redirectUris: [CALLBACK] });
    await adminApi(base, token, 'POST', '/assignments', { principal: { type: 'user', id: alice.upn }, target: { type: 'application', applicationId: created.application.id } });
    const config = await rp(created.application.id, created.clientSecret);
    const flow = await codeFlow(config);
    const tokens = await oidc.authorizationCodeGrant(config, flow.callback, { expectedState: flow.state, pkceCodeVerifier: flow.verifier });
    assert.ok(tokens.refresh_token);
    await adminApi(base, token, 'PATCH', `/oidc-applications/${created.application.id}`, { disabled: true }, 200);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (error: Error) => error instanceof oidc.WWWAuthenticateChallengeError && JSON.stringify(error.cause).includes('invalid_client'));
  });

  it('refuses the refresh of a user deleted in AD since (a throwaway user), audited', async () => {
    const dc = sambaRuntime();
    const admin = await directoryAdmin({ ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin });
    const leaver = await admin.createUser(`oidc-${Date.now().toString(36)}`, { givenName: 'Leaving', sn: 'Soon', displayName: 'Leaving Soon' });
    let deleted = false;
    try {
      await adminApi(base, token, 'POST', '/assignments', { principal: { type: 'user', id: leaver.upn }, target: { type: 'application', applicationId: confidential.id } });
      const config = await rp(confidential.id, confidential.secret);
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: 'l', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const { callback } = await authorize(new CookieJar(), base, url, { username: leaver.upn, password: leaver.password });
      assert.ok(callback);
      const tokens = await oidc.authorizationCodeGrant(config, callback, { expectedState: 'l', pkceCodeVerifier: verifier });
      assert.ok(tokens.refresh_token);
      await admin.delete(leaver.dn);
      deleted = true;
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
      await eventually('oidc.authorization.refused', (e) => e.target === confidential.id && e.errorCode === 'oidc.user_unknown');
    } finally {
      if (!deleted) await admin.delete(leaver.dn).catch(() => undefined);
      await admin.close();
    }
  });

  it('shows OIDC applications as portal tiles that open their initiate-login URI (with iss), for assigned people only', async () => {
    const created = await adminApi<{ application: { id: string } }>(base, token, 'POST', '/oidc-applications', {
      name: 'Dashboards',
      redirectUris: [CALLBACK],
      initiateLoginUri: 'http://127.0.0.1:9/login/start',
    });
    await adminApi(base, token, 'POST', '/assignments', { principal: { type: 'group', id: 'Eng-All@corp.example.test' }, target: { type: 'application', applicationId: created.application.id } });
    const jar = new CookieJar();
    await signInTo(jar, base, alice.upn, alice.password);
    const access = (await (await fetch(`${base}/api/me/access`, { headers: { cookie: jar.header() } })).json()) as { applications: Array<{ application: { id: string; name: string } }> };
    assert.ok(access.applications.some((a) => a.application.id === created.application.id && a.application.name === 'Dashboards'));
    const tile = await request(jar, `${base}/portal/applications/${created.application.id}`);
    assert.equal(tile.status, 303);
    const start = new URL(tile.location ?? '');
    assert.equal(`${start.origin}${start.pathname}`, 'http://127.0.0.1:9/login/start');
    assert.equal(start.searchParams.get('iss'), issuer);
    // Without an initiate-login URI: a page saying to open the application itself.
    const grafana = await request(jar, `${base}/portal/applications/${confidential.id}`);
    assert.equal(grafana.status, 200);
    assert.match(grafana.text, /Open Grafana directly/);
    // Not assigned: refused.
    const bobJar = new CookieJar();
    await signInTo(bobJar, base, bob.upn, bob.password);
    assert.equal((await request(bobJar, `${base}/portal/applications/${created.application.id}`)).status, 403);
  });

  it('shows a confidential client\'s secret once: never in reads, nor in the audit log', async () => {
    const listed = await adminApi<{ applications: Array<Record<string, unknown>> }>(base, token, 'GET', '/oidc-applications');
    const grafana = listed.applications.find((a) => a.id === confidential.id);
    assert.ok(grafana);
    assert.ok(!JSON.stringify(listed).includes(confidential.secret));
    assert.ok(!('clientSecretSealed' in grafana));
    const audit = await auditEvents('access.oidc_application.created');
    assert.ok(audit.length >= 3);
    assert.ok(!JSON.stringify(audit).includes(confidential.secret));
    assert.ok(!JSON.stringify(audit).includes('clientSecretSealed'));
  });
});
