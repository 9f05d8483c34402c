/**
 * moto_server (the AWS API emulator, Python package `moto`) on a random loopback port, as STS,
 * IAM and Organizations, with AWS's managed policies loaded so they can be attached. Plus the
 * emulator's own API through the SDK: an organization with member accounts, and IAM inside a
 * member account through its OrganizationAccountAccessRole, to check what Portico wrote.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateAccountCommand, CreateOrganizationCommand, CreateOrganizationalUnitCommand, ListRootsCommand, MoveAccountCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { freePort } from '../../bench/portico-process.ts';
import { refuseInUnitTier } from './tier.ts';

export const MOTO_CREDENTIALS = { accessKeyId: 'AKIAMOTOTESTKEY00001', secretAccessKey: 'moto-test-secret-not-real' };
export const REGION = 'us-east-1';

export interface Moto {
  endpoint: string;
  /** IAM of a member account, through its OrganizationAccountAccessRole (as an administrator would look). */
  iamOf(accountId: string): Promise<IAMClient>;
  organizations: OrganizationsClient;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<Moto> {
  refuseInUnitTier('moto_server (the AWS API emulator)');
  let child: ChildProcess | null = null;
  let endpoint = '';
  let output = '';
  // A port picked free can be taken before moto binds it: try a few.
  for (let attempt = 0; attempt < 5 && endpoint === ''; attempt += 1) {
    const port = await freePort();
    const started = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<null>((resolve) => started.once('exit', () => resolve(null)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const up = await Promise.race([fetch(`http://127.0.0.1:${port}/moto-api/`).then((r) => r.ok, () => false), exited]);
      if (up === null) break;
      if (up) {
        endpoint = `http://127.0.0.1:${port}`;
        child = started;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (endpoint === '') started.kill('SIGKILL');
  }
  if (child === null) throw new Error(`moto_server did not start (is the Python package moto installed? python3 -c 'import moto.server'):\n${output.slice(-2000)}`);
  const running = child;
  // A copy: the SDK marks the credentials object it is given ($source).
  const config = { endpoint, region: REGION, credentials: { ...MOTO_CREDENTIALS } };
  const sts = new STSClient(config);
  return {
    endpoint,
    organizations: new OrganizationsClient(config),
    async iamOf(accountId) {
      const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${accountId}:role/OrganizationAccountAccessRole`, RoleSessionName: 'test-inspector' }));
      const c = assumed.Credentials;
      return new IAMClient({ endpoint, region: REGION, credentials: { accessKeyId: c?.AccessKeyId ?? '', secretAccessKey: c?.SecretAccessKey ?? '', sessionToken: c?.SessionToken ?? '' } });
    },
    async stop() {
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (running.exitCode === null) running.kill('SIGKILL');
    },
  };
}

/** An organization with member accounts; `ou` puts an account into a new OU under the root. */
export async function createOrganization(moto: Moto, members: Array<{ name: string; ou?: string }>): Promise<{ managementAccountId: string; accounts: Record<string, string>; ous: Record<string, string> }> {
  const org = await moto.organizations.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }));
  const rootId = (await moto.organizations.send(new ListRootsCommand({}))).Roots?.[0]?.Id ?? '';
  const accounts: Record<string, string> = {};
  const ous: Record<string, string> = {};
  for (const member of members) {
    const created = await moto.organizations.send(new CreateAccountCommand({ AccountName: member.name, Email: `${member.name}@example.com` }));
    const id = created.CreateAccountStatus?.AccountId ?? '';
    accounts[member.name] = id;
    if (member.ou !== undefined) {
      ous[member.ou] ??= (await moto.organizations.send(new CreateOrganizationalUnitCommand({ ParentId: rootId, Name: member.ou }))).OrganizationalUnit?.Id ?? '';
      await moto.organizations.send(new MoveAccountCommand({ AccountId: id, SourceParentId: rootId, DestinationParentId: ous[member.ou] }));
    }
  }
  return { managementAccountId: org.Organization?.MasterAccountId ?? '', accounts, ous };
}
