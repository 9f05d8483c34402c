/**
 * Audit log: newest first, filtered by action, actor, target and time, paged with `before`.
 * Targets are shown by name where the API gives one (the user name in the event's details, or the
 * account, permission set or application with that id), with the stored target under it.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText, InputError } from '../api.ts';
import type { Catalog } from '../catalog.ts';
import { accountLabel, loadCatalog } from '../catalog.ts';
import type { PageProps } from '../page.ts';
import { Alert, Badge, Field, FormCard, Hidden, remember, Table, Time, useUid, valueOf } from '../ui.tsx';
// The typed union the audit log records (pure data): the filter offers exactly what can be stored.
import { AUDIT_ACTIONS } from '../../../audit/actions.ts';


type AuditEvent = Schemas['AuditEvent'];

/** The filters, as the address and the API take them (times as ISO-8601 UTC). */
interface Filter {
  action: string;
  actor: string;
  target: string;
  since: string;
  until: string;
  limit: string;
}

interface Shown {
  filter: Filter;
  page: number;
  events: AuditEvent[];
}

const FILTER_KEYS = ['action', 'actor', 'target', 'since', 'until'] as const;

/** A datetime-local value (the browser's time zone) as ISO-8601 UTC; '' stays ''. */
function toIso(local: string, field: string): string {
  if (local === '') return '';
  const date = new Date(local);
  if (Number.isNaN(date.getTime())) throw new InputError(`${field}: a date and time`, field);
  return date.toISOString();
}

/** ISO-8601 as a datetime-local value in the browser's time zone. */
function toLocal(iso: string | null): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** The target's name where the API gives one. */
function targetName(event: AuditEvent, catalog: Catalog | null): string | null {
  const userName = event.details.userName;
  if (typeof userName === 'string' && userName !== event.target) return userName;
  if (!event.target || !catalog) return null;
  const account = catalog.account(event.target);
  if (account) return accountLabel(account) === event.target ? null : `Account ${accountLabel(account)}`;
  const set = catalog.permissionSet(event.target);
  if (set && set.name !== event.target) return `Permission set ${set.name}`;
  const application = catalog.application(event.target);
  if (application && application.name !== event.target) return `Application ${application.name}`;
  return null;
}

function describeFilter(filter: Filter): string {
  const parts = [filter.action ? ` “${filter.action}”` : '', filter.actor ? ` by ${filter.actor}` : '', filter.target ? ` about ${filter.target}` : ''];
  const time = filter.since || filter.until ? ` ${filter.since ? `from ${new Date(filter.since).toLocaleString()}` : ''}${filter.since && filter.until ? ' ' : ''}${filter.until ? `until ${new Date(filter.until).toLocaleString()}` : ''}` : '';
  return `${parts.join('')}${time}`;
}

export function AuditPage({ params }: PageProps) {
  const listId = useUid('audit-actions');
  const initial: Filter = { action: (params.get('action') ?? '').trim(), actor: params.get('actor') ?? '', target: params.get('target') ?? '', since: params.get('since') ?? '', until: params.get('until') ?? '', limit: params.get('limit') ?? '25' };
  const [shown, setShown] = useState<Shown | null>(null);
  const [alert, setAlert] = useState('');
  const [catalog, setCatalog] = useState<Catalog | null>(null);

  async function show(filter: Filter, before: string | undefined, page: number, focus: boolean) {
    const query = { limit: filter.limit, before, ...Object.fromEntries(FILTER_KEYS.filter((key) => filter[key] !== '').map((key) => [key, filter[key]])) };
    const { events } = await api('get', '/audit', { query });
    setShown({ filter, page, events });
    if (focus) setTimeout(() => document.getElementById('audit-caption')?.focus(), 0);
  }
  function go(filter: Filter, before: string | undefined, page: number) {
    setAlert('');
    show(filter, before, page, true).catch((error: unknown) => setAlert(errorText(error)));
  }
  useEffect(() => {
    show(initial, undefined, 1, false).catch((error: unknown) => setAlert(errorText(error)));
    // Names for targets: a console without the catalog still shows the log.
    loadCatalog().then(setCatalog, () => setCatalog(null));
  }, []);

  const last = shown?.events[shown.events.length - 1];
  return (
    <>
      <p class="intro">Every change and sign-in, with who did it and, for changes, the record before and after.</p>
      <FormCard
        title="Filter"
        submitLabel="Show events"
        submit={async (form) => {
          setAlert('');
          const filter: Filter = {
            action: valueOf(form, 'action'),
            actor: valueOf(form, 'actor'),
            target: valueOf(form, 'target'),
            since: toIso(valueOf(form, 'since'), 'since'),
            until: toIso(valueOf(form, 'until'), 'until'),
            limit: valueOf(form, 'limit'),
          };
          const query = new URLSearchParams();
          for (const key of FILTER_KEYS) if (filter[key] !== '') query.set(key, filter[key]);
          if (filter.limit !== '25') query.set('limit', filter.limit);
          remember(`#/audit${query.size ? `?${query}` : ''}`);
          await show(filter, undefined, 1, false);
        }}
      >
        <Alert message={alert} />
        <datalist id={listId}>
          {AUDIT_ACTIONS.map((a) => (
            <option value={a} />
          ))}
        </datalist>
        <div class="grid-2">
          <Field name="action" label="Action" optional value={initial.action} list={listId} hint="The exact action, e.g. access.account.created. Empty: every action." />
          <Field name="limit" label="Events per page" options={['10', '25', '50', '100'].map((n) => ({ value: n, label: n }))} value={initial.limit} />
          <Field name="actor" label="Actor" optional value={initial.actor} hint="Exactly as listed, e.g. alice@corp.example.test or bootstrap-token." />
          <Field name="target" label="Target" optional value={initial.target} hint="Exactly as stored (the small text under a target's name)." />
          <Field name="since" label="From" optional type="datetime-local" value={toLocal(initial.since)} hint="Events at or after this time (your time zone)." />
          <Field name="until" label="Until" optional type="datetime-local" value={toLocal(initial.until)} hint="Events before this time." />
        </div>
      </FormCard>
      <div>
        {shown ? (
          <Table
            caption={`Audit events${describeFilter(shown.filter)}, newest first — page ${shown.page}`}
            captionId="audit-caption"
            empty={shown.page === 1 ? 'No events.' : 'No older events.'}
            rows={shown.events}
            columns={[
              { label: 'When', cell: (e) => <Time iso={e.occurredAt} /> },
              { label: 'Actor', cell: (e) => e.actor },
              { label: 'Action', cell: (e) => <code>{e.action}</code> },
              {
                label: 'Target',
                cell: (e) => {
                  const name = targetName(e, catalog);
                  if (!e.target) return name ?? '—';
                  return name ? (
                    <span>
                      {name}
                      <span class="path mono">{e.target}</span>
                    </span>
                  ) : (
                    e.target
                  );
                },
              },
              {
                label: 'Outcome',
                cell: (e) => (
                  <span>
                    <Badge tone={e.outcome === 'success' ? 'ok' : 'bad'}>{e.outcome === 'success' ? 'Success' : 'Failure'}</Badge>
                    {e.errorCode ? <span class="path mono">{e.errorCode}</span> : null}
                  </span>
                ),
              },
              {
                label: 'Details',
                cell: (e) =>
                  Object.keys(e.details).length === 0 ? (
                    '—'
                  ) : (
                    <details>
                      <summary>
                        Details<Hidden>{` of ${e.action} at ${e.occurredAt}`}</Hidden>
                      </summary>
                      <pre>{JSON.stringify(e.details, null, 2)}</pre>
                    </details>
                  ),
              },
            ]}
          />
        ) : null}
      </div>
      <div class="pager">
        {shown && shown.page > 1 ? (
          <button type="button" class="secondary" onClick={() => go(shown.filter, undefined, 1)}>
            Newest events
          </button>
        ) : null}
        {shown && last && shown.events.length === Number(shown.filter.limit) ? (
          <button type="button" class="secondary" onClick={() => go(shown.filter, last.id, shown.page + 1)}>
            Older events
          </button>
        ) : null}
      </div>
    </>
  );
}
