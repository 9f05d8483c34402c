import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accountSubject, clientAddressKey, createMemoryThrottleStore, createSignInThrottle, nameSubject, retryAfterMs, type SignInThrottleOptions } from '#src/auth/throttle.ts';

const MINUTE = 60_000;
const T0 = Date.parse('2026-02-03T04:05:06.000Z');
const at = (ms: number): Date => new Date(T0 + ms);

function throttle(overrides: Partial<SignInThrottleOptions> = {}) {
  return createSignInThrottle({
    attemptHoldMs: MINUTE,
    perUsername: { maxFailures: 3, windowMs: 30 * MINUTE },
    perAddress: { maxFailures: 5, windowMs: 15 * MINUTE },
    ...overrides,
  });
}

void describe('sign-in throttle', () => {
  void it('allows attempts until the user name reaches its failure limit', async () => {
    const t = throttle();
    for (let i = 0; i < 3; i += 1) {
      assert.deepEqual(await t.check('alice@corp.test', '192.0.2.1', at(i)), { allowed: true });
      await t.recordFailure('alice@corp.test', '192.0.2.1', at(i));
    }
    assert.deepEqual(await t.check('alice@corp.test', '192.0.2.99', at(10)), { allowed: false, retryAfterMs: 30 * MINUTE - 10, scope: 'username' });
    // Other names from the same address are still fine (the address limit is 5).
    assert.deepEqual(await t.check('bob@corp.test', '192.0.2.1', at(10)), { allowed: true });
  });

  void it('lets the next attempt through when the oldest failure leaves the window (sliding)', async () => {
    const t = throttle();
    await t.recordFailure('alice', null, at(0));
    await t.recordFailure('alice', null, at(10 * MINUTE));
    await t.recordFailure('alice', null, at(20 * MINUTE));
    assert.deepEqual(await t.check('alice', null, at(25 * MINUTE)), { allowed: false, retryAfterMs: 5 * MINUTE, scope: 'username' });
    assert.deepEqual(await t.check('alice', null, at(30 * MINUTE)), { allowed: true });
    // One more failure closes it again until the next-oldest leaves.
    await t.recordFailure('alice', null, at(30 * MINUTE));
    assert.deepEqual(await t.check('alice', null, at(31 * MINUTE)), { allowed: false, retryAfterMs: 9 * MINUTE, scope: 'username' });
  });

  void it('never counts a throttled attempt as a failure, so waiting Retry-After always works', async () => {
    const t = throttle();
    for (let i = 0; i < 3; i += 1) await t.recordFailure('alice', null, at(i * MINUTE));
    // A client hammering while throttled (and a caller that records those as failures anyway).
    for (let i = 0; i < 50; i += 1) await t.recordFailure('alice', null, at(5 * MINUTE + i));
    const decision = await t.check('alice', null, at(6 * MINUTE));
    assert.equal(decision.allowed, false);
    assert.ok(!decision.allowed && decision.retryAfterMs === 24 * MINUTE);
    assert.deepEqual(await t.check('alice', null, at(30 * MINUTE)), { allowed: true });
  });

  void it('compares user names case-insensitively but keeps spellings apart', async () => {
    const t = throttle();
    for (let i = 0; i < 3; i += 1) await t.recordFailure('Alice@Corp.Test', null, at(i));
    assert.equal((await t.check('alice@corp.test', null, at(5))).allowed, false);
    assert.equal((await t.check(' ALICE@CORP.TEST ', null, at(5))).allowed, false);
    // Documented: the caller passes one canonical key; other spellings are other keys.
    assert.equal((await t.check('CORP\\alice', null, at(5))).allowed, true);
    assert.equal((await t.check('alice', null, at(5))).allowed, true);
  });

  void it('throttles an address spraying many user names', async () => {
    const t = throttle();
    for (let i = 0; i < 5; i += 1) await t.recordFailure(`user${i}`, '198.51.100.7', at(i));
    assert.deepEqual(await t.check('someone-new', '198.51.100.7', at(100)), { allowed: false, retryAfterMs: 15 * MINUTE - 100, scope: 'address' });
    assert.deepEqual(await t.check('someone-new', '198.51.100.8', at(100)), { allowed: true });
  });

  void it('reports the longer wait when both limits are reached', async () => {
    const t = throttle({ perUsername: { maxFailures: 2, windowMs: 30 * MINUTE }, perAddress: { maxFailures: 2, windowMs: 15 * MINUTE } });
    await t.recordFailure('alice', '192.0.2.1', at(0));
    await t.recordFailure('alice', '192.0.2.1', at(0));
    assert.deepEqual(await t.check('alice', '192.0.2.1', at(0)), { allowed: false, retryAfterMs: 30 * MINUTE, scope: 'username' });
    const u = throttle({ perUsername: { maxFailures: 2, windowMs: 5 * MINUTE }, perAddress: { maxFailures: 2, windowMs: 15 * MINUTE } });
    await u.recordFailure('alice', '192.0.2.1', at(0));
    await u.recordFailure('alice', '192.0.2.1', at(0));
    assert.deepEqual(await u.check('alice', '192.0.2.1', at(0)), { allowed: false, retryAfterMs: 15 * MINUTE, scope: 'address' });
  });

  void it("clears the user name's failures on success, but not the address's", async () => {
    const t = throttle();
    for (let i = 0; i < 2; i += 1) await t.recordFailure('alice', '192.0.2.1', at(i));
    for (let i = 0; i < 3; i += 1) await t.recordFailure(`victim${i}`, '192.0.2.1', at(i));
    await t.recordSuccess('alice', '192.0.2.1');
    // The address is at 5 failures: a success on the attacker's own account does not reset it.
    assert.equal((await t.check('alice', '192.0.2.1', at(10))).allowed, false);
    assert.equal((await t.check('alice', '192.0.2.2', at(10))).allowed, true);
    await t.recordFailure('alice', '192.0.2.2', at(11));
    await t.recordFailure('alice', '192.0.2.2', at(12));
    // Two failures since the success: under the limit of 3 again.
    assert.equal((await t.check('alice', '192.0.2.2', at(13))).allowed, true);
  });

  void it('counts IPv6 clients per /64 and IPv4-mapped addresses as IPv4', async () => {
    assert.equal(clientAddressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientAddressKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(clientAddressKey('::1'), '0:0:0:0::/64');
    assert.equal(clientAddressKey('::ffff:192.0.2.5'), '192.0.2.5');
    assert.equal(clientAddressKey('192.0.2.5'), '192.0.2.5');
    const t = throttle();
    for (let i = 0; i < 5; i += 1) await t.recordFailure(`user${i}`, `2001:db8:1:2::${i + 1}`, at(i));
    assert.equal((await t.check('new', '2001:db8:1:2:ffff::9', at(10))).allowed, false);
    assert.equal((await t.check('new', '2001:db8:1:3::1', at(10))).allowed, true);
  });

  void it('bounds memory: beyond maxTrackedKeys the least recently failed keys are forgotten', async () => {
    const t = throttle({ maxTrackedKeys: 3, perUsername: { maxFailures: 1, windowMs: 30 * MINUTE } });
    await t.recordFailure('a', null, at(0));
    await t.recordFailure('b', null, at(1));
    await t.recordFailure('c', null, at(2));
    assert.equal((await t.check('a', null, at(3))).allowed, false);
    await t.recordFailure('d', null, at(4));
    for (const key of ['b', 'c', 'd']) assert.equal((await t.check(key, null, at(5))).allowed, false, key);
    // (Checked last: an admitted attempt's hold is a key too, and would evict the next oldest.)
    assert.equal((await t.check('a', null, at(5))).allowed, true, 'a was the oldest and is forgotten');
  });

  void it('keeps at most maxFailures timestamps per key however many failures arrive', async () => {
    const t = throttle({ perUsername: { maxFailures: 2, windowMs: MINUTE }, maxTrackedKeys: 10 });
    for (let i = 0; i < 10_000; i += 1) await t.recordFailure('alice', null, at(i * 100));
    // Every failure beyond the limit inside a window was ignored; the last counted one decides.
    const decision = await t.check('alice', null, at(10_000 * 100));
    assert.ok(decision.allowed || decision.retryAfterMs <= MINUTE);
  });

  void it('refuses nonsensical limits', () => {
    assert.throws(() => throttle({ perUsername: { maxFailures: 0, windowMs: MINUTE } }), RangeError);
    assert.throws(() => throttle({ perAddress: { maxFailures: 3, windowMs: 0 } }), RangeError);
    assert.throws(() => throttle({ maxTrackedKeys: 0 }), RangeError);
  });

  void it('computes the wait from the live failures alone (pure window arithmetic)', () => {
    assert.equal(retryAfterMs([], 3, 0), 0);
    assert.equal(retryAfterMs([100, 200], 3, 0), 0);
    assert.equal(retryAfterMs([100, 200, 300], 3, 0), 100);
    // More live failures than the limit (the limit was lowered): the decisive one is the (n − max)th.
    assert.equal(retryAfterMs([100, 200, 300, 400], 2, 0), 300);
    // Never 0 while at the limit, even at the very expiry instant.
    assert.equal(retryAfterMs([100, 200, 300], 3, 100), 1);
  });

  void it('builds subjects as agreed: one per account whatever the spelling, one per unknown spelling', () => {
    assert.equal(accountSubject('6F1C2A52-0C1E-4B8E-9A57-6A3F0F1E2D01'), 'account:6f1c2a52-0c1e-4b8e-9a57-6a3f0f1e2d01');
    assert.equal(nameSubject('  CORP\\Nobody '), 'name:corp\\nobody');
  });

  void it('applies a lower per-subject limit (fine-grained policy) but never a higher one', async () => {
    const t = throttle();
    const alice = accountSubject('A1');
    await t.recordFailure(alice, null, at(0), { maxFailures: 2 });
    assert.equal((await t.check(alice, null, at(1), 2)).allowed, true);
    await t.recordFailure(alice, null, at(2), { maxFailures: 2 });
    assert.deepEqual(await t.check(alice, null, at(3), 2), { allowed: false, retryAfterMs: 30 * MINUTE - 3, scope: 'username' });
    // A third failure is not counted under the lower limit: two slots only.
    await t.recordFailure(alice, null, at(4), { maxFailures: 2 });
    assert.equal((await t.list(at(5)))[0]?.failures, 2);
    // Asking for more than the configured 3 changes nothing.
    const bob = accountSubject('B2');
    for (let i = 0; i < 3; i += 1) await t.recordFailure(bob, null, at(i), { maxFailures: 10 });
    assert.equal((await t.check(bob, null, at(5), 10)).allowed, false);
  });

  void it('lists subjects and addresses with their labels, throttled first, and clears one by key, label or address', async () => {
    const t = throttle();
    const alice = accountSubject('6f1c2a52-0c1e-4b8e-9a57-6a3f0f1e2d01');
    for (let i = 0; i < 3; i += 1) await t.recordFailure(alice, '2001:db8:1:2::7', at(i * 1000), { label: 'alice@corp.test' });
    await t.recordFailure(nameSubject('Nobody'), '192.0.2.9', at(5000));
    const listed = await t.list(at(10_000));
    assert.deepEqual(
      listed.map((entry) => [entry.kind, entry.key, entry.label, entry.failures, entry.maxFailures, entry.throttledUntil?.toISOString() ?? null]),
      [
        ['account', alice, 'alice@corp.test', 3, 3, at(30 * MINUTE).toISOString()],
        ['address', '192.0.2.9', '192.0.2.9', 1, 5, null],
        ['name', 'name:nobody', 'nobody', 1, 3, null],
        ['address', '2001:db8:1:2::/64', '2001:db8:1:2::/64', 3, 5, null],
      ],
    );
    assert.deepEqual(await t.clear('no-such-thing', at(10_000)), []);
    // By label (case-insensitive): the account; its address keeps counting.
    assert.deepEqual((await t.clear('ALICE@corp.test', at(10_000))).map((entry) => entry.key), [alice]);
    assert.equal((await t.check(alice, null, at(10_001))).allowed, true);
    // By an address inside the /64.
    assert.deepEqual((await t.clear('2001:db8:1:2:ffff::1', at(10_000))).map((entry) => entry.key), ['2001:db8:1:2::/64']);
    // By key.
    assert.deepEqual((await t.clear('name:nobody', at(10_000))).map((entry) => entry.key), ['name:nobody']);
    assert.deepEqual((await t.list(at(10_000))).map((entry) => entry.key), ['192.0.2.9']);
    // Expired failures are not listed.
    assert.deepEqual(await t.list(at(16 * MINUTE)), []);
  });

  void it('clears a subject even when the listing (bounded) does not reach it', async () => {
    const t = throttle({ perUsername: { maxFailures: 1, windowMs: 30 * MINUTE } });
    for (let i = 0; i < 10_001; i += 1) await t.recordFailure(`user${String(i).padStart(5, '0')}`, null, at(0));
    await t.recordFailure('zz-last', null, at(0));
    assert.equal((await t.list(at(1))).some((entry) => entry.key === 'zz-last'), false);
    assert.deepEqual((await t.clear('zz-last', at(1))).map((entry) => entry.key), ['zz-last']);
    assert.equal((await t.check('zz-last', null, at(2))).allowed, true);
  });

  void it('holds a slot for each admitted attempt (attemptHoldMs), so parallel attempts cannot exceed the limit', async () => {
    const t = throttle();
    // Five attempts at once: three are admitted (the limit), two refused before any bind.
    const decisions = await Promise.all(Array.from({ length: 5 }, () => t.check('account:a', '192.0.2.1', at(0))));
    assert.equal(decisions.filter((d) => d.allowed).length, 3);
    const refused = decisions.find((d) => !d.allowed);
    assert.ok(refused && !refused.allowed && refused.scope === 'username' && refused.retryAfterMs === MINUTE, JSON.stringify(refused));
    // Their failures take the holds' places: still three, now for the whole window.
    for (let i = 0; i < 3; i += 1) await t.recordFailure('account:a', '192.0.2.1', at(10), { label: 'alice@corp.test' });
    assert.deepEqual((await t.list(at(20))).find((e) => e.key === 'account:a')?.failures, 3);
    assert.deepEqual(await t.check('account:a', null, at(2 * MINUTE)), { allowed: false, retryAfterMs: 30 * MINUTE + 10 - 2 * MINUTE, scope: 'username' });
  });

  void it('admits parallel attempts beyond the limit without attemptHoldMs (the documented default gap)', async () => {
    const t = createSignInThrottle({ perUsername: { maxFailures: 3, windowMs: 30 * MINUTE }, perAddress: { maxFailures: 5, windowMs: 15 * MINUTE } });
    const decisions = await Promise.all(Array.from({ length: 5 }, () => t.check('account:a', null, at(0))));
    assert.equal(decisions.filter((d) => d.allowed).length, 5);
    // A must-change or disabled outcome (neither recorded) leaves nothing behind.
    assert.equal((await t.check('account:a', null, at(1))).allowed, true);
  });

  void it('lets an attempt that ended neither way (directory down) hold its slot only until the hold expires', async () => {
    const t = throttle();
    for (let i = 0; i < 3; i += 1) assert.equal((await t.check('account:a', null, at(i))).allowed, true);
    assert.equal((await t.check('account:a', null, at(10))).allowed, false);
    // Holds are attempts in flight, not failures: not listed.
    assert.deepEqual(await t.list(at(10)), []);
    assert.equal((await t.check('account:a', null, at(MINUTE + 2))).allowed, true);
    // A success clears the holds too.
    await t.recordSuccess('account:a', null);
    assert.equal((await t.check('account:a', null, at(MINUTE + 3))).allowed, true);
  });

  void it('gives a hold back when the attempt is released (a disabled account, a refused password): the next attempt is admitted', async () => {
    const t = throttle();
    for (let i = 0; i < 3; i += 1) assert.equal((await t.check('account:a', null, at(i))).allowed, true);
    assert.equal((await t.check('account:a', null, at(10))).allowed, false);
    await t.release('account:a', at(11));
    assert.equal((await t.check('account:a', null, at(12))).allowed, true);
    // A failure still takes a held slot; releasing a subject without holds changes nothing.
    await t.recordFailure('account:a', null, at(13));
    await t.release('account:b', at(14));
    assert.equal((await t.list(at(15))).find((e) => e.key === 'account:a')?.failures, 1);
  });

  void it('prunes expired failures from its store as failures arrive', async () => {
    const store = createMemoryThrottleStore();
    const t = createSignInThrottle({ perUsername: { maxFailures: 3, windowMs: MINUTE }, perAddress: { maxFailures: 5, windowMs: MINUTE }, store, pruneIntervalMs: MINUTE });
    await t.recordFailure('a', null, at(0));
    assert.deepEqual(await store.listLive(at(0), 10).then((rows) => rows.map((row) => row.key)), ['a']);
    await t.recordFailure('b', null, at(2 * MINUTE));
    // 'a' expired and was pruned (not merely hidden): its key is gone from the store.
    assert.deepEqual(await store.liveExpiries('subject', 'a', at(0)), []);
  });
});
