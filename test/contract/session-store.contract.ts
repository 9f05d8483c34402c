/**
 * The behaviour every SessionStore must have, whatever stores it. A test file calls
 * `sessionStoreContract` with a factory for its implementation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewSession, SessionData, SessionStore } from '#src/sessions/session-store.ts';
import { newSessionToken } from '#src/sessions/tokens.ts';
import { isAppError } from '#src/shared/errors.ts';

export interface SessionStoreHarness {
  store: SessionStore;
  /** Runs `work` with a store bound to one transaction: committed when it resolves, rolled back when it throws. */
  inTransaction: <T>(work: (store: SessionStore) => Promise<T>) => Promise<T>;
  /** Everything the implementation persisted, serialized: used to prove tokens are not kept. */
  dumpStorage: () => Promise<string>;
  dispose: () => Promise<void>;
}

export type SessionStoreFactory = () => Promise<SessionStoreHarness>;

const T0 = new Date('2026-05-06T07:08:09.010Z');
const HOUR = 3_600_000;
const at = (ms: number): Date => new Date(T0.getTime() + ms);

const ALICE = '6f1c2a52-0c1e-4b8e-9a57-6a3f0f1e2d01';
const BOB = '0d9b1c4e-2f3a-4c5d-8e6f-7a8b9c0d1e02';

function data(overrides: Partial<SessionData> = {}): SessionData {
  return {
    userName: 'alice@corp.example.test',
    displayName: 'Alice Example',
    groups: [{ guid: 'a1b2c3d4-0000-4000-8000-000000000001', qualifiedName: 'Engineers@corp.example.test' }],
    groupsTruncated: false,
    csrfSecret: 'csrf-secret-value',
    clientAddress: '192.0.2.10',
    userAgent: 'Mozilla/5.0',
    ...overrides,
  };
}

function newSession(overrides: Partial<NewSession> = {}): NewSession & { token: string } {
  const { token, tokenHash } = newSessionToken();
  return { token, tokenHash, userId: 'user-alice', userGuid: ALICE, expiresAt: at(8 * HOUR), data: data(), ...overrides };
}

export function sessionStoreContract(factory: SessionStoreFactory): void {
  async function withStore(run: (harness: SessionStoreHarness) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness);
    } finally {
      await harness.dispose();
    }
  }

  void describe('SessionStore contract', () => {
    void it('creates a session and finds it back by its token hash, unchanged', () =>
      withStore(async ({ store }) => {
        const input = newSession();
        const created = await store.create(input, T0);
        assert.ok(created.id.length > 0);
        assert.deepEqual(created, {
          id: created.id,
          userId: 'user-alice',
          userGuid: ALICE,
          createdAt: T0,
          expiresAt: at(8 * HOUR),
          checkedAt: T0,
          revokedAt: null,
          data: data(),
        });
        assert.deepEqual(await store.findByTokenHash(input.tokenHash), created);
        assert.equal(await store.findByTokenHash(newSessionToken().tokenHash), undefined);
      }));

    void it('keeps only the token hash, never the token itself', () =>
      withStore(async ({ store, dumpStorage }) => {
        const input = newSession();
        await store.create(input, T0);
        const dump = await dumpStorage();
        assert.ok(dump.includes(input.tokenHash));
        assert.ok(!dump.includes(input.token));
      }));

    void it('refuses a second session with the same token hash as storage.conflict', () =>
      withStore(async ({ store }) => {
        const input = newSession();
        await store.create(input, T0);
        await assert.rejects(store.create({ ...input, userGuid: BOB }, T0), (error) => isAppError(error, 'storage.conflict'));
      }));

    void it('finds revoked and expired sessions too (the caller decides)', () =>
      withStore(async ({ store }) => {
        const expired = newSession({ expiresAt: at(HOUR) });
        await store.create(expired, T0);
        const revoked = newSession();
        const created = await store.create(revoked, T0);
        assert.equal(await store.revoke(created.id, at(10)), true);
        assert.deepEqual((await store.findByTokenHash(revoked.tokenHash))?.revokedAt, at(10));
        assert.deepEqual((await store.findByTokenHash(expired.tokenHash))?.expiresAt, at(HOUR));
      }));

    void it('marks a session checked, never moving the time backwards', () =>
      withStore(async ({ store }) => {
        const input = newSession();
        const created = await store.create(input, T0);
        await store.markChecked(created.id, at(10 * 60_000));
        assert.deepEqual((await store.findByTokenHash(input.tokenHash))?.checkedAt, at(10 * 60_000));
        await store.markChecked(created.id, at(5 * 60_000));
        assert.deepEqual((await store.findByTokenHash(input.tokenHash))?.checkedAt, at(10 * 60_000));
        await store.markChecked('no-such-session', at(20 * 60_000));
      }));

    void it('revokes once: true the first time, false after, false for an unknown id', () =>
      withStore(async ({ store }) => {
        const created = await store.create(newSession(), T0);
        assert.equal(await store.revoke(created.id, at(1)), true);
        assert.equal(await store.revoke(created.id, at(2)), false);
        assert.equal(await store.revoke('no-such-session', at(3)), false);
      }));

    void it("revokes every live session of one user and no one else's", () =>
      withStore(async ({ store }) => {
        const first = newSession();
        const second = newSession();
        const expired = newSession({ expiresAt: at(HOUR) });
        const alreadyRevoked = newSession();
        const bob = newSession({ userGuid: BOB, userId: 'user-bob' });
        for (const input of [first, second, expired, alreadyRevoked, bob]) await store.create(input, T0);
        const revokedEarlier = await store.findByTokenHash(alreadyRevoked.tokenHash);
        assert.ok(revokedEarlier);
        await store.revoke(revokedEarlier.id, at(1));

        assert.equal(await store.revokeForUser(ALICE, at(2 * HOUR)), 2);
        assert.deepEqual((await store.findByTokenHash(first.tokenHash))?.revokedAt, at(2 * HOUR));
        assert.deepEqual((await store.findByTokenHash(second.tokenHash))?.revokedAt, at(2 * HOUR));
        assert.equal((await store.findByTokenHash(expired.tokenHash))?.revokedAt, null);
        assert.deepEqual((await store.findByTokenHash(alreadyRevoked.tokenHash))?.revokedAt, at(1));
        assert.equal((await store.findByTokenHash(bob.tokenHash))?.revokedAt, null);
        assert.equal(await store.revokeForUser(ALICE, at(3 * HOUR)), 0);
      }));

    void it('revokes every live session of every user at once', () =>
      withStore(async ({ store }) => {
        const alice = newSession();
        const bob = newSession({ userGuid: BOB, userId: 'user-bob' });
        const expired = newSession({ expiresAt: at(HOUR) });
        const revokedEarlier = newSession();
        for (const input of [alice, bob, expired, revokedEarlier]) await store.create(input, T0);
        await store.revoke((await store.findByTokenHash(revokedEarlier.tokenHash))?.id ?? '', at(1));

        assert.equal(await store.revokeAll(at(2 * HOUR)), 2);
        assert.deepEqual((await store.findByTokenHash(alice.tokenHash))?.revokedAt, at(2 * HOUR));
        assert.deepEqual((await store.findByTokenHash(bob.tokenHash))?.revokedAt, at(2 * HOUR));
        assert.equal((await store.findByTokenHash(expired.tokenHash))?.revokedAt, null);
        assert.deepEqual((await store.findByTokenHash(revokedEarlier.tokenHash))?.revokedAt, at(1));
        assert.equal(await store.revokeAll(at(3 * HOUR)), 0);
      }));

    void it("lists a user's live sessions, newest first", () =>
      withStore(async ({ store }) => {
        const older = await store.create(newSession(), T0);
        const newer = await store.create(newSession(), at(60_000));
        await store.create(newSession({ expiresAt: at(HOUR) }), T0);
        const revoked = await store.create(newSession(), T0);
        await store.revoke(revoked.id, at(1));
        await store.create(newSession({ userGuid: BOB }), T0);

        assert.deepEqual(
          (await store.listForUser(ALICE, at(2 * HOUR))).map((session) => session.id),
          [newer.id, older.id],
        );
        // At the expiry instant a session is no longer live.
        assert.deepEqual(await store.listForUser(ALICE, at(8 * HOUR)), []);
        assert.deepEqual(await store.listForUser('no-such-user', T0), []);
      }));

    void it('purges sessions that expired or were revoked before the cutoff, and only those', () =>
      withStore(async ({ store }) => {
        const live = newSession();
        const expired = newSession({ expiresAt: at(HOUR) });
        const revokedEarly = newSession();
        const revokedLate = newSession();
        for (const input of [live, expired, revokedEarly, revokedLate]) await store.create(input, T0);
        await store.revoke((await store.findByTokenHash(revokedEarly.tokenHash))?.id ?? '', at(1));
        await store.revoke((await store.findByTokenHash(revokedLate.tokenHash))?.id ?? '', at(3 * HOUR));

        assert.equal(await store.purge(at(2 * HOUR)), 2);
        assert.ok(await store.findByTokenHash(live.tokenHash));
        assert.equal(await store.findByTokenHash(expired.tokenHash), undefined);
        assert.equal(await store.findByTokenHash(revokedEarly.tokenHash), undefined);
        assert.ok(await store.findByTokenHash(revokedLate.tokenHash));
        assert.equal(await store.purge(at(2 * HOUR)), 0);
      }));

    void it('works inside a transaction: committed sessions stay, rolled-back ones vanish', () =>
      withStore(async ({ store, inTransaction }) => {
        const committed = newSession();
        const created = await inTransaction(async (trx) => {
          const session = await trx.create(committed, T0);
          // Visible inside the transaction before it commits.
          assert.deepEqual(await trx.findByTokenHash(committed.tokenHash), session);
          return session;
        });
        assert.deepEqual(await store.findByTokenHash(committed.tokenHash), created);

        const rolledBack = newSession();
        await assert.rejects(
          inTransaction(async (trx) => {
            await trx.create(rolledBack, T0);
            throw new Error('provisioning failed after the session was created');
          }),
          /provisioning failed/,
        );
        assert.equal(await store.findByTokenHash(rolledBack.tokenHash), undefined);
      }));
  });
}
