/**
 * Remembers the IDs of requests already accepted, so the same request is not honoured twice.
 * `createReplayCache` is in memory and per process (for the core's own tests and single-process
 * uses); Portico itself keeps them in its database (src/federation/replay.ts), shared by every
 * instance behind a load balancer.
 */
export interface ReplayCache {
  /** Records `key` and answers false the first time; true when it was seen within the TTL. */
  seen(key: string): boolean | Promise<boolean>;
}

export interface ReplayCacheOptions {
  /** How long an ID is remembered; at least twice the accepted clock skew (a request is acceptable that long). */
  ttlMs: number;
  /** Bound on memory: past it, the oldest IDs are forgotten first. */
  maxEntries: number;
  /** Injectable clock for tests. */
  now?: () => number;
}

export function createReplayCache({ ttlMs, maxEntries, now = Date.now }: ReplayCacheOptions): ReplayCache & { seen(key: string): boolean; readonly size: number } {
  if (!(ttlMs > 0) || !(maxEntries > 0)) throw new RangeError('createReplayCache: ttlMs and maxEntries must be positive');
  // A Map iterates in insertion order, and every entry has the same TTL: the first entry is always the oldest.
  const expiries = new Map<string, number>();

  /** Drops expired entries, and the oldest live ones while there is no room for one more. */
  const evict = (at: number) => {
    for (const [key, expiry] of expiries) {
      if (expiry > at && expiries.size < maxEntries) break;
      expiries.delete(key);
    }
  };

  return {
    seen(key) {
      const at = now();
      const expiry = expiries.get(key);
      if (expiry !== undefined && expiry > at) return true;
      expiries.delete(key);
      evict(at);
      expiries.set(key, at + ttlMs);
      return false;
    },
    get size() {
      return expiries.size;
    },
  } satisfies ReplayCache & { readonly size: number };
}
