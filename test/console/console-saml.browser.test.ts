/**
 * The console's SAML pages end to end, in headless Chromium against the real Samba AD DC: alice
 * (in Portico-Admins) opens the Identity provider page, rotates the signing key through it
 * (stage with the keyboard → activate after confirmation → retire), with the metadata following;
 * pasted key material that does not match shows the API's message; the page fits a phone; an
 * application gets "Sign the Response too" and a logout URL through the forms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { generateSelfSignedCertificate } from '#src/shared/certificates.ts';
import { inPage, launchBrowser, openPage, saveScreenshot } from '../support/browser.ts';
import { fixtureUser } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';

const alice = fixtureUser('alice');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 740 };

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const spMetadata = (host: string) => `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="${MD}" entityID="https://${host}/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://${host}/saml/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`;

interface Certificate {
  id: string;
  state: 'current' | 'next' | 'previous';
  sha256: string;
  certificatePem: string;
}
interface IdentityProvider {
  entityId: string;
  metadataUrl: string;
  ssoUrl: string;
  sloUrl: string;
  certificates: Certificate[];
}
interface Application {
  name: string;
  signResponse: boolean;
  logoutUrl?: string;
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

async function noHorizontalScroll(page: Page): Promise<void> {
  const { scrollWidth, clientWidth } = await inPage<{ scrollWidth: number; clientWidth: number }>(
    page,
    '({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })',
  );
  assert.ok(scrollWidth <= clientWidth, `the page scrolls sideways: ${scrollWidth}px wide in a ${clientWidth}px viewport`);
}

/** The base64 body of a PEM certificate, as the metadata carries it. */
const base64Of = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

void describe('the console’s identity provider page and SAML application fields, in Chromium against the Samba AD DC', () => {
  let target: SambaPortico;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let url: string;
  const screenshots: string[] = [];
  const shoot = async (name: string) => screenshots.push(await saveScreenshot(page, name));

  /** The admin API itself, with the bootstrap token, to compare what the console shows. */
  const api = async <T = { error?: { message: string } }>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const identityProvider = async () => (await api<IdentityProvider>('GET', '/saml')).body;
  const metadataCertificates = async () => {
    const response = await fetch(`${url}/saml/metadata`);
    assert.equal(response.status, 200);
    return [...(await response.text()).matchAll(/<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/g)].map((match) => match[1]);
  };

  const certificates = () => page.getByRole('table', { name: /^Signing certificates/ });
  /** The console's rows as [state, SHA-256], once the table has `count` rows. */
  async function shownCertificates(count: number): Promise<Array<[string, string]>> {
    await page.getByRole('table', { name: `Signing certificates (${count})` }).waitFor();
    const rows = await certificates().locator('tbody tr').all();
    return Promise.all(
      rows.map(async (row) => [((await row.locator('td[data-label="State"] .badge').textContent()) ?? '').trim(), ((await row.locator('td[data-label="SHA-256"]').textContent()) ?? '').trim()] as [string, string]),
    );
  }
  const button = (name: string) => page.getByRole('button', { name, exact: true });

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

  it('alice signs in and opens the Identity provider page: endpoints, the metadata link and one current certificate', async () => {
    await page.goto(`${url}/console`);
    await page.waitForURL(/\/sign-in\?returnTo=%2Fconsole$/);
    await page.getByLabel('User name').fill(alice.upn);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${url}/console`);
    await heading(page, 'Directory').waitFor();

    await openSection(page, 'Identity provider');
    assert.equal(await page.title(), 'Identity provider · Portico console');
    assert.match(page.url(), /#\/identity-provider$/);
    const idp = await identityProvider();
    assert.equal(idp.metadataUrl, `${url}/saml/metadata`);
    const endpoints = page.getByRole('region', { name: 'Endpoints' });
    await expectText(endpoints.locator('dd'), idp.entityId);
    await expectText(endpoints.locator('dd'), idp.ssoUrl);
    await expectText(endpoints.locator('dd'), idp.sloUrl);
    assert.equal(await endpoints.getByRole('link', { name: idp.metadataUrl }).getAttribute('href'), idp.metadataUrl);
    const copy = page.getByLabel('Metadata URL, to copy');
    assert.equal(await copy.inputValue(), idp.metadataUrl);
    assert.equal(await copy.getAttribute('readonly'), '');
    await copy.focus();
    assert.equal(await inPage<string>(page, 'String(window.getSelection())'), idp.metadataUrl, 'focusing the field selects the URL for copying');

    const [current] = idp.certificates;
    assert.equal(idp.certificates.length, 1);
    assert.deepEqual(await shownCertificates(1), [['Current', current?.sha256]]);
    assert.equal(await button('Stage next key').count(), 1);
    assert.equal(await button('Activate next key').count(), 0, 'nothing to activate');
    assert.equal(await button('Retire previous key').count(), 0, 'nothing to retire');
    await shoot('console-saml-idp');
  });

  it('stage with the keyboard: two rows (current + next), and the metadata lists both certificates', async () => {
    const before = await identityProvider();
    await page.reload();
    await heading(page, 'Identity provider').waitFor();
    await shownCertificates(1);
    // From the top of the page, with Tab: the metadata link, the field to copy, then the button.
    const focused = () => inPage<string>(page, "document.activeElement ? document.activeElement.tagName + ' ' + document.activeElement.textContent.trim() : ''");
    for (let i = 0; i < 40 && (await focused()) !== 'BUTTON Stage next key'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'BUTTON Stage next key');
    const outline = await inPage<string>(page, 'getComputedStyle(document.activeElement).outlineStyle');
    assert.notEqual(outline, 'none', 'the focused button shows it');
    await page.keyboard.press('Enter');
    await expectText(flash(page), /^Next key staged \(SHA-256 /);
    const shown = await shownCertificates(2);
    const idp = await identityProvider();
    assert.deepEqual(shown, idp.certificates.map((c) => [c.state === 'current' ? 'Current' : 'Next', c.sha256]));
    assert.deepEqual(idp.certificates.map((c) => c.state), ['current', 'next']);
    assert.equal(idp.certificates[0]?.sha256, before.certificates[0]?.sha256, 'the current key did not change');
    assert.deepEqual(await metadataCertificates(), idp.certificates.map((c) => base64Of(c.certificatePem)));

    assert.equal(await button('Stage next key').count(), 0, 'a next key is already staged');
    assert.equal(await page.getByRole('form', { name: 'Stage your own key' }).count(), 0);
    assert.equal(await button('Activate next key').count(), 1);
    assert.equal(await button('Retire previous key').count(), 0);
    await shoot('console-saml-staged');
  });

  it('activate after confirmation: current + previous, and the current SHA-256 is the former next one', async () => {
    const staged = await identityProvider();
    await button('Activate next key').click();
    const dialog = page.getByRole('dialog', { name: 'Activate the next key?' });
    await expectText(dialog, staged.certificates[1]?.sha256 ?? 'missing');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.deepEqual((await shownCertificates(2)).map(([state]) => state), ['Current', 'Next'], 'cancelled: nothing changed');

    await button('Activate next key').click();
    await dialog.getByRole('button', { name: 'Activate next key' }).click();
    await expectText(flash(page), /^The next key signs now/);
    const shown = await shownCertificates(2);
    assert.deepEqual(shown.map(([state]) => state), ['Current', 'Previous']);
    const [current, previous] = shown.map(([, sha256]) => sha256);
    assert.notEqual(current, staged.certificates[0]?.sha256, 'the SHA-256 of the current key changed');
    assert.equal(current, staged.certificates[1]?.sha256);
    assert.equal(previous, staged.certificates[0]?.sha256);
    assert.equal(await inPage<string | undefined>(page, 'document.activeElement?.tagName'), 'H1', 'the focus is back on the page heading');
    assert.equal(await button('Stage next key').count(), 1);
    assert.equal(await button('Activate next key').count(), 0);
    assert.equal(await button('Retire previous key').count(), 1);
    await shoot('console-saml-activated');
  });

  it('at phone width (375 × 740): no horizontal scroll on the Identity provider page', async () => {
    await page.setViewportSize(PHONE);
    try {
      await page.reload();
      await heading(page, 'Identity provider').waitFor();
      await shownCertificates(2);
      await noHorizontalScroll(page);
      await shoot('console-saml-phone');
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });

  it('retire after confirmation: one row; the metadata lists one certificate', async () => {
    await button('Retire previous key').click();
    const dialog = page.getByRole('dialog', { name: 'Retire the previous key?' });
    await dialog.getByRole('button', { name: 'Retire previous key' }).click();
    await expectText(flash(page), /^Previous key retired/);
    const idp = await identityProvider();
    assert.deepEqual(await shownCertificates(1), [['Current', idp.certificates[0]?.sha256]]);
    assert.deepEqual(await metadataCertificates(), [base64Of(idp.certificates[0]?.certificatePem ?? '')]);
    assert.equal(await button('Retire previous key').count(), 0);
    assert.equal(await button('Stage next key').count(), 1);
  });

  it('a pasted key with a certificate that is not its own shows the API message; a matching pair is staged', async () => {
    const one = generateSelfSignedCertificate({ commonName: 'Console test one', altNames: [], validDays: 30 });
    const two = generateSelfSignedCertificate({ commonName: 'Console test two', altNames: [], validDays: 30 });
    const form = page.getByRole('form', { name: 'Stage your own key' });
    await form.getByRole('button', { name: 'Stage this key' }).click();
    await expectText(form.getByRole('alert'), 'keyPem: paste the private key');
    assert.equal(await form.getByLabel('Private key (PEM)').getAttribute('aria-invalid'), 'true');

    await form.getByLabel('Private key (PEM)').fill(one.keyPem);
    await form.getByLabel('Certificate (PEM)').fill(two.certPem);
    await form.getByRole('button', { name: 'Stage this key' }).click();
    const alert = form.getByRole('alert').filter({ hasText: 'belong' });
    await alert.waitFor();
    const refused = await api('POST', '/saml/certificates', { keyPem: one.keyPem, certificatePem: two.certPem });
    assert.equal(refused.status, 400);
    assert.equal(await alert.textContent(), refused.body.error?.message, 'the API message, as it is');
    assert.equal(await alert.textContent(), 'the certificate does not belong to the key');
    await shownCertificates(1);
    await shoot('console-saml-key-mismatch');

    await form.getByLabel('Certificate (PEM)').fill(one.certPem);
    await form.getByRole('button', { name: 'Stage this key' }).click();
    await expectText(flash(page), /^Your key is staged as the next key/);
    const idp = await identityProvider();
    assert.deepEqual(idp.certificates.map((c) => c.state), ['current', 'next']);
    assert.equal(base64Of(idp.certificates[1]?.certificatePem ?? ''), base64Of(one.certPem));
    assert.deepEqual((await shownCertificates(2)).map(([state]) => state), ['Current', 'Next']);
  });

  it('applications: "Sign the Response too" and a logout URL through the forms, shown in the list', async () => {
    await openSection(page, 'Applications');
    const byHand = page.getByRole('form', { name: 'Add by hand' });
    await byHand.getByLabel('Name', { exact: true }).fill('Jira');
    await byHand.getByLabel('Entity ID').fill('https://jira.corp.example.test/saml');
    await byHand.getByLabel('ACS URLs').fill('https://jira.corp.example.test/acs');
    await byHand.getByLabel('Logout URL').fill('http://jira.corp.example.test/slo');
    await byHand.getByLabel('Sign the Response too').check();
    await byHand.getByRole('button', { name: 'Add application' }).click();
    await expectText(byHand.getByRole('alert'), /^logoutUrl: /);
    assert.equal(await byHand.getByLabel('Logout URL').getAttribute('aria-invalid'), 'true', 'the field named by the error is marked');
    await byHand.getByLabel('Logout URL').fill('https://jira.corp.example.test/slo');
    await byHand.getByRole('button', { name: 'Add application' }).click();
    await expectText(flash(page), 'Application Jira added.');
    assert.equal(await byHand.getByLabel('Sign the Response too').isChecked(), false, 'the form is reset');

    const metadataForm = page.getByRole('form', { name: 'Add from SP metadata' });
    await metadataForm.getByLabel('Name', { exact: true }).fill('Wiki');
    await metadataForm.getByLabel('SP metadata XML').fill(spMetadata('wiki.corp.example.test'));
    await metadataForm.getByLabel('Sign the Response too').check();
    await metadataForm.getByRole('button', { name: 'Add from metadata' }).click();
    await expectText(flash(page), 'Application Wiki added (entity ID https://wiki.corp.example.test/saml).');

    const byHandPlain = { name: 'Plain', entityId: 'https://plain.corp.example.test/saml', acs: 'https://plain.corp.example.test/acs' };
    await byHand.getByLabel('Name', { exact: true }).fill(byHandPlain.name);
    await byHand.getByLabel('Entity ID').fill(byHandPlain.entityId);
    await byHand.getByLabel('ACS URLs').fill(byHandPlain.acs);
    await byHand.getByRole('button', { name: 'Add application' }).click();
    await expectText(flash(page), 'Application Plain added.');

    const { body } = await api<{ applications: Application[] }>('GET', '/applications');
    const byName = new Map(body.applications.map((a) => [a.name, a]));
    assert.equal(byName.get('Jira')?.signResponse, true);
    assert.equal(byName.get('Jira')?.logoutUrl, 'https://jira.corp.example.test/slo');
    assert.equal(byName.get('Wiki')?.signResponse, true);
    assert.equal(byName.get('Plain')?.signResponse, false);
    assert.equal(byName.get('Plain')?.logoutUrl, undefined);

    const list = page.getByRole('table', { name: /Applications \(3\)/ });
    const jira = list.getByRole('row', { name: /Jira/ });
    await expectText(jira.locator('td[data-label="Signed Response"]'), 'Yes');
    await expectText(jira.locator('td[data-label="Logout URL"]'), 'https://jira.corp.example.test/slo');
    await expectText(list.getByRole('row', { name: /Plain/ }).locator('td[data-label="Signed Response"]'), 'No');
    await shoot('console-saml-applications');
    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
  });
});
