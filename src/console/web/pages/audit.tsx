/** Audit log: newest first, filtered by action, paged with `before`. */
import { useEffect, useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText } from '../api.ts';
import type { PageProps } from '../page.ts';
import { Alert, Badge, Field, FormCard, Hidden, remember, Table, Time, useUid, valueOf } from '../ui.tsx';

const AUDIT_ACTIONS = [
  'access.account.created', 'access.account.updated', 'access.account.deleted',
  'access.permission_set.created', 'access.permission_set.updated', 'access.permission_set.deleted',
  'access.application.created', 'access.application.updated', 'access.application.deleted',
  'access.assignment.created', 'access.assignment.deleted',
  'admin.bootstrap_token.disabled', 'admin.bootstrap_token.issued',
  'auth.sign_in', 'auth.password_change', 'session.signed_out', 'session.revoked',
  'identity.mappings.saved', 'identity.mappings.checked', 'identity.user.removed', 'identity_source.change',
  'identitystore.api.refused', 'identitystore.credential.created', 'identitystore.credential.revoked',
  'directory.connect', 'directory.trust.validate',
  'auth.throttle.cleared',
];

interface Shown {
  action: string;
  limit: string;
  page: number;
  events: Array<Schemas['AuditEvent']>;
}

export function AuditPage({ params }: PageProps) {
  const listId = useUid('audit-actions');
  const [shown, setShown] = useState<Shown | null>(null);
  const [alert, setAlert] = useState('');

  async function show(action: string, limit: string, before: string | undefined, page: number, focus: boolean) {
    const { events } = await api('get', '/audit', { query: { limit, action: action === '' ? undefined : action, before } });
    setShown({ action, limit, page, events });
    if (focus) setTimeout(() => document.getElementById('audit-caption')?.focus(), 0);
  }
  function go(action: string, limit: string, before: string | undefined, page: number) {
    setAlert('');
    show(action, limit, before, page, true).catch((error: unknown) => setAlert(errorText(error)));
  }
  useEffect(() => void show((params.get('action') ?? '').trim(), params.get('limit') ?? '25', undefined, 1, false).catch((error: unknown) => setAlert(errorText(error))), []);

  const last = shown?.events[shown.events.length - 1];
  return (
    <>
      <p class="intro">Every change and sign-in, with who did it and, for changes, the record before and after.</p>
      <FormCard
        title="Filter"
        submitLabel="Show events"
        submit={async (form) => {
          setAlert('');
          const action = valueOf(form, 'action');
          const limit = valueOf(form, 'limit');
          const query = new URLSearchParams();
          if (action) query.set('action', action);
          if (limit !== '25') query.set('limit', limit);
          remember(`#/audit${query.size ? `?${query}` : ''}`);
          await show(action, limit, undefined, 1, false);
        }}
      >
        <Alert message={alert} />
        <datalist id={listId}>
          {AUDIT_ACTIONS.map((a) => (
            <option value={a} />
          ))}
        </datalist>
        <div class="grid-2">
          <Field name="action" label="Action" optional value={params.get('action') ?? ''} list={listId} hint="The exact action, e.g. access.account.created. Empty: every action." />
          <Field name="limit" label="Events per page" options={['10', '25', '50', '100'].map((n) => ({ value: n, label: n }))} value={params.get('limit') ?? '25'} />
        </div>
      </FormCard>
      <div>
        {shown ? (
          <Table
            caption={`Audit events${shown.action ? ` “${shown.action}”` : ''}, newest first — page ${shown.page}`}
            captionId="audit-caption"
            empty={shown.page === 1 ? 'No events.' : 'No older events.'}
            rows={shown.events}
            columns={[
              { label: 'When', cell: (e) => <Time iso={e.occurredAt} /> },
              { label: 'Actor', cell: (e) => e.actor },
              { label: 'Action', cell: (e) => <code>{e.action}</code> },
              { label: 'Target', cell: (e) => e.target ?? '—' },
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
          <button type="button" class="secondary" onClick={() => go(shown.action, shown.limit, undefined, 1)}>
            Newest events
          </button>
        ) : null}
        {shown && last && shown.events.length === Number(shown.limit) ? (
          <button type="button" class="secondary" onClick={() => go(shown.action, shown.limit, last.id, shown.page + 1)}>
            Older events
          </button>
        ) : null}
      </div>
    </>
  );
}
