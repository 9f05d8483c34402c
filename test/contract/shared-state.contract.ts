/**
 * The state several instances share through the database (issue 15), whatever stores it: the
 * SAML replay cache, the waiting SAML requests (bounds, one client's share, once-only resume),
 * the conditional settings writes, and the change feed. "Another instance" is a second set of
 * stores on the same database through connections of its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PendingBounds, PendingRequestStore } from '#src/federation/pending-requests.ts';
import type { ReplayStore } from '#src/federation/replay.ts';
import { createSharedReplayCache } from '#src/federation/replay.ts';
import type { SharedSettingsStore } from '#src/settings/settings-store.ts';
import type { ChangeFeed } from '#src/shared/change-feed.ts';
import { isAppError } from '#src/shared/errors.ts';

export interface SharedStateStores {
  replay: ReplayStore;
  pending: PendingRequestStore;
  settings: SharedSettingsStore;
  feed: ChangeFeed & { start(): Promise<void>; refresh(): Promise<void>; close(): Promise<void> };
}

export interface SharedStateHarness extends SharedStateStores {
  other: () => Promise<SharedStateStores & { dispose(): Promise<void> }>;
  /** Whether announcements travel between instances without polling (PostgreSQL NOTIFY). */
  notifies: boolean;
  dispose(): Promise<void>;
}

const T0 = Date.parse('2026-05-06T07:08:09.010Z');
const at = (ms: number): Date => new Date(T0 + ms);
const BOUNDS: PendingBounds = { maxEntries: 100, maxBytes: 10_000, clientEntries: 10, clientBytes: 1_000 };

function parked(ref: string, client: string, ms: number, bytes = 10) {
  return { ref, client, bytes, valueJson: JSON.stringify({ ref }), parkedAt: at(ms), expiresAt: at(ms + 1000) };
}

async function eventually(check: () => boolean, withinMs: number): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > withinMs) assert.fail(`not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - started;
}

export function sharedStateContract(factory: () => Promise<SharedStateHarness>): void {
  async function withStores(run: (harness: SharedStateHarness) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness);
    } finally {
      await harness.dispose();
    }
  }

  void describe('shared state contract', () => {
    void it('replay: an ID is new once, seen by every instance while live, and new again once expired', () =>
      withStores(async ({ replay, other }) => {
        const second = await other();
        try {
          assert.equal(await replay.remember('sp\nid-1', at(1000), at(0)), false);
          assert.equal(await second.replay.remember('sp\nid-1', at(1500), at(10)), true, 'another instance sees it');
          assert.equal(await replay.remember('sp\nid-2', at(1000), at(0)), false);
          assert.equal(await replay.count(at(0)), 2);
          assert.equal(await replay.remember('sp\nid-1', at(2000), at(1000)), false, 'expired: new again');
          assert.equal(await replay.prune(at(1500)), 1);
          assert.equal(await replay.count(at(1500)), 1);
          // Two instances at once: exactly one of them sees the ID as new.
          const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? replay : second.replay).remember('sp\nraced', at(5000), at(100))));
          assert.equal(answers.filter((seen) => !seen).length, 1);
        } finally {
          await second.dispose();
        }
      }));

    void it('replay cache: refuses with saml.replay_cache_full once its bound is counted, and recovers as IDs expire', () =>
      withStores(async ({ replay }) => {
        let now = at(0);
        const cache = createSharedReplayCache(replay, { ttlMs: 1000, maxEntries: 4, recountMs: 0, now: () => now });
        for (const id of ['a', 'b', 'c']) assert.equal(await cache.seen(id), false);
        assert.equal(await cache.seen('a'), true);
        assert.equal(await cache.seen('d'), false);
        await assert.rejects(Promise.resolve(cache.seen('e')), (error) => isAppError(error, 'saml.replay_cache_full') && error.status === 503 && error.expose);
        now = at(1001);
        assert.equal(await cache.seen('e'), false);
      }));

    void it('pending: taken once by whichever instance, not after expiry, and peeked without being taken', () =>
      withStores(async ({ pending, other }) => {
        const second = await other();
        try {
          assert.equal(await pending.park(parked('r1', '10.0.0.1', 0), BOUNDS), 'parked');
          assert.equal(await pending.park(parked('r2', '10.0.0.1', 0), BOUNDS), 'parked');
          assert.deepEqual(await second.pending.peek('r1', at(10)), { valueJson: '{"ref":"r1"}', parkedAt: at(0) });
          const takers = await Promise.all([pending.take('r1', at(20)), second.pending.take('r1', at(20))]);
          assert.equal(takers.filter((taken) => taken !== undefined).length, 1, 'exactly one instance resumes it');
          assert.equal(await pending.take('r1', at(30)), undefined);
          assert.equal(await second.pending.take('r2', at(1000)), undefined, 'expired');
          assert.deepEqual(await pending.stats(at(1000)), { entries: 0, bytes: 0, clients: 0 });
        } finally {
          await second.dispose();
        }
      }));

    void it('pending: a client over its share evicts only its own oldest, by count and by bytes', () =>
      withStores(async ({ pending }) => {
        for (let i = 0; i < 20; i += 1) assert.equal(await pending.park(parked(`other${i}`, `10.0.1.${i}`, i), BOUNDS), 'parked');
        for (let i = 0; i < 30; i += 1) assert.equal(await pending.park(parked(`flood${i}`, '192.0.2.66', 100 + i), BOUNDS), 'parked');
        for (let i = 0; i < 20; i += 1) assert.ok(await pending.peek(`other${i}`, at(200)), 'nobody else was evicted');
        const kept = [];
        for (let i = 0; i < 30; i += 1) if (await pending.peek(`flood${i}`, at(200))) kept.push(i);
        assert.deepEqual(kept, [20, 21, 22, 23, 24, 25, 26, 27, 28, 29], 'the flooder keeps its 10 newest');
        for (let i = 0; i < 3; i += 1) await pending.park(parked(`big${i}`, '192.0.2.77', 300 + i, 400), BOUNDS);
        const big = await Promise.all([0, 1, 2].map(async (i) => (await pending.peek(`big${i}`, at(400))) !== undefined));
        assert.deepEqual(big, [false, true, true], 'a client holds at most its share of the bytes');
        assert.equal(await pending.park(parked('huge', '192.0.2.88', 500, 1_001), BOUNDS), 'full', 'larger than a client share');
      }));

    void it('pending: when the whole store is full it answers full (nobody else is evicted), and has room again as requests expire', () =>
      withStores(async ({ pending }) => {
        const bounds = { ...BOUNDS, maxEntries: 5, clientEntries: 5 };
        for (let i = 0; i < 5; i += 1) assert.equal(await pending.park(parked(`r${i}`, `10.0.2.${i}`, i), bounds), 'parked');
        assert.equal(await pending.park(parked('late', '10.0.3.1', 10), bounds), 'full');
        for (let i = 0; i < 5; i += 1) assert.ok(await pending.peek(`r${i}`, at(10)));
        assert.equal(await pending.park(parked('later', '10.0.3.1', 1004), bounds), 'parked', 'the first ones expired');
        assert.equal((await pending.stats(at(1004))).entries, 1);
      }));

    void it('settings: create only once, and replace only from the expected value', () =>
      withStores(async ({ settings, other }) => {
        const second = await other();
        try {
          const results = await Promise.all([settings.create('first', { by: 'a' }, at(0)), second.settings.create('first', { by: 'b' }, at(0))]);
          assert.deepEqual(results.sort(), [false, true]);
          const stored = await settings.get('first');
          assert.equal(await settings.replace('first', { by: 'nobody' }, { by: 'c' }, at(1)), false);
          assert.equal(await second.settings.replace('first', stored, { by: 'c', n: [1, 2] }, at(1)), true);
          assert.equal(await settings.replace('first', stored, { by: 'd' }, at(2)), false, 'stale: refused');
          assert.deepEqual(await settings.get('first'), { by: 'c', n: [1, 2] });
          assert.equal(await settings.replace('first', await settings.get('first'), { by: 'e' }, at(3)), true, 'what get() returns is what replace() expects');
        } finally {
          await second.dispose();
        }
      }));

    void it('change feed: an announcement reaches this instance at once and another one without waiting for a poll when the database notifies', () =>
      withStores(async ({ feed, other, notifies }) => {
        const second = await other();
        try {
          await feed.start();
          await second.feed.start();
          const heard: number[] = [];
          second.feed.subscribe('access', (version) => heard.push(version));
          const local: number[] = [];
          feed.subscribe('access', (version) => local.push(version));
          const version = await feed.announce('access');
          assert.equal(version, 1);
          assert.deepEqual(local, [1], 'this instance, synchronously with the announcement');
          assert.equal(feed.version('access'), 1);
          if (notifies) await eventually(() => heard.length > 0, 2000);
          else await second.feed.refresh();
          assert.deepEqual(heard, [1]);
          assert.equal(second.feed.version('access'), 1);
          assert.equal(second.feed.version('signing-keys'), 0, 'topics are apart');
          assert.equal(await second.feed.announce('access'), 2, 'counted in the database, not per instance');
          if (notifies) await eventually(() => feed.version('access') === 2, 2000);
          else await feed.refresh();
          assert.deepEqual(local, [1, 2]);
        } finally {
          await second.dispose();
        }
      }));
  });
}
