/**
 * Sign-in throttling, with the clock passed in. The counters live behind a `ThrottleStore` port
 * (the database in production, so that they survive a restart and are shared by every instance on
 * one database; memory for unit tests); the window arithmetic here is pure.
 *
 * Two sliding windows: failures per subject (protects the person's AD account from being
 * locked out by strangers, and slows guessing one password) and failures per client address
 * (slows spraying one password across many names). An attempt is refused while either window
 * holds `maxFailures` failures; it becomes possible again when the oldest of them leaves the window.
 *
 * Keys:
 * - Subjects are built by `accountSubject` (a directory account, whatever spelling reached it) or
 *   `nameSubject` (a spelling that designates no account); they are compared trimmed and lower-cased.
 * - IPv6 addresses are counted per /64 (one host usually owns a whole /64); IPv4-mapped IPv6
 *   addresses count as their IPv4 address.
 *
 * Rules:
 * - A refused (throttled) attempt never counts as a failure, so waiting out Retry-After always works.
 * - A success clears the subject's failures but not the address's: otherwise an attacker
 *   could reset their address's count by signing in to their own account between guesses.
 * - Growth is bounded: a key holds at most `maxFailures` failures (one per slot, see the store),
 *   expired failures are pruned, and the store caps its total number of rows.
 *
 * Concurrency (parallel requests, several instances on one database): every slot is taken with a
 * single conditional write, atomic on the store, so a key never holds more than `maxFailures`
 * slots: however many instances record failures at once, none is counted beyond the limit, and
 * once a key is full every instance refuses it.
 * Attempts in flight: `attemptHoldMs` makes an admitted attempt take a subject slot at once, as
 * a hold (pending), which its `recordFailure` turns into the failure, `recordSuccess` clears, and
 * `release` gives back when the attempt ended neither way (a disabled account, a password refused
 * by policy, the directory down). So however many parallel attempts arrive, at any instance, at
 * most `maxFailures` are admitted: N parallel wrong passwords cannot push an account past the
 * lockout threshold. A hold that is never settled (a crash) expires after `attemptHoldMs`.
 * Without `attemptHoldMs` (unit tests, tools) attempts that passed `check` before any of them was
 * recorded reach the directory together.
 */
import net from 'node:net';

export interface ThrottleLimit {
  /** Failures within the window that make further attempts wait. */
  maxFailures: number;
  windowMs: number;
}

export interface SignInThrottleOptions {
  perUsername: ThrottleLimit;
  perAddress: ThrottleLimit;
  /** Keys kept by the in-memory store before the least recently failed are forgotten. */
  maxTrackedKeys?: number;
  /** Where the counters live; an in-memory store (one process, lost on restart) when absent. */
  store?: ThrottleStore;
  /** How often expired failures are pruned from the store (at the next failure after it). */
  pruneIntervalMs?: number;
  /** How long an admitted attempt holds its subject slot while its bind is in flight; off when absent (see above). */
  attemptHoldMs?: number;
}

export type ThrottleScope = 'username' | 'address';

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterMs: number; scope: ThrottleScope };

export interface ThrottleFailureDetails {
  /** What an administrator sees in the throttled list: the account's UPN, or the spelling typed. */
  label?: string;
  /** The per-subject limit when it is lower than the configured one (a fine-grained password policy). */
  maxFailures?: number;
}

export interface SignInThrottle {
  check(subject: string, address: string | null, now: Date, maxFailures?: number): Promise<ThrottleDecision>;
  /** Counts a failed attempt (wrong password and the like), unless that key is already throttled. */
  recordFailure(subject: string, address: string | null, now: Date, details?: ThrottleFailureDetails): Promise<void>;
  /** Clears the subject's failures after a successful sign-in. */
  recordSuccess(subject: string, address: string | null): Promise<void>;
  /** Ends an admitted attempt that was neither a failure nor a success: gives its hold back. */
  release(subject: string, now: Date): Promise<void>;
}

/** The throttle subject of a directory account: failures count against the account whatever spelling reached it. */
export function accountSubject(guid: string): string { return `account:${guid.toLowerCase()}`; }
/** The subject of a spelling that designates no account (still counted, so unknown names stay indistinguishable). */
export function nameSubject(spelling: string): string { return `name:${spelling.trim().toLowerCase()}`; }

// ---- the store port ----

/** 'subject' rows are keyed by the subject, 'address' rows by `clientAddressKey`. */
export type ThrottleStoreScope = 'subject' | 'address';

export interface ThrottleFailure {
  failedAt: Date;
  /** failedAt + the window: the failure stops counting then. */
  expiresAt: Date;
  label: string;
  /** The limit in force for this key when the failure was counted (shown to administrators). */
  maxFailures: number;
  /** A hold on an attempt in flight rather than a failure (addFailure turns a hold into the failure). */
  pending?: boolean;
}

export interface StoredThrottleFailure {
  scope: ThrottleStoreScope;
  key: string;
  label: string;
  maxFailures: number;
  failedAt: Date;
  expiresAt: Date;
  pending: boolean;
}

/**
 * Where failures are kept. Each key has `maxFailures` slots; a failure takes a slot that is free
 * (never used, or expired at the failure's time). Implementations must make taking a slot atomic
 * against concurrent writers (another instance on the same database): two writers never both
 * take the same slot, and two failures never both turn the same hold into a failure.
 */
export interface ThrottleStore {
  /** Expiry times (epoch ms) of the key's failures still counting at `now`, ascending. */
  liveExpiries(scope: ThrottleStoreScope, key: string, now: Date): Promise<number[]>;
  /**
   * Puts the failure (or hold, when `pending`) in a slot: a failure first turns one of the key's
   * live holds into it; otherwise a free slot among the first `maxFailures` is taken. False when
   * none was free.
   */
  addFailure(scope: ThrottleStoreScope, key: string, failure: ThrottleFailure): Promise<boolean>;
  /** Removes one live hold of the key (an attempt that ended neither way); false when it had none. */
  releaseHold(scope: ThrottleStoreScope, key: string, now: Date): Promise<boolean>;
  /** Forgets every failure of the key; how many were removed. */
  clear(scope: ThrottleStoreScope, key: string): Promise<number>;
  /**
   * The failures still counting at `now`, at most `limit` of them, grouped by key (scope, key,
   * then expiry order); only one key's, or only subjects whose label is `label` (any case), when asked.
   */
  listLive(now: Date, limit: number, only?: ThrottleListFilter): Promise<StoredThrottleFailure[]>;
  /** Deletes failures expired at `now` and enforces the store's row cap; how many were removed. */
  prune(now: Date): Promise<number>;
}

export type ThrottleListFilter = { scope: ThrottleStoreScope; key: string } | { label: string };

// ---- pure window arithmetic ----

/**
 * How long until one more attempt may be made, given the expiry times of the live failures
 * (ascending): 0 below the limit; otherwise until all but (maxFailures − 1) of them expired.
 */
export function retryAfterMs(liveExpiries: readonly number[], maxFailures: number, now: number): number {
  if (liveExpiries.length < maxFailures) return 0;
  const decisive = liveExpiries[liveExpiries.length - maxFailures] ?? now;
  return Math.max(1, decisive - now);
}

// ---- administration ----

export type ThrottleKind = 'account' | 'name' | 'address';

export interface ThrottleEntry {
  scope: ThrottleStoreScope;
  kind: ThrottleKind;
  /** The subject (`account:<guid>`, `name:<spelling>`) or the address key (IPv4, or an IPv6 /64). */
  key: string;
  label: string;
  failures: number;
  maxFailures: number;
  lastFailureAt: Date;
  /** When the next attempt is allowed again; null while under the limit. */
  throttledUntil: Date | null;
}

export interface ThrottleAdmin {
  /** Subjects and addresses with failures still counting, throttled ones first. */
  list(now: Date): Promise<ThrottleEntry[]>;
  /**
   * Forgets the failures of one subject or address. `target` is a key as listed, an address
   * (normalised like the counting: an IPv6 address clears its /64), or a subject's label.
   * Returns what was cleared (empty when nothing matched).
   */
  clear(target: string, now: Date): Promise<ThrottleEntry[]>;
}

/** Entries listed at most (the store holds up to its row cap; an administrator needs the first pages). */
export const MAX_LISTED_FAILURES = 10_000;
export const DEFAULT_MAX_TRACKED_KEYS = 100_000;
export const DEFAULT_PRUNE_INTERVAL_MS = 60_000;
/** Labels are typed by strangers: kept short. */
export const MAX_LABEL_LENGTH = 256;

function checkLimit(name: string, limit: ThrottleLimit): void {
  if (!Number.isInteger(limit.maxFailures) || limit.maxFailures < 1) throw new RangeError(`${name}.maxFailures must be a positive integer`);
  if (!Number.isFinite(limit.windowMs) || limit.windowMs <= 0) throw new RangeError(`${name}.windowMs must be a positive number`);
}

/** A lower per-subject limit applies; a higher or nonsensical one is ignored (the configured limit is a ceiling). */
function effectiveLimit(configured: number, requested: number | undefined): number {
  return requested !== undefined && Number.isInteger(requested) && requested >= 1 && requested < configured ? requested : configured;
}

export function createSignInThrottle(options: SignInThrottleOptions): SignInThrottle & ThrottleAdmin {
  checkLimit('perUsername', options.perUsername);
  checkLimit('perAddress', options.perAddress);
  const maxKeys = options.maxTrackedKeys ?? DEFAULT_MAX_TRACKED_KEYS;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxTrackedKeys must be a positive integer');
  const store = options.store ?? createMemoryThrottleStore({ maxKeys });
  const pruneIntervalMs = options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS;
  const holdMs = options.attemptHoldMs === undefined ? null : Math.min(options.attemptHoldMs, options.perUsername.windowMs);
  if (holdMs !== null && (!Number.isFinite(holdMs) || holdMs <= 0)) throw new RangeError('attemptHoldMs must be a positive number');
  let lastPrune = Number.NEGATIVE_INFINITY;

  const limitOf = (scope: ThrottleStoreScope): ThrottleLimit => (scope === 'subject' ? options.perUsername : options.perAddress);

  /** One key's live rows (holds included: they occupy slots) as an administrator sees them. */
  function toEntry(rows: StoredThrottleFailure[], now: number): ThrottleEntry {
    const first = rows[0] as StoredThrottleFailure;
    const failures = rows.filter((row) => !row.pending);
    const latest = (failures.length > 0 ? failures : rows).reduce((a, b) => (b.failedAt > a.failedAt ? b : a));
    const maxFailures = Math.min(...rows.map((row) => row.maxFailures), limitOf(first.scope).maxFailures);
    const wait = retryAfterMs(rows.map((row) => row.expiresAt.getTime()), maxFailures, now);
    return {
      scope: first.scope,
      kind: first.scope === 'address' ? 'address' : first.key.startsWith('account:') ? 'account' : 'name',
      key: first.key,
      label: latest.label,
      failures: failures.length,
      maxFailures,
      lastFailureAt: latest.failedAt,
      throttledUntil: wait === 0 ? null : new Date(now + wait),
    };
  }

  function entries(rows: StoredThrottleFailure[], now: Date): ThrottleEntry[] {
    const groups = new Map<string, StoredThrottleFailure[]>();
    for (const row of rows) {
      const id = `${row.scope} ${row.key}`;
      const group = groups.get(id);
      if (group === undefined) groups.set(id, [row]);
      else group.push(row);
    }
    // Keys with holds only are attempts in flight, not failed sign-ins.
    return [...groups.values()].filter((group) => group.some((row) => !row.pending)).map((group) => toEntry(group, now.getTime()));
  }

  async function list(now: Date): Promise<ThrottleEntry[]> {
    return entries(await store.listLive(now, MAX_LISTED_FAILURES), now).sort(
      (a, b) =>
        Number(b.throttledUntil !== null) - Number(a.throttledUntil !== null) ||
        b.lastFailureAt.getTime() - a.lastFailureAt.getTime() ||
        a.key.localeCompare(b.key),
    );
  }

  return {
    async check(subject, address, now, maxFailures) {
      const at = now.getTime();
      const addressKey = address === null ? null : clientAddressKey(address);
      const [subjectLive, addressLive] = await Promise.all([
        store.liveExpiries('subject', subjectKey(subject), now),
        addressKey === null ? Promise.resolve([]) : store.liveExpiries('address', addressKey, now),
      ]);
      const limit = effectiveLimit(options.perUsername.maxFailures, maxFailures);
      const subjectWait = retryAfterMs(subjectLive, limit, at);
      const addressWait = retryAfterMs(addressLive, options.perAddress.maxFailures, at);
      if (subjectWait === 0 && addressWait === 0) {
        if (holdMs === null) return { allowed: true };
        // Admitted: hold a slot while the bind is in flight, so parallel attempts count at once.
        const key = subjectKey(subject);
        const held = await store.addFailure('subject', key, { failedAt: now, expiresAt: new Date(at + holdMs), label: key.replace(/^(account|name):/, '').slice(0, MAX_LABEL_LENGTH), maxFailures: limit, pending: true });
        if (held) return { allowed: true };
        // Another attempt took the last slot meanwhile.
        const wait = retryAfterMs(await store.liveExpiries('subject', key, now), limit, at);
        return { allowed: false, retryAfterMs: Math.max(1, wait), scope: 'username' };
      }
      // The longer wait is the one that decides when the next attempt can work.
      return subjectWait >= addressWait ? { allowed: false, retryAfterMs: subjectWait, scope: 'username' } : { allowed: false, retryAfterMs: addressWait, scope: 'address' };
    },

    async recordFailure(subject, address, now, details = {}) {
      const key = subjectKey(subject);
      const subjectLimit = effectiveLimit(options.perUsername.maxFailures, details.maxFailures);
      const label = (details.label ?? key.replace(/^(account|name):/, '')).slice(0, MAX_LABEL_LENGTH);
      const writes = [store.addFailure('subject', key, { failedAt: now, expiresAt: new Date(now.getTime() + options.perUsername.windowMs), label, maxFailures: subjectLimit })];
      const addressKey = address === null ? null : clientAddressKey(address);
      if (addressKey !== null) {
        writes.push(store.addFailure('address', addressKey, { failedAt: now, expiresAt: new Date(now.getTime() + options.perAddress.windowMs), label: addressKey, maxFailures: options.perAddress.maxFailures }));
      }
      await Promise.all(writes);
      // Pruning rides on failures (the only writes): no timer, and nothing to prune without them.
      if (now.getTime() - lastPrune >= pruneIntervalMs) {
        lastPrune = now.getTime();
        await store.prune(now);
      }
    },

    async recordSuccess(subject) {
      await store.clear('subject', subjectKey(subject));
    },

    async release(subject, now) {
      if (holdMs !== null) await store.releaseHold('subject', subjectKey(subject), now);
    },

    list,

    async clear(target, now) {
      const wanted = target.trim();
      if (wanted === '') return [];
      const lowered = wanted.toLowerCase();
      // Looked up key by key (not in the listing, which is bounded): every reading of the target.
      const filters: ThrottleListFilter[] = [
        { scope: 'subject', key: lowered },
        { scope: 'subject', key: `name:${lowered}` },
        { scope: 'subject', key: `account:${lowered}` },
        { label: lowered },
        { scope: 'address', key: lowered },
      ];
      if (net.isIP(wanted) !== 0) filters.push({ scope: 'address', key: clientAddressKey(wanted) });
      const found = new Map<string, ThrottleEntry>();
      for (const filter of filters) {
        for (const entry of entries(await store.listLive(now, MAX_LISTED_FAILURES, filter), now)) found.set(`${entry.scope} ${entry.key}`, entry);
      }
      const matches = [...found.values()];
      for (const entry of matches) await store.clear(entry.scope, entry.key);
      return matches;
    },
  };
}

function subjectKey(subject: string): string {
  return subject.trim().toLowerCase();
}

/** The key an address is counted under: IPv4 as is, IPv6 by its /64, anything else lower-cased. */
export function clientAddressKey(address: string): string {
  const trimmed = address.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(trimmed);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!net.isIPv6(trimmed)) return trimmed;
  const groups = expandIpv6(trimmed);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, as lower-case hex without leading zeros. */
function expandIpv6(address: string): string[] {
  let text = address.split('%')[0] ?? address; // zone id
  const ipv4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (ipv4 !== null) {
    const [a, b, c, d] = ipv4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, ipv4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16));
}

// ---- the in-memory store ----

/**
 * One process's counters, lost on restart: for unit tests and tools. Bounded by `maxKeys`,
 * evicting the least recently failed keys beyond it (insertion order is least recently failed first).
 */
export function createMemoryThrottleStore({ maxKeys = DEFAULT_MAX_TRACKED_KEYS }: { maxKeys?: number } = {}): ThrottleStore {
  const keys = new Map<string, { scope: ThrottleStoreScope; key: string; slots: Array<ThrottleFailure | undefined> }>();
  const id = (scope: ThrottleStoreScope, key: string): string => `${scope} ${key}`;
  const live = (slots: Array<ThrottleFailure | undefined>, now: number): ThrottleFailure[] =>
    slots.filter((slot): slot is ThrottleFailure => slot !== undefined && slot.expiresAt.getTime() > now).sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime());

  return {
    liveExpiries(scope, key, now) {
      const entry = keys.get(id(scope, key));
      return Promise.resolve(entry === undefined ? [] : live(entry.slots, now.getTime()).map((slot) => slot.expiresAt.getTime()));
    },
    addFailure(scope, key, failure) {
      const entry = keys.get(id(scope, key)) ?? { scope, key, slots: [] };
      const at = failure.failedAt.getTime();
      const stored = { ...failure, pending: failure.pending === true };
      const hold = stored.pending ? -1 : entry.slots.findIndex((slot) => slot?.pending === true && slot.expiresAt.getTime() > at);
      for (let slot = hold >= 0 ? hold : 0; slot < (hold >= 0 ? hold + 1 : failure.maxFailures); slot += 1) {
        const taken = entry.slots[slot];
        if (hold < 0 && taken !== undefined && taken.expiresAt.getTime() > at) continue;
        entry.slots[slot] = stored;
        keys.delete(id(scope, key));
        keys.set(id(scope, key), entry);
        for (const oldest of keys.keys()) {
          if (keys.size <= maxKeys) break;
          keys.delete(oldest);
        }
        return Promise.resolve(true);
      }
      return Promise.resolve(false);
    },
    releaseHold(scope, key, now) {
      const entry = keys.get(id(scope, key));
      const slot = entry?.slots.findIndex((held) => held?.pending === true && held.expiresAt.getTime() > now.getTime()) ?? -1;
      if (entry === undefined || slot < 0) return Promise.resolve(false);
      entry.slots[slot] = undefined;
      return Promise.resolve(true);
    },
    clear(scope, key) {
      const entry = keys.get(id(scope, key));
      keys.delete(id(scope, key));
      return Promise.resolve(entry === undefined ? 0 : entry.slots.filter((slot) => slot !== undefined).length);
    },
    listLive(now, limit, only) {
      const rows: StoredThrottleFailure[] = [];
      const sorted = [...keys.values()]
        .filter((entry) => only === undefined || ('label' in only ? entry.scope === 'subject' && entry.slots.some((slot) => slot?.label.toLowerCase() === only.label.toLowerCase()) : entry.scope === only.scope && entry.key === only.key))
        .sort((a, b) => a.scope.localeCompare(b.scope) || a.key.localeCompare(b.key));
      for (const entry of sorted) {
        for (const slot of live(entry.slots, now.getTime())) rows.push({ scope: entry.scope, key: entry.key, label: slot.label, maxFailures: slot.maxFailures, failedAt: slot.failedAt, expiresAt: slot.expiresAt, pending: slot.pending === true });
      }
      return Promise.resolve(rows.slice(0, limit));
    },
    prune(now) {
      let removed = 0;
      for (const [name, entry] of keys) {
        const before = entry.slots.filter((slot) => slot !== undefined).length;
        const kept = live(entry.slots, now.getTime()).length;
        removed += before - kept;
        if (kept === 0) keys.delete(name);
      }
      return Promise.resolve(removed);
    },
  };
}
