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
 *
 * Scale: users are read in batches (`batchSize` objectGUIDs per batch, paged LDAP searches on one
 * service connection) and written one transaction per batch; at most `concurrency` batches are in
 * flight, and each worker pauses `pauseMs` between batches, so that a first sync of a large
 * domain leaves service connections and database turns to sign-ins.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { AccountState } from '#src/directory/ad-codec.ts';
import type { DirectoryChanges, DirectoryConnector, DirectoryGroup, DirectoryUser } from '#src/directory/types.ts';
import type { DirectoryAccountState, IdentityGroupWriter, SyncedGroup, UserDirectoryStateWriter } from '#src/identity-store/groups.ts';
import { referencedAttributes, type MappingTable } from '#src/identity-store/mappings.ts';
import type { IdentityUserWriter, ProvisionedUser } from '#src/identity-store/user.ts';
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
  transaction<T>(work: (tx: { users: IdentityUserWriter; states: UserDirectoryStateWriter; audit: AuditLog }) => Promise<T>): Promise<T>;
  /** Ends every live session of the user (audited by the session service). */
  revokeSessions(userGuid: string, actor: string): Promise<number>;
  audit: AuditLog;
  clock?: () => Date;
  /** A full reconciliation at least this often (default 6 h). */
  fullEveryMs?: number;
  tuning?: Partial<SyncTuning>;
  onRun?: (run: SyncRun) => void;
  onBatch?: (batch: SyncBatch) => void;
}

/** Back-pressure: how much of the directory's service lane and of the database a run may take. */
export interface SyncTuning {
  /** objectGUIDs read per batch, and users written per transaction. */
  batchSize: number;
  /** Batches in flight at once (each holds one service connection while it reads). */
  concurrency: number;
  /** Pause of each worker between two batches (and every `batchSize` groups written). */
  pauseMs: number;
}

export const DEFAULT_SYNC_TUNING: SyncTuning = { batchSize: 500, concurrency: 2, pauseMs: 10 };

/** One error of a run, with the fields of Identity Center's sync error log: what object, why, when. */
export interface SyncError {
  /** objectGUID of the AD object (or the scope entry's label when the object is gone). */
  object: string;
  objectType: 'user' | 'group' | 'scope';
  /** Its DN, UPN or name@domain when known. */
  objectName: string | null;
  code: string;
  reason: string;
  at: Date;
}

/** One batch of users written in one transaction. */
export interface SyncBatch {
  mode: 'full' | 'incremental';
  index: number;
  users: number;
  created: number;
  updated: number;
  deleted: number;
  errors: number;
  durationMs: number;
}

export interface SyncProgress {
  phase: 'resolving' | 'groups' | 'users' | 'reconciling';
  mode: 'full' | 'incremental';
  startedAt: Date;
  usersDone: number;
  usersTotal: number;
  groupsDone: number;
  groupsTotal: number;
  batches: number;
}

/** A scope entry as the last runs left it. */
export interface ScopeEntryStatus extends ScopeEntry {
  /** pending: no run has covered it yet in this process; missing: the group is gone from AD. */
  state: 'pending' | 'synced' | 'errors' | 'missing';
  /** Users and groups it brings into scope (transitively), at the last resolution. */
  users: number;
  groups: number;
  /** When the last run that covered it finished, and when that run started (the store reflects AD as of then). */
  lastRunAt: Date | null;
  syncedAsOf: Date | null;
  /** Objects of this entry whose last sync failed, with the reason (at most 100). */
  errors: SyncError[];
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
  entries: ScopeEntryStatus[];
  running: boolean;
  progress: SyncProgress | null;
  /** Objects whose last sync failed, every entry together. */
  outstandingErrors: number;
  lastRun: SyncRun | null;
  lastFullRun: SyncRun | null;
  lastError: { at: Date; code: string; reason: string } | null;
}

export interface SyncEngine {
  /** One run now (serialised with any other); `full` forces a reconciliation. */
  runOnce(options?: { full?: boolean }): Promise<SyncRun>;
  /** Starts a run without waiting for it ("sync now" from the console); false when one is already running or queued. */
  requestRun(options?: { full?: boolean }): boolean;
  addToScope(kind: ScopeKind, name: string, actor: string): Promise<ScopeEntry>;
  removeFromScope(kind: ScopeKind, key: string, actor: string): Promise<ScopeEntry>;
  /**
   * Empties the scope, forgets the watermarks and removes the synced groups (the identity source
   * changed to another directory: GUIDs and USNs of the old one mean nothing there). Returns how
   * many scope entries there were.
   */
  clearScope(actor: string): Promise<number>;
  status(): Promise<SyncStatus>;
  /** Seconds since the AD state the store reflects was read (the last run's start); null before the first run. */
  lagSeconds(): number | null;
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

interface StateChange {
  guid: string;
  before: DirectoryAccountState | null;
  after: DirectoryAccountState;
}

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
  const tuning: SyncTuning = { ...DEFAULT_SYNC_TUNING, ...deps.tuning };
  let chain: Promise<unknown> = Promise.resolve();
  let running = false;
  let queued = false;
  let scopeChanged = false;
  /** The scope as last resolved; null until the first run of this process. */
  let resolved: ResolvedScope | null = null;
  let lastRun: SyncRun | null = null;
  let lastFullRun: SyncRun | null = null;
  let lastError: SyncStatus['lastError'] = null;
  let progress: SyncProgress | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let scopeSize = 0;
  /** Users whose last sync failed: retried by full runs and by their own changes, not every poll. */
  const failed = new Set<string>();
  /** The last error of every object whose last sync failed, by objectGUID (scope entries by their own GUID). */
  const outstanding = new Map<string, SyncError>();
  /** Per scope entry (by GUID): what it covers at the last resolution, and the last run that covered it. */
  const coverage = new Map<string, { users: Set<string>; groups: Set<string> }>();
  const covered = new Map<string, { lastRunAt: Date; syncedAsOf: Date }>();

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

  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, tuning.pauseMs));

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
      const context: RunContext = { directory, table, counts, mode: decision.mode, batches: 0 };
      progress = { phase: 'resolving', mode: decision.mode, startedAt, usersDone: 0, usersTotal: 0, groupsDone: 0, groupsTotal: 0, batches: 0 };
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
      for (const entry of coverage.keys()) covered.set(entry, { lastRunAt: finishedAt, syncedAsOf: startedAt });
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
            batches: context.batches,
            usersCreated: counts.usersCreated,
            usersUpdated: counts.usersUpdated,
            usersDeleted: counts.usersDeleted,
            groupsWritten: counts.groupsWritten,
            groupsRemoved: counts.groupsRemoved,
            errors: result.errors.slice(0, 20).map(errorView),
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
      progress = null;
    }
  }

  interface RunContext {
    directory: DirectoryConnector;
    table: MappingTable;
    mode: 'full' | 'incremental';
    batches: number;
    counts: { usersCreated: number; usersUpdated: number; usersDeleted: number; groupsWritten: number; groupsRemoved: number; errors: SyncError[] };
  }

  function fail(context: RunContext, error: SyncError): void {
    context.counts.errors.push(error);
    if (error.objectType === 'user') failed.add(error.object);
    outstanding.set(error.object, error);
  }

  function succeeded(guid: string): void {
    failed.delete(guid);
    outstanding.delete(guid);
  }

  async function resolve(directory: DirectoryConnector): Promise<ResolvedScope> {
    const entries = await deps.state.scope();
    if (progress) progress.phase = 'resolving';
    resolved = await resolveScope(
      entries,
      {
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
      },
      tuning.concurrency,
    );
    computeCoverage(entries, resolved);
    return resolved;
  }

  /** What each scope entry brings in: its group and every group nested in it, and their users. */
  function computeCoverage(entries: readonly ScopeEntry[], scope: ResolvedScope): void {
    coverage.clear();
    for (const entry of entries) {
      const users = new Set<string>();
      const groups = new Set<string>();
      if (entry.kind === 'user') users.add(entry.guid);
      else if (entry.kind === 'ou') for (const user of scope.ouUsers.get(entry.guid.toLowerCase()) ?? []) users.add(user);
      else {
        const stack = scope.groups.has(entry.guid) ? [entry.guid] : [];
        while (stack.length > 0) {
          const id = stack.pop() as string;
          if (groups.has(id)) continue;
          groups.add(id);
          const scoped = scope.groups.get(id);
          if (!scoped) continue;
          for (const user of scoped.users) users.add(user);
          for (const child of scoped.groups) if (!groups.has(child)) stack.push(child);
        }
      }
      coverage.set(entry.guid, { users, groups });
    }
    for (const guid of [...covered.keys()]) if (!coverage.has(guid)) covered.delete(guid);
  }

  /** Writes the scope's groups and removes the stored groups no longer in it. */
  async function writeGroups(scope: ResolvedScope, context: RunContext): Promise<void> {
    const at = clock();
    if (progress) Object.assign(progress, { phase: 'groups', groupsDone: 0, groupsTotal: scope.groups.size });
    let written = 0;
    for (const { group, users, groups } of scope.groups.values()) {
      try {
        const change = await deps.groups.put(toSyncedGroup(group), { users, groups }, at);
        if (change !== 'unchanged') context.counts.groupsWritten += 1;
        outstanding.delete(group.guid.toLowerCase());
      } catch (error) {
        fail(context, errorOf(group.guid.toLowerCase(), 'group', group.qualifiedName, error));
      }
      written += 1;
      if (progress) progress.groupsDone = written;
      if (written % tuning.batchSize === 0) await pause(); // each put is its own transaction: sign-ins get turns between them
    }
    for (const id of await deps.groups.ids()) {
      if (!scope.groups.has(id) && (await deps.groups.remove(id))) context.counts.groupsRemoved += 1;
    }
  }

  /** Scope groups AD no longer has are errors of their entry until they come back or leave the scope. */
  async function noteMissing(scope: ResolvedScope, context: RunContext): Promise<void> {
    for (const entry of scope.missing) {
      const what = entry.kind === 'ou' ? 'OU' : 'group';
      fail(context, { object: entry.guid, objectType: 'scope', objectName: entry.label, code: entry.kind === 'ou' ? 'sync.scope_ou_missing' : 'sync.scope_group_missing', reason: `the scope ${what} ${entry.label} (${entry.guid}) is not in the directory`, at: clock() });
    }
    for (const entry of await deps.state.scope()) if (!scope.missing.some((m) => m.guid === entry.guid)) outstanding.delete(entry.guid);
  }

  async function reconcile(context: RunContext): Promise<void> {
    const scope = await resolve(context.directory);
    await noteMissing(scope, context);
    await writeGroups(scope, context);
    await syncUsers([...scope.users], context);
    // Users synced before and out of scope now: deleted in AD, or only left the scope.
    if (progress) progress.phase = 'reconciling';
    const gone = (await deps.userStates.syncedGuids()).filter((guid) => !scope.users.has(guid));
    await checkStillExist(gone, context);
    // Errors of objects no longer in scope are no longer outstanding.
    for (const [guid, error] of outstanding) if (error.objectType === 'user' && !scope.users.has(guid)) outstanding.delete(guid);
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
    const toSync = new Set<string>();
    if (scope === null || groupChanged || advanced) {
      const before = scope?.users ?? new Set(await deps.userStates.syncedGuids());
      scope = await resolve(context.directory);
      await noteMissing(scope, context);
      await writeGroups(scope, context);
      for (const guid of scope.users) if (!before.has(guid)) toSync.add(guid);
      const check = [...before].filter((guid) => !scope?.users.has(guid));
      const changedUsers = new Set(changes.users.map((g) => g.toLowerCase()));
      for (const entry of await deps.state.scope()) {
        if (entry.kind === 'user' && !changedUsers.has(entry.guid)) check.push(entry.guid);
      }
      await checkStillExist(check, context);
    }
    // Users of the scope without a live record: removed by an administrator (they come back with
    // a new UserId, as at their next sign-in). One that failed (a mapping error) waits for a full run.
    const live = new Set(await deps.userStates.syncedGuids());
    for (const guid of scope.users) {
      if (!live.has(guid) && !failed.has(guid)) toSync.add(guid);
    }
    for (const deleted of changes.deleted) await markDeleted(deleted.guid.toLowerCase(), context);
    for (const guid of new Set(changes.users.map((g) => g.toLowerCase()))) {
      if (scope.users.has(guid)) toSync.add(guid);
    }
    await syncUsers([...toSync], context);
  }

  /** Users out of scope now: marked deleted when AD no longer has them, read in batches. */
  async function checkStillExist(guids: readonly string[], context: RunContext): Promise<void> {
    for (let i = 0; i < guids.length; i += tuning.batchSize) {
      const chunk = guids.slice(i, i + tuning.batchSize);
      try {
        const found = new Set((await context.directory.findUsersByGuids(chunk)).map((u) => u.guid.toLowerCase()));
        // Still in AD but out of scope: the record stays as it is, refreshed by sign-ins (JIT).
        for (const guid of chunk) if (!found.has(guid)) await markDeleted(guid, context);
      } catch (error) {
        for (const guid of chunk) fail(context, errorOf(guid, 'user', null, error));
      }
    }
  }

  /** Reads and writes users in batches, `concurrency` batches at a time, pausing between batches. */
  async function syncUsers(guids: readonly string[], context: RunContext): Promise<void> {
    if (progress) Object.assign(progress, { phase: 'users', usersDone: 0, usersTotal: guids.length });
    const chunks: string[][] = [];
    for (let i = 0; i < guids.length; i += tuning.batchSize) chunks.push(guids.slice(i, i + tuning.batchSize));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const chunk = chunks[next] as string[];
        next += 1;
        await syncBatch(chunk, context);
        if (progress) progress.usersDone += chunk.length;
        if (next < chunks.length) await pause();
      }
    };
    await Promise.all(Array.from({ length: Math.min(Math.max(1, tuning.concurrency), chunks.length) }, worker));
  }

  async function syncBatch(guids: readonly string[], context: RunContext): Promise<void> {
    const started = performance.now();
    const index = ++context.batches;
    if (progress) progress.batches = context.batches;
    const batch = { created: 0, updated: 0, deleted: 0, errors: 0 };
    let users: DirectoryUser[];
    try {
      users = await context.directory.findUsersByGuids(guids, { attributes: referencedAttributes(context.table) });
    } catch (error) {
      for (const guid of guids) fail(context, errorOf(guid, 'user', null, error));
      batch.errors = guids.length;
      finishBatch(index, guids.length, batch, started, context);
      return;
    }
    const byGuid = new Map(users.map((u) => [u.guid.toLowerCase(), u]));
    // Mapped outside the transaction: a user whose mapping fails is an error of its own, not of the batch.
    const mapped: Array<{ guid: string; user: DirectoryUser; provisioned: ProvisionedUser }> = [];
    for (const guid of guids) {
      const user = byGuid.get(guid);
      if (!user) continue;
      try {
        mapped.push({ guid, user, provisioned: mapDirectoryUser(context.table, user) });
      } catch (error) {
        fail(context, errorOf(guid, 'user', user.dn, error));
        batch.errors += 1;
      }
    }
    let stateChanges: StateChange[] = [];
    try {
      stateChanges = await deps.transaction((tx) => writeUsers(tx, mapped, batch));
      for (const { guid } of mapped) succeeded(guid);
    } catch {
      // One bad record must not cost the others: the batch is written again one user per transaction.
      Object.assign(batch, { created: 0, updated: 0 });
      stateChanges = [];
      for (const one of mapped) {
        const single = { created: 0, updated: 0, deleted: 0, errors: 0 };
        try {
          stateChanges.push(...(await deps.transaction((tx) => writeUsers(tx, [one], single))));
          batch.created += single.created;
          batch.updated += single.updated;
          succeeded(one.guid);
        } catch (error) {
          fail(context, errorOf(one.guid, 'user', one.user.dn, error));
          batch.errors += 1;
        }
      }
    }
    for (const change of stateChanges) await announce(change);
    // In scope but not in AD any more: marked deleted (each its own change, rare).
    for (const guid of guids) {
      if (byGuid.has(guid)) continue;
      if (await markDeleted(guid, context)) batch.deleted += 1;
    }
    context.counts.usersCreated += batch.created;
    context.counts.usersUpdated += batch.updated;
    finishBatch(index, guids.length, batch, started, context);
    await deps.audit.record({
      actor: SYNC_ACTOR,
      action: 'sync.batch.completed',
      target: String(index),
      outcome: batch.errors > 0 ? 'failure' : 'success',
      details: { mode: context.mode, batch: index, users: guids.length, created: batch.created, updated: batch.updated, deleted: batch.deleted, errors: batch.errors },
    });
  }

  function finishBatch(index: number, users: number, batch: { created: number; updated: number; deleted: number; errors: number }, started: number, context: RunContext): void {
    deps.onBatch?.({ mode: context.mode, index, users, ...batch, durationMs: performance.now() - started });
  }

  /**
   * The batch's users in one transaction: upsert (as JIT, with its audit events) and directory
   * state. Returns the state changes, audited once committed (with the sessions ended).
   */
  async function writeUsers(
    tx: { users: IdentityUserWriter; states: UserDirectoryStateWriter; audit: AuditLog },
    mapped: ReadonlyArray<{ guid: string; user: DirectoryUser; provisioned: ProvisionedUser }>,
    batch: { created: number; updated: number },
  ): Promise<StateChange[]> {
    const at = clock();
    const changes: StateChange[] = [];
    let created = 0;
    let updated = 0;
    for (const { guid, user, provisioned } of mapped) {
      const upsert = await provisionUser(tx, provisioned, at);
      if (upsert.change === 'created' || upsert.change === 'reprovisioned') created += 1;
      else if (upsert.change === 'updated') updated += 1;
      const state = directoryStateOf(user.account.state);
      const previous = await tx.states.directoryState(guid);
      if (previous?.state === state) continue;
      if (await tx.states.setDirectoryState(guid, state, at)) changes.push({ guid, before: previous?.state ?? null, after: state });
    }
    // Counted only once the whole batch is written (a retry one by one counts again).
    batch.created += created;
    batch.updated += updated;
    return changes;
  }

  /** After the commit: sessions end where the person can no longer sign in, and each change is audited. */
  async function announce(change: StateChange): Promise<void> {
    const sessionsRevoked = endsSessions.has(change.after) ? await deps.revokeSessions(change.guid, SYNC_ACTOR) : 0;
    await deps.audit.record({
      actor: SYNC_ACTOR,
      action: 'identity.user.directory_state_changed',
      target: change.guid,
      outcome: 'success',
      details: { guid: change.guid, before: change.before, after: change.after, sessionsRevoked },
    });
  }

  async function markDeleted(guid: string, context: RunContext): Promise<boolean> {
    if (!(await recordState(guid, 'deleted'))) return false;
    context.counts.usersDeleted += 1;
    succeeded(guid);
    return true;
  }

  /** Records the state when it changed; ends sessions when the person can no longer sign in. True when it changed. */
  async function recordState(guid: string, state: DirectoryAccountState): Promise<boolean> {
    const previous = await deps.userStates.directoryState(guid);
    if (previous?.state === state) return false;
    const at = clock();
    if (!(await deps.userStates.setDirectoryState(guid, state, at))) return false; // no record: nothing to mark
    await announce({ guid, before: previous?.state ?? null, after: state });
    return true;
  }

  function errorOf(object: string, objectType: SyncError['objectType'], objectName: string | null, error: unknown): SyncError {
    return { object, objectType, objectName, code: isAppError(error) ? error.code : 'sync.failed', reason: error instanceof Error ? error.message : String(error), at: clock() };
  }

  function entryStatus(entry: ScopeEntry): ScopeEntryStatus {
    const covers = coverage.get(entry.guid);
    const last = covered.get(entry.guid) ?? null;
    const errors: SyncError[] = [];
    const own = outstanding.get(entry.guid);
    if (own) errors.push(own);
    if (covers) {
      for (const [guid, error] of outstanding) {
        if (errors.length >= MAX_ERRORS_KEPT) break;
        if (covers.users.has(guid) || covers.groups.has(guid)) errors.push(error);
      }
    }
    const state = own?.code === 'sync.scope_group_missing' ? 'missing' : errors.length > 0 ? 'errors' : last ? 'synced' : 'pending';
    return { ...entry, state, users: covers?.users.size ?? 0, groups: covers?.groups.size ?? 0, lastRunAt: last?.lastRunAt ?? null, syncedAsOf: last?.syncedAsOf ?? null, errors };
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

    requestRun(options = {}) {
      if (queued) return false;
      queued = true;
      void serialised(() => {
        queued = false;
        return run(options.full === true);
      }).catch(() => undefined); // kept in status().lastError
      return true;
    },

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
      outstanding.delete(entry.guid);
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
      const scope = await deps.state.scope();
      return {
        scope,
        entries: scope.map(entryStatus),
        running,
        progress: progress && { ...progress },
        outstandingErrors: outstanding.size,
        lastRun,
        lastFullRun,
        lastError,
      };
    },

    async init() {
      scopeSize = (await deps.state.scope()).length;
    },

    hasScope: () => scopeSize > 0,

    lagSeconds: () => (lastRun === null ? null : Math.max(0, (clock().getTime() - lastRun.startedAt.getTime()) / 1000)),

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

/** A run error as the audit log and the admin API show it. */
export function errorView(error: SyncError): { object: string; objectType: SyncError['objectType']; objectName: string | null; code: string; reason: string; at: string } {
  return { object: error.object, objectType: error.objectType, objectName: error.objectName, code: error.code, reason: error.reason, at: error.at.toISOString() };
}
