/**
 * What the rebuilt console adds, in headless Chromium on a Portico started for real on its
 * embedded managed directory (in process): carol (Portico-Admins) edits an account, a permission
 * set and an application (its attribute mappings included) through their edit pages; administers
 * the managed directory's users (create, disable, enable, reset a password, unlock erin); and
 * reads the directory certificate's fingerprint in the CLI's format. The admin API (with the
 * bootstrap token) and real sign-ins check every result; no script error or CSP violation.
 */
import assert from 'node:assert/strict';
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

const dataDir = mkdtempSync(join(tmpdir(), 'portico-console-admin-'));

interface Account {
  id: string;
  name: string;
  email: string;
  organizationalUnit?: string;
  tags: Record<string, string>;
}
interface PermissionSet {
  id: string;
  name: string;
  sessionDuration: string;
  managedPolicies: string[];
  inlinePolicy?: string;
}
interface Application {
  id: string;
  name: string;
  acsUrls: string[];
  nameIdFormat: string;
  signResponse: boolean;
  attributeMappings: Array<{ name: string; value: string; format: string }>;
}

async function signIn(url: string, username: string, password: string): Promise<string | null> {
  const response = await fetch(`${url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return response.ok ? null : ((await response.json()) as { error: { code: string } }).error.code;
}

void describe('the console’s edit pages and managed-directory administration, in Chromium', () => {
  let app: PorticoApp;
  let url = '';
  let token = '';
  let browser: Browser;
  let page: Page;
  let problems: string[];
  const api = <T,>(method: string, path: string, body?: unknown, expected?: number) => adminApi<T>(url, token, method, path, body, expected);
  const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });
  const flash = () => page.locator('#flash');
  const expectFlash = (text: string | RegExp) => flash().filter({ hasText: text }).waitFor();
  async function openSection(name: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name, exact: true }).click();
    await heading(name).waitFor();
  }

  before(async () => {
    ({ app, token } = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir }));
    url = app.url;
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser, { width: 1280, height: 900 }));
    await page.goto(`${url}/console`);
    await page.waitForURL(/\/sign-in\?returnTo=%2Fconsole$/);
    await page.getByLabel('User name').fill('carol@portico.test');
    await page.getByLabel('Password').fill(demoPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${url}/console`);
    await heading('Directory').waitFor();
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('directory: the certificate fingerprint reads as the API and the CLI print fingerprints (colon-separated upper-case hex)', async () => {
    const status = await api<{ certificateSha256: string }>('GET', '/directory');
    // The API and the CLI print fingerprints alike: colon-separated upper-case hex.
    assert.match(status.certificateSha256, /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/, 'the API gives the CLI format');
    const expected = status.certificateSha256;
    const shown = page.locator('dt', { hasText: 'Certificate SHA-256' }).locator('xpath=following-sibling::dd[1]');
    assert.equal(await shown.textContent(), expected);
  });

  it('accounts: edited through the edit page; a bad email shows the API error; the list and the API show the change', async () => {
    await api('POST', '/accounts', { id: '111122223333', name: 'Production', email: 'aws-prod@portico.test', tags: { team: 'platform' } });
    await openSection('Accounts');
    await page.getByRole('link', { name: 'Edit Production (111122223333)' }).click();
    await heading('Account Production (111122223333)').waitFor();
    assert.match(page.url(), /#\/accounts\/111122223333$/);
    const form = page.getByRole('form', { name: 'Edit the account' });
    assert.equal(await form.getByLabel('Name', { exact: true }).inputValue(), 'Production', 'the form shows the account as it is');
    assert.equal(await form.getByLabel('Tags').inputValue(), 'team=platform');
    assert.equal(await form.getByLabel('Account ID').count(), 0, 'the id cannot change');

    await form.getByLabel('Email').fill('not-an-email');
    await form.getByRole('button', { name: 'Save account' }).click();
    const alert = form.getByRole('alert').filter({ hasText: /^email: / });
    await alert.waitFor();
    const refused = await fetch(`${url}/admin/api/accounts/111122223333`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'not-an-email' }) });
    assert.equal(refused.status, 400);
    assert.equal(await alert.textContent(), ((await refused.json()) as { error: { message: string } }).error.message, 'the API message, as it is');
    assert.equal(await form.getByLabel('Email').getAttribute('aria-invalid'), 'true');

    await form.getByLabel('Name', { exact: true }).fill('Production EU');
    await form.getByLabel('Email').fill('aws-prod-eu@portico.test');
    await form.getByLabel('Organizational unit').fill('ou-prod-eu');
    await form.getByLabel('Tags').fill('team=platform\nregion=eu');
    await form.getByRole('button', { name: 'Save account' }).click();
    await heading('Accounts').waitFor();
    await expectFlash('Account Production EU (111122223333) saved.');
    await page.getByRole('table', { name: 'Accounts (1)' }).getByRole('row').filter({ hasText: /111122223333.*Production EU.*aws-prod-eu@portico\.test.*ou-prod-eu/ }).waitFor();
    const { account } = await api<{ account: Account }>('GET', '/accounts/111122223333');
    assert.deepEqual(account, { id: '111122223333', name: 'Production EU', email: 'aws-prod-eu@portico.test', organizationalUnit: 'ou-prod-eu', tags: { team: 'platform', region: 'eu' } });
    await saveScreenshot(page, 'console-account-edited');
  });

  it('permission sets: edited through the edit page; a bad inline policy shows the API error; the API shows the change', async () => {
    await api('POST', '/permission-sets', { name: 'ReadOnly', sessionDuration: 'PT1H', managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });
    await openSection('Permission sets');
    await page.getByRole('link', { name: 'Edit ReadOnly' }).click();
    await heading('Permission set ReadOnly').waitFor();
    const form = page.getByRole('form', { name: 'Edit the permission set' });
    assert.equal(await form.getByLabel('AWS managed policies').inputValue(), 'arn:aws:iam::aws:policy/ReadOnlyAccess');
    await form.getByLabel('Session duration').fill('PT4H');
    await form.getByLabel('AWS managed policies').fill('arn:aws:iam::aws:policy/ReadOnlyAccess\narn:aws:iam::aws:policy/AWSBillingReadOnlyAccess');
    await form.getByLabel('Inline policy').fill(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Permit', Action: 's3:GetObject', Resource: '*' }] }));
    await form.getByRole('button', { name: 'Save permission set' }).click();
    await form.getByRole('alert').filter({ hasText: 'inlinePolicy: Statement[0].Effect must be "Allow" or "Deny"' }).waitFor();
    assert.equal(await form.getByLabel('Inline policy').getAttribute('aria-invalid'), 'true');
    assert.equal((await api<PermissionSet>('GET', '/permission-sets/ReadOnly')).sessionDuration, 'PT1H', 'nothing saved');

    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] });
    await form.getByLabel('Inline policy').fill(policy);
    await form.getByRole('button', { name: 'Save permission set' }).click();
    await heading('Permission sets').waitFor();
    await expectFlash('Permission set ReadOnly saved.');
    await page.getByRole('table', { name: 'Permission sets (1)' }).getByRole('row', { name: /ReadOnly/ }).filter({ hasText: /PT4H.*AWSBillingReadOnlyAccess.*Inline policy/ }).waitFor();
    const saved = await api<PermissionSet>('GET', '/permission-sets/ReadOnly');
    assert.equal(saved.sessionDuration, 'PT4H');
    assert.deepEqual(saved.managedPolicies, ['arn:aws:iam::aws:policy/ReadOnlyAccess', 'arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess']);
    assert.deepEqual(JSON.parse(saved.inlinePolicy ?? 'null'), JSON.parse(policy));
  });

  it('applications: edited with their attribute mappings (added, changed, removed); a bad template shows the API error', async () => {
    await api('POST', '/applications', {
      name: 'Wiki',
      entityId: 'https://wiki.portico.test/saml',
      acsUrls: ['https://wiki.portico.test/acs'],
      attributeMappings: [
        { name: 'mail', value: '${user:email}', format: 'unspecified' },
        { name: 'title', value: '${user:title}', format: 'basic' },
      ],
    });
    await openSection('Applications');
    await page.getByRole('link', { name: 'Edit Wiki' }).click();
    await heading('Application Wiki').waitFor();
    const form = page.getByRole('form', { name: 'Edit the application' });
    await form.getByRole('table', { name: 'Attributes (2)' }).waitFor();
    assert.equal(await form.getByLabel('Attribute value 1').inputValue(), '${user:email}');
    assert.equal(await form.getByLabel('Attribute format 2').inputValue(), 'basic');

    // At phone width the form and its attribute table fit: no sideways scrolling.
    await page.setViewportSize({ width: 375, height: 740 });
    try {
      await form.getByLabel('Attribute name 1').scrollIntoViewIfNeeded();
      const { scrollWidth, clientWidth } = await inPage<{ scrollWidth: number; clientWidth: number }>(page, '({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })');
      assert.ok(scrollWidth <= clientWidth, `the page scrolls sideways: ${scrollWidth}px wide in a ${clientWidth}px viewport`);
      await saveScreenshot(page, 'console-application-edit-phone');
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    await form.getByRole('button', { name: 'Remove attribute 2 (title)' }).click();
    await form.getByRole('table', { name: 'Attributes (1)' }).waitFor();
    await form.getByLabel('Attribute format 1').selectOption('uri');
    await form.getByRole('button', { name: 'Add an attribute' }).click();
    await form.getByLabel('Attribute name 2').fill('groups');
    await form.getByLabel('Attribute value 2').fill('${user:nope}');
    await form.getByLabel('ACS URLs').fill('https://wiki.portico.test/acs\nhttps://wiki.portico.test/acs2');
    await form.getByLabel('Sign the Response too').check();
    await form.getByRole('button', { name: 'Save application' }).click();
    const alert = form.getByRole('alert').filter({ hasText: /^attributeMappings/ });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /\$\{nope\}|user:nope/);
    assert.equal((await api<Application>('GET', '/applications/Wiki')).attributeMappings.length, 2, 'nothing saved');

    await form.getByLabel('Attribute value 2').fill('${user:groups}');
    await form.getByRole('button', { name: 'Save application' }).click();
    await heading('Applications').waitFor();
    await expectFlash('Application Wiki saved.');
    const saved = await api<Application>('GET', '/applications/Wiki');
    assert.deepEqual(saved.attributeMappings, [
      { name: 'mail', value: '${user:email}', format: 'uri' },
      { name: 'groups', value: '${user:groups}', format: 'unspecified' },
    ]);
    assert.deepEqual(saved.acsUrls, ['https://wiki.portico.test/acs', 'https://wiki.portico.test/acs2']);
    assert.equal(saved.signResponse, true);
    await page.getByRole('table', { name: 'Applications (1)' }).getByRole('row', { name: /Wiki/ }).filter({ hasText: 'acs2' }).waitFor();
  });

  it('directory users: create (a weak password shows the policy error), disable, enable, reset the password, unlock erin', async () => {
    await openSection('Directory users');
    const create = page.getByRole('form', { name: 'Create a user' });
    await create.getByLabel('User name (sAMAccountName)').fill('quinn');
    await create.getByLabel('Initial password').fill('Qz9!');
    await create.getByLabel('Given name').fill('Quinn');
    await create.getByLabel('Surname').fill('Quartz');
    await create.getByRole('button', { name: 'Create user' }).click();
    const weak = create.getByRole('alert').filter({ hasText: /\S/ });
    await weak.waitFor();
    const refused = await fetch(`${url}/admin/api/directory/managed/users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ sam: 'quinn', password: 'Qz9!', givenName: 'Quinn', surname: 'Quartz' }) });
    assert.equal(refused.status, 400);
    assert.equal(await weak.textContent(), ((await refused.json()) as { error: { message: string } }).error.message, 'the policy message, as the API says it');

    const initial = 'Quartz-Initial-Pass-1!';
    await create.getByLabel('Initial password').fill(initial);
    await create.getByRole('button', { name: 'Create user' }).click();
    await expectFlash('User created: CN=Quinn Quartz,CN=Users,DC=portico,DC=test (enabled).');
    assert.equal(await create.getByLabel('User name (sAMAccountName)').inputValue(), '', 'the form is reset');
    assert.equal(await signIn(url, 'quinn@portico.test', initial), null, 'quinn signs in');

    const change = page.getByRole('form', { name: 'Unlock, enable or disable' });
    await change.getByLabel('User', { exact: true }).fill('quinn');
    await change.getByLabel('Action').selectOption('disable');
    await change.getByRole('button', { name: 'Apply' }).click();
    await expectFlash('Disabled: CN=Quinn Quartz,CN=Users,DC=portico,DC=test.');
    assert.equal(await signIn(url, 'quinn@portico.test', initial), 'auth.account_disabled');
    await change.getByLabel('Action').selectOption('enable');
    await change.getByRole('button', { name: 'Apply' }).click();
    await expectFlash('Enabled: CN=Quinn Quartz,CN=Users,DC=portico,DC=test.');
    assert.equal(await signIn(url, 'quinn@portico.test', initial), null);

    const reset = page.getByRole('form', { name: 'Reset a password' });
    const second = 'Quartz-Second-Pass-2!';
    await reset.getByLabel('User', { exact: true }).fill('quinn@portico.test');
    await reset.getByLabel('New password').fill(second);
    await reset.getByRole('button', { name: 'Reset password' }).click();
    await expectFlash('Password reset for CN=Quinn Quartz,CN=Users,DC=portico,DC=test.');
    assert.equal(await reset.getByLabel('New password').inputValue(), '', 'the password does not stay in the page');
    assert.equal(await signIn(url, 'quinn@portico.test', initial), 'auth.invalid_credentials');
    assert.equal(await signIn(url, 'quinn@portico.test', second), null);

    assert.notEqual((await app.directory?.authenticate('erin@portico.test', demoPassword))?.outcome, 'ok', 'erin starts locked');
    await change.getByLabel('User', { exact: true }).fill('erin');
    await change.getByLabel('Action').selectOption('unlock');
    await change.getByRole('button', { name: 'Apply' }).click();
    await expectFlash(/^Unlocked: CN=Erin Locked,/);
    assert.equal((await app.directory?.authenticate('erin@portico.test', demoPassword))?.outcome, 'ok', 'erin is unlocked');

    await change.getByLabel('User', { exact: true }).fill('nobody-here');
    await change.getByRole('button', { name: 'Apply' }).click();
    await change.getByRole('alert').filter({ hasText: 'nobody-here' }).waitFor();
    await saveScreenshot(page, 'console-directory-users');

    const audit = await api<{ events: Array<{ actor: string; action: string; details: Record<string, unknown> }> }>('GET', '/audit?limit=50');
    const mine = audit.events.filter((e) => /carol/i.test(e.actor)).map((e) => e.action);
    for (const action of ['user.created', 'user.disabled', 'user.enabled', 'user.password_set', 'user.unlocked']) assert.ok(mine.some((a) => a.endsWith(action)), `${action} audited under carol (${mine.join(', ')})`);
    assert.ok(!JSON.stringify(audit.events).includes(second) && !JSON.stringify(audit.events).includes(initial), 'no password in the audit log');
  });

  it('audit log: filters by actor, target and time, as the API does; targets by name where the API gives one', async () => {
    const updated = await api<{ events: Array<{ actor: string; target: string }> }>('GET', '/audit?action=access.account.updated');
    const actor = updated.events[0]?.actor ?? '';
    assert.match(actor, /carol/i);
    await openSection('Audit log');
    const filter = page.getByRole('form', { name: 'Filter' });
    await filter.getByLabel('Actor').fill(actor);
    await filter.getByLabel('Target').fill('111122223333');
    await filter.getByRole('button', { name: 'Show events' }).click();
    const events = page.getByRole('table', { name: new RegExp(`^Audit events by ${actor.replace(/[.]/g, '\\.')} about 111122223333, newest first — page 1`) });
    await events.waitFor();
    assert.match(page.url(), new RegExp(`#/audit\\?actor=${encodeURIComponent(actor).replace(/[.]/g, '\\.')}&target=111122223333$`));
    const expected = await api<{ events: Array<{ action: string }> }>('GET', `/audit?actor=${encodeURIComponent(actor)}&target=111122223333`);
    assert.ok(expected.events.length > 0);
    assert.deepEqual(await events.locator('tbody td[data-label="Action"]').allTextContents(), expected.events.map((e) => e.action));
    const vague = await fetch(`${url}/admin/api/audit?since=2026-05-01T00:00`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(vague.status, 400, 'a time without a time zone is refused, not guessed');
    assert.match(((await vague.json()) as { error: { message: string } }).error.message, /since: an ISO-8601 date and time with a time zone/);
    const target = events.locator('tbody td[data-label="Target"]').first();
    assert.equal(await target.textContent(), 'Account Production EU (111122223333)111122223333', 'the name, with the stored target under it');
    await saveScreenshot(page, 'console-audit-filtered');

    // A window in the future holds nothing; one ending in the future holds them all again.
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await filter.getByLabel('From').fill(local);
    await filter.getByRole('button', { name: 'Show events' }).click();
    await page.getByRole('table', { name: /^Audit events by .* about 111122223333 from .*, newest first/ }).getByRole('cell', { name: 'No events.' }).waitFor();
    assert.match(page.url(), /&since=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A00\.000Z$/, 'the address keeps the time, in UTC');
    await filter.getByLabel('From').fill('');
    await filter.getByLabel('Until').fill(local);
    await filter.getByRole('button', { name: 'Show events' }).click();
    const until = page.getByRole('table', { name: /^Audit events by .* about 111122223333 until .*, newest first/ });
    await until.waitFor();
    assert.equal(await until.locator('tbody td[data-label="Action"]').count(), expected.events.length);

    await filter.getByLabel('Until').fill('');
    await filter.getByLabel('Target').fill('');
    await filter.getByLabel('Actor').fill('');
    await filter.getByLabel('Action').fill('identity.user.removed');
    await filter.getByRole('button', { name: 'Show events' }).click();
    await page.getByRole('table', { name: /^Audit events “identity\.user\.removed”/ }).waitFor();
    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
  });
  it('IdentityStore API keys: issued with the secret shown once, listed, revoked; the API agrees', async () => {
    await openSection('IdentityStore API keys');
    const form = page.getByRole('form', { name: 'Issue an access key' });
    await form.getByLabel('Name').fill('grafana');
    await form.getByRole('button', { name: 'Issue access key' }).click();
    await expectFlash(/^Access key \S+ issued for grafana\.$/);
    const secretShown = page.locator('dt', { hasText: 'Secret access key' }).locator('xpath=following-sibling::dd[1]');
    const secret = (await secretShown.textContent()) ?? '';
    const keyId = (await page.locator('dt', { hasText: 'Access key ID' }).locator('xpath=following-sibling::dd[1]').textContent()) ?? '';
    assert.ok(secret.length >= 30, 'the secret is shown once');
    const listed = await api<{ credentials: Array<{ accessKeyId: string; name: string; revokedAt: string | null }> }>('GET', '/app-credentials');
    assert.deepEqual(listed.credentials.map((c) => [c.accessKeyId, c.name, c.revokedAt]), [[keyId, 'grafana', null]]);
    assert.ok(!JSON.stringify(listed).includes(secret), 'the API never shows the secret again');

    await openSection('Audit log');
    await openSection('IdentityStore API keys');
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is gone once the page is left');
    await page.getByRole('button', { name: `Revoke ${keyId}` }).click();
    await page.getByRole('dialog', { name: 'Revoke access key?' }).getByRole('button', { name: 'Revoke', exact: true }).click();
    await expectFlash(`Access key ${keyId} revoked.`);
    await page.getByRole('table', { name: 'Access keys (1)' }).getByRole('row').filter({ hasText: new RegExp(`${keyId}.*grafana.*Revoked`) }).waitFor();
    const after = await api<{ credentials: Array<{ revokedAt: string | null }> }>('GET', '/app-credentials');
    assert.ok(after.credentials[0]?.revokedAt, 'revoked in the API too');
    assert.deepEqual(problems, []);
  });
});
