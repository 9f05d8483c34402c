/**
 * The behaviour every ThrottleStore must have (src/auth/throttle.ts), whatever stores it: slots
 * per key, expiry, clearing, listing, pruning with a cap, and — the reason it is in the database —
 * atomic slot taking when several writers (instances) count failures at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSignInThrottle, type ThrottleFailure, type ThrottleStore } from '#src/auth/throttle.ts';

export interface ThrottleStoreHarness {
  store: ThrottleStore;
  /** A second store on the same storage through its own connections: another instance. */
  other: () => Promise<{ store: ThrottleStore; dispose: () => Promise<void> }>;
  dispose(): Promise<void>;
}

export type ThrottleStoreFactory = (options?: { maxRows?: number }) => Promise<ThrottleStoreHarness>;

const T0 = Date.parse('2026-05-06T07:08:09.010Z');
const MINUTE = 60_000;
const at = (ms: number): Date => new Date(T0 + ms);

function failure(failedAtMs: number, overrides: Partial<ThrottleFailure> = {}): ThrottleFailure {
  return { failedAt: at(failedAtMs), expiresAt: at(failedAtMs + 10 * MINUTE), label: 'alice@corp.test', maxFailures: 3, ...overrides };
}

export function throttleStoreContract(factory: ThrottleStoreFactory): void {
  async function withStore(run: (harness: ThrottleStoreHarness) => Promise<void>, options?: { maxRows?: number }): Promise<void> {
    const harness = await factory(options);
    try {
      await run(harness);
    } finally {
      await harness.dispose();
    }
  }

  void describe('ThrottleStore contract', () => {
    void it('counts up to maxFailures failures per key, then refuses, and returns live expiries in order', () =>
      withStore(async ({ store }) => {
        assert.deepEqual(await store.liveExpiries('subject', 'account:a', at(0)), []);
        assert.equal(await store.addFailure('subject', 'account:a', failure(2000)), true);
        assert.equal(await store.addFailure('subject', 'account:a', failure(0)), true);
        assert.equal(await store.addFailure('subject', 'account:a', failure(1000)), true);
        assert.equal(await store.addFailure('subject', 'account:a', failure(3000)), false);
        assert.deepEqual(await store.liveExpiries('subject', 'account:a', at(3000)), [T0 + 10 * MINUTE, T0 + 10 * MINUTE + 1000, T0 + 10 * MINUTE + 2000]);
        // Scopes and keys are apart: the same text as an address, and another subject, are empty.
        assert.deepEqual(await store.liveExpiries('address', 'account:a', at(3000)), []);
        assert.deepEqual(await store.liveExpiries('subject', 'account:b', at(3000)), []);
      }));

    void it('reuses a slot once its failure expired, and stops counting expired failures', () =>
      withStore(async ({ store }) => {
        for (const ms of [0, MINUTE, 2 * MINUTE]) assert.equal(await store.addFailure('subject', 'k', failure(ms)), true);
        assert.equal(await store.addFailure('subject', 'k', failure(10 * MINUTE - 1)), false);
        // At 10 minutes the first failure expired: its slot is free again.
        assert.equal(await store.addFailure('subject', 'k', failure(10 * MINUTE)), true);
        assert.equal(await store.addFailure('subject', 'k', failure(10 * MINUTE + 1)), false);
        assert.deepEqual(await store.liveExpiries('subject', 'k', at(10 * MINUTE)), [T0 + 11 * MINUTE, T0 + 12 * MINUTE, T0 + 20 * MINUTE]);
        assert.deepEqual(await store.liveExpiries('subject', 'k', at(30 * MINUTE)), []);
      }));

    void it('uses only the first maxFailures slots of a key (a lower limit counts fewer)', () =>
      withStore(async ({ store }) => {
        assert.equal(await store.addFailure('subject', 'k', failure(0, { maxFailures: 1 })), true);
        assert.equal(await store.addFailure('subject', 'k', failure(1, { maxFailures: 1 })), false);
        assert.equal(await store.addFailure('subject', 'k', failure(2, { maxFailures: 2 })), true);
        assert.equal((await store.liveExpiries('subject', 'k', at(3))).length, 2);
      }));

    void it('clears one key of one scope only', () =>
      withStore(async ({ store }) => {
        await store.addFailure('subject', 'k', failure(0));
        await store.addFailure('subject', 'k', failure(1));
        await store.addFailure('address', 'k', failure(0));
        await store.addFailure('subject', 'other', failure(0));
        assert.equal(await store.clear('subject', 'k'), 2);
        assert.equal(await store.clear('subject', 'k'), 0);
        assert.deepEqual(await store.liveExpiries('subject', 'k', at(2)), []);
        assert.equal((await store.liveExpiries('address', 'k', at(2))).length, 1);
        assert.equal((await store.liveExpiries('subject', 'other', at(2))).length, 1);
      }));

    void it('lists live failures grouped by scope and key with their labels and limits, and honours the limit', () =>
      withStore(async ({ store }) => {
        await store.addFailure('subject', 'name:zed', failure(0, { label: 'Zed' }));
        await store.addFailure('address', '192.0.2.1', failure(0, { label: '192.0.2.1', maxFailures: 20 }));
        await store.addFailure('subject', 'account:a', failure(5000, { label: 'alice@corp.test' }));
        await store.addFailure('subject', 'account:a', failure(1000, { label: 'alice@corp.test' }));
        await store.addFailure('subject', 'name:old', failure(0, { expiresAt: at(1000) }));
        const rows = await store.listLive(at(2000), 100);
        assert.deepEqual(
          rows.map((row) => [row.scope, row.key, row.label, row.maxFailures, row.failedAt.getTime() - T0, row.expiresAt.getTime() - T0]),
          [
            ['address', '192.0.2.1', '192.0.2.1', 20, 0, 10 * MINUTE],
            ['subject', 'account:a', 'alice@corp.test', 3, 1000, 10 * MINUTE + 1000],
            ['subject', 'account:a', 'alice@corp.test', 3, 5000, 10 * MINUTE + 5000],
            ['subject', 'name:zed', 'Zed', 3, 0, 10 * MINUTE],
          ],
        );
        assert.equal((await store.listLive(at(2000), 2)).length, 2);
        // One key's, or the subjects labelled so (any case).
        assert.deepEqual((await store.listLive(at(2000), 100, { scope: 'subject', key: 'account:a' })).map((row) => row.failedAt.getTime() - T0), [1000, 5000]);
        assert.deepEqual(await store.listLive(at(2000), 100, { scope: 'address', key: 'account:a' }), []);
        assert.deepEqual((await store.listLive(at(2000), 100, { label: 'ALICE@corp.TEST' })).map((row) => row.key), ['account:a', 'account:a']);
        assert.deepEqual((await store.listLive(at(2000), 100, { label: '192.0.2.1' })).map((row) => row.key), [], 'labels of subjects only');
      }));

    void it('prunes expired failures, and beyond its row cap drops the failures expiring soonest', () =>
      withStore(
        async ({ store }) => {
          await store.addFailure('subject', 'gone', failure(0, { expiresAt: at(10) }));
          for (let i = 0; i < 6; i += 1) await store.addFailure('subject', `k${i}`, failure(i * 1000));
          assert.equal(await store.prune(at(100)), 2, 'the expired one, and the one beyond the cap of 5');
          const left = (await store.listLive(at(100), 100)).map((row) => row.key);
          assert.deepEqual(left, ['k1', 'k2', 'k3', 'k4', 'k5']);
          assert.equal(await store.prune(at(100)), 0);
        },
        { maxRows: 5 },
      ));

    void it('never lets concurrent writers (two instances) take more slots than maxFailures', () =>
      withStore(async ({ store, other }) => {
        const second = await other();
        try {
          for (let round = 0; round < 3; round += 1) {
            const key = `account:race-${round}`;
            const attempts = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? store : second.store).addFailure('subject', key, failure(i, { maxFailures: 4 })));
            const counted = (await Promise.all(attempts)).filter(Boolean).length;
            assert.equal(counted, 4, `round ${round}`);
            assert.equal((await second.store.liveExpiries('subject', key, at(100))).length, 4);
          }
        } finally {
          await second.dispose();
        }
      }));

    void it('turns a live hold into the failure, once per hold, and frees an expired hold', () =>
      withStore(async ({ store, other }) => {
        const hold = (ms: number) => failure(ms, { pending: true, expiresAt: at(ms + MINUTE) });
        assert.equal(await store.addFailure('subject', 'k', hold(0)), true);
        assert.equal(await store.addFailure('subject', 'k', hold(1)), true);
        assert.equal(await store.addFailure('subject', 'k', hold(2)), true);
        assert.equal(await store.addFailure('subject', 'k', hold(3)), false, 'holds occupy slots');
        assert.deepEqual((await store.listLive(at(5), 10)).map((row) => row.pending), [true, true, true]);
        const second = await other();
        try {
          // Six failures at once through two instances: the three holds become failures, no more.
          const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? store : second.store).addFailure('subject', 'k', failure(10))));
          assert.equal(results.filter(Boolean).length, 3);
        } finally {
          await second.dispose();
        }
        const rows = await store.listLive(at(20), 10);
        assert.deepEqual(rows.map((row) => [row.pending, row.expiresAt.getTime() - T0]), [[false, 10 * MINUTE + 10], [false, 10 * MINUTE + 10], [false, 10 * MINUTE + 10]]);
        // An expired hold is a free slot, not something a failure turns into itself.
        assert.equal(await store.addFailure('subject', 'h', hold(0)), true);
        assert.equal(await store.addFailure('subject', 'h', failure(2 * MINUTE, { maxFailures: 1 })), true);
        assert.deepEqual((await store.listLive(at(2 * MINUTE), 10, { scope: 'subject', key: 'h' })).map((row) => row.pending), [false]);
      }));

    void it('releases one live hold per call, never a failure, and each hold once across two instances', () =>
      withStore(async ({ store, other }) => {
        const hold = (ms: number) => failure(ms, { pending: true, expiresAt: at(ms + MINUTE) });
        assert.equal(await store.addFailure('subject', 'r', failure(0)), true);
        assert.equal(await store.addFailure('subject', 'r', hold(1)), true);
        assert.equal(await store.addFailure('subject', 'r', hold(2)), true);
        const second = await other();
        try {
          // Three releases at once through two instances: the two holds go, the failure stays.
          const released = await Promise.all([store, second.store, store].map((s) => s.releaseHold('subject', 'r', at(5))));
          assert.equal(released.filter(Boolean).length, 2);
        } finally {
          await second.dispose();
        }
        assert.deepEqual((await store.listLive(at(5), 10, { scope: 'subject', key: 'r' })).map((row) => row.pending), [false]);
        // An expired hold is not released (it already stopped counting).
        assert.equal(await store.addFailure('subject', 'x', hold(0)), true);
        assert.equal(await store.releaseHold('subject', 'x', at(2 * MINUTE)), false);
      }));

    void it('admits at most the limit of parallel attempts for one subject across two instances (holds, when enabled)', () =>
      withStore(async ({ store, other }) => {
        const limits = { perUsername: { maxFailures: 3, windowMs: 30 * MINUTE }, perAddress: { maxFailures: 100, windowMs: 15 * MINUTE }, attemptHoldMs: MINUTE };
        const second = await other();
        try {
          const one = createSignInThrottle({ ...limits, store });
          const two = createSignInThrottle({ ...limits, store: second.store });
          const decisions = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? one : two).check('account:race', '192.0.2.1', at(0))));
          assert.equal(decisions.filter((d) => d.allowed).length, 3);
          // Their wrong passwords are recorded: three failures, and both instances refuse.
          await Promise.all([one, two, one].map((throttle) => throttle.recordFailure('account:race', '192.0.2.1', at(5))));
          for (const throttle of [one, two]) assert.equal((await throttle.check('account:race', '192.0.2.1', at(10))).allowed, false);
          assert.equal((await one.list(at(10))).find((e) => e.key === 'account:race')?.failures, 3);
        } finally {
          await second.dispose();
        }
      }));

    void it('shares a throttle between two instances, and a new store on the same storage sees the counts (restart)', () =>
      withStore(async ({ store, other }) => {
        const limits = { perUsername: { maxFailures: 3, windowMs: 30 * MINUTE }, perAddress: { maxFailures: 10, windowMs: 15 * MINUTE } };
        const first = createSignInThrottle({ ...limits, store });
        const second = await other();
        try {
          const secondThrottle = createSignInThrottle({ ...limits, store: second.store });
          await first.recordFailure('account:a', '192.0.2.1', at(0), { label: 'alice@corp.test' });
          await secondThrottle.recordFailure('account:a', '192.0.2.2', at(1000), { label: 'ALICE@corp.test' });
          await first.recordFailure('account:a', '192.0.2.3', at(2000), { label: 'alice@corp.test' });
          assert.deepEqual(await secondThrottle.check('account:a', '198.51.100.1', at(3000)), { allowed: false, retryAfterMs: 30 * MINUTE - 3000, scope: 'username' });
          assert.deepEqual((await secondThrottle.list(at(3000))).find((entry) => entry.key === 'account:a')?.label, 'alice@corp.test');
          await secondThrottle.recordSuccess('account:a', '192.0.2.2');
          assert.deepEqual(await first.check('account:a', '192.0.2.1', at(4000)), { allowed: true });
        } finally {
          await second.dispose();
        }
      }));
  });
}
