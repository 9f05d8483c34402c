/**
 * IdentityStore API credentials: the access keys integrated applications sign their AWS
 * IdentityStore API requests with. Issued (the secret is shown once, here, and never again),
 * listed with their last use, and revoked; every change is audited by the admin API.
 */
import { useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText } from '../api.ts';
import { Alert, Badge, confirmAction, Field, FormCard, Hidden, LoadState, Mono, navigate, Summary, Table, Time, useLoad, valueOf } from '../ui.tsx';

type Credential = Schemas['AppCredential'];

interface Issued {
  accessKeyId: string;
  secretAccessKey: string;
  name: string;
  identityStoreId: string;
}

export function AppCredentialsPage() {
  const [loaded] = useLoad(() => api('get', '/app-credentials'));
  const [issued, setIssued] = useState<Issued | null>(null);
  const [alert, setAlert] = useState('');

  async function revoke(credential: Credential) {
    setAlert('');
    const message = `Revoke the access key ${credential.accessKeyId} (${credential.name})? Requests signed with it are refused from now on. The change is recorded in the audit log.`;
    if (!(await confirmAction({ title: 'Revoke access key?', message, confirm: 'Revoke' }))) return;
    try {
      await api('delete', '/app-credentials/{accessKeyId}', { params: { accessKeyId: credential.accessKeyId } });
      navigate('#/app-credentials', `Access key ${credential.accessKeyId} revoked.`);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  return (
    <>
      <p class="intro">
        Access keys for applications that read the identity store through the AWS IdentityStore API (SigV4, service <Mono>identitystore</Mono>). The secret is shown once, when the key is issued.
      </p>
      <FormCard
        title="Issue an access key"
        submitLabel="Issue access key"
        submit={async (form) => {
          setIssued(null);
          const created = await api('post', '/app-credentials', { body: { name: valueOf(form, 'name') } });
          setIssued(created);
          form.reset();
          return `Access key ${created.accessKeyId} issued for ${created.name}.`;
        }}
        after={
          issued ? (
            <section class="card" aria-labelledby="issued-key">
              <h3 id="issued-key">New access key for {issued.name}</h3>
              <p>Copy the secret now: Portico keeps only what it needs to check signatures and never shows it again.</p>
              <Summary
                pairs={[
                  ['Access key ID', <Mono>{issued.accessKeyId}</Mono>],
                  ['Secret access key', <Mono>{issued.secretAccessKey}</Mono>],
                  ['Identity store ID', <Mono>{issued.identityStoreId}</Mono>],
                ]}
              />
            </section>
          ) : null
        }
      >
        <Field name="name" label="Name" hint="What the key is for, e.g. the application that uses it." />
      </FormCard>
      <Alert message={alert} />
      <div>
        {loaded.state === 'ready' ? (
          <Table
            caption={`Access keys (${loaded.data.credentials.length})`}
            empty="No access keys issued."
            rows={loaded.data.credentials}
            columns={[
              { label: 'Access key ID', cell: (c) => <Mono>{c.accessKeyId}</Mono> },
              { label: 'Name', cell: (c) => c.name },
              { label: 'State', cell: (c) => (c.revokedAt ? <Badge tone="bad">Revoked</Badge> : <Badge tone="ok">Active</Badge>) },
              { label: 'Created', cell: (c) => <Time iso={c.createdAt} /> },
              { label: 'Last used', cell: (c) => <Time iso={c.lastUsedAt} /> },
              {
                label: 'Actions',
                hideLabel: true,
                cell: (c) =>
                  c.revokedAt ? null : (
                    <button type="button" class="secondary small" onClick={() => void revoke(c)}>
                      Revoke<Hidden> {c.accessKeyId}</Hidden>
                    </button>
                  ),
              },
            ]}
          />
        ) : (
          <LoadState loaded={loaded} />
        )}
      </div>
    </>
  );
}
