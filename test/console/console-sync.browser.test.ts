/**
 * The console page "AD sync" in headless Chromium, on a Portico started for real on its embedded
 * managed directory (demo forest): carol (Portico-Admins) adds a group with the form, syncs now
 * and sees it synced with its users; a scope group deleted in AD shows as missing with its error
 * (object, code, reason) in the error log; she removes it with the button after a confirmation,
 * audited under her name; no script error or CSP violation on the way.
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

const dataDir = mkdtempSync(join(tmpdir(), 'portico-console-sync-'));

void describe('the console page "AD sync" in Chromium', () => {
  let app: PorticoApp;
  let token = '';
  let browser: Browser;
  let page: Page;
  let problems: string[];

  before(async () => {
    // A long poll interval: the runs the page shows are the ones its button starts.
    ({ app, token } = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir, PORTICO_SYNC__POLL_SECONDS: '3600' }));
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser, { width: 1280, height: 900 }));
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  void it('adds a group, syncs now, shows a missing group with its error, and removes it', async () => {
    const url = app.url;
    await adminApi(url, token, 'POST', '/directory/managed/groups', { name: 'SyncDoomed' });
    await adminApi(url, token, 'POST', '/directory/managed/groups/SyncDoomed/members', { member: 'alice' }, 200);

    await page.goto(`${url}/console`);
    await page.waitForURL(/\/sign-in\?returnTo=%2Fconsole$/);
    await page.getByLabel('User name').fill('carol@portico.test');
    await page.getByLabel('Password').fill(demoPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${url}/console`);

    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'AD sync', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'AD sync', exact: true }).waitFor();
    await page.getByRole('table', { name: 'Sync scope (0)' }).waitFor();

    const form = page.getByRole('form', { name: 'Add to the sync scope' });
    for (const name of ['Sales@portico.test', 'SyncDoomed@portico.test']) {
      await form.getByLabel('Kind').selectOption('group');
      await form.getByLabel('Name').fill(name);
      await form.getByRole('button', { name: 'Add' }).click();
      await page.locator('#flash').filter({ hasText: `Added ${name} to the sync scope.` }).waitFor();
    }
    const scope = page.getByRole('table', { name: 'Sync scope (2)' });
    await scope.waitFor();

    await page.getByRole('button', { name: 'Sync now' }).click();
    const sales = scope.getByRole('row').filter({ hasText: 'Sales@portico.test' });
    await sales
      .filter({ hasText: /Synced/ }) // case-sensitive: not "Not synced yet"
      .waitFor({ timeout: 30_000 })
      .catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n${await page.locator('main').innerText()}`);
      });
    // Sales: bob and dave (dave is disabled in AD: synced, marked disabled).
    assert.match(await sales.innerText(), /\tSynced\t2\t1\t/);
    assert.match(await page.locator('dl.summary').innerText(), /Full reconciliation \((first_run|scope_changed)\) in [\d.]+ s: 3 users and 2 groups in scope/);

    await adminApi(url, token, 'DELETE', '/directory/managed/groups/SyncDoomed', undefined, 204);
    await page.getByRole('button', { name: 'Sync now' }).click();
    const doomed = scope.getByRole('row').filter({ hasText: 'SyncDoomed@portico.test' });
    await doomed.filter({ hasText: 'Missing in AD' }).waitFor({ timeout: 30_000 });
    const errors = page.getByRole('table', { name: 'Sync errors (1)' });
    await errors.waitFor();
    const error = await errors.getByRole('row').filter({ hasText: 'sync.scope_group_missing' }).innerText();
    assert.match(error, /SyncDoomed@portico\.test/);
    assert.match(error, /is not in the directory/);
    await saveScreenshot(page, 'console-sync');

    await doomed.getByRole('button', { name: /Remove SyncDoomed@portico\.test/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove from the sync scope?' });
    await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
    await page.getByRole('table', { name: 'Sync scope (1)' }).waitFor();
    await page.getByRole('table', { name: 'Sync errors (0)' }).waitFor();

    const audit = await adminApi<{ events: Array<{ actor: string; details: { label?: string } }> }>(url, token, 'GET', '/audit?action=sync.scope.removed');
    assert.equal(audit.events.length, 1);
    assert.match(audit.events[0]?.actor ?? '', /carol/i);
    assert.equal(audit.events[0]?.details.label, 'SyncDoomed@portico.test');
    const batches = await adminApi<{ events: Array<{ details: { users?: number } }> }>(url, token, 'GET', '/audit?action=sync.batch.completed');
    assert.ok(batches.events.length >= 1, 'each batch of users is audited');
    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
  });
});
