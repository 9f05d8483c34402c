/**
 * The failure floor's logic with a fake clock and fake timers: what it waits, what it learns,
 * what it refuses to learn (the fast answers for unknown names), expiry, the cap, and the bound
 * on waiting responses. Its effect against the Samba DC is in test/provisioning/failure-timing.samba.integration.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFailureFloor, type FailureFloorOptions } from '#src/auth/failure-floor.ts';

const DC = 'ldaps://dc1.corp.example.test:636';
const DC2 = 'ldaps://dc2.corp.example.test:636';

/** A floor on a fake clock; `sleep` records each wait and resolves when `release` is called. */
function fakeFloor(options: FailureFloorOptions = {}) {
  let t = 1_000;
  const waits: number[] = [];
  const sleepers: Array<() => void> = [];
  const overflows: number[] = [];
  const floor = createFailureFloor({
    now: () => t,
    sleep: (ms) => {
      waits.push(ms);
      return new Promise<void>((resolve) => sleepers.push(resolve));
    },
    onOverflow: (pending) => overflows.push(pending),
    ...options,
  });
  return {
    floor,
    waits,
    overflows,
    advance: (ms: number) => (t += ms),
    release: () => sleepers.splice(0).forEach((wake) => wake()),
    /** One failed request that took `elapsed` ms before failing; resolves its hold (released at once). */
    async fail(elapsed: number, outcome: { code?: string; source?: unknown } = {}): Promise<number | null> {
      const request = {};
      floor.begin(request);
      t += elapsed;
      const before = waits.length;
      const held = floor.hold(request, { code: outcome.code ?? 'auth.invalid_credentials', source: 'source' in outcome ? outcome.source : DC });
      await Promise.resolve();
      sleepers.splice(0).forEach((wake) => wake());
      await held;
      return waits.length > before ? (waits[waits.length - 1] ?? null) : null;
    },
  };
}

/** Wrong-password-like samples: 40, 41, … 79 ms (one each). */
const slow = Array.from({ length: 40 }, (_, i) => 40 + i);

void describe('failure floor', () => {
  void it('before any sample, holds a failure until initialMs after the request began', async () => {
    const f = fakeFloor({ initialMs: 100 });
    assert.equal(await f.fail(3), 97, 'a fast failure waits out the rest of the floor');
    assert.equal(await f.fail(30, { source: null }), 70);
    assert.equal(await f.fail(150), null, 'a failure slower than the floor is not delayed');
  });

  void it('learns the 95th percentile of a controller once it has enough samples', async () => {
    const f = fakeFloor({ initialMs: 100, minSamples: 20 });
    for (const ms of slow.slice(0, 19)) await f.fail(ms + 20); // 60..78: ≥ 50, admitted
    assert.equal(f.floor.floorMs(DC), 100, 'still the initial floor with 19 samples');
    await f.fail(79 + 20);
    // 20 samples 60..79 + 99: nearest-rank 95th percentile = the 19th of 20 sorted = 78.
    assert.equal(f.floor.floorMs(DC), 78);
    assert.equal(await f.fail(2), 76, 'an unknown name now waits until the learnt floor');
  });

  void it('ignores fast failures (unknown names), however many, so they cannot lower the floor', async () => {
    const f = fakeFloor({ initialMs: 100, minSamples: 20 });
    for (const ms of slow) await f.fail(ms);
    const learnt = f.floor.floorMs(DC);
    assert.ok(learnt >= 70 && learnt <= 79, `learnt ${learnt}`);
    for (let i = 0; i < 1000; i++) await f.fail(2 + (i % 10));
    assert.equal(f.floor.floorMs(DC), learnt, 'a flood of 2–11 ms failures did not move it');
    // Without the admission rule, the same flood would have made the floor ~11 ms.
    const naive = fakeFloor({ initialMs: 100, minSamples: 20, admitRatio: 0 });
    for (const ms of slow) await naive.fail(ms);
    for (let i = 0; i < 1000; i++) await naive.fail(2 + (i % 10));
    assert.ok(naive.floor.floorMs(DC) <= 11, `the flood drags a naive percentile down to ${naive.floor.floorMs(DC)}`);
  });

  void it('follows a controller that becomes faster (within the admission ratio) and one that becomes slower', async () => {
    const f = fakeFloor({ initialMs: 100, minSamples: 20, windowSize: 50 });
    for (let i = 0; i < 50; i++) await f.fail(200 + (i % 20));
    assert.ok(f.floor.floorMs(DC) >= 210);
    for (let i = 0; i < 50; i++) await f.fail(120 + (i % 20));
    const faster = f.floor.floorMs(DC);
    assert.ok(faster >= 130 && faster < 140, `faster: ${faster}`);
    for (let i = 0; i < 50; i++) await f.fail(300 + (i % 20));
    assert.ok(f.floor.floorMs(DC) >= 310, 'slower');
  });

  void it('forgets samples older than maxSampleAgeMs (a passing slowness raises the floor for at most that long)', async () => {
    const f = fakeFloor({ initialMs: 100, minSamples: 20, maxSampleAgeMs: 60_000 });
    for (let i = 0; i < 30; i++) await f.fail(400);
    assert.equal(f.floor.floorMs(DC), 400);
    f.advance(60_001);
    assert.equal(f.floor.floorMs(DC), 100, 'back to the initial floor');
    assert.equal(await f.fail(10), 90);
  });

  void it('never exceeds maxMs', async () => {
    const f = fakeFloor({ initialMs: 100, maxMs: 500, minSamples: 20 });
    for (let i = 0; i < 30; i++) await f.fail(5_000);
    assert.equal(f.floor.floorMs(DC), 500);
    assert.equal(await f.fail(1), 499);
  });

  void it('keeps one floor per controller; a failure that reached none uses the controller seen last', async () => {
    const f = fakeFloor({ initialMs: 100, minSamples: 20 });
    for (let i = 0; i < 30; i++) await f.fail(60, { source: DC });
    for (let i = 0; i < 30; i++) await f.fail(300, { source: DC2 });
    assert.equal(f.floor.floorMs(DC), 60);
    assert.equal(f.floor.floorMs(DC2), 300);
    assert.equal(await f.fail(10, { source: null }), 290, 'DC2 answered last');
    await f.fail(60, { source: DC });
    assert.equal(await f.fail(10, { source: undefined }), 50, 'now DC1');
  });

  void it('does not hold or learn from throttled refusals', async () => {
    const f = fakeFloor({ initialMs: 100 });
    assert.equal(await f.fail(1, { code: 'auth.throttled', source: DC }), null);
    assert.equal(f.waits.length, 0);
  });

  void it('holds a request it did not see begin for the whole floor, and learns nothing from it', async () => {
    const f = fakeFloor({ initialMs: 100, minSamples: 1 });
    const held = f.floor.hold({}, { code: 'auth.invalid_credentials', source: DC });
    await Promise.resolve();
    assert.deepEqual(f.waits, [100]);
    f.release();
    await held;
    assert.equal(f.floor.floorMs(DC), 100, 'no sample of 0 ms was taken');
    assert.equal(await f.fail(300), null);
    assert.equal(f.floor.floorMs(DC), 300, 'a sample from a request seen to begin is');
  });

  void it('bounds the responses waiting at once: beyond maxPending a failure answers at once and says so', async () => {
    const f = fakeFloor({ initialMs: 100, maxPending: 2 });
    const requests = [{}, {}, {}];
    for (const r of requests) f.floor.begin(r);
    const holds = requests.map((r) => f.floor.hold(r, { code: 'auth.invalid_credentials' }));
    let thirdDone = false;
    void holds[2]?.then(() => (thirdDone = true));
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(f.floor.pending(), 2);
    assert.equal(thirdDone, true, 'the third did not wait');
    assert.deepEqual(f.overflows, [2]);
    f.release();
    await Promise.all(holds);
    assert.equal(f.floor.pending(), 0, 'the count goes back down');
  });

  void it('refuses nonsensical options', () => {
    assert.throws(() => createFailureFloor({ initialMs: 2000, maxMs: 1000 }), RangeError);
    assert.throws(() => createFailureFloor({ percentile: 0 }), RangeError);
    assert.throws(() => createFailureFloor({ admitRatio: 1 }), RangeError);
    assert.throws(() => createFailureFloor({ maxPending: 0 }), RangeError);
  });
});
