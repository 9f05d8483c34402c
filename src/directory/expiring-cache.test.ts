import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createExpiringCache } from './expiring-cache.ts';

describe('expiring cache', () => {
  it('returns a value until its time is up', () => {
    const cache = createExpiringCache<string | null>({ ttlMs: 1000, maxEntries: 10 });
    cache.set('a', 'A', 0);
    cache.set('b', null, 0);
    assert.equal(cache.get('a', 999), 'A');
    assert.equal(cache.get('b', 999), null, 'a remembered absence is a value');
    assert.equal(cache.get('c', 0), undefined);
    assert.equal(cache.get('a', 1000), undefined);
    assert.equal(cache.size, 1, 'the expired entry is dropped');
  });

  it('drops the oldest entry when full, counting a refresh as new', () => {
    const cache = createExpiringCache<number>({ ttlMs: 1000, maxEntries: 2 });
    cache.set('a', 1, 0);
    cache.set('b', 2, 0);
    cache.set('a', 3, 1);
    cache.set('c', 4, 2);
    assert.equal(cache.get('b', 2), undefined);
    assert.equal(cache.get('a', 2), 3);
    assert.equal(cache.get('c', 2), 4);
    assert.equal(cache.size, 2);
    cache.clear();
    assert.equal(cache.size, 0);
  });
});
