/**
 * The waiting-request store's bounds (issue 12): count, bytes, lifetime, and one client's share —
 * a flood from one address evicts only that address's own requests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientKey, createPendingRequests } from '#src/federation/pending-requests.ts';

function store(limits: Partial<Parameters<typeof createPendingRequests>[0]> = {}) {
  let now = 0;
  const pending = createPendingRequests<{ size: number; name: string }>({ ttlMs: 1000, maxEntries: 100, maxBytes: 10_000, clientShare: 0.1, ...limits }, (v) => v.size, () => now);
  return { pending, advance: (ms: number) => (now += ms) };
}

void describe('waiting SAML requests', () => {
  it('resumes a request once, and not after its lifetime', () => {
    const { pending, advance } = store();
    const a = pending.park({ size: 10, name: 'a' }, '10.0.0.1');
    const b = pending.park({ size: 10, name: 'b' }, '10.0.0.1');
    assert.equal(pending.peek(a)?.value.name, 'a');
    assert.equal(pending.take(a)?.name, 'a');
    assert.equal(pending.take(a), undefined, 'once');
    advance(1000);
    assert.equal(pending.take(b), undefined, 'expired');
    assert.deepEqual(pending.stats(), { entries: 0, bytes: 0, clients: 0 });
  });

  it('one address over its share (a tenth) evicts only its own oldest, by count and by bytes', () => {
    const { pending } = store();
    const others = Array.from({ length: 50 }, (_, i) => pending.park({ size: 10, name: `other${i}` }, `10.0.1.${i}`));
    const flood = Array.from({ length: 1000 }, (_, i) => pending.park({ size: 10, name: `flood${i}` }, '192.0.2.66'));
    assert.ok(others.every((ref) => pending.peek(ref) !== undefined), 'nobody else was evicted');
    assert.equal(flood.filter((ref) => pending.peek(ref) !== undefined).length, 10, 'the flooder keeps its 10 newest');
    assert.ok(pending.peek(flood.at(-1) ?? '') !== undefined);
    const big = Array.from({ length: 3 }, (_, i) => pending.park({ size: 600, name: `big${i}` }, '192.0.2.77'));
    assert.deepEqual(big.map((ref) => pending.peek(ref) !== undefined), [false, false, true], 'a client holds at most a tenth of the bytes');
    assert.ok(others.every((ref) => pending.peek(ref) !== undefined));
    assert.ok(pending.stats().bytes <= 10_000);
  });

  it('when full, the oldest of all go first; count and bytes never exceed the bounds', () => {
    const { pending } = store({ clientShare: 1 });
    const refs = Array.from({ length: 150 }, (_, i) => pending.park({ size: 10, name: `r${i}` }, `10.0.2.${i}`));
    assert.equal(pending.stats().entries, 100);
    assert.equal(pending.peek(refs[49] ?? ''), undefined);
    assert.ok(pending.peek(refs[50] ?? '') !== undefined);
    pending.park({ size: 9_500, name: 'huge' }, '10.0.3.1');
    assert.ok(pending.stats().bytes <= 10_000, `${pending.stats().bytes} bytes`);
  });

  it('counts IPv4 by address and IPv6 by /64 network', () => {
    assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
    assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  });
});
