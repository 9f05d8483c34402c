/**
 * The morning rush (issue 21): N distinct users of the managed directory each sign in ONCE through
 * a real Portico — `POST /api/sign-in` (JSON), keep-alive HTTP, at a bounded concurrency — so every
 * sign-in is a first bind: one password verification (the managed directory's verified-password
 * cache is off, as a first bind of the day would miss it anyway; here the users share one hash,
 * which the cache, keyed by hash and password, would otherwise recognise). Before (scrypt N=2^15,
 * r=8, p=1, ungated: the engine as it was) against after (Argon2id m=19 MiB, t=2, p=1, gated to the
 * cores: today's), in alternating passes; medians.
 *
 * Each pass: a fresh data directory (SQLite, the embedded default: managed directory, no demo
 * forest, listeners on ephemeral ports); N users `rushI@portico.test` are loaded into it in this
 * process through the engine (one password hash computed once and given to every user, in the
 * side's own format: loading N users does not pay N hashes, and a bind costs the same whatever the
 * salt); then `portico start` runs in a child process of its own (bench/rush-portico.mjs: for the
 * scrypt side, bench/legacy-scrypt-hook.mjs swaps in the pre-issue-21 hasher, which no setting can
 * select; on both sides bench/rush-engine.ts turns the cache off) and every user signs in once.
 * Measured: complete sign-ins/s (the N sign-ins over the wall time from the first request to the
 * last answer), p50/p99/max latency, Portico's CPU per sign-in (its process, all threads), its RSS
 * before the rush and at its peak during the rush (VmRSS sampled every 50 ms, and VmHWM), the
 * machine's busy share and load average.
 *
 * Run: node --import tsx bench/rush.bench.ts [--users 2000] [--scrypt-users 2000] [--passes 2]
 *        [--concurrency 16]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '#src/config/index.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';
import { createPasswordHasher, encodeUnicodePwd, hashPassword, hashPasswordScrypt, type PasswordHasher } from '#src/directory/managed/engine/password.ts';
import { openManagedEngine } from '#src/directory/managed/index.ts';
import { createDatabase, createManagedDirectoryStores, migrateToLatest } from '#src/storage/index.ts';
import { benchOptions } from './bench-kit.ts';
import { busyShare, cpuSeconds, freePort, machineJiffies, median, percentile, startPortico } from './portico-process.ts';

const { num } = benchOptions();
const argonUsers = num('users', 2000);
const scryptUsers = num('scrypt-users', argonUsers);
const passes = num('passes', 2);
const concurrency = num('concurrency', 16);
const password = 'Rush-Pa55word!';
const script = new URL('./rush-portico.mjs', import.meta.url).pathname;

type Hashing = 'scrypt' | 'argon2id';

interface Pass {
  hashing: Hashing;
  users: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  cpuMs: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  hwmMiB: number;
  machineBusy: number;
  load: number;
  failures: Map<string, number>;
  loadSeconds: number;
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Loads `users` users into a fresh data directory's managed directory, every one with the same precomputed hash. */
async function populate(env: Record<string, string>, hashing: Hashing, users: number): Promise<void> {
  const config = loadConfig({ env, cwd: env.PORTICO_DATA_DIR as string });
  const real = createPasswordHasher(hashing === 'scrypt' ? { legacyScrypt: true } : {});
  const shared = hashing === 'argon2id' ? await hashPassword(password) : await hashPasswordScrypt(password);
  const hasher: PasswordHasher = { ...real, hash: (pw) => (pw === password ? Promise.resolve(shared) : real.hash(pw)) };
  const db = createDatabase(config.database);
  await migrateToLatest(db);
  const { engine, administrator } = await openManagedEngine({
    options: config.managedDirectory,
    stores: createManagedDirectoryStores(db),
    dataDir: config.dataDir,
    logger: pino({ level: 'silent' }),
    secrets: config.secrets,
    engine: { passwordHasher: hasher },
  });
  const admin = { id: 'bench-loader', boundDn: administrator.dn, secure: true, remoteAddress: 'bench' };
  const value = (v: string): Buffer[] => [Buffer.from(v)];
  for (let i = 0; i < users; i += 1) {
    const name = `rush${i}`;
    const result = await engine.add(admin, {
      entry: `CN=${name},CN=Users,${engine.baseDn}`,
      attributes: [
        { type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'].map((v) => Buffer.from(v)) },
        { type: 'sAMAccountName', values: value(name) },
        { type: 'userPrincipalName', values: value(`${name}@${config.managedDirectory.domain}`) },
        { type: 'givenName', values: value('Rush') },
        { type: 'sn', values: value(`User ${i}`) },
        { type: 'displayName', values: value(`Rush User ${i}`) },
        { type: 'unicodePwd', values: [encodeUnicodePwd(password)] },
      ],
    });
    if (result.resultCode !== ResultCode.success) throw new Error(`add ${name}: ${JSON.stringify(result)}`);
  }
  await db.destroy();
}

function signIn(agent: http.Agent, url: URL, username: string): Promise<string | null> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ username, password });
    const request = http.request(
      { agent, host: url.hostname, port: url.port, method: 'POST', path: '/api/sign-in', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          if (response.statusCode === 200) return resolve(null);
          resolve(`${response.statusCode} ${Buffer.concat(chunks).toString().slice(0, 120)}`);
        });
        response.on('error', (error) => resolve(`response ${error.message}`));
      },
    );
    request.on('error', (error) => resolve(`http ${error.message}`));
    request.end(body);
  });
}

async function rush(hashing: Hashing, users: number): Promise<Pass> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-bench-rush-'));
  const env: Record<string, string> = {
    PORTICO_DATA_DIR: dataDir,
    PORTICO_LOG__LEVEL: 'warn',
    PORTICO_MANAGEDDIRECTORY__DEMOFOREST: 'false',
    PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0',
    PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0',
    ...(hashing === 'scrypt' ? { RUSH_LEGACY_SCRYPT: '1' } : {}),
  };
  const loadStarted = performance.now();
  await populate(env, hashing, users);
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  const portico = await startPortico(env, await freePort(), [], script);
  try {
    const url = new URL(portico.url);
    const domain = 'portico.test';
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
    // One untimed request on each socket (GET /healthz): the rush measures sign-ins, not TCP setup.
    await Promise.all(Array.from({ length: concurrency }, () => fetch(`${portico.url}/healthz`).then((r) => r.arrayBuffer())));
    const rssBefore = statusKiB(portico.pid, 'VmRSS');
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, statusKiB(portico.pid, 'VmRSS'));
    }, 50);
    const latencies: number[] = [];
    const failures = new Map<string, number>();
    let next = 0;
    const jiffies = machineJiffies();
    const cpuBefore = cpuSeconds([portico.pid]);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < users) {
          const i = next;
          next += 1;
          const t0 = performance.now();
          const failure = await signIn(agent, url, `rush${i}@${domain}`);
          latencies.push(performance.now() - t0);
          if (failure !== null) failures.set(failure, (failures.get(failure) ?? 0) + 1);
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const cpu = cpuSeconds([portico.pid]) - cpuBefore;
    rssPeak = Math.max(rssPeak, statusKiB(portico.pid, 'VmRSS'));
    agent.destroy();
    const failed = [...failures.values()].reduce((a, b) => a + b, 0);
    return {
      hashing,
      users,
      perSecond: (users - failed) / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
      cpuMs: (cpu * 1000) / users,
      rssBeforeMiB: rssBefore / 1024,
      rssPeakMiB: rssPeak / 1024,
      hwmMiB: statusKiB(portico.pid, 'VmHWM') / 1024,
      machineBusy: busyShare(jiffies, machineJiffies()),
      load: loadavg()[0] as number,
      failures,
      loadSeconds,
    };
  } finally {
    await portico.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

console.log(
  `# Morning rush — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at start; ${argonUsers} users (Argon2id) / ${scryptUsers} users (scrypt), concurrency ${concurrency}, ${passes} alternating passes`,
);
const results: Pass[] = [];
for (let i = 0; i < passes; i += 1) {
  const order: Hashing[] = i % 2 === 0 ? ['argon2id', 'scrypt'] : ['scrypt', 'argon2id'];
  for (const hashing of order) {
    const p = await rush(hashing, hashing === 'scrypt' ? scryptUsers : argonUsers);
    results.push(p);
    const failed = [...p.failures].map(([label, count]) => `${label} × ${count}`).join('; ');
    process.stderr.write(
      `pass ${i + 1}/${passes} ${hashing.padEnd(8)} ${p.users} users: ${p.perSecond.toFixed(1)} sign-ins/s  p50 ${p.p50.toFixed(0)} ms  p99 ${p.p99.toFixed(0)} ms  max ${p.max.toFixed(0)} ms  ` +
        `Portico CPU ${p.cpuMs.toFixed(1)} ms/sign-in  RSS ${p.rssBeforeMiB.toFixed(0)} → ${p.rssPeakMiB.toFixed(0)} MiB (HWM ${p.hwmMiB.toFixed(0)})  machine ${(p.machineBusy * 100).toFixed(0)}% busy  load ${p.load.toFixed(1)}  ` +
        `(loaded in ${p.loadSeconds.toFixed(1)} s)  failures ${failed || 0}\n`,
    );
  }
}
const m = (hashing: Hashing, pick: (p: Pass) => number): number => median(results.filter((p) => p.hashing === hashing).map(pick));
const range = (hashing: Hashing, pick: (p: Pass) => number, digits = 1): string => {
  const values = results.filter((p) => p.hashing === hashing).map(pick);
  return values.length > 1 ? ` (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})` : '';
};
console.log(`\n| hashing | users | complete sign-ins/s | p50 ms | p99 ms | max ms | Portico CPU ms per sign-in | Portico RSS before → peak MiB (VmHWM) | machine busy | load avg (1 min, end) |`);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const hashing of ['scrypt', 'argon2id'] as const) {
  console.log(
    `| ${hashing === 'scrypt' ? 'scrypt N=2^15 (before)' : 'Argon2id m=19 MiB, t=2 (now)'} | ${m(hashing, (p) => p.users)} | ${m(hashing, (p) => p.perSecond).toFixed(1)}${range(hashing, (p) => p.perSecond)} | ${m(hashing, (p) => p.p50).toFixed(0)} | ${m(hashing, (p) => p.p99).toFixed(0)}${range(hashing, (p) => p.p99, 0)} | ${m(hashing, (p) => p.max).toFixed(0)} | ${m(hashing, (p) => p.cpuMs).toFixed(1)}${range(hashing, (p) => p.cpuMs)} | ${m(hashing, (p) => p.rssBeforeMiB).toFixed(0)} → ${m(hashing, (p) => p.rssPeakMiB).toFixed(0)} (${m(hashing, (p) => p.hwmMiB).toFixed(0)}) | ${(m(hashing, (p) => p.machineBusy) * 100).toFixed(0)}% | ${m(hashing, (p) => p.load).toFixed(1)} |`,
  );
}
const allFailures = results.reduce((sum, p) => sum + [...p.failures.values()].reduce((a, b) => a + b, 0), 0);
console.log(`\n${results.reduce((s, p) => s + p.users, 0)} sign-ins; ${allFailures === 0 ? 'every one answered 200.' : `${allFailures} failed (see stderr).`}`);
process.exit(0);
