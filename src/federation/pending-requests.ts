/**
 * The SAML requests waiting while their person signs in (issue 12), kept in the database
 * (PendingRequestStore) so that the request accepted by one instance is resumed by whichever
 * instance the person's sign-in lands on (issue 15).
 *
 * Anyone can create one with an unauthenticated request, so the store is bounded by count and by
 * bytes, overall and per client address. A client over its own share (a tenth of the store)
 * evicts only its own oldest requests, so one address cannot push everyone else's out. When the
 * whole store is full, a new request is refused with `saml.pending_full` (503) — a clear, logged
 * refusal — rather than silently dropping another person's request half-way through their
 * sign-in (which, with several instances, nobody could tell from a bug). Filling it takes at
 * least ten addresses (IPv6: ten /64 networks).
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '#src/shared/errors.ts';

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

/** A request as the store keeps it: the value already encoded. */
export interface ParkedRequest {
  ref: string;
  client: string;
  bytes: number;
  valueJson: string;
  parkedAt: Date;
  expiresAt: Date;
}

export interface PendingBounds {
  maxEntries: number;
  maxBytes: number;
  clientEntries: number;
  clientBytes: number;
}

/** Where waiting requests are kept; shared by every instance on one database. */
export interface PendingRequestStore {
  /**
   * Drops expired requests, then the client's own oldest while it would hold more than its
   * bounds, then keeps `entry` — unless the whole store would pass its bounds: 'full'.
   */
  park(entry: ParkedRequest, bounds: PendingBounds): Promise<'parked' | 'full'>;
  peek(ref: string, now: Date): Promise<{ valueJson: string; parkedAt: Date } | undefined>;
  /** The request, once (deleted as it is read); undefined when unknown, taken, or expired. */
  take(ref: string, now: Date): Promise<{ valueJson: string; parkedAt: Date } | undefined>;
  prune(now: Date): Promise<number>;
  stats(now: Date): Promise<{ entries: number; bytes: number; clients: number }>;
}

export interface PendingRequests<T> {
  /** Keeps `value` for `client`; returns the one-time reference that resumes it. */
  park(value: T, client: string): Promise<string>;
  peek(ref: string): Promise<PendingEntry<T> | undefined>;
  /** The value, once; undefined when unknown, already taken, or expired. */
  take(ref: string): Promise<T | undefined>;
  stats(): Promise<{ entries: number; bytes: number; clients: number }>;
}

export interface PendingCodec<T> {
  sizeOf(value: T): number;
  encode(value: T): string;
  decode(json: string): T;
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

export function createPendingRequests<T>(store: PendingRequestStore, limits: PendingLimits, codec: PendingCodec<T>, now: () => number): PendingRequests<T> {
  const bounds: PendingBounds = {
    maxEntries: limits.maxEntries,
    maxBytes: limits.maxBytes,
    clientEntries: Math.max(1, Math.floor(limits.maxEntries * limits.clientShare)),
    clientBytes: Math.max(1, Math.floor(limits.maxBytes * limits.clientShare)),
  };
  const kept = (found: { valueJson: string; parkedAt: Date } | undefined): PendingEntry<T> | undefined =>
    found === undefined ? undefined : { value: codec.decode(found.valueJson), parkedAt: found.parkedAt.getTime() };

  return {
    async park(value, client) {
      const at = now();
      const ref = randomBytes(18).toString('base64url');
      const outcome = await store.park({ ref, client, bytes: codec.sizeOf(value), valueJson: codec.encode(value), parkedAt: new Date(at), expiresAt: new Date(at + limits.ttlMs) }, bounds);
      if (outcome === 'full') {
        throw new AppError('saml.pending_full', `Portico is holding ${limits.maxEntries} sign-in requests waiting for their people, its limit: try again in a few minutes`, { status: 503, expose: true });
      }
      return ref;
    },
    peek: async (ref) => kept(await store.peek(ref, new Date(now()))),
    take: async (ref) => kept(await store.take(ref, new Date(now())))?.value,
    stats: () => store.stats(new Date(now())),
  };
}
