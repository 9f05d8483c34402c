/**
 * The portal in headless Chromium against the real Samba AD DC, with a service provider built on
 * node-saml on loopback: going to the application sends alice to Portico's sign-in and back to
 * the application with a valid assertion; the portal shows exactly what she is assigned (not
 * what Sales is), search narrows it, the console link lands on the (stand-in) AWS sign-in with
 * her role, the keyboard alone reaches everything, nothing scrolls sideways at phone width.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { inPage, launchBrowser, type OpenedPage, openPage, saveScreenshot } from '../support/browser.ts';
import { fixtureUser } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi, get } from '../support/saml-http.ts';
import { startServiceProvider, type TestServiceProvider } from '../support/saml-sp-server.ts';

const alice = fixtureUser('alice'); // Eng-Platform-SRE → Eng-Platform → Eng-All
const bob = fixtureUser('bob'); // Sales-Team
const PHONE = { width: 375, height: 740 };

describe('the portal in Chromium (Samba AD, a node-saml service provider)', () => {
  let portico: SambaPortico | undefined;
  let sp: TestServiceProvider | undefined;
  let browser: Browser | undefined;
  let idpCertificate = '';
  const contexts: BrowserContext[] = [];
  const url = (path: string) => `${portico?.app.url ?? ''}${path}`;

  async function newPage(viewport = { width: 1280, height: 800 }): Promise<OpenedPage> {
    assert.ok(browser);
    const opened = await openPage(browser, viewport);
    contexts.push(opened.context);
    return opened;
  }

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.getByLabel('User name').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  before(async () => {
    // Nothing listens there: the command-line page shows STS's failure (aws-sso-cli.samba.browser.test.ts covers real credentials).
    portico = await startSambaPortico({ PORTICO_AWSSSO__STS__ENDPOINT: 'http://127.0.0.1:9' });
    const { token } = portico;
    const base = portico.app.url;
    idpCertificate = /<ds:X509Certificate>([^<]+)</.exec((await get(`${base}/saml/metadata`)).text)?.[1] ?? '';
    sp = await startServiceProvider({ idpBaseUrl: base, idpCertificates: () => [idpCertificate] });
    const { table } = await adminApi<{ table: Record<string, string> }>(base, token, 'GET', '/mappings');
    await adminApi(base, token, 'PUT', '/mappings', { table: { ...table, middleName: '${dir:initials|""}' } });

    const wiki = await adminApi<{ id: string }>(base, token, 'POST', '/applications', {
      name: 'Wiki',
      description: 'Team knowledge base',
      entityId: sp.entityId,
      acsUrls: [sp.acsUrl],
      relayState: '/app/home',
      attributeMappings: [{ name: 'email', value: '${user:email}' }],
    });
    const payroll = await adminApi<{ id: string }>(base, token, 'POST', '/applications', { name: 'Payroll', entityId: 'https://payroll.browser.test', acsUrls: ['https://payroll.browser.test/acs'] });
    await adminApi(base, token, 'POST', '/accounts', { id: '111122223333', name: 'Production', email: 'aws-prod@example.test', signInUrl: sp.awsSignInUrl });
    await adminApi(base, token, 'POST', '/accounts', { id: '444455556666', name: 'Sales sandbox', email: 'aws-sales@example.test' });
    const readOnly = await adminApi<{ id: string }>(base, token, 'POST', '/permission-sets', { name: 'ReadOnly', description: 'Look, do not touch', relayState: 'https://console.aws.amazon.com/ec2/home' });
    const admin = await adminApi<{ id: string }>(base, token, 'POST', '/permission-sets', { name: 'PowerUser', description: 'Build and run' });
    const assign = (group: string, target: Record<string, string>) => adminApi(base, token, 'POST', '/assignments', { principal: { type: 'group', id: `${group}@corp.example.test` }, target });
    await assign('Eng-All', { type: 'application', applicationId: wiki.id });
    await assign('Sales-Team', { type: 'application', applicationId: payroll.id });
    await assign('Eng-Platform', { type: 'account', accountId: '111122223333', permissionSetId: readOnly.id });
    await assign('Eng-Platform-SRE', { type: 'account', accountId: '111122223333', permissionSetId: admin.id });
    await assign('Sales-Team', { type: 'account', accountId: '444455556666', permissionSetId: readOnly.id });
    browser = await launchBrowser();
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await sp?.close();
    await portico?.stop();
  });

  it('going to the application: sign in at Portico, land on the application with a valid assertion', async () => {
    assert.ok(sp);
    const { page, problems } = await newPage();
    await page.goto(`${sp.url}/app`);
    await page.waitForURL((target) => target.pathname === '/sign-in');
    await signIn(page, alice.upn, alice.password);
    await page.waitForURL(`${sp.url}/acs`);
    assert.equal(await page.locator('#who').innerText(), `Welcome ${alice.mail}`, await page.content());
    assert.equal(await page.locator('#relay').innerText(), '/app');
    await saveScreenshot(page, 'portal-sp-landed');
    assert.deepEqual(problems, []);
  });

  it('shows exactly what is assigned, searches it, and opens the application and the console', async () => {
    assert.ok(sp);
    const { page, problems } = await newPage();
    await page.goto(url('/portal'));
    await signIn(page, alice.upn, alice.password);
    await page.waitForURL(url('/portal'));
    assert.match(await page.locator('.who').innerText(), /Signed in as Alice Anderson \(alice@corp\.example\.test\)/);
    assert.deepEqual(await page.locator('.account-name').allInnerTexts(), ['Production']);
    assert.deepEqual(await page.locator('.app-name').allInnerTexts(), ['Wiki']);
    await saveScreenshot(page, 'portal-desktop');

    // A single account starts open: both permission sets, one through a deeper group.
    assert.equal(await page.locator('li.account details').getAttribute('open'), '');
    assert.deepEqual(await page.locator('.role-name').allInnerTexts(), ['PowerUser', 'ReadOnly']);

    // Live search narrows the lists as you type.
    await page.getByLabel('Search accounts and applications').fill('wiki');
    assert.equal(await page.locator('li.account:visible').count(), 0);
    assert.equal(await page.locator('li.app:visible').count(), 1);
    await page.getByLabel('Search accounts and applications').fill('readonly');
    assert.deepEqual(await page.locator('.role-name:visible').allInnerTexts(), ['ReadOnly']);
    await page.getByLabel('Search accounts and applications').fill('nothing like this');
    assert.ok(await page.locator('.no-match').isVisible());
    await page.getByLabel('Search accounts and applications').fill('');

    // The console: an assertion posted to the account's sign-in endpoint.
    await page.locator('li.role', { hasText: 'ReadOnly' }).getByRole('link', { name: 'Management console' }).click();
    await page.waitForURL(sp.awsSignInUrl);
    assert.equal(await page.locator('#role').innerText(), 'arn:aws:iam::111122223333:role/ReadOnly,arn:aws:iam::111122223333:saml-provider/Portico');
    assert.equal(await page.locator('#session').innerText(), alice.upn);
    assert.equal(await page.locator('#relay').innerText(), 'https://console.aws.amazon.com/ec2/home');

    // The tile: IdP-initiated, with the application's relay state.
    await page.goto(url('/portal'));
    await page.getByRole('link', { name: /Wiki/ }).click();
    await page.waitForURL(`${sp.url}/acs`);
    assert.equal(await page.locator('#who').innerText(), `Welcome ${alice.mail}`);
    assert.equal(await page.locator('#relay').innerText(), '/app/home');

    // Command line: the `aws configure sso` values, and STS's failure said on the page.
    await page.goto(url('/portal'));
    await page.locator('li.role', { hasText: 'PowerUser' }).getByRole('link', { name: 'Command line or programmatic access' }).click();
    assert.equal(await page.locator('#start-url').innerText(), url('/portal'));
    assert.match(await page.locator('.alert').innerText(), /could not get credentials for this role: STS could not be reached/);
    assert.deepEqual(problems, []);
  });

  it('works with the keyboard alone at phone width, and signs out', async () => {
    const { page, problems } = await newPage(PHONE);
    await page.goto(url('/portal'));
    await signIn(page, alice.upn, alice.password);
    await page.waitForURL(url('/portal'));
    assert.equal(await inPage<number>(page, 'document.documentElement.scrollWidth - document.documentElement.clientWidth'), 0, 'no horizontal scroll at 375 px');

    // Tab through: sign-out button, search box, the account's summary (Enter opens it), its links.
    const focused = () => inPage<string>(page, "(document.activeElement?.id || document.activeElement?.textContent || '').trim().slice(0, 40)");
    const reach = async (wanted: RegExp) => {
      const seen: string[] = [];
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press('Tab');
        const now = await focused();
        seen.push(now);
        if (wanted.test(now)) return;
      }
      assert.fail(`Tab never reached ${wanted}; focus went ${seen.join(' → ')}`);
    };
    await reach(/^q$/);
    await page.keyboard.type('prod');
    await reach(/Production/);
    const open = () => inPage<boolean>(page, "document.querySelector('li.account details').open");
    assert.equal(await open(), true, 'a search opens the matching accounts');
    await page.keyboard.press('Enter');
    assert.equal(await open(), false, 'Enter closes the account');
    await page.keyboard.press('Enter');
    assert.equal(await open(), true, 'and opens it again');
    await reach(/^Management console$/);
    await saveScreenshot(page, 'portal-phone');
    assert.equal(await inPage<number>(page, 'document.documentElement.scrollWidth - document.documentElement.clientWidth'), 0, 'still no horizontal scroll with the account open');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((target) => target.pathname === '/sign-in');
    await page.goto(url('/portal'));
    await page.waitForURL((target) => target.pathname === '/sign-in', { timeout: 5_000 });
    assert.deepEqual(problems, []);
  });

  it('bob sees only what Sales is given, and the application refuses him with a page', async () => {
    assert.ok(sp);
    const { page } = await newPage();
    await page.goto(url('/portal'));
    await signIn(page, bob.upn, bob.password);
    await page.waitForURL(url('/portal'));
    assert.deepEqual(await page.locator('.account-name').allInnerTexts(), ['Sales sandbox']);
    assert.deepEqual(await page.locator('.app-name').allInnerTexts(), ['Payroll']);
    await page.goto(`${sp.url}/app`);
    await page.waitForURL((target) => target.pathname === '/saml/sso');
    assert.match(await page.locator('h1').innerText(), /No access/);
    assert.match(await page.locator('[role=alert]').innerText(), /not assigned to Wiki/);
    await saveScreenshot(page, 'portal-no-access');
  });
});
