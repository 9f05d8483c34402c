/**
 * Issue 21 through the composition root: a managed directory whose database still holds a scrypt
 * hash (written before Argon2id) signs that user in, replaces the hash with Argon2id at that bind,
 * and records `directory.password.rehashed` in Portico's audit log once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { hashPasswordScrypt } from '#src/directory/managed/engine/password.ts';
import { createDatabase, createKyselyDirectoryStore } from '#src/storage/index.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-managed-rehash-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
const config = () =>
  loadConfig({
    env: { PORTICO_DATA_DIR: dataDir, PORTICO_HTTP__PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0' },
  });

/** Reads or rewrites alice's credentials with Portico stopped. */
async function withAlice<T>(work: (store: ReturnType<typeof createKyselyDirectoryStore>, guid: string) => Promise<T>): Promise<T> {
  const db = createDatabase(config().database);
  try {
    const store = createKyselyDirectoryStore(db);
    const [alice] = await store.lookup('userPrincipalName', 'alice@portico.test');
    assert.ok(alice);
    return await work(store, alice.guid);
  } finally {
    await db.destroy();
  }
}

describe('managed directory: a scrypt hash is upgraded to Argon2id at the next sign-in, audited once', () => {
  it('signs in with the old hash, re-hashes it, and audits it once', async () => {
    const first = await startApp(config(), { logDestination: silent });
    await first.stop();
    // As a database from before issue 21 would hold it (the cost of that era: N=2^15, r=8).
    const guid = await withAlice(async (store, guid) => {
      const hash = await hashPasswordScrypt(demoPassword);
      await store.transaction((tx) => tx.setCredentials(guid, { hash, history: [] }));
      return guid;
    });

    const app = await startApp(config(), { logDestination: silent });
    try {
      const directory = app.directory;
      assert.ok(directory);
      assert.equal((await directory.authenticate('alice@portico.test', 'Not-Her-Pa55word!')).outcome, 'invalidCredentials');
      for (let i = 0; i < 3; i += 1) assert.equal((await directory.authenticate('alice@portico.test', demoPassword)).outcome, 'ok');
      const events = (await app.audit.list({ limit: 100, action: 'directory.password.rehashed' })).filter((e) => e.target === guid);
      assert.equal(events.length, 1, 'audited once');
      assert.equal(events[0]?.actor, 'system');
      assert.equal(events[0]?.outcome, 'success');
      assert.deepEqual([events[0]?.details.from, events[0]?.details.to], ['scrypt', 'argon2id']);
    } finally {
      await app.stop();
    }
    const stored = await withAlice((store, id) => store.getCredentials(id));
    assert.match(stored?.hash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});
