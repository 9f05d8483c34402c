import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isAppError } from '#src/shared/errors.ts';
import { loadOrCreateSecretKey } from './secret-key.ts';

void describe('loadOrCreateSecretKey', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'portico-key-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  void it('uses secrets.key from the configuration and writes no file', async () => {
    const key = randomBytes(32);
    const dataDir = join(root, 'data');
    const loaded = await loadOrCreateSecretKey({ dataDir, secrets: { key: key.toString('base64') } });
    assert.deepEqual(loaded, { key, origin: 'config' });
    await assert.rejects(stat(dataDir), { code: 'ENOENT' });
  });

  void it('accepts base64url too', async () => {
    const key = randomBytes(32);
    const loaded = await loadOrCreateSecretKey({ dataDir: root, secrets: { key: key.toString('base64url') } });
    assert.deepEqual(loaded.key, key);
  });

  void it('refuses a configured key of the wrong size, without echoing it', async () => {
    const short = randomBytes(16).toString('base64');
    await assert.rejects(loadOrCreateSecretKey({ dataDir: root, secrets: { key: short } }), (error) => {
      assert.ok(isAppError(error, 'secrets.key_invalid'));
      assert.ok(!error.message.includes(short));
      return true;
    });
  });

  void it('generates <dataDir>/secret.key with mode 0600 on first start, then reuses it', async () => {
    const dataDir = join(root, 'nested', 'data');
    const first = await loadOrCreateSecretKey({ dataDir, secrets: {} });
    assert.equal(first.origin, 'generated');
    assert.equal(first.file, join(dataDir, 'secret.key'));
    assert.equal(first.key.length, 32);
    assert.equal((await stat(join(dataDir, 'secret.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    assert.equal((await readFile(join(dataDir, 'secret.key'), 'utf8')).trim(), first.key.toString('base64'));

    const second = await loadOrCreateSecretKey({ dataDir, secrets: {} });
    assert.equal(second.origin, 'file');
    assert.deepEqual(second.key, first.key);
    // No temporary files left behind.
    assert.deepEqual(await readdir(dataDir), ['secret.key']);
  });

  void it('agrees on one key when several starts race', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSecretKey({ dataDir: root, secrets: {} })));
    const keys = new Set(results.map((result) => result.key.toString('hex')));
    assert.equal(keys.size, 1);
    assert.equal(results.filter((result) => result.origin === 'generated').length, 1);
    assert.deepEqual(await readdir(root), ['secret.key']);
  });

  void it('refuses a key file other users can read', async () => {
    const file = join(root, 'secret.key');
    await writeFile(file, randomBytes(32).toString('base64'));
    await chmod(file, 0o644);
    await assert.rejects(loadOrCreateSecretKey({ dataDir: root, secrets: {} }), (error) => isAppError(error, 'secrets.key_file_insecure'));
  });

  void it('refuses a key file that does not hold 32 bytes', async () => {
    const file = join(root, 'secret.key');
    await writeFile(file, 'not a key', { mode: 0o600 });
    await assert.rejects(loadOrCreateSecretKey({ dataDir: root, secrets: {} }), (error) => isAppError(error, 'secrets.key_invalid'));
  });
});
