/**
 * The admin API of the AD sync (/admin/api/sync…): the scope (groups, with everything nested in
 * them, single users, and OUs with the users of their whole subtree), the status of the last runs with their errors, and "sync now".
 * What `portico sync …` calls. Scope changes are audited as `sync.scope.added|removed`.
 */
import { z } from 'zod';
import { errorView, type ScopeEntryStatus, type SyncEngine, type SyncProgress, type SyncRun } from '#src/sync/sync-engine.ts';
import { route, type ApiRoute } from './api-route.ts';

const TAG = 'sync';

const scopeEntry = z
  .object({
    kind: z.enum(['group', 'user', 'ou']),
    guid: z.string().describe('objectGUID of the AD group, user or organizational unit'),
    label: z.string().describe('name@domain of the group, the UPN of the user, or the DN of the OU, when added'),
    addedBy: z.string(),
    addedAt: z.string(),
  })
  .meta({ id: 'SyncScopeEntry' });

const syncError = z
  .object({
    object: z.string().describe('objectGUID of the AD object (the scope entry for a missing group)'),
    objectType: z.enum(['user', 'group', 'scope']),
    objectName: z.string().nullable().describe('its DN or name@domain when known'),
    code: z.string().describe('stable error code'),
    reason: z.string(),
    at: z.string(),
  })
  .meta({ id: 'SyncError' });

const syncRun = z
  .object({
    mode: z.enum(['full', 'incremental']),
    reason: z.string().describe('changes, or why a full reconciliation ran: first_run, controller_changed, usn_went_back, cookie_rejected, periodic, requested, scope_changed'),
    tracker: z.enum(['dirsync', 'usn']).describe('how changes were found: DirSync (the service account has Replicating Directory Changes) or uSNChanged polling'),
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number(),
    controller: z.string().describe('the domain controller read (URL)'),
    controllerId: z.string().describe("its identity (dsServiceName): the USN watermark is this DC's"),
    usn: z.string().describe("the DC's highestCommittedUSN when the run began: the next run reads changes after it"),
    usersCreated: z.number().int(),
    usersUpdated: z.number().int(),
    usersDeleted: z.number().int(),
    usersInScope: z.number().int(),
    groupsWritten: z.number().int(),
    groupsRemoved: z.number().int(),
    groupsInScope: z.number().int(),
    errors: z.array(syncError),
  })
  .meta({ id: 'SyncRun' });

const entryStatus = z
  .object({
    kind: z.enum(['group', 'user', 'ou']),
    guid: z.string(),
    label: z.string(),
    addedBy: z.string(),
    addedAt: z.string(),
    state: z.enum(['pending', 'synced', 'errors', 'missing']).describe('pending: no run has covered it since Portico started; missing: the group or OU is gone from AD'),
    users: z.number().int().describe('users it brings into scope (transitively) at the last resolution'),
    groups: z.number().int().describe('groups it brings into scope (itself and every nested group)'),
    lastRunAt: z.string().nullable().describe('when the last run that covered it finished'),
    syncedAsOf: z.string().nullable().describe('when that run started: the store reflects AD as of then'),
    lagSeconds: z.number().nullable().describe('seconds since syncedAsOf'),
    errors: z.array(syncError).describe('objects of this entry whose last sync failed (at most 100)'),
  })
  .meta({ id: 'SyncScopeEntryStatus' });

const progressView = z
  .object({
    phase: z.enum(['resolving', 'groups', 'users', 'reconciling']),
    mode: z.enum(['full', 'incremental']),
    startedAt: z.string(),
    usersDone: z.number().int(),
    usersTotal: z.number().int(),
    groupsDone: z.number().int(),
    groupsTotal: z.number().int(),
    batches: z.number().int(),
  })
  .meta({ id: 'SyncProgress' });

function entryView(entry: ScopeEntryStatus, now: Date): z.infer<typeof entryStatus> {
  return {
    ...scopeView(entry),
    state: entry.state,
    users: entry.users,
    groups: entry.groups,
    lastRunAt: entry.lastRunAt?.toISOString() ?? null,
    syncedAsOf: entry.syncedAsOf?.toISOString() ?? null,
    lagSeconds: entry.syncedAsOf ? Math.max(0, (now.getTime() - entry.syncedAsOf.getTime()) / 1000) : null,
    errors: entry.errors.map(errorView),
  };
}

const progressOf = (p: SyncProgress): z.infer<typeof progressView> => ({ ...p, startedAt: p.startedAt.toISOString() });

function runView(run: SyncRun): z.infer<typeof syncRun> {
  return {
    mode: run.mode,
    reason: run.reason,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    durationMs: run.finishedAt.getTime() - run.startedAt.getTime(),
    controller: run.controller.url,
    controllerId: run.controller.id,
    usn: run.usn,
    tracker: run.tracker,
    usersCreated: run.usersCreated,
    usersUpdated: run.usersUpdated,
    usersDeleted: run.usersDeleted,
    usersInScope: run.usersInScope,
    groupsWritten: run.groupsWritten,
    groupsRemoved: run.groupsRemoved,
    groupsInScope: run.groupsInScope,
    errors: run.errors.map(errorView),
  };
}

const scopeView = (e: { kind: 'group' | 'user' | 'ou'; guid: string; label: string; addedBy: string; addedAt: Date }): z.infer<typeof scopeEntry> => ({
  kind: e.kind,
  guid: e.guid,
  label: e.label,
  addedBy: e.addedBy,
  addedAt: e.addedAt.toISOString(),
});

const nameBody = z.strictObject({
  kind: z.enum(['group', 'user', 'ou'], { error: "kind: 'group', 'user' or 'ou'" }),
  name: z
    .string({ error: 'name: required, a string' })
    .trim()
    .min(1, 'name: required')
    .max(1024, 'name: at most 1024 characters')
    .describe('group: name@domain, sAMAccountName or objectGUID; user: UPN, DOMAIN\\name or objectGUID; ou: its DN or objectGUID'),
});

export function syncAdminRoutes(deps: { sync: () => SyncEngine }): ApiRoute[] {
  return [
    route({
      method: 'GET', path: '/sync', operationId: 'getSyncStatus', tag: TAG, summary: 'The sync scope and the last runs (mode, DC and USN, counts, errors with the AD object and reason)',
      response: z.object({
        scope: z.array(scopeEntry),
        entries: z.array(entryStatus).describe('each scope entry with what it covers, when it was last synced, and its objects in error'),
        running: z.boolean(),
        progress: progressView.nullable().describe('the run under way, if any'),
        outstandingErrors: z.number().int().describe('objects whose last sync failed'),
        lastRun: syncRun.nullable(),
        lastFullRun: syncRun.nullable(),
        lastError: z.object({ at: z.string(), code: z.string(), reason: z.string() }).nullable(),
      }).meta({ id: 'SyncStatus' }),
      handler: async () => {
        const status = await deps.sync().status();
        return {
          scope: status.scope.map(scopeView),
          entries: status.entries.map((e) => entryView(e, new Date())),
          running: status.running,
          progress: status.progress && progressOf(status.progress),
          outstandingErrors: status.outstandingErrors,
          lastRun: status.lastRun && runView(status.lastRun),
          lastFullRun: status.lastFullRun && runView(status.lastFullRun),
          lastError: status.lastError && { at: status.lastError.at.toISOString(), code: status.lastError.code, reason: status.lastError.reason },
        };
      },
    }),
    route({
      method: 'POST', path: '/sync/scope', operationId: 'addSyncScope', tag: TAG, status: 201, summary: 'Add an AD group (its members and nested groups, transitively), a single user, or an OU (the users of its whole subtree) to the sync scope',
      body: nameBody,
      response: scopeEntry,
      handler: async ({ body, admin }) => scopeView(await deps.sync().addToScope(body.kind, body.name, admin.actor)),
    }),
    route({
      method: 'POST', path: '/sync/scope/remove', operationId: 'removeSyncScope', tag: TAG, summary: 'Remove a group, user or OU from the sync scope (by the objectGUID or label listed); the records synced stay',
      body: nameBody,
      response: scopeEntry,
      handler: async ({ body, admin }) => scopeView(await deps.sync().removeFromScope(body.kind, body.name, admin.actor)),
    }),
    route({
      method: 'POST', path: '/sync/start', operationId: 'startSync', tag: TAG, summary: 'Sync now without waiting (the console\'s button): follow the run with GET /sync; started is false when a run is already queued',
      body: z.strictObject({ full: z.boolean().optional() }),
      response: z.object({ started: z.boolean() }),
      handler: ({ body }) => Promise.resolve({ started: deps.sync().requestRun({ full: body.full === true }) }),
    }),
    route({
      method: 'POST', path: '/sync/run', operationId: 'runSync', tag: TAG, summary: 'Sync now and wait for the run; full: a full reconciliation instead of the changes since the last run',
      body: z.strictObject({ full: z.boolean().optional() }),
      response: syncRun,
      handler: async ({ body }) => runView(await deps.sync().runOnce({ full: body.full === true })),
    }),
  ];
}
