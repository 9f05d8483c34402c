/**
 * `portico accounts|permission-sets|assignments|access …` as an administrator runs them: child
 * processes calling the admin API of a Portico started for real on its embedded managed directory
 * (the demo forest: alice is in SRE, inside Platform, inside Engineering), with the bootstrap
 * token of its first start.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { runPortico, type CliRun } from '../support/cli.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-access-cli-'));
const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
const ACCOUNT = '111122223333';
const UNAVAILABLE = 5;

let app: PorticoApp;
let token = '';

before(async () => {
  const env = {
    PORTICO_DATA_DIR: dataDir,
    PORTICO_LOG__LEVEL: 'silent',
    PORTICO_HTTP__PORT: '0',
    PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0',
    PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0',
  };
  app = await startApp(loadConfig({ env }), { logDestination: silent, showBootstrapToken: (shown) => (token = shown) });
  assert.match(token, /^pbt_[\w-]{43}$/, 'the first start shows a bootstrap token');
});

after(async () => {
  await app.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The CLI as a script runs it: the URL and the token from the environment. */
const portico = (args: string[], env: Record<string, string> = { PORTICO_URL: app.url, PORTICO_ADMIN_TOKEN: token }): Promise<CliRun> => runPortico(args, env);
const parsed = <T>(run: CliRun): T => {
  assert.equal(run.status, 0, `exit ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
};
/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('portico access commands through the admin API (CLI)', () => {
  let permissionSetId = '';

  it('creates a permission set and an account', async () => {
    const policy = join(dataDir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }));
    const set = parsed<{ id: string; name: string; sessionDuration: string; managedPolicies: string[]; customerManagedPolicies: Array<{ name: string; path: string }> }>(
      await portico([
        'permission-sets', 'create', 'ReadOnly', '--json',
        '--description', 'read everything',
        '--session-duration', 'PT4H',
        '--managed-policy', 'arn:aws:iam::aws:policy/ReadOnlyAccess',
        '--customer-managed-policy', 'Audit:/team/',
        '--inline-policy-file', policy,
      ]),
    );
    assert.match(set.id, /^ps-/);
    permissionSetId = set.id;
    assert.deepEqual([set.name, set.sessionDuration, set.managedPolicies], ['ReadOnly', 'PT4H', ['arn:aws:iam::aws:policy/ReadOnlyAccess']]);
    assert.deepEqual(set.customerManagedPolicies, [{ name: 'Audit', path: '/team/' }]);

    const created = await portico(['accounts', 'create', '--id', ACCOUNT, '--name', 'Production', '--email', 'aws-prod@portico.test', '--ou', 'Workloads', '--tag', 'env=prod']);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /Created account Production \(111122223333\)/);

    const listed = await portico(['accounts', 'list']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /^ID\s+NAME\s+EMAIL/m);
    assert.match(listed.stdout, /111122223333\s+Production\s+aws-prod@portico\.test\s+Workloads\s+env=prod/);
    const shown = await portico(['permission-sets', 'show', 'ReadOnly']);
    assert.match(shown.stdout, /session duration\s+PT4H/);
  });

  it('assigns a nested demo-forest group; without an AWS management identity nothing is claimed provisioned', async () => {
    const created = parsed<{ assignment: { id: string; principal: { type: string; name: string } }; provisioned: boolean; provisioning: unknown }>(
      await portico(['assignments', 'create', '--group', 'Engineering@portico.test', '--account', ACCOUNT, '--permission-set', 'ReadOnly', '--json']),
    );
    assert.deepEqual(created.assignment.principal.type, 'group');
    assert.equal(created.assignment.principal.name, 'Engineering@portico.test');
    // The IAM role is made only with a management identity (test/aws/): none here.
    assert.equal(created.provisioned, false);
    assert.equal(created.provisioning, null);

    const shown = await portico(['accounts', 'show', 'Production']);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /permission sets assigned in this account:\n[^\n]*\nReadOnly\s+ps-/);

    const byPrincipal = parsed<{ assignments: Array<{ id: string }> }>(await portico(['assignments', 'list', '--principal', 'Engineering@portico.test', '--json']));
    assert.deepEqual(byPrincipal.assignments.map((a) => a.id), [created.assignment.id]);
    const table = await portico(['assignments', 'list', '--account', 'Production']);
    assert.match(table.stdout, /group Engineering@portico\.test\s+account Production \(111122223333\)\s+ReadOnly/);
  });

  it('explains what a nested member reaches, with the group path', async () => {
    const explained = await portico(['access', 'explain', 'alice@portico.test']);
    assert.equal(explained.status, 0, explained.stderr);
    assert.match(explained.stdout, /^alice@portico\.test \(Alice Anderson\)/);
    assert.match(explained.stdout, /Production \(111122223333\) → ReadOnly: via group Engineering@portico\.test ← Platform@portico\.test ← SRE@portico\.test\n/);

    const json = parsed<{ entitlements: { accounts: Array<{ account: { id: string }; permissionSets: Array<{ permissionSet: { id: string }; grants: Array<{ type: string; path: string[] }> }> }> } }>(
      await portico(['access', 'explain', 'alice@portico.test', '--json']),
    );
    const [account] = json.entitlements.accounts;
    assert.equal(account?.account.id, ACCOUNT);
    assert.equal(account?.permissionSets[0]?.permissionSet.id, permissionSetId);
    assert.deepEqual(account?.permissionSets[0]?.grants[0]?.path, ['SRE@portico.test', 'Platform@portico.test', 'Engineering@portico.test']);

    const bob = await portico(['access', 'explain', 'bob@portico.test']);
    assert.match(bob.stdout, /accounts:\n {2}none\n/);
  });

  it('says who can reach the account, and through which group', async () => {
    const who = await portico(['access', 'who', ACCOUNT]);
    assert.equal(who.status, 0, who.stderr);
    assert.match(who.stdout, /^USER\s+NAME\s+PERMISSION SET\s+HOW/);
    assert.match(who.stdout, /alice@portico\.test\s+Alice Anderson\s+ReadOnly\s+via group Engineering@portico\.test ← Platform@portico\.test ← SRE@portico\.test/);
    assert.match(who.stdout, /carol@portico\.test\s+Carol Chen\s+ReadOnly\s+via group Engineering@portico\.test ← Platform@portico\.test\n/);
    assert.match(who.stdout, /erin@portico\.test\s+Erin Locked\s+ReadOnly\s+via group Engineering@portico\.test\n/);
    assert.doesNotMatch(who.stdout, /bob@/);
    const json = parsed<{ users: Array<{ userName: string }>; truncated: boolean }>(await portico(['access', 'who', 'Production', '--json']));
    assert.deepEqual(json.users.map((u) => u.userName), ['alice@portico.test', 'carol@portico.test', 'erin@portico.test']);
    assert.equal(json.truncated, false);
  });

  it('refuses a duplicate assignment with the conflict exit code, and writes nothing', async () => {
    const again = await portico(['assignments', 'create', '--group', 'Engineering@portico.test', '--account', ACCOUNT, '--permission-set', permissionSetId]);
    assert.equal(again.status, 6, again.stdout + again.stderr);
    assert.match(again.stderr, /Engineering@portico\.test is already assigned to this account \[access\.conflict\]/);
    const json = await portico(['assignments', 'create', '--group', 'Engineering@portico.test', '--account', ACCOUNT, '--permission-set', 'ReadOnly', '--json']);
    assert.equal(json.status, 6);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'access.conflict');
    assert.equal(parsed<{ assignments: unknown[] }>(await portico(['assignments', 'list', '--json'])).assignments.length, 1);
    const inUse = await portico(['permission-sets', 'delete', 'ReadOnly']);
    assert.equal(inUse.status, 6, inUse.stderr);
  });

  it('refuses a bad account id with the invalid-input exit code, naming the field', async () => {
    const bad = await portico(['accounts', 'create', '--id', '12345', '--name', 'Short', '--email', 'short@portico.test']);
    assert.equal(bad.status, 2, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /id: an AWS account id is exactly 12 digits/);
    const json = await portico(['accounts', 'create', '--id', '12345678901x', '--name', 'Short', '--email', 'short@portico.test', '--json']);
    assert.equal(json.status, 2);
    assert.match((JSON.parse(json.stdout) as { error: { message: string } }).error.message, /^id: /);
    const combination = await portico(['assignments', 'create', '--user', 'alice@portico.test', '--account', ACCOUNT]);
    assert.equal(combination.status, 2);
    assert.match(combination.stderr, /--permission-set/);
  });

  it('says what is not found with exit code 4', async () => {
    const missing = await portico(['accounts', 'show', '999999999999']);
    assert.equal(missing.status, 4, missing.stderr);
    assert.match(missing.stderr, /no account "999999999999" \[access\.not_found\]/);
    assert.equal((await portico(['access', 'explain', 'nobody@portico.test'])).status, 4);
  });

  it('refuses without a valid token (exit code 3), and never prints the token', async () => {
    const none = await portico(['accounts', 'list'], { PORTICO_URL: app.url });
    assert.equal(none.status, 3, none.stderr);
    assert.match(none.stderr, /PORTICO_ADMIN_TOKEN/);
    const wrong = await portico(['accounts', 'list', '--json'], { PORTICO_URL: app.url, PORTICO_ADMIN_TOKEN: 'pbt_not-the-token' });
    assert.equal(wrong.status, 3, wrong.stderr);
    assert.equal((JSON.parse(wrong.stdout) as { error: { code: string } }).error.code, 'admin.unauthenticated');
    assert.ok(!wrong.stdout.includes('not-the-token') && !wrong.stderr.includes('not-the-token'));

    const file = join(dataDir, 'token');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const fromFile = await portico(['accounts', 'list', '--token-file', file, '--url', app.url]);
    assert.equal(fromFile.status, 0, fromFile.stderr);
    assert.ok(!fromFile.stdout.includes(token) && !fromFile.stderr.includes(token));
  });

  it('removes the assignment, then the account and permission set', async () => {
    const [assignment] = parsed<{ assignments: Array<{ id: string }> }>(await portico(['assignments', 'list', '--json'])).assignments;
    assert.ok(assignment);
    assert.equal((await portico(['assignments', 'delete', assignment.id])).status, 0);
    assert.match((await portico(['access', 'who', ACCOUNT])).stdout, /^nobody/);
    const updated = parsed<{ name: string; email: string }>(await portico(['accounts', 'update', ACCOUNT, '--name', 'Prod', '--json']));
    assert.deepEqual([updated.name, updated.email], ['Prod', 'aws-prod@portico.test']);
    assert.equal((await portico(['accounts', 'delete', ACCOUNT])).status, 0);
    assert.equal((await portico(['permission-sets', 'delete', permissionSetId])).status, 0);
    assert.deepEqual(parsed<{ accounts: unknown[] }>(await portico(['accounts', 'list', '--json'])).accounts, []);
  });
});

describe('portico access commands without a running Portico', () => {
  it('fails with the unavailable exit code and says where it looked', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const run = await runPortico(['permission-sets', 'list'], { PORTICO_URL: url, PORTICO_ADMIN_TOKEN: 'pbt_anything' });
    assert.equal(run.status, UNAVAILABLE, run.stderr);
    assert.match(run.stderr, new RegExp(`cannot reach Portico at ${url} \\(ECONNREFUSED\\): is Portico running at ${url}\\?`));
    assert.ok(!run.stderr.includes('pbt_anything'));

    // Without PORTICO_URL, the configuration's http.host and http.port.
    const fromConfig = await runPortico(['accounts', 'list', '--json'], { PORTICO_DATA_DIR: dataDir, PORTICO_HTTP__PORT: String(port), PORTICO_ADMIN_TOKEN: 'pbt_anything' });
    assert.equal(fromConfig.status, UNAVAILABLE, fromConfig.stderr);
    assert.match((JSON.parse(fromConfig.stdout) as { error: { message: string } }).error.message, new RegExp(`is Portico running at ${url}\\?`));
  });
});
