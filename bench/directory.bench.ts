/**
 * Directory server benchmarks: Portico's managed directory beside the Samba AD DC and OpenLDAP
 * slapd, all over LDAPS on loopback.
 *   R. first-bind rates (issue 21): distinct users bind once each, the managed directory's
 *      verified-password cache off, at concurrency 1, 2 and 8, on three managed directories — the
 *      pre-issue-21 scrypt engine, today's Argon2id engine, today's engine upgrading scrypt hashes —
 *      and Samba, taking turns per pass; then a "morning rush" of --rush-users distinct users at
 *      once over 16 connections (binds/s, p50/p99, server RSS). bench/managed-binds-server.ts;
 *   0. first binds: each enabled fixture user binds once, then once more, on the managed directory
 *      and Samba (latency and server CPU per bind). On the managed directory a first bind is a
 *      cache miss (one password hash verification) and the second a hit of its verified-password cache;
 *   1. simple binds per second on already-open connections (ldapts clients rebinding as alice in
 *      a loop), concurrency 1 and 8. These repeat one user and password, so on the managed
 *      directory they are cache hits (one miss per connection's first bind, and one more every
 *      TTL, 5 minutes);
 *   2. indexed searches per second on bound connections (equality on sAMAccountName, uid for
 *      slapd; one entry, four attributes), concurrency 1 and 8;
 *   with each server's CPU time per operation (/proc/<pid>/stat) and this client's. The three
 *   servers take turns within each pass (the order rotates per pass); medians of the passes.
 *   3. memory and load time at scale: a managed directory on a fresh SQLite database, loaded with
 *      N users and N/10 groups through the engine's add/modify (bench/directory-scale.ts, in its
 *      own process), then an indexed search and a bind on it.
 *
 * The managed directory runs in its own Node process (bench/managed-server.ts: the CORP fixture of
 * test/support/managed.ts), so that its CPU is its own. Samba and slapd must already be running:
 *   bash test/samba/dc.sh start && bash test/slapd/slapd.sh start
 * A server that is not running is left out (said in the output).
 *
 * Run: node --import tsx bench/directory.bench.ts [--seconds 4] [--passes 3] [--rate-seconds 4] [--rush-users 1000] [--rush-upgrade] [--no-rates]
 *        [--scale-users 100000] [--scale-max-seconds 480] [--no-scale] [--no-throughput]
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Client } from 'ldapts';
import type { SearchOptions } from 'ldapts';
import { hashPassword, hashPasswordScrypt, legacyScryptParameters, owaspArgon2Parameters, verifyPassword } from '#src/directory/managed/engine/password.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = arg('seconds', 4);
const passes = arg('passes', 3);
const scaleUsers = arg('scale-users', 100_000);
const scaleMaxSeconds = arg('scale-max-seconds', 480);
const runScale = !args.includes('--no-scale');
const runThroughput = !args.includes('--no-throughput');
const runRates = !args.includes('--no-rates');
const rateSeconds = arg('rate-seconds', 4);
const rushUsers = arg('rush-users', 1000);
const rushUpgrade = args.includes('--rush-upgrade');
/** Operations per connection per pass, whatever the time: every loop is bounded in count too. */
const maxOpsPerConnection = 200_000;
const benchDir = new URL('.', import.meta.url).pathname;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** CPU seconds (user + system, all threads) used so far by these processes. */
function cpuSeconds(pids: () => number[]): number {
  const ticks = pids().reduce((sum, pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return sum + Number(fields[11]) + Number(fields[12]);
    } catch {
      return sum;
    }
  }, 0);
  return ticks / 100;
}

interface Target {
  name: string;
  url: string;
  ca: Buffer;
  bindName: string;
  password: string;
  search: { base: string; options: SearchOptions };
  pids: () => number[];
}

interface Pass {
  perSecond: number;
  serverCpuMs: number;
  clientCpuMs: number;
  /** Server CPU seconds per second of the pass: how many cores the server kept busy. */
  serverCores: number;
  /** Share of the machine's CPU time (all cores, /proc/stat) not idle during the pass, whoever used it. */
  machineBusy: number;
}

/** Jiffies since boot over all cores: total and idle (idle + iowait). */
function machineJiffies(): { total: number; idle: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), idle: (fields[3] ?? 0) + (fields[4] ?? 0) };
}

// ---------------------------------------------------------------- the three servers

const cleanups: Array<() => Promise<void> | void> = [];

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Spawns bench/managed-server.ts and waits for its runtime line. */
async function startManaged(): Promise<{ target: Target; child: ChildProcess; startSeconds: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', `${benchDir}managed-server.ts`], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanups.push(() => stopChild(child));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the managed directory did not start within 180 s')), 180_000);
    lines.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the managed directory exited (${code}) before it was ready`));
    });
  });
  const { pid, runtime } = JSON.parse(line) as { pid: number; runtime: { ldapsUrl: string; caFile: string; baseDn: string } };
  const fixture = JSON.parse(readFileSync(new URL('../test/samba/fixture.json', import.meta.url), 'utf8')) as { users: Array<{ key: string; upn: string; password: string }> };
  const alice = fixture.users.find((u) => u.key === 'alice');
  if (!alice) throw new Error('fixture has no alice');
  return {
    child,
    startSeconds: (performance.now() - started) / 1000,
    target: {
      name: 'managed',
      url: runtime.ldapsUrl,
      ca: readFileSync(runtime.caFile),
      bindName: alice.upn,
      password: alice.password,
      search: { base: runtime.baseDn, options: { scope: 'sub', filter: '(sAMAccountName=alice)', attributes: ['sAMAccountName', 'displayName', 'mail', 'userPrincipalName'] } },
      pids: () => [pid],
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function sambaTarget(): Target | null {
  const dir = process.env.PORTICO_SAMBA_DIR ?? '/tmp/portico-samba';
  const runtime = readJson<{ ldapsUrl: string; caFile: string; baseDn: string }>(`${dir}/runtime.json`);
  if (!runtime) return null;
  try {
    execFileSync('bash', [new URL('../test/samba/dc.sh', import.meta.url).pathname, 'status'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const fixture = JSON.parse(readFileSync(new URL('../test/samba/fixture.json', import.meta.url), 'utf8')) as { users: Array<{ key: string; upn: string; password: string }> };
  const alice = fixture.users.find((u) => u.key === 'alice');
  if (!alice) throw new Error('fixture has no alice');
  return {
    name: 'Samba',
    url: runtime.ldapsUrl,
    ca: readFileSync(runtime.caFile),
    bindName: alice.upn,
    password: alice.password,
    search: { base: runtime.baseDn, options: { scope: 'sub', filter: '(sAMAccountName=alice)', attributes: ['sAMAccountName', 'displayName', 'mail', 'userPrincipalName'] } },
    pids: () =>
      execFileSync('pgrep', ['-x', 'samba'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter(Boolean)
        .map(Number),
  };
}

function slapdTarget(): Target | null {
  const dir = process.env.PORTICO_SLAPD_DIR ?? '/tmp/portico-slapd';
  const runtime = readJson<{ ldapsUrl: string; caFile: string; baseDn: string; pid: number; user: { dn: string; uid: string; password: string } }>(`${dir}/runtime.json`);
  if (!runtime) return null;
  try {
    process.kill(runtime.pid, 0);
  } catch {
    return null;
  }
  return {
    name: 'slapd',
    url: runtime.ldapsUrl,
    ca: readFileSync(runtime.caFile),
    bindName: runtime.user.dn,
    password: runtime.user.password,
    search: { base: runtime.baseDn, options: { scope: 'sub', filter: `(uid=${runtime.user.uid})`, attributes: ['uid', 'displayName', 'mail', 'cn'] } },
    pids: () => [runtime.pid],
  };
}

// ---------------------------------------------------------------- measuring

async function openClients(target: Target, count: number): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const client = new Client({ url: target.url, tlsOptions: { ca: [target.ca] }, timeout: 60_000, connectTimeout: 10_000 });
      await client.bind(target.bindName, target.password);
      return client;
    }),
  );
}

type Operation = (target: Target, client: Client) => Promise<void>;

const bindOnce: Operation = async (target, client) => {
  await client.bind(target.bindName, target.password);
};

const searchOnce: Operation = async (target, client) => {
  const { searchEntries } = await client.search(target.search.base, target.search.options);
  if (searchEntries.length !== 1) throw new Error(`${target.name}: the search returned ${searchEntries.length} entries`);
};

async function measure(target: Target, clients: Client[], operation: Operation): Promise<Pass> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const serverBefore = cpuSeconds(target.pids);
  const clientBefore = process.cpuUsage();
  const machineBefore = machineJiffies();
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      for (let n = 0; n < maxOpsPerConnection && performance.now() < deadline; n += 1) {
        await operation(target, client);
        done += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const serverCpu = cpuSeconds(target.pids) - serverBefore;
  const machine = machineJiffies();
  return {
    perSecond: done / elapsed,
    serverCpuMs: (serverCpu * 1000) / done,
    clientCpuMs: (client.user + client.system) / 1000 / done,
    serverCores: serverCpu / elapsed,
    machineBusy: 1 - (machine.idle - machineBefore.idle) / Math.max(1, machine.total - machineBefore.total),
  };
}

interface Row {
  operation: string;
  concurrency: number;
  results: Map<string, Pass[]>;
}

async function throughput(targets: Target[]): Promise<Row[]> {
  const rows: Row[] = [];
  const operations: Array<[string, Operation]> = [
    ['bind', bindOnce],
    ['search', searchOnce],
  ];
  for (const [label, operation] of operations) {
    for (const concurrency of [1, 8]) {
      const pools = new Map<string, Client[]>();
      for (const target of targets) {
        const clients = await openClients(target, concurrency);
        pools.set(target.name, clients);
        // Warm-up: a few operations per connection, untimed.
        await Promise.all(clients.map(async (c) => { for (let i = 0; i < 3; i += 1) await operation(target, c); }));
      }
      const results = new Map<string, Pass[]>(targets.map((t) => [t.name, []]));
      for (let pass = 0; pass < passes; pass += 1) {
        // Rotate who goes first: a slow drift of the machine's load then spreads over all three.
        const order = targets.map((_, i) => targets[(i + pass) % targets.length] as Target);
        for (const target of order) {
          const result = await measure(target, pools.get(target.name) as Client[], operation);
          results.get(target.name)?.push(result);
          process.stderr.write(`[throughput] ${label} c=${concurrency} pass ${pass + 1}/${passes} ${target.name}: ${result.perSecond.toFixed(1)}/s, server ${result.serverCpuMs.toFixed(2)} ms, client ${result.clientCpuMs.toFixed(2)} ms per op; server busy ${result.serverCores.toFixed(2)} cores, machine ${(100 * result.machineBusy).toFixed(0)}% busy\n`);
        }
      }
      for (const clients of pools.values()) await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
      rows.push({ operation: label, concurrency, results });
    }
  }
  return rows;
}

function printThroughput(rows: Row[], targets: Target[]): void {
  const names = targets.map((t) => t.name);
  const others = names.filter((n) => n !== 'managed');
  const has = (n: string): boolean => names.includes(n);
  const med = (row: Row, name: string, key: keyof Pass): number => median((row.results.get(name) ?? []).map((p) => p[key]));
  console.log(`\n## Operations per second (${seconds} s per pass, ${passes} passes, servers in turn, medians)\n`);
  console.log(`| operation | concurrency | ${names.map((n) => `${n} /s`).join(' | ')} | ${others.filter(() => has('managed')).map((n) => `managed/${n}`).join(' | ')} |`);
  console.log(`|---|---:|${names.map(() => '---:').join('|')}|${others.filter(() => has('managed')).map(() => '---:').join('|')}|`);
  for (const row of rows) {
    const ratios = has('managed') ? others.map((n) => (med(row, 'managed', 'perSecond') / med(row, n, 'perSecond')).toFixed(3)) : [];
    console.log(`| ${row.operation} | ${row.concurrency} | ${names.map((n) => med(row, n, 'perSecond').toFixed(1)).join(' | ')} | ${ratios.join(' | ')} |`);
  }
  console.log(`\n## CPU ms per operation (medians): server (/proc/<pid>/stat, all threads) and this client (ldapts)\n`);
  console.log(`| operation | concurrency | ${names.map((n) => `${n} server`).join(' | ')} | ${names.map((n) => `client (${n})`).join(' | ')} |`);
  console.log(`|---|---:|${names.map(() => '---:').join('|')}|${names.map(() => '---:').join('|')}|`);
  for (const row of rows) {
    console.log(
      `| ${row.operation} | ${row.concurrency} | ${names.map((n) => med(row, n, 'serverCpuMs').toFixed(2)).join(' | ')} | ${names.map((n) => med(row, n, 'clientCpuMs').toFixed(2)).join(' | ')} |`,
    );
  }
  console.log(`\n## Cores the server kept busy, and the whole machine's busy share (medians; 2 cores = 100%)\n`);
  console.log(`| operation | concurrency | ${names.map((n) => `${n} cores`).join(' | ')} | ${names.map((n) => `machine busy (${n})`).join(' | ')} |`);
  console.log(`|---|---:|${names.map(() => '---:').join('|')}|${names.map(() => '---:').join('|')}|`);
  for (const row of rows) {
    console.log(
      `| ${row.operation} | ${row.concurrency} | ${names.map((n) => med(row, n, 'serverCores').toFixed(2)).join(' | ')} | ${names.map((n) => `${(100 * med(row, n, 'machineBusy')).toFixed(0)}%`).join(' | ')} |`,
    );
  }
}

// ---------------------------------------------------------------- first binds

/** Rounds of repeat binds after the first ones (enough binds for a CPU figure at 10 ms ticks). */
const repeatRounds = 20;

interface FirstBinds {
  target: string;
  users: number;
  firstMs: number[];
  secondMs: number[];
  firstServerCpuMs: number;
  secondServerCpuMs: number;
}

/**
 * Each enabled user of the fixture binds once (on the managed directory: a miss of the
 * verified-password cache, so one hash verification), then all of them again `repeatRounds`
 * times (hits), one bind at a time on one open connection. Run before anything else binds these
 * users on the managed process.
 */
async function firstBinds(targets: Target[]): Promise<FirstBinds[]> {
  const fixture = JSON.parse(readFileSync(new URL('../test/samba/fixture.json', import.meta.url), 'utf8')) as { users: Array<{ upn: string; password: string; state: string }> };
  const users = fixture.users.filter((u) => u.state === 'ok');
  const out: FirstBinds[] = [];
  for (const target of targets.filter((t) => t.name === 'managed' || t.name === 'Samba')) {
    const client = new Client({ url: target.url, tlsOptions: { ca: [target.ca] }, timeout: 60_000, connectTimeout: 10_000 });
    const rounds = async (count: number): Promise<{ ms: number[]; serverCpuMs: number }> => {
      const ms: number[] = [];
      const before = cpuSeconds(target.pids);
      for (let i = 0; i < count; i += 1) {
        for (const user of users) {
          const t = performance.now();
          await client.bind(user.upn, user.password);
          ms.push(performance.now() - t);
        }
      }
      return { ms, serverCpuMs: ((cpuSeconds(target.pids) - before) * 1000) / ms.length };
    };
    const first = await rounds(1);
    const second = await rounds(repeatRounds);
    await client.unbind().catch(() => undefined);
    out.push({ target: target.name, users: users.length, firstMs: first.ms, secondMs: second.ms, firstServerCpuMs: first.serverCpuMs, secondServerCpuMs: second.serverCpuMs });
    process.stderr.write(`[first binds] ${target.name}: first ${first.ms.map((m) => m.toFixed(1)).join(', ')} ms; repeats median ${median(second.ms).toFixed(1)} ms\n`);
  }
  return out;
}

function printFirstBinds(results: FirstBinds[]): void {
  if (results.length === 0) return;
  const range = (values: number[]): string => `${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})`;
  console.log(`\n## First binds of each enabled fixture user, then ${repeatRounds} rounds of repeat binds (one at a time, one open connection)\n`);
  console.log('| server | users | first bind ms, median (min–max) | server CPU ms per first bind | repeat bind ms | server CPU ms per repeat bind |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.target} | ${r.users} | ${range(r.firstMs)} | ${r.firstServerCpuMs.toFixed(1)} | ${range(r.secondMs)} | ${r.secondServerCpuMs.toFixed(1)} |`);
  }
}

// ---------------------------------------------------------------- first-bind rates (issue 21)

interface HashingServer {
  hashing: string;
  child: ChildProcess;
  url: string;
  ca: Buffer;
  pid: number;
  password: string;
  upnSuffix: string;
  /** Next user never bound yet: every bind of this section is a first bind (and the cache is off anyway). */
  next: number;
  users: number;
}

/** Spawns bench/managed-binds-server.ts and waits for its JSON line. */
async function startHashingServer(hashing: string, users: number): Promise<HashingServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', `${benchDir}managed-binds-server.ts`, '--hashing', hashing, '--users', String(users)], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanups.push(() => stopChild(child));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${hashing} directory did not start within 300 s`)), 300_000);
    lines.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${hashing} directory exited (${code}) before it was ready`));
    });
  });
  const info = JSON.parse(line) as { pid: number; ldapsUrl: string; caPem: string; upnSuffix: string; password: string; users: number };
  return { hashing, child, url: info.ldapsUrl, ca: Buffer.from(info.caPem), pid: info.pid, password: info.password, upnSuffix: info.upnSuffix, next: 0, users: info.users };
}

interface RateTarget {
  name: string;
  url: string;
  ca: Buffer;
  pids: () => number[];
  /** The next bind's credentials; null when no distinct user is left. */
  take: () => { name: string; password: string } | null;
}

function hashingTarget(server: HashingServer): RateTarget {
  return {
    name: `managed (${server.hashing})`,
    url: server.url,
    ca: server.ca,
    pids: () => [server.pid],
    take: () => (server.next < server.users ? { name: `rush${server.next++}${server.upnSuffix}`, password: server.password } : null),
  };
}

/** Samba has no verified-password cache: its enabled fixture users in turn, right passwords only (never a lockout). */
function sambaRateTarget(samba: Target): RateTarget {
  const fixture = JSON.parse(readFileSync(new URL('../test/samba/fixture.json', import.meta.url), 'utf8')) as { users: Array<{ upn: string; password: string; state: string }> };
  const users = fixture.users.filter((u) => u.state === 'ok');
  let i = 0;
  return { name: 'Samba', url: samba.url, ca: samba.ca, pids: samba.pids, take: () => { const u = users[i++ % users.length] as { upn: string; password: string }; return { name: u.upn, password: u.password }; } };
}

interface RateResult {
  perSecond: number;
  binds: number;
  serverCpuMs: number;
  ms: number[];
  peakRssMiB: number;
}

function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** `concurrency` open connections bind distinct users as fast as they can, for `seconds` or `maxBinds`. */
async function bindRate(target: RateTarget, concurrency: number, seconds: number, maxBinds = Number.MAX_SAFE_INTEGER): Promise<RateResult> {
  const clients = Array.from({ length: concurrency }, () => new Client({ url: target.url, tlsOptions: { ca: [target.ca] }, timeout: 120_000, connectTimeout: 10_000 }));
  // Connect (TLS) before timing: a first search per connection; anonymous searches of the rootDSE are allowed.
  await Promise.all(clients.map((c) => c.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['namingContexts'] })));
  const ms: number[] = [];
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, ...target.pids().map(rssMiB))), 50);
  const cpuBefore = cpuSeconds(target.pids);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let issued = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline && issued < maxBinds) {
        const credentials = target.take();
        if (!credentials) return;
        issued += 1;
        const t = performance.now();
        await client.bind(credentials.name, credentials.password);
        ms.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const serverCpuMs = ((cpuSeconds(target.pids) - cpuBefore) * 1000) / Math.max(ms.length, 1);
  await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
  return { perSecond: ms.length / elapsed, binds: ms.length, serverCpuMs, ms, peakRssMiB: peakRss };
}

const rateLevels = [1, 2, 8];
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

/**
 * First binds per second (distinct users, the managed directory's cache off) at c=1/2/8: the
 * pre-issue-21 scrypt engine, today's Argon2id engine, today's engine upgrading scrypt hashes, and
 * Samba, taking turns within each pass (order rotating), medians of the passes. Then the morning
 * rush: `rushUsers` distinct users at once over 16 connections, per hashing.
 */
async function firstBindRates(samba: Target | null): Promise<void> {
  const perLevelGuess = 80 * rateSeconds * passes;
  const servers = await Promise.all(['scrypt', 'argon2id', 'upgrade'].map((h) => startHashingServer(h, perLevelGuess * rateLevels.length + rushUsers)));
  const targets: RateTarget[] = servers.map(hashingTarget);
  if (samba) targets.push(sambaRateTarget(samba));
  const results = new Map<string, RateResult[]>();
  for (let pass = 0; pass < passes; pass += 1) {
    const order = targets.map((_, i) => targets[(i + pass) % targets.length] as RateTarget);
    for (const concurrency of rateLevels) {
      for (const target of order) {
        const result = await bindRate(target, concurrency, rateSeconds);
        const key = `${target.name}|${concurrency}`;
        results.set(key, [...(results.get(key) ?? []), result]);
        process.stderr.write(`[first-bind rates] pass ${pass + 1}/${passes} c=${concurrency} ${target.name}: ${result.perSecond.toFixed(1)}/s (${result.binds} binds), server ${result.serverCpuMs.toFixed(1)} ms CPU per bind, load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}\n`);
      }
    }
  }
  console.log(`\n## First binds per second (distinct users, managed cache off), ${rateSeconds} s per measurement, median of ${passes} alternating passes (min–max)\n`);
  console.log(`| server | ${rateLevels.map((c) => `c=${c} binds/s`).join(' | ')} | ${rateLevels.map((c) => `c=${c} server CPU ms/bind`).join(' | ')} | c=8 p50 / p99 ms |`);
  console.log(`|---|${rateLevels.map(() => '---:').join('|')}|${rateLevels.map(() => '---:').join('|')}|---:|`);
  for (const target of targets) {
    const at = (c: number): RateResult[] => results.get(`${target.name}|${c}`) ?? [];
    const rates = rateLevels.map((c) => { const r = at(c).map((x) => x.perSecond); return `${median(r).toFixed(1)} (${Math.min(...r).toFixed(1)}–${Math.max(...r).toFixed(1)})`; });
    const cpu = rateLevels.map((c) => median(at(c).map((x) => x.serverCpuMs)).toFixed(1));
    const ms8 = at(8).flatMap((x) => x.ms);
    console.log(`| ${target.name} | ${rates.join(' | ')} | ${cpu.join(' | ')} | ${percentile(ms8, 50).toFixed(0)} / ${percentile(ms8, 99).toFixed(0)} |`);
  }
  if (rushUsers > 0) {
    console.log(`\n## Morning rush: ${rushUsers} distinct users sign in at once (one LDAPS bind each over 16 connections; cache off)\n`);
    console.log('| hashing | binds/s | p50 ms | p99 ms | max ms | server RSS before → peak MiB | server CPU ms/bind |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const server of servers.filter((s) => s.hashing !== 'upgrade' || rushUpgrade)) {
      const target = hashingTarget(server);
      const before = rssMiB(server.pid);
      const result = await bindRate(target, 16, 3600, rushUsers);
      process.stderr.write(`[morning rush] ${server.hashing}: ${result.binds} binds, ${result.perSecond.toFixed(1)}/s\n`);
      console.log(`| ${server.hashing} | ${result.perSecond.toFixed(1)} | ${percentile(result.ms, 50).toFixed(0)} | ${percentile(result.ms, 99).toFixed(0)} | ${Math.max(...result.ms).toFixed(0)} | ${before.toFixed(0)} → ${result.peakRssMiB.toFixed(0)} | ${result.serverCpuMs.toFixed(1)} |`);
    }
  }
  for (const server of servers) await stopChild(server.child);
}

// ---------------------------------------------------------------- scale

interface ScaleResult {
  users: number;
  groups: number;
  passwordUsers: number;
  links: number;
  nestModifies: number;
  nestedLinks: number;
  entries: number;
  usersPerSecond: number;
  passwordUserMs: number;
  groupsPerSecond: number;
  nestSeconds: number;
  loadSeconds: number;
  entriesPerSecond: number;
  memoryAtStart: { rssMiB: number; heapUsedMiB: number };
  memoryAfterLoad: { rssMiB: number; heapUsedMiB: number };
  memoryAfterQueries: { rssMiB: number; heapUsedMiB: number };
  filesAfterLoad: { dbMiB: number; walMiB: number };
  filesAfterCheckpoint: { dbMiB: number; walMiB: number };
  bindMs: { median: number; min: number; max: number; runs: number };
  searchMs: { median: number; min: number; max: number; runs: number };
  tokenGroupsMs: { median: number; min: number; max: number; runs: number; groups: number };
  totalSeconds: number;
}

type ScaleOutcome = { ok: true; result: ScaleResult } | { ok: false; projected: boolean; message: string };

async function scaleRun(users: number, maxSeconds: number): Promise<ScaleOutcome> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', `${benchDir}directory-scale.ts`, '--users', String(users), '--groups', String(Math.round(users / 10)), '--password-users', '100', '--max-seconds', String(maxSeconds)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(() => stopChild(child));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    process.stderr.write(chunk);
  });
  // The child keeps its own deadline; this one only catches a hung child.
  const killer = setTimeout(() => child.kill('SIGKILL'), (maxSeconds + 180) * 1000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code === 0 && line.startsWith('{')) return { ok: true, result: JSON.parse(line) as ScaleResult };
  const reason = stderr.split('\n').reverse().find((l) => l.includes('Error')) ?? stderr.trim().split('\n').slice(-3).join(' / ');
  return { ok: false, projected: stderr.includes('projected load time'), message: reason.trim() };
}

function printScale(results: ScaleResult[]): void {
  console.log('\n## Managed directory at scale (fresh SQLite, loaded through the engine as Administrator, own process)\n');
  console.log('| users | groups | links (user + nested) | load s | entries/s | users/s | groups/s | RSS start MiB | RSS after load | RSS after queries | heap after queries | SQLite MiB (db + WAL after load) | after checkpoint | indexed search ms (median, min–max) | bind ms (median, min–max) | tokenGroups read ms (groups) |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.users} | ${r.groups} | ${r.links} + ${r.nestedLinks} | ${r.loadSeconds.toFixed(0)} | ${r.entriesPerSecond.toFixed(0)} | ${r.usersPerSecond.toFixed(0)} | ${r.groupsPerSecond.toFixed(0)} | ${r.memoryAtStart.rssMiB} | ${r.memoryAfterLoad.rssMiB} | ${r.memoryAfterQueries.rssMiB} | ${r.memoryAfterQueries.heapUsedMiB} | ${r.filesAfterLoad.dbMiB} + ${r.filesAfterLoad.walMiB} | ${r.filesAfterCheckpoint.dbMiB} | ${r.searchMs.median.toFixed(2)} (${r.searchMs.min.toFixed(2)}–${r.searchMs.max.toFixed(2)}) | ${r.bindMs.median.toFixed(0)} (${r.bindMs.min.toFixed(0)}–${r.bindMs.max.toFixed(0)}) | ${r.tokenGroupsMs.median.toFixed(2)} (${r.tokenGroupsMs.groups}) |`,
    );
  }
  for (const r of results) {
    console.log(`\n${r.users} users: the ${r.passwordUsers} users with a password took ${r.passwordUserMs.toFixed(0)} ms each to add (one password hash); ${r.nestModifies} modifies nested groups in ${r.nestSeconds.toFixed(1)} s; whole child ${r.totalSeconds.toFixed(0)} s.`);
  }
}

// ---------------------------------------------------------------- main

const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`# Directory benchmark — ${new Date().toISOString()}, Node ${process.version}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores, load average ${loadavg}`);
const benchStarted = performance.now();
try {
  if (runRates) await firstBindRates(sambaTarget());
  if (runThroughput) {
    const targets: Target[] = [];
    const managed = await startManaged();
    targets.push(managed.target);
    console.log(`managed directory: ${managed.target.url} (pid ${managed.child.pid}, CORP fixture, started in ${managed.startSeconds.toFixed(1)} s)`);
    const samba = sambaTarget();
    if (samba) targets.push(samba);
    console.log(samba ? `Samba: ${samba.url} (samba pids ${samba.pids().join(', ')})` : 'Samba: not running (bash test/samba/dc.sh start), left out');
    const slapd = slapdTarget();
    if (slapd) targets.push(slapd);
    console.log(slapd ? `slapd: ${slapd.url} (pid ${slapd.pids().join(', ')})` : 'slapd: not running (bash test/slapd/slapd.sh start), left out');
    const first = await firstBinds(targets);
    printFirstBinds(first);
    const rows = await throughput(targets);
    printThroughput(rows, targets);
    // What one password verification costs by itself, in this process, one at a time.
    for (const [label, hash] of [
      [`scrypt N=${legacyScryptParameters.N}, r=${legacyScryptParameters.r}, p=${legacyScryptParameters.p} (before)`, await hashPasswordScrypt('Tulip-Meadow-71!')],
      [`Argon2id m=${owaspArgon2Parameters.memoryKiB} KiB, t=${owaspArgon2Parameters.timeCost}, p=${owaspArgon2Parameters.parallelism} (now)`, await hashPassword('Tulip-Meadow-71!')],
    ] as const) {
      const times: number[] = [];
      const cpuBefore = process.cpuUsage();
      for (let i = 0; i < 7; i += 1) {
        const t = performance.now();
        await verifyPassword('Tulip-Meadow-71!', hash);
        times.push(performance.now() - t);
      }
      const cpu = process.cpuUsage(cpuBefore);
      console.log(`\nOne ${label} verification in this process, one at a time: ${median(times).toFixed(0)} ms median (${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)}), ${((cpu.user + cpu.system) / 1000 / times.length).toFixed(0)} ms CPU each.`);
    }
    await stopChild(managed.child);
  }
  if (runScale) {
    const results: ScaleResult[] = [];
    const first = await scaleRun(scaleUsers, scaleMaxSeconds);
    if (first.ok) {
      results.push(first.result);
    } else {
      console.log(
        `\n${scaleUsers} users ${first.projected ? 'were projected to take' : 'did not load within'} more than ${scaleMaxSeconds} s on this machine (${first.message}): measuring 20,000 and 50,000 users instead.`,
      );
      for (const users of [20_000, 50_000].filter((n) => n < scaleUsers)) {
        const outcome = await scaleRun(users, scaleMaxSeconds);
        if (outcome.ok) results.push(outcome.result);
        else console.log(`${users} users: failed (${outcome.message})`);
      }
    }
    if (results.length > 0) printScale(results);
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
console.log(`\nwhole benchmark: ${((performance.now() - benchStarted) / 1000).toFixed(0)} s`);
