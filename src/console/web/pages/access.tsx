/**
 * Access: what a user can reach (group memberships read from the directory now), and who can
 * reach an account or application, each with the path of groups that grants it. Paths read as
 * the CLI's `portico access explain` prints them: from the assigned group down to the user's own
 * group (Portico-Users ← Eng-All ← Eng-Platform).
 */
import { useEffect, useState } from 'preact/hooks';
import type { ApiResult, Schemas } from '../api.ts';
import { api, errorText, InputError } from '../api.ts';
import type { Catalog } from '../catalog.ts';
import { accountLabel, applicationLabel, loadCatalog } from '../catalog.ts';
import type { PageProps } from '../page.ts';
import { FormCard, Hidden, LoadState, Mono, remember, Table, useLoad, useUid, valueOf, Field, Alert } from '../ui.tsx';

type UserAccess = ApiResult<'/access/users/{id}', 'get'>;
type Grant = UserAccess['entitlements']['applications'][number]['grants'][number];
type WhoCanReach = ApiResult<'/accounts/{id}/access', 'get'>;

/**
 * Group names in a path, from the assigned group down to the user's own group, without the
 * domain they share with the assigned group. `path` comes from the API user-side first.
 */
export function pathText(path: readonly string[], assignedName: string): string {
  const at = assignedName.lastIndexOf('@');
  const domain = at > 0 ? assignedName.slice(at).toLowerCase() : null;
  return [...path]
    .reverse()
    .map((name) => (domain && name.toLowerCase().endsWith(domain) ? name.slice(0, name.length - domain.length) : name))
    .join(' ← ');
}

/** How a user is granted: directly, or through a group and its nesting path. */
function GrantText({ grant }: { grant: Grant }) {
  if (grant.type === 'user') return <span>Assigned to the user directly</span>;
  return (
    <span class="grant">
      Group <strong>{grant.name}</strong>
      <span class="path">{grant.path.length > 1 ? `through ${pathText(grant.path, grant.name)}` : 'direct member'}</span>
    </span>
  );
}

function Grants({ grants }: { grants: Grant[] }) {
  if (grants.length === 1 && grants[0]) return <GrantText grant={grants[0]} />;
  return (
    <ul>
      {grants.map((g) => (
        <li>
          <GrantText grant={g} />
        </li>
      ))}
    </ul>
  );
}

export function PrincipalName({ principal }: { principal: Schemas['Assignment']['principal'] }) {
  return (
    <span>
      <span class="kind">{principal.type === 'group' ? 'Group' : 'User'}</span> {principal.name}
    </span>
  );
}

export function AccessPage({ params }: PageProps) {
  const initialUser = params.get('user') ?? '';
  const initialTarget = params.get('account') ? `account:${params.get('account')}` : params.get('application') ? `application:${params.get('application')}` : '';
  const [explained, setExplained] = useState<UserAccess | null>(null);
  const [explainAlert, setExplainAlert] = useState('');
  const [catalog] = useLoad(loadCatalog);

  async function explain(name: string) {
    setExplained(null);
    setExplained(await api('get', '/access/users/{id}', { params: { id: name } }));
  }
  useEffect(() => {
    if (initialUser.trim() !== '') explain(initialUser.trim()).catch((error: unknown) => setExplainAlert(errorText(error)));
  }, []);

  return (
    <>
      <p class="intro">Access is evaluated from assignments and Active Directory group membership, nested groups included, with the path of groups that grants it.</p>
      <FormCard
        title="What can a user reach?"
        submitLabel="Explain"
        submit={async (form) => {
          setExplainAlert('');
          const name = valueOf(form, 'user');
          if (name === '') throw new InputError('user: required', 'user');
          remember(`#/access?${new URLSearchParams({ user: name })}`);
          await explain(name);
        }}
        after={<div>{explained ? <Explained result={explained} /> : null}</div>}
      >
        <Alert message={explainAlert} />
        <Field name="user" label="User" hint="UPN, DOMAIN\name or objectGUID; group memberships are read from Active Directory now." value={initialUser} />
      </FormCard>
      <div>{catalog.state === 'ready' ? <WhoCard catalog={catalog.data} initial={initialTarget} /> : <LoadState loaded={catalog} />}</div>
    </>
  );
}

function Explained({ result }: { result: UserAccess }) {
  const who = result.user.userName;
  const accountRows = result.entitlements.accounts.flatMap((a) => a.permissionSets.map((p) => ({ account: a.account, permissionSet: p.permissionSet, grants: p.grants })));
  return (
    <>
      <h3>{`${who}${result.user.displayName ? ` (${result.user.displayName})` : ''}`}</h3>
      {result.entitlements.groupsTruncated ? <p class="warning">This user is in more groups than are evaluated: assignments to the rest are not counted.</p> : null}
      <Table
        caption={`Accounts ${who} can reach (${result.entitlements.accounts.length}, with ${accountRows.length} permission set${accountRows.length === 1 ? '' : 's'})`}
        empty="No accounts."
        rows={accountRows}
        columns={[
          { label: 'Account', cell: (r) => `${r.account.name} (${r.account.id})` },
          { label: 'Permission set', cell: (r) => r.permissionSet.name },
          { label: 'Granted through', cell: (r) => <Grants grants={r.grants} /> },
        ]}
      />
      <Table
        caption={`Applications ${who} can reach (${result.entitlements.applications.length})`}
        empty="No applications."
        rows={result.entitlements.applications}
        columns={[
          { label: 'Application', cell: (r) => r.application.name },
          { label: 'Granted through', cell: (r) => <Grants grants={r.grants} /> },
        ]}
      />
      <details>
        <summary>{`Groups of ${who} (${result.groups.length})`}</summary>
        <Table
          caption={`Groups of ${who}, with the path to a group they are directly in`}
          empty="In no group."
          rows={result.groups}
          columns={[
            { label: 'Group', cell: (g) => g.qualifiedName },
            { label: 'Path', cell: (g) => (g.path.length > 1 ? pathText(g.path, g.qualifiedName) : 'Direct member') },
          ]}
        />
      </details>
    </>
  );
}

function WhoCard({ catalog, initial }: { catalog: Catalog; initial: string }) {
  const targetId = useUid('target');
  const [shown, setShown] = useState<{ type: string; id: string; name: string; result: WhoCanReach } | null>(null);
  const [alert, setAlert] = useState('');

  async function whoCanReach(value: string) {
    setShown(null);
    const [type = '', ...rest] = value.split(':');
    const id = rest.join(':');
    if (!id) throw new InputError('choose an account or an application', 'target');
    const result = type === 'application' ? await api('get', '/applications/{id}/access', { params: { id } }) : await api('get', '/accounts/{id}/access', { params: { id } });
    const account = catalog.account(id);
    const name = type === 'application' ? (catalog.application(id)?.name ?? id) : account ? accountLabel(account) : id;
    setShown({ type, id, name, result });
  }
  useEffect(() => {
    if (initial !== '') whoCanReach(initial).catch((error: unknown) => setAlert(errorText(error)));
  }, []);

  return (
    <FormCard
      title="Who can reach an account or application?"
      submitLabel="Show who can reach it"
      submit={async (form) => {
        setAlert('');
        const value = valueOf(form, 'target');
        const [type = '', ...rest] = value.split(':');
        if (value !== '') remember(`#/access?${new URLSearchParams({ [type]: rest.join(':') })}`);
        await whoCanReach(value);
      }}
      after={<div>{shown ? <Who shown={shown} /> : null}</div>}
    >
      <Alert message={alert} />
      <div class="field">
        <label for={targetId}>Account or application</label>
        <select id={targetId} name="target" ref={(select) => {
            if (select && initial !== '' && select.value === '') select.value = initial;
          }}>
          <option value="">Choose…</option>
          <optgroup label="Accounts">
            {catalog.accounts.map((a) => (
              <option value={`account:${a.id}`}>{accountLabel(a)}</option>
            ))}
          </optgroup>
          <optgroup label="Applications">
            {catalog.applications.map((a) => (
              <option value={`application:${a.id}`}>{applicationLabel(a)}</option>
            ))}
          </optgroup>
        </select>
      </div>
    </FormCard>
  );
}

function Who({ shown }: { shown: { type: string; name: string; result: WhoCanReach } }) {
  const { type, name, result } = shown;
  const rows = result.users.flatMap((user) => user.grants.map((grant) => ({ user, grant })));
  return (
    <>
      {result.groupsTruncated ? <p class="warning">A group has more nested groups than are evaluated: the list may be incomplete.</p> : null}
      {result.unnamedUsers > 0 ? <p class="warning">{`${result.unnamedUsers} of ${result.users.length} users are listed by objectGUID only (names are looked up for the first 500).`}</p> : null}
      <Table
        caption={`Who can reach ${type === 'application' ? 'application' : 'account'} ${name} (${result.users.length} ${result.users.length === 1 ? 'person' : 'people'})`}
        captionId="who-caption"
        empty="Nobody: there is no assignment, or the assigned groups are empty."
        rows={rows}
        columns={[
          {
            label: 'User',
            cell: (r) => (
              <span>
                {r.user.userName ?? <Mono>{r.user.guid}</Mono>}
                {r.user.userName ? (
                  <span class="path">
                    <a href={`#/access?${new URLSearchParams({ user: r.user.userName })}`}>
                      Explain<Hidden> {r.user.userName}</Hidden>
                    </a>
                  </span>
                ) : null}
              </span>
            ),
          },
          { label: 'Display name', cell: (r) => r.user.displayName ?? '—' },
          ...(type === 'application' ? [] : [{ label: 'Permission set', cell: (r: (typeof rows)[number]) => r.grant.permissionSet?.name ?? '—' }]),
          { label: 'Granted through', cell: (r) => <GrantText grant={r.grant.grant} /> },
        ]}
      />
    </>
  );
}
