/**
 * The AD sync against Portico's managed directory (issue 18): its rootDSE announces dsServiceName
 * and highestCommittedUSN and its entries carry uSNChanged, so the same polling path as on AD
 * works: a full first run, then incremental runs that see an attribute change and a deletion.
 * The engine runs on a real SQLite database with the real stores; throwaway objects are written
 * over LDAPS as the directory's Administrator.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { createAdConnector } from '#src/directory/connector.ts';
import type { DirectoryConnector } from '#src/directory/types.ts';
import { defaultMappings } from '#src/identity-store/mappings.ts';
import {
  createDatabase,
  createKyselyAuditLog,
  createKyselyIdentityGroupStore,
  createKyselyIdentityUserStore,
  createKyselySyncStateStore,
  migrateToLatest,
  type Database,
} from '#src/storage/index.ts';
import { createSyncEngine, type SyncEngine } from '#src/sync/sync-engine.ts';
import { directoryAdmin, type DirectoryAdmin } from '../support/directory-admin.ts';
import { startManagedFixture, type ManagedFixture } from '../support/managed.ts';
import { sambaOptions } from '../support/samba.ts';

void describe('AD sync against the managed directory', () => {
  let fixture: ManagedFixture;
  let connector: DirectoryConnector;
  let admin: DirectoryAdmin;
  let db: Kysely<Database>;
  let dataDir: string;
  let engine: SyncEngine;
  const revoked: string[] = [];
  const users = () => createKyselyIdentityUserStore(db);

  before(async () => {
    fixture = await startManagedFixture();
    connector = createAdConnector(sambaOptions({}, fixture.runtime));
    const rt = fixture.runtime;
    admin = await directoryAdmin({ ldapsUrl: rt.ldapsUrl, ca: readFileSync(rt.caFile), baseDn: rt.baseDn, domain: rt.domain, netbiosName: rt.netbiosName, admin: rt.admin });
    dataDir = mkdtempSync(join(tmpdir(), 'portico-sync-managed-'));
    db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
    await migrateToLatest(db);
    engine = createSyncEngine({
      directory: () => connector,
      state: createKyselySyncStateStore(db),
      groups: createKyselyIdentityGroupStore(db),
      userStates: users(),
      mappings: () => Promise.resolve(defaultMappings),
      transaction: (work) =>
      db.transaction().execute((trx) => {
        const store = createKyselyIdentityUserStore(trx);
        return work({ users: store, states: store, audit: createKyselyAuditLog(trx) });
      }),
      revokeSessions: (guid) => {
        revoked.push(guid);
        return Promise.resolve(0);
      },
      audit: createKyselyAuditLog(db),
    });
  });

  after(async () => {
    await engine?.stop();
    await admin?.close();
    await connector?.close();
    await db?.destroy();
    await fixture?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('syncs a scope group in full, then follows an attribute change and a deletion incrementally', async () => {
    const group = await admin.createGroup('sync-managed-g', -2147483646);
    const user = await admin.createUser('sync-managed-u', { givenName: 'Mia', sn: 'Managed', displayName: 'Mia Managed', mail: 'sync-managed-u@corp.example.test' });
    await admin.addMember(group.dn, user.dn);
    await engine.addToScope('group', group.qualifiedName, 'test');

    const first = await engine.runOnce();
    assert.equal(first.mode, 'full');
    assert.deepEqual(first.errors, []);
    const account = await connector.findUser(user.upn);
    assert.ok(account);
    const stored = await users().findByGuid(account.guid);
    assert.equal(stored?.name.givenName, 'Mia');
    assert.deepEqual((await createKyselyIdentityGroupStore(db).groupsOfUser(account.guid)).map((g) => g.displayName), [group.qualifiedName]);

    await admin.replace(user.dn, 'givenName', 'Mira');
    const second = await engine.runOnce();
    assert.equal(second.mode, 'incremental');
    assert.ok(BigInt(second.usn) > BigInt(first.usn), 'the managed directory’s USN advanced');
    assert.equal(second.usersUpdated, 1);
    assert.equal((await users().findByGuid(account.guid))?.name.givenName, 'Mira');

    await admin.delete(user.dn);
    const third = await engine.runOnce();
    assert.equal(third.mode, 'incremental');
    assert.equal(third.usersDeleted, 1);
    assert.deepEqual((await users().directoryState(account.guid))?.state, 'deleted');
    assert.equal((await users().findByGuid(account.guid))?.userId, stored?.userId, 'the record is kept');
    assert.deepEqual(revoked, [account.guid]);
  });
});
