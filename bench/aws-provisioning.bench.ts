/**
 * The cost of provisioning permission sets into AWS accounts, against moto_server (started here
 * on a random loopback port, AWS managed policies loaded): an organization with `--accounts`
 * member accounts, `--sets` permission sets (one AWS managed policy and an inline policy each),
 * every set assigned in every account. The provisioner is Portico's own (src/aws/provisioner.ts)
 * over a fresh migrated SQLite database (status store and audit log, every AWS call audited as in
 * production); the catalog is given directly (no directory needed). Runs, in order:
 *
 *   create          first provisioning: SAML provider per account, every role written
 *   unchanged       the same again with 'if_changed' (what an assignment or a periodic run does):
 *                   pairs whose digest matches skip AWS entirely
 *   verify          'apply' with nothing changed: every role read and compared, nothing written
 *   check           drift check (reads only)
 *   one set changed one permission set gets a second managed policy, then 'if_changed'
 *   remove          every pair removed (roles, then providers)
 *
 * Per run: wall time, AWS calls made (reads/writes), and the calls avoided against a full
 * verify (reads of every role). Prints its figures; asserts only that the outcomes are right.
 *
 * Run: node --import tsx bench/aws-provisioning.bench.ts [--sets 100] [--accounts 20] [--concurrency 8]
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { permissionSetInput, type Account, type PermissionSet } from '#src/access/model.ts';
import type { AwsCall } from '#src/aws/clients.ts';
import { loadManagementSettings } from '#src/aws/management.ts';
import { createProvisioner } from '#src/aws/provisioner.ts';
import { createSecretBox } from '#src/secrets/index.ts';
import { createDatabase, createKyselyAuditLog, createKyselyAwsStore, createKyselySettingsStore, migrateToLatest } from '#src/storage/index.ts';
import { createOrganization, MOTO_CREDENTIALS, REGION, startMoto } from '../test/support/moto.ts';

const { values } = parseArgs({ options: { sets: { type: 'string', default: '100' }, accounts: { type: 'string', default: '20' }, concurrency: { type: 'string', default: '8' } } });
const SETS = Number(values.sets);
const ACCOUNTS = Number(values.accounts);
const CONCURRENCY = Number(values.concurrency);
const POLICIES = ['ReadOnlyAccess', 'job-function/ViewOnlyAccess', 'AmazonS3ReadOnlyAccess', 'AmazonEC2ReadOnlyAccess', 'IAMReadOnlyAccess'];

const moto = await startMoto();
const dataDir = mkdtempSync(join(tmpdir(), 'portico-aws-bench-'));
const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
try {
  await migrateToLatest(db);
  const org = await createOrganization(moto, Array.from({ length: ACCOUNTS }, (_, i) => ({ name: `member-${String(i).padStart(2, '0')}` })));
  const accounts: Account[] = Object.entries(org.accounts).map(([name, id]) => ({ id, name, email: `${name}@example.com`, tags: {} }));
  const permissionSets = new Map<string, PermissionSet>();
  for (let i = 0; i < SETS; i += 1) {
    const id = `ps-${String(i).padStart(4, '0')}`;
    permissionSets.set(id, {
      ...permissionSetInput.parse({
        name: `Set${String(i).padStart(4, '0')}`,
        sessionDuration: `PT${1 + (i % 12)}H`,
        managedPolicies: [`arn:aws:iam::aws:policy/${POLICIES[i % POLICIES.length]}`],
        inlinePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: `arn:aws:s3:::bucket-${i}/*` }] }),
      }),
      id,
    });
  }
  let pairs = accounts.flatMap((a) => [...permissionSets.keys()].map((permissionSetId) => ({ accountId: a.id, permissionSetId })));

  const settings = createKyselySettingsStore(db);
  const management = await loadManagementSettings(settings, createSecretBox(randomBytes(32)));
  await management.save({ ...MOTO_CREDENTIALS, endpoint: moto.endpoint, region: REGION, memberRoleName: 'OrganizationAccountAccessRole', rolePath: '/portico/', syncIntervalMinutes: 0 }, org.managementAccountId, new Date());
  const calls: AwsCall[] = [];
  const provisioner = createProvisioner({
    store: createKyselyAwsStore(db),
    management,
    audit: createKyselyAuditLog(db),
    concurrency: CONCURRENCY,
    onCall: (call) => calls.push(call),
    federation: {
      samlProviderName: 'Portico',
      roleName: (_account, ps) => ps.name,
      audience: () => 'https://signin.aws.amazon.com/saml',
      // Long enough for IAM (≥ 1,000 characters), as Portico's real metadata is.
      metadata: () => `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://portico.example/saml/metadata"><!-- ${'x'.repeat(1200)} --></md:EntityDescriptor>`,
    },
    catalog: {
      account: (id) => Promise.resolve(accounts.find((a) => a.id === id)),
      permissionSet: (id) => Promise.resolve(permissionSets.get(id)),
      assignedPairs: (filter) => Promise.resolve(pairs.filter((p) => (filter.accountId === undefined || p.accountId === filter.accountId) && (filter.permissionSetId === undefined || p.permissionSetId === filter.permissionSetId))),
    },
  });

  const total = SETS * ACCOUNTS;
  const isRead = (op: string) => /^(Get|List|Describe)/.test(op);
  const rows: Array<Record<string, string>> = [];
  let fullVerifyCalls = 0;
  async function measure(label: string, work: () => Promise<{ results: Array<{ status: string }>; removed: unknown[] }>, expect: (r: { results: Array<{ status: string }>; removed: unknown[] }) => void) {
    calls.length = 0;
    const started = performance.now();
    const result = await work();
    const seconds = (performance.now() - started) / 1000;
    expect(result);
    const assumes = calls.filter((c) => c.operation === 'AssumeRole').length;
    const reads = calls.filter((c) => isRead(c.operation)).length;
    const writes = calls.length - reads - assumes;
    const failures = calls.filter((c) => c.outcome === 'failure' && !(c.errorCode === 'NoSuchEntity' && isRead(c.operation))).length;
    if (label === 'verify') fullVerifyCalls = calls.length;
    rows.push({ run: label, seconds: seconds.toFixed(1), 'AWS calls': String(calls.length), reads: String(reads), writes: String(writes), 'sts:AssumeRole': String(assumes), 'unexpected failures': String(failures), 'per role (ms)': ((seconds * 1000) / total).toFixed(1) });
    process.stdout.write(`${label}: ${seconds.toFixed(1)} s, ${calls.length} calls (${reads} reads, ${writes} writes, ${assumes} AssumeRole)\n`);
  }

  const allProvisioned = (r: { results: Array<{ status: string }> }) => {
    assert.equal(r.results.length, total);
    assert.equal(r.results.filter((x) => x.status === 'provisioned').length, total, JSON.stringify(r.results.find((x) => x.status !== 'provisioned')));
  };
  await measure('create', () => provisioner.reconcile('bench', {}, 'apply'), allProvisioned);
  await measure('unchanged (if_changed)', () => provisioner.reconcile('bench', {}, 'if_changed'), allProvisioned);
  await measure('verify', () => provisioner.reconcile('bench', {}, 'apply'), allProvisioned);
  await measure('check', () => provisioner.reconcile('bench', {}, 'check'), allProvisioned);
  const changed = permissionSets.get('ps-0000');
  if (changed) permissionSets.set('ps-0000', { ...changed, managedPolicies: [...changed.managedPolicies, 'arn:aws:iam::aws:policy/AWSSupportAccess'] });
  await measure('one set changed (if_changed)', () => provisioner.reconcile('bench', {}, 'if_changed'), allProvisioned);
  pairs = [];
  await measure('remove all', () => provisioner.reconcile('bench', {}, 'apply'), (r) => assert.equal(r.removed.length, total));
  await provisioner.settled();

  process.stdout.write(`\n${SETS} permission sets × ${ACCOUNTS} accounts = ${total} roles, concurrency ${CONCURRENCY}; a full verify makes ${fullVerifyCalls} calls\n\n`);
  const columns = Object.keys(rows[0] ?? {});
  process.stdout.write(`| ${columns.join(' | ')} |\n|${columns.map(() => '---').join('|')}|\n`);
  for (const row of rows) process.stdout.write(`| ${columns.map((c) => row[c]).join(' | ')} |\n`);
} finally {
  await db.destroy();
  await moto.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
