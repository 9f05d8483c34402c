/**
 * Passkeys and security keys in headless Chromium through its virtual authenticator (CDP
 * WebAuthn.addVirtualAuthenticator), against Portico started for real (managed directory, demo
 * forest, SQLite) at http://localhost (an IP address cannot be a WebAuthn RP ID).
 *
 * - a platform passkey (ctap2, internal, resident key, user verification): alice registers it at
 *   her first sign-in, then signs in with it; the counter is kept.
 * - a cross-platform security key (ctap2, usb): bob registers and uses it.
 * - an application that demands a phishing-resistant factor opens with a passkey session.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { startApp, type PorticoApp } from '#src/app.ts';
import { configSchema } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { launchBrowser, type OpenedPage, openPage, saveScreenshot } from '../support/browser.ts';

const DESKTOP = { width: 1280, height: 800 };

describe('passkeys and security keys in Chromium (virtual authenticators)', () => {
  let dataDir: string | undefined;
  let app: PorticoApp | undefined;
  let browser: Browser | undefined;
  let adminToken = '';
  let base = '';
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<OpenedPage> {
    assert.ok(browser);
    const opened = await openPage(browser, DESKTOP);
    contexts.push(opened.context);
    return opened;
  }

  async function authenticator(page: Page, transport: 'internal' | 'usb'): Promise<{ cdp: CDPSession; authenticatorId: string }> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport, hasResidentKey: transport === 'internal', hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    return { cdp, authenticatorId };
  }

  async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${base}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
    return text === '' ? null : (JSON.parse(text) as unknown);
  }

  async function signIn(page: Page, username: string, returnTo = '/portal'): Promise<void> {
    await page.goto(`${base}/sign-in?returnTo=${encodeURIComponent(returnTo)}`);
    await page.getByLabel('User name').fill(username);
    await page.getByLabel('Password').fill(demoPassword);
    await Promise.all([page.waitForURL((u) => u.pathname !== '/sign-in'), page.getByRole('button', { name: 'Sign in' }).click()]);
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portico-mfa-webauthn-'));
    const config = configSchema.parse({ dataDir, http: { port: 0 }, log: { level: 'silent' }, managedDirectory: { listen: { ldapPort: 0, ldapsPort: 0 } } });
    const started = await Promise.allSettled([
      startApp(config, { showBootstrapToken: (token) => (adminToken = token) }).then((started) => (app = started)),
      launchBrowser().then((launched) => (browser = launched)),
    ]);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    base = (app?.url ?? '').replace('127.0.0.1', 'localhost');
    await admin('PUT', '/mfa/policy', { mode: 'always', withoutDevice: 'register-at-sign-in', factors: ['totp', 'webauthn'] });
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await app?.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('alice registers a platform passkey at her first sign-in, then signs in with it', async () => {
    const { page, context, problems } = await newPage();
    const { cdp, authenticatorId } = await authenticator(page, 'internal');
    await signIn(page, 'alice@portico.test');
    assert.equal(new URL(page.url()).pathname, '/mfa/enrol');
    await page.getByRole('button', { name: 'Register a passkey or security key' }).click();
    await page.locator('#recovery-codes').waitFor();
    assert.equal((await page.locator('#recovery-codes li').count()), 10);
    await saveScreenshot(page, 'mfa-passkey-registered');
    await Promise.all([page.waitForURL(`${base}/portal`), page.locator('#continue').click()]);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]?.isResidentCredential, true, 'a discoverable credential');

    const devices = (await admin('GET', '/users/alice@portico.test/mfa-devices')) as { devices: Array<{ type: string; lastUsedAt: string | null }> };
    assert.deepEqual(devices.devices.map((d) => d.type), ['webauthn']);

    // Signed out; the next sign-in asks for the passkey, which the same authenticator gives.
    await context.clearCookies({ name: 'portico_session' });
    await signIn(page, 'alice@portico.test');
    assert.equal(new URL(page.url()).pathname, '/mfa');
    await Promise.all([page.waitForURL(`${base}/portal`), page.getByRole('button', { name: 'Use a passkey or security key' }).click()]);
    const session = await page.request.get(`${base}/api/session`);
    assert.equal(session.status(), 200);
    const after = (await admin('GET', '/users/alice@portico.test/mfa-devices')) as { devices: Array<{ lastUsedAt: string | null }> };
    assert.ok(after.devices[0]?.lastUsedAt, 'the last use is recorded');
    assert.deepEqual(problems, []);
  });

  it('bob registers a cross-platform security key (usb), signs in with it, and opens an application that demands a phishing-resistant factor', async () => {
    const { id: wikiId } = (await admin('POST', '/applications', { name: 'Wiki', entityId: 'https://wiki.webauthn.test/saml', acsUrls: ['https://wiki.webauthn.test/acs'] })) as { id: string };
    await admin('POST', '/assignments', { principal: { type: 'user', id: 'bob@portico.test' }, target: { type: 'application', applicationId: wikiId } });
    await admin('PUT', '/mfa/policy', { applications: { [wikiId]: 'phishing-resistant' } });

    const { page, context, problems } = await newPage();
    const { cdp, authenticatorId } = await authenticator(page, 'usb');
    await signIn(page, 'bob@portico.test');
    await page.getByRole('button', { name: 'Register a passkey or security key' }).click();
    await page.locator('#recovery-codes').waitFor();
    await Promise.all([page.waitForURL(`${base}/portal`), page.locator('#continue').click()]);
    const registered = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    assert.equal(registered.length, 1);
    assert.equal(registered[0]?.isResidentCredential, false, 'a security key without resident keys: a non-discoverable credential');

    await context.clearCookies({ name: 'portico_session' });
    await signIn(page, 'bob@portico.test', `/portal/applications/${wikiId}`);
    assert.equal(new URL(page.url()).pathname, '/mfa');
    // The key signs; the application's POST page posts the assertion to its ACS, caught here.
    let posted = '';
    await page.route('https://wiki.webauthn.test/**', (route) => {
      posted = route.request().postData() ?? '';
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Wiki</title><p>ACS reached</p>' });
    });
    await Promise.all([page.waitForURL('https://wiki.webauthn.test/acs'), page.getByRole('button', { name: 'Use a passkey or security key' }).click()]);
    const xml = Buffer.from(new URLSearchParams(posted).get('SAMLResponse') ?? '', 'base64').toString('utf8');
    assert.match(xml, /<saml:AuthnContextClassRef>https:\/\/refeds\.org\/profile\/mfa<\/saml:AuthnContextClassRef>/);
    const signCount = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]?.signCount ?? 0;
    assert.ok(signCount >= 2, `the authenticator counted its signatures (${signCount})`);
    assert.deepEqual(problems.filter((p) => !p.includes('wiki.webauthn.test')), []);
  });
});
