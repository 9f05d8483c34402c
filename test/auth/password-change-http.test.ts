/**
 * The password page and API over real HTTP, with a stub PasswordChangeService (the real one is
 * integration-tested on the managed directory): CSRF, the confirmation check, status codes,
 * Retry-After, the sign-in page's link, and the connected-AD page that never changes anything.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { PasswordChangeRequest, PasswordChangeResult, PasswordChangeService } from '#src/auth/password-change.ts';
import { browser, hiddenField, signInWithForm, startHarness, type Browser, type Harness } from './harness.ts';

const OLD = 'Old-Password-2026!';
const NEW = 'New-Password-2026!';
const ALICE = 'alice@corp.example.test';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

function stubService(): PasswordChangeService & { calls: PasswordChangeRequest[] } {
  const calls: PasswordChangeRequest[] = [];
  return {
    calls,
    change(request): Promise<PasswordChangeResult> {
      calls.push(request);
      if (request.username === 'busy@corp.example.test') {
        return Promise.resolve({ ok: false, code: 'auth.throttled', message: 'Too many failed attempts. Try again in 5 minutes.', retryAfterSeconds: 300 });
      }
      if (request.oldPassword !== OLD) return Promise.resolve({ ok: false, code: 'auth.invalid_credentials', message: 'The user name or current password is incorrect.', retryAfterSeconds: null });
      if (request.newPassword.length < 7) {
        return Promise.resolve({ ok: false, code: 'auth.password_rejected', message: 'The new password does not meet the password policy: the password is shorter than 7 characters.', retryAfterSeconds: null });
      }
      return Promise.resolve({ ok: true });
    },
  };
}

async function start(passwordChange?: PasswordChangeService): Promise<Harness> {
  harness = await startHarness(passwordChange ? { passwordChange } : {});
  return harness;
}

/** Opens the page and posts the form as a browser would. */
async function changeWithForm(client: Browser, fields: { username: string; currentPassword: string; newPassword: string; confirmPassword?: string }): Promise<Response> {
  const page = await client.get('/change-password');
  const csrf = hiddenField(await page.text(), 'csrf');
  return client.form('/change-password', { csrf, confirmPassword: fields.newPassword, ...fields });
}

void describe('password page (managed directory)', () => {
  void it('is an accessible form with a CSRF field, a policy hint and strict headers', async () => {
    const h = await start(stubService());
    const client = browser(h.url);
    const response = await client.get(`/change-password?username=${encodeURIComponent('a"<b>@corp')}`);
    assert.equal(response.status, 200);
    const html = await response.text();
    for (const id of ['username', 'current-password', 'new-password', 'confirm-password']) assert.match(html, new RegExp(`<label for="${id}">`));
    assert.match(html, /name="username"[^>]*autocomplete="username"/);
    assert.match(html, /name="currentPassword"[^>]*autocomplete="current-password"/);
    assert.match(html, /name="newPassword"[^>]*autocomplete="new-password"/);
    assert.match(html, /name="confirmPassword"[^>]*autocomplete="new-password"/);
    assert.match(html, /role="alert"/);
    assert.match(html, /id="new-password-hint" class="hint">At least 7 characters/);
    assert.match(html, /value="a&#34;&#60;b&#62;@corp"/, 'the user name from the link is kept, escaped');
    assert.doesNotMatch(html, /<script/i);
    assert.ok(hiddenField(html, 'csrf').length > 20);
    assert.ok(client.jar.cookies.has('portico_csrf'));
    assert.match(response.headers.get('content-security-policy') ?? '', /form-action 'self'/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
  });

  void it('changes the password and says to sign in with the new one', async () => {
    const service = stubService();
    const h = await start(service);
    const response = await changeWithForm(browser(h.url), { username: ` ${ALICE} `, currentPassword: OLD, newPassword: NEW });
    assert.equal(response.status, 200);
    const html = await response.text();
    assert.match(html, /Your password was changed\. Sign in with your new password\./);
    assert.match(html, /<a href="\/sign-in">/);
    assert.deepEqual(service.calls, [{ username: ALICE, oldPassword: OLD, newPassword: NEW, clientAddress: '127.0.0.1' }]);
  });

  void it('refuses a form without a valid CSRF token, before the directory', async () => {
    const service = stubService();
    const h = await start(service);
    const client = browser(h.url);
    const noCookie = await client.form('/change-password', { csrf: 'x', username: ALICE, currentPassword: OLD, newPassword: NEW, confirmPassword: NEW });
    assert.equal(noCookie.status, 403);
    assert.match(await noCookie.text(), /did not send the form cookie/);
    await client.get('/change-password');
    const forged = await client.form('/change-password', { csrf: 'forged', username: ALICE, currentPassword: OLD, newPassword: NEW, confirmPassword: NEW });
    assert.equal(forged.status, 403);
    const html = await forged.text();
    assert.match(html, /expired or did not come from this site/);
    assert.ok(hiddenField(html, 'csrf').length > 20, 'a new form to try again');
    assert.equal(service.calls.length, 0);
  });

  void it('refuses a confirmation that differs and missing fields with 400, sending nothing to the directory', async () => {
    const service = stubService();
    const h = await start(service);
    const client = browser(h.url);
    const differs = await changeWithForm(client, { username: ALICE, currentPassword: OLD, newPassword: NEW, confirmPassword: `${NEW}x` });
    assert.equal(differs.status, 400);
    const html = await differs.text();
    assert.match(html, /The new password and its confirmation differ/);
    assert.match(html, new RegExp(`value="${ALICE}"`), 'the user name is kept');
    assert.ok(!html.includes(OLD) && !html.includes(NEW), 'no password is rendered back');
    const missing = await changeWithForm(client, { username: ALICE, currentPassword: '', newPassword: NEW });
    assert.equal(missing.status, 400);
    assert.match(await missing.text(), /Enter your user name, your current password and a new password/);
    assert.equal(service.calls.length, 0);
  });

  void it("shows the directory's refusals with their status; 429 with Retry-After when throttled", async () => {
    const h = await start(stubService());
    const client = browser(h.url);
    const wrong = await changeWithForm(client, { username: ALICE, currentPassword: 'wrong', newPassword: NEW });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /The user name or current password is incorrect/);
    const simple = await changeWithForm(client, { username: ALICE, currentPassword: OLD, newPassword: 'abc' });
    assert.equal(simple.status, 400);
    assert.match(await simple.text(), /does not meet the password policy: the password is shorter than 7 characters/);
    const throttled = await changeWithForm(client, { username: 'busy@corp.example.test', currentPassword: OLD, newPassword: NEW });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '300');
    assert.match(await throttled.text(), /Too many failed attempts/);
  });

  void it('the JSON API: 204, 4xx with {error:{code,message}}, 415 for anything but JSON', async () => {
    const service = stubService();
    const h = await start(service);
    const client = browser(h.url);
    const ok = await client.json('/api/change-password', { username: ALICE, currentPassword: OLD, newPassword: NEW });
    assert.equal(ok.status, 204);
    assert.equal(await ok.text(), '');

    const wrong = await client.json('/api/change-password', { username: ALICE, currentPassword: 'wrong', newPassword: NEW });
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { error: { code: 'auth.invalid_credentials', message: 'The user name or current password is incorrect.' } });

    const rejected = await client.json('/api/change-password', { username: ALICE, currentPassword: OLD, newPassword: 'abc' });
    assert.equal(rejected.status, 400);
    assert.equal(((await rejected.json()) as { error: { code: string } }).error.code, 'auth.password_rejected');

    const throttled = await client.json('/api/change-password', { username: 'busy@corp.example.test', currentPassword: OLD, newPassword: NEW });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '300');
    assert.equal(((await throttled.json()) as { error: { retryAfterSeconds: number } }).error.retryAfterSeconds, 300);

    const calls = service.calls.length;
    const incomplete = await client.json('/api/change-password', { username: ALICE, password: OLD });
    assert.equal(incomplete.status, 400);
    const body = (await incomplete.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'auth.invalid_request');
    assert.match(body.error.message, /currentPassword: required/);
    const form = await client.post('/api/change-password', `username=${ALICE}&currentPassword=${OLD}&newPassword=${NEW}`, 'application/x-www-form-urlencoded');
    assert.equal(form.status, 415);
    assert.equal(service.calls.length, calls, 'nothing reached the directory');
  });

  void it('the sign-in page links to it when the password must change, and only then', async () => {
    const h = await start(stubService());
    const client = browser(h.url);
    const mustChange = await signInWithForm(client, { username: 'mustchange@corp.example.test', password: 'Correct-Horse-Battery-9f3e' });
    assert.equal(mustChange.status, 401);
    assert.match(await mustChange.text(), /<a href="\/change-password\?username=mustchange%40corp\.example\.test">Change your password<\/a>/);
    const wrong = await signInWithForm(client, { username: ALICE, password: 'wrong' });
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(await wrong.text(), /change-password/);
  });
});

void describe('password page (connected Active Directory)', () => {
  void it('says to change the password in Active Directory and offers no form', async () => {
    const h = await start();
    const client = browser(h.url);
    const page = await client.get('/change-password');
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Change it there, for example with Ctrl\+Alt\+Delete/);
    assert.match(html, /Active Directory/);
    assert.doesNotMatch(html, /<form|<input/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  });

  void it('has nothing that could change a password, and the sign-in page does not link to it', async () => {
    const h = await start();
    const client = browser(h.url);
    assert.equal((await client.form('/change-password', { username: ALICE, currentPassword: OLD, newPassword: NEW, confirmPassword: NEW })).status, 404);
    assert.equal((await client.json('/api/change-password', { username: ALICE, currentPassword: OLD, newPassword: NEW })).status, 404);
    const mustChange = await signInWithForm(client, { username: 'mustchange@corp.example.test', password: 'Correct-Horse-Battery-9f3e' });
    assert.equal(mustChange.status, 401);
    assert.doesNotMatch(await mustChange.text(), /href="\/change-password/);
  });
});
