/**
 * Groups by SID, kept fresh by change tracking instead of a search per sign-in.
 *
 * Every entry remembers the domain controller it was read from and when it was last known to be
 * current there ("confirmed"). A poll reads a DC's highestCommittedUSN and the groups whose
 * uSNChanged is above that DC's previous one: those it finds in the cache are replaced, and every
 * other entry of that DC that was confirmed at or after the previous poll is confirmed again (no
 * change can have slipped between the two polls). An entry not confirmed for `maxStaleMs` is
 * treated as missing, so a rename, a move or a change of group type shows at the latest
 * `maxStaleMs` after it reached the DC, also when polls fail or another DC answers.
 *
 * Membership is not cached here: tokenGroups is read at every sign-in, so a user removed from a
 * group, or a deleted group (AD drops its links), is gone from the next sign-in at once.
 */
import type { DirectoryGroup } from './types.ts';

export interface GroupCacheOptions {
  /** A poll is due this long after the last one started. */
  pollIntervalMs: number;
  /** An entry not confirmed for this long is read again. */
  maxStaleMs: number;
  maxEntries: number;
}

export const defaultGroupCacheOptions: GroupCacheOptions = { pollIntervalMs: 30_000, maxStaleMs: 60_000, maxEntries: 10_000 };

interface Entry {
  /** null: the SID is no group of this domain (well-known, foreign). */
  group: DirectoryGroup | null;
  controller: string;
  confirmedMs: number;
  /** The poll that last confirmed it (0: none); a read counts from when it started. */
  poll: number;
}

export interface GroupPoll {
  controller: string;
  /** The DC's highestCommittedUSN, read before the search of changed groups. */
  highestUsn: bigint;
  /** Local time just before highestCommittedUSN was read. */
  startedMs: number;
  /** Local time once it was read: an entry read after this reflects every change up to the USN. */
  usnReadMs: number;
  /** Groups with uSNChanged above the previous watermark, by SID (hex); null on a DC's first poll. */
  changed: Map<string, DirectoryGroup> | null;
}

export interface GroupCache {
  /** Cached groups of these SIDs (hex), and the SIDs it has no current entry for. */
  lookup(sids: readonly string[], nowMs: number): { groups: DirectoryGroup[]; missing: string[] };
  /** A group (or null for no group) read from `controller` by a search that started at `startedMs`. */
  store(sid: string, group: DirectoryGroup | null, controller: string, startedMs: number): void;
  /** The USN to search from on this DC (exclusive), or null when it was never polled. */
  watermark(controller: string): bigint | null;
  pollDue(nowMs: number): boolean;
  /** Marks a poll as started (so that concurrent sign-ins do not start another); false when one runs. */
  beginPoll(nowMs: number): boolean;
  /** Applies a poll's result; `null` when the poll failed. */
  endPoll(poll: GroupPoll | null): void;
  clear(): void;
  readonly size: number;
}

export function createGroupCache(options: GroupCacheOptions = defaultGroupCacheOptions): GroupCache {
  // Insertion order is age order: the first key is the oldest when the cache is full.
  const entries = new Map<string, Entry>();
  const watermarks = new Map<string, { usn: bigint; usnReadMs: number; poll: number }>();
  let polls = 0;
  let lastPollMs: number | null = null;
  let polling = false;

  function put(sid: string, entry: Entry): void {
    entries.delete(sid);
    if (entries.size >= options.maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
    entries.set(sid, entry);
  }

  return {
    lookup(sids, nowMs) {
      const groups: DirectoryGroup[] = [];
      const missing: string[] = [];
      for (const sid of sids) {
        const entry = entries.get(sid);
        if (entry === undefined || nowMs - entry.confirmedMs > options.maxStaleMs) missing.push(sid);
        else if (entry.group !== null) groups.push(entry.group);
      }
      return { groups, missing };
    },
    store(sid, group, controller, startedMs) {
      put(sid, { group: group === null ? null : Object.freeze(group), controller, confirmedMs: startedMs, poll: 0 });
    },
    watermark: (controller) => watermarks.get(controller)?.usn ?? null,
    pollDue: (nowMs) => !polling && (lastPollMs === null || nowMs - lastPollMs >= options.pollIntervalMs),
    beginPoll(nowMs) {
      if (polling) return false;
      polling = true;
      lastPollMs = nowMs;
      return true;
    },
    endPoll(poll) {
      polling = false;
      if (poll === null) return;
      const previous = watermarks.get(poll.controller);
      polls += 1;
      watermarks.set(poll.controller, { usn: poll.highestUsn, usnReadMs: poll.usnReadMs, poll: polls });
      // A DC's first poll only sets its watermark: what changed there before is unknown (so too
      // after a USN that went backwards: a DC restored from a backup).
      if (previous === undefined || poll.changed === null || poll.highestUsn < previous.usn) return;
      for (const [sid, entry] of entries) {
        const fresh = poll.changed.get(sid);
        if (fresh !== undefined) {
          entries.set(sid, { group: Object.freeze(fresh), controller: poll.controller, confirmedMs: poll.startedMs, poll: polls });
        } else if (entry.controller === poll.controller && (entry.poll === previous.poll || (entry.poll === 0 && entry.confirmedMs >= previous.usnReadMs))) {
          // Current at the previous poll of this DC (or read since), and no change of it arrived in between.
          entry.confirmedMs = Math.max(entry.confirmedMs, poll.startedMs);
          entry.poll = polls;
        }
      }
    },
    clear() {
      entries.clear();
      watermarks.clear();
      lastPollMs = null;
    },
    get size() {
      return entries.size;
    },
  };
}
