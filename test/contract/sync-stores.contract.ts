/** The behaviour the AD sync's stores must have (groups and memberships, scope and watermarks, users' directory state). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IdentityGroupWriter, SyncedGroup, UserDirectoryStateWriter } from '#src/identity-store/groups.ts';
import type { IdentityUserWriter } from '#src/identity-store/user.ts';
import type { SyncStateStore } from '#src/sync/ports.ts';
import { provisioned } from './identity-user-store.contract.ts';

export interface SyncStoresHarness {
  groups: IdentityGroupWriter;
  state: SyncStateStore;
  users: IdentityUserWriter & UserDirectoryStateWriter;
  dispose: () => Promise<void>;
}

const T0 = new Date('2026-03-04T05:06:07.000Z');
const T1 = new Date('2026-03-05T05:06:07.000Z');
const G = (n: number, name = `Group${n}`): SyncedGroup => ({
  groupId: `aaaaaaaa-0000-4000-8000-${n.toString().padStart(12, '0')}`,
  displayName: `${name}@corp.example.test`,
  name,
  domain: 'corp.example.test',
  dn: `CN=${name},DC=corp`,
  sid: `S-1-5-21-9-${n}`,
  kind: 'security',
  scope: 'global',
});

export function syncStoresContract(factory: () => Promise<SyncStoresHarness>): void {
  async function withStores(run: (h: SyncStoresHarness) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness);
    } finally {
      await harness.dispose();
    }
  }

  void describe('sync stores contract', () => {
    void it('stores groups keyed on objectGUID with direct memberships, lists them by display name, and tells what changed', () =>
      withStores(async ({ groups }) => {
        assert.equal(await groups.put(G(2, 'beta'), { users: ['U2', 'u1'], groups: [G(1).groupId] }, T0), 'created');
        assert.equal(await groups.put(G(1, 'Alpha'), { users: ['u1'], groups: [] }, T0), 'created');
        assert.equal(await groups.put(G(1, 'Alpha'), { users: ['u1'], groups: [] }, T1), 'unchanged');
        assert.equal(await groups.put(G(1, 'Alpha-renamed'), { users: ['u1'], groups: [] }, T1), 'updated');
        assert.equal((await groups.get(G(1).groupId.toUpperCase()))?.displayName, 'Alpha-renamed@corp.example.test');
        assert.equal((await groups.findByDisplayName('ALPHA-RENAMED@corp.example.test'))?.groupId, G(1).groupId);
        const page = await groups.list({ limit: 1 });
        assert.deepEqual(page.groups.map((g) => g.name), ['Alpha-renamed']);
        assert.equal(page.more, true);
        const next = await groups.list({ limit: 1, after: 'alpha-renamed@corp.example.test' });
        assert.deepEqual([next.groups.map((g) => g.name), next.more], [['beta'], false]);
        assert.deepEqual(await groups.memberUserGuids(G(2).groupId), ['u1', 'u2']);
        assert.deepEqual((await groups.groupsOfUser('u1')).map((g) => g.name), ['Alpha-renamed', 'beta']);
        assert.equal(await groups.put(G(2, 'beta'), { users: ['u2'], groups: [] }, T1), 'updated');
        assert.deepEqual((await groups.groupsOfUser('u1')).map((g) => g.name), ['Alpha-renamed']);
        assert.equal(await groups.count(), 2);
        assert.equal(await groups.remove(G(1).groupId), true);
        assert.equal(await groups.remove(G(1).groupId), false);
        assert.deepEqual(await groups.ids(), [G(2).groupId]);
        assert.deepEqual(await groups.groupsOfUser('u1'), []);
      }));

    void it('keeps the scope (one entry per object) and one watermark per directory, replaced on save', () =>
      withStores(async ({ state }) => {
        const entry = { kind: 'group' as const, guid: 'AAAA', label: 'G@corp', addedBy: 'admin', addedAt: T0 };
        assert.equal(await state.addScope(entry), true);
        assert.equal(await state.addScope(entry), false);
        assert.deepEqual(await state.scope(), [{ ...entry, guid: 'aaaa' }]);
        assert.equal(await state.watermark('corp'), null);
        await state.saveWatermark({ source: 'corp', controllerId: 'dc1', usn: '100', cookie: null, fullSyncAt: T0, updatedAt: T0 });
        await state.saveWatermark({ source: 'corp', controllerId: 'dc2', usn: '18446744073709551615', cookie: null, fullSyncAt: T1, updatedAt: T1 });
        assert.deepEqual(await state.watermark('corp'), { source: 'corp', controllerId: 'dc2', usn: '18446744073709551615', cookie: null, fullSyncAt: T1, updatedAt: T1 });
        // An OU (migration 0019), beside a group with the same GUID text: the key is (kind, guid).
        const ou = { kind: 'ou' as const, guid: 'aaaa', label: 'OU=Staff,DC=corp', addedBy: 'admin', addedAt: T0 };
        assert.equal(await state.addScope(ou), true);
        assert.deepEqual((await state.scope()).map((e) => e.kind), ['group', 'ou']);
        assert.equal(await state.removeScope('ou', 'aaaa'), true);
        assert.equal(await state.removeScope('group', 'aaaa'), true);
        assert.deepEqual(await state.scope(), []);
        await state.clearWatermarks();
        assert.equal(await state.watermark('corp'), null);
      }));

    void it('records a user’s directory state on their record, kept apart from the mapped record', () =>
      withStores(async ({ users }) => {
        const created = await users.upsert(provisioned(1), T0);
        const guid = created.user.activeDirectory.guid;
        assert.equal(await users.directoryState(guid), null);
        assert.deepEqual(await users.syncedGuids(), []);
        assert.equal(await users.setDirectoryState(guid.toUpperCase(), 'deleted', T1), true);
        assert.deepEqual(await users.directoryState(guid), { state: 'deleted', at: T1 });
        assert.deepEqual(await users.syncedGuids(), [guid]);
        assert.equal((await users.upsert(provisioned(1), T1)).change, 'unchanged', 'the state is no part of the mapped record');
        assert.equal(await users.setDirectoryState('00000000-0000-4000-8000-999999999999', 'active', T1), false);
      }));

    void it('lists the memberships of live user records with their UserIds, a page at a time', () =>
      withStores(async ({ users, groups }) => {
        const one = (await users.upsert(provisioned(1), T0)).user;
        const two = (await users.upsert(provisioned(2), T0)).user;
        await groups.put(G(1), { users: [one.activeDirectory.guid, two.activeDirectory.guid, 'not-provisioned'], groups: [] }, T0);
        await groups.put(G(2), { users: [two.activeDirectory.guid], groups: [] }, T0);
        const all = await groups.userMemberships({ limit: 10 });
        const expected = [
          { groupId: G(1).groupId, userId: one.userId },
          { groupId: G(1).groupId, userId: two.userId },
          { groupId: G(2).groupId, userId: two.userId },
        ].sort((a, b) => (a.groupId === b.groupId ? (a.userId < b.userId ? -1 : 1) : a.groupId < b.groupId ? -1 : 1));
        assert.deepEqual(all, expected);
        const first = await groups.userMemberships({ limit: 2 });
        const rest = await groups.userMemberships({ limit: 2, after: first.at(-1) });
        assert.deepEqual([...first, ...rest], expected);
        await users.remove(one.userId, T1);
        assert.equal((await groups.userMemberships({ limit: 10 })).length, 2, 'a removed record has no memberships here');
      }));
  });
}
