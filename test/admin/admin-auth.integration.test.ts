/**
 * Who may use the admin API on the embedded default (the managed directory and its demo forest):
 * the bootstrap token until it is disabled or replaced, and members of the directory's own
 * Portico-Admins group through their session.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { runPortico } from '../support/cli.ts';

const env = {
  PORTICO_DATA_DIR: mkdtempSync(join(tmpdir(), 'portico-admin-auth-')),
  PORTICO_LOG__LEVEL: 'silent',
  PORTICO_HTTP__PORT: '0',
  PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0',
  PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0',
};

void describe('admin API authentication', () => {
  let app: PorticoApp;
  let token = '';
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${app.url}${path}`, { headers });
  const bearer = (value: string) => ({ authorization: `Bearer ${value}` });
  async function signIn(username: string): Promise<string> {
    const response = await fetch(`${app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: demoPassword }) });
    assert.equal(response.status, 200, await response.clone().text());
    return response.headers.get('set-cookie')?.split(';')[0] ?? '';
  }

  before(async () => {
    app = await startApp(loadConfig({ env }), { logDestination: new Writable({ write: (_c, _e, done) => done() }), showBootstrapToken: (t) => (token = t) });
  });
  after(async () => {
    await app?.stop();
    rmSync(env.PORTICO_DATA_DIR, { recursive: true, force: true });
  });

  it('shows the bootstrap token once and stores only its hash', async () => {
    assert.match(token, /^pbt_/);
    assert.equal(app.bootstrapToken, token);
    const database = readFileSync(join(env.PORTICO_DATA_DIR, 'portico.db'));
    assert.equal(database.includes(Buffer.from(token)), false, 'the token itself is not in the database');
    assert.equal((await get('/admin/api/me', bearer(token))).status, 200);
  });

  it('admits the managed directory’s Portico-Admins (carol) by session, not others (alice)', async () => {
    const carol = await get('/admin/api/me', { cookie: await signIn('carol@portico.test') });
    assert.equal(carol.status, 200);
    assert.deepEqual(await carol.json(), { actor: 'carol@portico.test', via: 'session' });
    const alice = await get('/admin/api/me', { cookie: await signIn('alice@portico.test') });
    assert.equal(alice.status, 403);
    assert.equal(((await alice.json()) as { error: { code: string } }).error.code, 'admin.forbidden');
  });

  it('serves the OpenAPI document it was built from', async () => {
    const document = (await (await get('/admin/api/openapi.json')).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(document.openapi, '3.1.0');
    assert.deepEqual(document, JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')));
  });

  it('replaces the token from the host, and disables it through the API', async () => {
    const reset = await runPortico(['admin', 'bootstrap-token', '--reset', '--json'], env);
    assert.equal(reset.status, 0, reset.stderr);
    const fresh = (JSON.parse(reset.stdout) as { token: string }).token;
    assert.equal((await get('/admin/api/me', bearer(token))).status, 401, 'the previous token stopped working');
    assert.equal((await get('/admin/api/me', bearer(fresh))).status, 200);
    const disabled = await fetch(`${app.url}/admin/api/bootstrap-token`, { method: 'DELETE', headers: bearer(fresh) });
    assert.equal(disabled.status, 204);
    assert.equal((await get('/admin/api/me', bearer(fresh))).status, 401);
    const events = (await (await get('/admin/api/audit?action=admin.bootstrap_token.disabled', { cookie: await signIn('carol@portico.test') })).json()) as { events: Array<{ actor: string }> };
    assert.equal(events.events[0]?.actor, 'bootstrap-token');
  });
});
