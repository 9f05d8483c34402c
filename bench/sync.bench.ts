/**
 * AD sync at scale (issue 18) from the managed directory: a real Portico (`portico start`, its own
 * process) in managed mode on the data directory `bench/directory-scale.ts --keep` loaded (100,000
 * users, 10,000 groups with 302,000 memberships), syncing through its own connector over LDAPS.
 * The directory runs in Portico's process (Portico refuses its own managed directory through a
 * connector), so CPU and RSS include it. The scope is one group whose members are the first N
 * bench groups.
 *
 * Measures, with the default sync settings (poll every 5 s, batches of 500, 2 in flight):
 * - the initial (full) sync: time, Portico CPU, peak RSS, users and groups written;
 * - sign-in p50/p99 (c=1, the 100 password users in turn) idle, then while the initial sync runs;
 * - incremental cost: K users' displayName changed at once, Portico CPU until all are in the store,
 *   less the idle polling CPU over the same time, per object;
 * - lag from a change (one displayName) to the store, p50/p99 over L changes at random moments.
 *
 * Run: node --import tsx bench/sync.bench.ts --data-dir /tmp/portico-scale-XXXX [--scope-groups 10000]
 *        [--changes 200] [--lag-samples 20] [--signin-seconds 20]
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import SqliteDriver from 'better-sqlite3';
import { Attribute, Change, Client } from 'ldapts';
import { guidToBytes, guidToString } from '#src/directory/ad-codec.ts';
import { cpuSeconds, freePort, median, percentile, porticoCli, startPortico, type PorticoProcess } from './portico-process.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] as string) : fallback;
};
const dataDir = option('data-dir', '');
if (!dataDir) throw new Error('--data-dir: the directory bench/directory-scale.ts --keep left');
const scopeGroups = Number(option('scope-groups', '10000'));
const changeCount = Number(option('changes', '200'));
const lagSamples = Number(option('lag-samples', '20'));
const signInSeconds = Number(option('signin-seconds', '20'));
const log = (message: string): void => void process.stderr.write(`[sync-bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
const rssMiB = (pid: number): number => {
  const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
};

// Portico refuses its own managed directory through a connector: it runs in managed mode on the
// kept data directory, so the directory's CPU and memory are inside Portico's figures.
const ldapsPort = await freePort();
const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
const base = 'DC=corp,DC=example,DC=test';
const administrator = { dn: `CN=Administrator,CN=Users,${base}`, password: 'Admin-Secret-Scale-1!' };
const scopeName = `syncscope${scopeGroups}`;
const scopeGroup = `${scopeName}@corp.example.test`;
const env: Record<string, string> = {
  PORTICO_DATA_DIR: dataDir,
  PORTICO_LOG__LEVEL: 'warn',
  PORTICO_MANAGEDDIRECTORY__DOMAIN: 'corp.example.test',
  PORTICO_MANAGEDDIRECTORY__NETBIOSNAME: 'CORP',
  PORTICO_MANAGEDDIRECTORY__DEMOFOREST: 'false',
  PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0',
  PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: String(ldapsPort),
};
log(`load average ${load()}; Portico in managed mode on ${dataDir}`);
let portico: PorticoProcess | null = null;
const ldap = new Client({ url: ldapsUrl, tlsOptions: { rejectUnauthorized: false } });
try {
  portico = await startPortico(env, await freePort());
  const pid = portico.pid;
  const url = portico.url;
  await ldap.bind(administrator.dn, administrator.password);
  // The scope: one group whose members are the first N bench groups (added once per N).
  await ldap
    .add(`CN=${scopeName},OU=Bench Groups,${base}`, {
      objectClass: 'group',
      sAMAccountName: scopeName,
      groupType: String(0x80000002 | 0),
      member: Array.from({ length: scopeGroups }, (_, i) => `CN=bgroup${String(i + 1).padStart(5, '0')},OU=Bench Groups,${base}`),
    })
    .catch((error: unknown) => {
      if ((error as { code?: number }).code !== 68) throw error; // entryAlreadyExists: an earlier run added it
    });
  const { token } = JSON.parse(await porticoCli(['admin', 'bootstrap-token', '--reset', '--json'], env)) as { token: string };
  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}/admin/api${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const signIn = async (i: number): Promise<number> => {
    const n = String(1 + (i % 100)).padStart(6, '0');
    const started = performance.now();
    const response = await fetch(`${url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `bench${n}@corp.example.test`, password: `Bench-Pw-${n}!` }) });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`sign-in of bench${n}: ${response.status}`);
    return performance.now() - started;
  };
  const signInsWhile = async (keepGoing: () => boolean): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; keepGoing(); i += 1) times.push(await signIn(i));
    return times;
  };

  // ---- sign-in idle (after one warm-up round: each password user's first bind is a scrypt hash)
  log('warming up sign-ins');
  for (let i = 0; i < 100; i += 1) await signIn(i);
  const idleUntil = performance.now() + signInSeconds * 1000;
  const idle = await signInsWhile(() => performance.now() < idleUntil);
  log(`idle sign-in p50 ${median(idle).toFixed(1)} ms p99 ${percentile(idle, 99).toFixed(1)} ms (${idle.length})`);
  const idleCpuStart = cpuSeconds([pid]);
  await sleep(10_000);
  const idleCpuPerSecond = (cpuSeconds([pid]) - idleCpuStart) / 10;

  // ---- initial sync (the scope change starts a full reconciliation at the next poll)
  interface Status {
    running: boolean;
    progress: { phase: string; usersDone: number; usersTotal: number; groupsDone: number; groupsTotal: number } | null;
    lastRun: { mode: string; durationMs: number; usersCreated: number; usersInScope: number; groupsWritten: number; groupsInScope: number; errors: unknown[] } | null;
    entries: Array<{ state: string; users: number; groups: number; errors: unknown[] }>;
  }
  const loadAtStart = load();
  const cpuBefore = cpuSeconds([pid]);
  const rssBefore = rssMiB(pid);
  let peakRss = rssBefore;
  const wallStart = performance.now();
  // By objectGUID: an indexed read (a name is also matched against cn, which the managed directory scans).
  const scopeEntry = (await ldap.search(`CN=${scopeName},OU=Bench Groups,${base}`, { scope: 'base', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] })).searchEntries[0];
  if (!scopeEntry) throw new Error(`no ${scopeGroup}`);
  await admin('POST', '/sync/scope', { kind: 'group', name: guidToString(scopeEntry.objectGUID as Buffer) });
  let done = false;
  const during = signInsWhile(() => !done);
  let status: Status;
  for (;;) {
    await sleep(1000);
    peakRss = Math.max(peakRss, rssMiB(pid));
    status = await admin<Status>('GET', '/sync');
    if (status.progress) log(`sync ${status.progress.phase}: users ${status.progress.usersDone}/${status.progress.usersTotal}, groups ${status.progress.groupsDone}/${status.progress.groupsTotal}`);
    if (!status.running && status.lastRun?.mode === 'full') break;
  }
  done = true;
  const busy = await during;
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const syncCpu = cpuSeconds([pid]) - cpuBefore;
  const run = status.lastRun;
  const initial = {
    usersInScope: run.usersInScope,
    groupsInScope: run.groupsInScope,
    usersCreated: run.usersCreated,
    groupsWritten: run.groupsWritten,
    errors: run.errors.length,
    runSeconds: run.durationMs / 1000,
    wallSeconds,
    porticoCpuSeconds: syncCpu,
    rssBeforeMiB: rssBefore,
    peakRssMiB: peakRss,
    loadAtStart,
    loadAtEnd: load(),
  };
  log(`initial sync: ${JSON.stringify(initial)}`);
  const signInDuring = { count: busy.length, p50: median(busy), p99: percentile(busy, 99) };
  log(`sign-in during sync p50 ${signInDuring.p50.toFixed(1)} p99 ${signInDuring.p99.toFixed(1)} (${busy.length})`);

  // ---- the store, read directly (read-only) to see when a change arrived
  const store = new SqliteDriver(join(dataDir, 'portico.db'), { readonly: true, fileMustExist: true });
  const recordOf = store.prepare('SELECT record_json FROM identity_users WHERE guid = ? AND removed_at IS NULL');
  // Users in scope: those with a record (sampled for the changes).
  const guids = (store.prepare('SELECT guid FROM identity_users WHERE removed_at IS NULL ORDER BY random() LIMIT ?').all(changeCount + lagSamples) as Array<{ guid: string }>).map((r) => r.guid);
  const dnOf = async (guid: string): Promise<string> => {
    const bytes = guidToBytes(guid);
    const { searchEntries } = await ldap.search('DC=corp,DC=example,DC=test', { filter: `(objectGUID=${[...bytes].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('')})`, attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] });
    const entry = searchEntries[0];
    if (!entry || guidToString(entry.objectGUID as Buffer) !== guid) throw new Error(`no entry for ${guid}`);
    return entry.dn;
  };
  const setName = (dn: string, name: string) => ldap.modify(dn, [new Change({ operation: 'replace', modification: new Attribute({ type: 'displayName', values: [name] }) })]);
  const hasName = (guid: string, name: string): boolean => ((recordOf.get(guid) as { record_json: string } | undefined)?.record_json ?? '').includes(`"${name}"`);

  // ---- incremental cost per changed object
  const batchGuids = guids.slice(0, changeCount);
  const batchDns = await Promise.all(batchGuids.map(dnOf));
  const stamp = Date.now().toString(36);
  const incCpuBefore = cpuSeconds([pid]);
  const incStart = performance.now();
  for (let i = 0; i < batchDns.length; i += 1) await setName(batchDns[i] as string, `Changed ${stamp} ${i}`);
  for (;;) {
    if (batchGuids.every((g, i) => hasName(g, `Changed ${stamp} ${i}`))) break;
    if (performance.now() - incStart > 600_000) throw new Error('incremental changes not in the store after 600 s');
    await sleep(200);
  }
  const incSeconds = (performance.now() - incStart) / 1000;
  const incCpu = cpuSeconds([pid]) - incCpuBefore;
  const incremental = { objects: changeCount, seconds: incSeconds, porticoCpuSeconds: incCpu, idleCpuPerSecond, cpuMsPerObject: ((incCpu - idleCpuPerSecond * incSeconds) / changeCount) * 1000 };
  log(`incremental: ${JSON.stringify(incremental)}`);

  // ---- lag from a change to the store
  const lags: number[] = [];
  for (let i = 0; i < lagSamples; i += 1) {
    await sleep(Math.random() * 5000);
    const guid = guids[changeCount + i] as string;
    const dn = await dnOf(guid);
    const name = `Lag ${stamp} ${i}`;
    const changedAt = performance.now();
    await setName(dn, name);
    while (!hasName(guid, name)) {
      if (performance.now() - changedAt > 600_000) throw new Error('a change was not in the store after 600 s');
      await sleep(50);
    }
    lags.push((performance.now() - changedAt) / 1000);
    log(`lag ${i + 1}/${lagSamples}: ${lags.at(-1)?.toFixed(2)} s`);
  }
  store.close();
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cores: cpus().length,
    scopeGroups,
    initial,
    signIn: { idle: { count: idle.length, p50: median(idle), p99: percentile(idle, 99) }, duringInitialSync: signInDuring },
    incremental,
    lagSeconds: { samples: lags.length, p50: median(lags), p99: percentile(lags, 99), max: Math.max(...lags) },
    loadAtEnd: load(),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await ldap.unbind().catch(() => undefined);
  await portico?.stop();
}

