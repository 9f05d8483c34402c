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
import { listDeleted, restoreDeleted } from '#src/directory/managed/administration.ts';
import type { DirectoryConnector } from '#src/directory/types.ts';
import {
  createDatabase,
  createKyselyIdentityGroupStore,
  createKyselyIdentityUserStore,
  migrateToLatest,
  type Database,
} from '#src/storage/index.ts';
import { syncEngineOn } from '../support/sync-engine.ts';
import type { SyncEngine } from '#src/sync/sync-engine.ts';
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
    // Bound as Portico's own service account, as Portico binds to its managed directory: the
    // account the directory lets list tombstones (Show Deleted).
    const serviceAccount = { username: fixture.directory.serviceAccount.upn, password: await fixture.directory.serviceAccountPassword() };
    connector = createAdConnector(sambaOptions({ serviceAccount }, fixture.runtime));
    const rt = fixture.runtime;
    admin = await directoryAdmin({ ldapsUrl: rt.ldapsUrl, ca: readFileSync(rt.caFile), baseDn: rt.baseDn, domain: rt.domain, netbiosName: rt.netbiosName, admin: rt.admin });
    dataDir = mkdtempSync(join(tmpdir(), 'portico-sync-managed-'));
    db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
    await migrateToLatest(db);
    engine = syncEngineOn(db, connector, { revoked });
  });

  after(async () => {
    await engine?.stop();
    await admin?.close();
    await connector?.close();
    await db?.destroy();
    await fixture?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('syncs a scope group in full, then follows an attribute change, a deletion (tombstone, sessions revoked) and a restore (same UserId) incrementally', async () => {
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
    const changes = await connector.readChanges(second.usn);
    assert.deepEqual(
      changes.deleted.map((d) => d.guid.toLowerCase()),
      [account.guid.toLowerCase()],
      'the tombstone is seen through Show Deleted by the service account, with uSNChanged bumped by the delete',
    );
    const third = await engine.runOnce();
    assert.equal(third.mode, 'incremental');
    assert.equal(third.usersDeleted, 1);
    assert.deepEqual((await users().directoryState(account.guid))?.state, 'deleted');
    assert.equal((await users().findByGuid(account.guid))?.userId, stored?.userId, 'the record is kept');
    assert.deepEqual(revoked, [account.guid]);

    // Restore (the admin API's and `portico directory deleted restore`'s operation): the same
    // objectGUID, back in its group, so the same identity-store record comes back to life.
    const target = {
      backend: fixture.directory.engine,
      session: { id: 'sync-test-admin', boundDn: fixture.directory.administrator.dn, secure: true, remoteAddress: 'test' },
      baseDn: fixture.runtime.baseDn,
      domain: fixture.runtime.domain,
    };
    assert.deepEqual((await listDeleted(target)).filter((d) => d.guid === account.guid.toLowerCase()).map((d) => d.name), [user.dn.slice(3, user.dn.indexOf(','))]);
    const restored = await restoreDeleted(target, account.guid);
    assert.equal(restored.dn.toLowerCase(), user.dn.toLowerCase());
    const fourth = await engine.runOnce();
    assert.equal(fourth.mode, 'incremental');
    assert.deepEqual(fourth.errors, []);
    assert.equal((await users().directoryState(account.guid))?.state, 'active', 'restored: active again');
    const back = await users().findByGuid(account.guid);
    assert.equal(back?.userId, stored?.userId, 'the same UserId');
    assert.equal(back?.name.givenName, 'Mira');
    assert.deepEqual((await createKyselyIdentityGroupStore(db).groupsOfUser(account.guid)).map((g) => g.displayName), [group.qualifiedName], 'back in the synced group');
  });

  it('syncs the users below an OU in the scope; a user moved out of the OU leaves the scope (record kept, as is)', async () => {
    const ou = await admin.createOu('sync-managed-ou');
    const inside = await admin.createUser('sync-managed-ou-u', { givenName: 'Otto', sn: 'Unit', displayName: 'Otto Unit' }, ou.dn);
    const entry = await engine.addToScope('ou', ou.dn, 'test');
    assert.equal(entry.kind, 'ou');
    assert.equal(entry.label.toLowerCase(), ou.dn.toLowerCase());
    await assert.rejects(engine.addToScope('ou', `OU=no-such-ou,${fixture.runtime.baseDn}`, 'test'), { code: 'sync.scope_not_found' });
    await assert.rejects(engine.addToScope('ou', inside.dn, 'test'), { code: 'sync.scope_not_found' }, 'a user is not an OU');

    const full = await engine.runOnce();
    assert.equal(full.mode, 'full');
    assert.equal(full.reason, 'scope_changed');
    assert.deepEqual(full.errors, []);
    const account = await connector.findUser(inside.upn);
    assert.ok(account);
    const synced = await users().findByGuid(account.guid);
    assert.equal(synced?.name.givenName, 'Otto', 'the OU’s user is in the store');
    assert.equal((await users().directoryState(account.guid))?.state, 'active');
    const inScope = full.usersInScope;

    await admin.move(inside.dn, `CN=Users,${fixture.runtime.baseDn}`);
    const moved = await engine.runOnce();
    assert.equal(moved.mode, 'incremental');
    assert.deepEqual(moved.errors, []);
    assert.equal(moved.usersInScope, inScope - 1, 'moved out of the OU: out of scope');
    assert.equal(moved.usersDeleted, 0);
    assert.equal((await users().findByGuid(account.guid))?.userId, synced?.userId, 'the record stays (refreshed by sign-ins, as any user outside the scope)');
    assert.equal((await users().directoryState(account.guid))?.state, 'active', 'not marked deleted: still in AD');

    await engine.removeFromScope('ou', ou.dn, 'test');
  });
});
