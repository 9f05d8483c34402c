/**
 * Helper for bench/directory.bench.ts (run in its own Node process, so that its memory is its
 * own): starts Portico's managed directory on a fresh SQLite database, loads N users and G groups
 * through the engine's add/modify as Administrator, then measures an indexed search and a bind
 * over LDAPS. Prints progress on stderr and one JSON line with the results on stdout.
 *
 * Users `bench000001`… in OU=Bench Users, without password and disabled (as AD allows for bulk
 * fixtures), except the first `--password-users` (enabled, password `Bench-Pw-000001!`…). Groups
 * `bgroup00001`… in OU=Bench Groups, each created with 10–50 random user members; every fifth
 * group then gets 1–3 lower-numbered groups added as members by a modify (nesting, chains).
 *
 * Run: node --import tsx bench/directory-scale.ts [--users 100000] [--groups 10000]
 *        [--password-users 100] [--max-seconds 600] [--keep]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { sql } from 'kysely';
import { pino } from 'pino';
import { ResultCode } from '#src/directory/managed/backend.ts';
import type { Session } from '#src/directory/managed/backend.ts';
import { startManagedDirectory } from '#src/directory/managed/index.ts';
import { managedDirectoryOptionsSchema } from '#src/directory/managed/options.ts';
import { createDatabase, createManagedDirectoryStores, migrateToLatest } from '#src/storage/index.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const userCount = arg('users', 100_000);
const groupCount = arg('groups', 10_000);
const passwordUsers = Math.min(arg('password-users', 100), userCount);
const maxSeconds = arg('max-seconds', 600);
const keep = args.includes('--keep');

const domain = 'corp.example.test';
const base = 'DC=corp,DC=example,DC=test';
const adminPassword = 'Admin-Secret-Scale-1!';
const usersOu = `OU=Bench Users,${base}`;
const groupsOu = `OU=Bench Groups,${base}`;
const sam = (i: number): string => `bench${String(i).padStart(6, '0')}`;
const password = (i: number): string => `Bench-Pw-${String(i).padStart(6, '0')}!`;
const userDn = (i: number): string => `CN=${sam(i)},${usersOu}`;
const groupSam = (g: number): string => `bgroup${String(g).padStart(5, '0')}`;
const groupDn = (g: number): string => `CN=${groupSam(g)},${groupsOu}`;
const text = (value: string): Buffer[] => [Buffer.from(value, 'utf8')];
const log = (message: string): void => void process.stderr.write(`[scale] ${message}\n`);

/** Deterministic PRNG (mulberry32): the same directory on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(20261126);
const randomInt = (n: number): number => Math.floor(random() * n);

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;
const memory = (): { rssMiB: number; heapUsedMiB: number } => {
  const m = process.memoryUsage();
  return { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed) };
};
const fileSize = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

const started = performance.now();
const deadline = started + maxSeconds * 1000;
const checkDeadline = (what: string): void => {
  if (performance.now() > deadline) throw new Error(`scale: over --max-seconds ${maxSeconds} while ${what}`);
};

const dataDir = mkdtempSync(join(tmpdir(), 'portico-scale-'));
const dbFile = join(dataDir, 'portico.db');
const db = createDatabase({ driver: 'sqlite', sqlite: { file: dbFile } });
await migrateToLatest(db);
const directory = await startManagedDirectory({
  options: managedDirectoryOptionsSchema.parse({
    domain,
    netbiosName: 'CORP',
    listen: { host: '127.0.0.1', ldapPort: 0, ldapsPort: 0 },
    demoForest: false,
    administratorPassword: adminPassword,
  }),
  stores: createManagedDirectoryStores(db),
  dataDir,
  logger: pino({ level: 'silent' }),
});
const engine = directory.engine;
const admin: Session = { id: 'scale-admin', boundDn: directory.administrator.dn, secure: true, remoteAddress: 'scale' };
const memoryAtStart = memory();

async function ok(what: string, pending: Promise<{ resultCode: number; diagnosticMessage?: string }>): Promise<void> {
  const result = await pending;
  if (result.resultCode !== ResultCode.success) throw new Error(`scale: ${what} failed (${result.resultCode}): ${result.diagnosticMessage ?? ''}`);
}

try {
  for (const ou of [usersOu, groupsOu]) {
    await ok(ou, engine.add(admin, { entry: ou, attributes: [{ type: 'objectClass', values: text('organizationalUnit') }] }));
  }

  // ---- users
  const usersStarted = performance.now();
  let passwordMs = 0;
  for (let i = 1; i <= userCount; i += 1) {
    const withPassword = i <= passwordUsers;
    const opStarted = withPassword ? performance.now() : 0;
    await ok(
      sam(i),
      engine.add(admin, {
        entry: userDn(i),
        attributes: [
          { type: 'objectClass', values: text('user') },
          { type: 'sAMAccountName', values: text(sam(i)) },
          { type: 'userPrincipalName', values: text(`${sam(i)}@${domain}`) },
          { type: 'givenName', values: text(`Bench${i % 997}`) },
          { type: 'sn', values: text(`User${i}`) },
          { type: 'displayName', values: text(`Bench User ${i}`) },
          { type: 'mail', values: text(`${sam(i)}@${domain}`) },
          { type: 'department', values: text(`Dept ${i % 50}`) },
          { type: 'title', values: text(`Title ${i % 20}`) },
          { type: 'employeeID', values: text(String(100000 + i)) },
          ...(withPassword ? [{ type: 'unicodePwd', values: [Buffer.from(`"${password(i)}"`, 'utf16le')] }] : []),
          { type: 'userAccountControl', values: text(String(withPassword ? 0x200 : 0x202)) },
        ],
      }),
    );
    if (withPassword) passwordMs += performance.now() - opStarted;
    if (i % 10_000 === 0) {
      const s = (performance.now() - usersStarted) / 1000;
      log(`${i} users in ${s.toFixed(1)} s (${(i / s).toFixed(0)}/s), rss ${memory().rssMiB} MiB`);
    }
    if (i % 1000 === 0) checkDeadline(`adding users (${i} done)`);
    if (i === Math.round(userCount / 10) && i >= 2000) {
      // Groups cost about three users each (their member links): project the whole load.
      // The password users' scrypt hashes are paid once, at the start: leave them out of the rate.
      const perUser = (performance.now() - usersStarted - passwordMs) / (i - passwordUsers);
      const projected = (passwordMs + perUser * (userCount - passwordUsers + 3 * groupCount)) / 1000;
      log(`projected load time ${projected.toFixed(0)} s`);
      if (projected > maxSeconds) throw new Error(`scale: projected load time ${projected.toFixed(0)} s is over --max-seconds ${maxSeconds}`);
    }
  }
  const usersSeconds = (performance.now() - usersStarted) / 1000;

  // ---- groups with user members
  const groupsStarted = performance.now();
  let links = 0;
  for (let g = 1; g <= groupCount; g += 1) {
    const size = 10 + randomInt(41);
    const members = new Set<number>();
    while (members.size < Math.min(size, userCount)) members.add(1 + randomInt(userCount));
    links += members.size;
    await ok(
      groupSam(g),
      engine.add(admin, {
        entry: groupDn(g),
        attributes: [
          { type: 'objectClass', values: text('group') },
          { type: 'sAMAccountName', values: text(groupSam(g)) },
          { type: 'groupType', values: text(String(0x80000002 | 0)) },
          { type: 'member', values: [...members].map((m) => Buffer.from(userDn(m))) },
        ],
      }),
    );
    if (g % 2000 === 0) {
      const s = (performance.now() - groupsStarted) / 1000;
      log(`${g} groups in ${s.toFixed(1)} s (${(g / s).toFixed(0)}/s), rss ${memory().rssMiB} MiB`);
    }
    if (g % 200 === 0) checkDeadline(`adding groups (${g} done)`);
  }
  const groupsSeconds = (performance.now() - groupsStarted) / 1000;

  // ---- nesting: every fifth group gets 1–3 lower-numbered groups as members (modify add)
  const nestStarted = performance.now();
  let nestModifies = 0;
  let nestedLinks = 0;
  for (let g = 5; g <= groupCount; g += 5) {
    const children = new Set<number>();
    const want = 1 + randomInt(3);
    while (children.size < Math.min(want, g - 1)) children.add(1 + randomInt(g - 1));
    await ok(`nest ${groupSam(g)}`, engine.modify(admin, groupDn(g), [{ operation: 'add', type: 'member', values: [...children].map((c) => Buffer.from(groupDn(c))) }]));
    nestModifies += 1;
    nestedLinks += children.size;
    if (nestModifies % 200 === 0) checkDeadline(`nesting groups (${nestModifies} done)`);
  }
  const nestSeconds = (performance.now() - nestStarted) / 1000;
  const loadSeconds = usersSeconds + groupsSeconds + nestSeconds;
  const memoryAfterLoad = memory();
  const filesAfterLoad = { dbMiB: mib(fileSize(dbFile)), walMiB: mib(fileSize(`${dbFile}-wal`)) };
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
  const filesAfterCheckpoint = { dbMiB: mib(fileSize(dbFile)), walMiB: mib(fileSize(`${dbFile}-wal`)) };
  log(`loaded in ${loadSeconds.toFixed(1)} s; rss ${memoryAfterLoad.rssMiB} MiB; db ${filesAfterCheckpoint.dbMiB} MiB`);

  // ---- queries over LDAPS on this directory
  const ca = directory.certificatePem;
  const client = new Client({ url: directory.ldapsUrl, tlsOptions: { ca: [ca] }, timeout: 30_000, connectTimeout: 10_000 });
  const bindUser = Math.max(1, Math.min(passwordUsers, 50));
  const bindName = `${sam(bindUser)}@${domain}`;
  const bindTimes: number[] = [];
  for (let k = 0; k < 15; k += 1) {
    const t = performance.now();
    await client.bind(bindName, password(bindUser));
    bindTimes.push(performance.now() - t);
  }
  const searchTimes: number[] = [];
  for (let k = 0; k < 50; k += 1) {
    const target = 1 + randomInt(userCount);
    const t = performance.now();
    const { searchEntries } = await client.search(base, { scope: 'sub', filter: `(sAMAccountName=${sam(target)})`, attributes: ['sAMAccountName', 'displayName', 'mail', 'userPrincipalName'] });
    searchTimes.push(performance.now() - t);
    if (searchEntries.length !== 1) throw new Error(`scale: search for ${sam(target)} returned ${searchEntries.length} entries`);
  }
  // tokenGroups of a user in several nested groups: a base read that walks the links.
  const tokenTimes: number[] = [];
  let tokenGroups = 0;
  for (let k = 0; k < 10; k += 1) {
    const t = performance.now();
    const { searchEntries } = await client.search(userDn(bindUser), { scope: 'base', filter: '(objectClass=*)', attributes: ['tokenGroups'] });
    tokenTimes.push(performance.now() - t);
    const value = searchEntries[0]?.tokenGroups;
    tokenGroups = Array.isArray(value) ? value.length : value ? 1 : 0;
  }
  await client.unbind();
  const memoryAfterQueries = memory();
  const totalSeconds = (performance.now() - started) / 1000;
  const result = {
    users: userCount,
    groups: groupCount,
    passwordUsers,
    links,
    nestModifies,
    nestedLinks,
    entries: userCount + groupCount,
    usersSeconds,
    usersPerSecond: userCount / usersSeconds,
    passwordUserMs: passwordUsers > 0 ? passwordMs / passwordUsers : 0,
    groupsSeconds,
    groupsPerSecond: groupCount / groupsSeconds,
    nestSeconds,
    loadSeconds,
    entriesPerSecond: (userCount + groupCount) / loadSeconds,
    memoryAtStart,
    memoryAfterLoad,
    memoryAfterQueries,
    filesAfterLoad,
    filesAfterCheckpoint,
    bindMs: { median: median(bindTimes), min: Math.min(...bindTimes), max: Math.max(...bindTimes), runs: bindTimes.length },
    searchMs: { median: median(searchTimes), min: Math.min(...searchTimes), max: Math.max(...searchTimes), runs: searchTimes.length },
    tokenGroupsMs: { median: median(tokenTimes), min: Math.min(...tokenTimes), max: Math.max(...tokenTimes), runs: tokenTimes.length, groups: tokenGroups },
    totalSeconds,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await directory.close();
  await db.destroy();
  if (!keep) rmSync(dataDir, { recursive: true, force: true });
  else log(`kept ${dataDir}`);
}
