/**
 * The OpenID provider's state lives in the database (oidc_payloads; keys in settings): two
 * Portico instances on one database serve the same clients, keys and tokens — a token issued by
 * one is introspected and refreshed at the other, a reuse of the rotated refresh token is caught
 * at the first — and a restarted instance still honours the refresh tokens it issued.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { fixtureUser, sambaDirectoryEnv, sambaRuntime } from '../support/samba.ts';
import { adminApi } from '../support/saml-http.ts';
import { authorize, CookieJar } from './oidc-http.ts';

const alice = fixtureUser('alice');
const CALLBACK = 'http://127.0.0.1:9/callback';
const dataDir = mkdtempSync(join(tmpdir(), 'portico-oidc-instances-'));
let token = '';
const running: PorticoApp[] = [];

async function start(): Promise<PorticoApp> {
  const app = await startApp(
    loadConfig({ env: { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'silent', PORTICO_HTTP__PORT: '0', ...sambaDirectoryEnv(sambaRuntime()), PORTICO_ADMIN__GROUPS: JSON.stringify(['Portico-Admins@corp.example.test']) } }),
    { showBootstrapToken: (t) => (token = t) },
  );
  running.push(app);
  return app;
}

async function stop(app: PorticoApp): Promise<void> {
  running.splice(running.indexOf(app), 1);
  await app.stop();
}

async function rp(base: string, clientId: string, secret: string): Promise<oidc.Configuration> {
  const config = await oidc.discovery(new URL(`${base}/oidc`), clientId, undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
  oidc.enableNonRepudiationChecks(config);
  return config;
}

let client: { id: string; secret: string };

before(async () => {
  const first = await start();
  const created = await adminApi<{ application: { id: string }; clientSecret: string }>(first.url, token, 'POST', '/oidc-applications', { name: 'Shared', redirectUris: [CALLBACK] });
  client = { id: created.application.id, secret: created.clientSecret };
  await adminApi(first.url, token, 'POST', '/assignments', { principal: { type: 'user', id: alice.upn }, target: { type: 'application', applicationId: client.id } });
});

after(async () => {
  for (const app of [...running]) await app.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('OpenID provider state shared through the database', () => {
  it('a second instance introspects and refreshes what the first issued; reuse is caught across instances; a restart keeps the grants', async () => {
    const [first] = running;
    assert.ok(first);
    const second = await start();
    const configA = await rp(first.url, client.id, client.secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(configA, { redirect_uri: CALLBACK, scope: 'openid email', state: 's', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const { callback } = await authorize(new CookieJar(), first.url, url, { username: alice.upn, password: alice.password });
    assert.ok(callback);
    const tokens = await oidc.authorizationCodeGrant(configA, callback, { expectedState: 's', pkceCodeVerifier: verifier });
    assert.ok(tokens.refresh_token);

    // The other instance: same keys, same tokens. (Its issuer differs only by port here; a real
    // deployment puts both behind one http.publicUrl.)
    const configB = await rp(second.url, client.id, client.secret);
    assert.equal((await oidc.tokenIntrospection(configB, tokens.access_token)).active, true);
    const jwksA = (await (await fetch(`${first.url}/oidc/jwks`)).json()) as { keys: unknown[] };
    const jwksB = (await (await fetch(`${second.url}/oidc/jwks`)).json()) as { keys: unknown[] };
    assert.deepEqual(jwksB, jwksA);
    const refreshedAtB = await oidc.refreshTokenGrant(configB, tokens.refresh_token);
    assert.ok(refreshedAtB.refresh_token);
    assert.equal(decodeProtectedHeader(refreshedAtB.id_token ?? '').kid, decodeProtectedHeader(tokens.id_token ?? '').kid);
    // The rotated-away token presented at the first instance: reuse, the family is revoked everywhere.
    await assert.rejects(oidc.refreshTokenGrant(configA, tokens.refresh_token), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
    await assert.rejects(oidc.refreshTokenGrant(configB, refreshedAtB.refresh_token), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');

    // A new grant, then a restart of the instance that issued it.
    const verifier2 = oidc.randomPKCECodeVerifier();
    const url2 = oidc.buildAuthorizationUrl(configB, { redirect_uri: CALLBACK, scope: 'openid', state: 't', code_challenge: await oidc.calculatePKCECodeChallenge(verifier2), code_challenge_method: 'S256' });
    const again = await authorize(new CookieJar(), second.url, url2, { username: alice.upn, password: alice.password });
    assert.ok(again.callback);
    const kept = await oidc.authorizationCodeGrant(configB, again.callback, { expectedState: 't', pkceCodeVerifier: verifier2 });
    assert.ok(kept.refresh_token);
    await stop(second);
    await stop(first);
    const restarted = await start();
    const configC = await rp(restarted.url, client.id, client.secret);
    const afterRestart = await oidc.refreshTokenGrant(configC, kept.refresh_token);
    assert.ok(afterRestart.access_token);
    assert.equal(afterRestart.claims()?.sub, kept.claims()?.sub);
  });
});
