/**
 * The AD sync (issue 18): users and groups of the administrator's scope, synchronised into the
 * identity store within seconds of a change in AD. Each run reads one DC's changes since its own
 * position: the DirSync cookie that DC issued when the service account has Replicating Directory
 * Changes, otherwise its highestCommittedUSN (uSNChanged polling, tombstones through Show
 * Deleted); a full reconciliation runs first, whenever the position cannot be trusted (another
 * DC, a USN that went back, a cookie the DC refused), after a scope change, and periodically as
 * the safety net.
 *
 * Users go through the same attribute mappings and upsert as JIT provisioning (provisioning/jit.ts),
 * so a user's UserId is the same whether sync or sign-in saw them first. A user deleted in AD keeps
 * their record, marked deleted in the directory, and loses every session at once. Groups are
 * written only here.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { AccountState } from '#src/directory/ad-codec.ts';
import type { DirectoryChanges, DirectoryConnector, DirectoryGroup, DirectoryUser } from '#src/directory/types.ts';
import type { DirectoryAccountState, IdentityGroupWriter, SyncedGroup, UserDirectoryStateWriter } from '#src/identity-store/groups.ts';
import { referencedAttributes, type MappingTable } from '#src/identity-store/mappings.ts';
import type { IdentityUserWriter, UpsertResult } from '#src/identity-store/user.ts';
import { mapDirectoryUser, provisionUser } from '#src/provisioning/jit.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import type { ScopeEntry, ScopeKind, SyncStateStore } from './ports.ts';
import { resolveScope, type ResolvedScope } from './scope.ts';
import { decideRun, type RunDecision } from './watermark.ts';

export const SYNC_ACTOR = 'system:sync';

export interface SyncDeps {
  directory: () => DirectoryConnector | null;
  state: SyncStateStore;
  groups: IdentityGroupWriter;
  userStates: UserDirectoryStateWriter;
  mappings: () => Promise<MappingTable>;
  /** Runs `work` in one transaction with the user store and audit log bound to it (as sign-in does). */
  transaction<T>(work: (tx: { users: IdentityUserWriter; audit: AuditLog }) => Promise<T>): Promise<T>;
  /** Ends every live session of the user (audited by the session service). */
  revokeSessions(userGuid: string, actor: string): Promise<number>;
  audit: AuditLog;
  clock?: () => Date;
  /** A full reconciliation at least this often (default 6 h). */
  fullEveryMs?: number;
  onRun?: (run: SyncRun) => void;
}

export interface SyncError {
  /** objectGUID or name of the AD object. */
  object: string;
  code: string;
  reason: string;
}

export interface SyncRun {
  mode: 'full' | 'incremental';
  reason: RunDecision extends infer D ? (D extends { reason: infer R } ? R : 'changes') : never;
  startedAt: Date;
  finishedAt: Date;
  controller: { url: string; id: string };
  usn: string;
  /** How changes were found: DirSync (Replicating Directory Changes) or uSNChanged polling. */
  tracker: 'dirsync' | 'usn';
  usersCreated: number;
  usersUpdated: number;
  usersDeleted: number;
  usersInScope: number;
  groupsWritten: number;
  groupsRemoved: number;
  groupsInScope: number;
  errors: SyncError[];
}

export interface SyncStatus {
  scope: ScopeEntry[];
  running: boolean;
  lastRun: SyncRun | null;
  lastFullRun: SyncRun | null;
  lastError: { at: Date; code: string; reason: string } | null;
}

export interface SyncEngine {
  /** One run now (serialised with any other); `full` forces a reconciliation. */
  runOnce(options?: { full?: boolean }): Promise<SyncRun>;
  addToScope(kind: ScopeKind, name: string, actor: string): Promise<ScopeEntry>;
  removeFromScope(kind: ScopeKind, key: string, actor: string): Promise<ScopeEntry>;
  /**
   * Empties the scope, forgets the watermarks and removes the synced groups (the identity source
   * changed to another directory: GUIDs and USNs of the old one mean nothing there). Returns how
   * many scope entries there were.
   */
  clearScope(actor: string): Promise<number>;
  status(): Promise<SyncStatus>;
  /** Reads how big the scope is (once at start); hasScope() answers from it. */
  init(): Promise<void>;
  /** Whether the administrator chose a scope: the identity store then serves synchronised groups. */
  hasScope(): boolean;
  /** Polls every `intervalMs` while the scope is not empty. */
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

const DEFAULT_FULL_EVERY_MS = 6 * 3600_000;
const MAX_ERRORS_KEPT = 100;

function directoryStateOf(state: AccountState): DirectoryAccountState {
  if (state === 'disabled' || state === 'locked' || state === 'expired') return state;
  // Must change password / password expired: the account exists and may still sign in to change it.
  return 'active';
}

/** States in which the person can no longer sign in: their sessions end with the change. */
const endsSessions = new Set<DirectoryAccountState>(['deleted', 'disabled', 'expired']);

function toSyncedGroup(group: DirectoryGroup): SyncedGroup {
  const at = group.qualifiedName.lastIndexOf('@');
  return {
    groupId: group.guid.toLowerCase(),
    displayName: group.qualifiedName,
    name: group.name,
    domain: group.qualifiedName.slice(at + 1).toLowerCase(),
    dn: group.dn,
    sid: group.sid,
    kind: group.kind,
    scope: group.scope,
  };
}

export function createSyncEngine(deps: SyncDeps): SyncEngine {
  const clock = deps.clock ?? (() => new Date());
  const fullEveryMs = deps.fullEveryMs ?? DEFAULT_FULL_EVERY_MS;
  let chain: Promise<unknown> = Promise.resolve();
  let running = false;
  let scopeChanged = false;
  /** The scope as last resolved; null until the first run of this process. */
  let resolved: ResolvedScope | null = null;
  let lastRun: SyncRun | null = null;
  let lastFullRun: SyncRun | null = null;
  let lastError: SyncStatus['lastError'] = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let scopeSize = 0;
  /** Users whose last sync failed: retried by full runs and by their own changes, not every poll. */
  const failed = new Set<string>();

  function connector(): DirectoryConnector {
    const directory = deps.directory();
    if (!directory) throw new AppError('sync.directory_unavailable', 'the identity source is unavailable: nothing can be synchronised now', { status: 503 });
    return directory;
  }

  function serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = chain.then(work, work);
    chain = next.catch(() => undefined);
    return next;
  }

  async function run(full: boolean): Promise<SyncRun> {
    const directory = connector();
    const startedAt = clock();
    running = true;
    try {
      const domain = (await directory.discover()).domain;
      const stored = await deps.state.watermark(domain);
      const cookie = stored?.cookie ? { value: stored.cookie, controllerId: stored.controllerId } : null;
      const changes = await directory.readChanges(stored?.usn ?? null, { cookie });
      const decision = decideRun(stored, { controllerId: changes.controller.id, highestCommittedUsn: changes.highestCommittedUsn, cookieRejected: changes.cookieRejected }, startedAt, {
        fullEveryMs,
        fullRequested: full,
        scopeChanged,
      });
      scopeChanged = false;
      const table = await deps.mappings();
      const counts = { usersCreated: 0, usersUpdated: 0, usersDeleted: 0, groupsWritten: 0, groupsRemoved: 0, errors: [] as SyncError[] };
      const context = { directory, table, counts };
      if (decision.mode === 'full') await reconcile(context);
      else await applyChanges(context, changes, decision.since);
      const finishedAt = clock();
      await deps.state.saveWatermark({
        source: domain,
        controllerId: changes.controller.id,
        usn: changes.highestCommittedUsn,
        cookie: changes.cookie,
        fullSyncAt: decision.mode === 'full' ? startedAt : (stored?.fullSyncAt ?? startedAt),
        updatedAt: finishedAt,
      });
      const result: SyncRun = {
        mode: decision.mode,
        reason: decision.mode === 'full' ? decision.reason : 'changes',
        startedAt,
        finishedAt,
        controller: changes.controller,
        usn: changes.highestCommittedUsn,
        tracker: changes.tracker,
        ...counts,
        errors: counts.errors.slice(0, MAX_ERRORS_KEPT),
        usersInScope: resolved?.users.size ?? 0,
        groupsInScope: resolved?.groups.size ?? 0,
      };
      lastRun = result;
      if (result.mode === 'full') lastFullRun = result;
      lastError = null;
      if (result.mode === 'full' || counts.usersCreated + counts.usersUpdated + counts.usersDeleted + counts.groupsWritten + counts.groupsRemoved + counts.errors.length > 0) {
        await deps.audit.record({
          actor: SYNC_ACTOR,
          action: 'sync.run.completed',
          target: domain,
          outcome: counts.errors.length > 0 ? 'failure' : 'success',
          details: {
            mode: result.mode,
            reason: result.reason,
            controller: changes.controller.url,
            usn: changes.highestCommittedUsn,
            tracker: changes.tracker,
            usersCreated: counts.usersCreated,
            usersUpdated: counts.usersUpdated,
            usersDeleted: counts.usersDeleted,
            groupsWritten: counts.groupsWritten,
            groupsRemoved: counts.groupsRemoved,
            errors: result.errors.slice(0, 20),
          },
        });
      }
      deps.onRun?.(result);
      return result;
    } catch (error) {
      lastError = { at: clock(), code: isAppError(error) ? error.code : 'sync.failed', reason: error instanceof Error ? error.message : String(error) };
      throw error;
    } finally {
      running = false;
    }
  }

  interface RunContext {
    directory: DirectoryConnector;
    table: MappingTable;
    counts: { usersCreated: number; usersUpdated: number; usersDeleted: number; groupsWritten: number; groupsRemoved: number; errors: SyncError[] };
  }

  async function resolve(directory: DirectoryConnector): Promise<ResolvedScope> {
    const entries = await deps.state.scope();
    resolved = await resolveScope(entries, {
      group: async (guid) => {
        const group = await directory.findGroup(guid);
        return group && group.guid.toLowerCase() === guid.toLowerCase() ? group : null;
      },
      childGroups: (group) => directory.childGroupsOf(group),
      userGuids: (group) => directory.groupUserGuids(group),
      ou: async (guid) => {
        const ou = await directory.findOrganizationalUnit(guid);
        return ou && ou.guid.toLowerCase() === guid.toLowerCase() ? ou : null;
      },
      ouUserGuids: (ou) => directory.organizationalUnitUserGuids(ou),
    });
    return resolved;
  }

  /** Writes the scope's groups and removes the stored groups no longer in it. */
  async function writeGroups(scope: ResolvedScope, context: RunContext): Promise<void> {
    const at = clock();
    for (const { group, users, groups } of scope.groups.values()) {
      const change = await deps.groups.put(toSyncedGroup(group), { users, groups }, at);
      if (change !== 'unchanged') context.counts.groupsWritten += 1;
    }
    for (const id of await deps.groups.ids()) {
      if (!scope.groups.has(id) && (await deps.groups.remove(id))) context.counts.groupsRemoved += 1;
    }
  }

  async function reconcile(context: RunContext): Promise<void> {
    const scope = await resolve(context.directory);
    for (const entry of scope.missing) {
      context.counts.errors.push(
        entry.kind === 'ou'
          ? { object: entry.label, code: 'sync.scope_ou_missing', reason: `the scope OU ${entry.label} (${entry.guid}) is not in the directory` }
          : { object: entry.label, code: 'sync.scope_group_missing', reason: `the scope group ${entry.label} (${entry.guid}) is not in the directory` },
      );
    }
    await writeGroups(scope, context);
    for (const guid of scope.users) await syncUser(guid, context);
    // Users synced before and out of scope now: deleted in AD, or only left the scope.
    for (const guid of await deps.userStates.syncedGuids()) {
      if (!scope.users.has(guid)) await checkStillExists(guid, context);
    }
  }

  async function applyChanges(context: RunContext, changes: DirectoryChanges, since: string): Promise<void> {
    let scope = resolved;
    const storedGroups = new Set(await deps.groups.ids());
    const groupChanged = changes.groups.some((g) => storedGroups.has(g.toLowerCase())) || changes.deleted.some((d) => storedGroups.has(d.guid.toLowerCase()));
    // The DC committed something since the last run. Not every change shows in a uSNChanged search:
    // a deletion removes the user from its groups' `member` without changing the groups' uSNChanged
    // (linked values), and without the right to list Deleted Objects the tombstone stays invisible
    // (Samba 4.17, checked). So any advance re-reads the scope's memberships: a user gone from them
    // is looked up, and marked deleted when AD no longer has them.
    const advanced = BigInt(changes.highestCommittedUsn) > BigInt(since);
    if (scope === null || groupChanged || advanced) {
      const before = scope?.users ?? new Set(await deps.userStates.syncedGuids());
      scope = await resolve(context.directory);
      await writeGroups(scope, context);
      for (const guid of scope.users) if (!before.has(guid)) await syncUser(guid, context);
      for (const guid of before) if (!scope.users.has(guid)) await checkStillExists(guid, context);
      const changedUsers = new Set(changes.users.map((g) => g.toLowerCase()));
      for (const entry of await deps.state.scope()) {
        if (entry.kind === 'user' && !changedUsers.has(entry.guid)) await checkStillExists(entry.guid, context);
      }
    }
    // Users of the scope without a live record: removed by an administrator (they come back with
    // a new UserId, as at their next sign-in). One that failed (a mapping error) waits for a full run.
    const live = new Set(await deps.userStates.syncedGuids());
    for (const guid of scope.users) {
      if (!live.has(guid) && !failed.has(guid)) await syncUser(guid, context);
    }
    for (const deleted of changes.deleted) await markDeleted(deleted.guid.toLowerCase(), context);
    for (const guid of new Set(changes.users.map((g) => g.toLowerCase()))) {
      if (scope.users.has(guid)) await syncUser(guid, context);
    }
  }

  async function checkStillExists(guid: string, context: RunContext): Promise<void> {
    try {
      const user = await context.directory.findUserByGuid(guid);
      if (user === null) await markDeleted(guid, context);
      // Still in AD but out of scope: the record stays as it is, refreshed by sign-ins (JIT).
    } catch (error) {
      context.counts.errors.push(errorOf(guid, error));
    }
  }

  async function syncUser(guid: string, context: RunContext): Promise<void> {
    try {
      const user = await context.directory.findUserByGuid(guid, { attributes: referencedAttributes(context.table) });
      if (user === null) {
        await markDeleted(guid, context);
        return;
      }
      const upsert = await provision(user, context.table);
      if (upsert.change === 'created' || upsert.change === 'reprovisioned') context.counts.usersCreated += 1;
      else if (upsert.change === 'updated') context.counts.usersUpdated += 1;
      await recordState(guid, directoryStateOf(user.account.state), context);
      failed.delete(guid);
    } catch (error) {
      failed.add(guid);
      context.counts.errors.push(errorOf(guid, error));
    }
  }

  function provision(user: DirectoryUser, table: MappingTable): Promise<UpsertResult> {
    const provisioned = mapDirectoryUser(table, user);
    return deps.transaction((tx) => provisionUser(tx, provisioned, clock()));
  }

  async function markDeleted(guid: string, context: RunContext): Promise<void> {
    if (await recordState(guid, 'deleted', context)) context.counts.usersDeleted += 1;
  }

  /** Records the state when it changed; ends sessions when the person can no longer sign in. True when it changed. */
  async function recordState(guid: string, state: DirectoryAccountState, context: RunContext): Promise<boolean> {
    const previous = await deps.userStates.directoryState(guid);
    if (previous?.state === state) return false;
    const at = clock();
    if (!(await deps.userStates.setDirectoryState(guid, state, at))) return false; // no record: nothing to mark
    let sessionsRevoked = 0;
    if (endsSessions.has(state)) sessionsRevoked = await deps.revokeSessions(guid, SYNC_ACTOR);
    await deps.audit.record({
      actor: SYNC_ACTOR,
      action: 'identity.user.directory_state_changed',
      target: guid,
      outcome: 'success',
      details: { guid, before: previous?.state ?? null, after: state, sessionsRevoked },
    });
    void context;
    return true;
  }

  function errorOf(object: string, error: unknown): SyncError {
    return { object, code: isAppError(error) ? error.code : 'sync.failed', reason: error instanceof Error ? error.message : String(error) };
  }

  async function findScopeObject(kind: ScopeKind, name: string): Promise<{ guid: string; label: string }> {
    const directory = connector();
    if (kind === 'ou') {
      const ou = await directory.findOrganizationalUnit(name.trim());
      if (!ou) throw new AppError('sync.scope_not_found', `no organizational unit "${name.slice(0, 200)}" in the directory (give its DN or objectGUID)`, { status: 404 });
      return { guid: ou.guid.toLowerCase(), label: ou.dn };
    }
    if (kind === 'group') {
      const group = await directory.findGroup(name.trim());
      if (!group) throw new AppError('sync.scope_not_found', `no group "${name.slice(0, 200)}" in the directory`, { status: 404 });
      return { guid: group.guid.toLowerCase(), label: group.qualifiedName };
    }
    const user = await directory.findUser(name.trim());
    if (!user) throw new AppError('sync.scope_not_found', `no user "${name.slice(0, 200)}" in the directory`, { status: 404 });
    return { guid: user.guid.toLowerCase(), label: user.userPrincipalName ?? `${user.samAccountName}@${user.domain}` };
  }

  function schedule(intervalMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void (async () => {
        try {
          if ((await deps.state.scope()).length > 0 && deps.directory() !== null) await serialised(() => run(false));
        } catch {
          // Kept in status().lastError; the next poll tries again.
        }
        schedule(intervalMs);
      })();
    }, intervalMs);
    timer.unref();
  }

  return {
    runOnce: (options = {}) => serialised(() => run(options.full === true)),

    async addToScope(kind, name, actor) {
      const found = await findScopeObject(kind, name);
      const entry: ScopeEntry = { kind, guid: found.guid, label: found.label, addedBy: actor, addedAt: clock() };
      const added = await deps.state.addScope(entry);
      if (!added) throw new AppError('sync.scope_exists', `${found.label} is already in the sync scope`, { status: 409 });
      scopeChanged = true;
      scopeSize += 1;
      await deps.audit.record({ actor, action: 'sync.scope.added', target: entry.guid, outcome: 'success', details: { kind, label: entry.label } });
      return entry;
    },

    async removeFromScope(kind, key, actor) {
      const entries = await deps.state.scope();
      const lower = key.trim().toLowerCase();
      const entry = entries.find((e) => e.kind === kind && (e.guid === lower || e.label.toLowerCase() === lower));
      if (!entry) throw new AppError('sync.scope_not_found', `"${key.slice(0, 200)}" is not in the sync scope`, { status: 404 });
      await deps.state.removeScope(kind, entry.guid);
      scopeChanged = true;
      scopeSize = Math.max(0, scopeSize - 1);
      await deps.audit.record({ actor, action: 'sync.scope.removed', target: entry.guid, outcome: 'success', details: { kind, label: entry.label } });
      return entry;
    },

    clearScope: (actor) =>
      serialised(async () => {
        const entries = await deps.state.scope();
        for (const entry of entries) await deps.state.removeScope(entry.kind, entry.guid);
        await deps.state.clearWatermarks();
        let groupsRemoved = 0;
        for (const id of await deps.groups.ids()) if (await deps.groups.remove(id)) groupsRemoved += 1;
        resolved = null;
        failed.clear();
        scopeSize = 0;
        scopeChanged = true;
        lastRun = null;
        lastFullRun = null;
        lastError = null;
        await deps.audit.record({
          actor,
          action: 'sync.scope.cleared',
          target: null,
          outcome: 'success',
          details: { reason: 'identity_source_changed', entries: entries.map((e) => ({ kind: e.kind, guid: e.guid, label: e.label })), groupsRemoved },
        });
        return entries.length;
      }),
    async status() {
      return { scope: await deps.state.scope(), running, lastRun, lastFullRun, lastError };
    },

    async init() {
      scopeSize = (await deps.state.scope()).length;
    },

    hasScope: () => scopeSize > 0,

    start(intervalMs) {
      stopped = false;
      if (timer === null) schedule(intervalMs);
    },

    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await chain.catch(() => undefined);
    },
  };
}
