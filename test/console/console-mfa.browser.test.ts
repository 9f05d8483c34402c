/**
 * The console's MFA pages in headless Chromium, on a Portico started for real on its embedded
 * managed directory (in process, SQLite):
 *
 * - "MFA devices": bob registers two authenticator apps himself (codes from oathtool); carol
 *   (Portico-Admins), with the keyboard alone, finds him, removes one device after a confirmation,
 *   then resets the rest (the lost phone); the admin API agrees and both changes are audited.
 * - "MFA policy": a bad number of days is refused with the field marked; the mode, the rule for
 *   people without a device, the factor types, the days and an application's requirement are
 *   saved and read back through the API.
 * No script error or CSP violation on the way.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { PorticoApp } from '#src/app.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { inPage, launchBrowser, openPage, saveScreenshot } from '../support/browser.ts';
import { startPorticoForCli } from '../support/cli.ts';
import { adminApi } from '../support/saml-http.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-console-mfa-'));

const oathtool = (secret: string): string => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();

const focused = (page: Page) => inPage<string>(page, "(document.activeElement?.textContent || document.activeElement?.getAttribute('name') || document.activeElement?.tagName || '').trim()");

/** Presses Tab until the focused element's text (or name) matches; fails after 40 presses. */
async function tabTo(page: Page, match: RegExp): Promise<void> {
  const path: string[] = [];
  for (let presses = 0; presses < 40; presses++) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    path.push(now);
    if (match.test(now)) return;
  }
  assert.fail(`Tab never reached ${match}; focus went ${path.join(' → ')}`);
}

interface Devices {
  userName: string;
  devices: Array<{ id: string; name: string; type: string }>;
  recoveryCodes: number;
}

void describe('the console pages "MFA policy" and "MFA devices" in Chromium', () => {
  let app: PorticoApp;
  let token = '';
  let browser: Browser;

  before(async () => {
    ({ app, token } = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir }));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function signIn(page: Page, username: string, returnTo: string): Promise<void> {
    await page.goto(`${app.url}/sign-in?returnTo=${encodeURIComponent(returnTo)}`);
    await page.getByLabel('User name').fill(username);
    await page.getByLabel('Password').fill(demoPassword);
    await Promise.all([page.waitForURL((u) => u.pathname !== '/sign-in'), page.getByRole('button', { name: 'Sign in' }).click()]);
  }

  /** bob registers an authenticator app on /mfa/enrol (open to him: no device yet, or a fresh second factor). */
  async function enrol(page: Page, name: string): Promise<void> {
    await page.goto(`${app.url}/mfa/enrol?returnTo=%2Fportal`);
    const secret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '');
    await page.getByLabel('Device name').fill(name);
    await page.getByLabel('Code from the app').fill(oathtool(secret));
    await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/mfa/enrol'), page.getByRole('button', { name: 'Register', exact: true }).click()]);
    await page.waitForLoadState('load');
  }

  async function consoleAs(username: string) {
    const opened = await openPage(browser, { width: 1280, height: 900 });
    await signIn(opened.page, username, '/console');
    await opened.page.waitForURL(`${app.url}/console`);
    await opened.page.locator('#actor').waitFor();
    return opened;
  }

  void it('lists bob’s devices, removes one and resets the rest, with the keyboard', async () => {
    const bob = await openPage(browser, { width: 1280, height: 900 });
    await signIn(bob.page, 'bob@portico.test', '/portal');
    await enrol(bob.page, 'Work phone');
    await bob.page.locator('#recovery-codes').waitFor();
    await enrol(bob.page, 'Tablet');
    await bob.context.close();
    const before = await adminApi<Devices>(app.url, token, 'GET', '/users/bob@portico.test/mfa-devices');
    assert.deepEqual(before.devices.map((d) => d.name).sort(), ['Tablet', 'Work phone']);
    assert.equal(before.recoveryCodes, 10);

    const { page, problems } = await consoleAs('carol@portico.test');
    // Keyboard only from here: the menu link, the search field, the buttons, the dialog.
    await tabTo(page, /^MFA devices$/);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'MFA devices', exact: true }).waitFor();
    await tabTo(page, /^user$/);
    await page.keyboard.type('bob@portico.test');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'MFA devices of bob@portico.test' }).waitFor();
    const table = page.getByRole('table', { name: 'Devices of bob@portico.test (2)' });
    await table.waitFor();
    const tabletRow = table.getByRole('row').filter({ hasText: 'Tablet' });
    assert.match(await tabletRow.innerText(), /Authenticator app/);
    assert.match(await page.locator('#page').innerText(), /10 unused recovery codes/);
    await saveScreenshot(page, 'console-mfa-devices');

    // Remove "Tablet": cancel with Escape first (nothing changes), then confirm.
    await tabTo(page, /^Remove Tablet$/);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Remove MFA device?' });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /Remove “Tablet” \(Authenticator app\) from bob@portico\.test/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await adminApi<Devices>(app.url, token, 'GET', '/users/bob@portico.test/mfa-devices')).devices.length, 2);
    await tabletRow.getByRole('button', { name: /Remove Tablet/ }).focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await tabTo(page, /^Remove device$/);
    await page.keyboard.press('Enter');
    await page.locator('#flash').filter({ hasText: 'Removed the MFA device “Tablet” of bob@portico.test.' }).waitFor();
    await page.getByRole('table', { name: 'Devices of bob@portico.test (1)' }).waitFor();
    assert.deepEqual((await adminApi<Devices>(app.url, token, 'GET', '/users/bob@portico.test/mfa-devices')).devices.map((d) => d.name), ['Work phone']);

    // The lost phone: reset everything.
    await page.getByRole('heading', { level: 1 }).focus();
    await tabTo(page, /^Reset all MFA devices$/);
    await page.keyboard.press('Enter');
    const reset = page.getByRole('dialog', { name: 'Reset MFA?' });
    await reset.waitFor();
    await tabTo(page, /^Reset MFA$/);
    await page.keyboard.press('Enter');
    await page.locator('#flash').filter({ hasText: 'Reset the MFA of bob@portico.test: 1 device and the recovery codes removed.' }).waitFor();
    await page.getByRole('table', { name: 'Devices of bob@portico.test (0)' }).waitFor();
    const afterReset = await adminApi<Devices>(app.url, token, 'GET', '/users/bob@portico.test/mfa-devices');
    assert.deepEqual(afterReset.devices, []);
    assert.equal(afterReset.recoveryCodes, 0);

    // An unknown person: the API's message, not a crash.
    await page.goto(`${app.url}/console#/mfa-devices/nobody-here@portico.test`);
    assert.match(await page.getByRole('alert').filter({ hasText: /./ }).first().innerText(), /nobody-here@portico\.test|not found|no provisioned/i);

    type Audit = { events: Array<{ actor: string; outcome: string; details: Record<string, unknown> }> };
    const removed = await adminApi<Audit>(app.url, token, 'GET', '/audit?action=mfa.device.removed');
    assert.equal(removed.events.length, 1);
    assert.match(removed.events[0]?.actor ?? '', /carol/i);
    assert.equal(removed.events[0]?.outcome, 'success');
    const resets = await adminApi<Audit>(app.url, token, 'GET', '/audit?action=mfa.devices.reset');
    assert.equal(resets.events.length, 1);
    assert.equal(resets.events[0]?.details.devices, 1);
    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
  });

  void it('edits the policy: refuses a bad number of days, saves every field', async () => {
    const app1 = await adminApi<{ id: string }>(app.url, token, 'POST', '/applications', { name: 'Wiki MFA test', acsUrls: ['https://wiki.example.test/saml/acs'], entityId: 'https://wiki.example.test/saml' })
    const { page, problems } = await consoleAs('carol@portico.test');
    await page.goto(`${app.url}/console#/mfa`);
    await page.getByRole('heading', { level: 1, name: 'MFA policy', exact: true }).waitFor();
    const form = page.getByRole('form', { name: 'Policy' });
    await form.waitFor();
    assert.equal(await form.getByLabel('When to ask for a second factor').inputValue(), 'never');
    assert.equal(await form.getByLabel('Passkeys and security keys (WebAuthn)').isChecked(), true);

    await form.getByLabel('When to ask for a second factor').selectOption('context-aware');
    await form.getByLabel('People without a device').selectOption('block');
    await form.getByLabel('Authenticator apps (TOTP codes)').uncheck();
    const days = form.getByLabel('Remember a browser for (days)');
    await days.fill('400');
    await days.press('Enter');
    await form.getByRole('alert').filter({ hasText: 'rememberDeviceDays: a whole number of days, 1 to 365' }).waitFor();
    assert.equal(await days.getAttribute('aria-invalid'), 'true');
    assert.equal((await adminApi<{ mode: string }>(app.url, token, 'GET', '/mfa/policy')).mode, 'never', 'nothing saved');

    await days.fill('14');
    await form.getByLabel('Wiki MFA test').selectOption('phishing-resistant');
    await days.focus();
    await tabTo(page, /^Save policy$/);
    await page.keyboard.press('Enter');
    await page.locator('#flash').filter({ hasText: 'MFA policy saved: mode context-aware, 1 factor type allowed.' }).waitFor();
    const saved = await adminApi<{ mode: string; withoutDevice: string; factors: string[]; rememberDeviceDays: number; applications: Record<string, string> }>(app.url, token, 'GET', '/mfa/policy');
    assert.deepEqual(
      { mode: saved.mode, withoutDevice: saved.withoutDevice, factors: saved.factors, rememberDeviceDays: saved.rememberDeviceDays },
      { mode: 'context-aware', withoutDevice: 'block', factors: ['webauthn'], rememberDeviceDays: 14 },
    );
    assert.deepEqual(saved.applications, { [app1.id]: 'phishing-resistant' });
    // The page shows what was saved.
    await page.getByRole('form', { name: 'Policy' }).waitFor();
    assert.equal(await page.getByLabel('When to ask for a second factor').inputValue(), 'context-aware');
    assert.equal(await page.getByLabel('Remember a browser for (days)').inputValue(), '14');
    await saveScreenshot(page, 'console-mfa-policy');

    const audit = await adminApi<{ events: Array<{ actor: string; outcome: string }> }>(app.url, token, 'GET', '/audit?action=mfa.policy.updated');
    assert.equal(audit.events.length, 1);
    assert.match(audit.events[0]?.actor ?? '', /carol/i);
    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
  });
});
