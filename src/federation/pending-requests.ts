/**
 * The SAML requests waiting while their person signs in (issue 12): anyone can create one with an
 * unauthenticated request, so the store is bounded by count and by bytes, overall and per client
 * address. When full, the oldest go first — but a client over its own share (a tenth of the
 * store) evicts only its own oldest requests, so one address cannot push everyone else's out.
 * Refusing new requests when full was the alternative; it would let the same flood lock every
 * newcomer out for the whole lifetime instead.
 */
import { randomBytes } from 'node:crypto';

export interface PendingLimits {
  /** How long a request waits. */
  ttlMs: number;
  maxEntries: number;
  /** Estimated bytes of everything kept (see `sizeOf`). */
  maxBytes: number;
  /** The part of both bounds one client address may hold (0 < share ≤ 1). */
  clientShare: number;
}

export interface PendingEntry<T> {
  value: T;
  parkedAt: number;
}

interface Stored<T> extends PendingEntry<T> {
  client: string;
  bytes: number;
  expiresAt: number;
}

export interface PendingRequests<T> {
  /** Keeps `value` for `client`; returns the one-time reference that resumes it. */
  park(value: T, client: string): string;
  peek(ref: string): PendingEntry<T> | undefined;
  /** The value, once; undefined when unknown, already taken, or expired. */
  take(ref: string): T | undefined;
  stats(): { entries: number; bytes: number; clients: number };
}

/**
 * The client a waiting request counts against: the IPv4 address, or the /64 network of an IPv6
 * one (a single IPv6 host usually has a whole /64 to pick addresses from).
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.toLowerCase().split('%')[0]?.split('::') ?? [''];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export function createPendingRequests<T>(limits: PendingLimits, sizeOf: (value: T) => number, now: () => number): PendingRequests<T> {
  // Insertion order is time order (one lifetime for all), so the first entry is the oldest.
  const entries = new Map<string, Stored<T>>();
  const byClient = new Map<string, { refs: Map<string, true>; bytes: number }>();
  const clientEntries = Math.max(1, Math.floor(limits.maxEntries * limits.clientShare));
  const clientBytes = Math.max(1, Math.floor(limits.maxBytes * limits.clientShare));
  let totalBytes = 0;

  function remove(ref: string): Stored<T> | undefined {
    const entry = entries.get(ref);
    if (entry === undefined) return undefined;
    entries.delete(ref);
    totalBytes -= entry.bytes;
    const client = byClient.get(entry.client);
    if (client !== undefined) {
      client.refs.delete(ref);
      client.bytes -= entry.bytes;
      if (client.refs.size === 0) byClient.delete(entry.client);
    }
    return entry;
  }

  function expire(at: number): void {
    for (const [ref, entry] of entries) {
      if (entry.expiresAt > at) break;
      remove(ref);
    }
  }

  return {
    park(value, client) {
      const at = now();
      expire(at);
      const bytes = sizeOf(value);
      // The client's own oldest first, while it is over its share…
      for (let mine = byClient.get(client); mine !== undefined && (mine.refs.size + 1 > clientEntries || mine.bytes + bytes > clientBytes); mine = byClient.get(client)) {
        const oldest = mine.refs.keys().next().value;
        if (oldest === undefined) break;
        remove(oldest);
      }
      // …then the oldest of all, while the store is full.
      while (entries.size > 0 && (entries.size + 1 > limits.maxEntries || totalBytes + bytes > limits.maxBytes)) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        remove(oldest);
      }
      const ref = randomBytes(18).toString('base64url');
      entries.set(ref, { value, client, bytes, parkedAt: at, expiresAt: at + limits.ttlMs });
      const mine = byClient.get(client) ?? { refs: new Map<string, true>(), bytes: 0 };
      mine.refs.set(ref, true);
      mine.bytes += bytes;
      byClient.set(client, mine);
      totalBytes += bytes;
      return ref;
    },
    peek(ref) {
      const entry = entries.get(ref);
      return entry === undefined || entry.expiresAt <= now() ? undefined : { value: entry.value, parkedAt: entry.parkedAt };
    },
    take(ref) {
      const entry = remove(ref);
      return entry === undefined || entry.expiresAt <= now() ? undefined : entry.value;
    },
    stats: () => ({ entries: entries.size, bytes: totalBytes, clients: byClient.size }),
  };
}
