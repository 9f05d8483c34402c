/**
 * Tombstones in the managed directory engine: a delete leaves a tombstone under CN=Deleted Objects
 * (isDeleted, attributes stripped, objectGUID/objectSid kept, uSNChanged bumped), listed only with
 * the Show Deleted control and only to administrators and the configured readers; AD's undelete
 * (modify: delete isDeleted, replace distinguishedName) brings it back with the same objectGUID,
 * attributes, password and memberships; tombstones past the retention period are purged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guidToString } from '#src/directory/ad-codec.ts';
import { ResultCode, type Control } from '#src/directory/managed/backend.ts';
import { BASE, USERS, addGroup, addUser, attrs, bindAs, createHarness, rawValues, search, values, type Harness } from './helpers.ts';

const showDeleted: Control = { oid: '1.2.840.113556.1.4.417', critical: true };
const restore = (h: Harness, tombstoneDn: string, to: string) =>
  h.engine.modify(h.admin, tombstoneDn, [
    { operation: 'delete', type: 'isDeleted', values: [] },
    { operation: 'replace', type: 'distinguishedName', values: [Buffer.from(to)] },
  ]);

async function deletedUser(options: Parameters<typeof createHarness>[0] = {}) {
  const h = await createHarness({ ...options, engine: { deletedObjectReaders: ['SvcSync'], ...options.engine } });
  await h.engine.add(h.admin, { entry: `OU=Staff,${BASE}`, attributes: attrs({ objectClass: 'organizationalUnit' }) });
  const reader = await addUser(h, 'svc-sync', { password: 'Reader-Pa55word!' });
  await addUser(h, 'Plain Reader', { password: 'Plain-Pa55word!' });
  const dn = await addUser(h, 'Tom Stone', { password: 'Tom-Pa55word!', parent: `OU=Staff,${BASE}`, extra: { givenName: 'Tom', sn: 'Stone', mail: 'tom@corp.example.test', title: 'Mason' } });
  const group = await addGroup(h, 'Masons', { members: [dn] });
  const live = (await search(h.engine, h.admin, { baseObject: dn, scope: 'base', attributes: ['objectGUID', 'objectSid', 'uSNChanged'] })).entries[0];
  assert.equal((await h.engine.delete(h.admin, dn)).resultCode, ResultCode.success);
  return { h, dn, group, reader, guid: guidToString(rawValues(live, 'objectGUID')[0] as Buffer), sid: rawValues(live, 'objectSid')[0] as Buffer, usn: BigInt(values(live, 'uSNChanged')[0] ?? '0') };
}

const byGuid = (guid: string) => `(objectGUID=${guidFilter(guid)})`;
function guidFilter(guid: string): string {
  // objectGUID's wire bytes: the first three fields little-endian.
  const h = guid.replaceAll('-', '');
  const le = (s: string) => s.match(/../g)?.reverse().join('') ?? '';
  const bytes = le(h.slice(0, 8)) + le(h.slice(8, 12)) + le(h.slice(12, 16)) + h.slice(16);
  return bytes.replace(/../g, '\\$&');
}

void describe('managed directory tombstones', () => {
  void it('a delete leaves a tombstone under CN=Deleted Objects: stripped, same GUID and SID, uSNChanged bumped, listed with Show Deleted to administrators only', async () => {
    const { h, dn, guid, sid, usn } = await deletedUser();
    assert.equal((await search(h.engine, h.admin, { filter: byGuid(guid) })).entries.length, 0, 'invisible without the control');
    assert.equal((await search(h.engine, h.admin, { baseObject: dn, scope: 'base' })).result.resultCode, ResultCode.noSuchObject);
    const found = await search(h.engine, h.admin, { filter: `(&(isDeleted=TRUE)${byGuid(guid)})`, attributes: ['*', 'isDeleted', 'lastKnownParent'] }, [showDeleted]);
    assert.equal(found.entries.length, 1);
    const tomb = found.entries[0];
    assert.match(tomb?.objectName ?? '', new RegExp(`^CN=Tom Stone\\nDEL:${guid},CN=Deleted Objects,${BASE}$`, 'i'));
    assert.deepEqual(values(tomb, 'isDeleted'), ['TRUE']);
    assert.deepEqual(values(tomb, 'lastKnownParent'), [`OU=Staff,${BASE}`]);
    assert.deepEqual(rawValues(tomb, 'objectSid'), [sid]);
    assert.ok(BigInt(values(tomb, 'uSNChanged')[0] ?? '0') > usn, 'uSNChanged bumped by the delete');
    for (const stripped of ['sAMAccountName', 'userPrincipalName', 'mail', 'givenName', 'title', 'memberOf', 'userAccountControl']) assert.deepEqual(values(tomb, stripped), [], stripped);
    // uSNChanged polling with Show Deleted, as the AD sync asks.
    const since = await search(h.engine, h.admin, { filter: `(&(isDeleted=TRUE)(uSNChanged>=${usn + 1n}))`, attributes: ['objectGUID'] }, [showDeleted]);
    assert.deepEqual(since.entries.map((e) => guidToString(rawValues(e, 'objectGUID')[0] as Buffer)), [guid]);

    const plain = await bindAs(h.engine, 'plainreader@corp.example.test', 'Plain-Pa55word!');
    assert.equal(plain.result.resultCode, ResultCode.success);
    const ignored = await search(h.engine, plain.session, { filter: `(isDeleted=TRUE)` }, [showDeleted]);
    assert.equal(ignored.result.resultCode, ResultCode.success);
    assert.equal(ignored.entries.length, 0, 'a plain user gets no tombstones, the control is ignored');
    const reader = await bindAs(h.engine, 'svcsync@corp.example.test', 'Reader-Pa55word!');
    assert.deepEqual(
      (await search(h.engine, reader.session, { filter: `(&(isDeleted=TRUE)${byGuid(guid)})` }, [showDeleted])).entries.length,
      1,
      'a configured reader (the sync’s service account) lists tombstones',
    );
  });

  void it('a tombstone cannot be bound, modified, moved, deleted or hold entries; its names are free again', async () => {
    const { h, guid } = await deletedUser();
    assert.equal((await bindAs(h.engine, 'tomstone@corp.example.test', 'Tom-Pa55word!')).result.resultCode, ResultCode.invalidCredentials);
    const tomb = (await search(h.engine, h.admin, { filter: byGuid(guid) }, [showDeleted])).entries[0]?.objectName ?? '';
    assert.equal((await bindAs(h.engine, tomb, 'Tom-Pa55word!')).result.resultCode, ResultCode.invalidCredentials);
    assert.equal((await h.engine.modify(h.admin, tomb, [{ operation: 'replace', type: 'title', values: [Buffer.from('x')] }])).resultCode, ResultCode.unwillingToPerform);
    assert.equal((await h.engine.delete(h.admin, tomb)).resultCode, ResultCode.noSuchObject);
    assert.equal((await h.engine.modifyDn(h.admin, { entry: tomb, newRdn: 'CN=Back', deleteOldRdn: true, newSuperior: USERS })).resultCode, ResultCode.noSuchObject);
    assert.equal((await h.engine.add(h.admin, { entry: `CN=Child,${tomb}`, attributes: attrs({ objectClass: 'container' }) })).resultCode, ResultCode.noSuchObject);
    assert.equal((await h.engine.add(h.admin, { entry: `OU=Staff,${BASE}`, attributes: attrs({ objectClass: 'organizationalUnit' }) })).resultCode, ResultCode.entryAlreadyExists);
    // The sAMAccountName and UPN are free for a new account, and a restore then refuses to take them.
    const again = await addUser(h, 'Tom Stone', { password: 'Tom2-Pa55word!' });
    assert.equal((await restore(h, tomb, `CN=Tom Stone 2,${USERS}`)).resultCode, ResultCode.entryAlreadyExists);
    assert.equal((await h.engine.delete(h.admin, again)).resultCode, ResultCode.success);
  });

  void it('restore (AD’s undelete) brings the object back with the same GUID, attributes, password and memberships; only administrators may', async () => {
    const { h, dn, group, reader, guid, usn } = await deletedUser();
    const tomb = (await search(h.engine, h.admin, { filter: byGuid(guid) }, [showDeleted])).entries[0]?.objectName ?? '';
    const svc = await bindAs(h.engine, reader, 'Reader-Pa55word!');
    assert.equal((await h.engine.modify(svc.session, tomb, [{ operation: 'delete', type: 'isDeleted', values: [] }, { operation: 'replace', type: 'distinguishedName', values: [Buffer.from(dn)] }])).resultCode, ResultCode.insufficientAccessRights);
    assert.equal((await h.engine.modify(h.admin, tomb, [{ operation: 'delete', type: 'isDeleted', values: [] }])).resultCode, ResultCode.unwillingToPerform, 'the restore needs the new DN');
    assert.equal((await restore(h, tomb, `CN=Tom Stone,OU=Nowhere,${BASE}`)).resultCode, ResultCode.noSuchObject, 'the parent must exist');
    assert.equal((await restore(h, tomb, dn)).resultCode, ResultCode.success);
    const back = (await search(h.engine, h.admin, { baseObject: dn, scope: 'base', attributes: ['*', 'isDeleted'] })).entries[0];
    assert.equal(guidToString(rawValues(back, 'objectGUID')[0] as Buffer), guid);
    assert.deepEqual([values(back, 'givenName'), values(back, 'title'), values(back, 'mail'), values(back, 'isDeleted')], [['Tom'], ['Mason'], ['tom@corp.example.test'], []]);
    assert.deepEqual(values(back, 'memberOf'), [group]);
    assert.ok(BigInt(values(back, 'uSNChanged')[0] ?? '0') > usn + 1n, 'the restore bumps uSNChanged again');
    assert.equal((await bindAs(h.engine, 'tomstone@corp.example.test', 'Tom-Pa55word!')).result.resultCode, ResultCode.success, 'the password came back');
    assert.equal((await search(h.engine, h.admin, { filter: '(isDeleted=TRUE)' }, [showDeleted])).entries.some((e) => e.objectName === tomb), false, 'no tombstone left');
  });

  void it('purges tombstones older than the retention period (configurable; AD’s 180 days by default)', async () => {
    const { h, guid } = await deletedUser({ engine: { tombstoneLifetimeDays: 30 } });
    const tombs = () => search(h.engine, h.admin, { filter: byGuid(guid) }, [showDeleted]).then((r) => r.entries.length);
    h.clock.advance(29 * 86_400_000);
    assert.equal(await h.engine.purgeTombstones(), 0);
    assert.equal(await tombs(), 1);
    h.clock.advance(1 * 86_400_000);
    assert.equal(await h.engine.purgeTombstones(), 1);
    assert.equal(await tombs(), 0);
    assert.equal((await search(h.engine, h.admin, { baseObject: `CN=Deleted Objects,${BASE}`, scope: 'base' }, [showDeleted])).entries.length, 1, 'the container stays');

    const defaults = await deletedUser();
    defaults.h.clock.advance(179 * 86_400_000);
    assert.equal(await defaults.h.engine.purgeTombstones(), 0);
    defaults.h.clock.advance(86_400_000);
    assert.equal(await defaults.h.engine.purgeTombstones(), 1);
  });
});
