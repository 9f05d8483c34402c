/* eslint-disable @typescript-eslint/require-await -- the fakes answer at once, behind the ports' async signatures */
/**
 * The sync's own logic with fakes (no directory, no database): the per-DC watermark decision,
 * cycle-safe scope resolution, and an engine whose reads land on another DC (failover) running a
 * full reconciliation instead of trusting the other DC's USN.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeReadOptions, DirectoryChanges, DirectoryConnector, DirectoryGroup, DirectoryUser } from '#src/directory/types.ts';
import type { GroupMembers, IdentityGroupWriter, SyncedGroup, DirectoryAccountState, UserDirectoryStateWriter } from '#src/identity-store/groups.ts';
import { defaultMappings } from '#src/identity-store/mappings.ts';
import type { IdentityUserWriter, ProvisionedUser, UpsertResult } from '#src/identity-store/user.ts';
import type { AuditLog } from '#src/audit/index.ts';
import type { ScopeEntry, SyncStateStore, Watermark } from './ports.ts';
import { resolveScope } from './scope.ts';
import { createSyncEngine, type SyncEngine } from './sync-engine.ts';
import { decideRun } from './watermark.ts';

const T0 = new Date('2026-01-01T00:00:00Z');
const mark = (controllerId: string, usn: string, fullSyncAt = T0): Watermark => ({ source: 'corp', controllerId, usn, cookie: null, fullSyncAt, updatedAt: T0 });
const opts = { fullEveryMs: 3600_000, fullRequested: false, scopeChanged: false };

void describe('decideRun (per-DC watermark)', () => {
  void it('continues incrementally on the same DC from its own USN', () => {
    assert.deepEqual(decideRun(mark('dc1', '100'), { controllerId: 'dc1', highestCommittedUsn: '150' }, T0, opts), { mode: 'incremental', since: '100' });
  });
  void it('reconciles in full on first run, on another DC, when the USN went back, on request, after a scope change and periodically', () => {
    assert.deepEqual(decideRun(null, { controllerId: 'dc1', highestCommittedUsn: '1' }, T0, opts), { mode: 'full', reason: 'first_run' });
    assert.deepEqual(decideRun(mark('dc1', '100'), { controllerId: 'dc2', highestCommittedUsn: '900' }, T0, opts), { mode: 'full', reason: 'controller_changed' });
    assert.deepEqual(decideRun(mark('dc1', '100'), { controllerId: 'dc1', highestCommittedUsn: '99' }, T0, opts), { mode: 'full', reason: 'usn_went_back' });
    assert.deepEqual(decideRun(mark('dc1', '100'), { controllerId: 'dc1', highestCommittedUsn: '100' }, T0, { ...opts, fullRequested: true }), { mode: 'full', reason: 'requested' });
    assert.deepEqual(decideRun(mark('dc1', '100'), { controllerId: 'dc1', highestCommittedUsn: '100' }, T0, { ...opts, scopeChanged: true }), { mode: 'full', reason: 'scope_changed' });
    assert.deepEqual(decideRun(mark('dc1', '100'), { controllerId: 'dc1', highestCommittedUsn: '100' }, new Date(T0.getTime() + 3600_000), opts), { mode: 'full', reason: 'periodic' });
    assert.deepEqual(decideRun(mark('dc1', '100'), { controllerId: 'dc1', highestCommittedUsn: '120', cookieRejected: true }, T0, opts), { mode: 'full', reason: 'cookie_rejected' });
  });
  void it('compares USNs as 64-bit numbers, not as text', () => {
    assert.equal(decideRun(mark('dc1', '99'), { controllerId: 'dc1', highestCommittedUsn: '100' }, T0, opts).mode, 'incremental');
    assert.equal(decideRun(mark('dc1', '9007199254740993'), { controllerId: 'dc1', highestCommittedUsn: '9007199254740992' }, T0, opts).mode, 'full');
  });
});

function group(name: string): DirectoryGroup {
  const n = name.charCodeAt(0).toString(16).padStart(12, '0');
  return { guid: `00000000-0000-4000-8000-${n}`, sid: `S-1-5-21-1-${n}`, dn: `CN=${name},DC=corp`, name, qualifiedName: `${name}@corp`, kind: 'security', scope: 'global' };
}

void describe('resolveScope', () => {
  void it('walks nested groups transitively and survives a cycle (A → B → C → A)', async () => {
    const [a, b, c] = [group('A'), group('B'), group('C')];
    const children = new Map([[a.guid, [b]], [b.guid, [c]], [c.guid, [a]]]);
    const users = new Map([[a.guid, ['u1']], [b.guid, ['u2']], [c.guid, ['u3', 'u1']]]);
    const scope = await resolveScope([{ kind: 'group', guid: a.guid, label: 'A@corp', addedBy: 't', addedAt: T0 }, { kind: 'user', guid: 'U9', label: 'u9', addedBy: 't', addedAt: T0 }], {
      group: async (guid) => [a, b, c].find((g) => g.guid === guid) ?? null,
      childGroups: async (g) => children.get(g.guid) ?? [],
      userGuids: async (g) => users.get(g.guid) ?? [],
      ou: async () => null,
      ouUserGuids: async () => [],
    });
    assert.deepEqual([...scope.groups.keys()].sort(), [a.guid, b.guid, c.guid].sort());
    assert.deepEqual([...scope.users].sort(), ['u1', 'u2', 'u3', 'u9']);
    assert.deepEqual(scope.groups.get(c.guid)?.groups, [a.guid]);
    assert.deepEqual(scope.missing, []);
  });

  void it('adds the users below a scope OU (no groups) and reports an OU the directory no longer has', async () => {
    const staff = { guid: 'OU-STAFF', dn: 'OU=Staff,DC=corp' };
    const entry = (kind: 'ou', guid: string) => ({ kind, guid, label: guid, addedBy: 't', addedAt: T0 });
    const scope = await resolveScope([entry('ou', 'ou-staff'), entry('ou', 'ou-gone')], {
      group: async () => null,
      childGroups: async () => [],
      userGuids: async () => [],
      ou: async (guid) => (guid === 'ou-staff' ? staff : null),
      ouUserGuids: async (ou) => (ou === staff ? ['U7', 'u8'] : []),
    });
    assert.deepEqual([...scope.users].sort(), ['u7', 'u8']);
    assert.equal(scope.groups.size, 0);
    assert.deepEqual(scope.missing.map((m) => m.guid), ['ou-gone']);
  });
});

/** A directory of two DCs sharing one user; `dc` says which answers the next read. */
function fakeDirectory() {
  const user: DirectoryUser = {
    guid: '11111111-2222-4333-8444-555555555555', sid: 'S-1-5-21-1-2-3-1100', dn: 'CN=ada,DC=corp', samAccountName: 'ada', userPrincipalName: 'ada@corp.example.test',
    displayName: 'Ada', givenName: 'Ada', surname: 'Lovelace', mail: 'ada@corp.example.test', netbiosName: 'CORP', domain: 'corp.example.test', primaryGroupId: 513,
    account: { state: 'ok', conditions: [], accountExpires: null, passwordLastSet: null, lockedOutAt: null }, attributes: { givenName: ['Ada'], sn: ['Lovelace'], displayName: ['Ada'], userPrincipalName: ['ada@corp.example.test'] },
  };
  const state = {
    dc: 'dc1',
    usn: { dc1: 100n, dc2: 5000n } as Record<string, bigint>,
    reads: [] as Array<string | null>,
    cookiesSent: [] as Array<ChangeReadOptions['cookie']>,
    userReads: 0,
    /** null: the uSN path (no DirSync); otherwise each read hands out `${dc}-cookie-${n}`. */
    dirSync: null as null | { issued: number; rejectNext: boolean },
  };
  const directory = {
    discover: async () => ({ domain: 'corp.example.test' }),
    readChanges: async (since: string | null, options: ChangeReadOptions = {}): Promise<DirectoryChanges> => {
      state.reads.push(since);
      state.cookiesSent.push(options.cookie ?? null);
      const base = { controller: { url: `ldaps://${state.dc}`, id: state.dc }, highestCommittedUsn: String(state.usn[state.dc]), users: [], groups: [], deleted: [] };
      if (state.dirSync === null) return { ...base, tracker: 'usn', cookie: null, cookieRejected: false };
      const rejected = state.dirSync.rejectNext && options.cookie != null;
      state.dirSync.rejectNext = false;
      state.dirSync.issued += 1;
      return { ...base, tracker: 'dirsync', cookie: `${state.dc}-cookie-${state.dirSync.issued}`, cookieRejected: rejected };
    },
    findGroup: async () => null,
    childGroupsOf: async () => [],
    groupUserGuids: async () => [],
    findUserByGuid: async () => {
      state.userReads += 1;
      return user;
    },
    findUsersByGuids: async (guids: readonly string[]) => {
      state.userReads += 1;
      return guids.includes(user.guid) ? [user] : [];
    },
  } as unknown as DirectoryConnector;
  return { directory, state, user };
}

function memoryStores() {
  const scope: ScopeEntry[] = [];
  let watermark: Watermark | null = null;
  const states = new Map<string, DirectoryAccountState>();
  const records = new Map<string, ProvisionedUser>();
  const syncState: SyncStateStore = {
    scope: async () => [...scope],
    addScope: async (e) => (scope.push(e), true),
    removeScope: async (kind, guid) => {
      const i = scope.findIndex((e) => e.kind === kind && e.guid === guid);
      if (i >= 0) scope.splice(i, 1);
      return i >= 0;
    },
    watermark: async () => watermark,
    saveWatermark: async (w) => void (watermark = w),
    clearWatermarks: async () => void (watermark = null),
  };
  const groups = { put: async (_g: SyncedGroup, _m: GroupMembers) => 'unchanged', ids: async () => [], remove: async () => false } as unknown as IdentityGroupWriter;
  const userStates: UserDirectoryStateWriter = {
    setDirectoryState: async (g, s) => (records.has(g) ? (states.set(g, s), true) : false),
    directoryState: async (g) => (states.has(g) ? { state: states.get(g) as DirectoryAccountState, at: T0 } : null),
    syncedGuids: async () => [...states.keys()],
  };
  const users = {
    upsert: async (u: ProvisionedUser): Promise<UpsertResult> => {
      const before = records.has(u.activeDirectory.guid);
      records.set(u.activeDirectory.guid, u);
      return { user: { ...u, userId: 'id-1', createdAt: T0, provisionedAt: T0 }, change: before ? 'unchanged' : 'created', before: null };
    },
  } as unknown as IdentityUserWriter;
  const audit: AuditLog = { record: async () => undefined } as unknown as AuditLog;
  return { syncState, groups, userStates, users, audit, states, records, getWatermark: () => watermark };
}

/** The engine on the in-memory stores, everything in one "transaction", at T0. */
function engineOn(directory: DirectoryConnector, stores: ReturnType<typeof memoryStores>): SyncEngine {
  return createSyncEngine({
    directory: () => directory,
    state: stores.syncState,
    groups: stores.groups,
    userStates: stores.userStates,
    mappings: async () => defaultMappings,
    transaction: (work) => work({ users: stores.users, states: stores.userStates, audit: stores.audit }),
    revokeSessions: async () => 0,
    audit: stores.audit,
    clock: () => T0,
  });
}

void describe('sync engine with a DC failover (fakes)', () => {
  void it('does not carry one DC’s USN to another: the switch runs a full reconciliation and records the new DC’s watermark', async () => {
    const { directory, state, user } = fakeDirectory();
    const stores = memoryStores();
    const engine = engineOn(directory, stores);
    await stores.syncState.addScope({ kind: 'user', guid: user.guid, label: 'ada', addedBy: 't', addedAt: T0 });

    const first = await engine.runOnce();
    assert.equal(first.mode, 'full');
    assert.equal(first.reason, 'first_run');
    assert.equal(stores.states.get(user.guid), 'active');
    assert.deepEqual(stores.getWatermark() && { dc: stores.getWatermark()?.controllerId, usn: stores.getWatermark()?.usn }, { dc: 'dc1', usn: '100' });

    state.usn.dc1 = 120n;
    const second = await engine.runOnce();
    assert.equal(second.mode, 'incremental');
    assert.equal(state.reads.at(-1), '100', 'the same DC continues from its own USN');

    state.dc = 'dc2';
    const reads = state.userReads;
    const third = await engine.runOnce();
    assert.equal(third.mode, 'full');
    assert.equal(third.reason, 'controller_changed');
    assert.ok(state.userReads > reads, 'the full run read the scope again');
    assert.deepEqual({ dc: stores.getWatermark()?.controllerId, usn: stores.getWatermark()?.usn }, { dc: 'dc2', usn: '5000' });

    const fourth = await engine.runOnce();
    assert.equal(fourth.mode, 'incremental');
    assert.equal(state.reads.at(-1), '5000', 'from then on, dc2 continues from its own USN');
  });

  void it('clearScope (the identity source changed) empties the scope and forgets the watermark, so the next run starts over', async () => {
    const { directory, user } = fakeDirectory();
    const stores = memoryStores();
    const engine = engineOn(directory, stores);
    await stores.syncState.addScope({ kind: 'user', guid: user.guid, label: 'ada', addedBy: 't', addedAt: T0 });
    await engine.init();
    await engine.runOnce();
    assert.ok(stores.getWatermark());
    assert.equal(engine.hasScope(), true);
    assert.equal(await engine.clearScope('admin:test'), 1);
    assert.deepEqual(await stores.syncState.scope(), []);
    assert.equal(stores.getWatermark(), null);
    assert.equal(engine.hasScope(), false);
    assert.equal((await engine.status()).lastRun, null);
  });
});

void describe('sync engine with DirSync (fakes)', () => {
  void it('keeps the cookie with the DC that issued it, hands it back to the directory, and reconciles in full when it is refused', async () => {
    const { directory, state, user } = fakeDirectory();
    state.dirSync = { issued: 0, rejectNext: false };
    const stores = memoryStores();
    const engine = engineOn(directory, stores);
    await stores.syncState.addScope({ kind: 'user', guid: user.guid, label: 'ada', addedBy: 't', addedAt: T0 });

    const first = await engine.runOnce();
    assert.deepEqual([first.mode, first.reason, first.tracker], ['full', 'first_run', 'dirsync']);
    assert.equal(state.cookiesSent.at(-1), null, 'nothing to continue from on the first run');
    assert.deepEqual({ dc: stores.getWatermark()?.controllerId, cookie: stores.getWatermark()?.cookie }, { dc: 'dc1', cookie: 'dc1-cookie-1' });

    const second = await engine.runOnce();
    assert.equal(second.mode, 'incremental');
    assert.deepEqual(state.cookiesSent.at(-1), { value: 'dc1-cookie-1', controllerId: 'dc1' }, 'the cookie goes back with the DC it belongs to');
    assert.equal(stores.getWatermark()?.cookie, 'dc1-cookie-2');

    state.dirSync.rejectNext = true;
    const reads = state.userReads;
    const third = await engine.runOnce();
    assert.deepEqual([third.mode, third.reason], ['full', 'cookie_rejected']);
    assert.ok(state.userReads > reads, 'the full run read the scope again');
    assert.equal(stores.getWatermark()?.cookie, 'dc1-cookie-3', 'the fresh cookie taken with the refusal is kept');

    state.dc = 'dc2';
    const fourth = await engine.runOnce();
    assert.deepEqual([fourth.mode, fourth.reason], ['full', 'controller_changed'], "dc1's cookie is no position on dc2");
    assert.deepEqual({ dc: stores.getWatermark()?.controllerId, cookie: stores.getWatermark()?.cookie }, { dc: 'dc2', cookie: 'dc2-cookie-4' });
    const fifth = await engine.runOnce();
    assert.equal(fifth.mode, 'incremental');
    assert.deepEqual(state.cookiesSent.at(-1), { value: 'dc2-cookie-4', controllerId: 'dc2' });
  });
});

void describe('sync engine batches (fakes)', () => {
  void it('reads and writes users in batches of batchSize, at most `concurrency` at once, one transaction each; a bad record costs only itself', async () => {
    const { user } = fakeDirectory();
    const guidOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const users = Array.from({ length: 1200 }, (_, i) => ({ ...user, guid: guidOf(i), samAccountName: `u${i}`, userPrincipalName: `u${i}@corp.example.test`, mail: `u${i}@corp.example.test`, attributes: { ...user.attributes, userPrincipalName: [`u${i}@corp.example.test`] } }));
    const scopeGroup = group('S');
    let inFlight = 0;
    let maxInFlight = 0;
    const reads: number[] = [];
    const directory = {
      discover: async () => ({ domain: 'corp.example.test' }),
      readChanges: async (): Promise<DirectoryChanges> => ({ controller: { url: 'ldaps://dc1', id: 'dc1' }, highestCommittedUsn: '100', users: [], groups: [], deleted: [], tracker: 'usn', cookie: null, cookieRejected: false }),
      findGroup: async () => scopeGroup,
      childGroupsOf: async () => [],
      groupUserGuids: async () => users.map((u) => u.guid),
      findUserByGuid: async () => null,
      findUsersByGuids: async (guids: readonly string[]) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        reads.push(guids.length);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
        return users.filter((u) => guids.includes(u.guid));
      },
    } as unknown as DirectoryConnector;
    const stores = memoryStores();
    const bad = `u700@corp.example.test`;
    const failingUsers = {
      upsert: async (u: ProvisionedUser, at: Date): Promise<UpsertResult> => {
        if (u.userName === bad) throw new Error('a unique constraint');
        return (stores.users as unknown as { upsert: (u: ProvisionedUser, at: Date) => Promise<UpsertResult> }).upsert(u, at);
      },
    } as unknown as IdentityUserWriter;
    let transactions = 0;
    const batches: number[] = [];
    const audited: string[] = [];
    const audit = { record: async (e: { action: string }) => void audited.push(e.action) } as unknown as AuditLog;
    const engine = createSyncEngine({
      directory: () => directory,
      state: stores.syncState,
      groups: stores.groups,
      userStates: stores.userStates,
      mappings: async () => defaultMappings,
      transaction: async (work) => {
        transactions += 1;
        // Rolled back on failure, as the database does.
        const records = new Map(stores.records);
        const states = new Map(stores.states);
        try {
          return await work({ users: failingUsers, states: stores.userStates, audit });
        } catch (error) {
          for (const [map, saved] of [[stores.records, records], [stores.states, states]] as const) {
            map.clear();
            for (const [k, v] of saved) (map as Map<string, unknown>).set(k, v);
          }
          throw error;
        }
      },
      revokeSessions: async () => 0,
      audit,
      clock: () => T0,
      tuning: { batchSize: 500, concurrency: 2, pauseMs: 1 },
      onBatch: (b) => batches.push(b.users),
    });
    await stores.syncState.addScope({ kind: 'group', guid: scopeGroup.guid, label: 'S@corp', addedBy: 't', addedAt: T0 });
    const run = await engine.runOnce();
    assert.deepEqual(reads, [500, 500, 200], 'three reads of at most 500 objectGUIDs');
    assert.equal(maxInFlight, 2, 'never more than two batches in flight');
    assert.deepEqual(batches.sort(), [200, 500, 500]);
    // Batches 1 and 3 in one transaction each; batch 2 (with the bad record) once, then one per user.
    assert.equal(transactions, 1 + 1 + 500 + 1);
    assert.equal(run.usersCreated, 1199);
    assert.equal(run.errors.length, 1);
    assert.equal(run.errors[0]?.objectType, 'user');
    assert.equal(run.errors[0]?.object, guidOf(700));
    assert.equal(audited.filter((a) => a === 'sync.batch.completed').length, 3, 'one audit event per batch');
    const status = await engine.status();
    assert.equal(status.entries[0]?.state, 'errors');
    assert.equal(status.entries[0]?.users, 1200);
    assert.equal(status.entries[0]?.errors[0]?.object, guidOf(700));
    assert.equal(status.outstandingErrors, 1);
  });
});
