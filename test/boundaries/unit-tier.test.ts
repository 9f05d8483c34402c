/**
 * The fast tier (`npm run test:unit`, scripts/test-unit.sh) holds what it promises (issue 14
 * item 6): the selection leaves out every test named for a real server, browser or external
 * implementation, no selected file calls the helpers that reach one, and those helpers refuse to
 * run under PORTICO_TEST_TIER=unit (so an indirect use fails loudly rather than slowing the tier).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { postgresTarget } from '../contract/databases.ts';
import { launchBrowser } from '../support/browser.ts';
import { pysaml2Python } from '../support/pysaml2.ts';
import { partnerRuntime, sambaRuntime } from '../support/samba.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const slowNames = /\.(integration|browser|interop)\.test\.ts$|\.samba\./;
/** The helpers that reach a real server, a browser or pysaml2. */
const reaching = /\b(sambaRuntime|partnerRuntime|sambaDirectoryEnv|sambaOptions|resetBadPasswordCounts|postgresTarget|launchBrowser|pysaml2Python|startMoto)\(/;

async function listed(): Promise<string[]> {
  const { stdout } = await promisify(execFile)('bash', ['scripts/test-unit.sh', '--list'], { cwd: root });
  return stdout.split('\n').filter((line) => line.length > 0);
}

describe('the unit tier (npm run test:unit)', () => {
  it('selects the unit tests and none named for a server, browser or external implementation', async () => {
    const files = await listed();
    assert.ok(files.includes('src/auth/sign-in-flow.test.ts'), files.join('\n'));
    assert.ok(files.includes('test/boundaries/rules.test.ts'));
    assert.deepEqual(files.filter((file) => slowNames.test(file)), []);
    // The full suite's own runners for slow dependencies are named so.
    assert.ok(!files.includes('test/contract/postgres.integration.test.ts'));
  });

  it('no selected file calls a helper that reaches a real server', async () => {
    const files = (await listed()).filter((file) => file !== 'test/boundaries/unit-tier.test.ts');
    const offenders: string[] = [];
    for (const file of files) {
      if (reaching.test(await readFile(join(root, file), 'utf8'))) offenders.push(file);
    }
    assert.deepEqual(offenders, []);
  });

  it('under PORTICO_TEST_TIER=unit the helpers that reach a server or browser refuse', async () => {
    const before = process.env.PORTICO_TEST_TIER;
    process.env.PORTICO_TEST_TIER = 'unit';
    try {
      assert.throws(() => sambaRuntime(), /not available in the unit tier/);
      assert.throws(() => partnerRuntime(), /not available in the unit tier/);
      assert.throws(() => postgresTarget(), /not available in the unit tier/);
      assert.throws(() => pysaml2Python(), /not available in the unit tier/);
      await assert.rejects(Promise.resolve().then(() => launchBrowser()), /not available in the unit tier/);
    } finally {
      if (before === undefined) delete process.env.PORTICO_TEST_TIER;
      else process.env.PORTICO_TEST_TIER = before;
    }
  });
});
