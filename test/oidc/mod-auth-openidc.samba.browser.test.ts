/**
 * A real relying party: Apache httpd with mod_auth_openidc (Debian) protects a page with
 * Portico as its OpenID provider. Headless Chromium opens the page, lands on Portico's own
 * sign-in page, signs in as an AD user of the Samba DC and sees the page with the claims
 * mod_auth_openidc passes (OIDC_CLAIM_*); an unassigned user is refused at Portico; logout
 * through mod_auth_openidc ends both the relying party's and Portico's session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../../bench/portico-process.ts';
import { apacheRpUrls, startApacheRp, type ApacheRp } from '../support/apache-oidc.ts';
import { launchBrowser, openPage, saveScreenshot } from '../support/browser.ts';
import { fixtureUser } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi } from '../support/saml-http.ts';

const alice = fixtureUser('alice'); // Eng-Platform-SRE → Eng-Platform → Eng-All
const bob = fixtureUser('bob'); // Sales-Team: not assigned

let portico: SambaPortico | undefined;
let apache: ApacheRp | undefined;
let browser: Browser | undefined;
let base: string;
let token: string;
let clientId: string;

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

before(async () => {
  portico = await startSambaPortico();
  base = portico.app.url;
  token = portico.token;
  const port = await freePort();
  const urls = apacheRpUrls(port);
  const created = await adminApi<{ application: { id: string }; clientSecret: string }>(base, token, 'POST', '/oidc-applications', {
    name: 'Intranet',
    redirectUris: [urls.redirectUri],
    postLogoutRedirectUris: [urls.loggedOutUrl],
    groupsClaim: { prefix: 'Eng-' },
  });
  clientId = created.application.id;
  await adminApi(base, token, 'POST', '/assignments', { principal: { type: 'group', id: 'Eng-All@corp.example.test' }, target: { type: 'application', applicationId: clientId } });
  apache = await startApacheRp({ port, metadataUrl: `${base}/oidc/.well-known/openid-configuration`, clientId, clientSecret: created.clientSecret });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await apache?.stop();
  await portico?.stop();
});

describe('mod_auth_openidc (Apache) signs people in with Portico', () => {
  it('sends an AD user through Portico\'s sign-in page to the protected page, with the claims', async () => {
    assert.ok(browser && apache);
    const { context, page } = await openPage(browser, { width: 1024, height: 768 });
    try {
      await page.goto(`${apache.url}/protected/claims`);
      // Portico's own sign-in page, not a second login page of the provider.
      assert.equal(new URL(page.url()).origin, base);
      assert.equal(new URL(page.url()).pathname, '/sign-in');
      await signIn(page, alice.upn, alice.password);
      await page.waitForURL(`${apache.url}/protected/claims`);
      const text = (await page.textContent('body')) ?? '';
      assert.match(text, /protected page/);
      assert.match(text, new RegExp(`OIDC_CLAIM_email=${alice.mail}`));
      assert.match(text, new RegExp(`OIDC_CLAIM_preferred_username=${alice.upn}`));
      assert.match(text, /OIDC_CLAIM_groups=Eng-All,Eng-Platform,Eng-Platform-SRE/);
      assert.match(text, /OIDC_CLAIM_amr=pwd/);
      assert.match(text, new RegExp(`OIDC_CLAIM_iss=${base}/oidc`));
      assert.match(text, /OIDC_CLAIM_sub=[\w-]{20,}/);
      await saveScreenshot(page, 'oidc-mod-auth-openidc-claims');

      // Logout through the relying party: Portico asks, then ends its own session too.
      await page.goto(`${apache.url}/protected/redirect_uri?logout=${encodeURIComponent(apache.loggedOutUrl)}`);
      assert.equal(new URL(page.url()).origin, base);
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await page.waitForURL(apache.loggedOutUrl);
      const session = await page.request.get(`${base}/api/session`);
      assert.equal(session.status(), 401, 'the Portico session ended');
      // Both ended: the protected page asks for a sign-in at Portico again.
      await page.goto(`${apache.url}/protected/claims`);
      assert.equal(new URL(page.url()).pathname, '/sign-in');
    } catch (error) {
      await saveScreenshot(page, 'oidc-mod-auth-openidc-failure').catch(() => undefined);
      throw new Error(`${error instanceof Error ? error.message : String(error)}\nat ${page.url()}: ${((await page.textContent("body").catch(() => "")) ?? "").slice(0, 500)}\n--- apache error log ---\n${apache.errorLog().slice(-3000)}`);
    } finally {
      await context.close();
    }
  });

  it('refuses an AD user who is not assigned to the application at Portico', async () => {
    assert.ok(browser && apache);
    const { context, page } = await openPage(browser, { width: 1024, height: 768 });
    try {
      await page.goto(`${apache.url}/protected/claims`);
      await signIn(page, bob.upn, bob.password);
      await page.waitForLoadState();
      assert.equal(new URL(page.url()).origin, base);
      assert.match((await page.textContent('body')) ?? '', /You are not assigned to Intranet/);
      const events = await adminApi<{ events: Array<{ actor: string; errorCode: string | null; target: string | null }> }>(base, token, 'GET', '/audit?action=oidc.authorization.refused&limit=50');
      assert.ok(events.events.some((e) => e.actor === bob.upn && e.errorCode === 'access.not_assigned' && e.target === clientId));
      // And the protected page was never shown.
      const direct = await page.request.get(`${apache.url}/protected/claims`, { maxRedirects: 0 });
      assert.equal(direct.status(), 302);
    } finally {
      await context.close();
    }
  });
});
