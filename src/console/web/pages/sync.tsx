/** AD sync: the scope entries with their state, lag and errors, the run under way, "Sync now", and adding/removing entries. */
import { useEffect, useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText } from '../api.ts';
import { Alert, Badge, confirmAction, Field, FormCard, Hidden, Summary, Table, Time, valueOf } from '../ui.tsx';

type Status = Schemas['SyncStatus'];
type Entry = Schemas['SyncScopeEntryStatus'];
type SyncError = Schemas['SyncError'];

/** While a run is under way the page asks for the status this often. */
const POLL_MS = 1500;

const STATE: Readonly<Record<Entry['state'], [string, 'ok' | 'bad' | 'neutral']>> = {
  synced: ['Synced', 'ok'],
  errors: ['Errors', 'bad'],
  missing: ['Missing in AD', 'bad'],
  pending: ['Not synced yet', 'neutral'],
};

function lagText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  return seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`;
}

function runText(run: NonNullable<Status['lastRun']>): string {
  return `${run.mode === 'full' ? 'Full reconciliation' : 'Changes'} (${run.reason}) in ${(run.durationMs / 1000).toFixed(1)} s: ${run.usersInScope} users and ${run.groupsInScope} groups in scope, ${run.usersCreated} created, ${run.usersUpdated} updated, ${run.usersDeleted} deleted, ${run.groupsWritten} groups written, ${run.errors.length} errors`;
}

export function SyncPage() {
  const [status, setStatus] = useState<Status | null>(null);
  const [loadError, setLoadError] = useState('');
  const [alert, setAlert] = useState('');

  async function refresh(): Promise<Status | null> {
    try {
      const next = await api('get', '/sync');
      setStatus(next);
      setLoadError('');
      return next;
    } catch (error) {
      setLoadError(errorText(error));
      return null;
    }
  }

  // Polls while a run is under way (or was just asked for), so that progress and results show up.
  const [watching, setWatching] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      const next = await refresh();
      if (!stopped && next?.running) timer = setTimeout(() => void tick(), POLL_MS);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [watching]);

  async function syncNow() {
    setAlert('');
    try {
      const { started } = await api('post', '/sync/start', { body: {} });
      setAlert(started ? '' : 'A run is already queued.');
      // The run starts a moment later: wait for it to show as running, then follow it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      setWatching((n) => n + 1);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  async function remove(entry: Entry) {
    setAlert('');
    const message = `Remove ${entry.label} from the sync scope? Records already synced stay; its groups leave the store at the next run. The change is recorded in the audit log.`;
    if (!(await confirmAction({ title: 'Remove from the sync scope?', message, confirm: 'Remove' }))) return;
    try {
      await api('post', '/sync/scope/remove', { body: { kind: entry.kind, name: entry.guid } });
      setWatching((n) => n + 1);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  const errors: Array<SyncError & { entry: string }> = (status?.entries ?? []).flatMap((e) => e.errors.map((error) => ({ ...error, entry: e.label })));
  const progress = status?.progress ?? null;

  return (
    <>
      <p class="intro">
        Users and groups of the sync scope are kept in the identity store within seconds of a change in Active Directory: groups with everything nested in them, and single users. Changes are read every few seconds; a full reconciliation runs after a scope change and
        periodically. Portico never writes to Active Directory.
      </p>
      <Alert message={alert || loadError} />
      <section class="card" aria-labelledby="sync-state">
        <h2 id="sync-state">State</h2>
        {status ? (
          <Summary
            pairs={[
              ['Run', progress ? `${progress.mode === 'full' ? 'Full reconciliation' : 'Changes'} under way: ${progress.phase}` : status.running ? 'Under way' : 'Idle'],
              ['Progress', progress ? `users ${progress.usersDone} of ${progress.usersTotal}, groups ${progress.groupsDone} of ${progress.groupsTotal}, ${progress.batches} batches` : null],
              ['Last run', status.lastRun ? runText(status.lastRun) : 'None since Portico started'],
              ['Last run at', status.lastRun ? <Time iso={status.lastRun.finishedAt} /> : null],
              ['Objects in error', String(status.outstandingErrors)],
              ['Last failure', status.lastError ? `${status.lastError.code}: ${status.lastError.reason}` : null],
            ]}
          />
        ) : (
          <p class="note">Loading…</p>
        )}
        <div class="actions">
          <button type="button" onClick={() => void syncNow()}>
            Sync now
          </button>
        </div>
      </section>
      <div>
        <Table
          caption={`Sync scope (${status?.entries.length ?? 0})`}
          empty="The sync scope is empty: users arrive at sign-in only, and groups are read from Active Directory."
          rows={status?.entries ?? []}
          columns={[
            {
              label: 'Entry',
              cell: (e) => (
                <span>
                  {e.label}
                  <span class="path mono">{e.guid}</span>
                </span>
              ),
            },
            { label: 'Kind', cell: (e) => (e.kind === 'group' ? 'Group' : 'User') },
            { label: 'State', cell: (e) => <Badge tone={STATE[e.state][1]}>{STATE[e.state][0]}</Badge> },
            { label: 'Users', cell: (e) => String(e.users) },
            { label: 'Groups', cell: (e) => String(e.groups) },
            { label: 'Synced as of', cell: (e) => <Time iso={e.syncedAsOf} /> },
            { label: 'Lag', cell: (e) => lagText(e.lagSeconds) },
            { label: 'Errors', cell: (e) => String(e.errors.length) },
            {
              label: 'Actions',
              hideLabel: true,
              cell: (e) => (
                <button type="button" class="secondary small" onClick={() => void remove(e)}>
                  Remove<Hidden> {e.label}</Hidden>
                </button>
              ),
            },
          ]}
        />
      </div>
      <div>
        <Table
          caption={`Sync errors (${errors.length})`}
          empty="No object is in error."
          rows={errors}
          columns={[
            { label: 'Object', cell: (e) => <span class="mono">{e.objectName ?? e.object}</span> },
            { label: 'Type', cell: (e) => e.objectType },
            { label: 'Scope entry', cell: (e) => e.entry },
            { label: 'Code', cell: (e) => <span class="mono">{e.code}</span> },
            { label: 'Reason', cell: (e) => e.reason },
            { label: 'At', cell: (e) => <Time iso={e.at} /> },
          ]}
        />
      </div>
      <FormCard
        title="Add to the sync scope"
        intro="A group brings its members and every group nested in it; the next run reconciles in full."
        submitLabel="Add"
        submit={async (form) => {
          const kind = valueOf(form, 'kind') === 'user' ? 'user' : 'group';
          const entry = await api('post', '/sync/scope', { body: { kind, name: valueOf(form, 'name') } });
          form.reset();
          setWatching((n) => n + 1);
          return `Added ${entry.label} to the sync scope.`;
        }}
      >
        <Field
          name="kind"
          label="Kind"
          options={[
            { value: 'group', label: 'Group' },
            { value: 'user', label: 'User' },
          ]}
          value="group"
        />
        <Field name="name" label="Name" hint="Group: name@domain, sAMAccountName or objectGUID. User: UPN, DOMAIN\name or objectGUID." />
      </FormCard>
    </>
  );
}
