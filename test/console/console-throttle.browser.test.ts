/**
 * The console's "Throttled sign-ins" page in headless Chromium, on a Portico started for real on
 * its embedded managed directory (in process, per-user limit 2): bob is throttled after two wrong
 * passwords; carol (Portico-Admins) sees him there with his wait and clears him with the button;
 * the clearing is audited and bob can sign in again; no script error or CSP violation on the way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { PorticoApp } from '#src/app.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { launchBrowser, openPage, saveScreenshot } from '../support/browser.ts';
import { startPorticoForCli } from '../support/cli.ts';
import { adminApi } from '../support/saml-http.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-console-throttle-'));

async function signIn(url: string, username: string, password: string): Promise<string | null> {
  const response = await fetch(`${url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return response.ok ? null : ((await response.json()) as { error: { code: string } }).error.code;
}

void describe('the console page "Throttled sign-ins" in Chromium', () => {
  let app: PorticoApp;
  let token = '';
  let browser: Browser;
  let page: Page;
  let problems: string[];

  before(async () => {
    ({ app, token } = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir, PORTICO_SIGNIN__THROTTLE__PERUSERNAME__MAXFAILURES: '2' }));
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser, { width: 1280, height: 900 }));
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  void it('lists the throttled user and clears him with the button, after a confirmation', async () => {
    const url = app.url;
    assert.equal(await signIn(url, 'bob@portico.test', 'wrong-1'), 'auth.invalid_credentials');
    assert.equal(await signIn(url, 'bob@portico.test', 'wrong-2'), 'auth.invalid_credentials');
    assert.equal(await signIn(url, 'bob@portico.test', demoPassword), 'auth.throttled');

    await page.goto(`${url}/console`);
    await page.waitForURL(/\/sign-in\?returnTo=%2Fconsole$/);
    await page.getByLabel('User name').fill('carol@portico.test');
    await page.getByLabel('Password').fill(demoPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${url}/console`);

    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Throttled sign-ins', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Throttled sign-ins', exact: true }).waitFor();
    const table = page.getByRole('table', { name: /Recent failed sign-ins \(\d+; 1 throttled\)/ });
    await table.waitFor();
    const bobRow = table.getByRole('row').filter({ hasText: 'bob@portico.test' });
    assert.equal(await bobRow.count(), 1);
    assert.match(await bobRow.innerText(), /2 of 2/);
    assert.match(await bobRow.innerText(), /Throttled/);
    assert.match(await bobRow.innerText(), /\d+ min/);
    // The client address is listed (counting, not throttled: its limit is 20).
    assert.match(await table.getByRole('row').filter({ hasText: 'Client address' }).innerText(), /Counting/);
    await saveScreenshot(page, 'console-throttle');

    // Cancel first: nothing changes.
    await bobRow.getByRole('button', { name: /Clear bob@portico\.test/i }).click();
    const dialog = page.getByRole('dialog', { name: 'Clear failed sign-ins?' });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /2 failed sign-ins of bob@portico\.test/i);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await signIn(url, 'bob@portico.test', demoPassword), 'auth.throttled');

    await bobRow.getByRole('button', { name: /Clear bob@portico\.test/i }).click();
    await dialog.getByRole('button', { name: 'Clear', exact: true }).click();
    await page.locator('#flash').filter({ hasText: /Cleared the failed sign-ins of bob@portico\.test\./i }).waitFor();
    await page.getByRole('table', { name: /Recent failed sign-ins \(\d+; 0 throttled\)/ }).waitFor();
    assert.equal(await page.getByRole('row').filter({ hasText: 'bob@portico.test' }).count(), 0);

    assert.equal(await signIn(url, 'bob@portico.test', demoPassword), null);
    const audit = await adminApi<{ events: Array<{ actor: string; outcome: string; details: { label?: string } }> }>(url, token, 'GET', '/audit?action=auth.throttle.cleared');
    assert.equal(audit.events.length, 1);
    assert.equal(audit.events[0]?.outcome, 'success');
    assert.match(audit.events[0]?.actor ?? '', /carol/i);
    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
  });
});
