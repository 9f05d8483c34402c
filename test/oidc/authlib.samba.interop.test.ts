/**
 * Authlib (Debian's python3-authlib), a client we did not write, against Portico's OpenID
 * provider: client credentials with introspection, and the authorization code flow with PKCE
 * whose ID token Authlib verifies against the served JWKS (ES256), then userinfo. Portico runs
 * against the Samba DC; the browser part of the code flow is driven over HTTP by hand.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { fixtureUser } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi } from '../support/saml-http.ts';
import { refuseInUnitTier } from '../support/tier.ts';
import { authorize, CookieJar } from './oidc-http.ts';

const SCRIPT = fileURLToPath(new URL('./authlib_client.py', import.meta.url));
const PYTHON = process.env.PORTICO_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const alice = fixtureUser('alice');
const CALLBACK = 'http://127.0.0.1:9/authlib/callback';

let portico: SambaPortico | undefined;
let base: string;

/** One step of the Python client; asynchronous, since Portico answers it from this same process. */
async function authlib<T>(request: Record<string, unknown>): Promise<T> {
  refuseInUnitTier('Authlib (an OAuth client in Python)');
  const child = spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(JSON.stringify(request));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(status, 0, `authlib_client.py failed: ${stderr}`);
  const answer = JSON.parse(stdout) as { ok: true; result: T } | { ok: false; error: string };
  if (!answer.ok) assert.fail(`Authlib: ${answer.error}`);
  return answer.result;
}

before(async () => {
  portico = await startSambaPortico();
  base = portico.app.url;
});

after(async () => {
  await portico?.stop();
});

describe('Authlib as a client of Portico', () => {
  it('client credentials, then introspection of the token', async () => {
    assert.ok(portico);
    const created = await adminApi<{ application: { id: string }; clientSecret: string }>(base, portico.token, 'POST', '/oidc-applications', { name: 'Authlib Batch', grantTypes: ['client_credentials'], accessTokenLifetime: 'PT10M' });
    const result = await authlib<{ token_type: string; expires_in: number; has_access_token: boolean; introspection: Record<string, unknown> }>({
      step: 'client_credentials',
      issuer: `${base}/oidc`,
      clientId: created.application.id,
      clientSecret: created.clientSecret,
    });
    assert.equal(result.token_type, 'Bearer');
    assert.equal(result.expires_in, 600);
    assert.ok(result.has_access_token);
    assert.equal(result.introspection.active, true);
    assert.equal(result.introspection.client_id, created.application.id);
  });

  it('authorization code with PKCE: Authlib verifies the ES256 ID token against the JWKS and reads userinfo', async () => {
    assert.ok(portico);
    const created = await adminApi<{ application: { id: string }; clientSecret: string }>(base, portico.token, 'POST', '/oidc-applications', { name: 'Authlib Web', redirectUris: [CALLBACK] });
    await adminApi(base, portico.token, 'POST', '/assignments', { principal: { type: 'group', id: 'Eng-All@corp.example.test' }, target: { type: 'application', applicationId: created.application.id } });
    const request = { issuer: `${base}/oidc`, clientId: created.application.id, clientSecret: created.clientSecret, redirectUri: CALLBACK };
    const start = await authlib<{ url: string; state: string; verifier: string }>({ step: 'authorize', ...request });
    assert.match(start.url, /code_challenge_method=S256/);
    const { callback } = await authorize(new CookieJar(), base, new URL(start.url), { username: alice.upn, password: alice.password });
    assert.ok(callback?.searchParams.get('code'));
    const result = await authlib<{ id_token_alg: string; claims: Record<string, unknown>; userinfo: Record<string, unknown>; has_refresh_token: boolean }>({
      step: 'exchange',
      ...request,
      callback: callback?.toString() ?? '',
      state: start.state,
      verifier: start.verifier,
    });
    assert.equal(result.id_token_alg, 'ES256');
    assert.equal(result.claims.email, alice.mail);
    assert.equal(result.claims.sub, result.userinfo.sub);
    assert.equal(result.userinfo.preferred_username, alice.upn);
    assert.ok(Array.isArray(result.userinfo.groups) && result.userinfo.groups.includes('Eng-Platform-SRE'));
    assert.ok(result.has_refresh_token);
  });
});
