/**
 * Headless Chromium for page tests: Debian's browser driven by playwright-core (Playwright's own
 * browser download is impossible here). The flags keep Chromium off the closed network.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export function launchBrowser(): Promise<Browser> {
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
