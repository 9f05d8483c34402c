/**
 * The AD sync across a real domain controller failover (issue 18): a second DC of the CORP domain
 * joined for this test (test/support/samba-dc2.ts, 127.0.0.3), Portico configured with DC1
 * (reached through a relay this test can cut) and DC2. Each DC numbers its own commits
 * (highestCommittedUSN), so the run that lands on DC2 must not continue from DC1's USN (or send
 * DC1's DirSync cookie): it reconciles in full, then continues from DC2's own position, and the
 * fail-back to DC1 does the same. Changes made on DC1 just before the cut, and while Portico reads
 * DC2, all reach the store (none lost); no user is created twice and every UserId stays (none
 * duplicated). Both trackers: uSNChanged (the shared service account) and DirSync (a throwaway
 * account granted Replicating Directory Changes).
 *
 * Run by hand, not by `npm test`: node --import tsx --test test/sync/ad-sync-dc-failover.samba.manual.ts
 * It passed on a long-running DC but failed in the clean-clone CI run of 2026-12-08 (the first
 * run did not land on DC1 through its relay: "DC1 answers first"); not yet understood.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAdConnector } from '#src/directory/connector.ts';
import {
  createDatabase,
  createKyselyIdentityUserStore,
  createKyselySyncStateStore,
  migrateToLatest,
} from '#src/storage/index.ts';
import { syncEngineOn } from '../support/sync-engine.ts';
import type { SyncRun } from '#src/sync/sync-engine.ts';
import { directoryAdmin, type DirectoryAdmin, type TestUser } from '../support/directory-admin.ts';
import { grantReplicatingDirectoryChanges, revokeReplicatingDirectoryChanges } from '../support/replication-right.ts';
import { sambaOptions, sambaRuntime } from '../support/samba.ts';
import { startSecondDc, type SecondDc } from '../support/samba-dc2.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

const dc = sambaRuntime();
const GLOBAL_SECURITY = -2147483646;

void describe('AD sync across a domain controller failover (two real Samba DCs)', () => {
  const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  let dc2: SecondDc | null = null;
  let admin: DirectoryAdmin;
  let replicator: TestUser;
  let granted = false;

  before(async () => {
    admin = await directoryAdmin({ ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin });
    replicator = await admin.createUser(`sync-fo-rep-${suffix}`);
    await grantReplicatingDirectoryChanges(dc, replicator.sam);
    granted = true;
    const started = performance.now();
    dc2 = await startSecondDc(dc);
    console.log(`second DC joined and started in ${Math.round(performance.now() - started)} ms`);
  });

  after(async () => {
    try {
      await dc2?.stop();
    } finally {
      if (granted) await revokeReplicatingDirectoryChanges(dc, replicator.sam);
      await admin?.close();
    }
  });

  for (const tracker of ['usn', 'dirsync'] as const) {
    void it(`${tracker}: a failover to DC2 and back loses and duplicates nothing`, async () => {
      assert.ok(dc2);
      const second = dc2;
      const tag = `${tracker === 'usn' ? 'u' : 'd'}${suffix}`;
      const group = await admin.createGroup(`sync-fo-g-${tag}`, GLOBAL_SECURITY);
      const ada = await admin.createUser(`sync-fo-a-${tag}`, { givenName: 'v0' });
      await admin.addMember(group.dn, ada.dn);
      const onDc2 = (filter: string) => second.waitFor(filter, async (c) => (await c.search(dc.baseDn, { filter, attributes: ['cn'] })).searchEntries.length > 0);
      await onDc2(`(&(sAMAccountName=${ada.sam})(memberOf=${group.dn}))`);
      if (tracker === 'dirsync') {
        // DC2 must know the right before Portico reads it, or it would (rightly) fall back to uSNChanged there.
        await second.waitFor('the replication right', async () => {
          const probe = createAdConnector(sambaOptions({ urls: [second.ldapsUrl], serviceAccount: { username: replicator.upn, password: replicator.password } }));
          try {
            return (await probe.readChanges(null)).tracker === 'dirsync';
          } finally {
            await probe.close();
          }
        });
      }

      const relay = await startTcpProxy({ host: new URL(dc.ldapsUrl).hostname, port: Number(new URL(dc.ldapsUrl).port || 636) });
      const account = tracker === 'usn' ? dc.serviceAccount : { username: replicator.upn, password: replicator.password };
      const connector = createAdConnector(
        sambaOptions({ urls: [relay.url, second.ldapsUrl], serviceAccount: account, healthCheckIntervalMs: 300, timeouts: { connectMs: 2000, operationMs: 5000 } }),
      );
      const dir = mkdtempSync(join(tmpdir(), 'portico-sync-failover-'));
      const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dir, 'portico.db') } });
      const runs: SyncRun[] = [];
      try {
        await migrateToLatest(db);
        const state = createKyselySyncStateStore(db);
        const users = createKyselyIdentityUserStore(db);
        const engine = syncEngineOn(db, connector, { onRun: (r) => runs.push(r) });
        const isDc1 = (r: SyncRun) => r.controller.id !== second.controllerId;
        /** Runs until `done` holds; returns the runs it took. */
        const runUntil = async (what: string, done: () => Promise<boolean>, timeoutMs = 45_000): Promise<SyncRun[]> => {
          const from = runs.length;
          const started = Date.now();
          for (;;) {
            await engine.runOnce();
            if (await done()) return runs.slice(from);
            if (Date.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms (runs: ${JSON.stringify(runs.slice(from).map((r) => [r.mode, r.reason, r.controller.url]))})`);
            await new Promise((r) => setTimeout(r, 300));
          }
        };
        const givenName = async (upn: string) => (await users.findByUserName(upn))?.name.givenName;

        await engine.addToScope('group', group.qualifiedName, 'test');
        const first = await engine.runOnce();
        assert.deepEqual([first.mode, first.reason, first.tracker], ['full', 'first_run', tracker]);
        assert.ok(isDc1(first), 'DC1 answers first (configured first)');
        const adaRecord = await users.findByUserName(ada.upn);
        assert.ok(adaRecord);
        await admin.replace(ada.dn, 'givenName', 'v1');
        const second1 = await engine.runOnce();
        assert.deepEqual([second1.mode, isDc1(second1)], ['incremental', true]);
        assert.equal(await givenName(ada.upn), 'v1');
        const dc1Mark = await state.watermark(dc.domain);

        // Changes on DC1, then DC1 is cut off at once (they may or may not have reached DC2 yet).
        const bea = await admin.createUser(`sync-fo-b-${tag}`, { givenName: 'Bea' });
        await admin.addMember(group.dn, bea.dn);
        await admin.replace(ada.dn, 'givenName', 'v2');
        await relay.stop();

        const failedOver = await engine.runOnce();
        assert.equal(failedOver.controller.id, second.controllerId, 'the read landed on DC2');
        assert.deepEqual([failedOver.mode, failedOver.reason], ['full', 'controller_changed'], "DC1's position is no position on DC2");
        const dc2Mark = await state.watermark(dc.domain);
        assert.equal(dc2Mark?.controllerId, second.controllerId);
        assert.notEqual(dc2Mark?.usn, dc1Mark?.usn, 'each DC has its own highestCommittedUSN');
        if (tracker === 'dirsync') assert.ok(dc2Mark?.cookie && dc2Mark.cookie !== dc1Mark?.cookie, 'a cookie of DC2');

        // Whatever had not replicated at the cut arrives with DC2's own later USNs: nothing lost.
        const onDc2Runs = await runUntil('the changes made before the cut', async () => (await givenName(ada.upn)) === 'v2' && (await givenName(bea.upn)) === 'Bea');
        assert.ok(onDc2Runs.every((r) => r.controller.id === second.controllerId && r.mode === 'incremental' && r.tracker === tracker), JSON.stringify(onDc2Runs.map((r) => [r.mode, r.reason, r.controller.id, r.tracker])));

        // A change while Portico reads DC2 (written on DC1, replicated).
        await admin.replace(ada.dn, 'givenName', 'v3');
        await runUntil('a change made during the failover', async () => (await givenName(ada.upn)) === 'v3');

        // Fail back: DC1 reachable again; the pool returns to it; its old position is not trusted either.
        await relay.start();
        const back = await runUntil('the fail-back to DC1', () => Promise.resolve(isDc1(runs[runs.length - 1] as SyncRun)));
        const returned = back[back.length - 1] as SyncRun;
        assert.deepEqual([returned.mode, returned.reason], ['full', 'controller_changed']);
        await admin.replace(ada.dn, 'givenName', 'v4');
        const after = await engine.runOnce();
        assert.deepEqual([after.mode, isDc1(after), await givenName(ada.upn)], ['incremental', true, 'v4']);

        // Nothing duplicated: one record each, the UserIds of the first contact, two creations in all.
        assert.equal((await users.findByUserName(ada.upn))?.userId, adaRecord.userId);
        const beaRecord = await users.findByUserName(bea.upn);
        assert.ok(beaRecord);
        assert.equal(runs.reduce((n, r) => n + r.usersCreated, 0), 2, JSON.stringify(runs.map((r) => [r.mode, r.reason, r.usersCreated])));
        assert.deepEqual(runs.flatMap((r) => r.errors), []);
        console.log(`${tracker}: runs ${JSON.stringify(runs.map((r) => `${r.mode}/${r.reason}@${isDc1(r) ? 'dc1' : 'dc2'}`))}`);
      } finally {
        await connector.close();
        await relay.stop();
        await db.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
