/**
 * Trusted forests against two real Samba AD forests: CORP (127.0.0.1) as the local directory
 * and PARTNER (127.0.0.2) as the trusted forest, accepted through the lab override.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAdConnector } from '#src/directory/connector.ts';
import { connectTrustedForest, createTrustingDirectory, openTrustedForests, trustedForestSchema } from '#src/directory/trust.ts';
import type { TrustingDirectory } from '#src/directory/trust.ts';
import type { LdapOperationEvent } from '#src/directory/types.ts';
import { isAppError } from '#src/shared/errors.ts';
import { fixtureUser, partnerFixture, partnerRuntime, resetBadPasswordCounts, sambaOptions } from '../support/samba.ts';

const partner = partnerRuntime();
const partnerUser = (key: string) => {
  const user = partnerFixture.users.find((u) => u.key === key);
  if (!user) throw new Error(`no partner user ${key}`);
  return user;
};
const partnerOptions = (overrides: Parameters<typeof sambaOptions>[0] = {}) =>
  trustedForestSchema.parse({ connection: sambaOptions(overrides, partner) });

describe('trusted forest validation', () => {
  it('refuses a Samba forest without the lab override, with the reason', async () => {
    await assert.rejects(connectTrustedForest(partnerOptions({ allowSamba: false })), (error) => {
      return isAppError(error, 'directory.trust_unavailable') && /partner\.example\.test is refused: Simple AD \(Samba4\) is not supported/.test(error.message);
    });
  });

  it('refuses a forest that does not answer', async () => {
    await assert.rejects(connectTrustedForest(partnerOptions({ urls: ['ldaps://127.0.0.2:9'] })), (error) => {
      return isAppError(error, 'directory.trust_unavailable') && /partner\.example\.test does not answer/.test(error.message);
    });
  });
});

describe('a directory trusting the PARTNER forest (lab override: Samba accepted for testing)', () => {
  let directory: TrustingDirectory;

  before(async () => {
    const options = partnerOptions();
    directory = createTrustingDirectory(createAdConnector(sambaOptions()), [{ options, connector: await connectTrustedForest(options) }]);
  });
  after(() => directory.close());

  it('signs in local users against the local directory', async () => {
    const alice = fixtureUser('alice');
    const result = await directory.authenticate(alice.upn, alice.password);
    assert.equal(result.outcome === 'ok' && result.user.domain, 'corp.example.test');
  });

  it('signs in trusted-forest users against their own forest, by UPN suffix or NetBIOS name', async () => {
    const pia = partnerUser('pia');
    for (const name of [pia.upn, `PARTNER\\${pia.sAMAccountName}`]) {
      const result = await directory.authenticate(name, pia.password);
      assert.equal(result.outcome, 'ok', name);
      assert.equal(result.outcome === 'ok' && result.user.domain, 'partner.example.test');
      assert.equal(result.outcome === 'ok' && result.controller, partner.ldapsUrl);
    }
    const quinn = partnerUser('quinn');
    assert.equal((await directory.authenticate(`PARTNER\\${quinn.sAMAccountName}`, quinn.password)).outcome, 'ok');
  });

  it('resolves every spelling of a trusted user to its account in that forest, the implicit UPN included (right passwords only)', async () => {
    const quinn = partnerUser('quinn'); // UPN quinn.larsen@…, sAMAccountName qlarsen
    const expected = await directory.findUser(quinn.upn);
    assert.ok(expected);
    assert.equal(expected.domain, 'partner.example.test');
    const implicit = `${quinn.sAMAccountName}@partner.example.test`;
    for (const spelling of [
      quinn.upn,
      quinn.upn.toUpperCase(),
      implicit,
      `PARTNER\\${quinn.sAMAccountName}`,
      `PARTNER.EXAMPLE.TEST\\${quinn.sAMAccountName}`,
      `partner.example.test\\${quinn.sAMAccountName.toUpperCase()}`,
      expected.dn,
      expected.dn.toLowerCase(),
      expected.guid,
    ]) {
      const account = await directory.resolveAccount(spelling);
      assert.equal(account?.guid, expected.guid, spelling);
      assert.equal(account.domain, 'partner.example.test', spelling);
      assert.equal(account.serviceAccount, false, spelling);
    }
    // A bare sAMAccountName names a user of the local domain, as in AD.
    assert.equal(await directory.resolveAccount(quinn.sAMAccountName), null);
    for (const spelling of [implicit, `PARTNER.EXAMPLE.TEST\\${quinn.sAMAccountName}`, expected.guid]) {
      const result = await directory.authenticate(spelling, quinn.password, { account: await directory.resolveAccount(spelling) });
      assert.equal(result.outcome === 'ok' && result.user.guid, expected.guid, spelling);
      assert.equal(result.outcome === 'ok' && result.user.userPrincipalName, quinn.upn, spelling);
    }
  });

  it("refuses the trusted forest's own service account under any spelling, without a bind", async () => {
    const events: LdapOperationEvent[] = [];
    const options = partnerOptions();
    const trusting = createTrustingDirectory(createAdConnector(sambaOptions()), [
      { options, connector: createAdConnector(options.connection, { onOperation: (event) => events.push(event) }) },
    ]);
    try {
      const configured = partner.serviceAccount.username;
      const service = await trusting.findUser(configured);
      assert.ok(service);
      for (const spelling of [configured, `PARTNER\\${service.samAccountName}`, `partner.example.test\\${service.samAccountName}`, service.dn, service.guid]) {
        const account = await trusting.resolveAccount(spelling);
        assert.equal(account?.serviceAccount, true, spelling);
        const before = events.length;
        const result = await trusting.authenticate(spelling, 'Not-The-Service-Password-1!', { account });
        assert.equal(result.outcome, 'invalidCredentials', spelling);
        assert.equal(events.slice(before).filter((e) => e.operation === 'bind').length, 0, `${spelling}: no bind`);
      }
    } finally {
      await trusting.close();
    }
  });

  it('reports the trusted forest account states and wrong passwords as that forest says', async () => {
    const dina = partnerUser('dina');
    const disabled = await directory.authenticate(dina.upn, dina.password);
    assert.deepEqual([disabled.outcome, disabled.outcome === 'ok' ? null : disabled.subCode], ['disabled', '533']);
    // One wrong password per run: cleared after, so repeated runs on one DC never lock pete.
    try {
      const wrong = await directory.authenticate(partnerUser('pete').upn, 'Not-His-Password-1!');
      assert.equal(wrong.outcome, 'invalidCredentials');
    } finally {
      await resetBadPasswordCounts(['pete'], 'partner');
    }
  });

  it("reads a trusted user's groups from their forest, named name@forest", async () => {
    const pia = await directory.findUser(partnerUser('pia').upn);
    assert.ok(pia);
    const groups = await directory.groupsOf(pia);
    const names = groups.groups.map((g) => g.qualifiedName);
    for (const name of ['Partner-Eng@partner.example.test', 'Partner-All@partner.example.test', 'Domain Users@partner.example.test']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    assert.equal((await directory.findUserByGuid(pia.guid))?.dn, pia.dn);
  });

  it('lists principals of both forests in pickers', async () => {
    const result = await directory.searchPrincipals('p', { types: ['user'], limit: 100 });
    const names = result.principals.map((p) => (p.type === 'user' ? p.userPrincipalName : null));
    assert.ok(names.includes('pia@partner.example.test'));
    assert.ok(names.includes('paula@corp.example.test'));
  });

  it('samples users of the local domain first, then of the trusted forest, within one limit', async () => {
    const all = await directory.sampleUsers({ limit: 10_000 });
    assert.equal(all.more, false);
    const domains = all.users.map((u) => u.domain);
    assert.ok(domains.includes('partner.example.test') && domains.includes('corp.example.test'));
    assert.equal(domains.indexOf('partner.example.test'), domains.lastIndexOf('corp.example.test') + 1, 'the local domain comes first');
    const local = domains.filter((d) => d === 'corp.example.test').length;
    const cut = await directory.sampleUsers({ limit: local + 1 });
    assert.equal(cut.users.length, local + 1);
    assert.equal(cut.users.at(-1)?.domain, 'partner.example.test');
    assert.equal(cut.more, true);
  });

  it('lists the groups of both forests in one order, and reads memberships where each lives', async () => {
    const all = await directory.listGroups({ limit: 10_000 });
    const names = all.groups.map((g) => g.qualifiedName);
    assert.ok(names.includes('Partner-Eng@partner.example.test'));
    assert.ok(names.includes('Sales-Team@corp.example.test'));
    const keys = names.map((n) => n.toLowerCase());
    assert.deepEqual(keys, [...keys].sort());
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await directory.listGroups({ limit: 9, after });
      paged.push(...page.groups.map((g) => g.qualifiedName));
      if (!page.more) break;
      after = page.groups.at(-1)?.qualifiedName.toLowerCase();
    }
    assert.deepEqual(paged, names);

    const partnerEng = all.groups.find((g) => g.qualifiedName === 'Partner-Eng@partner.example.test');
    assert.ok(partnerEng);
    // A bare objectGUID names no forest: the trusted forest is searched too.
    assert.equal((await directory.findGroup(partnerEng.guid))?.qualifiedName, partnerEng.qualifiedName);
    assert.equal((await directory.findGroup(`${partnerEng.guid}@partner.example.test`))?.dn, partnerEng.dn);
    const pia = await directory.findUser(partnerUser('pia').upn);
    const dina = await directory.findUser(partnerUser('dina').upn);
    assert.ok(pia && dina);
    assert.deepEqual((await directory.groupUserGuids(partnerEng)).sort(), [pia.guid, dina.guid].sort());
    assert.deepEqual((await directory.directGroupsOf(pia)).map((g) => g.qualifiedName).sort(), ['Domain Users@partner.example.test', 'Partner-Announce@partner.example.test', 'Partner-Eng@partner.example.test']);
  });

  it('reports its trusts in check()', async () => {
    const check = await directory.check();
    assert.equal(check.trusts.length, 1);
    assert.equal(check.trusts[0]?.ok, true);
  });
});

describe('a broken trust', () => {
  it('is reported clearly at sign-in and in check(), and local users still sign in', async () => {
    const options = partnerOptions({ urls: ['ldaps://127.0.0.2:9'], timeouts: { connectMs: 500, operationMs: 2000 } });
    const directory = createTrustingDirectory(createAdConnector(sambaOptions()), [{ options, connector: createAdConnector(options.connection) }]);
    try {
      const pia = partnerUser('pia');
      await assert.rejects(directory.authenticate(pia.upn, pia.password), (error) => {
        return isAppError(error, 'directory.trust_unavailable') && /The trusted forest partner\.example\.test is unavailable/.test(error.message);
      });
      const alice = fixtureUser('alice');
      assert.equal((await directory.authenticate(alice.upn, alice.password)).outcome, 'ok');
      const check = await directory.check();
      assert.equal(check.verdict.accepted, true);
      assert.equal(check.trusts[0]?.ok, false);
      assert.match(check.trusts[0]?.reason ?? '', /partner\.example\.test does not answer/);
    } finally {
      await directory.close();
    }
  });
});

describe('a refused trust', () => {
  it('is never used: its users are told why, and check() says so', async () => {
    const opened = await openTrustedForests([partnerOptions({ allowSamba: false })]);
    assert.match(opened[0]?.refused ?? '', /Simple AD \(Samba4\) is not supported/);
    const directory = createTrustingDirectory(createAdConnector(sambaOptions()), opened);
    try {
      const pia = partnerUser('pia');
      await assert.rejects(directory.authenticate(pia.upn, pia.password), (error) => isAppError(error, 'directory.trust_unavailable') && /is refused/.test(error.message));
      const check = await directory.check();
      assert.equal(check.trusts[0]?.ok, false);
      const search = await directory.searchPrincipals('pia', { types: ['user'] });
      assert.equal(search.principals.length, 0);
    } finally {
      await directory.close();
    }
  });
});
