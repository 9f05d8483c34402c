/**
 * End-to-end sign-ins per second against the test Samba DC (start it with
 * `bash test/samba/dc.sh start`), beside the raw bind rate of the same DC in the same run.
 *
 * "sign-in" is `POST /api/sign-in` (JSON {username, password}) on a real Portico — `node
 * bin/portico.js start` in a child process of its own, on a fresh SQLite data directory, connected
 * to the DC through the lab override — over keep-alive HTTP: throttle → one bind as the user on a
 * pooled LDAPS connection, then one base read of the user's own entry with tokenGroups on that
 * connection → attribute mappings → groups (SIDs named from the connector's cache, kept fresh by a
 * poll of group uSNChanged at most every 30 s) → identity-store upsert + session + audit in one
 * transaction → 200 with a session cookie.
 * "raw" is ldapts alone in this process: `concurrency` already-open LDAPS connections, each
 * rebinding in a loop; nothing else.
 *
 * Both sides sign the same users in turn (UPN and password from test/samba/fixture.json), at the
 * same concurrency, in alternating passes (the side that goes first alternates too); medians of the
 * passes. Per operation: DC CPU (every samba process, /proc), Portico's CPU (its process alone,
 * all threads), this client's CPU; and the machine's busy share per pass (stderr).
 *
 * The default attribute mappings refuse a user without `initials` (middleName ← ${dir:initials});
 * in the fixture only alice has initials, so before Portico starts the bench sets
 * `middleName=${dir:initials|""}` through the CLI (optional), unless --users is only alice.
 * Only correct passwords are sent; any failure is counted and printed, and a wrong-password answer
 * stops the run (the DC locks accounts at 5).
 *
 * With --profile (or when Portico's CPU per sign-in is above 1 ms), a second Portico runs under
 * `--cpu-prof` on the same data directory for --profile-seconds at --profile-concurrency, and the
 * top self-time functions and origins of the measured window are printed.
 *
 * Run: node --import tsx bench/sign-in.bench.ts [--seconds 5] [--passes 5] [--concurrency 1,8,32]
 *        [--users alice,bob,carol,hank,jsmith] [--pool N] [--profile | --no-profile]
 *        [--profile-seconds 20] [--profile-concurrency 8] [--keep]
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureUser, sambaRuntime, type FixtureUser } from '../test/support/samba.ts';
import { printSummary, summariseCpuProfile } from './cpu-profile.ts';
import { benchOptions, dcPids, healthzSide, rawBindSide, WrongPassword, type Side as BenchSide } from './bench-kit.ts';
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

const { option, num, flag } = benchOptions();
const seconds = num('seconds', 5);
const passes = num('passes', 5);
const levels = (option('concurrency') ?? '1,8,32').split(',').map(Number);
const userKeys = (option('users') ?? 'alice,bob,carol,hank,jsmith').split(',');
const poolSize = option('pool');
const profileSeconds = num('profile-seconds', 20);
const profileConcurrency = num('profile-concurrency', 8);
const forceProfile = flag('profile');
const noProfile = flag('no-profile');
const keep = flag('keep');
/** Portico's CPU budget per sign-in, SAML aside (the issue's goal). */
const cpuGoalMs = 1;
const rateGoal = 0.8;

const dc = sambaRuntime();
const users: FixtureUser[] = userKeys.map((key) => {
  const user = fixtureUser(key);
  if (user.state !== 'ok') throw new Error(`fixture user ${key} is ${user.state}: only users whose sign-in succeeds are used`);
  return user;
});
const needsOptionalInitials = users.some((u) => u.key !== 'alice');


// ---------------------------------------------------------------- the two sides

type Side = BenchSide<'raw' | 'portico' | 'healthz'>;


function porticoSide(portico: PorticoProcess, concurrency: number): Side & { close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const { hostname, port } = new URL(portico.url);
  return {
    name: 'portico',
    operate: (_worker, user) =>
      new Promise((resolve, reject) => {
        const body = JSON.stringify({ username: user.upn, password: user.password });
        const request = http.request(
          { agent, host: hostname, port, method: 'POST', path: '/api/sign-in', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => {
              if (response.statusCode === 200) return resolve(null);
              const text = Buffer.concat(chunks).toString();
              let code = '';
              try {
                code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
              } catch {
                code = text.slice(0, 80);
              }
              if (code === 'auth.invalid_credentials') return reject(new WrongPassword(`Portico refused ${user.upn}: ${text}`));
              resolve(`${response.statusCode} ${code}`);
            });
            response.on('error', reject);
          },
        );
        request.on('error', (error) => resolve(`http ${error.message}`));
        request.end(body);
      }),
    close: () => agent.destroy(),
  };
}


// ---------------------------------------------------------------- one pass

interface Pass {
  ops: number;
  perSecond: number;
  p50: number;
  p99: number;
  dcCpuMs: number;
  porticoCpuMs: number;
  clientCpuMs: number;
  machineBusy: number;
  failures: Map<string, number>;
  /** Portico's CPU seconds over the pass per thread group (main thread, V8 workers, libuv pool…). */
  porticoThreads: Map<string, number>;
}

async function pass(side: Side, concurrency: number, porticoPid: number, durationSeconds = seconds): Promise<Pass> {
  let next = 0;
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  const jiffies = machineJiffies();
  const dcBefore = cpuSeconds(dcPids(dc));
  const porticoBefore = cpuSeconds([porticoPid]);
  const threadsBefore = threadCpuSeconds(porticoPid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const user = users[next % users.length] as FixtureUser;
        next += 1;
        const t0 = performance.now();
        const failure = await side.operate(worker, user);
        latencies.push(performance.now() - t0);
        if (failure !== null) failures.set(failure, (failures.get(failure) ?? 0) + 1);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const ops = latencies.length;
  return {
    ops,
    perSecond: ops / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    dcCpuMs: ((cpuSeconds(dcPids(dc)) - dcBefore) * 1000) / ops,
    porticoCpuMs: ((cpuSeconds([porticoPid]) - porticoBefore) * 1000) / ops,
    clientCpuMs: (client.user + client.system) / 1000 / ops,
    machineBusy: busyShare(jiffies, machineJiffies()),
    failures,
    porticoThreads: threadCpuDelta(threadsBefore, threadCpuSeconds(porticoPid)),
  };
}

function logPass(concurrency: number, index: number, side: string, p: Pass): void {
  const failed = [...p.failures.values()].reduce((a, b) => a + b, 0);
  process.stderr.write(
    `c=${concurrency} pass ${index + 1}/${passes} ${side.padEnd(7)} ${p.perSecond.toFixed(1).padStart(7)}/s  p50 ${p.p50.toFixed(1)} ms  p99 ${p.p99.toFixed(1)} ms  ` +
      `DC ${p.dcCpuMs.toFixed(2)} ms/op  Portico ${p.porticoCpuMs.toFixed(3)} ms/op  client ${p.clientCpuMs.toFixed(3)} ms/op  machine ${(p.machineBusy * 100).toFixed(0)}% busy  ops ${p.ops}  failures ${failed}\n`,
  );
}

// ---------------------------------------------------------------- the run

const dataDir = mkdtempSync(join(tmpdir(), 'portico-bench-sign-in-'));
const env: Record<string, string> = {
  PORTICO_DATA_DIR: dataDir,
  PORTICO_LOG__LEVEL: 'warn',
  PORTICO_DIRECTORY__DOMAIN: dc.domain,
  PORTICO_DIRECTORY__URLS: JSON.stringify([dc.ldapsUrl]),
  PORTICO_DIRECTORY__SERVICEACCOUNT__USERNAME: dc.serviceAccount.username,
  PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: dc.serviceAccount.password,
  PORTICO_DIRECTORY__TLS__CAFILE: dc.caFile,
  PORTICO_DIRECTORY__ALLOWSAMBA: 'true',
  ...(poolSize ? { PORTICO_DIRECTORY__POOL__SIZE: poolSize } : {}),
};

/** Signs every user in once (JIT creates their records), so that passes measure steady-state sign-ins. */
async function warmUp(portico: PorticoProcess): Promise<void> {
  const side = porticoSide(portico, 1);
  for (const user of users) {
    const failure = await side.operate(0, user);
    if (failure !== null) throw new Error(`warm-up sign-in of ${user.upn} failed: ${failure}`);
  }
  side.close();
}

interface Row {
  concurrency: number;
  raw: Pass[];
  portico: Pass[];
}

const medianOf = (runs: Pass[], pick: (p: Pass) => number): number => median(runs.map(pick));

function printTable(rows: Row[]): void {
  console.log(`\n## Sign-ins per second (${seconds} s per pass, ${passes} alternating passes, medians)\n`);
  console.log(
    '| concurrency | raw binds/s | sign-ins/s | ratio (goal ≥ 0.80) | sign-in p50 / p99 ms | raw bind p50 / p99 ms | Portico CPU ms per sign-in (goal < 1) | DC CPU ms per raw bind | DC CPU ms per sign-in | client CPU ms per op (raw / sign-in) | failures (raw / sign-in) |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { concurrency, raw, portico } of rows) {
    const rawRate = medianOf(raw, (p) => p.perSecond);
    const rate = medianOf(portico, (p) => p.perSecond);
    const ratio = rate / rawRate;
    const cpu = medianOf(portico, (p) => p.porticoCpuMs);
    const failed = (runs: Pass[]): number => runs.reduce((sum, p) => sum + [...p.failures.values()].reduce((a, b) => a + b, 0), 0);
    console.log(
      `| ${concurrency} | ${rawRate.toFixed(1)} | ${rate.toFixed(1)} | ${ratio.toFixed(2)} ${ratio >= rateGoal ? '✓' : '✗'} | ${medianOf(portico, (p) => p.p50).toFixed(1)} / ${medianOf(portico, (p) => p.p99).toFixed(1)} | ${medianOf(raw, (p) => p.p50).toFixed(1)} / ${medianOf(raw, (p) => p.p99).toFixed(1)} | ${cpu.toFixed(2)} ${cpu < cpuGoalMs ? '✓' : '✗'} | ${medianOf(raw, (p) => p.dcCpuMs).toFixed(1)} | ${medianOf(portico, (p) => p.dcCpuMs).toFixed(1)} | ${medianOf(raw, (p) => p.clientCpuMs).toFixed(2)} / ${medianOf(portico, (p) => p.clientCpuMs).toFixed(2)} | ${failed(raw)} / ${failed(portico)} |`,
    );
  }
  const all = new Map<string, number>();
  for (const row of rows) for (const p of [...row.raw, ...row.portico]) for (const [label, count] of p.failures) all.set(label, (all.get(label) ?? 0) + count);
  const total = rows.reduce((sum, row) => sum + [...row.raw, ...row.portico].reduce((s, p) => s + p.ops, 0), 0);
  console.log(`\n${total} operations measured; ${all.size === 0 ? 'every sign-in answered 200 and every raw bind succeeded.' : `failures: ${[...all].map(([l, c]) => `${l} × ${c}`).join(', ')}`}`);
  console.log('\nPortico CPU per sign-in by thread (ms, sums over the sign-in passes divided by their sign-ins):\n');
  for (const { concurrency, portico } of rows) {
    const sums = new Map<string, number>();
    for (const p of portico) for (const [name, s] of p.porticoThreads) sums.set(name, (sums.get(name) ?? 0) + s);
    const ops = portico.reduce((sum, p) => sum + p.ops, 0);
    const parts = [...sums].filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]).map(([name, s]) => `${name} ${((s * 1000) / ops).toFixed(2)}`);
    console.log(`- c=${concurrency}: ${parts.join(', ')}`);
  }
  console.log(`\nPortico CPU while the raw side ran (its idle cost, health checks): ${rows.map((r) => `c=${r.concurrency} ${medianOf(r.raw, (p) => p.porticoCpuMs * p.perSecond).toFixed(1)} ms/s`).join(', ')}.`);
}

async function profile(): Promise<void> {
  const profileDir = join(dataDir, 'cpu-profile');
  const port = await freePort();
  const portico = await startPortico(env, port, ['--cpu-prof', '--cpu-prof-dir', profileDir]);
  const spawnedAt = performance.now() - portico.startMs;
  const side = porticoSide(portico, profileConcurrency);
  await pass(side, profileConcurrency, portico.pid, 2); // warm-up under the profiler
  const fromMs = performance.now() - spawnedAt;
  const measured = await pass(side, profileConcurrency, portico.pid, profileSeconds);
  const toMs = performance.now() - spawnedAt;
  side.close();
  await portico.stop();
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
  console.log(
    `\n## Where Portico's CPU goes (--cpu-prof, c=${profileConcurrency}, ${profileSeconds} s: ${measured.ops} sign-ins at ${measured.perSecond.toFixed(1)}/s, ` +
      `${measured.porticoCpuMs.toFixed(2)} ms of process CPU per sign-in under the profiler; profile ${join(profileDir, file)})`,
  );
  printSummary(summariseCpuProfile(join(profileDir, file), { fromMs, toMs }), 30, { count: measured.ops, label: 'sign-in' });
}

console.log(
  `# Sign-in benchmark — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at start, DC ${dc.ldapsUrl} (Samba, LDAPS)`,
);
console.log(
  `Users: ${users.map((u) => `${u.upn} (${u.memberOf.length} direct groups)`).join(', ')}; mappings: ${needsOptionalInitials ? 'default table with middleName=${dir:initials|""}' : 'default table'}; Portico directory pool: ${poolSize ?? 'default (4 per lane)'}.`,
);

let portico: PorticoProcess | null = null;
try {
  const cliEnv = { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'warn' };
  // The first start would print its token on stderr, which portico-process.ts passes on without keeping: issue one now.
  const { token } = JSON.parse(await porticoCli(['admin', 'bootstrap-token', '--reset', '--json'], cliEnv)) as { token: string };
  portico = await startPortico(env, await freePort());
  // The CLI is an admin API client: the mapping is set on the running Portico (read at every sign-in).
  if (needsOptionalInitials) await porticoCli(['mappings', 'set', 'middleName=${dir:initials|""}'], { ...cliEnv, PORTICO_URL: portico.url, PORTICO_ADMIN_TOKEN: token });
  console.log(`Portico pid ${portico.pid} at ${portico.url}, ready in ${(portico.startMs / 1000).toFixed(1)} s; data ${dataDir}`);
  const status = (await (await fetch(`${portico.url}/status`)).json()) as { directory: { state: string } };
  if (status.directory.state !== 'connected') throw new Error(`the directory is ${status.directory.state}: ${JSON.stringify(status)}`);
  await warmUp(portico);

  const rows: Row[] = [];
  for (const concurrency of levels) {
    const raw = await rawBindSide(dc, users, concurrency);
    const signIns = porticoSide(portico, concurrency);
    // Untimed warm-up at this concurrency: TLS sessions, pool connections, JIT of the HTTP sockets.
    await pass(raw, concurrency, portico.pid, 1);
    await pass(signIns, concurrency, portico.pid, 1);
    const row: Row = { concurrency, raw: [], portico: [] };
    for (let i = 0; i < passes; i += 1) {
      const order = i % 2 === 0 ? [raw, signIns] : [signIns, raw];
      for (const side of order) {
        const result = await pass(side, concurrency, portico.pid);
        logPass(concurrency, i, side.name, result);
        (side === raw ? row.raw : row.portico).push(result);
      }
    }
    rows.push(row);
    await raw.close();
    signIns.close();
  }
  printTable(rows);
  const floor = healthzSide(portico, 8);
  await pass(floor, 8, portico.pid, 1);
  const healthz = await pass(floor, 8, portico.pid, 3);
  floor.close();
  console.log(
    `HTTP floor: GET /healthz on the same keep-alive client, c=8, 3 s: ${healthz.perSecond.toFixed(0)}/s, Portico CPU ${(healthz.porticoCpuMs * 1000).toFixed(0)} µs per request (main thread ${(((healthz.porticoThreads.get('main thread') ?? 0) * 1e6) / healthz.ops).toFixed(0)} µs).`,
  );
  const worst = Math.max(...rows.map((r) => medianOf(r.portico, (p) => p.porticoCpuMs)));
  await portico.stop();
  portico = null;
  if (forceProfile || (!noProfile && worst > cpuGoalMs)) await profile();
} catch (error) {
  process.exitCode = 1;
  console.error(error instanceof WrongPassword ? `stopped: ${error.message} (no further binds, to stay clear of the lockout threshold)` : error);
} finally {
  await portico?.stop();
  if (keep) console.log(`data directory kept: ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}
