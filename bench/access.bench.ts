/**
 * Access evaluation benchmark: "what can this person reach?" for a user in many groups against a
 * store of 10,000 assignments, cold and cached. Needs the test Samba DC (`bash test/samba/dc.sh
 * start`): the user is the fixture's many-groups user (greg: 41 direct, 70 transitive groups).
 *
 * A fresh SQLite database (temporary directory, migrated) holds 200 accounts, 50 permission sets
 * and 100 applications, created through the access service (actor "bench", each audited as in
 * production), then 10,000 assignments inserted straight through the store (no AD resolution):
 * most to random GUIDs (users and groups that are not the bench user's), `--own` (default 60) to
 * the bench user's own groups and to the user. Then, in alternating passes, per evaluation:
 *   cold          a new session on a fresh session cache: the groups are read again from AD
 *                 (`groupsOfUserGuid`: the user by GUID, tokenGroups, the groups by SID), then
 *                 the store query and the evaluation;
 *   cold, no AD   `entitlementsOf(guid, groups)` with the groups known, what a session fresh from
 *                 sign-in costs: the store query for ~72 principals over 10k assignments + the
 *                 evaluation;
 *   cached        `forSession` on a session already evaluated (cache hit);
 *   explainUser   "what can greg reach?" fresh from AD with the group nesting paths.
 * Every answer is checked (the expected accounts, permission sets and applications).
 *
 * Run: node --import tsx bench/access.bench.ts [--passes 5] [--calls 500] [--ad-calls 100] [--explain-calls 10] [--part-calls 50] [--own 60]
 * (--calls per pass for "cold, no AD" and "cached"; --ad-calls and --explain-calls per pass for the
 * two that read AD; then the parts of a cold evaluation alone, --part-calls for the AD reads.)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccessService } from '#src/access/access-service.ts';
import { evaluateEntitlements, type Entitlements, type UserGroup } from '#src/access/evaluation.ts';
import type { Assignment, AssignmentTarget } from '#src/access/model.ts';
import { createSessionAccessCache } from '#src/access/session-access.ts';
import { connectDirectory } from '#src/directory/connector.ts';
import type { Session } from '#src/sessions/session-store.ts';
import { createDatabase, createKyselyAccessStore, createKyselyAuditLog, migrateToLatest } from '#src/storage/index.ts';
import { fixture, fixtureUser, sambaOptions } from '../test/support/samba.ts';
import { median, percentile } from './portico-process.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const passes = arg('passes', 5);
const calls = arg('calls', 500);
const adCalls = arg('ad-calls', 100);
const explainCalls = arg('explain-calls', 10);
const partCalls = arg('part-calls', 50);
const ownAssignments = arg('own', 60);
const ACCOUNTS = 200;
const PERMISSION_SETS = 50;
const APPLICATIONS = 100;
const ASSIGNMENTS = 10_000;
const cacheMs = 5 * 60_000; // Portico's default access.cacheMinutes

const greg = fixtureUser(fixture.manyGroupsUser.user);
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;

console.log(
  `# Access evaluation benchmark — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at start`,
);

const dataDir = mkdtempSync(join(tmpdir(), 'portico-access-bench-'));
const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
const { connector } = await connectDirectory(sambaOptions({ allowSamba: true }));

try {
  await migrateToLatest(db);
  const store = createKyselyAccessStore(db);
  const access = createAccessService({
    store,
    transaction: (work) => db.transaction().execute((trx) => work({ store: createKyselyAccessStore(trx), audit: createKyselyAuditLog(trx) })),
    directory: () => connector,
    groupMembership: 'transitive',
  });

  // ---- the store ---------------------------------------------------------------------------
  const loadStarted = performance.now();
  const accountIds: string[] = [];
  for (let i = 0; i < ACCOUNTS; i += 1) {
    const id = String(100_000_000_000 + i);
    await access.createAccount({ id, name: `bench-account-${i}`, email: `aws+${i}@bench.example.test` }, 'bench');
    accountIds.push(id);
  }
  const permissionSetIds: string[] = [];
  for (let i = 0; i < PERMISSION_SETS; i += 1) {
    permissionSetIds.push((await access.createPermissionSet({ name: `Bench-PS-${i}`, managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }, 'bench')).id);
  }
  const applicationIds: string[] = [];
  for (let i = 0; i < APPLICATIONS; i += 1) {
    const app = await access.createApplication({ name: `Bench App ${i}`, entityId: `https://app${i}.bench.example.test/saml`, acsUrls: [`https://app${i}.bench.example.test/saml/acs`] }, 'bench');
    applicationIds.push(app.id);
  }
  const recordsSeconds = (performance.now() - loadStarted) / 1000;

  const gregUser = await connector.findUser(greg.upn);
  if (gregUser === null) throw new Error(`${greg.upn} is not in the directory`);
  const signInGroups = await access.groupsOfUserGuid(gregUser.guid);
  if (signInGroups === null || signInGroups.groups.length === 0) throw new Error(`no groups for ${greg.upn}`);
  const groups: UserGroup[] = signInGroups.groups;

  // Targets: account × permission set pairs and applications, each used once per principal.
  const randomTarget = (): AssignmentTarget =>
    Math.random() < 0.8 ? { type: 'account', accountId: pick(accountIds), permissionSetId: pick(permissionSetIds) } : { type: 'application', applicationId: pick(applicationIds) };
  const targetKey = (t: AssignmentTarget) => (t.type === 'account' ? `a:${t.accountId}:${t.permissionSetId}` : `p:${t.applicationId}`);
  const randomGuid = () => {
    const hex = randomBytes(16).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
  // Other principals: 2,000 groups and 3,000 users, so that some have several assignments.
  const otherGroups = Array.from({ length: 2000 }, randomGuid);
  const otherUsers = Array.from({ length: 3000 }, randomGuid);
  const used = new Set<string>();
  const expected = { pairs: new Set<string>(), accounts: new Set<string>(), applications: new Set<string>(), grants: 0 };
  const assignmentsStarted = performance.now();
  await db.transaction().execute(async (trx) => {
    const tx = createKyselyAccessStore(trx);
    const insert = async (type: 'user' | 'group', guid: string, name: string, own: boolean) => {
      let target = randomTarget();
      while (used.has(`${guid}|${targetKey(target)}`)) target = randomTarget();
      used.add(`${guid}|${targetKey(target)}`);
      const assignment: Assignment = { id: randomUUID(), principal: { type, guid, name }, target, createdAt: new Date().toISOString() };
      await tx.insertAssignment(assignment);
      if (!own) return;
      expected.grants += 1;
      if (target.type === 'account') {
        expected.accounts.add(target.accountId);
        expected.pairs.add(targetKey(target));
      } else expected.applications.add(target.applicationId);
    };
    // The user's own share: one in six to the user, the rest to the user's groups (round robin).
    for (let i = 0; i < ownAssignments; i += 1) {
      if (i % 6 === 0) await insert('user', gregUser.guid, greg.upn, true);
      else {
        const group = groups[i % groups.length] as UserGroup;
        await insert('group', group.guid, group.qualifiedName, true);
      }
    }
    for (let i = ownAssignments; i < ASSIGNMENTS; i += 1) {
      if (Math.random() < 0.5) await insert('group', pick(otherGroups), `other-group@bench`, false);
      else await insert('user', pick(otherUsers), `other-user@bench`, false);
    }
  });
  const assignmentsSeconds = (performance.now() - assignmentsStarted) / 1000;
  const stored = (await store.listAssignments({})).length;
  if (stored !== ASSIGNMENTS) throw new Error(`${stored} assignments stored, ${ASSIGNMENTS} expected`);

  console.log(
    `\nStore: ${ACCOUNTS} accounts, ${PERMISSION_SETS} permission sets, ${APPLICATIONS} applications through the service in ${recordsSeconds.toFixed(1)} s; ` +
      `${ASSIGNMENTS.toLocaleString('en-US')} assignments through the store in ${assignmentsSeconds.toFixed(1)} s (one transaction), ${ownAssignments} of them ` +
      `to ${greg.upn} (${Math.ceil(ownAssignments / 6)}) and ${Math.min(groups.length, ownAssignments - Math.ceil(ownAssignments / 6))} of the user's groups.`,
  );
  console.log(
    `User: ${greg.upn}, ${groups.length} groups from AD (fixture: ${fixture.manyGroupsUser.directGroups} direct, ${fixture.manyGroupsUser.transitiveGroups} transitive, ` +
      `plus Domain Users and BUILTIN\\Users); expected ${expected.accounts.size} accounts (${expected.pairs.size} account × permission set pairs), ${expected.applications.size} applications, ${expected.grants} grants.`,
  );

  // ---- measurement -------------------------------------------------------------------------
  const failures = new Map<string, number>();
  const fail = (what: string) => failures.set(what, (failures.get(what) ?? 0) + 1);
  function check(label: string, entitlements: Entitlements): void {
    const pairs = entitlements.accounts.reduce((n, a) => n + a.permissionSets.length, 0);
    const grants = entitlements.accounts.reduce((n, a) => n + a.permissionSets.reduce((m, s) => m + s.grants.length, 0), 0) + entitlements.applications.reduce((n, a) => n + a.grants.length, 0);
    if (entitlements.accounts.length !== expected.accounts.size || pairs !== expected.pairs.size || entitlements.applications.length !== expected.applications.size || grants !== expected.grants) {
      fail(`${label}: ${entitlements.accounts.length} accounts / ${pairs} pairs / ${entitlements.applications.length} applications / ${grants} grants`);
    }
  }

  const old = new Date(Date.now() - 2 * cacheMs);
  const session = (): Session => ({
    id: randomUUID(),
    userId: randomUUID(),
    userGuid: gregUser.guid,
    // Older than the cache: the groups read at sign-in are not reused, the directory is asked.
    createdAt: old,
    expiresAt: new Date(Date.now() + 8 * 3_600_000),
    checkedAt: new Date(),
    revokedAt: null,
    data: { userName: greg.upn, displayName: greg.displayName, groups: [], groupsTruncated: false, csrfSecret: 'bench', clientAddress: null, userAgent: null },
  });
  const cachedSessions = createSessionAccessCache({ access, cacheMs });
  const cachedSession = session();
  check('cached (priming)', (await cachedSessions.forSession(cachedSession)).entitlements);

  type Side = { name: string; count: number; run: () => Promise<void> };
  const sides: Side[] = [
    {
      name: 'cold: new session, groups from AD + store query + evaluation',
      count: adCalls,
      run: async () => {
        const result = await createSessionAccessCache({ access, cacheMs }).forSession(session());
        if (result.groups.length !== groups.length) fail(`cold: ${result.groups.length} groups`);
        check('cold', result.entitlements);
      },
    },
    {
      name: 'cold, no AD: entitlementsOf with the groups known (store query + evaluation)',
      count: calls,
      run: async () => check('cold, no AD', await access.entitlementsOf(gregUser.guid, groups, false)),
    },
    {
      name: 'cached: forSession on an evaluated session',
      count: calls,
      run: async () => check('cached', (await cachedSessions.forSession(cachedSession)).entitlements),
    },
    {
      name: `explainUser('${greg.upn}'): AD with group paths + store query + evaluation`,
      count: explainCalls,
      run: async () => {
        const explained = await access.explainUser(greg.upn);
        if (explained.groups.length !== groups.length) fail(`explainUser: ${explained.groups.length} groups`);
        check('explainUser', explained.entitlements);
      },
    },
  ];

  // Warm-up: JIT, the connector's pool, SQLite's page cache.
  for (const side of sides) for (let i = 0; i < Math.min(side.count, 20); i += 1) await side.run();
  failures.clear();

  const latencies = new Map<string, number[]>(sides.map((s) => [s.name, []]));
  const passMedians = new Map<string, number[]>(sides.map((s) => [s.name, []]));
  const measureStarted = performance.now();
  for (let p = 0; p < passes; p += 1) {
    // The side that goes first rotates per pass.
    const order = sides.map((_, k) => sides[(k + p) % sides.length] as Side);
    for (const side of order) {
      const times: number[] = [];
      for (let i = 0; i < side.count; i += 1) {
        const t0 = performance.now();
        await side.run();
        times.push(performance.now() - t0);
      }
      latencies.get(side.name)?.push(...times);
      passMedians.get(side.name)?.push(percentile(times, 50));
      process.stderr.write(`pass ${p + 1}/${passes} ${side.name.slice(0, 30).padEnd(30)} ${String(side.count).padStart(4)} calls  p50 ${percentile(times, 50).toFixed(3)} ms  p99 ${percentile(times, 99).toFixed(3)} ms  load ${loadavg()[0]?.toFixed(2)}\n`);
    }
  }
  const measureSeconds = (performance.now() - measureStarted) / 1000;

  console.log(`\n## Per evaluation (${passes} alternating passes after a warm-up; percentiles over all calls, ${measureSeconds.toFixed(0)} s; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at end)\n`);
  console.log('| evaluation | calls | p50 ms | p99 ms | max ms | median of pass p50s ms |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const side of sides) {
    const all = latencies.get(side.name) ?? [];
    const digits = percentile(all, 50) < 1 ? 3 : 2;
    console.log(
      `| ${side.name} | ${all.length} | ${percentile(all, 50).toFixed(digits)} | ${percentile(all, 99).toFixed(digits)} | ${Math.max(...all).toFixed(digits)} | ${median(passMedians.get(side.name) ?? []).toFixed(digits)} |`,
    );
  }
  // ---- where a cold evaluation goes -----------------------------------------------------------
  const assignments = await store.listAssignments({ principalGuids: [gregUser.guid, ...groups.map((g) => g.guid)] });
  const catalogEntry = (id: string) => ({ id, name: id });
  const catalog = { account: catalogEntry, permissionSet: catalogEntry, application: catalogEntry };
  const parts: Array<{ name: string; count: number; run: () => Promise<unknown> }> = [
    { name: 'connector.findUserByGuid (greg)', count: partCalls, run: () => connector.findUserByGuid(gregUser.guid) },
    { name: 'connector.directGroupsOf (greg)', count: partCalls, run: () => connector.directGroupsOf(gregUser) },
    { name: 'connector.groupsOf (greg, tokenGroups)', count: partCalls, run: () => connector.groupsOf(gregUser) },
    { name: `store.listAssignments for ${groups.length + 1} principals (${assignments.length} rows back)`, count: calls, run: () => store.listAssignments({ principalGuids: [gregUser.guid, ...groups.map((g) => g.guid)] }) },
    { name: 'evaluateEntitlements alone (pure)', count: calls, run: () => Promise.resolve(evaluateEntitlements(gregUser.guid, groups, assignments, catalog)) },
  ];
  console.log(`\n## Parts of a cold evaluation, measured alone (${partCalls} / ${calls} calls each after ${Math.min(partCalls, 20)} warm-up calls)\n`);
  console.log('| part | calls | p50 ms | p99 ms |');
  console.log('|---|---:|---:|---:|');
  for (const part of parts) {
    for (let i = 0; i < Math.min(part.count, 20); i += 1) await part.run();
    const times: number[] = [];
    for (let i = 0; i < part.count; i += 1) {
      const t0 = performance.now();
      await part.run();
      times.push(performance.now() - t0);
    }
    const digits = percentile(times, 50) < 1 ? 3 : 2;
    console.log(`| ${part.name} | ${part.count} | ${percentile(times, 50).toFixed(digits)} | ${percentile(times, 99).toFixed(digits)} |`);
  }

  console.log(`\n${failures.size === 0 ? 'Every evaluation gave the expected accounts, permission sets, applications and grants.' : `Failures: ${[...failures].map(([n, c]) => `${n} × ${c}`).join(', ')}`}`);
  if (failures.size > 0) process.exitCode = 1;
} catch (error) {
  process.exitCode = 1;
  console.error(error);
} finally {
  await connector.close();
  await db.destroy();
  rmSync(dataDir, { recursive: true, force: true });
}
