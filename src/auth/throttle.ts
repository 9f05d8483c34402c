/**
 * Sign-in throttling, in memory, with the clock passed in (pure logic: no timers).
 *
 * Two sliding windows: failures per user name (protects the person's AD account from being
 * locked out by strangers, and slows guessing one password) and failures per client address
 * (slows spraying one password across many names). An attempt is refused while either window
 * holds `maxFailures` failures; it becomes possible again when the oldest of them leaves the window.
 *
 * Keys:
 * - Subjects are compared lower-cased and trimmed, nothing more. The callers pass
 *   `accountSubject(objectGUID)` for a name that resolves to a directory account, whatever its
 *   spelling (UPN, DOMAIN\sam, DN …), so switching spellings cannot sidestep the per-account
 *   limit; `nameSubject(spelling)` for a name that designates no account.
 * - IPv6 addresses are counted per /64 (one host usually owns a whole /64); IPv4-mapped IPv6
 *   addresses count as their IPv4 address.
 *
 * Rules:
 * - A refused (throttled) attempt never counts as a failure, so waiting out Retry-After always works.
 * - A success clears the user name's failures but not the address's: otherwise an attacker
 *   could reset their address's count by signing in to their own account between guesses.
 * - Memory is bounded: each window keeps at most `maxFailures` timestamps per key and at most
 *   `maxTrackedKeys` keys, evicting the least recently failed ones beyond that.
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
  /** Keys kept per window before the least recently failed are forgotten. */
  maxTrackedKeys?: number;
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
  /** `maxFailures`: the subject's own limit when lower than the configured one. */
  check(username: string, address: string | null, now: Date, maxFailures?: number): ThrottleDecision;
  /** Counts a failed attempt (wrong password and the like), unless that key is already throttled. */
  recordFailure(username: string, address: string | null, now: Date, details?: ThrottleFailureDetails): void;
  /** Clears the user name's failures after a successful sign-in. */
  recordSuccess(username: string, address: string | null): void;
}

export const DEFAULT_MAX_TRACKED_KEYS = 100_000;

/** The throttle subject of a directory account: failures count against the account whatever spelling reached it. */
export function accountSubject(guid: string): string { return `account:${guid.toLowerCase()}`; }
/** The subject of a spelling that designates no account (still counted, so unknown names stay indistinguishable). */
export function nameSubject(spelling: string): string { return `name:${spelling.trim().toLowerCase()}`; }

interface SlidingWindow {
  retryAfterMs(key: string, now: number, limit?: number): number;
  recordFailure(key: string, now: number, limit?: number): void;
  clear(key: string): void;
}

function slidingWindow({ maxFailures, windowMs }: ThrottleLimit, maxKeys: number): SlidingWindow {
  // Insertion order is least recently failed first: a key is re-inserted at every failure.
  const failures = new Map<string, number[]>();

  /** The key's failures still inside the window, oldest first; drops the key when none are. */
  function recent(key: string, now: number): number[] {
    const list = failures.get(key);
    if (list === undefined) return [];
    const live = list.filter((at) => at > now - windowMs);
    if (live.length === 0) failures.delete(key);
    else if (live.length !== list.length) failures.set(key, live);
    return live;
  }

  return {
    retryAfterMs(key, now, limit) {
      const max = effectiveLimit(maxFailures, limit);
      const live = recent(key, now);
      if (live.length < max) return 0;
      // Allowed again once all but max - 1 of them left the window.
      const oldestThatMatters = live[live.length - max] ?? now;
      return Math.max(1, oldestThatMatters + windowMs - now);
    },
    recordFailure(key, now, limit) {
      const live = recent(key, now);
      if (live.length >= effectiveLimit(maxFailures, limit)) return;
      failures.delete(key);
      failures.set(key, [...live, now]);
      for (const oldest of failures.keys()) {
        if (failures.size <= maxKeys) break;
        failures.delete(oldest);
      }
    },
    clear(key) {
      failures.delete(key);
    },
  };
}

/** A subject's own limit only ever lowers the configured one. */
function effectiveLimit(configured: number, own: number | undefined): number {
  return own !== undefined && Number.isInteger(own) && own >= 1 ? Math.min(configured, own) : configured;
}

function checkLimit(name: string, limit: ThrottleLimit): void {
  if (!Number.isInteger(limit.maxFailures) || limit.maxFailures < 1) throw new RangeError(`${name}.maxFailures must be a positive integer`);
  if (!Number.isFinite(limit.windowMs) || limit.windowMs <= 0) throw new RangeError(`${name}.windowMs must be a positive number`);
}

export function createSignInThrottle(options: SignInThrottleOptions): SignInThrottle {
  checkLimit('perUsername', options.perUsername);
  checkLimit('perAddress', options.perAddress);
  const maxKeys = options.maxTrackedKeys ?? DEFAULT_MAX_TRACKED_KEYS;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxTrackedKeys must be a positive integer');
  const byName = slidingWindow(options.perUsername, maxKeys);
  const byAddress = slidingWindow(options.perAddress, maxKeys);

  return {
    check(username, address, now, maxFailures) {
      const at = now.getTime();
      const nameWait = byName.retryAfterMs(usernameKey(username), at, maxFailures);
      const addressKey = address === null ? null : clientAddressKey(address);
      const addressWait = addressKey === null ? 0 : byAddress.retryAfterMs(addressKey, at);
      if (nameWait === 0 && addressWait === 0) return { allowed: true };
      // The longer wait is the one that decides when the next attempt can work.
      return nameWait >= addressWait ? { allowed: false, retryAfterMs: nameWait, scope: 'username' } : { allowed: false, retryAfterMs: addressWait, scope: 'address' };
    },
    recordFailure(username, address, now, details) {
      const at = now.getTime();
      byName.recordFailure(usernameKey(username), at, details?.maxFailures);
      const addressKey = address === null ? null : clientAddressKey(address);
      if (addressKey !== null) byAddress.recordFailure(addressKey, at);
    },
    recordSuccess(username) {
      byName.clear(usernameKey(username));
    },
  };
}

export function usernameKey(username: string): string {
  return username.trim().toLowerCase();
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
