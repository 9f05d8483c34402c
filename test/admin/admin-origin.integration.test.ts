/**
 * The admin API's defences against cross-site requests (issue 12), on the embedded default: a
 * change (POST/PUT/PATCH/DELETE) takes a JSON body or none (415 otherwise), and one made with a
 * session cookie must carry an Origin — or, without one, a Referer — naming Portico itself (403,
 * audited). Bearer-token callers (the CLI) need no Origin.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';

const env = {
  PORTICO_DATA_DIR: mkdtempSync(join(tmpdir(), 'portico-admin-origin-')),
  PORTICO_LOG__LEVEL: 'silent',
  PORTICO_HTTP__PORT: '0',
  PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0',
  PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0',
};

void describe('admin API: JSON bodies only, same-origin changes for cookie sessions', () => {
  let app: PorticoApp;
  let token = '';
  let cookie = '';
  let self = '';
  let next = 100000000000;
  const account = () => ({ id: String(next++), name: `Origin test ${next}`, email: 'aws@example.test' });

  async function call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; code: string | undefined }> {
    const response = await fetch(`${app.url}/admin/api${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    const parsed = text === '' ? {} : (JSON.parse(text) as { error?: { code?: string } });
    return { status: response.status, code: parsed.error?.code };
  }
  const json = (extra: Record<string, string> = {}) => ({ cookie, 'content-type': 'application/json', ...extra });
  async function accountExists(id: string): Promise<boolean> {
    return (await fetch(`${app.url}/admin/api/accounts/${id}`, { headers: { authorization: `Bearer ${token}` } })).status === 200;
  }

  before(async () => {
    app = await startApp(loadConfig({ env }), { logDestination: new Writable({ write: (_c, _e, done) => done() }), showBootstrapToken: (t) => (token = t) });
    self = new URL(app.url).origin;
    const response = await fetch(`${app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol@portico.test', password: demoPassword }) });
    assert.equal(response.status, 200);
    cookie = response.headers.get('set-cookie')?.split(';')[0] ?? '';
  });
  after(async () => {
    await app?.stop();
    rmSync(env.PORTICO_DATA_DIR, { recursive: true, force: true });
  });

  it('refuses text/plain, form-encoded and multipart bodies with 415 api.unsupported_media_type, and changes nothing', async () => {
    for (const [type, body] of [
      ['text/plain', JSON.stringify(account())],
      ['text/plain;charset=UTF-8', JSON.stringify(account())],
      ['application/x-www-form-urlencoded', new URLSearchParams(account()).toString()],
      ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="id"\r\n\r\n1\r\n--x--\r\n`],
      ['application/json-patch+json', JSON.stringify(account())],
    ] as const) {
      const attempt = account();
      const answer = await call('POST', '/accounts', { cookie, origin: self, 'content-type': type }, type.startsWith('text/plain') ? JSON.stringify(attempt) : body);
      assert.deepEqual(answer, { status: 415, code: 'api.unsupported_media_type' }, type);
      assert.equal(await accountExists(attempt.id), false);
    }
    // The bearer token does not make another content type acceptable.
    assert.deepEqual(await call('POST', '/accounts', { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, JSON.stringify(account())), { status: 415, code: 'api.unsupported_media_type' });
  });

  it('refuses a body sent without a Content-Type', async () => {
    const url = new URL(`${app.url}/admin/api/accounts`);
    const body = JSON.stringify(account());
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { cookie, origin: self, 'content-length': Buffer.byteLength(body) } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.end(body);
    });
    assert.equal(status, 415);
  });

  it('refuses a cookie-authenticated change without Origin and Referer, or from another origin, and audits it', async () => {
    for (const [headers, what] of [
      [json(), 'neither Origin nor Referer'],
      [json({ origin: 'https://evil.example.test' }), 'a foreign Origin'],
      [json({ origin: 'null' }), 'an opaque Origin'],
      [json({ origin: `http://127.0.0.1.evil.example.test:${new URL(app.url).port}` }), 'a lookalike host'],
      [json({ referer: 'https://evil.example.test/page?secret=1' }), 'a foreign Referer without Origin'],
      [json({ origin: 'https://evil.example.test', referer: `${self}/console` }), 'a foreign Origin, whatever the Referer'],
    ] as const) {
      const attempt = account();
      assert.deepEqual(await call('POST', '/accounts', headers, JSON.stringify(attempt)), { status: 403, code: 'admin.origin_refused' }, what);
      assert.equal(await accountExists(attempt.id), false, what);
    }
    const audit = await fetch(`${app.url}/admin/api/audit?action=admin.request&limit=50`, { headers: { authorization: `Bearer ${token}` } });
    const events = ((await audit.json()) as { events: Array<{ actor: string; outcome: string; errorCode: string; details: Record<string, unknown> }> }).events;
    assert.ok(events.length >= 6);
    assert.ok(events.every((e) => e.actor === 'carol@portico.test' && e.outcome === 'failure' && e.errorCode === 'admin.origin_refused'));
    assert.ok(events.some((e) => e.details.origin === 'https://evil.example.test' && e.details.path === '/admin/api/accounts'));
    assert.ok(events.some((e) => e.details.source === 'none'));
    assert.ok(!JSON.stringify(events).includes('secret=1'), 'only the origin of a Referer is recorded');
  });

  it('accepts a same-origin Origin, and a same-origin Referer when Origin is absent; DELETE without a body', async () => {
    const first = account();
    assert.deepEqual(await call('POST', '/accounts', json({ origin: self }), JSON.stringify(first)), { status: 201, code: undefined });
    const second = account();
    assert.deepEqual(await call('POST', '/accounts', json({ referer: `${self}/console#/accounts` }), JSON.stringify(second)), { status: 201, code: undefined });
    assert.deepEqual(await call('PATCH', `/accounts/${first.id}`, json({ origin: self }), JSON.stringify({ name: 'Renamed' })), { status: 200, code: undefined });
    assert.deepEqual(await call('DELETE', `/accounts/${second.id}`, { cookie }), { status: 403, code: 'admin.origin_refused' }, 'a DELETE needs the Origin too');
    assert.deepEqual(await call('DELETE', `/accounts/${second.id}`, { cookie, origin: self }), { status: 204, code: undefined });
    assert.equal(await accountExists(second.id), false);
    // Reads are not changes.
    assert.equal((await call('GET', '/accounts', { cookie })).status, 200);
  });

  it('bearer-token callers (the CLI) need no Origin', async () => {
    const attempt = account();
    assert.deepEqual(await call('POST', '/accounts', { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8' }, JSON.stringify(attempt)), { status: 201, code: undefined });
    assert.deepEqual(await call('DELETE', `/accounts/${attempt.id}`, { authorization: `Bearer ${token}` }), { status: 204, code: undefined });
  });
});
