/**
 * The SAML replay cache of Portico itself: request IDs in the database (ReplayStore), so that a
 * request accepted by one instance is refused by every other one.
 *
 * Bounded: IDs are kept only while their request could still be accepted, and an expired one is
 * pruned. Counting the rows at every request would cost more than the check itself, so the count
 * is taken with each prune (at most every `recountMs`); while it is at `maxEntries`, new requests
 * are refused with `saml.replay_cache_full` (503) rather than forgetting IDs that could still be
 * replayed. Between two counts the store may pass the bound by the requests of that interval.
 */
import { AppError } from '#src/shared/errors.ts';
import type { ReplayCache } from './saml/replay-cache.ts';

/** Where accepted request IDs are kept; shared by every instance on one database. */
export interface ReplayStore {
  /** Records `key` until `expiresAt`: false when it is new (or its record expired), true when a live record exists. */
  remember(key: string, expiresAt: Date, now: Date): Promise<boolean>;
  /** Deletes expired records; returns how many. */
  prune(now: Date): Promise<number>;
  /** Live records. */
  count(now: Date): Promise<number>;
}

export interface SharedReplayCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** How often the rows are pruned and counted (at a request, never in the background). */
  recountMs: number;
  now: () => Date;
}

export function createSharedReplayCache(store: ReplayStore, options: SharedReplayCacheOptions): ReplayCache & { recount(): Promise<number> } {
  let countedAt = Number.NEGATIVE_INFINITY;
  let counted = 0;
  let recounting: Promise<number> | null = null;

  function recount(): Promise<number> {
    recounting ??= (async () => {
      const at = options.now();
      try {
        await store.prune(at);
        counted = await store.count(at);
        countedAt = at.getTime();
        return counted;
      } finally {
        recounting = null;
      }
    })();
    return recounting;
  }

  return {
    recount,
    async seen(key) {
      const now = options.now();
      if (now.getTime() - countedAt >= options.recountMs) await recount();
      if (counted >= options.maxEntries) {
        // Recounted at once when full: room made by expiry is used as soon as it exists.
        if (now.getTime() - countedAt > 1000) await recount();
        if (counted >= options.maxEntries) {
          throw new AppError('saml.replay_cache_full', `Portico is tracking ${options.maxEntries} recent sign-in requests, its limit: try again in a few minutes`, { status: 503, expose: true });
        }
      }
      return store.remember(key, new Date(now.getTime() + options.ttlMs), now);
    },
  };
}
