/**
 * The sign-in page, the JSON API and sign-out over real HTTP: CSRF, cookies and their flags,
 * redirects, session expiry, revocation and re-checks, throttling, malformed input, headers.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSignedCertificate } from '#src/shared/certificates.ts';
import { SESSION_COOKIE } from '#src/auth/http/index.ts';
import { ALICE_GUID, browser, hiddenField, HOUR, httpsGet, MINUTE, PASSWORD, signInWithForm, startHarness, type Harness } from './harness.ts';

const ALICE = 'alice@corp.example.test';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function start(options?: Parameters<typeof startHarness>[0]): Promise<Harness> {
  harness = await startHarness(options);
  return harness;
}

function sessionCookieLine(response: Response): string {
  const line = response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`));
  assert.ok(line, 'a session cookie was set');
  return line;
}

void describe('sign-in page', () => {
  void it('is an accessible form with a CSRF field, a CSRF cookie and strict headers', async () => {
    const h = await start();
    const client = browser(h.url);
    const response = await client.get('/sign-in');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    const html = await response.text();
    assert.match(html, /<label for="username">/);
    assert.match(html, /<label for="password">/);
    assert.match(html, /autocomplete="username"/);
    assert.match(html, /autocomplete="current-password"/);
    assert.match(html, /role="alert"/);
    assert.match(html, /name="viewport" content="width=device-width/);
    assert.doesNotMatch(html, /<script|<img/i);
    assert.ok(hiddenField(html, 'csrf').length > 20);

    const csrfCookie = response.headers.getSetCookie().find((cookie) => cookie.startsWith('portico_csrf='));
    assert.ok(csrfCookie);
    assert.match(csrfCookie, /HttpOnly/);
    assert.match(csrfCookie, /SameSite=Lax/);

    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /style-src 'sha256-[\w+/=]+'/);
    assert.match(csp, /form-action 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(response.headers.get('cache-control'), 'no-store');
  });

  void it('signs in: session cookie with the right flags, 303 to /, then the signed-in page', async () => {
    const h = await start();
    const client = browser(h.url);
    const response = await signInWithForm(client, { username: ALICE, password: PASSWORD });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/');
    const line = sessionCookieLine(response);
    assert.match(line, /HttpOnly/);
    assert.match(line, /SameSite=Lax/);
    assert.match(line, /Path=\//);
    assert.match(line, new RegExp(`Max-Age=${8 * 3600}`));
    assert.doesNotMatch(line, /Secure/, 'plain HTTP, no proxy: no Secure flag');
    // The CSRF cookie is dropped once signed in.
    assert.equal(client.jar.cookies.has('portico_csrf'), false);

    const home = await client.get('/');
    assert.equal(home.status, 200);
    const html = await home.text();
    assert.match(html, /Signed in as Alice &#60;Example&#62; \(alice@corp\.example\.test\)/);
    assert.match(html, /action="\/sign-out"/);

    assert.equal(h.calls.length, 1);
    assert.equal(h.calls[0]?.clientAddress, '127.0.0.1');
    assert.equal(h.calls[0]?.password, PASSWORD);
  });

  void it('refuses a post without a CSRF cookie or field, or with a mismatched one (403, fresh form)', async () => {
    const h = await start();
    const client = browser(h.url);
    const page = await client.get('/sign-in');
    const csrf = hiddenField(await page.text(), 'csrf');

    // No field.
    let response = await client.form('/sign-in', { username: ALICE, password: PASSWORD });
    assert.equal(response.status, 403);
    let html = await response.text();
    assert.match(html, /expired or did not come from this site/);
    assert.match(html, /name="csrf" value="[\w-]+"/, 'a fresh form to try again');

    // A field from someone else's cookie.
    const other = browser(h.url);
    const otherCsrf = hiddenField(await (await other.get('/sign-in')).text(), 'csrf');
    response = await client.form('/sign-in', { csrf: otherCsrf, username: ALICE, password: PASSWORD });
    assert.equal(response.status, 403);

    // No cookie at all (a cross-site form post): the field alone is useless.
    const stranger = browser(h.url);
    response = await stranger.form('/sign-in', { csrf, username: ALICE, password: PASSWORD });
    assert.equal(response.status, 403);
    html = await response.text();
    assert.match(html, /did not send the sign-in cookie/);

    // A forged cookie with a made-up field.
    const forger = browser(h.url);
    forger.jar.cookies.set('portico_csrf', 'A'.repeat(43));
    response = await forger.form('/sign-in', { csrf: 'A'.repeat(43), username: ALICE, password: PASSWORD });
    assert.equal(response.status, 403);

    assert.equal(h.calls.length, 0, 'the directory was never asked');
    assert.equal(response.headers.getSetCookie().some((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`)), false);
  });

  void it('re-renders a failure with the message and the user name, never the password', async () => {
    const h = await start();
    const client = browser(h.url);
    const response = await signInWithForm(client, { username: ALICE, password: 'Wrong-Secret-<b>x</b>' });
    assert.equal(response.status, 401);
    const html = await response.text();
    assert.match(html, /role="alert">The user name or password is incorrect\./);
    assert.match(html, /name="username" type="text" value="alice@corp\.example\.test"/);
    assert.doesNotMatch(html, /Wrong-Secret/);
    assert.match(html, /<title>Error: sign in/);
    // A second try with the same form works (the CSRF cookie is kept).
    const again = await client.form('/sign-in', { csrf: hiddenField(html, 'csrf'), returnTo: '/', username: ALICE, password: PASSWORD });
    assert.equal(again.status, 303);
  });

  void it('reports account states as 401 and an unreachable directory as 503 with Retry-After', async () => {
    const h = await start();
    let response = await signInWithForm(browser(h.url), { username: 'locked@corp.example.test', password: PASSWORD });
    assert.equal(response.status, 401);
    assert.match(await response.text(), /Your account is locked/);
    response = await signInWithForm(browser(h.url), { username: 'down@corp.example.test', password: PASSWORD });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '30');
  });

  void it('asks for both fields before calling the directory (400)', async () => {
    const h = await start();
    const response = await signInWithForm(browser(h.url), { username: ALICE, password: '' });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /Enter your user name and your password/);
    assert.equal(h.calls.length, 0);
  });

  void it('throttles: 429 with Retry-After once the limit is reached, and the message on the page', async () => {
    const h = await start();
    const client = browser(h.url);
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await signInWithForm(client, { username: ALICE, password: `wrong-${i}` })).status, 401);
    }
    const response = await signInWithForm(client, { username: ALICE, password: PASSWORD });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), String(30 * 60));
    assert.match(await response.text(), /Too many failed sign-ins/);
    h.clock.now = new Date(h.clock.now.getTime() + 30 * MINUTE);
    assert.equal((await signInWithForm(client, { username: ALICE, password: PASSWORD })).status, 303);
  });

  void it('follows a same-site returnTo and refuses every open-redirect attempt', async () => {
    const h = await start();
    const attempts = [
      'https://evil.example/',
      '//evil.example/',
      '/\\evil.example/',
      '\\\\evil.example',
      '/\t/evil.example',
      '/..//evil.example',
      '/%2e%2e//evil.example',
      'javascript:alert(1)',
      'http:evil.example',
      '',
    ];
    for (const returnTo of attempts) {
      const response = await signInWithForm(browser(h.url), { username: ALICE, password: PASSWORD, returnTo });
      assert.equal(response.status, 303, returnTo);
      assert.equal(response.headers.get('location'), '/', `returnTo ${JSON.stringify(returnTo)}`);
    }
    const response = await signInWithForm(browser(h.url), { username: ALICE, password: PASSWORD, returnTo: '/portal/accounts?x=1&y=2#top' });
    assert.equal(response.headers.get('location'), '/portal/accounts?x=1&y=2#top');

    // A tampered hidden field is checked the same way.
    for (const returnTo of attempts) {
      const client = browser(h.url);
      const html = await (await client.get('/sign-in')).text();
      const tampered = await client.form('/sign-in', { csrf: hiddenField(html, 'csrf'), returnTo, username: ALICE, password: PASSWORD });
      assert.equal(tampered.headers.get('location'), '/', `posted returnTo ${JSON.stringify(returnTo)}`);
    }
  });

  void it('sends a signed-in visitor of /sign-in on to returnTo, and an anonymous visitor of / to /sign-in', async () => {
    const h = await start();
    const anonymous = await browser(h.url).get('/');
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.headers.get('location'), '/sign-in');
    const client = browser(h.url);
    await signInWithForm(client, { username: ALICE, password: PASSWORD });
    const again = await client.get('/sign-in?returnTo=/next');
    assert.equal(again.status, 303);
    assert.equal(again.headers.get('location'), '/next');
  });
});

void describe('cookie Secure flag and client address behind proxies', () => {
  void it('is set when a trusted proxy says X-Forwarded-Proto: https, and the forwarded client address is used', async () => {
    const h = await start({ http: { trustedProxies: ['127.0.0.1'] } });
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' };
    const client = browser(h.url);
    const response = await signInWithForm(client, { username: ALICE, password: PASSWORD }, headers);
    assert.equal(response.status, 303);
    assert.match(sessionCookieLine(response), /; Secure/);
    assert.equal(h.calls[0]?.clientAddress, '203.0.113.9');
  });

  void it('is not set when an untrusted peer claims https, and its X-Forwarded-For is ignored', async () => {
    const h = await start({ http: { trustedProxies: ['10.0.0.1'] } });
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' };
    const response = await signInWithForm(browser(h.url), { username: ALICE, password: PASSWORD }, headers);
    assert.doesNotMatch(sessionCookieLine(response), /Secure/);
    assert.equal(h.calls[0]?.clientAddress, '127.0.0.1');
  });

  void it('is always set when the public URL is https', async () => {
    const h = await start({ http: { publicUrl: 'https://sso.example.com' } });
    const response = await signInWithForm(browser(h.url), { username: ALICE, password: PASSWORD });
    assert.match(sessionCookieLine(response), /; Secure/);
  });

  void it('serves HTTPS itself when given a certificate, with Secure cookies', async (t) => {
    const certificate = generateSelfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], validDays: 2 });
    const dir = await mkdtemp(join(tmpdir(), 'portico-tls-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    await writeFile(certFile, certificate.certPem);
    await writeFile(keyFile, certificate.keyPem, { mode: 0o600 });
    t.after(() => rm(dir, { recursive: true, force: true }));
    const h = await start({ http: { tls: { certFile, keyFile } } });
    assert.match(h.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const response = await httpsGet(`${h.url}/sign-in`, certificate.certPem);
    assert.equal(response.status, 200);
    const cookies = response.headers['set-cookie'];
    assert.ok(Array.isArray(cookies) && cookies.some((cookie) => cookie.startsWith('portico_csrf=') && cookie.includes('; Secure')));
    await assert.rejects(httpsGet(`${h.url}/sign-in`, generateSelfSignedCertificate({ commonName: 'other', altNames: ['127.0.0.1'], validDays: 1 }).certPem));
  });
});

void describe('JSON sign-in API', () => {
  void it('signs in with a JSON body: 200 with the user and the cookie', async () => {
    const h = await start();
    const client = browser(h.url);
    const response = await client.json('/api/sign-in', { username: ALICE, password: PASSWORD });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { userId: 'u-alice', userName: ALICE, displayName: 'Alice <Example>', expiresAt: new Date(h.clock.now.getTime() + 8 * HOUR).toISOString() });
    assert.match(sessionCookieLine(response), /HttpOnly; SameSite=Lax/);
    const session = await client.get('/api/session');
    assert.equal(session.status, 200);
    assert.deepEqual(await session.json(), {
      userId: 'u-alice',
      userName: ALICE,
      displayName: 'Alice <Example>',
      groups: [{ guid: 'g-1', qualifiedName: 'Engineers@corp.example.test' }],
      groupsTruncated: false,
      expiresAt: new Date(h.clock.now.getTime() + 8 * HOUR).toISOString(),
    });
  });

  void it('answers failures with a stable code: 401, 429 with Retry-After, 503', async () => {
    const h = await start();
    const client = browser(h.url);
    let response = await client.json('/api/sign-in', { username: ALICE, password: 'nope' });
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { error: { code: 'auth.invalid_credentials', message: 'The user name or password is incorrect.' } });
    await client.json('/api/sign-in', { username: ALICE, password: 'nope' });
    await client.json('/api/sign-in', { username: ALICE, password: 'nope' });
    response = await client.json('/api/sign-in', { username: ALICE, password: PASSWORD });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '1800');
    assert.deepEqual(await response.json(), { error: { code: 'auth.throttled', message: 'Too many failed sign-ins. Try again later.', retryAfterSeconds: 1800 } });
    response = await client.json('/api/sign-in', { username: 'down@corp.example.test', password: PASSWORD });
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'auth.directory_unavailable');
  });

  void it('refuses malformed bodies with 400 and a message naming the field', async () => {
    const h = await start();
    const client = browser(h.url);
    let response = await client.post('/api/sign-in', '{"username": "alice", ', 'application/json');
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { error: { code: 'auth.invalid_request', message: 'the body is not valid JSON' } });

    response = await client.json('/api/sign-in', { username: ALICE });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /password/);

    response = await client.json('/api/sign-in', { username: 42, password: PASSWORD });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /username/);

    response = await client.json('/api/sign-in', ['alice', PASSWORD]);
    assert.equal(response.status, 400);

    response = await client.post('/api/sign-in', '', 'application/json');
    assert.equal(response.status, 400);

    response = await client.post('/api/sign-in', JSON.stringify({ username: ALICE, password: 'x'.repeat(20_000) }), 'application/json');
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'auth.invalid_request');
    assert.equal(h.calls.length, 0);
  });

  void it('requires Content-Type application/json, so a cross-site form cannot use it', async () => {
    const h = await start();
    const client = browser(h.url);
    for (const [body, type] of [
      [new URLSearchParams({ username: ALICE, password: PASSWORD }).toString(), 'application/x-www-form-urlencoded'],
      [JSON.stringify({ username: ALICE, password: PASSWORD }), 'text/plain'],
    ] as const) {
      const response = await client.post('/api/sign-in', body, type);
      assert.equal(response.status, 415, type);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'auth.invalid_request');
    }
    assert.equal(h.calls.length, 0);
  });

  void it('answers /api/session with 401 auth.session_invalid without a session', async () => {
    const h = await start();
    const response = await browser(h.url).get('/api/session');
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { error: { code: 'auth.session_invalid', message: 'not signed in, or the session ended' } });
    const forged = browser(h.url);
    forged.jar.cookies.set(SESSION_COOKIE, 'not-a-real-token');
    const refused = await forged.get('/api/session');
    assert.equal(refused.status, 401);
    assert.equal(forged.jar.cookies.has(SESSION_COOKIE), false, 'a dead session cookie is cleared');
  });
});

void describe('session lifetime over HTTP', () => {
  void it('ends at expiry', async () => {
    const h = await start();
    const client = browser(h.url);
    await client.json('/api/sign-in', { username: ALICE, password: PASSWORD });
    h.verdict.next = 'allowed';
    h.clock.now = new Date(h.clock.now.getTime() + 8 * HOUR - 1000);
    assert.equal((await client.get('/api/session')).status, 200);
    h.clock.now = new Date(h.clock.now.getTime() + 1000);
    assert.equal((await client.get('/api/session')).status, 401);
  });

  void it('ends when revoked by an administrator', async () => {
    const h = await start();
    const client = browser(h.url);
    await client.json('/api/sign-in', { username: ALICE, password: PASSWORD });
    assert.equal(await h.sessions.revokeUser(ALICE_GUID, 'admin@corp.example.test'), 1);
    assert.equal((await client.get('/api/session')).status, 401);
    const [event] = await h.audit.list({ limit: 1, action: 'session.revoked' });
    assert.equal(event?.actor, 'admin@corp.example.test');
    assert.deepEqual(event?.details, { reason: 'revoked', sessions: 1 });
  });

  for (const verdict of ['gone', 'disabled'] as const) {
    void it(`ends at the re-check when the directory says the user is ${verdict}`, async () => {
      const h = await start();
      const client = browser(h.url);
      await client.json('/api/sign-in', { username: ALICE, password: PASSWORD });
      h.verdict.next = verdict;
      h.clock.now = new Date(h.clock.now.getTime() + 4 * MINUTE);
      assert.equal((await client.get('/api/session')).status, 200, 'within the re-check interval the directory is not asked');
      assert.equal(h.verdict.calls, 0);
      h.clock.now = new Date(h.clock.now.getTime() + 2 * MINUTE);
      assert.equal((await client.get('/api/session')).status, 401);
      assert.equal(h.verdict.calls, 1);
      const [event] = await h.audit.list({ limit: 1, action: 'session.revoked' });
      assert.equal(event?.actor, 'system');
      assert.equal(event?.target, ALICE_GUID);
      assert.equal(event?.details.reason, verdict === 'gone' ? 'user_gone' : 'user_disabled');
    });
  }

  void it("keeps the session when the directory cannot answer, and asks again at the next request", async () => {
    const h = await start();
    const client = browser(h.url);
    await client.json('/api/sign-in', { username: ALICE, password: PASSWORD });
    const signedInAt = h.clock.now;
    h.verdict.next = 'unknown';
    h.clock.now = new Date(h.clock.now.getTime() + 10 * MINUTE);
    assert.equal((await client.get('/api/session')).status, 200);
    assert.equal((await client.get('/')).status, 200);
    assert.equal(h.verdict.calls, 2, 'checkedAt was not moved, so the next request asked again');
    const [session] = await h.store.listForUser(ALICE_GUID, h.clock.now);
    assert.deepEqual(session?.checkedAt, signedInAt);

    h.verdict.next = new Error('LDAP connection reset');
    assert.equal((await client.get('/api/session')).status, 200, 'a failing check counts as unknown');

    h.verdict.next = 'allowed';
    assert.equal((await client.get('/api/session')).status, 200);
    const [checked] = await h.store.listForUser(ALICE_GUID, h.clock.now);
    assert.deepEqual(checked?.checkedAt, h.clock.now);
    assert.equal((await client.get('/api/session')).status, 200);
    assert.equal(h.verdict.calls, 4, 'confirmed: not asked again within the interval');
  });
});

void describe('sign-out', () => {
  void it('signs out with the form and its session-bound CSRF token', async () => {
    const h = await start();
    const client = browser(h.url);
    await signInWithForm(client, { username: ALICE, password: PASSWORD });
    const home = await (await client.get('/')).text();
    const token = client.jar.cookies.get(SESSION_COOKIE);

    const forged = await client.form('/sign-out', { csrf: 'forged' });
    assert.equal(forged.status, 403);
    assert.equal((await client.get('/api/session')).status, 200, 'still signed in');

    const response = await client.form('/sign-out', { csrf: hiddenField(home, 'csrf') });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/sign-in');
    assert.equal(client.jar.cookies.has(SESSION_COOKIE), false);
    // The token itself is dead, not just the cookie.
    const replay = browser(h.url);
    replay.jar.cookies.set(SESSION_COOKIE, token ?? '');
    assert.equal((await replay.get('/api/session')).status, 401);
    const [event] = await h.audit.list({ limit: 1, action: 'session.signed_out' });
    assert.equal(event?.actor, ALICE_GUID);
  });

  void it('signs out through the API (JSON only), idempotently', async () => {
    const h = await start();
    const client = browser(h.url);
    await client.json('/api/sign-in', { username: ALICE, password: PASSWORD });
    assert.equal((await client.post('/api/sign-out', '', 'text/plain')).status, 415);
    assert.equal((await client.get('/api/session')).status, 200);
    assert.equal((await client.post('/api/sign-out', '', 'application/json')).status, 204);
    assert.equal((await client.get('/api/session')).status, 401);
    assert.equal((await client.json('/api/sign-out', {})).status, 204);
  });
});

void describe('secrets stay out of logs', () => {
  void it('never logs the password, whatever the outcome', async () => {
    const h = await start();
    await signInWithForm(browser(h.url), { username: ALICE, password: PASSWORD });
    await signInWithForm(browser(h.url), { username: ALICE, password: 'Wrong-Log-Secret-1' });
    await browser(h.url).json('/api/sign-in', { username: ALICE, password: 'Wrong-Log-Secret-2' });
    await browser(h.url).post('/api/sign-in', '{"password":"Wrong-Log-Secret-3",', 'application/json');
    await browser(h.url).form('/sign-in', { username: ALICE, password: 'Wrong-Log-Secret-4' });
    assert.ok(h.logs.length > 0, 'the logger was on (trace)');
    const logs = h.logs.join('\n');
    assert.ok(!logs.includes(PASSWORD));
    assert.doesNotMatch(logs, /Wrong-Log-Secret/);
  });
});
