/**
 * A small in-memory cache whose entries expire after a fixed time, bounded in size (the oldest
 * entry goes first when it is full). Time is passed in, so that tests and a moved clock agree.
 */
export interface ExpiringCache<V> {
  /** The value, or undefined when it is absent or expired. */
  get(key: string, nowMs: number): V | undefined;
  set(key: string, value: V, nowMs: number): void;
  delete(key: string): void;
  clear(): void;
  readonly size: number;
}

export function createExpiringCache<V>({ ttlMs, maxEntries }: { ttlMs: number; maxEntries: number }): ExpiringCache<V> {
  // A Map iterates in insertion order, and a refreshed key is re-inserted: the first key is the oldest.
  const entries = new Map<string, { value: V; expiresAt: number }>();
  return {
    get(key, nowMs) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (nowMs >= entry.expiresAt) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value, nowMs) {
      entries.delete(key);
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(key, { value, expiresAt: nowMs + ttlMs });
    },
    delete: (key) => void entries.delete(key),
    clear: () => entries.clear(),
    get size() {
      return entries.size;
    },
  };
}
