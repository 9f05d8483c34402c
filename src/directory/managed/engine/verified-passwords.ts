/**
 * A short-lived memory of passwords that passed a hash verification, so that a repeat bind with
 * the same password skips the hash while a wrong password still pays for it.
 *
 * Kept after issue 21 (Argon2id instead of scrypt), on measurements (bench/README.md): an Argon2id
 * verification at OWASP's parameters still costs ~10–12 ms of server CPU per bind, against
 * ~0.4 ms for a hit, so clients that bind once per request (one account, many binds a minute) cost
 * ~25 times less with it; first binds (the morning rush) are unaffected either way. What it
 * costs: a few MB at 10,000 entries, and someone holding a dump of this process's memory (key and
 * entries) plus the stored hashes could test guesses for the last TTL's passwords at HMAC speed
 * instead of Argon2id's — but such a dump also holds the passwords of binds in flight.
 *
 * Neither passwords nor hashes are kept: an entry is HMAC-SHA256(key, storedHash + NUL + password)
 * under a key of 32 random bytes drawn when the cache is created, never persisted and never logged.
 * Without that key the entries say nothing about the passwords, and with it one still needs the
 * stored hash. Keying on the stored hash means that a password change or reset misses by itself
 * (in this process or in another one sharing the store); forget() only frees the memory sooner.
 * Only successes are remembered, each for ttlMs from its verification (a hit does not extend it),
 * at most maxEntries of them (least recently used first out).
 */
import { createHmac, randomBytes } from 'node:crypto';

export interface VerifiedPasswordCacheOptions {
  /** Entries kept at most; the least recently used goes first. 0 turns the cache off. */
  maxEntries?: number;
  /** How long a verification counts, from the hash run that proved it. 0 turns the cache off. */
  ttlMs?: number;
  /** Milliseconds since the epoch; the engine passes its clock. */
  now?: () => number;
}

export const defaultVerifiedPasswordCache = { maxEntries: 10_000, ttlMs: 5 * 60_000 } as const;

export interface VerifiedPasswordCache {
  /** True when this password was verified against this stored hash within the TTL. */
  has(hash: string, password: string): boolean;
  /** Records a successful verification of `password` against `hash`, the credentials of entry `guid`. */
  remember(guid: string, hash: string, password: string): void;
  /** Drops what is remembered for one entry (its password changed, or it was deleted). */
  forget(guid: string): void;
  clear(): void;
  readonly size: number;
}

interface Remembered {
  guid: string;
  verifiedAt: number;
}

export function createVerifiedPasswordCache(options: VerifiedPasswordCacheOptions = {}): VerifiedPasswordCache {
  const maxEntries = Math.max(0, Math.floor(options.maxEntries ?? defaultVerifiedPasswordCache.maxEntries));
  const ttlMs = Math.max(0, options.ttlMs ?? defaultVerifiedPasswordCache.ttlMs);
  const now = options.now ?? Date.now;
  const enabled = maxEntries > 0 && ttlMs > 0;
  const key = randomBytes(32);
  /** MAC → entry; Map order is the recency order (oldest first). */
  const entries = new Map<string, Remembered>();
  /** guid → its MACs, for forget(). */
  const byGuid = new Map<string, Set<string>>();

  const mac = (hash: string, password: string): string => createHmac('sha256', key).update(hash, 'utf8').update('\0').update(password, 'utf8').digest('base64');

  function drop(id: string, remembered: Remembered): void {
    entries.delete(id);
    const ids = byGuid.get(remembered.guid);
    ids?.delete(id);
    if (ids?.size === 0) byGuid.delete(remembered.guid);
  }

  return {
    has(hash, password) {
      if (!enabled || entries.size === 0) return false;
      const id = mac(hash, password);
      const remembered = entries.get(id);
      if (!remembered) return false;
      const age = now() - remembered.verifiedAt;
      // A clock that went backwards counts as expired too.
      if (age < 0 || age >= ttlMs) {
        drop(id, remembered);
        return false;
      }
      entries.delete(id);
      entries.set(id, remembered);
      return true;
    },
    remember(guid, hash, password) {
      if (!enabled) return;
      const id = mac(hash, password);
      const previous = entries.get(id);
      if (previous) drop(id, previous);
      const remembered = { guid, verifiedAt: now() };
      entries.set(id, remembered);
      let ids = byGuid.get(guid);
      if (!ids) byGuid.set(guid, (ids = new Set()));
      ids.add(id);
      while (entries.size > maxEntries) {
        const [oldestId, oldest] = entries.entries().next().value as [string, Remembered];
        drop(oldestId, oldest);
      }
    },
    forget(guid) {
      const ids = byGuid.get(guid);
      if (!ids) return;
      for (const id of ids) entries.delete(id);
      byGuid.delete(guid);
    },
    clear() {
      entries.clear();
      byGuid.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
