/**
 * The console's static serving and its build: routes.ts serves what the build produced (with its
 * types, 404 for anything else, a clear error when there is no build), and the build itself has
 * nothing inline that the console's CSP would block (no inline script or style, no module-preload
 * polyfill, every script and stylesheet from /console/assets/).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { isAppError } from '#src/shared/errors.ts';
import { CONSOLE_BUILD_DIR, CONSOLE_CSP, registerConsole } from './routes.ts';

const temporary: string[] = [];
after(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

function buildDir(files: Record<string, string>): URL {
  const dir = mkdtempSync(join(tmpdir(), 'portico-console-build-'));
  temporary.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return pathToFileURL(`${dir}/`);
}

void describe('the console’s routes', () => {
  it('serve the build’s index.html and its assets with their types, under the CSP; anything else is 404', async () => {
    const dir = buildDir({ 'index.html': '<!doctype html><title>x</title>', 'assets/app-1.js': 'export {};', 'assets/app-1.css': 'a{}', 'assets/notes.txt': 'no', 'vite.config.mts': 'no' });
    const http = Fastify();
    await registerConsole(http, dir);
    const page = await http.inject({ url: '/console' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.body, '<!doctype html><title>x</title>');
    assert.equal(page.headers['content-security-policy'], CONSOLE_CSP);
    assert.equal((await http.inject({ url: '/console/assets/app-1.js' })).headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await http.inject({ url: '/console/assets/app-1.css' })).headers['content-type'], 'text/css; charset=utf-8');
    for (const url of ['/console/assets/notes.txt', '/console/assets/index.html', '/console/assets/..%2fvite.config.mts', '/console/assets/__proto__', '/console/assets/missing.js']) {
      const response = await http.inject({ url });
      assert.equal(response.statusCode, 404, url);
      assert.equal(response.headers['content-security-policy'], CONSOLE_CSP, url);
    }
    await http.close();
  });

  it('refuse to start without a build, saying how to make one', async () => {
    const dir = buildDir({});
    const http = Fastify();
    await assert.rejects(registerConsole(http, dir), (error: unknown) => isAppError(error) && error.code === 'console.not_built' && /npm run build:console/.test(error.message));
    await http.close();
  });
});

void describe('the console’s build (dist/console/)', () => {
  const index = readFileSync(new URL('index.html', CONSOLE_BUILD_DIR), 'utf8');
  const assets = readdirSync(new URL('assets/', CONSOLE_BUILD_DIR));

  it('loads one script and one stylesheet from /console/assets/, and inlines nothing', () => {
    const scripts = [...index.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1, 'one script');
    assert.match(scripts[0]?.[1] ?? '', /\btype="module"/);
    assert.match(scripts[0]?.[1] ?? '', /\bsrc="\/console\/assets\/console\.js"/);
    assert.equal(scripts[0]?.[2], '', 'the script element has no inline code');
    assert.match(index, /<link rel="stylesheet"[^>]*href="\/console\/assets\/console\.css"/);
    assert.doesNotMatch(index, /<style\b/i, 'no inline style element');
    assert.doesNotMatch(index, /\sstyle=/i, 'no style attribute');
    assert.doesNotMatch(index, /\son[a-z]+=/i, 'no inline event handler');
    assert.doesNotMatch(index, /modulepreload/i, 'no module preload (nor its inline polyfill)');
    assert.deepEqual(assets.sort(), ['console.css', 'console.js']);
  });

  it('has no module-preload polyfill and no eval in the script', () => {
    const script = readFileSync(new URL('assets/console.js', CONSOLE_BUILD_DIR), 'utf8');
    assert.doesNotMatch(script, /modulepreload/);
    assert.doesNotMatch(script, /\beval\(|new Function\(/);
  });
});
