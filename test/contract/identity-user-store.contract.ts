/** The behaviour every IdentityUserWriter must have, whatever stores it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toProvisionedUser, type IdentityUserWriter, type MappedAttributes } from '#src/identity-store/user.ts';
import { isAppError } from '#src/shared/errors.ts';

export interface IdentityUserStoreHarness {
  store: IdentityUserWriter;
  dispose: () => Promise<void>;
}

const T0 = new Date('2026-03-04T05:06:07.000Z');
const T1 = new Date('2026-03-05T05:06:07.000Z');

export function provisioned(n: number, mapped: MappedAttributes = {}) {
  const guid = `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
  return toProvisionedUser(
    { guid, sid: `S-1-5-21-1-2-3-${1000 + n}`, userPrincipalName: `user${n}@corp.example.test`, domain: 'corp.example.test' },
    { email: `user${n}@corp.example.test`, givenName: `Given${n}`, familyName: `Family${n}`, name: `User ${n}`, ...mapped },
  );
}

export function identityUserStoreContract(factory: () => Promise<IdentityUserStoreHarness>): void {
  async function withStore(run: (store: IdentityUserWriter) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness.store);
    } finally {
      await harness.dispose();
    }
  }

  void describe('IdentityUserStore contract', () => {
    void it('creates a record on first provisioning and finds it by id, GUID, user name and email (case-insensitively)', () =>
      withStore(async (store) => {
        const result = await store.upsert(provisioned(1), T0);
        assert.equal(result.change, 'created');
        assert.equal(result.before, null);
        const { userId } = result.user;
        assert.match(userId, /^[0-9a-f-]{36}$/);
        assert.deepEqual(await store.get(userId), result.user);
        assert.equal((await store.findByGuid('00000000-0000-4000-8000-000000000001'.toUpperCase()))?.userId, userId);
        assert.equal((await store.findByUserName('USER1@corp.example.test'))?.userId, userId);
        assert.equal((await store.findByEmail('User1@Corp.Example.Test'))?.userId, userId);
        assert.equal(result.user.createdAt.getTime(), T0.getTime());
        assert.equal(await store.count(), 1);
      }));

    void it('provisions one record when the same first sign-in runs twice at once (two instances), both succeeding', () =>
      withStore(async (store) => {
        // Several rounds: the race is between the read and the insert, so give it chances to happen.
        for (let n = 10; n < 30; n += 1) {
          const results = await Promise.all(Array.from({ length: 4 }, () => store.upsert(provisioned(n), T0)));
          assert.equal(results.filter((r) => r.change === 'created').length, 1);
          assert.equal(new Set(results.map((r) => r.user.userId)).size, 1);
        }
        assert.equal(await store.count(), 20);
      }));

    void it('refreshes every attribute on later provisioning, keeping the id and creation time', () =>
      withStore(async (store) => {
        const first = await store.upsert(provisioned(1), T0);
        const same = await store.upsert(provisioned(1), T1);
        assert.equal(same.change, 'unchanged');
        assert.equal(same.user.provisionedAt.getTime(), T1.getTime());
        assert.deepEqual(same.before, first.user);
        assert.deepEqual(await store.get(first.user.userId), same.user, 'an unchanged record is stored with its new provisioning time');
        const changed = await store.upsert(provisioned(1, { name: 'Renamed', givenName: 'New' }), T1);
        assert.equal(changed.change, 'updated');
        assert.equal(changed.before?.displayName, 'User 1');
        const stored = await store.get(first.user.userId);
        assert.equal(stored?.displayName, 'Renamed');
        assert.equal(stored?.name.givenName, 'New');
        assert.equal(stored?.createdAt.getTime(), T0.getTime());
        assert.equal(stored?.provisionedAt.getTime(), T1.getTime());
      }));

    void it('keeps its own email across provisionings, and refuses to take one another user holds later', () =>
      withStore(async (store) => {
        const first = await store.upsert(provisioned(1), T0);
        await store.upsert(provisioned(2), T0);
        assert.equal((await store.upsert(provisioned(1, { name: 'Renamed' }), T1)).change, 'updated');
        await assert.rejects(store.upsert(provisioned(1, { email: 'user2@corp.example.test' }), T1), (error) => isAppError(error, 'identity.email_conflict'));
        assert.equal((await store.get(first.user.userId))?.displayName, 'Renamed');
        assert.equal((await store.findByEmail('user2@corp.example.test'))?.userName, 'user2@corp.example.test');
      }));

    void it('refuses an email another user holds, naming both, and writes nothing', () =>
      withStore(async (store) => {
        await store.upsert(provisioned(1), T0);
        const before = await store.upsert(provisioned(2), T0);
        await assert.rejects(store.upsert(provisioned(2, { email: 'USER1@corp.example.test', name: 'Changed' }), T1), (error) => {
          assert.ok(isAppError(error, 'identity.email_conflict'));
          assert.match(error.message, /user1@corp\.example\.test/i);
          assert.equal(error.status, 409);
          return true;
        });
        assert.deepEqual(await store.get(before.user.userId), before.user);
      }));

    void it('removes a record from every lookup and frees its email; the next provisioning of the GUID gets a new id', () =>
      withStore(async (store) => {
        const first = await store.upsert(provisioned(1), T0);
        assert.deepEqual(await store.remove(first.user.userId), first.user);
        assert.equal(await store.remove(first.user.userId), undefined);
        assert.equal(await store.findByGuid(first.user.activeDirectory.guid), undefined);
        assert.equal(await store.findByEmail('user1@corp.example.test'), undefined);
        assert.equal(await store.get(first.user.userId), undefined);
        assert.deepEqual((await store.list({ limit: 10 })).users, []);
        // The email is free: another user may take it while the first one is removed.
        const other = await store.upsert(provisioned(2, { email: 'user1@corp.example.test' }), T1);
        await store.remove(other.user.userId);
        assert.equal(await store.count(), 0);
        const again = await store.upsert(provisioned(1), T1);
        assert.equal(again.change, 'reprovisioned');
        assert.equal(again.before?.userId, first.user.userId);
        assert.notEqual(again.user.userId, first.user.userId);
        assert.equal(again.user.activeDirectory.guid, first.user.activeDirectory.guid);
      }));

    void it('lists in pages ordered by id, optionally by user-name prefix', () =>
      withStore(async (store) => {
        for (let n = 1; n <= 7; n++) await store.upsert(provisioned(n), T0);
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.list({ limit: 3, after });
          seen.push(...page.users.map((u) => u.userId));
          if (page.next === null) break;
          after = page.next;
        }
        assert.equal(seen.length, 7);
        assert.deepEqual(seen, [...seen].sort());
        const filtered = await store.list({ limit: 10, userNamePrefix: 'USER3' });
        assert.deepEqual(filtered.users.map((u) => u.userName), ['user3@corp.example.test']);
        assert.equal(await store.removeAll(), 7);
        assert.equal(await store.count(), 0);
      }));
  });
}
