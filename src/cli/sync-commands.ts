/**
 * `portico sync status|add|remove|run`: the AD sync's scope and runs, through a running
 * Portico's admin API (scope changes are audited under the calling admin).
 */
import type { Command } from 'commander';
import { addAdminOptions, adminExitCodeHelp, usageError, withAdminApi, type LoadConfig } from './admin-client.ts';
import { printJson, printTable } from './output.ts';

interface ScopeEntry {
  kind: 'group' | 'user' | 'ou';
  guid: string;
  label: string;
  addedBy: string;
  addedAt: string;
}

interface SyncRun {
  mode: string;
  reason: string;
  startedAt: string;
  durationMs: number;
  controller: string;
  usn: string;
  tracker: string;
  usersCreated: number;
  usersUpdated: number;
  usersDeleted: number;
  usersInScope: number;
  groupsWritten: number;
  groupsRemoved: number;
  groupsInScope: number;
  errors: SyncError[];
}

interface SyncError {
  object: string;
  objectType: string;
  objectName: string | null;
  code: string;
  reason: string;
  at: string;
}

interface EntryStatus extends ScopeEntry {
  state: string;
  users: number;
  groups: number;
  syncedAsOf: string | null;
  lagSeconds: number | null;
  errors: SyncError[];
}

interface Progress {
  phase: string;
  mode: string;
  usersDone: number;
  usersTotal: number;
  groupsDone: number;
  groupsTotal: number;
  batches: number;
}

interface SyncStatus {
  scope: ScopeEntry[];
  entries: EntryStatus[];
  running: boolean;
  progress: Progress | null;
  outstandingErrors: number;
  lastRun: SyncRun | null;
  lastFullRun: SyncRun | null;
  lastError: { at: string; code: string; reason: string } | null;
}

const ABOUT = `
Portico synchronises the users and groups of the sync scope into its identity store within
seconds of a change in AD: groups (their members and nested groups, transitively), single users,
and organizational units (the users anywhere below them; an OU brings no groups). A user who
leaves the scope (removed from the groups, moved out of the OU) keeps their record as it is,
refreshed at sign-in (JIT) like any user outside the scope. It polls the connected domain
controller (every sync.pollSeconds, default 5) through DirSync when the service account has
"Replicating Directory Changes", through uSNChanged otherwise, and runs a full reconciliation on
first run, after a scope change, when another domain controller answers (USNs and DirSync
cookies are per DC), when the DC refuses the stored cookie, and every sync.fullEveryMinutes
(default 360). Users keep
the same UserId whether sync or sign-in saw them first; a user deleted in AD keeps their record,
marked deleted in the directory, and loses their sessions at once. Portico never writes to AD.
Users are read and written in batches (sync.batchSize, default 500 a transaction), at most
sync.concurrency (default 2) at once, pausing sync.pauseMs (default 10) between batches, so that a
first sync of a large domain leaves connections and database turns to sign-ins.
`;

function runLine(run: SyncRun): string {
  return (
    `${run.mode} (${run.reason}) at ${run.startedAt} in ${run.durationMs} ms from ${run.controller} (USN ${run.usn}, ${run.tracker === 'dirsync' ? 'DirSync' : 'uSNChanged'}): ` +
    `users ${run.usersInScope} in scope, +${run.usersCreated} ~${run.usersUpdated} deleted ${run.usersDeleted}; ` +
    `groups ${run.groupsInScope} in scope, ${run.groupsWritten} written, ${run.groupsRemoved} removed; ${run.errors.length} error${run.errors.length === 1 ? '' : 's'}`
  );
}

function kindOf(value: string): 'group' | 'user' | 'ou' {
  if (value !== 'group' && value !== 'user' && value !== 'ou') throw usageError(`kind must be group, user or ou, not "${value}"`);
  return value;
}

export function registerSyncCommands(program: Command, loadConfig: LoadConfig): void {
  const sync = program.command('sync').description('AD sync into the identity store: scope, status, sync now').addHelpText('after', `${ABOUT}${adminExitCodeHelp}`);

  addAdminOptions(sync.command('status').description('each scope entry (state, users and groups covered, synced as of, lag, errors), the run under way with its progress, the last runs, and the objects in error (AD object and reason)')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const status = await api.call<SyncStatus>('GET', '/sync');
      if (json) return printJson(status);
      if (status.entries.length === 0) process.stdout.write('The sync scope is empty: users arrive at sign-in only (JIT), groups are read from AD.\n');
      else
        printTable(
          status.entries.map((e) => ({
            kind: e.kind,
            label: e.label,
            state: e.state,
            users: String(e.users),
            groups: String(e.groups),
            'synced as of': e.syncedAsOf ?? '-',
            lag: e.lagSeconds === null ? '-' : `${Math.round(e.lagSeconds)} s`,
            errors: String(e.errors.length),
            guid: e.guid,
          })),
        );
      const p = status.progress;
      if (p) process.stdout.write(`Running: ${p.mode} run, ${p.phase}: users ${p.usersDone}/${p.usersTotal}, groups ${p.groupsDone}/${p.groupsTotal}, ${p.batches} batches\n`);
      if (status.lastRun) process.stdout.write(`Last run: ${runLine(status.lastRun)}\n`);
      if (status.lastFullRun && status.lastFullRun !== status.lastRun) process.stdout.write(`Last full run: ${runLine(status.lastFullRun)}\n`);
      const errors = status.entries.flatMap((e) => e.errors.map((error) => ({ ...error, entry: e.label })));
      if (errors.length > 0) process.stdout.write(`Objects in error (${status.outstandingErrors}):\n`);
      for (const error of errors) process.stdout.write(`  ${error.at} ${error.objectType} ${error.objectName ?? error.object} (${error.entry}): ${error.code}: ${error.reason}\n`);
      if (status.lastError) process.stdout.write(`Last failure: ${status.lastError.at} ${status.lastError.code}: ${status.lastError.reason}\n`);
    });
  });

  addAdminOptions(
    sync
      .command('add')
      .argument('<kind>', 'group, user or ou')
      .argument('<name>', 'group: name@domain, sAMAccountName or objectGUID; user: UPN, DOMAIN\\name or objectGUID; ou: its DN or objectGUID')
      .description('add an AD group (with its nested groups, transitively), a single user, or an OU (the users of its whole subtree) to the sync scope'),
    `
Examples:
  portico sync add group Engineering@corp.example.test
  portico sync add user alice@corp.example.test
  portico sync add ou "OU=Staff,DC=corp,DC=example,DC=test"
`,
  ).action(async (kind: string, name: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const entry = await api.call<ScopeEntry>('POST', '/sync/scope', { kind: kindOf(kind), name });
      if (json) return printJson(entry);
      process.stdout.write(`Added ${entry.kind} ${entry.label} (${entry.guid}) to the sync scope; the next run reconciles in full.\n`);
    });
  });

  addAdminOptions(
    sync
      .command('remove')
      .argument('<kind>', 'group, user or ou')
      .argument('<name>', 'the label or objectGUID listed by `portico sync status`')
      .description('remove a group, user or OU from the sync scope (records already synced stay; groups out of scope leave the store)'),
  ).action(async (kind: string, name: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const entry = await api.call<ScopeEntry>('POST', '/sync/scope/remove', { kind: kindOf(kind), name });
      if (json) return printJson(entry);
      process.stdout.write(`Removed ${entry.kind} ${entry.label} from the sync scope.\n`);
    });
  });

  addAdminOptions(sync.command('run').description('sync now and wait for the run').option('--full', 'a full reconciliation instead of the changes since the last run')).action(
    async (options: { full?: boolean }, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const run = await api.call<SyncRun>('POST', '/sync/run', { full: options.full === true });
        if (json) return printJson(run);
        process.stdout.write(`${runLine(run)}\n`);
        for (const error of run.errors) process.stdout.write(`  error ${error.code} on ${error.object}: ${error.reason}\n`);
        return run.errors.length > 0 ? 1 : undefined;
      });
    },
  );
}
