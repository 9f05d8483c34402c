/**
 * The console's OIDC applications page end to end, in headless Chromium against the real Samba AD
 * DC: alice (in Portico-Admins) registers a confidential client with the keyboard (a refused
 * redirect URI shows the API's message on the field first), sees its secret once — and that
 * secret works at the token endpoint —, registers a public client (no secret), edits one (the
 * back-channel logout URI cleared), rotates the secret (the old one stops working), disables and
 * enables it, assigns Portico-Users to it on the Assignments page, and deletes one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { inPage, launchBrowser, openPage, saveScreenshot } from '../support/browser.ts';
import { fixtureUser } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';

const alice = fixtureUser('alice');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 740 };

interface OidcApplication {
  id: string;
  name: string;
  clientType: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  accessTokenLifetime: string;
  claimMappings: Array<{ claim: string; value: string }>;
  groupsClaim: { enabled: boolean; prefix?: string; assignedOnly: boolean };
  backchannelLogoutUri?: string;
  disabled: boolean;
}

const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name, exact: true });
const flash = (page: Page) => page.locator('#flash');
const expectText = async (locator: ReturnType<Page['locator']>, expected: string | RegExp) => locator.filter({ hasText: expected }).first().waitFor();

void describe('the console’s OIDC applications page, in Chromium against the Samba AD DC', () => {
  let target: SambaPortico;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let url: string;
  let wikiId = '';
  let firstSecret = '';
  let currentSecret = '';
  const screenshots: string[] = [];
  const shoot = async (name: string) => screenshots.push(await saveScreenshot(page, name));

  const api = async <T,>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${url}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T };
  };
  const applications = async () => new Map((await api<{ applications: OidcApplication[] }>('GET', '/oidc-applications')).body.applications.map((a) => [a.name, a]));
  /** The client credentials grant with this secret: 200 when Portico accepts it. */
  const tokenStatus = async (clientId: string, secret: string) => {
    const response = await fetch(`${url}/oidc/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const text = await response.text();
    if (response.status !== 200 && response.status !== 401) console.log(`token endpoint: ${response.status} ${text}`);
    return response.status;
  };
  const focused = () => inPage<string>(page, "document.activeElement ? document.activeElement.tagName + ' ' + (document.activeElement.getAttribute('name') ?? document.activeElement.textContent.trim()) : ''");
  const list = () => page.getByRole('table', { name: /^OIDC applications \(/ });

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

  it('alice signs in and opens OIDC applications from the menu: none yet', async () => {
    await page.goto(`${url}/console`);
    await page.waitForURL(/\/sign-in\?returnTo=%2Fconsole$/);
    await page.getByLabel('User name').fill(alice.upn);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${url}/console`);
    await heading(page, 'Directory').waitFor();
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'OIDC applications', exact: true }).click();
    await heading(page, 'OIDC applications').waitFor();
    assert.equal(await page.title(), 'OIDC applications · Portico console');
    await expectText(page.getByRole('table', { name: 'OIDC applications (0)' }), 'No OIDC applications yet.');
  });

  it('registers a confidential client with the keyboard: a refused redirect URI first, then the secret shown once, and it works', async () => {
    const form = page.getByRole('form', { name: 'Register an OIDC application' });
    await form.getByLabel('Name', { exact: true }).fill('Wiki');
    await form.getByLabel('Redirect URIs', { exact: true }).fill('http://wiki.corp.example.test/callback');
    await form.getByLabel('Client credentials (a machine client, no person; confidential only)').check();
    await form.getByLabel('Access token').fill('PT10M');
    await form.getByLabel('Claim mappings').fill('nickname = ${user:userName}');
    await form.getByLabel('Only groups whose name starts with').fill('Portico-');
    await form.getByLabel('Back-channel logout URI').fill('https://wiki.corp.example.test/backchannel');
    // Submitted with Enter from a text field, as a keyboard user does.
    await form.getByLabel('Only groups whose name starts with').press('Enter');
    const alert = form.getByRole('alert').filter({ hasText: 'redirectUris' });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /^redirectUris: /, 'the API message, as it is');
    assert.equal(await form.getByLabel('Redirect URIs', { exact: true }).getAttribute('aria-invalid'), 'true', 'the field named by the error is marked');
    assert.equal((await applications()).size, 0);

    // Two hosts with pairwise subjects (the default): refused, the provider could not serve it.
    await form.getByLabel('Redirect URIs', { exact: true }).fill('https://wiki.corp.example.test/callback\nhttp://127.0.0.1:8400/callback');
    await form.getByRole('button', { name: 'Register application' }).click();
    await expectText(form.getByRole('alert'), 'redirectUris: with pairwise subjects they must all be on one host (these are on wiki.corp.example.test, 127.0.0.1)');
    await form.getByLabel('Subject (sub)').selectOption('public');
    await form.getByLabel('Redirect URIs', { exact: true }).focus();
    // Tab to the submit button and press it with the keyboard.
    for (let i = 0; i < 60 && (await focused()) !== 'BUTTON Register application'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'BUTTON Register application');
    await page.keyboard.press('Enter');

    const panel = page.getByRole('region', { name: 'Client secret of Wiki' });
    await panel.waitFor();
    const wiki = (await applications()).get('Wiki');
    assert.ok(wiki);
    wikiId = wiki.id;
    assert.deepEqual(wiki.redirectUris, ['https://wiki.corp.example.test/callback', 'http://127.0.0.1:8400/callback']);
    assert.deepEqual(wiki.grantTypes, ['authorization_code', 'refresh_token', 'client_credentials']);
    assert.equal(wiki.accessTokenLifetime, 'PT10M');
    assert.deepEqual(wiki.claimMappings, [{ claim: 'nickname', value: '${user:userName}' }]);
    assert.deepEqual(wiki.groupsClaim, { enabled: true, assignedOnly: false, prefix: 'Portico-' });
    assert.equal(wiki.backchannelLogoutUri, 'https://wiki.corp.example.test/backchannel');
    assert.equal(await inPage<string>(page, "document.activeElement?.getAttribute('aria-labelledby') ? document.activeElement.tagName : ''"), 'SECTION', 'the panel with the secret takes the focus');
    assert.equal(await panel.getByLabel('Client ID').inputValue(), wikiId);
    firstSecret = await panel.getByLabel('Client secret').inputValue();
    assert.match(firstSecret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await tokenStatus(wikiId, firstSecret), 200, 'the secret shown is the one Portico accepts');
    await expectText(flash(page), `OIDC application Wiki registered (client ID ${wikiId}).`);
    await shoot('console-oidc-secret');

    await panel.getByRole('button', { name: 'I have stored the secret' }).click();
    assert.equal(await panel.count(), 0);
    await page.reload();
    await heading(page, 'OIDC applications').waitFor();
    await list().getByRole('row', { name: /Wiki/ }).waitFor();
    assert.equal((await page.content()).includes(firstSecret), false, 'the secret is not shown again');
    await expectText(list().getByRole('row', { name: /Wiki/ }).locator('td[data-label="Status"]'), 'Enabled');
  });

  it('registers a public client: no secret to show; client credentials are refused for it with the API message', async () => {
    const form = page.getByRole('form', { name: 'Register an OIDC application' });
    await form.getByLabel('Name', { exact: true }).fill('Dashboard');
    await form.getByLabel('Client type').selectOption('public');
    await form.getByLabel('Redirect URIs', { exact: true }).fill('http://localhost:5173/callback');
    await form.getByLabel('Client credentials (a machine client, no person; confidential only)').check();
    await form.getByRole('button', { name: 'Register application' }).click();
    await expectText(form.getByRole('alert'), 'grantTypes: client_credentials needs a confidential client');
    await form.getByLabel('Client credentials (a machine client, no person; confidential only)').uncheck();
    await form.getByRole('button', { name: 'Register application' }).click();
    await expectText(flash(page), /^OIDC application Dashboard registered/);
    assert.equal(await page.getByRole('region', { name: /^Client secret of/ }).count(), 0);
    const dashboard = (await applications()).get('Dashboard');
    assert.equal(dashboard?.clientType, 'public');
    await expectText(list().getByRole('row', { name: /Dashboard/ }).locator('td[data-label="Type"]'), 'Public');
    assert.equal(await form.getByLabel('Client type').inputValue(), 'confidential', 'the form is reset');
  });

  it('edit: the back-channel logout URI is cleared, a post-logout URI added; the list follows', async () => {
    await list().getByRole('link', { name: 'Edit Wiki' }).click();
    await heading(page, 'OIDC application Wiki').waitFor();
    const form = page.getByRole('form', { name: 'Edit the application' });
    assert.equal(await form.getByLabel('Back-channel logout URI').inputValue(), 'https://wiki.corp.example.test/backchannel');
    assert.equal(await form.getByLabel('Claim mappings').inputValue(), 'nickname = ${user:userName}');
    await form.getByLabel('Back-channel logout URI').fill('');
    await form.getByLabel('Post-logout redirect URIs').fill('https://wiki.corp.example.test/');
    await form.getByRole('button', { name: 'Save application' }).click();
    await heading(page, 'OIDC applications').waitFor();
    await expectText(flash(page), 'OIDC application Wiki saved.');
    const wiki = (await applications()).get('Wiki');
    assert.equal(wiki?.backchannelLogoutUri, undefined);
    assert.deepEqual(wiki?.postLogoutRedirectUris, ['https://wiki.corp.example.test/']);
    assert.deepEqual(wiki?.claimMappings, [{ claim: 'nickname', value: '${user:userName}' }], 'kept');
    await expectText(list().getByRole('row', { name: /Wiki/ }).locator('td[data-label="Back-channel logout"]'), '—');
  });

  it('rotate the secret after confirmation: the new one is shown once and works, the old one no longer does', async () => {
    await list().getByRole('link', { name: 'Edit Wiki' }).click();
    await heading(page, 'OIDC application Wiki').waitFor();
    await page.getByRole('button', { name: 'Rotate client secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate the client secret?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await tokenStatus(wikiId, firstSecret), 200, 'cancelled: the secret still works');
    await page.getByRole('button', { name: 'Rotate client secret' }).click();
    await dialog.getByRole('button', { name: 'Rotate secret' }).click();
    const panel = page.getByRole('region', { name: 'Client secret of Wiki' });
    await panel.waitFor();
    const secret = await panel.getByLabel('Client secret').inputValue();
    assert.notEqual(secret, firstSecret);
    assert.equal(await tokenStatus(wikiId, secret), 200);
    assert.equal(await tokenStatus(wikiId, firstSecret), 401);
    currentSecret = secret;
    await shoot('console-oidc-rotated');
  });

  it('disable after confirmation, then enable: the badge and the token endpoint follow', async () => {
    await page.getByRole('link', { name: '← All OIDC applications' }).click();
    await heading(page, 'OIDC applications').waitFor();
    await list().getByRole('button', { name: 'Disable Wiki' }).click();
    await page.getByRole('dialog', { name: 'Disable OIDC application?' }).getByRole('button', { name: 'Disable' }).click();
    await expectText(flash(page), 'OIDC application Wiki disabled.');
    await expectText(list().getByRole('row', { name: /Wiki/ }).locator('td[data-label="Status"]'), 'Disabled');
    assert.equal((await applications()).get('Wiki')?.disabled, true);
    assert.equal(await tokenStatus(wikiId, currentSecret), 401, 'a disabled client gets no tokens');
    await list().getByRole('button', { name: 'Enable Wiki' }).click();
    await expectText(flash(page), 'OIDC application Wiki enabled.');
    await expectText(list().getByRole('row', { name: /Wiki/ }).locator('td[data-label="Status"]'), 'Enabled');
    assert.equal((await applications()).get('Wiki')?.disabled, false);
    assert.equal(await tokenStatus(wikiId, currentSecret), 200);
  });

  it('the Assignments page offers OIDC applications: Portico-Users is assigned to Wiki', async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Assignments', exact: true }).click();
    await heading(page, 'Assignments').waitFor();
    await page.getByLabel('An application').check();
    await page.getByLabel('Application', { exact: true }).selectOption({ label: 'Wiki (OIDC)' });
    const picker = page.getByRole('combobox', { name: 'User or group' });
    await picker.click();
    await picker.pressSequentially('Portico-U', { delay: 60 });
    await page.getByRole('option', { name: /Group\s+Portico-Users@corp\.example\.test/ }).click();
    await page.getByRole('button', { name: 'Assign' }).click();
    await expectText(flash(page), 'Assigned group Portico-Users@corp.example.test to application Wiki.');
    const assignments = (await api<{ assignments: Array<{ target: { type: string; applicationId?: string } }> }>('GET', '/assignments')).body.assignments;
    assert.ok(assignments.some((a) => a.target.applicationId === wikiId));
  });

  it('delete: Wiki (assigned) is refused with the API message; Dashboard goes', async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'OIDC applications', exact: true }).click();
    await heading(page, 'OIDC applications').waitFor();
    await list().getByRole('button', { name: 'Delete Wiki' }).click();
    await page.getByRole('dialog', { name: 'Delete OIDC application?' }).getByRole('button', { name: 'Delete' }).click();
    await page.locator('#page > .alert').filter({ hasText: /assign/ }).waitFor();
    await list().getByRole('button', { name: 'Delete Dashboard' }).click();
    await page.getByRole('dialog', { name: 'Delete OIDC application?' }).getByRole('button', { name: 'Delete' }).click();
    await expectText(flash(page), 'OIDC application Dashboard deleted.');
    await page.getByRole('table', { name: 'OIDC applications (1)' }).waitFor();
    assert.deepEqual([...(await applications()).keys()], ['Wiki']);
  });

  it('at phone width (375 × 740): no horizontal scroll; no script errors or CSP violations', async () => {
    await page.setViewportSize(PHONE);
    try {
      await page.reload();
      await heading(page, 'OIDC applications').waitFor();
      const { scrollWidth, clientWidth } = await inPage<{ scrollWidth: number; clientWidth: number }>(page, '({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })');
      assert.ok(scrollWidth <= clientWidth, `the page scrolls sideways: ${scrollWidth}px wide in a ${clientWidth}px viewport`);
      await shoot('console-oidc-phone');
    } finally {
      await page.setViewportSize(DESKTOP);
    }
    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
  });
});
