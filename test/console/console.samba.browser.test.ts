/**
 * The administrator's console end to end, in headless Chromium against the real Samba AD DC:
 * alice (in Portico-Admins) signs in through the sign-in page and administers through the
 * console's pages; a group three levels above her own reaches an account and "who can reach"
 * shows the path; the API's errors appear as they are; one flow is done with the keyboard only;
 * the assignments page fits a phone; bob (no admin group) is told he is not an administrator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CONSOLE_CSP } from '#src/console/routes.ts';
import { identityCenterMappings } from '#src/identity-store/mappings.ts';
import { inPage, launchBrowser, openPage, saveScreenshot } from '../support/browser.ts';
import { fixture, fixtureUser, sambaRuntime } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';

const dc = sambaRuntime();
const alice = fixtureUser('alice');
const bob = fixtureUser('bob');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 740 };
// Read as `portico access explain` prints it: from the assigned group down to alice's own group.
const NESTED_PATH = 'Portico-Users ← Eng-All ← Eng-Platform ← Eng-Platform-SRE';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const spMetadata = (host: string) => `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="${MD}" entityID="https://${host}/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://${host}/saml/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`;

async function signInThroughPage(page: Page, url: string, user: { upn: string; password: string }): Promise<void> {
  await page.goto(`${url}/console`);
  await page.waitForURL(/\/sign-in\?returnTo=%2Fconsole$/);
  await page.getByLabel('User name').fill(user.upn);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/console`);
}

const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name, exact: true });
const flash = (page: Page) => page.locator('#flash');

async function openSection(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name, exact: true }).click();
  await heading(page, name).waitFor();
}

async function expectText(locator: ReturnType<Page['locator']>, expected: string | RegExp): Promise<void> {
  await locator.filter({ hasText: expected }).first().waitFor();
}

const focusedTag = (page: Page) => inPage<string | undefined>(page, 'document.activeElement?.tagName');

/** The datetime of each event row's time. */
async function datetimes(locator: ReturnType<Page['locator']>): Promise<string[]> {
  const cells = await locator.locator('tbody tr td[data-label="When"] time').all();
  return Promise.all(cells.map(async (cell) => (await cell.getAttribute('datetime')) ?? ''));
}

/** Presses Tab until the focused element matches, as a keyboard user would; fails after `max` presses. */
async function tabTo(page: Page, matches: (element: { tag: string; text: string; label: string }) => boolean, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const focused = await inPage<{ tag: string; text: string; label: string }>(
      page,
      `(() => {
        const element = document.activeElement;
        const label = element && element.labels && element.labels[0] ? element.labels[0].textContent : '';
        return { tag: element ? element.tagName.toLowerCase() : '', text: element ? element.textContent.trim() : '', label: label.trim() };
      })()`,
    );
    if (matches(focused)) return;
  }
  assert.fail(`not reached with ${max} presses of Tab`);
}

async function noHorizontalScroll(page: Page): Promise<void> {
  const { scrollWidth, clientWidth } = await inPage<{ scrollWidth: number; clientWidth: number }>(
    page,
    '({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })',
  );
  assert.ok(scrollWidth <= clientWidth, `the page scrolls sideways: ${scrollWidth}px wide in a ${clientWidth}px viewport`);
}

void describe('the administrator console in Chromium, against the Samba AD DC', () => {
  let target: SambaPortico;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let url: string;
  const screenshots: string[] = [];
  const shoot = async (name: string, on: Page = page) => screenshots.push(await saveScreenshot(on, name));

  /** The admin API itself, with the bootstrap token, to compare what the console shows. */
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as { error?: { message: string } } };
  };

  before(async () => {
    target = await startSambaPortico();
    url = target.app.url;
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser, DESKTOP));
  });
  after(async () => {
    await browser?.close();
    await target?.stop();
    if (screenshots.length > 0) console.log(`screenshots:\n  ${screenshots.join('\n  ')}`);
  });

  it('serves the console with a strict CSP, nosniff and no-store, and only its known assets', async () => {
    const index = await fetch(`${url}/console`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-security-policy'), CONSOLE_CSP);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('cache-control'), 'no-store');
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    const script = await fetch(`${url}/console/assets/console.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal((await fetch(`${url}/console/assets/console.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
    for (const path of ['/console/assets/routes.ts', '/console/assets/index.html', '/console/assets/%2e%2e%2fapp.ts', '/console/assets/']) {
      assert.equal((await fetch(`${url}${path}`)).status, 404, path);
    }
  });

  it('alice signs in through /sign-in?returnTo=/console and lands on the directory page', async () => {
    await signInThroughPage(page, url, alice);
    await heading(page, 'Directory').waitFor();
    assert.equal(await page.locator('#actor').textContent(), alice.upn);
    await expectText(page.locator('dd'), 'connected');
    await expectText(page.locator('dd'), 'Accepted');
    const controllers = page.getByRole('table', { name: /Domain controllers/ });
    await expectText(controllers.getByRole('row'), dc.ldapsUrl);
    await expectText(controllers.getByRole('row'), 'Up');
    assert.equal(await page.title(), 'Directory · Portico console');
    assert.equal(await page.getByRole('link', { name: 'Directory', exact: true }).getAttribute('aria-current'), 'page');
    assert.equal(await page.getByRole('link', { name: 'Directory users' }).count(), 0, 'a connected AD is never written to: no directory administration');
    await shoot('console-directory');
  });

  it('attribute mappings: edits and saves the table, previews a user, shows the API error for an unknown one', async () => {
    await openSection(page, 'Attribute mappings');
    // The default table leaves initials optional (only alice has them in the fixture); give a default.
    const middleName = page.locator('tr', { has: page.locator('input[name="target"][value="middleName"]') });
    await middleName.locator('input[name="template"]').fill('${dir:initials|""}');
    await page.getByRole('button', { name: 'Save mappings' }).click();
    await expectText(flash(page), /Mappings saved \(9 targets\)/);

    await page.getByLabel('User', { exact: true }).fill(bob.upn);
    await page.getByRole('button', { name: 'Preview' }).click();
    const preview = page.getByRole('table', { name: `Values for ${bob.upn}` });
    await expectText(preview.getByRole('row'), new RegExp(`email.*${bob.upn}`));
    await expectText(preview.getByRole('row'), /middleName.*Not set \(empty/);

    await page.getByLabel('User', { exact: true }).fill('nobody-here');
    await page.getByRole('button', { name: 'Preview' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'nobody-here' });
    await alert.waitFor();
    assert.equal(await alert.textContent(), 'no user "nobody-here" in the identity source');
    await page.getByLabel('User', { exact: true }).fill(alice.upn);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('table', { name: `Values for ${alice.upn}` }).waitFor();
    await shoot('console-mappings');
  });

  it('attribute mappings: the check panel counts, per mapping, the users it would refuse, as the API does', async () => {
    await openSection(page, 'Attribute mappings');
    const panel = page.getByRole('region', { name: 'Check against the directory' });
    await panel.getByLabel('Users to sample').fill('5000');
    await panel.getByRole('button', { name: 'Check mappings' }).click();
    await expectText(panel.locator('[data-summary="mapping-check"]'), /^Checked all [\d,]+ users, [\d,]+ disabled not counted: no user would be refused at sign-in\.$/);
    const results = panel.getByRole('table', { name: 'Users each mapping would refuse' });
    await expectText(results.getByRole('row'), /middleName.*initials.*0/);

    // Identity Center's own table refuses the users without initials: the panel says which and why.
    const saved = (await api('GET', '/mappings')).body as unknown as { table: Record<string, string> };
    assert.equal((await api('PUT', '/mappings', { table: identityCenterMappings })).status, 200);
    try {
      const expected = (await api('POST', '/mappings/check', { limit: 5000 })).body as unknown as { refusedUsers: number; checked: number; mappings: Array<{ target: string; refused: number; problems: Array<{ examples: string[] }> }> };
      const middle = expected.mappings.find((m) => m.target === 'middleName');
      assert.ok(middle && middle.refused > 0);
      await panel.getByRole('button', { name: 'Check mappings' }).click();
      await expectText(panel.locator('[data-summary="mapping-check"]'), `${expected.refusedUsers} of ${expected.checked} would be refused at sign-in.`);
      const row = results.getByRole('row').filter({ hasText: '${dir:initials}' });
      await expectText(row, '"initials" is empty');
      assert.equal(await row.locator('td[data-label="Refused"]').textContent(), String(middle.refused));
      assert.equal(await row.locator('td[data-label="Examples"]').textContent(), middle.problems[0]?.examples.join(', '));
      await shoot('console-mappings-check');

      await panel.getByLabel('Users to sample').fill('0');
      await panel.getByRole('button', { name: 'Check mappings' }).click();
      await expectText(panel.getByRole('alert'), 'limit: a whole number from 1 to 10,000');
      assert.equal(await panel.getByLabel('Users to sample').getAttribute('aria-invalid'), 'true');
    } finally {
      assert.equal((await api('PUT', '/mappings', { table: saved.table })).status, 200);
    }
    const audited = (await api('GET', '/audit?action=identity.mappings.checked&limit=5')).body as unknown as { events: Array<{ actor: string; details: Record<string, unknown> }> };
    assert.ok(audited.events.some((e) => e.actor === alice.upn && e.details.limit === 5000), 'the console check is audited under the administrator');
    assert.deepEqual(problems, []);
  });

  it('a signed-in non-administrator (bob) is told clearly that he is not an administrator', async () => {
    const bobContext = await browser.newContext({ viewport: DESKTOP });
    try {
      const bobPage = await bobContext.newPage();
      await signInThroughPage(bobPage, url, bob);
      await heading(bobPage, 'Not an administrator').waitFor();
      const alert = bobPage.getByRole('alert');
      assert.match((await alert.textContent()) ?? '', new RegExp(`^${bob.upn.replace('.', '\\.')} is not in an administrators group`));
      assert.equal(await bobPage.getByRole('navigation').count(), 0, 'no console menu for him');
      await shoot('console-not-admin', bobPage);
    } finally {
      await bobContext.close();
    }
  });

  it('permission sets: a bad inline policy shows the API error verbatim; a good one is created', async () => {
    await openSection(page, 'Permission sets');
    const badPolicy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Permit', Action: 's3:GetObject', Resource: '*' }] }, null, 2);
    await page.getByLabel('Name', { exact: true }).fill('ReadOnly');
    await page.getByLabel('Description').fill('Read everything, write nothing');
    await page.getByLabel('Session duration').fill('PT4H');
    await page.getByLabel('AWS managed policies').fill('arn:aws:iam::aws:policy/ReadOnlyAccess');
    await page.getByLabel('Inline policy').fill(badPolicy);
    await page.getByRole('button', { name: 'Create permission set' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'inlinePolicy' });
    await alert.waitFor();
    const refused = await api('POST', '/permission-sets', { name: 'ReadOnly', sessionDuration: 'PT4H', inlinePolicy: badPolicy });
    assert.equal(refused.status, 400);
    assert.equal(await alert.textContent(), refused.body.error?.message, 'the API message, as it is');
    assert.equal(await alert.textContent(), 'inlinePolicy: Statement[0].Effect must be "Allow" or "Deny"');
    assert.equal(await page.getByLabel('Inline policy').getAttribute('aria-invalid'), 'true', 'the field named by the error is marked');
    await shoot('console-permission-set-error');

    await page.getByLabel('Inline policy').fill(badPolicy.replace('Permit', 'Allow'));
    await page.getByRole('button', { name: 'Create permission set' }).click();
    await expectText(flash(page), 'Permission set ReadOnly created.');
    const row = page.getByRole('table', { name: /Permission sets \(1\)/ }).getByRole('row', { name: /ReadOnly/ });
    await expectText(row, 'PT4H');
    await expectText(row, 'arn:aws:iam::aws:policy/ReadOnlyAccess');
    await expectText(row, 'Inline policy');
    assert.equal(await page.getByLabel('Session duration').inputValue(), 'PT1H', 'the form is reset to its defaults');
    assert.equal(await page.getByLabel('Inline policy').getAttribute('aria-invalid'), null);
    await shoot('console-permission-sets');
  });

  it('accounts: created with the keyboard only (Tab, typing, Enter), with a visible focus', async () => {
    await page.goto(`${url}/console#/directory`);
    await heading(page, 'Directory').waitFor();
    await tabTo(page, (f) => f.tag === 'a' && f.text === 'Accounts');
    await page.keyboard.press('Enter');
    await heading(page, 'Accounts').waitFor();
    assert.equal(await focusedTag(page), 'H1', 'the page heading takes the focus');
    await tabTo(page, (f) => f.label === 'Account ID');
    const outline = await inPage<string>(page, 'getComputedStyle(document.activeElement).outlineStyle');
    assert.notEqual(outline, 'none', 'the focused field shows it');
    await page.keyboard.type('111122223333');
    await tabTo(page, (f) => f.label === 'Name', 1);
    await page.keyboard.type('Production');
    await tabTo(page, (f) => f.label === 'Email', 1);
    await page.keyboard.type('aws-prod@corp.example.test');
    await tabTo(page, (f) => f.tag === 'button' && f.text === 'Add account', 5);
    await page.keyboard.press('Enter');
    await expectText(flash(page), 'Account Production (111122223333) added.');
    await expectText(page.getByRole('table', { name: /Accounts \(1\)/ }).getByRole('row'), /111122223333.*Production.*aws-prod@corp\.example\.test/);
  });

  it('accounts: a bad id shows the API error; an account is deleted after confirmation', async () => {
    await page.getByLabel('Account ID').fill('1234');
    await page.getByLabel('Name', { exact: true }).fill('Sandbox');
    await page.getByLabel('Email').fill('aws-sandbox@corp.example.test');
    await page.getByRole('button', { name: 'Add account' }).click();
    await expectText(page.getByRole('alert'), 'id: an AWS account id is exactly 12 digits');
    await page.getByLabel('Account ID').fill('444455556666');
    await page.getByRole('button', { name: 'Add account' }).click();
    await expectText(flash(page), 'Account Sandbox (444455556666) added.');
    await page.getByRole('table', { name: /Accounts \(2\)/ }).waitFor();
    await shoot('console-accounts');

    await page.getByRole('button', { name: 'Delete Sandbox (444455556666)' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete account?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('table', { name: /Accounts \(2\)/ }).waitFor();
    await page.getByRole('button', { name: 'Delete Sandbox (444455556666)' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expectText(flash(page), 'Account Sandbox (444455556666) deleted.');
    await page.getByRole('table', { name: /Accounts \(1\)/ }).waitFor();
  });

  it('assignments: Portico-Users is chosen with the live picker and assigned to the account with the permission set', async () => {
    await openSection(page, 'Assignments');
    await page.getByLabel('Account', { exact: true }).selectOption({ label: 'Production (111122223333)' });
    await page.getByLabel('Permission set', { exact: true }).selectOption({ label: 'ReadOnly' });

    // Nothing chosen: the console says so before asking the API.
    await page.getByRole('button', { name: 'Assign' }).click();
    await expectText(page.getByRole('alert'), 'principal: type a name, then choose a user or group from the list');

    const searches: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/admin/api/directory/principals')) searches.push(new URL(request.url()).searchParams.get('q') ?? '');
    });
    const picker = page.getByRole('combobox', { name: 'User or group' });
    await picker.click();
    await picker.pressSequentially('Portico-U', { delay: 60 });
    const option = page.getByRole('option', { name: /Group\s+Portico-Users@corp\.example\.test/ });
    await option.waitFor();
    assert.ok(searches.includes('Portico-U'), `AD was asked as the name was typed (${JSON.stringify(searches)})`);
    assert.equal(await picker.getAttribute('aria-expanded'), 'true');
    await shoot('console-assignments-picker');
    // Chosen with the keyboard: the arrow keys move through the options, Enter chooses.
    const count = await page.getByRole('listbox', { name: 'Matching users and groups' }).getByRole('option').count();
    for (let i = 0; i < count; i++) {
      await picker.press('ArrowDown');
      const active = await picker.getAttribute('aria-activedescendant');
      if (active !== null && ((await page.locator(`#${active}`).textContent()) ?? '').includes('Portico-Users@')) break;
    }
    await picker.press('Enter');
    await expectText(page.locator('.chosen'), 'Chosen: group Portico-Users@corp.example.test.');
    assert.equal(await picker.getAttribute('aria-expanded'), 'false');

    await page.getByRole('button', { name: 'Assign' }).click();
    await expectText(flash(page), 'Assigned group Portico-Users@corp.example.test to account Production with ReadOnly.');
    const row = page.getByRole('table', { name: /Assignments \(1\)/ }).getByRole('row', { name: /Portico-Users/ });
    await expectText(row, /Group\s*Portico-Users@corp\.example\.test/);
    await expectText(row, 'Production (111122223333)');
    await expectText(row, 'ReadOnly');
    await shoot('console-assignments');
  });

  it('assignments: the picker shows a distribution group marked as granting no access and will not choose it', async () => {
    await openSection(page, 'Assignments');
    const picker = page.getByRole('combobox', { name: 'User or group' });
    await picker.fill('Grp-Dist');
    const option = page.getByRole('option', { name: /Group\s+Grp-Dist-Global@corp\.example\.test/ });
    await option.waitFor();
    await expectText(option, 'distribution group — grants no access');
    assert.equal(await option.getAttribute('aria-disabled'), 'true');
    // Playwright will not click a disabled option; the keyboard can still reach it, and Enter must not choose it.
    await picker.press('ArrowDown');
    await picker.press('Enter');
    await expectText(page.locator('.picker [role="status"]'), 'Grp-Dist-Global@corp.example.test is a distribution group: it grants no access. Choose a security group.');
    assert.equal(((await page.locator('.chosen').textContent()) ?? '').trim(), '');
    await picker.fill('');
  });

  it('assignments at phone width (375 × 740): no horizontal scroll, the picker still works', async () => {
    await page.setViewportSize(PHONE);
    try {
      await page.reload();
      await heading(page, 'Assignments').waitFor();
      await page.getByRole('table', { name: /Assignments \(1\)/ }).waitFor();
      await noHorizontalScroll(page);
      const picker = page.getByRole('combobox', { name: 'User or group' });
      await picker.fill('Eng-');
      await page.getByRole('option', { name: /Eng-Platform-SRE@corp\.example\.test/ }).waitFor();
      await noHorizontalScroll(page);
      await shoot('console-assignments-phone');
      await picker.fill('');
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });

  it('access: who can reach the account shows alice through Portico-Users ← Eng-All ← Eng-Platform ← Eng-Platform-SRE', async () => {
    await openSection(page, 'Accounts');
    await page.getByRole('link', { name: 'Who can reach Production' }).click();
    await heading(page, 'Access').waitFor();
    assert.match(page.url(), /#\/access\?account=111122223333$/);
    const who = page.getByRole('table', { name: /^Who can reach account Production \(111122223333\)/ });
    const aliceRow = who.getByRole('row').filter({ hasText: alice.upn });
    await aliceRow.first().waitFor();
    await expectText(aliceRow, 'ReadOnly');
    await expectText(aliceRow, 'Portico-Users@corp.example.test');
    assert.match((await aliceRow.first().textContent()) ?? '', new RegExp(`through ${NESTED_PATH}`));
    await expectText(who.getByRole('row').filter({ hasText: bob.upn }), 'through Portico-Users ← Sales-Team');

    await page.getByLabel('User', { exact: true }).fill(alice.upn);
    await page.getByRole('button', { name: 'Explain' }).click();
    const reach = page.getByRole('table', { name: new RegExp(`^Accounts ${alice.upn.replace('.', '\\.')} can reach`) });
    await expectText(reach.getByRole('row'), new RegExp(`Production \\(111122223333\\).*ReadOnly.*${NESTED_PATH}`));
    await shoot('console-access');
  });

  it('applications: added from pasted and uploaded SP metadata and by hand; bad metadata shows the API error; one deleted', async () => {
    await openSection(page, 'Applications');
    const metadataForm = page.getByRole('form', { name: 'Add from SP metadata' });
    await metadataForm.getByLabel('Name', { exact: true }).fill('Wiki');
    await metadataForm.getByLabel('SP metadata XML').fill(`<!DOCTYPE x [<!ENTITY a "b">]>${spMetadata('wiki.corp.example.test')}`);
    await metadataForm.getByRole('button', { name: 'Add from metadata' }).click();
    await expectText(metadataForm.getByRole('alert'), 'the metadata contains a DOCTYPE, which is not allowed (it enables entity expansion and external entities)');

    await metadataForm.getByLabel('SP metadata XML').fill(spMetadata('wiki.corp.example.test'));
    await metadataForm.getByRole('button', { name: 'Add from metadata' }).click();
    await expectText(flash(page), 'Application Wiki added (entity ID https://wiki.corp.example.test/saml).');

    await metadataForm.getByLabel('Name', { exact: true }).fill('Grafana');
    await metadataForm.getByLabel('Or upload the metadata file').setInputFiles({ name: 'grafana-sp.xml', mimeType: 'application/xml', buffer: Buffer.from(spMetadata('grafana.corp.example.test')) });
    await expectText(metadataForm.getByRole('status'), 'Loaded grafana-sp.xml');
    await metadataForm.getByRole('button', { name: 'Add from metadata' }).click();
    await expectText(flash(page), 'Application Grafana added (entity ID https://grafana.corp.example.test/saml).');

    const byHand = page.getByRole('form', { name: 'Add by hand' });
    await byHand.getByLabel('Name', { exact: true }).fill('Jira');
    await byHand.getByLabel('Entity ID').fill('https://jira.corp.example.test/saml');
    await byHand.getByLabel('ACS URLs').fill('http://jira.corp.example.test/acs');
    await byHand.getByRole('button', { name: 'Add application' }).click();
    await expectText(byHand.getByRole('alert'), 'acsUrls: must be an https URL (http only for loopback)');
    assert.equal(await byHand.getByLabel('ACS URLs').getAttribute('aria-invalid'), 'true');
    await byHand.getByLabel('ACS URLs').fill('https://jira.corp.example.test/acs');
    await byHand.getByLabel('Name ID format').selectOption('emailAddress');
    await byHand.getByRole('button', { name: 'Add application' }).click();
    await expectText(flash(page), 'Application Jira added.');
    const list = page.getByRole('table', { name: /Applications \(3\)/ });
    await expectText(list.getByRole('row', { name: /Wiki/ }), 'https://wiki.corp.example.test/saml/acs');
    await expectText(list.getByRole('row', { name: /Grafana/ }), 'emailAddress');
    await shoot('console-applications');

    await page.getByRole('button', { name: 'Delete Jira' }).click();
    await page.getByRole('dialog', { name: 'Delete application?' }).getByRole('button', { name: 'Delete' }).click();
    await expectText(flash(page), 'Application Jira deleted.');
    await page.getByRole('table', { name: /Applications \(2\)/ }).waitFor();
  });

  it('access: who can reach an application assigned to the 1,600-member Big-Group warns how many are listed by objectGUID only', async () => {
    const { applications } = (await api('GET', '/applications')).body as unknown as { applications: Array<{ id: string; name: string }> };
    const grafana = applications.find((a) => a.name === 'Grafana');
    assert.ok(grafana);
    const created = await api('POST', '/assignments', { principal: { type: 'group', id: `${fixture.bigGroup.sAMAccountName}@${fixture.domain.dnsName}` }, target: { type: 'application', applicationId: grafana.id } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const assignment = (created.body as unknown as { assignment: { id: string } }).assignment;
    try {
      await page.goto(`${url}/console#/access?${new URLSearchParams({ application: grafana.id }).toString()}`);
      await heading(page, 'Access').waitFor();
      const n = fixture.bigGroup.memberCount;
      const who = page.getByRole('table', { name: `Who can reach application Grafana (${n} people)` });
      await who.waitFor({ timeout: 60_000 });
      // The CLI's wording (`portico access who`), with the same numbers as the API.
      await expectText(page.locator('.warning'), `${n - 500} of ${n} users are listed by objectGUID only (names are looked up for the first 500).`);
      assert.equal(await who.locator('tbody tr').count(), n);
      assert.equal(await who.locator('tbody td[data-label="User"] > span > .mono').count(), n - 500, 'the unnamed ones show their objectGUID');
    } finally {
      const removed = await fetch(`${url}/admin/api/assignments/${assignment.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${target.token}` } });
      assert.equal(removed.status, 204);
    }
  });

  it('a permission set in use cannot be deleted: the API says why', async () => {
    await openSection(page, 'Permission sets');
    await page.getByRole('button', { name: 'Delete ReadOnly' }).click();
    await page.getByRole('dialog', { name: 'Delete permission set?' }).getByRole('button', { name: 'Delete' }).click();
    const alert = page.getByRole('alert').filter({ hasText: /\S/ });
    await alert.first().waitFor();
    const direct = await api('DELETE', `/permission-sets/ReadOnly`);
    assert.equal(direct.status, 409);
    assert.equal(await alert.first().textContent(), direct.body.error?.message);
  });

  it('users: search by prefix, one user with sessions, revoke them and remove the user after confirmation', async () => {
    await openSection(page, 'Users');
    const all = page.getByRole('table', { name: /^Provisioned users/ });
    await expectText(all.getByRole('row'), alice.upn);
    await expectText(all.getByRole('row'), bob.upn);
    await page.getByLabel('User name starts with').fill('bo');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('table', { name: /^Provisioned users starting with “bo” \(1\)/ }).waitFor();
    assert.match(page.url(), /#\/users\?prefix=bo$/);
    await shoot('console-users');

    await page.getByRole('link', { name: bob.upn }).click();
    await heading(page, bob.upn).waitFor();
    await page.getByRole('table', { name: 'Live sessions (1)' }).waitFor();
    await shoot('console-user');
    await page.getByRole('button', { name: 'Revoke all sessions' }).click();
    await page.getByRole('dialog', { name: 'Revoke sessions?' }).getByRole('button', { name: 'Revoke sessions' }).click();
    await expectText(flash(page), `Ended 1 session of ${bob.upn}.`);
    await page.getByRole('table', { name: 'Live sessions (0)' }).waitFor();

    await page.getByRole('button', { name: 'Remove user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove user?' });
    await expectText(dialog, 'Active Directory is not changed');
    await dialog.getByRole('button', { name: 'Remove user' }).click();
    await heading(page, 'Users').waitFor();
    await expectText(flash(page), `Removed ${bob.upn} (0 sessions ended).`);
    await expectText(page.getByRole('table', { name: /^Provisioned users/ }).getByRole('row'), alice.upn);
    assert.equal(await page.getByRole('link', { name: bob.upn }).count(), 0);
  });

  it('audit log: newest first, filtered by action, and the next page with `before`', async () => {
    await openSection(page, 'Audit log');
    const events = page.getByRole('table', { name: /^Audit events, newest first — page 1/ });
    await events.waitFor();
    // The user's removal is among the newest (its session events can share the same millisecond).
    const newest = await events.locator('tbody tr td[data-label="Action"]').allTextContents();
    assert.ok(newest.slice(0, 3).includes('identity.user.removed'), JSON.stringify(newest.slice(0, 3)));
    const times = await datetimes(events);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');

    await page.getByLabel('Action').fill('access.account.created');
    await page.getByRole('button', { name: 'Show events' }).click();
    const filtered = page.getByRole('table', { name: /^Audit events “access\.account\.created”/ });
    await filtered.waitFor();
    const actions = await filtered.locator('tbody tr td[data-label="Action"]').allTextContents();
    assert.deepEqual(actions, ['access.account.created', 'access.account.created']);
    await expectText(filtered.getByRole('row').nth(1), '444455556666');

    await page.getByLabel('Action').fill('');
    await page.getByLabel('Events per page').selectOption('10');
    await page.getByRole('button', { name: 'Show events' }).click();
    const first = page.getByRole('table', { name: /^Audit events, newest first — page 1/ });
    await first.waitFor();
    const firstPage = await datetimes(first);
    assert.equal(firstPage.length, 10);
    await shoot('console-audit');
    await page.getByRole('button', { name: 'Older events' }).click();
    const second = page.getByRole('table', { name: /^Audit events, newest first — page 2/ });
    await second.waitFor();
    const secondPage = await datetimes(second);
    assert.ok(secondPage.length > 0);
    assert.ok((secondPage[0] ?? '') <= (firstPage[firstPage.length - 1] ?? ''), 'older than the first page');
    assert.equal(await focusedTag(page), 'CAPTION', 'the focus moves to the new page of events');
  });

  it('signs out; the console then sends the browser to sign-in', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${url}/sign-in`);
    await page.goto(`${url}/console#/accounts`);
    await page.waitForURL(/\/sign-in\?returnTo=%2Fconsole%23%2Faccounts$/);
    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
  });
});
