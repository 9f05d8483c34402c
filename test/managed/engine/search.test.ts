/** Search through the DirectoryBackend interface: filters, scopes, attributes, paging, ranges, constructed attributes, rootDSE. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { guidToString, sidToBytes, sidToString } from '#src/directory/ad-codec.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';
import { createMemoryDirectoryStore } from '#src/directory/managed/engine/memory-store.ts';
import { parseRootDse, judgeDirectory } from '#src/directory/rootdse.ts';
import {
  ADMIN_DN,
  BASE,
  DOMAIN_SID,
  USERS,
  addGroup,
  addMembers,
  addUser,
  attrs,
  cookieOf,
  createHarness,
  names,
  pagedControl,
  rawValues,
  search,
  session,
  values,
  type Harness,
} from './helpers.ts';

let h: Harness;
let alice: string;
let bob: string;
let carol: string;
let sales: string;
let staff: string;
let everyone: string;
let distribution: string;
let ou: string;

before(async () => {
  h = await createHarness();
  const r = await h.engine.add(h.admin, { entry: `OU=Sales,${BASE}`, attributes: attrs({ objectClass: 'organizationalUnit', description: 'Sales people' }) });
  assert.equal(r.resultCode, 0, JSON.stringify(r));
  ou = `OU=Sales,${BASE}`;
  alice = await addUser(h, 'Alice Smith', {
    password: 'Alice-Pa55word!',
    parent: ou,
    extra: { givenName: 'Alice', sn: 'Smith', mail: 'Alice@Corp.Example.Test', displayName: 'Alice Smith', employeeID: '1042', title: 'Engineer', proxyAddresses: ['SMTP:alice@corp.example.test', 'smtp:as@corp.example.test'] },
  });
  bob = await addUser(h, 'Bob Jones', { password: 'Bob-Pa55word!', extra: { givenName: 'Bob', sn: 'Jones', mail: 'bob@corp.example.test', employeeID: '7' } });
  carol = await addUser(h, 'Carol, the "Admin"', { extra: { sn: 'Ünïcødé' } });
  sales = await addGroup(h, 'Sales Team', { members: [alice], parent: ou });
  staff = await addGroup(h, 'Staff', { members: [sales, bob] });
  everyone = await addGroup(h, 'Everyone', { members: [staff] });
  // A cycle: Everyone → Staff → Sales → Everyone.
  await addMembers(h, sales, [everyone]);
  distribution = await addGroup(h, 'Newsletter', { members: [alice], groupType: 2 });
});

const q = (filter: string, extra: Parameters<typeof search>[2] = {}) => search(h.engine, h.admin, { filter, ...extra });

void describe('engine search: filters', () => {
  void it('equality is case-insensitive on strings and uses the indexes', async () => {
    assert.deepEqual(names(await q('(sAMAccountName=ALICESMITH)')), [alice]);
    assert.deepEqual(names(await q('(userPrincipalName=bobjones@CORP.example.test)')), [bob]);
    assert.deepEqual(names(await q('(mail=alice@corp.example.test)')), [alice]);
    assert.deepEqual(names(await q('(sn=ünïcødé)')), [carol]);
  });

  void it('presence, substrings, ordering and approx', async () => {
    assert.deepEqual(names(await q('(&(objectClass=user)(employeeID=*))')), [alice, bob]);
    assert.deepEqual(names(await q('(displayName=ali*)')), [alice]);
    assert.deepEqual(names(await q('(proxyAddresses=smtp:*@corp*test)')), [alice]);
    assert.deepEqual(names(await q('(&(objectClass=user)(cn=*o*e*))')), [bob, carol]);
    // employeeID is a string in AD's schema: ordered as text ('7' > '2' > '1042').
    assert.deepEqual(names(await q('(&(objectClass=user)(employeeID>=2))')), [bob]);
    assert.deepEqual(names(await q('(&(objectClass=user)(employeeID<=2))')), [alice]);
    // Integers are ordered as numbers.
    assert.deepEqual(names(await q('(&(sAMAccountType>=805306368)(sAMAccountType<=805306368)(sn=Jones))')), [bob]);
    assert.deepEqual(names(await q('(&(objectClass=group)(groupType<=-2147483646)(groupType>=-2147483646)(cn=Staff))')), [staff]);
    assert.deepEqual(names(await q('(givenName~=BOB)')), [bob]);
  });

  void it('and, or, not; integers numerically', async () => {
    assert.deepEqual(names(await q('(|(sAMAccountName=bobjones)(sAMAccountName=alicesmith))')), [alice, bob]);
    assert.deepEqual(names(await q('(&(objectCategory=person)(!(mail=*))(!(sAMAccountName=Administrator)))')), [carol]);
    assert.deepEqual(names(await q('(&(sAMAccountType=805306368)(primaryGroupID=513)(sn=Jones))')), [bob]);
    assert.equal((await q('(groupType=-2147483646)')).entries.length >= 4, true);
  });

  void it('objectClass matches any class in the chain; objectCategory takes the shorthand', async () => {
    const people = names(await q('(objectClass=organizationalPerson)'));
    assert.ok(people.includes(alice) && people.includes(ADMIN_DN));
    assert.deepEqual(names(await q('(&(objectCategory=person)(sn=Smith))')), [alice]);
    assert.deepEqual(names(await q('(&(objectCategory=user)(sn=Smith))')), [alice]);
    assert.deepEqual(names(await q(`(objectCategory=CN=Organizational-Unit,CN=Schema,CN=Configuration,${BASE})`)), [ou]);
    assert.ok(names(await q('(objectCategory=group)')).includes(sales));
  });

  void it('objectGUID and objectSid as bytes, objectSid also from its string form', async () => {
    const [entry] = (await search(h.engine, h.admin, { baseObject: bob, scope: 'base', attributes: ['objectGUID', 'objectSid'] })).entries;
    const guid = rawValues(entry, 'objectGUID')[0] as Buffer;
    const sid = rawValues(entry, 'objectSid')[0] as Buffer;
    assert.equal(guid.length, 16);
    assert.match(sidToString(sid), new RegExp(`^${DOMAIN_SID}-\\d+$`));
    const hex = (b: Buffer) => Array.from(b, (x) => `\\${x.toString(16).padStart(2, '0')}`).join('');
    assert.deepEqual(names(await q(`(objectGUID=${hex(guid)})`)), [bob]);
    assert.deepEqual(names(await q(`(objectSid=${hex(sid)})`)), [bob]);
    assert.deepEqual(names(await q(`(objectSid=${sidToString(sid)})`)), [bob]);
    assert.match(guidToString(guid), /^[0-9a-f-]{36}$/);
  });

  void it('distinguishedName equality, member and memberOf equality', async () => {
    assert.deepEqual(names(await q(`(distinguishedName=${alice.toLowerCase()})`)), [alice]);
    assert.deepEqual(names(await q(`(member=${alice})`)).sort(), [sales, distribution].sort());
    assert.deepEqual(names(await q(`(memberOf=${staff})`)).sort(), [bob, sales].sort());
    assert.deepEqual(names(await q('(&(objectClass=group)(member=*)(cn=News*))')), [distribution]);
  });

  void it('extensible: in-chain on member and memberOf, with a cycle, and bit-wise rules', async () => {
    const chain = names(await q(`(member:1.2.840.113556.1.4.1941:=${alice})`)).sort();
    assert.deepEqual(chain, [distribution, everyone, sales, staff].sort());
    const inside = names(await q(`(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:=${everyone}))`)).sort();
    assert.deepEqual(inside, [alice, bob].sort());
    assert.deepEqual(names(await q('(&(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=2))')), [carol]);
    assert.ok(names(await q('(groupType:1.2.840.113556.1.4.803:=2147483648)')).includes(sales));
    assert.ok(!names(await q('(groupType:1.2.840.113556.1.4.803:=2147483648)')).includes(distribution));
    assert.ok(names(await q('(groupType:1.2.840.113556.1.4.804:=10)')).includes(sales));
  });

  void it('extensible with dnAttributes matches the entry DN components', async () => {
    const found = names(await q('(ou:dn:=Sales)'));
    assert.deepEqual(found.sort(), [ou, alice, sales].sort());
    assert.deepEqual(names(await q('(&(objectClass=user)(ou:dn:=sales))')), [alice]);
  });

  void it('unknown attributes are Undefined, and not(Undefined) stays Undefined', async () => {
    assert.deepEqual(names(await q('(noSuchAttribute=x)')), []);
    assert.deepEqual(names(await q('(!(noSuchAttribute=x))')), []);
    assert.deepEqual(names(await q('(&(sn=Jones)(!(title=*)))')), [bob]);
  });
});

void describe('engine search: scopes and bases', () => {
  void it('base, one and sub', async () => {
    assert.deepEqual(names(await search(h.engine, h.admin, { baseObject: ou, scope: 'base' })), [ou]);
    assert.deepEqual(names(await search(h.engine, h.admin, { baseObject: ou, scope: 'one' })).sort(), [alice, sales].sort());
    assert.deepEqual(names(await search(h.engine, h.admin, { baseObject: ou, scope: 'sub' })).sort(), [ou, alice, sales].sort());
  });

  void it('a missing base is noSuchObject with the closest existing matchedDN; a bad one invalidDNSyntax', async () => {
    const missing = await search(h.engine, h.admin, { baseObject: `CN=Nobody,OU=Sales,${BASE}`, scope: 'base' });
    assert.equal(missing.result.resultCode, ResultCode.noSuchObject);
    assert.equal(missing.result.matchedDN, ou);
    assert.equal((await search(h.engine, h.admin, { baseObject: 'not a dn', scope: 'base' })).result.resultCode, ResultCode.invalidDNSyntax);
  });

  void it('DNs are matched case- and escaping-insensitively and returned escaped', async () => {
    assert.equal(carol, `CN=Carol\\, the \\"Admin\\",${USERS}`);
    const found = await search(h.engine, h.admin, { baseObject: `cn=carol\\2C the \\22admin\\22,cn=users,dc=CORP,dc=example,dc=test`, scope: 'base' });
    assert.deepEqual(names(found), [carol]);
  });

  void it('a subtree search of the domain does not return the configuration partition; one of the configuration does', async () => {
    assert.deepEqual(names(await q('(objectClass=crossRef)')), []);
    const crossRefs = await search(h.engine, h.admin, { baseObject: `CN=Partitions,CN=Configuration,${BASE}`, filter: `(&(objectClass=crossRef)(nCName=${BASE}))`, attributes: ['nETBIOSName'] });
    assert.deepEqual(values(crossRefs.entries[0], 'nETBIOSName'), ['CORP']);
  });

  void it('anonymous sessions read the rootDSE only', async () => {
    const anonymous = session();
    assert.equal((await search(h.engine, anonymous, { baseObject: '', scope: 'base' })).entries.length, 1);
    const refused = await search(h.engine, anonymous, { baseObject: BASE, scope: 'base' });
    assert.equal(refused.result.resultCode, ResultCode.operationsError);
    assert.match(refused.result.diagnosticMessage ?? '', /^000004DC/);
  });
});

void describe('engine search: attributes', () => {
  void it("'*' returns stored attributes, memberOf and the identifiers, never passwords or constructed ones", async () => {
    const [entry] = (await search(h.engine, h.admin, { baseObject: alice, scope: 'base', attributes: ['*'] })).entries;
    const types = entry?.attributes.map((a) => a.type) ?? [];
    for (const name of ['objectClass', 'cn', 'sAMAccountName', 'objectGUID', 'objectSid', 'whenCreated', 'uSNChanged', 'memberOf', 'distinguishedName', 'accountExpires']) {
      assert.ok(types.includes(name), `${name} in ${types.join(',')}`);
    }
    for (const name of ['unicodePwd', 'userPassword', 'tokenGroups', 'msDS-User-Account-Control-Computed']) assert.ok(!types.includes(name), name);
    assert.deepEqual(values(entry, 'objectClass'), ['top', 'person', 'organizationalPerson', 'user']);
    assert.deepEqual(values(entry, 'accountExpires'), ['9223372036854775807']);
    assert.deepEqual(values(entry, 'sAMAccountType'), ['805306368']);
    assert.match(values(entry, 'whenCreated')[0] ?? '', /^\d{14}\.0Z$/);
    assert.deepEqual(values(entry, 'memberOf').sort(), [sales, distribution].sort());
  });

  void it("named attributes, '1.1', typesOnly and unicodePwd asked by name", async () => {
    const [named] = (await search(h.engine, h.admin, { baseObject: bob, scope: 'base', attributes: ['SN', 'unicodePwd', 'msDS-User-Account-Control-Computed'] })).entries;
    assert.deepEqual(named?.attributes.map((a) => a.type), ['sn', 'msDS-User-Account-Control-Computed']);
    assert.deepEqual(values(named, 'msDS-User-Account-Control-Computed'), ['0']);
    const [none] = (await search(h.engine, h.admin, { baseObject: bob, scope: 'base', attributes: ['1.1'] })).entries;
    assert.deepEqual(none?.attributes, []);
    const [types] = (await search(h.engine, h.admin, { baseObject: bob, scope: 'base', attributes: ['sn', 'mail'], typesOnly: true })).entries;
    assert.deepEqual(types?.attributes, [{ type: 'sn', values: [] }, { type: 'mail', values: [] }]);
  });

  void it('groupType is signed as AD returns it, sAMAccountType follows it', async () => {
    const [group] = (await search(h.engine, h.admin, { baseObject: sales, scope: 'base', attributes: ['groupType', 'sAMAccountType'] })).entries;
    assert.deepEqual(values(group, 'groupType'), ['-2147483646']);
    assert.deepEqual(values(group, 'sAMAccountType'), ['268435456']);
    const [news] = (await search(h.engine, h.admin, { baseObject: distribution, scope: 'base', attributes: ['sAMAccountType'] })).entries;
    assert.deepEqual(values(news, 'sAMAccountType'), ['268435457']);
  });

  void it('tokenGroups: security groups only, transitively, primary group and its nesting included, cycle-safe, base scope only', async () => {
    const [entry] = (await search(h.engine, h.admin, { baseObject: alice, scope: 'base', attributes: ['tokenGroups'] })).entries;
    const sids = rawValues(entry, 'tokenGroups').map((b) => sidToString(b));
    const sidOf = async (dn: string) => sidToString(rawValues((await search(h.engine, h.admin, { baseObject: dn, scope: 'base', attributes: ['objectSid'] })).entries[0], 'objectSid')[0] as Buffer);
    const expected = [await sidOf(sales), await sidOf(staff), await sidOf(everyone), `${DOMAIN_SID}-513`, 'S-1-5-32-545'];
    assert.deepEqual(sids.sort(), expected.sort());
    assert.ok(!sids.includes(await sidOf(distribution)));
    const sub = await search(h.engine, h.admin, { baseObject: ou, scope: 'sub', filter: '(sAMAccountName=alicesmith)', attributes: ['tokenGroups'] });
    assert.deepEqual(rawValues(sub.entries[0], 'tokenGroups'), []);
    assert.ok(sidToBytes(`${DOMAIN_SID}-513`).length > 0);
  });
});

void describe('engine search: rootDSE', () => {
  void it('announces AD, the naming contexts, the controls and Portico as vendor', async () => {
    const { entries } = await search(h.engine, session(), { baseObject: '', scope: 'base', filter: '(objectClass=*)' });
    const entry = entries[0];
    const rootDse = parseRootDse((name) => values(entry, name));
    assert.deepEqual(rootDse.namingContexts, [BASE, `CN=Configuration,${BASE}`, `CN=Schema,CN=Configuration,${BASE}`]);
    assert.equal(rootDse.defaultNamingContext, BASE);
    assert.equal(rootDse.rootDomainNamingContext, BASE);
    assert.equal(rootDse.configurationNamingContext, `CN=Configuration,${BASE}`);
    assert.equal(rootDse.dnsHostName, 'portico.corp.example.test');
    assert.ok(rootDse.supportedCapabilities.includes('1.2.840.113556.1.4.800'));
    assert.ok(rootDse.supportedControls.includes('1.2.840.113556.1.4.319'));
    assert.deepEqual(rootDse.supportedLdapVersions, ['3']);
    assert.deepEqual(rootDse.supportedSaslMechanisms, []);
    assert.equal(rootDse.domainFunctionality, 7);
    assert.equal(rootDse.forestFunctionality, 7);
    assert.equal(rootDse.domainControllerFunctionality, 7);
    assert.equal(rootDse.isGlobalCatalogReady, false);
    assert.equal(rootDse.isSynchronized, true);
    assert.equal(rootDse.vendorName, 'Portico');
    assert.match(values(entry, 'currentTime')[0] ?? '', /^\d{14}\.0Z$/);
    assert.match(values(entry, 'highestCommittedUSN')[0] ?? '', /^\d+$/);
    assert.equal(judgeDirectory(rootDse, { allowSamba: false }).kind, 'portico-managed');
    const [only] = (await search(h.engine, session(), { baseObject: '', scope: 'base', attributes: ['defaultNamingContext'] })).entries;
    assert.deepEqual(only?.attributes.map((a) => a.type), ['defaultNamingContext']);
  });

  void it('the domain object carries the SID and the policy in AD encodings', async () => {
    const [domain] = (await search(h.engine, h.admin, { baseObject: BASE, scope: 'base', attributes: ['objectSid', 'lockoutThreshold', 'lockoutDuration', 'lockOutObservationWindow', 'maxPwdAge', 'minPwdLength', 'pwdHistoryLength', 'pwdProperties'] })).entries;
    assert.equal(sidToString(rawValues(domain, 'objectSid')[0] as Buffer), DOMAIN_SID);
    assert.deepEqual(values(domain, 'lockoutThreshold'), ['3']);
    assert.deepEqual(values(domain, 'lockoutDuration'), ['-18000000000']);
    assert.deepEqual(values(domain, 'lockOutObservationWindow'), ['-18000000000']);
    assert.deepEqual(values(domain, 'maxPwdAge'), ['-36288000000000']);
    assert.deepEqual(values(domain, 'minPwdLength'), ['7']);
    assert.deepEqual(values(domain, 'pwdHistoryLength'), ['24']);
    assert.deepEqual(values(domain, 'pwdProperties'), ['1']);
  });
});

void describe('engine search: limits, paging and ranges (1,600-member group)', () => {
  let big: Harness;
  let group: string;
  const count = 1600;

  before(async () => {
    big = await createHarness({ store: createMemoryDirectoryStore() });
    const members: string[] = [];
    for (let i = 0; i < count; i += 1) members.push(await addUser(big, `u${String(i).padStart(4, '0')}`));
    group = await addGroup(big, 'Big Group');
    for (let i = 0; i < members.length; i += 400) await addMembers(big, group, members.slice(i, i + 400));
  });

  void it('an unpaged search stops at 1,000 entries with sizeLimitExceeded', async () => {
    const found = await search(big.engine, big.admin, { filter: '(sAMAccountType=805306368)' });
    assert.equal(found.result.resultCode, ResultCode.sizeLimitExceeded);
    assert.equal(found.entries.length, 1000);
    const limited = await search(big.engine, big.admin, { filter: '(sAMAccountType=805306368)', sizeLimit: 5 });
    assert.equal(limited.result.resultCode, ResultCode.sizeLimitExceeded);
    assert.equal(limited.entries.length, 5);
    const exact = await search(big.engine, big.admin, { filter: '(sAMAccountName=u000*)', sizeLimit: 10 });
    assert.equal(exact.result.resultCode, ResultCode.success);
    assert.equal(exact.entries.length, 10);
  });

  void it('pages cover every entry once, in a stable order, and end with an empty cookie', async () => {
    const s = big.admin;
    const seen: string[] = [];
    let cookie: Buffer = Buffer.alloc(0);
    let pages = 0;
    do {
      const page = await search(big.engine, s, { filter: '(sAMAccountType=805306368)', attributes: ['1.1'] }, [pagedControl(500, cookie)]);
      assert.equal(page.result.resultCode, ResultCode.success);
      seen.push(...names(page));
      cookie = cookieOf(page.controls);
      pages += 1;
      // A user added mid-way is allowed to appear; nothing may repeat.
      if (pages === 1) await addUser(big, 'late joiner');
    } while (cookie.length > 0);
    assert.equal(new Set(seen).size, seen.length);
    assert.equal(seen.length, count + 2); // + Administrator + the late joiner
    assert.equal(pages, 4);
  });

  void it('page sizes above 1,000 are capped; unknown and foreign cookies are refused', async () => {
    const first = await search(big.engine, big.admin, { filter: '(sAMAccountType=805306368)', attributes: ['1.1'] }, [pagedControl(5000)]);
    assert.equal(first.entries.length, 1000);
    const cookie = cookieOf(first.controls);
    const foreign = await search(big.engine, session(big.admin.boundDn), { filter: '(sAMAccountType=805306368)', attributes: ['1.1'] }, [pagedControl(10, cookie)]);
    assert.equal(foreign.result.resultCode, ResultCode.unwillingToPerform);
    const unknown = await search(big.engine, big.admin, { filter: '(sAMAccountType=805306368)' }, [pagedControl(10, Buffer.from('nope'))]);
    assert.equal(unknown.result.resultCode, ResultCode.unwillingToPerform);
    const other = await search(big.engine, big.admin, { filter: '(objectClass=group)' }, [pagedControl(10, cookie)]);
    assert.equal(other.result.resultCode, ResultCode.unwillingToPerform, 'a cookie is bound to its search');
  });

  void it('a page size of 0 abandons a paged search; a cookie left unused for 15 minutes expires', async () => {
    const request = { filter: '(sAMAccountType=805306368)', attributes: ['1.1'] };
    const first = await search(big.engine, big.admin, request, [pagedControl(10)]);
    const abandoned = await search(big.engine, big.admin, request, [pagedControl(0, cookieOf(first.controls))]);
    assert.deepEqual([abandoned.result.resultCode, abandoned.entries.length, cookieOf(abandoned.controls).length], [ResultCode.success, 0, 0]);
    assert.equal((await search(big.engine, big.admin, request, [pagedControl(10, cookieOf(first.controls))])).result.resultCode, ResultCode.unwillingToPerform);
    const second = await search(big.engine, big.admin, request, [pagedControl(10)]);
    big.clock.advance(16 * 60_000);
    assert.equal((await search(big.engine, big.admin, request, [pagedControl(10, cookieOf(second.controls))])).result.resultCode, ResultCode.unwillingToPerform);
  });

  void it('member comes in ranges of 1,500 as Windows AD returns it', async () => {
    const read = async (attribute: string) => (await search(big.engine, big.admin, { baseObject: group, scope: 'base', attributes: [attribute] })).entries[0]?.attributes ?? [];
    const [plain] = await read('member');
    assert.equal(plain?.type, 'member;range=0-1499');
    assert.equal(plain?.values.length, 1500);
    const [first] = await read('member;range=0-1499');
    assert.equal(first?.type, 'member;range=0-1499');
    const [rest] = await read('member;range=1500-2999');
    assert.equal(rest?.type, 'member;range=1500-*');
    assert.equal(rest?.values.length, 100);
    const [star] = await read('member;range=1000-*');
    assert.equal(star?.type, 'member;range=1000-*');
    assert.equal(star?.values.length, 600);
    const [small] = await read('member;range=10-19');
    assert.equal(small?.type, 'member;range=10-19');
    assert.equal(small?.values.length, 10);
    const [past] = await read('member;range=1600-*');
    assert.deepEqual(past, { type: 'member;range=1600-*', values: [] });
    const all = [...(first?.values ?? []), ...(rest?.values ?? [])].map(String);
    assert.equal(new Set(all).size, count);
  });

  void it('memberOf ranges too, and an in-chain search finds all 1,600 members with paging', async () => {
    const [entry] = (await search(big.engine, big.admin, { baseObject: `CN=u0001,${USERS}`, scope: 'base', attributes: ['memberOf;range=0-*'] })).entries;
    assert.deepEqual(entry?.attributes, [{ type: 'memberOf;range=0-*', values: [Buffer.from(group)] }]);
    const first = await search(big.engine, big.admin, { filter: `(memberOf:1.2.840.113556.1.4.1941:=${group})`, attributes: ['1.1'] }, [pagedControl(1000)]);
    const second = await search(big.engine, big.admin, { filter: `(memberOf:1.2.840.113556.1.4.1941:=${group})`, attributes: ['1.1'] }, [pagedControl(1000, cookieOf(first.controls))]);
    assert.equal(first.entries.length + second.entries.length, count);
    assert.equal(cookieOf(second.controls).length, 0);
  });

  void it('a time limit ends a long search with timeLimitExceeded', async () => {
    let calls = 0;
    const slow = await createHarness({ engine: { clock: () => new Date(Date.UTC(2026, 2, 2) + (calls += 1) * 400) } });
    await addUser(slow, 'one');
    await addUser(slow, 'two');
    const result = await search(slow.engine, slow.admin, { filter: '(objectClass=*)', timeLimit: 1 });
    assert.equal(result.result.resultCode, ResultCode.timeLimitExceeded);
  });
});

void describe('engine search: indexes', () => {
  void it('equality on an indexed attribute, alone or in the connector filters, never scans', async () => {
    const inner = createMemoryDirectoryStore();
    const calls = { scan: 0, lookup: 0 };
    const counting = {
      ...inner,
      scan: (...args: Parameters<typeof inner.scan>) => {
        calls.scan += 1;
        return inner.scan(...args);
      },
      lookup: (...args: Parameters<typeof inner.lookup>) => {
        calls.lookup += 1;
        return inner.lookup(...args);
      },
    };
    const x = await createHarness({ store: counting });
    const dn = await addUser(x, 'Indexed', { extra: { mail: 'indexed@corp.example.test' } });
    const [entry] = (await search(x.engine, x.admin, { baseObject: dn, scope: 'base', attributes: ['objectGUID', 'objectSid'] })).entries;
    const hex = (b: Buffer | undefined) => Array.from(b ?? [], (v) => `\\${v.toString(16).padStart(2, '0')}`).join('');
    const filters = [
      '(sAMAccountName=indexed)',
      '(userPrincipalName=indexed@corp.example.test)',
      '(mail=INDEXED@corp.example.test)',
      `(objectGUID=${hex(rawValues(entry, 'objectGUID')[0])})`,
      `(objectSid=${hex(rawValues(entry, 'objectSid')[0])})`,
      `(distinguishedName=${dn})`,
      '(&(sAMAccountType=805306368)(|(userPrincipalName=indexed@corp.example.test)(&(!(userPrincipalName=*))(sAMAccountName=indexed))))',
      `(&(objectClass=group)(|(objectSid=${sidToString(rawValues(entry, 'objectSid')[0] as Buffer)})(objectSid=S-1-5-21-1-2-3-4)))`,
    ];
    for (const filter of filters) {
      calls.scan = 0;
      const found = await search(x.engine, x.admin, { filter, attributes: ['1.1'] });
      assert.equal(calls.scan, 0, filter);
      assert.equal(found.result.resultCode, ResultCode.success, filter);
      assert.ok(filter.includes('objectClass=group') ? found.entries.length === 0 : names(found)[0] === dn, filter);
    }
    calls.scan = 0;
    await search(x.engine, x.admin, { filter: '(displayName=Indexed)' });
    assert.ok(calls.scan > 0, 'a non-indexed attribute scans');
    assert.ok(session().id !== session().id);
  });
});

void describe('engine search: tokenGroups and distribution groups', () => {
  void it('a security group reached only through a distribution group is not in tokenGroups (as on the Samba DC)', async () => {
    // Alice is in the distribution group Newsletter; Newsletter is put in a security group.
    const via = await addGroup(h, 'Via Newsletter', { members: [distribution] });
    try {
      const [entry] = (await search(h.engine, h.admin, { baseObject: alice, scope: 'base', attributes: ['tokenGroups', 'objectSid'] })).entries;
      const sids = rawValues(entry, 'tokenGroups').map((b) => sidToString(b));
      const [viaEntry] = (await search(h.engine, h.admin, { baseObject: via, scope: 'base', attributes: ['objectSid'] })).entries;
      assert.ok(!sids.includes(sidToString(rawValues(viaEntry, 'objectSid')[0] as Buffer)));
      // The chain itself ignores group type, as AD's LDAP_MATCHING_RULE_IN_CHAIN does.
      assert.ok(names(await q(`(member:1.2.840.113556.1.4.1941:=${alice})`)).includes(via));
    } finally {
      assert.equal((await h.engine.delete(h.admin, via)).resultCode, 0);
    }
  });
});
