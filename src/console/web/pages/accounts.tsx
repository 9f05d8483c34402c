/** Accounts: list, add, edit (#/accounts/<id>), delete. */
import { useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText } from '../api.ts';
import { accountLabel } from '../catalog.ts';
import type { PageProps } from '../page.ts';
import { Alert, confirmAction, DeleteButton, Field, flash, FormCard, Hidden, LoadState, Mono, navigate, optional, parseTags, Table, TagsField, tagsText, useLoad, valueOf } from '../ui.tsx';

type Account = Schemas['Account'];

export function AccountsPage(props: PageProps) {
  if (props.segments.length > 1) return <EditAccount id={props.segments.slice(1).join('/')} setHeading={props.setHeading} />;
  return <AccountList />;
}

/** The fields of an account, for both forms; `account` fills them in for an edit. */
function AccountFields({ account }: { account?: Account }) {
  return (
    <>
      {account ? null : <Field name="id" label="Account ID" hint="The 12-digit AWS account id." inputMode="numeric" />}
      <Field name="name" label="Name" hint="Up to 50 characters." value={account?.name} />
      <Field name="email" label="Email" type="email" hint="The account's root email address." value={account?.email} />
      <Field name="organizationalUnit" label="Organizational unit" optional value={account?.organizationalUnit} />
      <Field name="signInUrl" label="Sign-in URL" optional type="url" hint="Where the console sign-in assertion is posted; AWS's sign-in endpoint when empty." value={account?.signInUrl} />
      <TagsField value={account ? tagsText(account.tags) : undefined} />
    </>
  );
}

function readAccount(form: HTMLFormElement) {
  const body = { name: valueOf(form, 'name'), email: valueOf(form, 'email'), tags: parseTags(valueOf(form, 'tags')) };
  optional(body, 'organizationalUnit', valueOf(form, 'organizationalUnit'));
  optional(body, 'signInUrl', valueOf(form, 'signInUrl'));
  return body;
}

function AccountList() {
  const [loaded, reload] = useLoad(() => api('get', '/accounts'));
  const [alert, setAlert] = useState('');

  async function remove(account: Account) {
    setAlert('');
    if (!(await confirmAction({ title: 'Delete account?', message: `Delete the account ${accountLabel(account)} from Portico? Accounts with assignments cannot be deleted.` }))) return;
    try {
      await api('delete', '/accounts/{id}', { params: { id: account.id } });
      flash.say(`Account ${accountLabel(account)} deleted.`);
      await reload();
      setTimeout(() => document.getElementById('accounts-caption')?.focus(), 0);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  return (
    <>
      <p class="intro">The AWS accounts people can be given access to, each with a permission set.</p>
      <Alert message={alert} />
      <div>
        {loaded.state === 'ready' ? (
          <Table
            caption={`Accounts (${loaded.data.accounts.length})`}
            captionId="accounts-caption"
            empty="No accounts yet."
            rows={loaded.data.accounts}
            columns={[
              { label: 'Account ID', cell: (a) => <Mono>{a.id}</Mono> },
              { label: 'Name', cell: (a) => a.name },
              { label: 'Email', cell: (a) => a.email },
              { label: 'Organizational unit', cell: (a) => a.organizationalUnit ?? '—' },
              {
                label: 'Actions',
                cell: (a) => (
                  <div class="actions">
                    <a href={`#/access?${new URLSearchParams({ account: a.id })}`}>
                      Who can reach<Hidden> {a.name}</Hidden>
                    </a>
                    <a href={`#/accounts/${encodeURIComponent(a.id)}`}>
                      Edit<Hidden> {accountLabel(a)}</Hidden>
                    </a>
                    <DeleteButton label={accountLabel(a)} onClick={() => void remove(a)} />
                  </div>
                ),
              },
            ]}
          />
        ) : (
          <LoadState loaded={loaded} />
        )}
      </div>
      <FormCard
        title="Add an account"
        submitLabel="Add account"
        submit={async (form) => {
          const account = await api('post', '/accounts', { body: { id: valueOf(form, 'id'), ...readAccount(form) } });
          form.reset();
          await reload();
          return `Account ${accountLabel(account)} added.`;
        }}
      >
        <AccountFields />
      </FormCard>
    </>
  );
}

function EditAccount({ id, setHeading }: { id: string; setHeading: PageProps['setHeading'] }) {
  const [loaded] = useLoad(async () => {
    const { account } = await api('get', '/accounts/{id}', { params: { id } });
    setHeading(`Account ${accountLabel(account)}`, `${account.name} · Accounts`);
    return account;
  });
  return (
    <>
      <p>
        <a href="#/accounts">← All accounts</a>
      </p>
      {loaded.state === 'ready' ? (
        <FormCard
          title="Edit the account"
          intro="The account ID cannot change. Empty optional fields are left as they are."
          submitLabel="Save account"
          submit={async (form) => {
            const saved = await api('patch', '/accounts/{id}', { params: { id }, body: readAccount(form) });
            navigate('#/accounts', `Account ${accountLabel(saved)} saved.`);
          }}
        >
          <AccountFields account={loaded.data} />
        </FormCard>
      ) : (
        <LoadState loaded={loaded} />
      )}
    </>
  );
}
