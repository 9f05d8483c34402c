/** Writes: administrators only, schema and system-owned attributes, referential integrity, renames and moves, compare. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResultCode } from '#src/directory/managed/backend.ts';
import { parseDn, normalizeDn, escapeDnValue, formatDn } from '#src/directory/managed/engine/dn.ts';
import { BASE, USERS, addGroup, addMembers, addUser, attrs, bindAs, createHarness, names, search, session, values } from './helpers.ts';

void describe('engine writes: who may write', () => {
  void it('administrators (members of Domain Admins, transitively) write; other users get insufficientAccessRights; anonymous is not bound', async () => {
    const h = await createHarness();
    const user = await addUser(h, 'Plain', { password: 'Start-Pw-0011' });
    const { session: plain } = await bindAs(h.engine, user, 'Start-Pw-0011');
    const add = (s: typeof plain, cn: string) => h.engine.add(s, { entry: `CN=${cn},${USERS}`, attributes: attrs({ objectClass: 'group' }) });
    assert.equal((await add(plain, 'Nope')).resultCode, ResultCode.insufficientAccessRights);
    assert.equal((await h.engine.modify(plain, user, [{ operation: 'replace', type: 'title', values: [Buffer.from('CEO')] }])).resultCode, ResultCode.insufficientAccessRights);
    assert.equal((await h.engine.delete(plain, user)).resultCode, ResultCode.insufficientAccessRights);
    assert.equal((await h.engine.modifyDn(plain, { entry: user, newRdn: 'CN=Renamed', deleteOldRdn: true })).resultCode, ResultCode.insufficientAccessRights);
    assert.equal((await add(session(), 'Anon')).resultCode, ResultCode.operationsError);

    // Nested: Helpdesk ∈ Domain Admins, Plain ∈ Helpdesk.
    const helpdesk = await addGroup(h, 'Helpdesk', { members: [user] });
    await addMembers(h, `CN=Domain Admins,${USERS}`, [helpdesk]);
    assert.equal((await add(plain, 'Allowed')).resultCode, ResultCode.success);
  });

  void it('every bound user may read; anonymous may not', async () => {
    const h = await createHarness();
    const user = await addUser(h, 'Reader', { password: 'Start-Pw-0012' });
    const { session: s } = await bindAs(h.engine, user, 'Start-Pw-0012');
    const found = await search(h.engine, s, { filter: '(sAMAccountName=Administrator)', attributes: ['memberOf'] });
    assert.equal(found.entries.length, 1);
    assert.equal((await search(h.engine, session(), { filter: '(sAMAccountName=Administrator)' })).result.resultCode, ResultCode.operationsError);
  });
});

void describe('engine writes: add', () => {
  void it('fills AD defaults: objectGUID, objectSid with increasing RIDs, sAMAccountType, primaryGroupID 513, disabled without a password', async () => {
    const h = await createHarness();
    const a = await addUser(h, 'First');
    const b = await addUser(h, 'Second', { password: 'Start-Pw-0013' });
    const read = async (dn: string) => (await search(h.engine, h.admin, { baseObject: dn, scope: 'base', attributes: ['*', 'msDS-User-Account-Control-Computed'] })).entries[0];
    const first = await read(a);
    const second = await read(b);
    const rid = (entry: typeof first) => entry?.attributes.find((x) => x.type === 'objectSid')?.values[0]?.readUInt32LE(24) ?? 0;
    assert.ok(rid(first) >= 1103 && rid(second) === rid(first) + 1);
    assert.deepEqual(values(first, 'userAccountControl'), ['514']);
    assert.deepEqual(values(second, 'userAccountControl'), ['512']);
    assert.deepEqual(values(first, 'primaryGroupID'), ['513']);
    assert.deepEqual(values(first, 'pwdLastSet'), ['0']);
    assert.notDeepEqual(values(second, 'pwdLastSet'), ['0']);
    assert.deepEqual(values(first, 'name'), ['First']);
    assert.deepEqual(values(first, 'objectCategory'), [`CN=Person,CN=Schema,CN=Configuration,${BASE}`]);
    assert.ok(Number(values(second, 'uSNCreated')[0]) > Number(values(first, 'uSNCreated')[0]));
  });

  void it('refuses what AD refuses', async () => {
    const h = await createHarness();
    await addUser(h, 'Taken');
    const add = (dn: string, record: Parameters<typeof attrs>[0]) => h.engine.add(h.admin, { entry: dn, attributes: attrs(record) });
    const user = { objectClass: 'user' };
    assert.equal((await add(`CN=Taken,${USERS}`, user)).resultCode, ResultCode.entryAlreadyExists);
    assert.equal((await add(`CN=Other,${USERS}`, { ...user, sAMAccountName: 'TAKEN' })).resultCode, ResultCode.entryAlreadyExists);
    assert.equal((await add(`CN=Other,${USERS}`, { ...user, userPrincipalName: 'taken@corp.example.test' })).resultCode, ResultCode.constraintViolation);
    assert.equal((await add(`CN=Other,${USERS}`, { ...user, sAMAccountName: 'bad/name' })).resultCode, ResultCode.constraintViolation);
    assert.equal((await add(`CN=Other,${USERS}`, { ...user, sAMAccountName: 'a'.repeat(21) })).resultCode, ResultCode.constraintViolation);
    assert.equal((await add(`CN=Other,OU=Missing,${BASE}`, user)).resultCode, ResultCode.noSuchObject);
    assert.equal((await add(`CN=Other,${USERS}`, { objectClass: 'spaceship' })).resultCode, ResultCode.objectClassViolation);
    assert.equal((await add(`OU=Other,${USERS}`, user)).resultCode, ResultCode.namingViolation);
    assert.equal((await add(`CN=Other,${USERS}`, { ...user, noSuchAttribute: 'x' })).resultCode, ResultCode.undefinedAttributeType);
    assert.equal((await add(`CN=Other,${USERS}`, { ...user, sn: ['a', 'b'] })).resultCode, ResultCode.constraintViolation);
    assert.equal((await add(`CN=Other,${USERS}`, { ...user, userAccountControl: 'lots' })).resultCode, ResultCode.invalidAttributeSyntax);
    for (const system of ['objectGUID', 'objectSid', 'uSNChanged', 'whenCreated', 'memberOf', 'sAMAccountType']) {
      const result = await add(`CN=Other,${USERS}`, { ...user, [system]: '1' });
      assert.ok([ResultCode.unwillingToPerform, ResultCode.constraintViolation].includes(result.resultCode as 53 | 19), `${system}: ${result.resultCode}`);
    }
    assert.equal((await add(`CN=Member,${USERS}`, { objectClass: 'group', member: `CN=Ghost,${USERS}` })).resultCode, ResultCode.noSuchObject);
    assert.equal((await add(`CN=Other,${USERS}`, user)).resultCode, ResultCode.success, 'nothing half-written by the failures above');
  });
});

void describe('engine writes: modify', () => {
  void it('add, delete and replace values with AD result codes; system attributes and the RDN are refused', async () => {
    const h = await createHarness();
    const dn = await addUser(h, 'Mod', { extra: { proxyAddresses: ['SMTP:a@x.test'] } });
    const modify = (operation: 'add' | 'delete' | 'replace', type: string, v: string[]) => h.engine.modify(h.admin, dn, [{ operation, type, values: v.map((x) => Buffer.from(x)) }]);
    assert.equal((await modify('add', 'proxyAddresses', ['smtp:b@x.test'])).resultCode, ResultCode.success);
    assert.equal((await modify('add', 'proxyAddresses', ['SMTP:B@X.TEST'])).resultCode, ResultCode.attributeOrValueExists);
    assert.equal((await modify('delete', 'proxyAddresses', ['nope'])).resultCode, ResultCode.noSuchAttribute);
    assert.equal((await modify('delete', 'title', [])).resultCode, ResultCode.noSuchAttribute);
    assert.equal((await modify('delete', 'proxyAddresses', ['SMTP:a@x.test'])).resultCode, ResultCode.success);
    assert.equal((await modify('replace', 'title', ['Boss'])).resultCode, ResultCode.success);
    assert.equal((await modify('replace', 'title', [])).resultCode, ResultCode.success);
    assert.equal((await modify('replace', 'cn', ['Renamed'])).resultCode, ResultCode.notAllowedOnRDN);
    for (const system of ['objectGUID', 'objectSid', 'uSNCreated', 'whenChanged', 'memberOf', 'distinguishedName']) {
      const result = await modify('replace', system, ['1']);
      assert.ok([ResultCode.unwillingToPerform, ResultCode.constraintViolation].includes(result.resultCode as 53 | 19), system);
    }
    const [entry] = (await search(h.engine, h.admin, { baseObject: dn, scope: 'base', attributes: ['proxyAddresses', 'title'] })).entries;
    assert.deepEqual(entry?.attributes.map((a) => [a.type, a.values.map(String)]), [['proxyAddresses', ['smtp:b@x.test']]]);
    // A failed multi-change request leaves nothing behind.
    const mixed = await h.engine.modify(h.admin, dn, [
      { operation: 'replace', type: 'title', values: [Buffer.from('Half')] },
      { operation: 'replace', type: 'objectGUID', values: [Buffer.alloc(16)] },
    ]);
    assert.equal(mixed.resultCode, ResultCode.unwillingToPerform);
    assert.deepEqual(values((await search(h.engine, h.admin, { baseObject: dn, scope: 'base', attributes: ['title'] })).entries[0], 'title'), []);
  });

  void it('member: adding a member twice is entryAlreadyExists, removing a non-member unwillingToPerform; memberOf follows', async () => {
    const h = await createHarness();
    const u = await addUser(h, 'Joiner');
    const g = await addGroup(h, 'Club');
    await addMembers(h, g, [u]);
    const again = await h.engine.modify(h.admin, g, [{ operation: 'add', type: 'member', values: [Buffer.from(u.toUpperCase())] }]);
    assert.equal(again.resultCode, ResultCode.entryAlreadyExists);
    const memberOf = async () => values((await search(h.engine, h.admin, { baseObject: u, scope: 'base', attributes: ['memberOf'] })).entries[0], 'memberOf');
    assert.deepEqual(await memberOf(), [g]);
    assert.equal((await h.engine.modify(h.admin, g, [{ operation: 'delete', type: 'member', values: [Buffer.from(u)] }])).resultCode, ResultCode.success);
    assert.equal((await h.engine.modify(h.admin, g, [{ operation: 'delete', type: 'member', values: [Buffer.from(u)] }])).resultCode, ResultCode.unwillingToPerform);
    assert.deepEqual(await memberOf(), []);
    const userMember = await h.engine.modify(h.admin, u, [{ operation: 'add', type: 'member', values: [Buffer.from(g)] }]);
    assert.equal(userMember.resultCode, ResultCode.objectClassViolation);
  });

  void it('groupType changes sAMAccountType; primaryGroupID must name a group the user is in', async () => {
    const h = await createHarness();
    const u = await addUser(h, 'Prim');
    const g = await addGroup(h, 'Primary');
    const set = (dn: string, type: string, value: string) => h.engine.modify(h.admin, dn, [{ operation: 'replace', type, values: [Buffer.from(value)] }]);
    assert.equal((await set(g, 'groupType', '2')).resultCode, ResultCode.success);
    assert.deepEqual(values((await search(h.engine, h.admin, { baseObject: g, scope: 'base', attributes: ['sAMAccountType'] })).entries[0], 'sAMAccountType'), ['268435457']);
    assert.equal((await set(g, 'groupType', '3')).resultCode, ResultCode.unwillingToPerform);
    const [group] = (await search(h.engine, h.admin, { baseObject: g, scope: 'base', attributes: ['objectSid'] })).entries;
    const rid = String(group?.attributes[0]?.values[0]?.readUInt32LE(24));
    assert.equal((await set(u, 'primaryGroupID', rid)).resultCode, ResultCode.unwillingToPerform);
    await addMembers(h, g, [u]);
    assert.equal((await set(u, 'primaryGroupID', rid)).resultCode, ResultCode.success);
  });
});

void describe('engine writes: delete, rename, move (referential integrity)', () => {
  void it('deleting a member removes it from every group; a non-leaf delete is notAllowedOnNonLeaf; critical objects stay', async () => {
    const h = await createHarness();
    const ou = `OU=Temp,${BASE}`;
    assert.equal((await h.engine.add(h.admin, { entry: ou, attributes: attrs({ objectClass: 'organizationalUnit' }) })).resultCode, 0);
    const u = await addUser(h, 'Leaver', { parent: ou });
    const g = await addGroup(h, 'Team', { members: [u] });
    assert.equal((await h.engine.delete(h.admin, ou)).resultCode, ResultCode.notAllowedOnNonLeaf);
    assert.equal((await h.engine.delete(h.admin, u)).resultCode, ResultCode.success);
    assert.deepEqual(values((await search(h.engine, h.admin, { baseObject: g, scope: 'base', attributes: ['member'] })).entries[0], 'member'), []);
    assert.equal((await h.engine.delete(h.admin, ou)).resultCode, ResultCode.success);
    assert.equal((await h.engine.delete(h.admin, u)).resultCode, ResultCode.noSuchObject);
    for (const dn of [`CN=Domain Admins,${USERS}`, USERS, BASE]) {
      assert.equal((await h.engine.delete(h.admin, dn)).resultCode === ResultCode.success, false, dn);
    }
  });

  void it('renaming and moving keep member/memberOf correct, move descendants, keep objectGUID', async () => {
    const h = await createHarness();
    const ouA = `OU=A,${BASE}`;
    const ouB = `OU=B,${BASE}`;
    for (const dn of [ouA, ouB]) await h.engine.add(h.admin, { entry: dn, attributes: attrs({ objectClass: 'organizationalUnit' }) });
    const inner = `OU=Inner,${ouA}`;
    await h.engine.add(h.admin, { entry: inner, attributes: attrs({ objectClass: 'organizationalUnit' }) });
    const u = await addUser(h, 'Mover', { parent: inner });
    const g = await addGroup(h, 'Watchers', { members: [u] });
    const guidBefore = (await search(h.engine, h.admin, { baseObject: u, scope: 'base', attributes: ['objectGUID'] })).entries[0]?.attributes[0]?.values[0];

    const renamed = await h.engine.modifyDn(h.admin, { entry: u, newRdn: 'CN=Mover\\, Jr.', deleteOldRdn: true });
    assert.equal(renamed.resultCode, ResultCode.success, JSON.stringify(renamed));
    const u2 = `CN=Mover\\, Jr.,${inner}`;
    assert.deepEqual(values((await search(h.engine, h.admin, { baseObject: g, scope: 'base', attributes: ['member'] })).entries[0], 'member'), [u2]);
    const [entry] = (await search(h.engine, h.admin, { baseObject: u2, scope: 'base', attributes: ['cn', 'name', 'objectGUID', 'memberOf'] })).entries;
    assert.deepEqual(values(entry, 'cn'), ['Mover, Jr.']);
    assert.deepEqual(values(entry, 'name'), ['Mover, Jr.']);
    assert.deepEqual(entry?.attributes.find((a) => a.type === 'objectGUID')?.values[0], guidBefore);

    const moved = await h.engine.modifyDn(h.admin, { entry: inner, newRdn: 'OU=Inner', deleteOldRdn: true, newSuperior: ouB });
    assert.equal(moved.resultCode, ResultCode.success);
    const u3 = `CN=Mover\\, Jr.,OU=Inner,${ouB}`;
    assert.deepEqual(values((await search(h.engine, h.admin, { baseObject: g, scope: 'base', attributes: ['member'] })).entries[0], 'member'), [u3]);
    assert.deepEqual(names(await search(h.engine, h.admin, { baseObject: ouB, scope: 'sub', filter: '(objectClass=user)' })), [u3]);
    assert.deepEqual(names(await search(h.engine, h.admin, { baseObject: ouA, scope: 'sub' })), [ouA]);
    assert.deepEqual(names(await search(h.engine, h.admin, { filter: `(member=${u3.replaceAll('\\', '\\5c')})` })), [g]);
    assert.equal(formatDn(parseDn(u3)), u3);
    assert.equal(normalizeDn(u3), `cn=mover\\2c jr.,ou=inner,ou=b,dc=corp,dc=example,dc=test`);

    assert.equal((await h.engine.modifyDn(h.admin, { entry: ouB, newRdn: 'OU=B', deleteOldRdn: true, newSuperior: `OU=Inner,${ouB}` })).resultCode, ResultCode.unwillingToPerform);
    assert.equal((await h.engine.modifyDn(h.admin, { entry: ouB, newRdn: 'OU=A', deleteOldRdn: true })).resultCode, ResultCode.entryAlreadyExists);
    assert.equal((await h.engine.modifyDn(h.admin, { entry: u3, newRdn: 'OU=Wrong', deleteOldRdn: true })).resultCode, ResultCode.namingViolation);
    assert.equal(escapeDnValue(' #lead'), '\\ #lead');
  });

  void it('a user renamed keeps signing in by UPN and by DOMAIN\\name', async () => {
    const h = await createHarness();
    const u = await addUser(h, 'Signer', { password: 'Start-Pw-0009' });
    await h.engine.modifyDn(h.admin, { entry: u, newRdn: 'CN=Signer Renamed', deleteOldRdn: true });
    const { session: s } = await bindAs(h.engine, 'CORP\\signer', 'Start-Pw-0009');
    assert.equal(s.boundDn, `CN=Signer Renamed,${USERS}`);
  });
});

void describe('engine compare', () => {
  void it('compareTrue, compareFalse, noSuchAttribute, never a password', async () => {
    const h = await createHarness();
    const u = await addUser(h, 'Cmp', { password: 'Start-Pw-0010', extra: { title: 'Engineer' } });
    const { session: s } = await bindAs(h.engine, u, 'Start-Pw-0010');
    assert.equal((await h.engine.compare(s, u, 'title', Buffer.from('ENGINEER'))).resultCode, ResultCode.compareTrue);
    assert.equal((await h.engine.compare(s, u, 'title', Buffer.from('Manager'))).resultCode, ResultCode.compareFalse);
    assert.equal((await h.engine.compare(s, u, 'mail', Buffer.from('x'))).resultCode, ResultCode.noSuchAttribute);
    assert.equal((await h.engine.compare(s, u, 'unicodePwd', Buffer.from('Start-Pw-0010'))).resultCode, ResultCode.insufficientAccessRights);
    assert.equal((await h.engine.compare(s, u, 'objectClass', Buffer.from('person'))).resultCode, ResultCode.compareTrue);
    assert.equal((await h.engine.compare(session(), u, 'title', Buffer.from('Engineer'))).resultCode, ResultCode.operationsError);
  });
});
