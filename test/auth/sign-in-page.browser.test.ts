/**
 * The sign-in page in headless Chromium, against Portico started for real on its embedded default
 * (the managed directory provisioned with the demo forest, SQLite): alice signs in with the
 * keyboard alone and her session is there; the page fits a phone; a wrong password is told in the
 * alert and the user name is kept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startApp, type PorticoApp } from '#src/app.ts';
import { configSchema } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { inPage, launchBrowser, type OpenedPage, openPage, saveScreenshot } from '../support/browser.ts';

const ALICE = 'alice@portico.test';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 740 };

const focusedId = (page: Page) => inPage<string>(page, "document.activeElement?.id || document.activeElement?.tagName || ''");

/** Moves the focus to `id` with Tab from wherever the page put it (autofocus counts); fails with the path taken. */
async function tabTo(page: Page, id: string): Promise<void> {
  const path = [await focusedId(page)];
  for (let presses = 0; path.at(-1) !== id; presses++) {
    assert.ok(presses < 5, `Tab never reached #${id}; focus went ${path.join(' → ')}`);
    await page.keyboard.press('Tab');
    path.push(await focusedId(page));
  }
}

describe('the sign-in page in Chromium (managed directory, demo forest)', () => {
  let dataDir: string | undefined;
  let app: PorticoApp | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];

  const url = (path: string) => `${app?.url ?? ''}${path}`;
  async function newPage(viewport: { width: number; height: number }): Promise<OpenedPage> {
    assert.ok(browser);
    const opened = await openPage(browser, viewport);
    contexts.push(opened.context);
    return opened;
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portico-sign-in-page-'));
    const config = configSchema.parse({ dataDir, http: { port: 0 }, log: { level: 'silent' }, managedDirectory: { listen: { ldapPort: 0, ldapsPort: 0 } } });
    // Both at once, but each kept as soon as it is there, so that `after` stops whatever started.
    const started = await Promise.allSettled([
      startApp(config, { showBootstrapToken: () => {} }).then((started) => (app = started)),
      launchBrowser().then((launched) => (browser = launched)),
    ]);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await app?.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs alice in with the keyboard alone, and /api/session is hers', async () => {
    const { page, problems } = await newPage(DESKTOP);
    await page.goto(url('/sign-in'));
    assert.equal(await page.title(), 'Sign in · Portico');

    await tabTo(page, 'username');
    await page.keyboard.type(ALICE);
    await tabTo(page, 'password');
    await page.keyboard.type(demoPassword);
    await saveScreenshot(page, 'sign-in');
    await Promise.all([page.waitForURL(url('/portal')), page.keyboard.press('Enter')]);

    assert.equal(await page.title(), 'Portal · Portico');
    assert.match(await page.locator('main').innerText(), /Signed in as Alice Anderson \(alice@portico\.test\)/);
    assert.ok(await page.getByRole('button', { name: 'Sign out' }).isVisible());

    const response = await page.request.get(url('/api/session'));
    assert.equal(response.status(), 200);
    const session = (await response.json()) as { userName: string; groups: { qualifiedName?: string }[] | string[] };
    assert.equal(session.userName, ALICE);
    assert.match(JSON.stringify(session.groups), /SRE@portico\.test/);
    assert.deepEqual(problems, []);
  });

  it('fits a phone: no horizontal scroll, the form within the screen', async () => {
    const { page, problems } = await newPage(PHONE);
    await page.goto(url('/sign-in'));
    const { scrollWidth, innerWidth } = await inPage<{ scrollWidth: number; innerWidth: number }>(page, '({ scrollWidth: document.documentElement.scrollWidth, innerWidth })');
    assert.equal(innerWidth, PHONE.width);
    assert.ok(scrollWidth <= innerWidth, `the page scrolls sideways: scrollWidth ${scrollWidth} > innerWidth ${innerWidth}`);
    for (const [name, target] of [['user name', page.getByLabel('User name')], ['password', page.getByLabel('Password')], ['button', page.getByRole('button', { name: 'Sign in' })]] as const) {
      const box = await target.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `the ${name} is outside the screen: ${JSON.stringify(box)}`);
    }
    await saveScreenshot(page, 'sign-in-phone');
    assert.deepEqual(problems, []);
  });

  it('tells a wrong password in the alert and keeps the user name', async () => {
    const { page, context, problems } = await newPage(DESKTOP);
    await page.goto(url('/sign-in'));
    await page.getByLabel('User name').fill(ALICE);
    await page.getByLabel('Password').fill(`${demoPassword}-wrong`);
    await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/sign-in'), page.keyboard.press('Enter')]);

    await page.getByRole('alert').filter({ hasText: /\S/ }).waitFor();
    assert.equal((await page.getByRole('alert').innerText()).trim(), 'The username or password is incorrect.');
    assert.equal(new URL(page.url()).pathname, '/sign-in');
    assert.equal(await page.title(), 'Error: sign in · Portico');
    assert.equal(await page.getByLabel('User name').inputValue(), ALICE);
    assert.equal(await page.getByLabel('Password').inputValue(), '');
    assert.equal(await focusedId(page), 'password', 'the focus goes to the password, since the user name is kept');
    assert.equal((await context.request.get(url('/api/session'))).status(), 401);
    assert.deepEqual(problems, []);
  });
});
