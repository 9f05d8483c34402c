/**
 * The connector suite: the same tests run against every directory that must behave as AD —
 * the real Samba 4 AD DC (connector.samba.integration.test.ts) and Portico's managed directory
 * (connector.managed.integration.test.ts). Samba is accepted here through the lab override.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeAccountState } from '#src/directory/ad-codec.ts';
import { createAdConnector } from '#src/directory/connector.ts';
import type { DirectoryConnector, DirectoryUser, LdapOperationEvent, TransitiveGroups } from '#src/directory/types.ts';
import { readFileSync } from 'node:fs';
import { directoryAdmin, type DirectoryAdmin } from '../support/directory-admin.ts';
import { fixture, fixtureUser, sambaOptions } from '../support/samba.ts';
import type { SambaRuntime } from '../support/samba.ts';

export interface ConnectorTarget {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** Where the directory listens and its accounts; valid after setup. */
  runtime(): SambaRuntime;
  resetBadPasswordCounts(keys: string[]): Promise<void>;
}

function recorder(): { events: LdapOperationEvent[]; onOperation: (event: LdapOperationEvent) => void } {
  const events: LdapOperationEvent[] = [];
  return { events, onOperation: (event) => events.push(event) };
}

export function connectorSuite(target: ConnectorTarget): void {
describe(`the connector against ${target.name}`, () => {
  let connector: DirectoryConnector;
  const ops = recorder();
  const options = (overrides: Parameters<typeof sambaOptions>[0] = {}): ReturnType<typeof sambaOptions> => sambaOptions(overrides, target.runtime());

  before(async () => {
    await target.setup();
    connector = createAdConnector(options(), { onOperation: ops.onOperation });
  });
  after(() => target.teardown());
  after(async () => {
    await connector.close();
  });

  describe('discovery from the rootDSE', () => {
    it('finds the naming contexts, DNS host name, levels, capabilities and the NetBIOS name', async () => {
      const info = await connector.discover();
      assert.equal(info.baseDn, fixture.domain.baseDn);
      assert.equal(info.netbiosName, fixture.domain.netbiosName);
      assert.equal(info.domain, fixture.domain.dnsName);
      assert.ok(info.rootDse.namingContexts.includes(fixture.domain.baseDn));
      assert.match(info.rootDse.dnsHostName ?? '', /corp\.example\.test$/i);
      assert.ok((info.rootDse.domainFunctionality ?? -1) >= 2);
      assert.ok(info.rootDse.supportedCapabilities.includes('1.2.840.113556.1.4.800'));
      assert.ok(info.rootDse.supportedControls.includes('1.2.840.113556.1.4.319'));
      assert.equal(typeof info.rootDse.isGlobalCatalogReady, 'boolean');
      assert.match(info.domainSid ?? '', /^S-1-5-21-\d+-\d+-\d+$/);
      assert.equal(info.lockoutThreshold, 5);
    });
  });

  describe('user lookup', () => {
    it('finds a user by UPN, DOMAIN\\name and bare sAMAccountName, keyed on objectGUID', async () => {
      const byUpn = await connector.findUser('alice@corp.example.test');
      const byDownLevel = await connector.findUser('CORP\\alice');
      const byBare = await connector.findUser('alice');
      assert.ok(byUpn && byDownLevel && byBare);
      assert.match(byUpn.guid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.equal(byDownLevel.guid, byUpn.guid);
      assert.equal(byBare.guid, byUpn.guid);
      assert.match(byUpn.sid, /^S-1-5-21-\d+-\d+-\d+-\d+$/);
      assert.equal(byUpn.givenName, 'Alice');
      assert.deepEqual(byUpn.attributes.department, ['Engineering']);
      const byGuid = await connector.findUserByGuid(byUpn.guid);
      assert.equal(byGuid?.dn, byUpn.dn);
    });

    it('finds a user whose sAMAccountName differs from the UPN prefix, by either', async () => {
      const carol = fixtureUser('carol');
      const byUpn = await connector.findUser(carol.upn);
      const bySam = await connector.findUser(`CORP\\${carol.sAMAccountName}`);
      assert.equal(byUpn?.samAccountName, carol.sAMAccountName);
      assert.equal(bySam?.guid, byUpn?.guid);
    });

    it('decodes non-ASCII names and DNs with special characters', async () => {
      const zoe = fixtureUser('zoe');
      const found = await connector.findUser(zoe.upn);
      assert.equal(found?.displayName, zoe.displayName);
      assert.equal(found?.surname, zoe.sn);
      const jsmith = fixtureUser('jsmith');
      const smith = await connector.findUser(jsmith.upn);
      assert.ok(smith);
      assert.equal(smith.attributes.cn?.[0], jsmith.cn);
      assert.ok(smith.dn.startsWith('CN=Smith\\, John \\"JJ\\" \\+ Co\\\\Ltd,'), smith.dn);
      assert.equal((await connector.findUserByGuid(smith.guid))?.dn, smith.dn);
    });

    it('never widens a query: injection attempts and NUL bytes match nothing', async () => {
      for (const name of ['*', '*)(objectClass=*', 'alice*', 'alice)(|(sAMAccountName=*', 'ali\u0000ce', '*@corp.example.test', 'CORP\\*']) {
        assert.equal(await connector.findUser(name), null, JSON.stringify(name));
      }
      const result = await connector.searchPrincipals('*)(objectClass=*', { limit: 5 });
      assert.equal(result.principals.length, 0);
    });

    it('returns null for an unknown user, and for a foreign NetBIOS domain', async () => {
      assert.equal(await connector.findUser('nobody@corp.example.test'), null);
      assert.equal(await connector.findUser('OTHER\\alice'), null);
    });
  });

  describe('account state', () => {
    after(() => target.resetBadPasswordCounts(['dave', 'frank', 'mike', 'paula']));
    const expected: Record<string, string> = {
      alice: 'ok',
      dave: 'disabled',
      erin: 'locked',
      frank: 'expired',
      mike: 'mustChangePassword',
      paula: 'passwordExpired',
    };

    for (const [key, state] of Object.entries(expected)) {
      it(`reads ${key} as ${state} from the attributes`, async () => {
        const user = await connector.findUser(fixtureUser(key).upn);
        assert.equal(user?.account.state, state, JSON.stringify(user?.account));
        // Samba has msDS-User-Account-Control-Computed; Microsoft AD before 2003 does not. The
        // same real attributes without it go through lockoutTime/pwdLastSet and the domain policy.
        const info = await connector.discover();
        const raw = Object.fromEntries(Object.entries(user?.attributes ?? {}).map(([k, v]) => [k, v[0]]));
        delete raw['msDS-User-Account-Control-Computed'];
        assert.equal(decodeAccountState(raw, info.policy, new Date()).state, state, 'without the computed attribute');
      });
    }

    const bindExpected: Record<string, [string, string | null]> = {
      alice: ['ok', null],
      dave: ['disabled', '533'],
      erin: ['locked', '775'],
      frank: ['expired', '701'],
      mike: ['mustChangePassword', '773'],
      paula: ['passwordExpired', '532'],
    };
    for (const [key, [outcome, subCode]] of Object.entries(bindExpected)) {
      it(`binds as ${key} with the right password: ${outcome}${subCode ? ` (data ${subCode})` : ''}`, async () => {
        const user = fixtureUser(key);
        const result = await connector.authenticate(user.upn, user.password);
        assert.equal(result.outcome, outcome);
        if (result.outcome === 'ok') assert.equal(result.user.userPrincipalName, user.upn);
        else assert.equal(result.subCode, subCode);
      });
    }

    it('answers a wrong password for a disabled, expired or must-change account as invalid credentials (52e)', async () => {
      for (const key of ['dave', 'frank', 'mike', 'paula']) {
        const result = await connector.authenticate(fixtureUser(key).upn, 'Wrong-Password-1!');
        assert.deepEqual([result.outcome, result.outcome === 'ok' ? null : result.subCode], ['invalidCredentials', '52e'], key);
      }
    });
  });

  describe('authentication', () => {
    after(() => target.resetBadPasswordCounts(['hank']));
    it('signs in with a UPN, DOMAIN\\name and a bare sAMAccountName', async () => {
      const alice = fixtureUser('alice');
      for (const name of [alice.upn, `CORP\\${alice.sAMAccountName}`, alice.sAMAccountName, 'corp\\alice']) {
        const result = await connector.authenticate(name, alice.password);
        assert.equal(result.outcome, 'ok', name);
      }
      const carol = fixtureUser('carol');
      assert.equal((await connector.authenticate(carol.sAMAccountName, carol.password)).outcome, 'ok');
      const zoe = fixtureUser('zoe');
      assert.equal((await connector.authenticate(zoe.upn, zoe.password)).outcome, 'ok');
    });

    it('makes unknown users and wrong passwords indistinguishable', async () => {
      const strip = (r: Awaited<ReturnType<DirectoryConnector['authenticate']>>): unknown =>
        r.outcome === 'ok' ? r.outcome : { outcome: r.outcome, subCode: r.subCode };
      const wrong = await connector.authenticate(fixtureUser('hank').upn, 'Not-His-Password-1!');
      const unknown = await connector.authenticate('nobody@corp.example.test', 'Not-His-Password-1!');
      assert.deepEqual(strip(wrong), { outcome: 'invalidCredentials', subCode: '52e' });
      assert.deepEqual(strip(unknown), strip(wrong));
    });

    it('refuses an empty password without sending a bind', async () => {
      const before = ops.events.filter((e) => e.operation === 'bind').length;
      const result = await connector.authenticate('alice@corp.example.test', '');
      assert.equal(result.outcome, 'invalidCredentials');
      assert.equal(ops.events.filter((e) => e.operation === 'bind').length, before);
    });

    it('refuses injection attempts as names without reaching AD with them', async () => {
      // (A DN is a spelling of an account now: one that names nobody is refused without a bind.)
      for (const name of ['*', '*)(objectClass=*', 'CN=Nobody Here,CN=Users,DC=corp,DC=example,DC=test', 'a\u0000b']) {
        const result = await connector.authenticate(name, 'whatever-1!');
        assert.equal(result.outcome, 'invalidCredentials', name);
      }
    });

    it('uses one bind per sign-in', async () => {
      const alice = fixtureUser('alice');
      const before = ops.events.length;
      await connector.authenticate(alice.upn, alice.password);
      const during = ops.events.slice(before);
      assert.equal(during.filter((e) => e.operation === 'bind').length, 1);
    });
  });

  describe('account resolution: every spelling names one account (issues 12 and 13)', () => {
    const binds = (from: number): number => ops.events.slice(from).filter((e) => e.operation === 'bind').length;

    it('resolves every spelling of an account to its objectGUID, with the lockout threshold that applies', async () => {
      const tara = fixtureUser('tlock2'); // UPN tara.lock@…, sAMAccountName tlock2
      const expected = await connector.findUser(tara.upn);
      assert.ok(expected);
      const dn = expected.dn;
      const spellings = [
        tara.upn,
        tara.upn.toUpperCase(),
        'tlock2@corp.example.test', // the implicit UPN
        'TLock2@Corp.Example.Test',
        'CORP\\tlock2',
        'corp\\TLOCK2',
        'CORP.EXAMPLE.TEST\\tlock2',
        'corp.example.test\\tlock2',
        'tlock2',
        'TLOCK2',
        dn,
        dn.toLowerCase(),
        dn.toUpperCase().replaceAll(',', ' , '),
        expected.guid,
        expected.guid.toUpperCase(),
      ];
      for (const spelling of spellings) {
        const account = await connector.resolveAccount(spelling);
        assert.equal(account?.guid, expected.guid, spelling);
        assert.equal(account.userPrincipalName, tara.upn, spelling);
        assert.equal(account.samAccountName, 'tlock2', spelling);
        assert.equal(account.serviceAccount, false, spelling);
        assert.equal(account.lockoutThreshold, 5, spelling);
      }
    });

    it('resolves the implicit UPN of accounts with an explicit UPN of another prefix or suffix, and alternative suffixes', async () => {
      for (const key of ['ursula', 'carol']) {
        const user = fixtureUser(key);
        const byUpn = await connector.findUser(user.upn);
        assert.ok(byUpn, user.upn);
        for (const spelling of [`${user.sAMAccountName}@corp.example.test`, `${user.sAMAccountName.toUpperCase()}@CORP.EXAMPLE.TEST`, user.upn.toUpperCase()]) {
          assert.equal((await connector.resolveAccount(spelling))?.guid, byUpn.guid, spelling);
          const found = await connector.findUser(spelling);
          assert.equal(found?.guid, byUpn.guid, spelling);
          assert.equal(found.userPrincipalName, user.upn, 'the explicit UPN stays the user name');
        }
      }
      assert.equal(fixtureUser('ursula').upn, 'u.keller@corpmail.example');
    });

    it('signs in with the implicit UPN and with an alternative UPN suffix (right passwords only)', async () => {
      for (const [key, spellings] of [
        ['ursula', ['ursula@corp.example.test', 'u.keller@corpmail.example', 'U.Keller@CorpMail.Example']],
        ['carol', ['cdavis@corp.example.test', 'CDavis@corp.example.test']],
      ] as const) {
        const user = fixtureUser(key);
        const expected = await connector.findUser(user.upn);
        for (const spelling of spellings) {
          const account = await connector.resolveAccount(spelling);
          const result = await connector.authenticate(spelling, user.password, { account });
          assert.equal(result.outcome, 'ok', spelling);
          assert.equal(result.outcome === 'ok' ? result.user.guid : null, expected?.guid, spelling);
          assert.equal(result.outcome === 'ok' ? result.user.userPrincipalName : null, user.upn, spelling);
        }
      }
    });

    it('answers a repeated spelling from its cache: no round trip before the bind, one search alongside it', async () => {
      const tom = fixtureUser('tlock1');
      const spelling = 'Corp\\TLock1';
      const first = await connector.resolveAccount(spelling);
      assert.ok(first);
      const before = ops.events.length;
      const again = await connector.resolveAccount(spelling);
      assert.equal(ops.events.length, before, 'a cached spelling costs no LDAP operation');
      assert.equal(again, first);
      const result = await connector.authenticate(spelling, tom.password, { account: again });
      assert.equal(result.outcome, 'ok');
      const during = ops.events.slice(before);
      const shown = JSON.stringify(during.map((e) => [e.operation, e.filter ?? e.base, e.entries]));
      assert.equal(binds(before), 1, shown);
      // One search (a paged search's closing `done` is recorded as an empty operation).
      const searches = new Set(during.filter((e) => e.operation === 'search').map((e) => e.filter ?? e.base));
      assert.equal(searches.size, 1, shown);
      assert.equal(during.filter((e) => e.operation === 'search' && (e.entries ?? 0) > 0).length, 1, shown);
    });

    it('resolves names of nobody, and of other domains, to no account', async () => {
      for (const spelling of [
        'nobody@corp.example.test',
        'OTHER\\alice',
        'other.example.test\\alice',
        'CN=Nobody Here,CN=Users,DC=corp,DC=example,DC=test',
        'CN=alice,DC=other,DC=test',
        'CN=Users,DC=corp,DC=example,DC=test', // an entry, but no user
        '00000000-0000-0000-0000-000000000000',
        '*)(objectClass=*',
      ]) {
        assert.equal(await connector.resolveAccount(spelling), null, spelling);
      }
    });

    it('knows its own service account by every spelling, and never binds as it', async () => {
      const configured = target.runtime().serviceAccount.username;
      const service = await connector.findUser(configured);
      assert.ok(service);
      const sam = service.samAccountName;
      const spellings = [configured, configured.toUpperCase(), `CORP\\${sam}`, `corp.example.test\\${sam}`, sam, `${sam}@corp.example.test`, service.dn, service.dn.toLowerCase(), service.guid];
      for (const spelling of spellings) {
        const account = await connector.resolveAccount(spelling);
        assert.equal(account?.serviceAccount, true, spelling);
        const before = ops.events.length;
        const result = await connector.authenticate(spelling, 'Not-The-Service-Password-1!', { account });
        assert.equal(result.outcome, 'invalidCredentials', spelling);
        assert.equal(binds(before), 0, `${spelling}: no bind`);
        // Even without a resolution handed in, the configured name is refused before a bind.
        const unresolved = ops.events.length;
        assert.equal((await connector.authenticate(configured, 'Not-The-Service-Password-1!')).outcome, 'invalidCredentials');
        assert.equal(binds(unresolved), 0);
      }
    });
  });

  describe('transitive groups', () => {
    const names = (groups: Array<{ name: string }>): string[] => groups.map((g) => g.name);
    const byKey = (key: string): string => fixture.groups.find((g) => g.key === key)?.sAMAccountName ?? key;
    const aliceNested = ['Eng-Platform-SRE', 'Eng-Platform', 'Eng-All', 'Portico-Users', 'Cycle-A', 'Cycle-B', 'Portico-Admins'];

    it('tokenGroups: every nested security group and the primary group, no distribution group', async () => {
      const alice = await connector.findUser('alice');
      assert.ok(alice);
      const result = await connector.groupsOf(alice, 'tokenGroups');
      for (const name of [...aliceNested, 'Domain Users']) assert.ok(names(result.groups).includes(name), `${name} in ${names(result.groups).join(', ')}`);
      assert.ok(!names(result.groups).includes(byKey('all-staff')));
      assert.equal(result.truncated, false);
      const sre = result.groups.find((g) => g.name === 'Eng-Platform-SRE');
      assert.equal(sre?.qualifiedName, 'Eng-Platform-SRE@corp.example.test');
      assert.equal(sre?.kind, 'security');
    });

    it('tokenGroups: resolves the SIDs once, then from the cache until it is stale, with the same answer', async () => {
      const events = recorder();
      let offsetMs = 0;
      const cached = createAdConnector(options(), { onOperation: events.onOperation, now: () => new Date(Date.now() + offsetMs), groupCache: { maxStaleMs: 60_000 } });
      try {
        const alice = await cached.findUser('alice');
        assert.ok(alice);
        const sidSearches = () => events.events.filter((e) => e.filter?.includes('(objectSid=')).length;
        const first = await cached.groupsOf(alice, 'tokenGroups');
        const once = sidSearches();
        assert.ok(once > 0);
        const second = await cached.groupsOf(alice, 'tokenGroups');
        assert.equal(sidSearches(), once, 'the second resolution asks the directory for tokenGroups only');
        assert.deepEqual(second, first);
        offsetMs += 61_000;
        const third = await cached.groupsOf(alice, 'tokenGroups');
        assert.equal(sidSearches(), 2 * once, 'groups no poll confirmed within the bound are read again');
        assert.deepEqual(third, first);
      } finally {
        await cached.close();
      }
    });

    for (const method of ['matchingRuleInChain', 'recursive'] as const) {
      it(`${method}: nested security groups, the primary group, through the cycle; no distribution group (the group rule)`, async () => {
        const alice = await connector.findUser('alice');
        assert.ok(alice);
        const result = await connector.groupsOf(alice, method);
        for (const name of [...aliceNested, 'Domain Users']) {
          assert.ok(names(result.groups).includes(name), `${name} in ${names(result.groups).join(', ')}`);
        }
        assert.ok(!names(result.groups).includes(byKey('all-staff')));
        assert.equal(new Set(names(result.groups)).size, result.groups.length);
        assert.ok(result.groups.every((g) => g.kind === 'security'));
      });
    }

    it('every method agrees with tokenGroups for ursula: security groups of each scope, nothing in or through a distribution group', async () => {
      const ursula = await connector.findUser(fixtureUser('ursula').upn);
      assert.ok(ursula);
      const token = names((await connector.groupsOf(ursula, 'tokenGroups')).groups).sort();
      for (const name of ['Domain Users', byKey('grp-domainlocal'), byKey('grp-global'), byKey('grp-universal')]) assert.ok(token.includes(name), `${name} in ${token.join(', ')}`);
      // What the DC's tokenGroups leaves out: both distribution groups, and the security group reached only through one.
      for (const name of [byKey('grp-dist-global'), byKey('all-staff'), byKey('grp-via-dist')]) assert.ok(!token.includes(name), `${name} not in ${token.join(', ')}`);
      for (const method of ['matchingRuleInChain', 'recursive'] as const) {
        assert.deepEqual(names((await connector.groupsOf(ursula, method)).groups).sort(), token, method);
      }
      // Her direct groups (the raw memberOf) do include both distribution groups: the rule is applied by the readers.
      const direct = await connector.directGroupsOf(ursula);
      assert.deepEqual(direct.filter((g) => g.kind === 'distribution').map((g) => g.name).sort(), [byKey('all-staff'), byKey('grp-dist-global')].sort());
    });

    it('agrees across methods on the security groups of a user in 60+ groups', async () => {
      const greg = await connector.findUser(fixture.manyGroupsUser.user);
      assert.ok(greg);
      const token = await connector.groupsOf(greg, 'tokenGroups');
      const recursive = await connector.groupsOf(greg, 'recursive');
      const chain = await connector.groupsOf(greg, 'matchingRuleInChain');
      assert.ok(token.groups.length >= fixture.manyGroupsUser.transitiveGroups, String(token.groups.length));
      assert.deepEqual(names(recursive.groups).sort(), names(token.groups).sort());
      assert.deepEqual(names(chain.groups).sort(), names(token.groups).sort());
    });

    it('caps the groups evaluated per user and warns when the cap cuts', async () => {
      const capped = createAdConnector(options({ maxGroups: 10 }));
      try {
        const greg = await capped.findUser(fixture.manyGroupsUser.user);
        assert.ok(greg);
        const result = await capped.groupsOf(greg);
        assert.equal(result.groups.length, 10);
        assert.equal(result.truncated, true);
        assert.match(result.warnings.join(' '), /only the first 10 are evaluated/);
      } finally {
        await capped.close();
      }
    });
  });

  describe("a sign-in's round trips, and the group cache kept fresh by change tracking (issue 20)", () => {
    let admin: DirectoryAdmin;
    const unique = (prefix: string): string => `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
    before(async () => {
      const rt = target.runtime();
      admin = await directoryAdmin({ ldapsUrl: rt.ldapsUrl, ca: readFileSync(rt.caFile), baseDn: rt.baseDn, domain: rt.domain, netbiosName: rt.netbiosName, admin: rt.admin });
    });
    after(() => admin?.close());

    /** What the sign-in flow asks of the connector: resolve the spelling, bind, the groups. */
    async function signIn(c: DirectoryConnector, name: string, password: string): Promise<{ user: DirectoryUser; groups: TransitiveGroups }> {
      const account = await c.resolveAccount(name);
      const result = await c.authenticate(name, password, { account });
      assert.equal(result.outcome, 'ok', name);
      if (result.outcome !== 'ok') throw new Error('unreachable');
      return { user: result.user, groups: await c.groupsOf(result.user) };
    }
    const groupNames = (r: { groups: TransitiveGroups }): string[] => r.groups.groups.map((g) => g.name).sort();
    /** Counts the background polls of group changes once applied; `polled(n)` waits for the n-th. */
    function pollCounter(): { onGroupPoll: (outcome: { changed: number | null } | { error: Error }) => void; polled: (count: number) => Promise<void> } {
      const outcomes: Array<{ changed: number | null } | { error: Error }> = [];
      return {
        onGroupPoll: (outcome) => outcomes.push(outcome),
        async polled(count) {
          for (const deadline = Date.now() + 20_000; outcomes.length < count; ) {
            assert.ok(Date.now() < deadline, `no poll of group changes applied (${outcomes.length} of ${count})`);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          const failed = outcomes.find((o) => 'error' in o);
          assert.ok(!failed, failed && 'error' in failed ? failed.error.message : '');
        },
      };
    }

    it('a repeat sign-in is two LDAP operations: the bind, and one base read of the own entry with tokenGroups on that connection', async () => {
      const events = recorder();
      const polls = pollCounter();
      const c = createAdConnector(options(), { onOperation: events.onOperation, onGroupPoll: polls.onGroupPoll, groupCache: { pollIntervalMs: 3_600_000 } });
      try {
        const alice = fixtureUser('alice');
        const first = await signIn(c, alice.upn, alice.password);
        await polls.polled(1);
        const before = events.events.length;
        const second = await signIn(c, alice.upn, alice.password);
        const during = events.events.slice(before);
        const shown = JSON.stringify(during.map((e) => [e.operation, e.scope, e.base, e.filter]));
        assert.deepEqual(
          during.map((e) => [e.operation, e.scope ?? null, e.base ?? null]),
          [
            ['bind', null, null],
            ['search', 'base', first.user.dn],
          ],
          shown,
        );
        assert.ok(during[1]?.attributes?.includes('tokenGroups'), shown);
        assert.equal(during[0]?.controller, during[1]?.controller);
        assert.deepEqual(second.user, first.user);
        assert.deepEqual(second.groups, first.groups);
        // The same groups and state as the service account's reads give.
        const viaService = await connector.findUser(alice.upn);
        assert.ok(viaService);
        assert.deepEqual(groupNames(second), groupNames({ groups: await connector.groupsOf(viaService, 'tokenGroups') }));
        assert.deepEqual(second.user.account, viaService.account);
        assert.deepEqual(second.user.attributes, viaService.attributes);
      } finally {
        await c.close();
      }
    });

    it("falls back to the service account's reads when the own read does not answer for the bound account", async () => {
      const events = recorder();
      const c = createAdConnector(options(), { onOperation: events.onOperation });
      try {
        const alice = fixtureUser('alice');
        const account = await c.resolveAccount(alice.upn);
        const bob = await c.resolveAccount(fixtureUser('bob').upn);
        assert.ok(account && bob);
        const expected = await signIn(c, alice.upn, alice.password);
        // A stale resolution: the DN now holds another account, or nothing.
        for (const dn of [bob.dn, `CN=${unique('gone')},CN=Users,${fixture.domain.baseDn}`]) {
          const before = events.events.length;
          const result = await c.authenticate(alice.upn, alice.password, { account: { ...account, dn } });
          assert.equal(result.outcome, 'ok', dn);
          if (result.outcome !== 'ok') continue;
          assert.equal(result.user.guid, account.guid, dn);
          assert.equal(result.user.dn, expected.user.dn, dn);
          assert.deepEqual(groupNames({ groups: await c.groupsOf(result.user) }), groupNames(expected), dn);
          const during = events.events.slice(before);
          assert.ok(
            during.some((e) => e.base === expected.user.dn && e.attributes?.length === 1 && e.attributes[0] === 'tokenGroups'),
            `tokenGroups read by the service account: ${JSON.stringify(during.map((e) => [e.operation, e.base, e.filter]))}`,
          );
        }
      } finally {
        await c.close();
      }
    });

    it('shows a renamed group by polling uSNChanged, and a removed membership or a deleted group at the next sign-in', async () => {
      const events = recorder();
      const polls = pollCounter();
      // Nothing ages out here: only a poll can show the new name.
      const c = createAdConnector(options(), { onOperation: events.onOperation, onGroupPoll: polls.onGroupPoll, groupCache: { pollIntervalMs: 0, maxStaleMs: 3_600_000 } });
      const user = await admin.createUser(unique('gcu'));
      const renamed = await admin.createGroup(unique('gcr'), -2147483646);
      const deleted = await admin.createGroup(unique('gcd'), -2147483646);
      try {
        await admin.addMember(renamed.dn, user.dn);
        await admin.addMember(deleted.dn, user.dn);
        const oldName = renamed.qualifiedName.split('@')[0] as string;
        const goneName = deleted.qualifiedName.split('@')[0] as string;
        const first = await signIn(c, user.upn, user.password);
        assert.ok(groupNames(first).includes(oldName) && groupNames(first).includes(goneName), groupNames(first).join(', '));
        await polls.polled(1); // the first poll only takes the DC's highestCommittedUSN
        await signIn(c, user.upn, user.password);
        await polls.polled(2);
        const sidSearches = (): number => events.events.filter((e) => e.filter?.includes('(objectSid=')).length;
        const searched = sidSearches();

        const newName = unique('gcn');
        await admin.replace(renamed.dn, 'sAMAccountName', newName);
        let seen: string[] = [];
        for (let attempt = 0; attempt < 10 && !seen.includes(newName); attempt += 1) {
          seen = groupNames(await signIn(c, user.upn, user.password));
          await polls.polled(3 + attempt);
        }
        assert.ok(seen.includes(newName) && !seen.includes(oldName), seen.join(', '));
        assert.equal(sidSearches(), searched, 'the new name came from the poll, not from a search by SID');

        await admin.removeMember(renamed.dn, user.dn);
        assert.ok(!groupNames(await signIn(c, user.upn, user.password)).includes(newName), 'a removed membership shows at the next sign-in');
        await admin.delete(deleted.dn);
        assert.ok(!groupNames(await signIn(c, user.upn, user.password)).includes(goneName), 'a deleted group shows at the next sign-in');
      } finally {
        await c.close();
        await admin.delete(user.dn).catch(() => undefined);
        await admin.delete(renamed.dn).catch(() => undefined);
      }
    });

    it('reads a group again once no poll confirmed it within the staleness bound', async () => {
      const events = recorder();
      let offsetMs = 0;
      // Polls never come due after the first: only the bound shows the new name.
      const c = createAdConnector(options(), { onOperation: events.onOperation, now: () => new Date(Date.now() + offsetMs), groupCache: { pollIntervalMs: 3_600_000, maxStaleMs: 5_000 } });
      const user = await admin.createUser(unique('gcu'));
      const group = await admin.createGroup(unique('gcs'), -2147483646);
      try {
        await admin.addMember(group.dn, user.dn);
        const oldName = group.qualifiedName.split('@')[0] as string;
        assert.ok(groupNames(await signIn(c, user.upn, user.password)).includes(oldName));
        const newName = unique('gcn');
        await admin.replace(group.dn, 'sAMAccountName', newName);
        offsetMs += 4_000;
        assert.ok(groupNames(await signIn(c, user.upn, user.password)).includes(oldName), 'within the bound, the cached name');
        offsetMs += 1_500;
        const after = groupNames(await signIn(c, user.upn, user.password));
        assert.ok(after.includes(newName) && !after.includes(oldName), after.join(', '));
      } finally {
        await c.close();
        await admin.delete(user.dn).catch(() => undefined);
        await admin.delete(group.dn).catch(() => undefined);
      }
    });
  });

  describe('large groups and result sets', () => {
    it('reads a 1,600-member group in ranges it asks for itself', async () => {
      const group = await connector.findGroup(fixture.bigGroup.sAMAccountName);
      assert.ok(group);
      const before = ops.events.length;
      const members = await connector.groupMembers(group);
      assert.equal(members.length, fixture.bigGroup.memberCount);
      assert.equal(new Set(members).size, members.length);
      const asked = ops.events.slice(before).flatMap((e) => e.attributes ?? []);
      assert.deepEqual(asked, ['member;range=0-1499', 'member;range=1500-2999']);
    });

    it('follows smaller ranges to the end when configured', async () => {
      const small = recorder();
      const ranged = createAdConnector(options({ rangeSize: 500 }), { onOperation: small.onOperation });
      try {
        const group = await ranged.findGroup(fixture.bigGroup.sAMAccountName);
        assert.ok(group);
        const before = small.events.length;
        const members = await ranged.groupMembers(group);
        assert.equal(members.length, fixture.bigGroup.memberCount);
        const asked = small.events.slice(before).flatMap((e) => e.attributes ?? []);
        assert.deepEqual(asked, ['member;range=0-499', 'member;range=500-999', 'member;range=1000-1499', 'member;range=1500-1999']);
      } finally {
        await ranged.close();
      }
    });

    it('pages every subtree search', async () => {
      const paged = recorder();
      const small = createAdConnector(options({ pageSize: 100 }), { onOperation: paged.onOperation });
      try {
        const result = await small.searchPrincipals(fixture.bigGroup.memberPrefix, { types: ['user'], limit: 5000 });
        assert.equal(result.principals.length, fixture.bigGroup.memberCount);
        assert.equal(result.more, false);
        const pages = paged.events.filter((e) => e.paged && e.filter?.includes(fixture.bigGroup.memberPrefix));
        assert.ok(pages.length >= 16, `${pages.length} pages`);
        assert.ok(pages.every((e) => (e.entries ?? 0) <= 100));
      } finally {
        await small.close();
      }
    });

    it('picks users and groups by prefix of name, UPN, sAMAccountName or mail', async () => {
      const byName = await connector.searchPrincipals('Eng-Platform', { types: ['group'] });
      assert.deepEqual(byName.principals.map((p) => p.type === 'group' && p.name).sort(), ['Eng-Platform', 'Eng-Platform-SRE']);
      const byUpn = await connector.searchPrincipals('carol.davis@', { types: ['user'] });
      assert.equal(byUpn.principals[0]?.type === 'user' && byUpn.principals[0].samAccountName, 'cdavis');
      const byMail = await connector.searchPrincipals('zoe.angstrom', {});
      assert.equal(byMail.principals.length, 1);
      const limited = await connector.searchPrincipals('bulk', { limit: 3 });
      assert.equal(limited.principals.length, 3);
      assert.equal(limited.more, true);
    });
  });

  describe('group reads for integrated applications', () => {
    const guidOf = async (key: string): Promise<string> => {
      const user = await connector.findUser(fixtureUser(key).upn);
      assert.ok(user, key);
      return user.guid;
    };

    it('lists every group in pages, in one stable order, without repeats', async () => {
      const all = await connector.listGroups({ limit: 10_000 });
      assert.equal(all.more, false);
      const keys = all.groups.map((g) => g.qualifiedName.toLowerCase());
      assert.deepEqual(keys, [...keys].sort());
      assert.equal(new Set(keys).size, keys.length);
      for (const name of ['Portico-Users', 'Eng-Platform-SRE', fixture.bigGroup.sAMAccountName, 'Domain Users']) {
        assert.ok(all.groups.some((g) => g.name === name), name);
      }
      const paged: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await connector.listGroups({ limit: 7, after });
        assert.ok(page.groups.length <= 7);
        paged.push(...page.groups.map((g) => g.guid));
        if (!page.more) break;
        after = page.groups.at(-1)?.qualifiedName.toLowerCase();
      }
      assert.deepEqual(paged, all.groups.map((g) => g.guid));
    });

    it('finds a group by objectGUID, bare or with its domain', async () => {
      const group = await connector.findGroup('Eng-All');
      assert.ok(group);
      assert.equal((await connector.findGroup(group.guid))?.dn, group.dn);
      assert.equal((await connector.findGroup(`${group.guid}@${fixture.domain.dnsName}`))?.dn, group.dn);
    });

    it('reads the users directly in a group as objectGUIDs, nested members excluded', async () => {
      const sales = await connector.findGroup('Sales-Team');
      assert.ok(sales);
      const direct = await Promise.all(['bob', 'jsmith', 'hank', 'dave', 'mike', 'paula'].map(guidOf));
      assert.deepEqual((await connector.groupUserGuids(sales)).sort(), direct.sort());
      // Eng-All holds zoe, erin and frank directly; alice and carol only through nested groups.
      const engAll = await connector.findGroup('Eng-All');
      assert.ok(engAll);
      assert.deepEqual((await connector.groupUserGuids(engAll)).sort(), (await Promise.all(['zoe', 'erin', 'frank'].map(guidOf))).sort());
      const big = await connector.findGroup(fixture.bigGroup.sAMAccountName);
      assert.ok(big);
      assert.equal((await connector.groupUserGuids(big)).length, fixture.bigGroup.memberCount);
    });

    it("counts a primary group's users among its direct members", async () => {
      const domainUsers = await connector.findGroup('Domain Users');
      assert.ok(domainUsers);
      const members = await connector.groupUserGuids(domainUsers);
      assert.ok(members.includes(await guidOf('alice')));
      assert.ok(members.includes(await guidOf('greg')));
    });

    it("reads a user's direct groups, the primary group included and nesting not followed", async () => {
      const alice = await connector.findUser('alice');
      assert.ok(alice);
      const names = (await connector.directGroupsOf(alice)).map((g) => g.name);
      assert.deepEqual(names.sort(), ['All-Staff', 'Cycle-A', 'Domain Users', 'Eng-Platform-SRE', 'Portico-Admins'].sort());
      const greg = await connector.findUser(fixture.manyGroupsUser.user);
      assert.ok(greg);
      assert.equal((await connector.directGroupsOf(greg)).length, fixture.manyGroupsUser.directGroups + 1);
    });
  });
});
}
