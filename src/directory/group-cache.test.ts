import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGroupCache, type GroupPoll } from './group-cache.ts';
import type { DirectoryGroup } from './types.ts';

const group = (name: string): DirectoryGroup => ({
  guid: `guid-${name}`,
  sid: `S-1-5-21-1-2-3-${name.length}`,
  dn: `CN=${name},CN=Users,DC=corp,DC=example,DC=test`,
  name,
  qualifiedName: `${name}@corp.example.test`,
  kind: 'security',
  scope: 'global',
});

const poll = (controller: string, usn: number, atMs: number, changed: Record<string, DirectoryGroup> | null): GroupPoll => ({
  controller,
  highestUsn: BigInt(usn),
  startedMs: atMs,
  usnReadMs: atMs + 1,
  changed: changed === null ? null : new Map(Object.entries(changed)),
});

describe('the SID → group cache kept fresh by change tracking', () => {
  const options = { pollIntervalMs: 30_000, maxStaleMs: 60_000, maxEntries: 100 };

  it('serves an entry until it is stale, and reports the SIDs it lacks', () => {
    const cache = createGroupCache(options);
    cache.store('aa', group('Eng'), 'dc1', 1_000);
    cache.store('bb', null, 'dc1', 1_000);
    assert.deepEqual(cache.lookup(['aa', 'bb', 'cc'], 61_000), { groups: [group('Eng')], missing: ['cc'] });
    assert.deepEqual(cache.lookup(['aa', 'bb'], 61_001), { groups: [], missing: ['aa', 'bb'] });
  });

  it("confirms a DC's entries at each poll that follows a previous one, and replaces the changed ones", () => {
    const cache = createGroupCache(options);
    assert.ok(cache.beginPoll(0));
    cache.endPoll(poll('dc1', 100, 0, null)); // the first poll only sets the watermark
    assert.equal(cache.watermark('dc1'), 100n);
    cache.store('aa', group('Eng'), 'dc1', 5_000);
    cache.store('bb', group('Ops'), 'dc1', 5_000);
    cache.store('cc', group('Far'), 'dc2', 5_000); // read from another DC: not confirmed by dc1's polls
    assert.ok(cache.beginPoll(40_000));
    cache.endPoll(poll('dc1', 120, 40_000, { bb: group('Ops-Renamed') }));
    assert.ok(cache.beginPoll(80_000));
    cache.endPoll(poll('dc1', 130, 80_000, {}));
    assert.deepEqual(cache.lookup(['aa', 'bb', 'cc'], 130_000), { groups: [group('Eng'), group('Ops-Renamed')], missing: ['cc'] });
    // No poll since: stale after the bound.
    assert.deepEqual(cache.lookup(['aa'], 140_001).missing, ['aa']);
  });

  it('does not confirm entries read before the first poll of a DC, nor after its USN went backwards', () => {
    const cache = createGroupCache(options);
    cache.store('aa', group('Eng'), 'dc1', 0);
    cache.beginPoll(10);
    cache.endPoll(poll('dc1', 100, 10, null));
    cache.beginPoll(40_000);
    cache.endPoll(poll('dc1', 110, 40_000, {}));
    assert.deepEqual(cache.lookup(['aa'], 60_001).missing, ['aa']);
    cache.store('bb', group('Ops'), 'dc1', 50_000);
    cache.beginPoll(80_000);
    cache.endPoll(poll('dc1', 50, 80_000, {})); // restored from a backup
    assert.deepEqual(cache.lookup(['bb'], 110_001).missing, ['bb']);
  });

  it('runs one poll at a time, due after the interval; a failed poll changes nothing', () => {
    const cache = createGroupCache(options);
    assert.equal(cache.pollDue(0), true);
    assert.ok(cache.beginPoll(0));
    assert.equal(cache.pollDue(50_000), false);
    assert.equal(cache.beginPoll(50_000), false);
    cache.endPoll(null);
    assert.equal(cache.pollDue(29_999), false);
    assert.equal(cache.pollDue(30_000), true);
    assert.equal(cache.watermark('dc1'), null);
  });
});
