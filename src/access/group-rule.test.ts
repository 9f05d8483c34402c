/**
 * The group rule as the access domain applies it: for every group type (global, domain-local,
 * universal security; global and universal distribution; a security group reached only through a
 * distribution group), in `transitive` and `direct` modes, the session, `explain` and `who` agree,
 * and a distribution group cannot be assigned. The directory is an in-memory graph (the real
 * directories are in test/access/group-types-suite.ts); the store is the real SQLite one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GroupKind, GroupScope } from '#src/directory/ad-codec.ts';
import { securityClosure } from '#src/directory/group-rule.ts';
import type { DirectoryGroup, DirectoryUser } from '#src/directory/types.ts';
import { isAppError } from '#src/shared/errors.ts';
import { createDatabase, createKyselyAccessStore, createKyselyAuditLog, migrateToLatest } from '#src/storage/index.ts';
import { createAccessService, MAX_USERS_LOOKED_UP, type AccessDirectory, type GroupMembershipMode } from './access-service.ts';
import { createSessionAccessCache } from './session-access.ts';

const DOMAIN = 'corp.test';
let serial = 0;
const group = (name: string, kind: GroupKind, scope: GroupScope): DirectoryGroup => {
  serial += 1;
  return { guid: `00000000-0000-4000-8000-${String(serial).padStart(12, '0')}`, sid: `S-1-5-21-1-2-3-${1000 + serial}`, dn: `CN=${name},DC=corp,DC=test`, name, qualifiedName: `${name}@${DOMAIN}`, kind, scope };
};
const groups = {
  global: group('Grp-Global', 'security', 'global'),
  universal: group('Grp-Universal', 'security', 'universal'),
  domainLocal: group('Grp-DomainLocal', 'security', 'domainLocal'),
  distGlobal: group('Grp-Dist-Global', 'distribution', 'global'),
  distUniversal: group('All-Staff', 'distribution', 'universal'),
  viaDist: group('Grp-Via-Dist', 'security', 'global'),
  outer: group('Outer', 'security', 'global'),
  /** A security group when assigned, converted to a distribution group afterwards (AD allows it). */
  converted: group('Converted', 'security', 'universal'),
};
/** Who is directly in what: ursula in every type; Grp-Dist-Global in Grp-Via-Dist; Grp-Global in Outer. */
const parents = new Map<string, DirectoryGroup[]>([
  [groups.distGlobal.guid, [groups.viaDist]],
  [groups.global.guid, [groups.outer]],
]);
const ursula: DirectoryUser = {
  guid: '11111111-1111-4111-8111-111111111111', sid: 'S-1-5-21-1-2-3-5000', dn: 'CN=Ursula,DC=corp,DC=test', samAccountName: 'ursula', userPrincipalName: 'u.keller@mail.test',
  displayName: 'Ursula Keller', givenName: 'Ursula', surname: 'Keller', mail: null, netbiosName: 'CORP', domain: DOMAIN, primaryGroupId: null,
  account: { state: 'ok', conditions: [], accountExpires: null, passwordLastSet: null, lockedOutAt: null }, attributes: {},
};
const ursulaDirect = [groups.global, groups.universal, groups.domainLocal, groups.distGlobal, groups.distUniversal, groups.converted];
/** Users directly in a group (for `who`); the big group has more users than names are looked up for. */
const bigGroup = group('Big-Group', 'security', 'global');
const bulk = Array.from({ length: MAX_USERS_LOOKED_UP + 100 }, (_, i) => `22222222-2222-4222-8222-${String(i).padStart(12, '0')}`);

const all = [...Object.values(groups), bigGroup];
const directory: AccessDirectory = {
  findUser: (name) => Promise.resolve(name === ursula.userPrincipalName ? ursula : null),
  findUserByGuid: (guid) => Promise.resolve(guid === ursula.guid ? ursula : null),
  findGroup: (name) => Promise.resolve(all.find((g) => g.guid === name || g.qualifiedName.toLowerCase() === name.toLowerCase()) ?? null),
  // What tokenGroups answers (the connector's methods agree with it: test/directory/connector-suite.ts).
  groupsOf: (user) => {
    const byDn = new Map(all.map((g) => [g.dn.toLowerCase(), { group: g, parents: (parents.get(g.guid) ?? []).map((p) => p.dn) }]));
    const found = user.guid === ursula.guid ? securityClosure(ursulaDirect.map((g) => g.dn), (dn) => byDn.get(dn)) : [];
    return Promise.resolve({ method: 'tokenGroups', groups: found, truncated: false, warnings: [] });
  },
  directGroupsOf: (user) => Promise.resolve(user.guid === ursula.guid ? ursulaDirect : []),
  parentGroupsOf: (g) => Promise.resolve(parents.get(g.guid) ?? []),
  childGroupsOf: (g) => Promise.resolve(all.filter((child) => (parents.get(child.guid) ?? []).some((p) => p.guid === g.guid))),
  groupUserGuids: (g) => Promise.resolve(g.guid === bigGroup.guid ? bulk : ursulaDirect.some((d) => d.guid === g.guid) ? [ursula.guid] : []),
};

const names = (list: Array<{ name: string }>) => list.map((a) => a.name).sort();

for (const mode of ['transitive', 'direct'] as const satisfies readonly GroupMembershipMode[]) {
  void describe(`the group rule in ${mode} mode`, () => {
    let dataDir: string;
    let db: ReturnType<typeof createDatabase>;
    let access: ReturnType<typeof createAccessService>;
    const applicationOf = new Map<string, string>();

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'portico-group-rule-'));
      db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
      await migrateToLatest(db);
      access = createAccessService({
        store: createKyselyAccessStore(db),
        transaction: (work) => db.transaction().execute((trx) => work({ store: createKyselyAccessStore(trx), audit: createKyselyAuditLog(trx) })),
        directory: () => directory,
        groupMembership: mode,
      });
      // One application per security group, assigned to it.
      groups.converted.kind = 'security';
      for (const g of [groups.global, groups.universal, groups.domainLocal, groups.viaDist, groups.outer, groups.converted, bigGroup]) {
        const application = await access.createApplication({ name: `App-${g.name}`, entityId: `urn:${g.name}`, acsUrls: [`https://${g.name.toLowerCase()}.test/acs`] }, 'test');
        applicationOf.set(g.name, application.id);
        await access.createAssignment({ principal: { type: 'group', id: g.qualifiedName }, target: { type: 'application', applicationId: application.id } }, 'test');
      }
      groups.converted.kind = 'distribution';
    });
    after(async () => {
      await db?.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const expected = mode === 'transitive' ? ['App-Grp-DomainLocal', 'App-Grp-Global', 'App-Grp-Universal', 'App-Outer'] : ['App-Grp-DomainLocal', 'App-Grp-Global', 'App-Grp-Universal'];

    it('explain, who and the session agree: security groups of every scope grant, nothing through a distribution group, nothing from one converted since', async () => {
      const explained = await access.explainUser(ursula.userPrincipalName as string);
      assert.deepEqual(names(explained.entitlements.applications.map((a) => a.application)), expected);
      assert.ok(!explained.groups.some((g) => g.qualifiedName.startsWith('Grp-Dist') || g.qualifiedName.startsWith('All-Staff')), 'explain lists no distribution group');

      const reachable: string[] = [];
      for (const [name, id] of applicationOf) {
        const who = await access.whoCanReach({ type: 'application', id }, () => Promise.resolve(null));
        if (who.users.some((u) => u.guid === ursula.guid)) reachable.push(`App-${name}`);
      }
      assert.deepEqual(reachable.sort(), expected);

      const cache = createSessionAccessCache({ access, cacheMs: 60_000 });
      const signInGroups = (await directory.groupsOf(ursula)).groups.map((g) => ({ guid: g.guid, qualifiedName: g.qualifiedName }));
      // Fresh from sign-in (the sign-in flow's groups), and read again after the cache aged out.
      for (const createdAt of [new Date(), new Date(Date.now() - 3_600_000)]) {
        const session = {
          id: `s-${createdAt.getTime()}`, userId: 'u', userGuid: ursula.guid, createdAt, expiresAt: new Date(Date.now() + 3_600_000), checkedAt: createdAt, revokedAt: null,
          data: { userName: 'u.keller@mail.test', displayName: null, groups: signInGroups, groupsTruncated: false, csrfSecret: 'x', clientAddress: null, userAgent: null },
        };
        const { entitlements } = await cache.forSession(session);
        assert.deepEqual(names(entitlements.applications.map((a) => a.application)), expected, `session created ${createdAt.toISOString()}`);
      }
    });

    it('refuses to assign a distribution group of either scope, with a stable code, writing nothing', async () => {
      const before = (await access.listAssignments()).length;
      for (const g of [groups.distGlobal, groups.distUniversal]) {
        await assert.rejects(
          access.createAssignment({ principal: { type: 'group', id: g.qualifiedName }, target: { type: 'application', applicationId: applicationOf.get('Grp-Global') as string } }, 'test'),
          (error) => isAppError(error, 'access.distribution_group') && error.status === 422 && error.message.includes(g.qualifiedName) && /grant nothing/.test(error.message),
        );
      }
      assert.equal((await access.listAssignments()).length, before);
    });

    it('who names the first users and says how many are listed by objectGUID only', async () => {
      const looked: string[] = [];
      const who = await access.whoCanReach({ type: 'application', id: applicationOf.get('Big-Group') as string }, (guid) => {
        looked.push(guid);
        return Promise.resolve({ userName: `user-${guid.slice(-4)}`, displayName: null });
      });
      assert.equal(who.users.length, bulk.length);
      assert.equal(looked.length, MAX_USERS_LOOKED_UP);
      assert.equal(who.unnamedUsers, 100);
      assert.equal(who.truncated, true);
      assert.equal(who.groupsTruncated, false);
      assert.equal(who.users.filter((u) => u.userName === null).length, 100);
      assert.ok(who.users.slice(0, MAX_USERS_LOOKED_UP).every((u) => u.userName !== null), 'named users first');
    });
  });
}
