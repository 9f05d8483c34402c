/** Users: provisioned users found by user-name prefix, and one user with sessions (revoke, remove). */
import { useEffect, useState } from 'preact/hooks';
import type { ApiResult } from '../api.ts';
import { api, errorText } from '../api.ts';
import type { PageProps } from '../page.ts';
import { Alert, confirmAction, Field, FormCard, LoadState, Mono, navigate, remember, Summary, Table, Time, useLoad, valueOf } from '../ui.tsx';

type Found = ApiResult<'/users', 'get'>;

export function UsersPage(props: PageProps) {
  if (props.segments.length > 1) return <UserPage id={props.segments.slice(1).join('/')} setHeading={props.setHeading} />;
  return <UserSearch initial={props.params.get('prefix') ?? ''} />;
}

function UserSearch({ initial }: { initial: string }) {
  const [shown, setShown] = useState<{ prefix: string; users: Found['users']; next: string | undefined } | null>(null);
  const [alert, setAlert] = useState('');

  async function search(prefix: string, after?: string) {
    const found = await api('get', '/users', { query: { limit: '50', prefix: prefix === '' ? undefined : prefix, after } });
    setShown((current) => ({ prefix, users: after && current ? [...current.users, ...found.users] : found.users, next: found.next ?? undefined }));
  }
  useEffect(() => void search(initial).catch((error: unknown) => setAlert(errorText(error))), []);

  return (
    <>
      <p class="intro">People provisioned into the identity store when they signed in. Removing one here ends their sessions; Active Directory is not touched.</p>
      <FormCard
        title="Find a user"
        submitLabel="Search"
        submit={async (form) => {
          setAlert('');
          const value = valueOf(form, 'prefix');
          remember(value ? `#/users?${new URLSearchParams({ prefix: value })}` : '#/users');
          await search(value);
        }}
      >
        <Alert message={alert} />
        <Field name="prefix" label="User name starts with" hint="Leave empty to list everyone provisioned (in user-name order)." value={initial} type="search" />
      </FormCard>
      <div>
        {shown ? (
          <Table
            caption={`Provisioned users${shown.prefix ? ` starting with “${shown.prefix}”` : ''} (${shown.users.length}${shown.next ? '+' : ''})`}
            empty="No provisioned user matches. People are provisioned when they first sign in."
            rows={shown.users}
            columns={[
              { label: 'User name', cell: (u) => <a href={`#/users/${encodeURIComponent(u.userId)}`}>{u.userName}</a> },
              { label: 'Display name', cell: (u) => u.displayName ?? '—' },
              { label: 'Email', cell: (u) => u.emails?.[0]?.value ?? '—' },
              { label: 'Provisioned', cell: (u) => <Time iso={u.provisionedAt} /> },
            ]}
          />
        ) : null}
      </div>
      <div class="pager">
        {shown?.next ? (
          <button type="button" class="secondary" onClick={() => void search(shown.prefix, shown.next).catch((error: unknown) => setAlert(errorText(error)))}>
            Show more users
          </button>
        ) : null}
      </div>
    </>
  );
}

/** One provisioned user with their live sessions: revoke them, or remove the user. */
function UserPage({ id, setHeading }: { id: string; setHeading: PageProps['setHeading'] }) {
  const [loaded] = useLoad(async () => {
    const found = await api('get', '/users/{id}', { params: { id } });
    setHeading(found.user.userName, `${found.user.userName} · Users`);
    return found;
  });
  const [alert, setAlert] = useState('');
  if (loaded.state !== 'ready')
    return (
      <>
        <p>
          <a href="#/users">← All users</a>
        </p>
        <LoadState loaded={loaded} />
      </>
    );
  const { user, sessions } = loaded.data;
  const ad = user.activeDirectory ?? {};
  const attributes = Object.entries(user.attributes ?? {});
  const here = `#/users/${encodeURIComponent(user.userId)}`;

  async function revoke() {
    setAlert('');
    if (!(await confirmAction({ title: 'Revoke sessions?', message: `End every portal session of ${user.userName}? They will have to sign in again.`, confirm: 'Revoke sessions' }))) return;
    try {
      const result = await api('post', '/users/{id}/revoke-sessions', { params: { id: user.userId } });
      navigate(here, `Ended ${result.sessionsRevoked} session${result.sessionsRevoked === 1 ? '' : 's'} of ${result.userName}.`);
    } catch (error) {
      setAlert(errorText(error));
    }
  }
  async function remove() {
    setAlert('');
    const message = `Remove ${user.userName} from Portico? Their sessions end now. Active Directory is not changed: if they are still allowed there, they are provisioned again at their next sign-in.`;
    if (!(await confirmAction({ title: 'Remove user?', message, confirm: 'Remove user' }))) return;
    try {
      const result = await api('delete', '/users/{id}', { params: { id: user.userId } });
      navigate('#/users', `Removed ${result.userName} (${result.sessionsRevoked} session${result.sessionsRevoked === 1 ? '' : 's'} ended).`);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  return (
    <>
      <p>
        <a href="#/users">← All users</a>
      </p>
      <div>
        <Alert message={alert} />
        <section class="card" aria-labelledby="user-details">
          <h2 id="user-details">Details</h2>
          <Summary
            pairs={[
              ['User name', user.userName],
              ['Display name', user.displayName ?? '—'],
              ['Email', user.emails && user.emails.length > 0 ? user.emails.map((e) => e.value).join(', ') : '—'],
              ['User ID', <Mono>{user.userId}</Mono>],
              ['Windows UPN', ad.windowsUpn ?? '—'],
              ['Domain', ad.domain ?? '—'],
              ['objectGUID', <Mono>{ad.guid ?? '—'}</Mono>],
              ['SID', <Mono>{ad.sid ?? '—'}</Mono>],
              ['First provisioned', <Time iso={user.createdAt} />],
              ['Last provisioned', <Time iso={user.provisionedAt} />],
            ]}
          />
          <p>
            <a href={`#/access?${new URLSearchParams({ user: user.userName })}`}>{`What can ${user.userName} reach?`}</a>
          </p>
          <p>
            <a href={`#/mfa-devices/${encodeURIComponent(user.userId)}`}>{`MFA devices of ${user.userName}`}</a>
          </p>
        </section>
        <Table
          caption={`Mapped attributes (${attributes.length})`}
          empty="No mapped attributes."
          rows={attributes}
          columns={[
            { label: 'Attribute', cell: ([name]) => name },
            { label: 'Value', cell: ([, value]) => value },
          ]}
        />
        <Table
          caption={`Live sessions (${sessions.length})`}
          empty="No live sessions."
          rows={sessions}
          columns={[
            { label: 'Session', cell: (s) => <Mono>{s.id}</Mono> },
            { label: 'Started', cell: (s) => <Time iso={s.createdAt} /> },
            { label: 'Expires', cell: (s) => <Time iso={s.expiresAt} /> },
            { label: 'Client address', cell: (s) => s.clientAddress ?? '—' },
          ]}
        />
        <section class="card" aria-labelledby="user-actions">
          <h2 id="user-actions">Actions</h2>
          <div class="actions">
            <button type="button" class="secondary" onClick={() => void revoke()}>
              Revoke all sessions
            </button>
            <button type="button" class="danger" onClick={() => void remove()}>
              Remove user
            </button>
          </div>
        </section>
      </div>
    </>
  );
}
