/**
 * AWS: the management identity Portico provisions with, the status of each permission set in
 * each account (provisioned into IAM, failed with AWS's message, drifted), re-provision and
 * drift check, and the accounts sync from AWS Organizations. Setting the identity (with its
 * secret) is done with the CLI or the API, so that no secret is typed into a browser form.
 */
import { useState } from 'preact/hooks';
import { api, errorText } from '../api.ts';
import { Alert, Badge, Hidden, LoadState, Mono, navigate, Summary, Table, Time, useLoad } from '../ui.tsx';

const HERE = '#/aws';
const STATUS = {
  provisioned: { label: 'Provisioned', tone: 'ok' },
  failed: { label: 'Failed', tone: 'bad' },
  drifted: { label: 'Drifted', tone: 'bad' },
} as const;

export function AwsPage() {
  const [loaded] = useLoad(async () => {
    const [management, provisioning, accounts, permissionSets, sources] = await Promise.all([
      api('get', '/aws/management'),
      api('get', '/aws/provisioning'),
      api('get', '/accounts'),
      api('get', '/permission-sets'),
      api('get', '/aws/accounts'),
    ]);
    return { management, provisioning: provisioning.provisioning, accounts: accounts.accounts, permissionSets: permissionSets.permissionSets, sources: sources.accounts };
  });
  const [alert, setAlert] = useState('');
  const [busy, setBusy] = useState(false);

  async function run(work: () => Promise<string>) {
    setAlert('');
    setBusy(true);
    try {
      navigate(HERE, await work());
    } catch (error) {
      setAlert(errorText(error));
    } finally {
      setBusy(false);
    }
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const sync = () =>
    run(async () => {
      const result = await api('post', '/aws/organizations/sync');
      return `Read AWS Organizations: ${plural(result.created.length, 'account')} added, ${result.updated.length} updated, ${result.removed.length} left the organization${result.failed.length ? `, ${result.failed.length} failed` : ''} (${plural(result.calls, 'AWS call')}).`;
    });
  const check = () =>
    run(async () => {
      const result = await api('post', '/aws/provisioning/check', { body: {} });
      const drifted = result.provisioning.filter((p) => p.status === 'drifted').length;
      return `Checked ${plural(result.provisioning.length, 'role')} in IAM: ${drifted} drifted (${plural(result.calls, 'AWS call')}).`;
    });
  const reprovision = (filter: { accountId?: string; permissionSetId?: string }, what: string) =>
    run(async () => {
      const result = await api('post', '/aws/provisioning/reprovision', { body: filter });
      const failed = result.provisioning.filter((p) => p.status !== 'provisioned').length;
      return `Re-provisioned ${what}: ${result.provisioning.length - failed} provisioned into the account, ${failed} failed, ${result.removed.length} removed (${plural(result.calls, 'AWS call')}).`;
    });

  if (loaded.state !== 'ready') return <LoadState loaded={loaded} />;
  const { management, provisioning, accounts, permissionSets, sources } = loaded.data;
  const accountName = new Map(accounts.map((a) => [a.id, a.name]));
  const setName = new Map(permissionSets.map((p) => [p.id, p.name]));
  const source = new Map(sources.map((s) => [s.accountId, s]));

  return (
    <>
      <p class="intro">
        With a management identity, Portico creates in each account one IAM SAML provider and, per assigned permission set, one IAM role under its reserved path; it reads the accounts from AWS Organizations. Set the identity with <Mono>portico aws management set</Mono>.
      </p>
      <Alert message={alert} />
      <section aria-labelledby="aws-management">
        <h2 id="aws-management">Management identity</h2>
        {management.configured ? (
          <Summary
            pairs={[
              ['Management account', <Mono>{management.managementAccountId}</Mono>],
              ['Credentials', management.credentials === 'access_key' ? <>Access key <Mono>{management.accessKeyId}</Mono></> : management.credentials === 'profile' ? `Profile ${management.profile ?? ''}` : 'Default chain (environment, instance or task role)'],
              ['Role assumed first', management.roleArn ? <Mono>{management.roleArn}</Mono> : null],
              ['Member-account role', <Mono>{management.memberRoleName}</Mono>],
              ['Reserved role path', <Mono>{management.rolePath}</Mono>],
              ['Endpoint', management.endpoint ? <Mono>{management.endpoint}</Mono> : 'AWS'],
              ['Sync every', management.syncIntervalMinutes ? `${management.syncIntervalMinutes} min` : 'on demand only'],
              ['Updated', <Time iso={management.updatedAt} />],
            ]}
          />
        ) : (
          <p>No management identity: permission sets are not provisioned into AWS (make the roles by hand, see the AWS setup guide) and accounts are typed in.</p>
        )}
        {management.configured ? (
          <p class="actions">
            <button type="button" disabled={busy} onClick={() => void sync()}>Sync accounts from AWS Organizations</button>{' '}
            <button type="button" class="secondary" disabled={busy} onClick={() => void check()}>Check for drift</button>{' '}
            <button type="button" class="secondary" disabled={busy} onClick={() => void reprovision({}, 'every permission set')}>Re-provision all</button>
          </p>
        ) : null}
      </section>
      <Table
        caption={`Permission sets in accounts (${provisioning.length})`}
        empty={management.configured ? 'Nothing provisioned yet: assign a permission set in an account.' : 'Nothing provisioned: no management identity.'}
        rows={provisioning}
        columns={[
          { label: 'Account', cell: (p) => `${accountName.get(p.accountId) ?? ''} (${p.accountId})` },
          { label: 'OU', cell: (p) => source.get(p.accountId)?.ouPath ?? '—' },
          { label: 'Permission set', cell: (p) => setName.get(p.permissionSetId) ?? p.permissionSetId },
          { label: 'Status', cell: (p) => <Badge tone={STATUS[p.status].tone}>{STATUS[p.status].label}</Badge> },
          { label: 'Role / message', cell: (p) => (p.status === 'provisioned' ? <Mono>{p.roleArn}</Mono> : <span>{p.message}</span>) },
          { label: 'Updated', cell: (p) => <Time iso={p.updatedAt} /> },
          {
            label: 'Actions',
            hideLabel: true,
            cell: (p) => (
              <button type="button" class="secondary small" disabled={busy} onClick={() => void reprovision({ accountId: p.accountId, permissionSetId: p.permissionSetId }, `${setName.get(p.permissionSetId) ?? p.permissionSetId} in ${p.accountId}`)}>
                Re-provision<Hidden> {setName.get(p.permissionSetId)} in {p.accountId}</Hidden>
              </button>
            ),
          },
        ]}
      />
    </>
  );
}
