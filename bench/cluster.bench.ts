/**
 * One Portico instance against three behind haproxy (issue 15), on one PostgreSQL database, with
 * the Samba AD DC as identity source: sign-ins per second at a fixed concurrency, Portico's CPU
 * per sign-in (all instances' processes), and PostgreSQL transactions per sign-in
 * (pg_stat_database.xact_commit of the bench's own database: a statement outside a transaction
 * counts one, a transaction of several statements one). Passes alternate the two setups.
 *
 *   node --import tsx bench/cluster.bench.ts [--seconds 8] [--passes 2] [--concurrency 16]
 *
 * The machine has 2 cores: three instances share them, so the figure that scales is the cost per
 * sign-in, not the rate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { createDatabase } from '#src/storage/index.ts';
import { fixtureUser, sambaDirectoryEnv, sambaRuntime } from '../test/support/samba.ts';
import { randomSecretKey, startHaproxy, startInstance, type Instance } from '../test/cluster/cluster.ts';
import { cpuSeconds, freePort, median } from './portico-process.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, passes: { type: 'string', default: '2' }, concurrency: { type: 'string', default: '16' } } });
const seconds = Number(values.seconds);
const passes = Number(values.passes);
const concurrency = Number(values.concurrency);
const users = ['alice', 'bob', 'carol', 'zoe', 'jsmith', 'hank', 'greg', 'ursula'].map(fixtureUser);

const adminUrl = process.env.PORTICO_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dbName = `portico_bench_${Date.now().toString(36)}`;
const admin = createDatabase({ driver: 'postgres', postgres: { url: adminUrl, poolSize: 1 } });
await sql`create database ${sql.id(dbName)}`.execute(admin);
const dbUrl = new URL(adminUrl);
dbUrl.pathname = `/${dbName}`;
const dataDir = mkdtempSync(join(tmpdir(), 'portico-cluster-bench-'));

async function commits(): Promise<number> {
  const { rows } = await sql<{ n: string }>`select xact_commit::text as n from pg_stat_database where datname = ${dbName}`.execute(admin);
  return Number(rows[0]?.n ?? 0);
}

async function drive(url: string): Promise<{ ok: number; failed: number }> {
  const deadline = performance.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      const user = users[worker % users.length] ?? users[0];
      if (user === undefined) return;
      while (performance.now() < deadline) {
        const response = await fetch(`${url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user.upn, password: user.password }) });
        await response.arrayBuffer();
        if (response.status === 200) ok += 1;
        else failed += 1;
      }
    }),
  );
  return { ok, failed };
}

async function measure(url: string, pids: number[]): Promise<{ rate: number; cpuMs: number; xacts: number; failed: number }> {
  await drive(url); // warm-up pass is the first second of load, discarded below
  const cpu0 = cpuSeconds(pids);
  const x0 = await commits();
  const started = performance.now();
  const { ok, failed } = await drive(url);
  const elapsed = (performance.now() - started) / 1000;
  // pg_stat_database is updated when a backend reports (about every 0.5 s): wait for it.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const xacts = (await commits()) - x0;
  return { rate: ok / elapsed, cpuMs: ((cpuSeconds(pids) - cpu0) * 1000) / ok, xacts: xacts / ok, failed };
}

const proxyPort = await freePort();
const names = ['p1', 'p2', 'p3'];
const ports = await Promise.all(names.map(() => freePort()));
const env = {
  PORTICO_DATA_DIR: dataDir,
  PORTICO_LOG__LEVEL: 'warn',
  PORTICO_DATABASE__DRIVER: 'postgres',
  PORTICO_DATABASE__POSTGRES__URL: dbUrl.toString(),
  PORTICO_SECRETS__KEY: randomSecretKey(),
  PORTICO_HTTP__PUBLICURL: `http://127.0.0.1:${proxyPort}`,
  PORTICO_SIGNIN__THROTTLE__PERADDRESS__MAXFAILURES: '1000',
  ...sambaDirectoryEnv(sambaRuntime()),
};
const instances: Instance[] = [];
const results: Record<'one' | 'three', Array<Awaited<ReturnType<typeof measure>>>> = { one: [], three: [] };
try {
  for (const [i, name] of names.entries()) instances.push(await startInstance(name, ports[i] ?? 0, env));
  const haproxy = await startHaproxy(names.map((name, i) => ({ name, port: ports[i] ?? 0 })), proxyPort);
  try {
    for (let pass = 0; pass < passes; pass += 1) {
      results.one.push(await measure(instances[0]?.url ?? '', instances.map((i) => i.child.pid ?? 0)));
      results.three.push(await measure(haproxy.url, instances.map((i) => i.child.pid ?? 0)));
    }
  } finally {
    await haproxy.stop();
  }
} finally {
  for (const instance of instances) {
    instance.child.kill('SIGTERM');
    await instance.exited;
  }
  await sql`drop database if exists ${sql.id(dbName)} with (force)`.execute(admin);
  await admin.destroy();
  rmSync(dataDir, { recursive: true, force: true });
}

const row = (label: string, list: typeof results.one) =>
  `| ${label} | ${median(list.map((r) => r.rate)).toFixed(1)} | ${median(list.map((r) => r.cpuMs)).toFixed(1)} | ${median(list.map((r) => r.xacts)).toFixed(2)} | ${list.reduce((sum, r) => sum + r.failed, 0)} |`;
process.stdout.write(
  [
    `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, load average before ${loadavg()[0]?.toFixed(1)}, c=${concurrency}, ${seconds} s × ${passes} passes (medians)`,
    '| setup | sign-ins/s | Portico CPU ms / sign-in | PostgreSQL transactions / sign-in | failed |',
    '|---|---|---|---|---|',
    row('one instance, direct', results.one),
    row('three instances behind haproxy', results.three),
    '',
  ].join('\n'),
);
