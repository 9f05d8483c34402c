/**
 * `portico aws …` as an administrator runs it, against a Portico whose management identity is
 * moto_server's: the secret goes in through a file and never comes out, accounts come from
 * Organizations, and the provisioning status, re-provision and drift check read as they should.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AttachRolePolicyCommand } from '@aws-sdk/client-iam';
import { runPortico, startPorticoForCli, type CliPortico } from '../support/cli.ts';
import { createOrganization, MOTO_CREDENTIALS, REGION, startMoto, type Moto } from '../support/moto.ts';

void describe('portico aws (CLI) against the emulator', () => {
  let moto: Moto;
  let portico: CliPortico;
  let dataDir = '';
  let accountId = '';
  const run = (...args: string[]) => runPortico(args, portico.env);

  before(async () => {
    moto = await startMoto();
    accountId = (await createOrganization(moto, [{ name: 'sandbox', ou: 'Sandbox' }])).accounts.sandbox ?? '';
    dataDir = mkdtempSync(join(tmpdir(), 'portico-aws-cli-'));
    portico = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir });
  });
  after(async () => {
    await portico?.stop();
    await moto?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('sets the management identity from a secret file, and never prints the secret', async () => {
    const missing = await run('aws', 'management', 'set', '--access-key-id', MOTO_CREDENTIALS.accessKeyId, '--endpoint', moto.endpoint);
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /--secret-access-key-file/);
    const secretFile = join(dataDir, 'aws-secret');
    writeFileSync(secretFile, `${MOTO_CREDENTIALS.secretAccessKey}\n`, { mode: 0o600 });
    const set = await run('aws', 'management', 'set', '--access-key-id', MOTO_CREDENTIALS.accessKeyId, '--secret-access-key-file', secretFile, '--endpoint', moto.endpoint, '--region', REGION, '--sync-interval', '0');
    assert.equal(set.status, 0, set.stderr);
    assert.match(set.stdout, /Management identity saved: account \d{12}/);
    const shown = await run('aws', 'management', 'show');
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /member-account role\s+OrganizationAccountAccessRole/);
    assert.match(shown.stdout, /reserved role path\s+\/portico\//);
    assert.ok(!`${set.stdout}${shown.stdout}`.includes(MOTO_CREDENTIALS.secretAccessKey));
  });

  it('syncs accounts from Organizations and lists their OU', async () => {
    const synced = await run('aws', 'accounts', 'sync');
    assert.equal(synced.status, 0, synced.stderr);
    assert.match(synced.stdout, /^added 2, updated 0, unchanged 0, left the organization 0/);
    const listed = await run('aws', 'accounts', 'list');
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${accountId}\\s+organizations\\s+ACTIVE\\s+Sandbox`));
  });

  it('shows a provisioned pair, its drift, and a re-provision that fixes it', async () => {
    const api = (method: string, path: string, body: unknown) =>
      fetch(`${portico.app.url}/admin/api${path}`, { method, headers: { authorization: `Bearer ${portico.env.PORTICO_ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<Record<string, unknown>>);
    const ps = (await api('POST', '/permission-sets', { name: 'Sandbox', managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] })) as { id: string };
    const assigned = await run('assignments', 'create', '--user', 'alice@portico.test', '--account', accountId, '--permission-set', 'Sandbox');
    assert.equal(assigned.status, 0, assigned.stderr);
    assert.match(assigned.stdout, new RegExp(`The permission set was provisioned into the account \\(arn:aws:iam::${accountId}:role/portico/Sandbox\\)`));

    await (await moto.iamOf(accountId)).send(new AttachRolePolicyCommand({ RoleName: 'Sandbox', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }));
    const checked = await run('aws', 'provisioning', 'check', '--account', accountId);
    assert.equal(checked.status, 1, 'a drift makes the check fail');
    assert.match(checked.stdout, /drifted\s+an extra policy is attached \(arn:aws:iam::aws:policy\/AdministratorAccess\)/);
    const fixed = await run('aws', 'provisioning', 'reprovision', '--account', accountId, '--permission-set', ps.id);
    assert.equal(fixed.status, 0, fixed.stdout + fixed.stderr);
    assert.match(fixed.stdout, /Sandbox\s+provisioned/);
    const listed = await run('aws', 'provisioning', 'list');
    assert.match(listed.stdout, new RegExp(`${accountId}\\s+Sandbox\\s+provisioned\\s+arn:aws:iam::${accountId}:role/portico/Sandbox`));
  });
});
