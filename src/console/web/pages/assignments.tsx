/** Assignments: list, create (a target and a principal chosen with the live picker), delete. */
import { useRef, useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText, InputError } from '../api.ts';
import type { Catalog } from '../catalog.ts';
import { accountLabel, applicationLabel, loadCatalog } from '../catalog.ts';
import type { PickerHandle } from '../picker.tsx';
import { PrincipalPicker } from '../picker.tsx';
import { Alert, confirmAction, DeleteButton, Field, flash, FormCard, LoadState, Table, Time, useLoad, useUid, valueOf } from '../ui.tsx';
import { PrincipalName } from './access.tsx';

type Assignment = Schemas['Assignment'];
type Target = Assignment['target'];

export function AssignmentsPage() {
  const [catalog] = useLoad(loadCatalog);
  return (
    <>
      <p class="intro">Who gets what: an Active Directory user or group (members of nested groups included) × an account with a permission set, or an application.</p>
      {catalog.state === 'ready' ? <Assignments catalog={catalog.data} /> : <LoadState loaded={catalog} />}
    </>
  );
}

function Assignments({ catalog }: { catalog: Catalog }) {
  const [loaded, reload] = useLoad(() => api('get', '/assignments'));
  const [alert, setAlert] = useState('');
  const [kind, setKind] = useState<'account' | 'application'>('account');
  const kindName = useUid('target-kind');
  const accountChoice = useUid('target-kind');
  const appChoice = useUid('target-kind');
  const picker = useRef<PickerHandle | null>(null);

  const describeTarget = (target: Target) =>
    target.type === 'account'
      ? `account ${catalog.account(target.accountId)?.name ?? target.accountId} with ${catalog.permissionSet(target.permissionSetId)?.name ?? target.permissionSetId}`
      : `application ${catalog.application(target.applicationId)?.name ?? target.applicationId}`;

  async function remove(a: Assignment) {
    setAlert('');
    const message = `Remove the assignment of ${a.principal.type} ${a.principal.name} to ${describeTarget(a.target)}? Its members lose this access.`;
    if (!(await confirmAction({ title: 'Remove assignment?', message, confirm: 'Remove' }))) return;
    try {
      await api('delete', '/assignments/{id}', { params: { id: a.id } });
      flash.say(`Assignment of ${a.principal.name} to ${describeTarget(a.target)} removed.`);
      await reload();
      setTimeout(() => document.getElementById('assignments-caption')?.focus(), 0);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  const none = (what: string) => [{ value: '', label: `No ${what} yet`, disabled: true }];
  const rows = loaded.state === 'ready' ? [...loaded.data.assignments].sort((a, b) => b.createdAt.localeCompare(a.createdAt)) : [];
  return (
    <>
      <Alert message={alert} />
      <div>
        {loaded.state === 'ready' ? (
          <Table
            caption={`Assignments (${rows.length})`}
            captionId="assignments-caption"
            empty="No assignments yet."
            rows={rows}
            columns={[
              { label: 'Who', cell: (a) => <PrincipalName principal={a.principal} /> },
              { label: 'Target', cell: (a) => <TargetName target={a.target} catalog={catalog} /> },
              { label: 'Permission set', cell: (a) => (a.target.type === 'account' ? (catalog.permissionSet(a.target.permissionSetId)?.name ?? a.target.permissionSetId) : '—') },
              { label: 'Assigned', cell: (a) => <Time iso={a.createdAt} /> },
              { label: 'Actions', cell: (a) => <DeleteButton label={`${a.principal.name} from ${describeTarget(a.target)}`} onClick={() => void remove(a)} /> },
            ]}
          />
        ) : (
          <LoadState loaded={loaded} />
        )}
      </div>
      <FormCard
        title="Assign a user or group"
        submitLabel="Assign"
        submit={async (form) => {
          const principal = picker.current?.chosen();
          const typed = picker.current?.typed() ?? '';
          if (!principal) throw new InputError(typed === '' ? 'principal: type a name, then choose a user or group from the list' : `principal: choose a user or group from the list (nothing is chosen for "${typed}")`, 'principal');
          const target: Target = kind === 'account' ? { type: 'account', accountId: valueOf(form, 'accountId'), permissionSetId: valueOf(form, 'permissionSetId') } : { type: 'application', applicationId: valueOf(form, 'applicationId') };
          const result = await api('post', '/assignments', { body: { principal: { type: principal.type, id: principal.guid }, target } });
          picker.current?.reset();
          await reload();
          return `Assigned ${result.assignment.principal.type} ${result.assignment.principal.name} to ${describeTarget(result.assignment.target)}.${result.provisioned ? ' The permission set was provisioned into the account.' : result.provisioning ? ` Provisioning into the account ${result.provisioning.status}: ${result.provisioning.message ?? ''} (see AWS provisioning).` : ''}`;
        }}
      >
        <fieldset>
          <legend>To what</legend>
          <div class="choice">
            <input type="radio" id={accountChoice} name={kindName} value="account" checked={kind === 'account'} onChange={() => setKind('account')} />
            <label for={accountChoice}>An AWS account, with a permission set</label>
          </div>
          <div class="choice">
            <input type="radio" id={appChoice} name={kindName} value="application" checked={kind === 'application'} onChange={() => setKind('application')} />
            <label for={appChoice}>An application</label>
          </div>
          <Field name="accountId" label="Account" hidden={kind !== 'account'} options={catalog.accounts.length ? catalog.accounts.map((a) => ({ value: a.id, label: accountLabel(a) })) : none('accounts')} />
          <Field name="permissionSetId" label="Permission set" hidden={kind !== 'account'} options={catalog.permissionSets.length ? catalog.permissionSets.map((p) => ({ value: p.id, label: p.name })) : none('permission sets')} />
          <Field name="applicationId" label="Application" hidden={kind === 'account'} options={catalog.applications.length ? catalog.applications.map((a) => ({ value: a.id, label: applicationLabel(a) })) : none('applications')} />
        </fieldset>
        <PrincipalPicker handle={picker} />
        {catalog.accounts.length === 0 || catalog.permissionSets.length === 0 ? (
          <p class="hint">
            Accounts need a permission set: add them on the <a href="#/accounts">Accounts</a> and <a href="#/permission-sets">Permission sets</a> pages.
          </p>
        ) : null}
      </FormCard>
    </>
  );
}

function TargetName({ target, catalog }: { target: Target; catalog: Catalog }) {
  if (target.type === 'account') {
    const account = catalog.account(target.accountId);
    return (
      <span>
        <span class="kind">Account</span> {account ? accountLabel(account) : target.accountId}
      </span>
    );
  }
  return (
    <span>
      <span class="kind">App</span> {catalog.application(target.applicationId)?.name ?? target.applicationId}
    </span>
  );
}
