/**
 * Access evaluated once per session and cached: the groups resolved at sign-in are used until
 * the cache ages out, then read again from the directory (so a user removed from an AD group
 * loses what that group granted); an administrator's change recomputes every cached evaluation
 * from the cached groups at the next request. A directory that cannot answer keeps the last
 * known groups (as session re-checks do).
 */
import type { Session } from '#src/sessions/session-store.ts';
import type { AccessService } from './access-service.ts';
import type { Entitlements, UserGroup } from './evaluation.ts';

export interface SessionAccess {
  groups: UserGroup[];
  groupsTruncated: boolean;
  entitlements: Entitlements;
  /** When the groups were read from the directory (or at sign-in). */
  groupsReadAt: Date;
}

export interface SessionAccessOptions {
  access: Pick<AccessService, 'entitlementsOf' | 'groupsOfUserGuid' | 'generation' | 'groupMembership'>;
  /** How long a session's groups are trusted before the directory is asked again. */
  cacheMs: number;
  clock?: () => Date;
  log?: { warn(details: Record<string, unknown>, message: string): void };
  /** Sessions kept in memory; the oldest entry goes first. */
  maxEntries?: number;
}

interface Entry {
  value: SessionAccess;
  generation: number;
}

export function createSessionAccessCache(options: SessionAccessOptions) {
  const { access, cacheMs, clock = () => new Date(), log, maxEntries = 10_000 } = options;
  const entries = new Map<string, Entry>();
  const pending = new Map<string, Promise<SessionAccess>>();

  async function groupsFor(session: Session, previous: Entry | undefined, now: Date): Promise<Pick<SessionAccess, 'groups' | 'groupsTruncated' | 'groupsReadAt'>> {
    // Fresh from sign-in (transitive mode): the flow already read them.
    if (previous === undefined && access.groupMembership === 'transitive' && now.getTime() - session.createdAt.getTime() < cacheMs) {
      return { groups: session.data.groups.map((g) => ({ ...g, path: [g.qualifiedName] })), groupsTruncated: session.data.groupsTruncated, groupsReadAt: session.createdAt };
    }
    try {
      const read = await access.groupsOfUserGuid(session.userGuid);
      // Gone from the directory: no groups (the session re-check ends the session itself).
      return { groups: read?.groups ?? [], groupsTruncated: read?.truncated ?? false, groupsReadAt: now };
    } catch (error) {
      log?.warn({ userGuid: session.userGuid, err: error }, 'groups could not be read again; keeping the last known ones');
      if (previous !== undefined) return previous.value;
      return { groups: session.data.groups.map((g) => ({ ...g, path: [g.qualifiedName] })), groupsTruncated: session.data.groupsTruncated, groupsReadAt: session.createdAt };
    }
  }

  async function compute(session: Session, previous: Entry | undefined, now: Date): Promise<SessionAccess> {
    const generation = access.generation();
    const stillFresh = previous !== undefined && now.getTime() - previous.value.groupsReadAt.getTime() < cacheMs;
    const groups = stillFresh ? previous.value : await groupsFor(session, previous, now);
    const value = { ...groups, entitlements: await access.entitlementsOf(session.userGuid, groups.groups, groups.groupsTruncated) };
    entries.delete(session.id);
    entries.set(session.id, { value, generation });
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    return value;
  }

  return {
    /** The session's groups and entitlements, from the cache when it is current. */
    async forSession(session: Session): Promise<SessionAccess> {
      const now = clock();
      const entry = entries.get(session.id);
      if (entry !== undefined && entry.generation === access.generation() && now.getTime() - entry.value.groupsReadAt.getTime() < cacheMs) return entry.value;
      let running = pending.get(session.id);
      if (running === undefined) {
        running = compute(session, entry, now).finally(() => pending.delete(session.id));
        pending.set(session.id, running);
      }
      return running;
    },
    forget(sessionId: string): void {
      entries.delete(sessionId);
    },
  };
}

export type SessionAccessCache = ReturnType<typeof createSessionAccessCache>;
