/**
 * Headless Chromium for page tests: Debian's browser driven by playwright-core (Playwright's own
 * browser download is impossible here). The flags keep Chromium off the closed network.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { refuseInUnitTier } from './tier.ts';

export function launchBrowser(): Promise<Browser> {
  refuseInUnitTier('Chromium');
  const executablePath = process.env.PORTICO_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    return Promise.reject(new Error(`no Chromium at ${executablePath}: run the tests with \`npm test\` as root (scripts/test.sh installs Debian's chromium), or set PORTICO_CHROMIUM`));
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const SCREENSHOTS = join(process.cwd(), 'test-results', 'screenshots');

/** Saves a full-page screenshot as test-results/screenshots/<name>.png and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** What the page reports itself: script errors and CSP violations (not a refused request's "Failed to load resource"). */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
  });
  return problems;
}

/** Page-side code as text: the project's TypeScript has no DOM types. */
export const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate<T>(expression);

export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Script errors and CSP violations the page reports (watchProblems). */
  problems: string[];
}

/** A fresh context (its own cookies) with one page, a 15 s default timeout, and its problems watched. */
export async function openPage(browser: Browser, viewport: { width: number; height: number }): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  return { context, page, problems: watchProblems(page) };
}
