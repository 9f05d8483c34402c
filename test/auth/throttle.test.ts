import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAddressKey, createSignInThrottle, type SignInThrottleOptions } from '#src/auth/throttle.ts';

const MINUTE = 60_000;
const T0 = Date.parse('2026-02-03T04:05:06.000Z');
const at = (ms: number): Date => new Date(T0 + ms);

function throttle(overrides: Partial<SignInThrottleOptions> = {}) {
  return createSignInThrottle({
    perUsername: { maxFailures: 3, windowMs: 30 * MINUTE },
    perAddress: { maxFailures: 5, windowMs: 15 * MINUTE },
    ...overrides,
  });
}

void describe('sign-in throttle', () => {
  void it('allows attempts until the user name reaches its failure limit', () => {
    const t = throttle();
    for (let i = 0; i < 3; i += 1) {
      assert.deepEqual(t.check('alice@corp.test', '192.0.2.1', at(i)), { allowed: true });
      t.recordFailure('alice@corp.test', '192.0.2.1', at(i));
    }
    assert.deepEqual(t.check('alice@corp.test', '192.0.2.99', at(10)), { allowed: false, retryAfterMs: 30 * MINUTE - 10, scope: 'username' });
    // Other names from the same address are still fine (the address limit is 5).
    assert.deepEqual(t.check('bob@corp.test', '192.0.2.1', at(10)), { allowed: true });
  });

  void it('lets the next attempt through when the oldest failure leaves the window (sliding)', () => {
    const t = throttle();
    t.recordFailure('alice', null, at(0));
    t.recordFailure('alice', null, at(10 * MINUTE));
    t.recordFailure('alice', null, at(20 * MINUTE));
    assert.deepEqual(t.check('alice', null, at(25 * MINUTE)), { allowed: false, retryAfterMs: 5 * MINUTE, scope: 'username' });
    assert.deepEqual(t.check('alice', null, at(30 * MINUTE)), { allowed: true });
    // One more failure closes it again until the next-oldest leaves.
    t.recordFailure('alice', null, at(30 * MINUTE));
    assert.deepEqual(t.check('alice', null, at(31 * MINUTE)), { allowed: false, retryAfterMs: 9 * MINUTE, scope: 'username' });
  });

  void it('never counts a throttled attempt as a failure, so waiting Retry-After always works', () => {
    const t = throttle();
    for (let i = 0; i < 3; i += 1) t.recordFailure('alice', null, at(i * MINUTE));
    // A client hammering while throttled (and a caller that records those as failures anyway).
    for (let i = 0; i < 50; i += 1) t.recordFailure('alice', null, at(5 * MINUTE + i));
    const decision = t.check('alice', null, at(6 * MINUTE));
    assert.equal(decision.allowed, false);
    assert.ok(!decision.allowed && decision.retryAfterMs === 24 * MINUTE);
    assert.deepEqual(t.check('alice', null, at(30 * MINUTE)), { allowed: true });
  });

  void it('compares user names case-insensitively but keeps spellings apart', () => {
    const t = throttle();
    for (let i = 0; i < 3; i += 1) t.recordFailure('Alice@Corp.Test', null, at(i));
    assert.equal(t.check('alice@corp.test', null, at(5)).allowed, false);
    assert.equal(t.check(' ALICE@CORP.TEST ', null, at(5)).allowed, false);
    // Documented: the caller passes one canonical key; other spellings are other keys.
    assert.equal(t.check('CORP\\alice', null, at(5)).allowed, true);
    assert.equal(t.check('alice', null, at(5)).allowed, true);
  });

  void it('throttles an address spraying many user names', () => {
    const t = throttle();
    for (let i = 0; i < 5; i += 1) t.recordFailure(`user${i}`, '198.51.100.7', at(i));
    assert.deepEqual(t.check('someone-new', '198.51.100.7', at(100)), { allowed: false, retryAfterMs: 15 * MINUTE - 100, scope: 'address' });
    assert.deepEqual(t.check('someone-new', '198.51.100.8', at(100)), { allowed: true });
  });

  void it('reports the longer wait when both limits are reached', () => {
    const t = throttle({ perUsername: { maxFailures: 2, windowMs: 30 * MINUTE }, perAddress: { maxFailures: 2, windowMs: 15 * MINUTE } });
    t.recordFailure('alice', '192.0.2.1', at(0));
    t.recordFailure('alice', '192.0.2.1', at(0));
    assert.deepEqual(t.check('alice', '192.0.2.1', at(0)), { allowed: false, retryAfterMs: 30 * MINUTE, scope: 'username' });
    const u = throttle({ perUsername: { maxFailures: 2, windowMs: 5 * MINUTE }, perAddress: { maxFailures: 2, windowMs: 15 * MINUTE } });
    u.recordFailure('alice', '192.0.2.1', at(0));
    u.recordFailure('alice', '192.0.2.1', at(0));
    assert.deepEqual(u.check('alice', '192.0.2.1', at(0)), { allowed: false, retryAfterMs: 15 * MINUTE, scope: 'address' });
  });

  void it("clears the user name's failures on success, but not the address's", () => {
    const t = throttle();
    for (let i = 0; i < 2; i += 1) t.recordFailure('alice', '192.0.2.1', at(i));
    for (let i = 0; i < 3; i += 1) t.recordFailure(`victim${i}`, '192.0.2.1', at(i));
    t.recordSuccess('alice', '192.0.2.1');
    // The address is at 5 failures: a success on the attacker's own account does not reset it.
    assert.equal(t.check('alice', '192.0.2.1', at(10)).allowed, false);
    assert.equal(t.check('alice', '192.0.2.2', at(10)).allowed, true);
    t.recordFailure('alice', '192.0.2.2', at(11));
    t.recordFailure('alice', '192.0.2.2', at(12));
    // Two failures since the success: under the limit of 3 again.
    assert.equal(t.check('alice', '192.0.2.2', at(13)).allowed, true);
  });

  void it('counts IPv6 clients per /64 and IPv4-mapped addresses as IPv4', () => {
    assert.equal(clientAddressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientAddressKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(clientAddressKey('::1'), '0:0:0:0::/64');
    assert.equal(clientAddressKey('::ffff:192.0.2.5'), '192.0.2.5');
    assert.equal(clientAddressKey('192.0.2.5'), '192.0.2.5');
    const t = throttle();
    for (let i = 0; i < 5; i += 1) t.recordFailure(`user${i}`, `2001:db8:1:2::${i + 1}`, at(i));
    assert.equal(t.check('new', '2001:db8:1:2:ffff::9', at(10)).allowed, false);
    assert.equal(t.check('new', '2001:db8:1:3::1', at(10)).allowed, true);
  });

  void it('bounds memory: beyond maxTrackedKeys the least recently failed keys are forgotten', () => {
    const t = throttle({ maxTrackedKeys: 3, perUsername: { maxFailures: 1, windowMs: 30 * MINUTE } });
    t.recordFailure('a', null, at(0));
    t.recordFailure('b', null, at(1));
    t.recordFailure('c', null, at(2));
    assert.equal(t.check('a', null, at(3)).allowed, false);
    t.recordFailure('d', null, at(4));
    assert.equal(t.check('a', null, at(5)).allowed, true, 'a was the oldest and is forgotten');
    for (const key of ['b', 'c', 'd']) assert.equal(t.check(key, null, at(5)).allowed, false, key);
  });

  void it('keeps at most maxFailures timestamps per key however many failures arrive', () => {
    const t = throttle({ perUsername: { maxFailures: 2, windowMs: MINUTE }, maxTrackedKeys: 10 });
    for (let i = 0; i < 10_000; i += 1) t.recordFailure('alice', null, at(i * 100));
    // Every failure beyond the limit inside a window was ignored; the last counted one decides.
    const decision = t.check('alice', null, at(10_000 * 100));
    assert.ok(decision.allowed || decision.retryAfterMs <= MINUTE);
  });

  void it('refuses nonsensical limits', () => {
    assert.throws(() => throttle({ perUsername: { maxFailures: 0, windowMs: MINUTE } }), RangeError);
    assert.throws(() => throttle({ perAddress: { maxFailures: 3, windowMs: 0 } }), RangeError);
    assert.throws(() => throttle({ maxTrackedKeys: 0 }), RangeError);
  });
});
