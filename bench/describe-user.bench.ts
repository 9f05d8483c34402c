/**
 * IdentityStore API DescribeUser latency and throughput against identity stores of 1,000 and
 * 100,000 provisioned users, through the real AWS SDK (`@aws-sdk/client-identitystore`, SigV4).
 *
 * For each size: a fresh data directory whose database (SQLite, or with --database postgres a
 * PostgreSQL database of its own on --postgres-url's server) is loaded in this process through
 * `createKyselyIdentityUserStore(trx).upsert(toProvisionedUser(…))` (what a sign-in does), in
 * transactions of --batch users; then `portico start` in a child process of its own (the managed
 * directory as identity source, on free ports, no demo forest: DescribeUser reads only the
 * identity store), so that its CPU time is its own, and an access key issued through its admin
 * API (`portico admin bootstrap-token`, then `portico app-credentials create --json`). All
 * instances run at once; the benchmark alternates between them within each pass (the order
 * rotates per pass) and calls DescribeUser for uniformly random users, with an SDK client per
 * instance on keep-alive connections (maxAttempts 1: an error is not retried away). Every answer
 * is checked (the UserId asked for); failures are counted and printed. --list-users adds rows of
 * ListUsers pages (MaxResults 100, from a random point of the id order: the NextToken of the page
 * before it, taken from a first walk; every page checked to have 100 users in order).
 *
 * With --baseline <checkout>, each size is served twice: by this tree and by `<checkout>/bin/portico.js`
 * (another commit, with its own node_modules or a link to them) on a copy of the same loaded data,
 * alternating as above: before and after on one machine in one run.
 *
 * Run: node --import tsx bench/describe-user.bench.ts [--sizes 1000,100000] [--calls 5000]
 *        [--passes 5] [--concurrency 1,8] [--batch 2000] [--warmup 2000] [--profile] [--keep]
 *        [--database sqlite|postgres] [--postgres-url postgres://postgres@127.0.0.1:5432/postgres]
 *        [--baseline /tmp/portico-baseline] [--list-users]
 *
 * With --profile, the largest instance is restarted under `--cpu-prof` afterwards and 2,000 more
 * calls at concurrency 8 are profiled; the top self-time functions are printed.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeUserCommand, IdentitystoreClient, ListUsersCommand } from '@aws-sdk/client-identitystore';
import pg from 'pg';
import { loadConfig } from '#src/config/index.ts';
import { toProvisionedUser, type MappedAttributes } from '#src/identity-store/user.ts';
import { createDatabase, createKyselyIdentityUserStore, migrateToLatest } from '#src/storage/index.ts';
import {
  busyShare,
  cpuSeconds,
  freePort,
  machineJiffies,
  median,
  percentile,
  porticoCli,
  startPortico,
  threadCpuDelta,
  threadCpuSeconds,
  type PorticoProcess,
} from './portico-process.ts';
import { printSummary, summariseCpuProfile } from './cpu-profile.ts';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const sizes = (option('sizes') ?? '1000,100000').split(',').map(Number);
const calls = Number(option('calls') ?? 5000);
const passes = Number(option('passes') ?? 5);
const levels = (option('concurrency') ?? '1,8').split(',').map(Number);
const batch = Number(option('batch') ?? 2000);
/** Calls per instance and concurrency before the passes: sockets, JIT, SQLite and OS page caches. */
const warmup = Number(option('warmup') ?? 2000);
const keep = args.includes('--keep');
const profile = args.includes('--profile');
const driver = option('database') ?? 'sqlite';
if (driver !== 'sqlite' && driver !== 'postgres') throw new Error('--database is sqlite or postgres');
const postgresUrl = option('postgres-url') ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const baseline = option('baseline');
const listUsers = args.includes('--list-users');
const LIST_PAGE = 100;
/** PostgreSQL databases made, dropped at the end like the data directories. */
const databases: string[] = [];
/** Every data directory made, so that a failed run removes them too. */
const dataDirs: string[] = [];
const domain = 'portico.test';
// The SDK warns once that its releases after January 2027 need Node 22; not this benchmark's concern.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const region = 'us-east-1';

interface Loaded {
  users: number;
  dataDir: string;
  /** What `portico` needs to find this data: the data directory, and the PostgreSQL database. */
  env: Record<string, string>;
  userIds: string[];
  loadSeconds: number;
  dbBytes: number;
}

/** The values the default mappings would give a user, with a few more filled, so records have a realistic size. */
function mappedFor(i: number, guid: string): { upn: string; mapped: MappedAttributes } {
  const n = String(i).padStart(6, '0');
  const upn = `bench${n}@${domain}`;
  return {
    upn,
    mapped: {
      AD_GUID: guid,
      email: upn,
      givenName: 'Bench',
      familyName: `User ${n}`,
      middleName: 'B',
      name: `Bench User ${n}`,
      preferredUsername: `Bench User ${n}`,
      subject: upn,
      title: 'Engineer',
      phoneNumber: `+1 555 ${n}`,
      department: `Department ${i % 50}`,
    },
  };
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function postgresUrlOf(database: string): string {
  const url = new URL(postgresUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A data directory and, on PostgreSQL, an empty database of its own (or a copy of `template`'s). */
async function freshData(users: number, template?: Loaded): Promise<{ dataDir: string; env: Record<string, string> }> {
  const dataDir = mkdtempSync(join(tmpdir(), `portico-bench-describe-${users}-`));
  dataDirs.push(dataDir);
  if (driver === 'sqlite') return { dataDir, env: { PORTICO_DATA_DIR: dataDir } };
  const database = `portico_bench_describe_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await admin(`create database ${database}${template ? ` template ${template.env.PORTICO_BENCH_DATABASE}` : ''}`);
  databases.push(database);
  return {
    dataDir,
    env: { PORTICO_DATA_DIR: dataDir, PORTICO_DATABASE__DRIVER: 'postgres', PORTICO_DATABASE__POSTGRES__URL: postgresUrlOf(database), PORTICO_BENCH_DATABASE: database },
  };
}

/** The same data again, for a second instance (--baseline): a copy of the SQLite file, or a PostgreSQL database made from the first as template. */
async function copyOf(loaded: Loaded): Promise<Loaded> {
  const { dataDir, env } = await freshData(loaded.users, loaded);
  if (driver === 'sqlite') cpSync(loaded.dataDir, dataDir, { recursive: true });
  return { ...loaded, dataDir, env };
}

async function load(users: number): Promise<Loaded> {
  const { dataDir, env } = await freshData(users);
  const config = loadConfig({ env });
  const db = createDatabase(config.database);
  await migrateToLatest(db);
  const userIds: string[] = [];
  const started = performance.now();
  for (let from = 0; from < users; from += batch) {
    const at = new Date();
    await db.transaction().execute(async (trx) => {
      const store = createKyselyIdentityUserStore(trx);
      for (let i = from; i < Math.min(users, from + batch); i += 1) {
        const guid = randomUUID();
        const { upn, mapped } = mappedFor(i, guid);
        const sid = `S-1-5-21-1004336348-1177238915-682003330-${10000 + i}`;
        const { user } = await store.upsert(toProvisionedUser({ guid, sid, userPrincipalName: upn, domain }, mapped), at);
        userIds.push(user.userId);
      }
    });
    if ((from / batch) % 10 === 9) process.stderr.write(`  ${users} users: ${from + batch} loaded in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const loadSeconds = (performance.now() - started) / 1000;
  await db.destroy();
  const file = config.database.driver === 'sqlite' ? config.database.sqlite.file : '';
  const size = (path: string): number => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  return { users, dataDir, env, userIds, loadSeconds, dbBytes: size(file) + size(`${file}-wal`) };
}

interface Instance {
  /** The row's name: the size, and which tree serves it when there are two. */
  label: string;
  script: string | undefined;
  loaded: Loaded;
  /** NextTokens of the ListUsers pages after the first (--list-users), from a first walk. */
  pageTokens: string[];
  portico: PorticoProcess;
  identityStoreId: string;
  credential: Credential;
  clients: Map<number, IdentitystoreClient>;
}

interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
  identityStoreId: string;
}

async function startInstance(loaded: Loaded, label: string, script: string | undefined, nodeArgs: string[] = [], issued?: Credential): Promise<Instance> {
  const env = {
    ...loaded.env,
    PORTICO_LOG__LEVEL: 'warn',
    PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0',
    PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0',
    PORTICO_MANAGEDDIRECTORY__DEMOFOREST: 'false',
  };
  const portico = await startPortico(env, await freePort(), nodeArgs, script);
  let credential = issued;
  if (!credential) {
    // Access keys are issued through the admin API of the running instance (this tree's CLI for both trees: the API is the same).
    const { token } = JSON.parse(await porticoCli(['admin', 'bootstrap-token', '--reset', '--json'], env)) as { token: string };
    const cliEnv = { ...env, PORTICO_ADMIN_TOKEN: token, PORTICO_URL: portico.url };
    credential = JSON.parse(await porticoCli(['app-credentials', 'create', 'describe-user bench', '--json'], cliEnv)) as Credential;
  }
  const clients = new Map<number, IdentitystoreClient>();
  for (const concurrency of levels) {
    clients.set(
      concurrency,
      new IdentitystoreClient({
        endpoint: `${portico.url}/identitystore`,
        region,
        credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
        maxAttempts: 1,
        requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: concurrency }) },
      }),
    );
  }
  return { label, script, loaded, pageTokens: [], portico, identityStoreId: credential.identityStoreId, credential, clients };
}

/** Walks every ListUsers page once (warming up too) and keeps the NextTokens, checking the order. */
async function walkPages(instance: Instance): Promise<void> {
  const client = instance.clients.get(levels[0] as number) as IdentitystoreClient;
  const tokens: string[] = [];
  let token: string | undefined;
  let seen = 0;
  do {
    const page = await client.send(new ListUsersCommand({ IdentityStoreId: instance.identityStoreId, MaxResults: LIST_PAGE, NextToken: token }));
    seen += page.Users?.length ?? 0;
    token = page.NextToken;
    if (token) tokens.push(token);
  } while (token);
  if (seen !== instance.loaded.users) throw new Error(`${instance.label}: ListUsers walked ${seen} users, not ${instance.loaded.users}`);
  instance.pageTokens = tokens;
}

type Operation = 'DescribeUser' | 'ListUsers';

/** One call of `operation`; an error message when the answer is wrong. */
async function call(instance: Instance, client: IdentitystoreClient, operation: Operation): Promise<string | null> {
  if (operation === 'DescribeUser') {
    const ids = instance.loaded.userIds;
    const userId = ids[Math.floor(Math.random() * ids.length)] as string;
    const answer = await client.send(new DescribeUserCommand({ IdentityStoreId: instance.identityStoreId, UserId: userId }));
    return answer.UserId === userId ? null : 'wrong user';
  }
  // Uniformly over the pages: the first (no token) or one after a kept NextToken.
  const tokens = instance.pageTokens;
  const at = Math.floor(Math.random() * (tokens.length + 1));
  const page = await client.send(new ListUsersCommand({ IdentityStoreId: instance.identityStoreId, MaxResults: LIST_PAGE, NextToken: at === 0 ? undefined : tokens[at - 1] }));
  const users = page.Users ?? [];
  const full = at < tokens.length;
  if (full ? users.length !== LIST_PAGE || page.NextToken !== tokens[at] : users.length === 0 || page.NextToken !== undefined) return 'wrong page';
  for (let i = 1; i < users.length; i += 1) if ((users[i - 1]?.UserId ?? '') >= (users[i]?.UserId ?? '')) return 'page out of order';
  return null;
}

interface Pass {
  latencies: number[];
  perSecond: number;
  porticoCpuMs: number;
  porticoMainMs: number;
  clientCpuMs: number;
  machineBusy: number;
  failures: Map<string, number>;
}

async function pass(instance: Instance, concurrency: number, count: number, operation: Operation = 'DescribeUser'): Promise<Pass> {
  const client = instance.clients.get(concurrency) as IdentitystoreClient;
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  let issued = 0;
  const pid = instance.portico.pid;
  const jiffies = machineJiffies();
  const cpuBefore = cpuSeconds([pid]);
  const threadsBefore = threadCpuSeconds(pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < count) {
        issued += 1;
        const t0 = performance.now();
        try {
          const wrong = await call(instance, client, operation);
          latencies.push(performance.now() - t0);
          if (wrong !== null) failures.set(wrong, (failures.get(wrong) ?? 0) + 1);
        } catch (error) {
          latencies.push(performance.now() - t0);
          const name = (error as Error).name;
          failures.set(name, (failures.get(name) ?? 0) + 1);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const clientCpu = process.cpuUsage(clientBefore);
  const main = threadCpuDelta(threadsBefore, threadCpuSeconds(pid)).get('main thread') ?? 0;
  return {
    latencies,
    perSecond: latencies.length / elapsed,
    porticoCpuMs: ((cpuSeconds([pid]) - cpuBefore) * 1000) / latencies.length,
    porticoMainMs: (main * 1000) / latencies.length,
    clientCpuMs: (clientCpu.user + clientCpu.system) / 1000 / latencies.length,
    machineBusy: busyShare(jiffies, machineJiffies()),
    failures,
  };
}

console.log(
  `# IdentityStore benchmark — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at start, ${driver === 'sqlite' ? 'SQLite' : `PostgreSQL (${new URL(postgresUrl).host})`}${baseline ? `, baseline ${baseline}` : ''}`,
);

const instances: Instance[] = [];
const operations: Operation[] = listUsers ? ['DescribeUser', 'ListUsers'] : ['DescribeUser'];
try {
  console.log(`\n## Loading (in this process, transactions of ${batch} users, upsert as at sign-in)\n`);
  console.log(`| users | load s | users/s | ${driver === 'sqlite' ? 'SQLite file + WAL MiB' : 'database'} | Portico ready in s |`);
  console.log('|---:|---:|---:|---:|---:|');
  for (const size of sizes) {
    const loaded = await load(size);
    // The copy first: the other instance's start writes to its data (keys, bootstrap token).
    const twin = baseline ? await copyOf(loaded) : null;
    const mine = await startInstance(loaded, baseline ? `${size} this` : String(size), undefined);
    instances.push(mine);
    if (twin) instances.push(await startInstance(twin, `${size} baseline`, join(baseline as string, 'bin/portico.js')));
    console.log(
      `| ${size.toLocaleString('en-US')} | ${loaded.loadSeconds.toFixed(1)} | ${(size / loaded.loadSeconds).toFixed(0)} | ${driver === 'sqlite' ? (loaded.dbBytes / 2 ** 20).toFixed(1) : loaded.env.PORTICO_BENCH_DATABASE} | ${(mine.portico.startMs / 1000).toFixed(1)} |`,
    );
  }
  if (listUsers) for (const instance of instances) await walkPages(instance);

  const perPass = Math.ceil(calls / passes);
  const results = new Map<string, Pass[]>();
  for (const operation of operations) {
    for (const concurrency of levels) {
      for (const instance of instances) await pass(instance, concurrency, warmup, operation);
      for (let i = 0; i < passes; i += 1) {
        const order = instances.map((_, k) => instances[(k + i) % instances.length] as Instance);
        for (const instance of order) {
          const result = await pass(instance, concurrency, perPass, operation);
          const key = `${operation}/${instance.label}/${concurrency}`;
          results.set(key, [...(results.get(key) ?? []), result]);
          process.stderr.write(
            `${operation} c=${concurrency} pass ${i + 1}/${passes} ${instance.label.padStart(15)}  ${result.perSecond.toFixed(0).padStart(5)}/s  p50 ${percentile(result.latencies, 50).toFixed(2)} ms  ` +
              `p99 ${percentile(result.latencies, 99).toFixed(2)} ms  Portico ${result.porticoCpuMs.toFixed(3)} ms/call  client ${result.clientCpuMs.toFixed(3)} ms/call  machine ${(result.machineBusy * 100).toFixed(0)}% busy\n`,
          );
        }
      }
    }
  }

  console.log(
    `\n## ${operations.join(', ')} (${warmup} warm-up calls, then ${perPass * passes} calls per row in ${passes} alternating passes; latency percentiles over all calls, then the median of the passes' p99; throughput and CPU medians of the passes)\n`,
  );
  console.log('| operation | users | concurrency | calls | p50 ms | p90 ms | p99 ms | median pass p99 ms | max ms | calls/s | Portico CPU ms per call (main thread) | client CPU ms per call | failures |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const allFailures = new Map<string, number>();
  for (const operation of operations) {
    for (const concurrency of levels) {
      for (const instance of instances) {
        const runs = results.get(`${operation}/${instance.label}/${concurrency}`) ?? [];
        const latencies = runs.flatMap((r) => r.latencies);
        const failed = runs.reduce((sum, r) => sum + [...r.failures.values()].reduce((a, b) => a + b, 0), 0);
        for (const r of runs) for (const [name, n] of r.failures) allFailures.set(name, (allFailures.get(name) ?? 0) + n);
        console.log(
          `| ${operation} | ${instance.label} | ${concurrency} | ${latencies.length} | ${percentile(latencies, 50).toFixed(2)} | ${percentile(latencies, 90).toFixed(2)} | ${percentile(latencies, 99).toFixed(2)} | ${median(runs.map((r) => percentile(r.latencies, 99))).toFixed(2)} | ${Math.max(...latencies).toFixed(1)} | ${median(runs.map((r) => r.perSecond)).toFixed(0)} | ${median(runs.map((r) => r.porticoCpuMs)).toFixed(3)} (${median(runs.map((r) => r.porticoMainMs)).toFixed(3)}) | ${median(runs.map((r) => r.clientCpuMs)).toFixed(3)} | ${failed} |`,
        );
      }
    }
  }
  console.log(`\n${allFailures.size === 0 ? 'Every call answered what was asked.' : `Failures: ${[...allFailures].map(([n, c]) => `${n} × ${c}`).join(', ')}`}`);

  if (profile) {
    // The largest instance of this tree, restarted under the profiler.
    const largest = instances.filter((i) => i.script === undefined).reduce((a, b) => (b.loaded.users > a.loaded.users ? b : a));
    for (const client of largest.clients.values()) client.destroy();
    await largest.portico.stop();
    const profileDir = join(largest.loaded.dataDir, 'cpu-profile');
    const profiled = await startInstance(largest.loaded, largest.label, undefined, ['--cpu-prof', '--cpu-prof-dir', profileDir], largest.credential);
    const concurrency = levels.includes(8) ? 8 : (levels[0] as number);
    await pass(profiled, concurrency, 300);
    const spawnedAt = performance.now() - profiled.portico.startMs;
    const fromMs = performance.now() - spawnedAt;
    const measured = await pass(profiled, concurrency, 2000);
    const toMs = performance.now() - spawnedAt;
    for (const client of profiled.clients.values()) client.destroy();
    await profiled.portico.stop();
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile in ${profileDir}`);
    console.log(
      `\n## Where Portico's CPU goes in DescribeUser (--cpu-prof, ${largest.loaded.users.toLocaleString('en-US')} users, c=${concurrency}, ${measured.latencies.length} calls, ${measured.porticoCpuMs.toFixed(2)} ms of process CPU per call under the profiler)`,
    );
    printSummary(summariseCpuProfile(join(profileDir, file), { fromMs, toMs }), 25, { count: measured.latencies.length, label: 'call' });
    instances.splice(instances.indexOf(largest), 1);
  }
} catch (error) {
  process.exitCode = 1;
  console.error(error);
} finally {
  for (const instance of instances) {
    for (const client of instance.clients.values()) client.destroy();
    await instance.portico.stop();
  }
  for (const dir of dataDirs) {
    if (keep) console.log(`data directory kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  for (const database of databases) {
    if (keep) console.log(`database kept: ${database}`);
    else await admin(`drop database if exists ${database} with (force)`).catch((error: unknown) => console.error(`could not drop ${database}:`, error));
  }
}
