/**
 * Permission sets provisioned into AWS accounts, against moto_server (the AWS API emulator) on
 * a random loopback port: an organization with member accounts, Portico's management identity,
 * accounts synced from Organizations, and the IAM state checked through the emulator's own API
 * (assuming into the member account) after permission sets and assignments are created,
 * changed and removed. A role Portico did not create is left alone; AWS's refusal is a 'failed'
 * status with AWS's message, and a re-provision fixes it once the cause is gone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetSAMLProviderCommand,
  ListAttachedRolePoliciesCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { createOrganization, MOTO_CREDENTIALS, REGION, startMoto, type Moto } from '../support/moto.ts';

const silent = new Writable({ write: (_chunk, _encoding, done) => done() });

interface Reply<T> {
  status: number;
  body: T;
  text: string;
}
type Status = { accountId: string; permissionSetId: string; status: string; message: string | null; errorCode: string | null; roleArn: string | null };

const INLINE = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: '*' }] });
const trust = (role: { AssumeRolePolicyDocument?: string | undefined } | undefined) => JSON.parse(decodeURIComponent(role?.AssumeRolePolicyDocument ?? '{}')) as { Statement: Array<{ Principal: { Federated?: string }; Action: string[]; Condition: Record<string, Record<string, string>> }> };
const attached = async (iam: IAMClient, role: string) => ((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role }))).AttachedPolicies ?? []).map((p) => p.PolicyArn).sort();
const missing = async (read: Promise<unknown>) => read.then(() => false, (error: { name?: string }) => error.name === 'NoSuchEntityException');

void describe('AWS provisioning against the emulator', () => {
  let moto: Moto;
  let app: PorticoApp;
  let token = '';
  let dataDir = '';
  let org: Awaited<ReturnType<typeof createOrganization>>;
  let dev: IAMClient;
  let prod: IAMClient;

  async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${app.url}/admin/api${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T, text };
  }
  const status = async (accountId: string, permissionSetId: string) =>
    (await api<{ provisioning: Status[] }>('GET', `/aws/provisioning?accountId=${accountId}&permissionSetId=${permissionSetId}`)).body.provisioning[0];
  /** The IAM operations Portico called since `since` (from its audit log). */
  async function callsSince(since: string): Promise<string[]> {
    const events = await api<{ events: Array<{ target: string; details: { operation: string } }> }>('GET', `/audit?action=aws.api.called&since=${encodeURIComponent(since)}&limit=500`);
    return events.body.events.map((e) => e.details.operation).reverse();
  }

  before(async () => {
    moto = await startMoto();
    org = await createOrganization(moto, [{ name: 'dev', ou: 'Workloads' }, { name: 'prod' }]);
    dev = await moto.iamOf(org.accounts.dev ?? '');
    prod = await moto.iamOf(org.accounts.prod ?? '');
    dataDir = mkdtempSync(join(tmpdir(), 'portico-aws-'));
    app = await startApp(
      loadConfig({ env: { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'silent', PORTICO_HTTP__PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0' } }),
      { logDestination: silent, showBootstrapToken: (t) => (token = t) },
    );
  });
  after(async () => {
    await app?.stop();
    await moto?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('takes hand-entered accounts while no management identity is configured', async () => {
    assert.deepEqual((await api('GET', '/aws/management')).body, { configured: false });
    const created = await api('POST', '/accounts', { id: '999988887777', name: 'Typed', email: 'typed@example.com' });
    assert.equal(created.status, 201, created.text);
    assert.equal((await api('DELETE', '/accounts/999988887777')).status, 204);
  });

  it('refuses a management identity AWS does not accept, with its reason', async () => {
    const refused = await api<{ error: { code: string; message: string } }>('PUT', '/aws/management', { accessKeyId: 'AKIAMOTOTESTKEY00001', secretAccessKey: 'x', endpoint: 'http://127.0.0.1:9', region: REGION });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.body.error.code, 'aws.management_invalid');
  });

  it('saves the management identity, checked with STS, never showing its secret', async () => {
    const saved = await api<Record<string, unknown>>('PUT', '/aws/management', { ...MOTO_CREDENTIALS, endpoint: moto.endpoint, region: REGION, syncIntervalMinutes: 0 });
    assert.equal(saved.status, 200, saved.text);
    assert.equal(saved.body.managementAccountId, org.managementAccountId);
    assert.equal(saved.body.memberRoleName, 'OrganizationAccountAccessRole');
    assert.equal(saved.body.rolePath, '/portico/');
    assert.equal(saved.body.credentials, 'access_key');
    const shown = (await api('GET', '/aws/management')).text + saved.text + (await api('GET', '/audit?limit=500')).text;
    assert.ok(!shown.includes(MOTO_CREDENTIALS.secretAccessKey), 'the secret access key is never shown or audited');
  });

  it('reads the accounts and their OUs from AWS Organizations, and refuses typed-in accounts from then on', async () => {
    const synced = await api<{ created: string[]; failed: unknown[] }>('POST', '/aws/organizations/sync');
    assert.equal(synced.status, 200, synced.text);
    assert.deepEqual([...synced.body.created].sort(), [org.managementAccountId, org.accounts.dev, org.accounts.prod].sort());
    assert.deepEqual(synced.body.failed, []);
    const devAccount = await api<{ account: { name: string; email: string; organizationalUnit?: string } }>('GET', `/accounts/${org.accounts.dev}`);
    assert.deepEqual([devAccount.body.account.name, devAccount.body.account.email, devAccount.body.account.organizationalUnit], ['dev', 'dev@example.com', 'Workloads']);
    const sources = await api<{ accounts: Array<{ accountId: string; source: string; ouPath: string | null; organizationStatus: string }> }>('GET', '/aws/accounts');
    assert.deepEqual(sources.body.accounts.find((a) => a.accountId === org.accounts.dev), { accountId: org.accounts.dev, source: 'organizations', organizationStatus: 'ACTIVE', ouId: org.ous.Workloads, ouPath: 'Workloads', syncedAt: sources.body.accounts.find((a) => a.accountId === org.accounts.dev)?.['syncedAt' as never], samlProviderArn: null });
    const again = await api<{ created: string[]; unchanged: string[] }>('POST', '/aws/organizations/sync');
    assert.deepEqual(again.body.created, []);
    assert.equal(again.body.unchanged.length, 3);
    const typed = await api<{ error: { code: string } }>('POST', '/accounts', { id: '999988887777', name: 'Typed', email: 'typed@example.com' });
    assert.equal(typed.status, 409);
    assert.equal(typed.body.error.code, 'access.accounts_from_organizations');
  });

  let readOnly = '';
  it('provisions a permission set into the account on its first assignment: SAML provider, role, trust policy, policies', async () => {
    await prod.send(new CreatePolicyCommand({ PolicyName: 'TeamReports', PolicyDocument: INLINE }));
    const ps = await api<{ id: string }>('POST', '/permission-sets', {
      name: 'ReadOnly',
      sessionDuration: 'PT2H',
      managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      customerManagedPolicies: [{ name: 'TeamReports' }],
      inlinePolicy: INLINE,
    });
    assert.equal(ps.status, 201, ps.text);
    readOnly = ps.body.id;
    const assigned = await api<{ provisioned: boolean; provisioning: { status: string; roleArn: string } }>('POST', '/assignments', { principal: { type: 'user', id: 'alice@portico.test' }, target: { type: 'account', accountId: org.accounts.prod, permissionSetId: readOnly } });
    assert.equal(assigned.status, 201, assigned.text);
    assert.equal(assigned.body.provisioned, true, assigned.text);
    assert.equal(assigned.body.provisioning.roleArn, `arn:aws:iam::${org.accounts.prod}:role/portico/ReadOnly`);

    const provider = await prod.send(new GetSAMLProviderCommand({ SAMLProviderArn: `arn:aws:iam::${org.accounts.prod}:saml-provider/Portico` }));
    const metadata = await (await fetch(`${app.url}/saml/metadata`)).text();
    assert.equal(provider.SAMLMetadataDocument?.trim(), metadata.trim(), "the provider carries Portico's IdP metadata");
    const role = (await prod.send(new GetRoleCommand({ RoleName: 'ReadOnly' }))).Role;
    assert.equal(role?.Path, '/portico/');
    assert.equal(role?.MaxSessionDuration, 7200);
    const statement = trust(role).Statement[0];
    assert.equal(statement?.Principal.Federated, `arn:aws:iam::${org.accounts.prod}:saml-provider/Portico`);
    assert.deepEqual(statement?.Action, ['sts:AssumeRoleWithSAML', 'sts:TagSession']);
    assert.deepEqual(statement?.Condition, { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } });
    assert.deepEqual(await attached(prod, 'ReadOnly'), [`arn:aws:iam::${org.accounts.prod}:policy/TeamReports`, 'arn:aws:iam::aws:policy/ReadOnlyAccess']);
    const inline = await prod.send(new GetRolePolicyCommand({ RoleName: 'ReadOnly', PolicyName: 'PorticoInlinePolicy' }));
    assert.deepEqual(JSON.parse(decodeURIComponent(inline.PolicyDocument ?? '')), JSON.parse(INLINE));
    assert.equal((await status(org.accounts.prod ?? '', readOnly))?.status, 'provisioned');
    // Nothing was written in the account it is not assigned in.
    assert.equal(await missing(dev.send(new GetRoleCommand({ RoleName: 'ReadOnly' }))), true);
  });

  it('writes nothing when a second assignment reaches a pair already provisioned', async () => {
    const since = new Date().toISOString();
    const assigned = await api<{ provisioned: boolean }>('POST', '/assignments', { principal: { type: 'user', id: 'bob@portico.test' }, target: { type: 'account', accountId: org.accounts.prod, permissionSetId: readOnly } });
    assert.equal(assigned.status, 201, assigned.text);
    assert.equal(assigned.body.provisioned, true);
    assert.deepEqual(await callsSince(since), [], 'no AWS call at all: the stored digest matches');
  });

  it('updates the role with only the calls the change needs: duration, policies, boundary', async () => {
    const since = new Date().toISOString();
    const updated = await api('PATCH', `/permission-sets/${readOnly}`, {
      sessionDuration: 'PT4H',
      managedPolicies: ['arn:aws:iam::aws:policy/job-function/ViewOnlyAccess'],
      permissionsBoundary: { managedPolicyArn: 'arn:aws:iam::aws:policy/PowerUserAccess' },
    });
    assert.equal(updated.status, 200, updated.text);
    const role = (await prod.send(new GetRoleCommand({ RoleName: 'ReadOnly' }))).Role;
    assert.equal(role?.MaxSessionDuration, 4 * 3600);
    assert.equal(role?.PermissionsBoundary?.PermissionsBoundaryArn, 'arn:aws:iam::aws:policy/PowerUserAccess');
    assert.deepEqual(await attached(prod, 'ReadOnly'), [`arn:aws:iam::${org.accounts.prod}:policy/TeamReports`, 'arn:aws:iam::aws:policy/job-function/ViewOnlyAccess']);
    const writes = (await callsSince(since)).filter((op) => !/^(Get|List)/.test(op) && op !== 'AssumeRole');
    assert.deepEqual(writes, ['UpdateRole', 'DetachRolePolicy', 'AttachRolePolicy', 'PutRolePermissionsBoundary']);
  });

  it('reports drift made in AWS, and a re-provision puts the role back', async () => {
    await prod.send(new AttachRolePolicyCommand({ RoleName: 'ReadOnly', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }));
    const checked = await api<{ provisioning: Status[] }>('POST', '/aws/provisioning/check', { accountId: org.accounts.prod });
    assert.equal(checked.status, 200, checked.text);
    const drifted = checked.body.provisioning.find((s) => s.permissionSetId === readOnly);
    assert.equal(drifted?.status, 'drifted');
    assert.match(drifted?.message ?? '', /extra policy is attached \(arn:aws:iam::aws:policy\/AdministratorAccess\)/);
    assert.ok((await attached(prod, 'ReadOnly')).includes('arn:aws:iam::aws:policy/AdministratorAccess'), 'a check writes nothing');
    const fixed = await api<{ provisioning: Status[] }>('POST', '/aws/provisioning/reprovision', { accountId: org.accounts.prod });
    assert.equal(fixed.body.provisioning.find((s) => s.permissionSetId === readOnly)?.status, 'provisioned');
    assert.ok(!(await attached(prod, 'ReadOnly')).includes('arn:aws:iam::aws:policy/AdministratorAccess'));
  });

  it("fails with AWS's message when IAM refuses, and a retry after the cause is fixed provisions", async () => {
    const ps = await api<{ id: string }>('POST', '/permission-sets', { name: 'Billing', customerManagedPolicies: [{ name: 'BillingReadOnly', path: '/finance/' }] });
    const assigned = await api<{ provisioned: boolean; provisioning: { status: string; message: string } }>('POST', '/assignments', { principal: { type: 'user', id: 'carol@portico.test' }, target: { type: 'account', accountId: org.accounts.dev, permissionSetId: ps.body.id } });
    assert.equal(assigned.status, 201, assigned.text);
    assert.equal(assigned.body.provisioned, false);
    assert.equal(assigned.body.provisioning.status, 'failed');
    const failed = await status(org.accounts.dev ?? '', ps.body.id);
    assert.equal(failed?.status, 'failed');
    assert.equal(failed?.errorCode, 'NoSuchEntity');
    assert.match(failed?.message ?? '', /policy\/finance\/BillingReadOnly does not exist or is not attachable/);
    await dev.send(new CreatePolicyCommand({ PolicyName: 'BillingReadOnly', Path: '/finance/', PolicyDocument: INLINE }));
    const retried = await api<{ provisioning: Status[] }>('POST', '/aws/provisioning/reprovision', { accountId: org.accounts.dev, permissionSetId: ps.body.id });
    assert.equal(retried.body.provisioning[0]?.status, 'provisioned', retried.text);
    assert.deepEqual(await attached(dev, 'Billing'), [`arn:aws:iam::${org.accounts.dev}:policy/finance/BillingReadOnly`]);
  });

  it('never touches a role it did not create, even one with the same name', async () => {
    const foreignTrust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${org.managementAccountId}:root` }, Action: 'sts:AssumeRole' }] });
    await dev.send(new CreateRoleCommand({ RoleName: 'Legacy', AssumeRolePolicyDocument: foreignTrust }));
    await dev.send(new AttachRolePolicyCommand({ RoleName: 'Legacy', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }));
    const ps = await api<{ id: string }>('POST', '/permission-sets', { name: 'Legacy', managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });
    const assigned = await api<{ id: string; assignment: { id: string }; provisioning: { status: string; message: string } }>('POST', '/assignments', { principal: { type: 'user', id: 'alice@portico.test' }, target: { type: 'account', accountId: org.accounts.dev, permissionSetId: ps.body.id } });
    assert.equal(assigned.body.provisioning.status, 'failed');
    assert.match(assigned.body.provisioning.message, /Portico did not create/);
    const role = (await dev.send(new GetRoleCommand({ RoleName: 'Legacy' }))).Role;
    assert.deepEqual(trust(role), JSON.parse(foreignTrust));
    assert.deepEqual(await attached(dev, 'Legacy'), ['arn:aws:iam::aws:policy/AdministratorAccess']);
    // Its assignment removed: the status goes, the foreign role stays exactly as it was.
    assert.equal((await api('DELETE', `/assignments/${assigned.body.assignment.id}`)).status, 204);
    assert.equal(await status(org.accounts.dev ?? '', ps.body.id), undefined);
    assert.deepEqual(await attached(dev, 'Legacy'), ['arn:aws:iam::aws:policy/AdministratorAccess']);
  });

  it('gives every SAML provider the new metadata when a signing key is staged', async () => {
    const staged = await api('POST', '/saml/certificates');
    assert.equal(staged.status, 201, staged.text);
    const metadata = (await (await fetch(`${app.url}/saml/metadata`)).text()).trim();
    for (const [iam, id] of [[prod, org.accounts.prod], [dev, org.accounts.dev]] as const) {
      const provider = await iam.send(new GetSAMLProviderCommand({ SAMLProviderArn: `arn:aws:iam::${id}:saml-provider/Portico` }));
      assert.equal(provider.SAMLMetadataDocument?.trim(), metadata, `the provider in ${id} has both certificates`);
    }
  });

  it('deletes the role when the last assignment goes, then the SAML provider it created; the foreign role stays', async () => {
    const assignments = await api<{ assignments: Array<{ id: string; target: { accountId?: string } }> }>('GET', `/assignments?accountId=${org.accounts.prod}`);
    assert.equal(assignments.body.assignments.length, 2);
    assert.equal((await api('DELETE', `/assignments/${assignments.body.assignments[0]?.id}`)).status, 204);
    assert.equal((await prod.send(new GetRoleCommand({ RoleName: 'ReadOnly' }))).Role?.RoleName, 'ReadOnly', 'still assigned to one user: kept');
    assert.equal((await api('DELETE', `/assignments/${assignments.body.assignments[1]?.id}`)).status, 204);
    assert.equal(await missing(prod.send(new GetRoleCommand({ RoleName: 'ReadOnly' }))), true, 'the role is gone');
    assert.equal(await missing(prod.send(new GetSAMLProviderCommand({ SAMLProviderArn: `arn:aws:iam::${org.accounts.prod}:saml-provider/Portico` }))), true, 'the provider is gone');
    assert.equal(await status(org.accounts.prod ?? '', readOnly), undefined);
    // dev still has Billing: its provider stays; the foreign role too.
    assert.equal((await dev.send(new GetRoleCommand({ RoleName: 'Legacy' }))).Role?.Path, '/');
    const events = await api<{ events: Array<{ action: string; target: string }> }>('GET', '/audit?action=aws.role.deleted');
    assert.ok(events.body.events.some((e) => e.target === `arn:aws:iam::${org.accounts.prod}:role/portico/ReadOnly`));
  });
});
