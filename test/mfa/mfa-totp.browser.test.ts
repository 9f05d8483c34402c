/**
 * TOTP MFA in headless Chromium against Portico started for real (managed directory with the demo
 * forest, SQLite). Codes come from an independent implementation: OATH Toolkit's `oathtool`.
 *
 * - mode `always`, register-at-sign-in: alice enrols at her first sign-in with the keyboard alone
 *   on a 375 px screen, saves her recovery codes, reaches the portal; her next sign-in asks for a
 *   code; a replayed code (and an older one) is refused; a recovery code works once.
 * - wrong codes are throttled per account, and the password sign-in is not affected.
 * - mode `context-aware`: the browser that did MFA is remembered; a new browser is asked.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startApp, type PorticoApp } from '#src/app.ts';
import { configSchema } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { inPage, launchBrowser, type OpenedPage, openPage, saveScreenshot } from '../support/browser.ts';

const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1280, height: 800 };

/** The code for now (+offset seconds), computed by oathtool, not by Portico's library. */
function oathtool(secret: string, offsetSeconds = 0): string {
  const args = ['--totp', '-b', secret];
  if (offsetSeconds !== 0) args.push('-N', `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds} seconds`);
  return execFileSync('oathtool', args, { encoding: 'utf8' }).trim();
}

const focusedId = (page: Page) => inPage<string>(page, "document.activeElement?.id || document.activeElement?.tagName || ''");

async function tabTo(page: Page, id: string): Promise<void> {
  const path = [await focusedId(page)];
  for (let presses = 0; path.at(-1) !== id; presses++) {
    assert.ok(presses < 12, `Tab never reached #${id}; focus went ${path.join(' → ')}`);
    await page.keyboard.press('Tab');
    path.push(await focusedId(page));
  }
}

describe('TOTP MFA in Chromium (managed directory, demo forest, oathtool codes)', () => {
  let dataDir: string | undefined;
  let app: PorticoApp | undefined;
  let browser: Browser | undefined;
  let adminToken = '';
  const contexts: BrowserContext[] = [];
  const url = (path: string) => `${app?.url ?? ''}${path}`;

  async function newPage(viewport = DESKTOP): Promise<OpenedPage> {
    assert.ok(browser);
    const opened = await openPage(browser, viewport);
    contexts.push(opened.context);
    return opened;
  }

  async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const response = await fetch(url(`/admin/api${path}`), {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
  }

  async function signIn(page: Page, username: string, returnTo = '/portal'): Promise<void> {
    await page.goto(url(`/sign-in?returnTo=${encodeURIComponent(returnTo)}`));
    await page.getByLabel('User name').fill(username);
    await page.getByLabel('Password').fill(demoPassword);
    await Promise.all([page.waitForLoadState('load'), page.waitForURL((u) => u.pathname !== '/sign-in'), page.getByRole('button', { name: 'Sign in' }).click()]);
  }

  async function enterCode(page: Page, label: string, code: string, button: string): Promise<void> {
    await page.getByLabel(label).fill(code);
    await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: button, exact: true }).click()]);
    await page.waitForLoadState('load');
  }

  /** Enrols an authenticator app at the sign-in's enrolment page; returns the secret and the recovery codes. */
  async function enrol(page: Page): Promise<{ secret: string; recoveryCodes: string[] }> {
    assert.equal(new URL(page.url()).pathname, '/mfa/enrol');
    const secret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await enterCode(page, 'Code from the app', oathtool(secret), 'Register');
    await page.locator('#recovery-codes').waitFor();
    const recoveryCodes = (await page.locator('#recovery-codes li').allInnerTexts()).map((c) => c.trim());
    return { secret, recoveryCodes };
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portico-mfa-totp-'));
    const config = configSchema.parse({ dataDir, http: { port: 0 }, log: { level: 'silent' }, managedDirectory: { listen: { ldapPort: 0, ldapsPort: 0 } } });
    const started = await Promise.allSettled([
      startApp(config, { showBootstrapToken: (token) => (adminToken = token) }).then((started) => (app = started)),
      launchBrowser().then((launched) => (browser = launched)),
    ]);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    const policy = await admin('PUT', '/mfa/policy', { mode: 'always', withoutDevice: 'register-at-sign-in' });
    assert.equal(policy.status, 200, JSON.stringify(policy.json));
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await app?.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  let aliceSecret = '';
  let aliceRecovery: string[] = [];
  let usedCode = '';

  it('alice enrols at her first sign-in with the keyboard alone on a 375 px screen', async () => {
    const { page, problems } = await newPage(PHONE);
    await page.goto(url('/sign-in'));
    await tabTo(page, 'username');
    await page.keyboard.type('alice@portico.test');
    await tabTo(page, 'password');
    await page.keyboard.type(demoPassword);
    await Promise.all([page.waitForURL((u) => u.pathname === '/mfa/enrol'), page.keyboard.press('Enter')]);
    assert.equal(await page.title(), 'Set up an authenticator app · Portico');
    // The half-made session opens nothing else.
    assert.equal((await page.request.get(url('/api/session'))).status(), 401);
    assert.ok(await page.locator('.qr svg').isVisible(), 'the QR code is shown');
    aliceSecret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '');
    assert.equal(await focusedId(page), 'totp-code', 'the code field has the focus');
    const { scrollWidth, innerWidth } = await inPage<{ scrollWidth: number; innerWidth: number }>(page, '({ scrollWidth: document.documentElement.scrollWidth, innerWidth })');
    assert.ok(scrollWidth <= innerWidth, `the enrolment page scrolls sideways at 375 px: ${scrollWidth} > ${innerWidth}`);
    await saveScreenshot(page, 'mfa-enrol-phone');
    await page.keyboard.type(oathtool(aliceSecret));
    await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/mfa/enrol'), page.keyboard.press('Enter')]);
    await page.locator('#recovery-codes').waitFor();
    aliceRecovery = (await page.locator('#recovery-codes li').allInnerTexts()).map((c) => c.trim());
    assert.equal(aliceRecovery.length, 10);
    await tabTo(page, 'continue');
    await Promise.all([page.waitForURL(url('/portal')), page.keyboard.press('Enter')]);
    const session = await page.request.get(url('/api/session'));
    assert.equal(session.status(), 200);
    assert.deepEqual(problems, []);
    // The secret is not shown again: the device list has no secret in it.
    const devices = await admin('GET', '/users/alice@portico.test/mfa-devices');
    assert.equal(devices.status, 200);
    assert.equal((devices.json as { devices: unknown[] }).devices.length, 1);
    assert.ok(!JSON.stringify(devices.json).includes(aliceSecret));
  });

  it('asks alice for a code at her next sign-in, accepts the next one, and refuses it replayed', async () => {
    const first = await newPage();
    await signIn(first.page, 'alice@portico.test');
    assert.equal(new URL(first.page.url()).pathname, '/mfa');
    // The next step's code: the enrolment used the current one, which cannot be used twice.
    usedCode = oathtool(aliceSecret, 30);
    await enterCode(first.page, 'Code from your authenticator app', usedCode, 'Verify');
    assert.equal(new URL(first.page.url()).pathname, '/portal');
    assert.equal((await first.page.request.get(url('/api/session'))).status(), 200);

    const second = await newPage();
    await signIn(second.page, 'alice@portico.test');
    await enterCode(second.page, 'Code from your authenticator app', usedCode, 'Verify');
    assert.equal(new URL(second.page.url()).pathname, '/mfa');
    assert.equal((await second.page.getByRole('alert').innerText()).trim(), 'That code is not valid. Check the time on your device and enter the current code.');
    // An older code than one already used is refused too.
    await enterCode(second.page, 'Code from your authenticator app', oathtool(aliceSecret), 'Verify');
    assert.equal(new URL(second.page.url()).pathname, '/mfa');
    assert.equal((await second.page.request.get(url('/api/session'))).status(), 401);
    assert.deepEqual([...first.problems, ...second.problems], []);
  });

  it('lets a recovery code sign alice in once', async () => {
    const code = aliceRecovery[0] ?? '';
    const first = await newPage();
    await signIn(first.page, 'alice@portico.test');
    await first.page.getByText('Use a recovery code instead').click();
    await enterCode(first.page, 'Recovery code', code.toUpperCase(), 'Use recovery code');
    assert.equal(new URL(first.page.url()).pathname, '/portal');

    const second = await newPage();
    await signIn(second.page, 'alice@portico.test');
    await second.page.getByText('Use a recovery code instead').click();
    await enterCode(second.page, 'Recovery code', code, 'Use recovery code');
    assert.equal(new URL(second.page.url()).pathname, '/mfa');
    assert.match(await second.page.getByRole('alert').innerText(), /not valid/);
    const devices = await admin('GET', '/users/alice@portico.test/mfa-devices');
    assert.equal((devices.json as { recoveryCodes: number }).recoveryCodes, 9);

    // Self-service with the fresh second factor: new recovery codes, then the device removed.
    await first.page.getByRole('link', { name: 'MFA devices' }).click();
    await first.page.waitForURL((u) => u.pathname === '/mfa/devices');
    assert.match(await first.page.locator('#devices').innerText(), /Authenticator app \(authenticator app\)/);
    await Promise.all([first.page.waitForLoadState('load'), first.page.getByRole('button', { name: 'New recovery codes' }).click()]);
    const fresh = (await first.page.locator('#recovery-codes li').allInnerTexts()).map((c) => c.trim());
    assert.equal(fresh.length, 10);
    assert.ok(!fresh.includes(aliceRecovery[1] ?? ''), 'new codes');
    aliceRecovery = fresh;
    await Promise.all([first.page.waitForLoadState('load'), first.page.getByRole('button', { name: 'Remove Authenticator app' }).click()]);
    assert.equal((await first.page.getByRole('status').innerText()).trim(), 'The device was removed.');
    assert.equal(((await admin('GET', '/users/alice@portico.test/mfa-devices')).json as { devices: unknown[] }).devices.length, 0);
  });

  it('throttles wrong codes per account without touching the password sign-in', async () => {
    const { page } = await newPage();
    await signIn(page, 'carol@portico.test');
    const { secret } = await enrol(page);
    const again = await newPage();
    await signIn(again.page, 'carol@portico.test');
    const wrong = oathtool(secret, 300) === '000000' ? '111111' : '000000';
    for (let attempt = 0; attempt < 5; attempt++) {
      await enterCode(again.page, 'Code from your authenticator app', wrong, 'Verify');
      assert.match(await again.page.getByRole('alert').innerText(), /not valid/);
    }
    // The sixth attempt waits, even with the right code.
    const [response] = await Promise.all([
      again.page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/mfa'),
      (async () => {
        await again.page.getByLabel('Code from your authenticator app').fill(oathtool(secret, 30));
        await again.page.getByRole('button', { name: 'Verify' }).click();
      })(),
    ]);
    assert.equal(response.status(), 429);
    assert.match(await again.page.getByRole('alert').innerText(), /Too many wrong codes/);
    // The password still works: the MFA throttle is its own counter and never reaches the directory.
    const third = await newPage();
    await signIn(third.page, 'carol@portico.test');
    assert.equal(new URL(third.page.url()).pathname, '/mfa');
  });

  it('in context-aware mode, remembers the browser that did MFA and asks a new one', async () => {
    const policy = await admin('PUT', '/mfa/policy', { mode: 'context-aware' });
    assert.equal((policy.json as { mode: string }).mode, 'context-aware');
    const { page, context } = await newPage();
    await signIn(page, 'bob@portico.test');
    await enrol(page);
    assert.ok((await context.cookies()).some((c) => c.name === 'portico_mfa_remember' && c.httpOnly), 'the remembered-device cookie is set, HttpOnly');
    // Signed out, then in again in the same browser: no second step.
    await context.clearCookies({ name: 'portico_session' });
    await signIn(page, 'bob@portico.test');
    assert.equal(new URL(page.url()).pathname, '/portal');

    const other = await newPage();
    await signIn(other.page, 'bob@portico.test');
    assert.equal(new URL(other.page.url()).pathname, '/mfa');
  });
});
