/**
 * The WebAuthn relying party comes from http.publicUrl when it is configured, not from the Host
 * the request carries (a proxy's or a client's choice): Portico started for real (managed
 * directory, demo forest, SQLite) with publicUrl https://sso.example.test and reached at
 * http://127.0.0.1:<port>. A software authenticator (test/support/soft-authenticator.ts) plays
 * the browser: the options name sso.example.test; a registration made for the request's own host
 * is refused; one made at the public origin is accepted, and so is an assertion, while an
 * assertion made for the request's host is refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { configSchema } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { relyingParty } from '#src/mfa/http/routes.ts';
import { SoftAuthenticator, type CreationOptions, type RequestOptions } from '../support/soft-authenticator.ts';

const PUBLIC = 'https://sso.example.test';

/** fetch with a cookie jar, as a browser would. */
class Client {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}
  async request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: () => Record<string, unknown> }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      headers: { cookie: [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; '), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      if (/max-age=0/i.test(line)) this.cookies.delete(pair.slice(0, at));
      else this.cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const text = await response.text();
    return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
  }
  /** The passkey button's CSRF token on an MFA page. */
  async passkeyCsrf(path: string): Promise<string> {
    const page = await this.request('GET', path);
    const csrf = /id="passkey"[^>]*data-csrf="([^"]+)"/.exec(page.text)?.[1];
    assert.ok(csrf, `no passkey button on ${path} (${page.status}): ${page.text.slice(0, 300)}`);
    return csrf;
  }
}

void describe('WebAuthn relying party', () => {
  void it('is http.publicUrl when set, else the host the browser asked for', () => {
    const request = { hostname: '127.0.0.1', protocol: 'http', host: '127.0.0.1:8080' };
    assert.deepEqual(relyingParty(undefined, request), { rpId: '127.0.0.1', origin: 'http://127.0.0.1:8080' });
    assert.deepEqual(relyingParty('https://sso.example.test/portico/', request), { rpId: 'sso.example.test', origin: 'https://sso.example.test' });
    assert.deepEqual(relyingParty('https://sso.example.test:8443', request), { rpId: 'sso.example.test', origin: 'https://sso.example.test:8443' });
  });

  void describe('with http.publicUrl, in a Portico reached at another host', () => {
    let dataDir = '';
    let app: PorticoApp | undefined;
    let token = '';

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'portico-webauthn-rp-'));
      const config = configSchema.parse({ dataDir, http: { port: 0, publicUrl: PUBLIC }, log: { level: 'silent' }, managedDirectory: { listen: { ldapPort: 0, ldapsPort: 0 } } });
      app = await startApp(config, { showBootstrapToken: (shown) => (token = shown) });
    });
    after(async () => {
      await app?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    void it('asks for, accepts and checks passkeys of the public origin only', async () => {
      assert.ok(app);
      const policy = await fetch(`${app.url}/admin/api/mfa/policy`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ factors: ['webauthn'] }) });
      assert.equal(policy.status, 200);
      const local = new URL(app.url);
      const client = new Client(app.url);
      const signIn = await client.request('POST', '/api/sign-in', { username: 'alice@portico.test', password: demoPassword });
      assert.equal(signIn.status, 200, signIn.text);

      const key = new SoftAuthenticator();
      let csrf = await client.passkeyCsrf('/mfa/enrol');
      const begin = async () => {
        const started = await client.request('POST', '/mfa/webauthn/register/options', { csrf });
        assert.equal(started.status, 200, started.text);
        return started.json() as { options: CreationOptions; ticket: string };
      };
      const first = await begin();
      assert.equal(first.options.rp.id, 'sso.example.test', 'the RP ID is the public host, not the Host header');

      // Made by a browser that believed the request's host: refused.
      const wrong = await client.request('POST', '/mfa/webauthn/register', { csrf, ticket: first.ticket, name: 'Key', returnTo: '/portal', response: key.register(first.options, local.origin, local.hostname) });
      assert.equal(wrong.status, 400, wrong.text);

      const second = await begin();
      const right = await client.request('POST', '/mfa/webauthn/register', { csrf, ticket: second.ticket, name: 'Key', returnTo: '/portal', response: key.register(second.options, PUBLIC) });
      assert.equal(right.status, 200, right.text);

      // An assertion (step-up on /mfa): the public origin's is accepted, the request host's refused.
      csrf = await client.passkeyCsrf('/mfa?returnTo=%2Fportal');
      const assertWith = async (origin: string, rpId: string) => {
        const options = await client.request('POST', '/mfa/webauthn/authenticate/options', { csrf });
        assert.equal(options.status, 200, options.text);
        const { options: request, ticket } = options.json() as { options: RequestOptions; ticket: string };
        assert.equal(request.rpId, 'sso.example.test');
        return client.request('POST', '/mfa/webauthn/authenticate', { csrf, ticket, returnTo: '/portal', response: key.assert(request, origin, rpId) });
      };
      const refused = await assertWith(local.origin, local.hostname);
      assert.equal(refused.status, 401, refused.text);
      const accepted = await assertWith(PUBLIC, 'sso.example.test');
      assert.equal(accepted.status, 200, accepted.text);
      assert.deepEqual(accepted.json(), { next: '/portal' });
    });
  });
});
