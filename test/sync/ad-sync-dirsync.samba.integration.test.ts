/**
 * The AD sync's two change trackers against the shared Samba DC (issue 18), each with its own
 * throwaway service account: one granted Replicating Directory Changes on the domain head (DirSync,
 * its cookie kept in the sync state), one without (uSNChanged polling). The engine runs on a real
 * SQLite database with the real stores. Also: a cookie the DC refuses (full reconciliation, a new
 * cookie), a cookie of another DC (never sent there), and the lag from an AD change to the store
 * on both paths. Only this test writes to the DC (throwaway objects, the ACE, all removed after).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { createAdConnector } from '#src/directory/connector.ts';
import type { DirectoryConnector, LdapOperationEvent } from '#src/directory/types.ts';
import {
  createDatabase,
  createKyselyIdentityUserStore,
  createKyselySyncStateStore,
  migrateToLatest,
  type Database,
} from '#src/storage/index.ts';
import { syncEngineOn } from '../support/sync-engine.ts';
import type { SyncEngine } from '#src/sync/sync-engine.ts';
import type { SyncStateStore } from '#src/sync/ports.ts';
import { directoryAdmin, type DirectoryAdmin, type TestUser } from '../support/directory-admin.ts';
import { grantReplicatingDirectoryChanges, revokeReplicatingDirectoryChanges } from '../support/replication-right.ts';
import { sambaOptions, sambaRuntime } from '../support/samba.ts';

const dc = sambaRuntime();
const GLOBAL_SECURITY = -2147483646;
const POLL_MS = 500;
const LAG_SAMPLES = 8;
const TARGET_LAG_MS = 10_000;

interface Harness {
  connector: DirectoryConnector;
  engine: SyncEngine;
  state: SyncStateStore;
  db: Kysely<Database>;
  dir: string;
  /** Filters of the subtree searches the connector sent (to tell the two trackers apart). */
  searches: string[];
  revoked: string[];
  givenName(guid: string): Promise<string | undefined>;
  stateOf(guid: string): Promise<string | undefined>;
  close(): Promise<void>;
}

async function harness(account: { username: string; password: string }): Promise<Harness> {
  const searches: string[] = [];
  const connector = createAdConnector(sambaOptions({ serviceAccount: account }), {
    onOperation: (event: LdapOperationEvent) => {
      if (event.operation === 'search' && event.scope === 'sub' && event.filter) searches.push(event.filter);
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'portico-sync-dirsync-'));
  const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dir, 'portico.db') } });
  await migrateToLatest(db);
  const state = createKyselySyncStateStore(db);
  const users = createKyselyIdentityUserStore(db);
  const revoked: string[] = [];
  const engine = syncEngineOn(db, connector, { revoked });
  return {
    connector,
    engine,
    state,
    db,
    dir,
    searches,
    revoked,
    givenName: async (guid) => (await users.findByGuid(guid))?.name.givenName ?? undefined,
    stateOf: async (guid) => (await users.directoryState(guid))?.state,
    async close() {
      await engine.stop();
      await connector.close();
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

void describe('AD sync change tracking on the Samba DC: DirSync and uSNChanged', () => {
  const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  let admin: DirectoryAdmin;
  let replicator: TestUser;
  let plain: TestUser;
  let granted = false;
  let group: { dn: string; qualifiedName: string };
  let member: TestUser;
  let memberGuid: string;
  const lags: Record<string, number[]> = { dirsync: [], usn: [] };

  before(async () => {
    admin = await directoryAdmin({ ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin });
    replicator = await admin.createUser(`sync-rep-${suffix}`);
    plain = await admin.createUser(`sync-svc-${suffix}`);
    await grantReplicatingDirectoryChanges(dc, replicator.sam);
    granted = true;
    group = await admin.createGroup(`sync-ds-g-${suffix}`, GLOBAL_SECURITY);
    member = await admin.createUser(`sync-ds-a-${suffix}`, { givenName: 'Dora', sn: 'Sync', displayName: 'Dora Sync' });
    await admin.addMember(group.dn, member.dn);
  });

  after(async () => {
    if (granted) await revokeReplicatingDirectoryChanges(dc, replicator.sam);
    await admin?.close();
    const summary = Object.fromEntries(Object.entries(lags).map(([k, v]) => [k, v.length ? { n: v.length, p50: percentile(v, 50), p99: percentile(v, 99), max: Math.max(...v) } : null]));
    console.log(`lag AD change → identity store, poll ${POLL_MS} ms, one Samba DC (ms): ${JSON.stringify(summary)}`);
  });

  void it('with Replicating Directory Changes: DirSync from a cookie kept per DC; changes, a new member, a disabled and a deleted account found without uSNChanged searches', async () => {
    const h = await harness({ username: replicator.upn, password: replicator.password });
    try {
      await h.engine.addToScope('group', group.qualifiedName, 'test');
      memberGuid = (await h.connector.findUser(member.upn))?.guid ?? '';
      assert.ok(memberGuid);
      const first = await h.engine.runOnce();
      assert.deepEqual([first.mode, first.reason, first.tracker], ['full', 'first_run', 'dirsync']);
      assert.equal(await h.givenName(memberGuid), 'Dora');
      const mark = await h.state.watermark(dc.domain);
      assert.ok(mark?.cookie, 'the DirSync cookie is kept in the sync state');
      assert.equal(mark.controllerId, first.controller.id);
      assert.match(Buffer.from(mark.cookie, 'base64').subarray(0, 4).toString('latin1'), /^MSDS$/, "Samba's cookie, kept as it came");

      h.searches.length = 0;
      await admin.replace(member.dn, 'givenName', 'Dorothea');
      const second = await h.engine.runOnce();
      assert.deepEqual([second.mode, second.tracker], ['incremental', 'dirsync']);
      assert.equal(second.usersUpdated, 1);
      assert.equal(await h.givenName(memberGuid), 'Dorothea');
      assert.notEqual((await h.state.watermark(dc.domain))?.cookie, mark.cookie, 'the cookie moved on');
      assert.deepEqual(h.searches.filter((f) => /uSNChanged/i.test(f)), [], 'no uSNChanged search on the DirSync path');
      assert.ok(h.searches.some((f) => f === '(|(objectClass=user)(objectClass=group))'), 'the DirSync search was sent');

      const added = await admin.createUser(`sync-ds-b-${suffix}`, { givenName: 'Bea' });
      await admin.addMember(group.dn, added.dn);
      const third = await h.engine.runOnce();
      assert.equal(third.tracker, 'dirsync');
      const addedGuid = (await h.connector.findUser(added.upn))?.guid ?? '';
      assert.equal(await h.givenName(addedGuid), 'Bea', 'a new member of the scope group is in the store');

      await admin.replace(added.dn, 'userAccountControl', '514');
      await h.engine.runOnce();
      assert.equal(await h.stateOf(addedGuid), 'disabled');

      // Samba 4.17 lists no tombstone to a DirSync caller that is not an administrator, even with
      // the right (AD does, Deleted Objects included): the deletion is found by the membership
      // re-read that every advance of the DC's USN triggers, on the DirSync path as on the uSN one.
      await admin.delete(added.dn);
      const fourth = await h.engine.runOnce();
      assert.deepEqual([fourth.mode, fourth.tracker, fourth.usersDeleted], ['incremental', 'dirsync', 1]);
      assert.equal(await h.stateOf(addedGuid), 'deleted');
      assert.ok(h.revoked.includes(addedGuid), 'sessions revoked with the deletion');
      assert.deepEqual(h.searches.filter((f) => /uSNChanged/i.test(f)), [], 'still no uSNChanged search');
    } finally {
      await h.close();
    }
  });

  void it('a cookie the DC refuses: full reconciliation and a fresh cookie; a cookie of another DC is never sent to this one', async () => {
    const h = await harness({ username: replicator.upn, password: replicator.password });
    try {
      await h.engine.addToScope('group', group.qualifiedName, 'test');
      const first = await h.engine.runOnce();
      assert.equal(first.tracker, 'dirsync');
      const mark = await h.state.watermark(dc.domain);
      assert.ok(mark?.cookie);

      const garbage = Buffer.from('not a DirSync cookie').toString('base64');
      // Direct: the same garbage is refused by this DC, and ignored when it is said to be another DC's.
      const refused = await h.connector.readChanges(mark.usn, { cookie: { value: garbage, controllerId: mark.controllerId } });
      assert.deepEqual([refused.tracker, refused.cookieRejected], ['dirsync', true]);
      assert.ok(refused.cookie && refused.cookie !== garbage, 'a fresh cookie comes with the refusal');
      const elsewhere = await h.connector.readChanges(mark.usn, { cookie: { value: garbage, controllerId: 'cn=ntds settings,cn=dc9,cn=servers,cn=other' } });
      assert.deepEqual([elsewhere.tracker, elsewhere.cookieRejected], ['dirsync', false], 'not sent: another DC’s cookie is no position here');

      await h.state.saveWatermark({ ...mark, cookie: garbage });
      const afterRefusal = await h.engine.runOnce();
      assert.deepEqual([afterRefusal.mode, afterRefusal.reason], ['full', 'cookie_rejected']);
      const fresh = await h.state.watermark(dc.domain);
      assert.ok(fresh?.cookie && fresh.cookie !== garbage);
      const next = await h.engine.runOnce();
      assert.deepEqual([next.mode, next.tracker], ['incremental', 'dirsync'], 'the fresh cookie is accepted');

      await h.state.saveWatermark({ ...fresh, controllerId: 'cn=ntds settings,cn=dc9,cn=servers,cn=other' });
      const moved = await h.engine.runOnce();
      assert.deepEqual([moved.mode, moved.reason], ['full', 'controller_changed']);
      assert.equal((await h.state.watermark(dc.domain))?.controllerId, moved.controller.id);
    } finally {
      await h.close();
    }
  });

  void it('without the right: the uSNChanged path, no cookie kept, changes still found', async () => {
    const h = await harness({ username: plain.upn, password: plain.password });
    try {
      await h.engine.addToScope('group', group.qualifiedName, 'test');
      const first = await h.engine.runOnce();
      assert.deepEqual([first.mode, first.tracker], ['full', 'usn']);
      assert.equal((await h.state.watermark(dc.domain))?.cookie, null);
      h.searches.length = 0;
      await admin.replace(member.dn, 'givenName', 'Dora-U');
      const second = await h.engine.runOnce();
      assert.deepEqual([second.mode, second.tracker, second.usersUpdated], ['incremental', 'usn', 1]);
      assert.equal(await h.givenName(memberGuid), 'Dora-U');
      assert.ok(h.searches.some((f) => /uSNChanged>=/.test(f)), 'uSNChanged polling');
    } finally {
      await h.close();
    }
  });

  for (const path of ['dirsync', 'usn'] as const) {
    void it(`lag from an AD change to the store while polling every ${POLL_MS} ms (${path})`, async () => {
      const account = path === 'dirsync' ? replicator : plain;
      const h = await harness({ username: account.upn, password: account.password });
      try {
        await h.engine.addToScope('group', group.qualifiedName, 'test');
        const first = await h.engine.runOnce();
        assert.equal(first.tracker, path);
        h.engine.start(POLL_MS);
        for (let i = 0; i < LAG_SAMPLES; i += 1) {
          const value = `Lag-${path}-${i}`;
          await admin.replace(member.dn, 'givenName', value);
          const started = performance.now();
          for (;;) {
            if ((await h.givenName(memberGuid)) === value) break;
            if (performance.now() - started > TARGET_LAG_MS) assert.fail(`${path}: change ${i} not in the store within ${TARGET_LAG_MS} ms`);
            await new Promise((r) => setTimeout(r, 10));
          }
          lags[path]?.push(Math.round(performance.now() - started));
          // Changes land at random points of the poll cycle.
          await new Promise((r) => setTimeout(r, 97 * (i % 5)));
        }
        const status = await h.engine.status();
        assert.equal(status.lastRun?.tracker, path);
      } finally {
        await h.close();
      }
    });
  }
});
