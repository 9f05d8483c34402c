/**
 * Logout CSRF (issue 12) in a real browser: Chromium sets Sec-Fetch-Site itself, so this checks
 * the headers Portico relies on, not ones a test wrote. A page on another site (served from
 * `localhost` while Portico is `127.0.0.1`) sends the browser to an unsigned LogoutRequest of a
 * registered application: the session survives and the person is asked; confirming signs out.
 * The same request started from one of Portico's own pages ends the session at once.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchBrowser, openPage } from '../support/browser.ts';
import { fixtureUser } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi, get, postedForm, signInCookie } from '../support/saml-http.ts';

const alice = fixtureUser('alice');
const ENTITY_ID = 'https://unsigned-logout.browser.test/saml';
const ACS = 'http://127.0.0.1:9/unsigned-logout/acs';

describe('unsigned single logout in Chromium', () => {
  let portico: SambaPortico | undefined;
  let browser: Browser | undefined;
  let evil: Server | undefined;
  let evilUrl = '';
  let sp: SAML;
  const contexts: BrowserContext[] = [];

  /** A browser context holding a fresh session of alice, and an unsigned LogoutRequest URL naming it. */
  async function signedInBrowser(): Promise<{ context: BrowserContext; cookie: string; logoutUrl: string }> {
    assert.ok(portico && browser);
    const base = portico.app.url;
    const cookie = await signInCookie(base, alice.upn, alice.password);
    const { profile } = await sp.validatePostResponseAsync(postedForm((await get(await sp.getAuthorizeUrlAsync('', undefined, {}), cookie)).text).fields);
    assert.ok(profile);
    const logoutUrl = await sp.getLogoutUrlAsync(profile, '', {});
    assert.doesNotMatch(logoutUrl, /Signature=/, 'the application signs nothing');
    const { context } = await openPage(browser, { width: 1024, height: 700 });
    contexts.push(context);
    const [name = '', value = ''] = cookie.split('=');
    await context.addCookies([{ name, value, url: base, httpOnly: true, sameSite: 'Lax' }]);
    return { context, cookie, logoutUrl };
  }

  const sessionAlive = async (cookie: string) => (await fetch(`${portico?.app.url ?? ''}/api/session`, { headers: { cookie } })).status === 200;

  before(async () => {
    portico = await startSambaPortico();
    const base = portico.app.url;
    await adminApi(base, portico.token, 'POST', '/applications', { name: 'Unsigned Wiki', entityId: ENTITY_ID, acsUrls: [ACS] });
    await adminApi(base, portico.token, 'POST', '/assignments', { principal: { type: 'user', id: alice.upn }, target: { type: 'application', applicationId: (await adminApi<{ applications: Array<{ id: string; entityId: string }> }>(base, portico.token, 'GET', '/applications')).applications.find((a) => a.entityId === ENTITY_ID)?.id } });
    const idpCert = /<ds:X509Certificate>([^<]+)</.exec((await get(`${base}/saml/metadata`)).text)?.[1] ?? '';
    sp = new SAML({
      callbackUrl: ACS,
      entryPoint: `${base}/saml/sso`,
      logoutUrl: `${base}/saml/slo`,
      issuer: ENTITY_ID,
      audience: ENTITY_ID,
      idpIssuer: `${base}/saml/metadata`,
      idpCert,
      identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      validateInResponseTo: ValidateInResponseTo.never,
    });
    // Another site: a page that sends the browser to whatever URL it is given.
    evil = createServer((request, response) => {
      const target = new URL(request.url ?? '/', 'http://localhost').searchParams.get('go') ?? '';
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>Cute cats</title><a id="go" href="${target.replace(/"/g, '&quot;')}">cats</a>`);
    });
    await new Promise<void>((resolve) => evil?.listen(0, '127.0.0.1', resolve));
    evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}/`;
    browser = await launchBrowser();
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await new Promise((resolve) => evil?.close(resolve));
    await portico?.stop();
  });

  it('from another site: the session survives, the person is asked, and confirming signs out', async () => {
    const { context, cookie, logoutUrl } = await signedInBrowser();
    const page = await context.newPage();
    await page.goto(`${evilUrl}?go=${encodeURIComponent(logoutUrl)}`);
    await page.click('#go');
    await page.getByRole('heading', { name: 'Sign out of Portico?' }).waitFor();
    assert.equal(await sessionAlive(cookie), true, 'a link on another site did not end the session');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    assert.equal(await sessionAlive(cookie), false, 'the confirmation ended it');
  });

  it('typed or bookmarked (no referring site) is asked too', async () => {
    const { context, cookie, logoutUrl } = await signedInBrowser();
    const page = await context.newPage();
    await page.goto(logoutUrl);
    await page.getByRole('heading', { name: 'Sign out of Portico?' }).waitFor();
    await page.getByRole('link', { name: 'Stay signed in' }).click();
    await page.waitForURL(/\/portal/);
    assert.equal(await sessionAlive(cookie), true);
  });

  it("from one of Portico's own pages: signed out at once", async () => {
    const { context, cookie, logoutUrl } = await signedInBrowser();
    const page = await context.newPage();
    await page.goto(`${portico?.app.url ?? ''}/portal`);
    await page.evaluate(`location.assign(${JSON.stringify(logoutUrl)})`);
    await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    assert.equal(await sessionAlive(cookie), false);
  });
});
