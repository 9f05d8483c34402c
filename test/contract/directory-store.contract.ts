/**
 * The behaviour every DirectoryStore (the managed directory's storage) must have, whatever
 * stores it. A test file calls `directoryStoreContract` with a factory for its implementation;
 * the last tests drive the whole engine over the store, so SQL-specific behaviour (transactions,
 * locking, bigint columns, collation of the subtree ranges) is exercised end to end.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResultCode } from '#src/directory/managed/backend.ts';
import { normalizeDn, parentNdn } from '#src/directory/managed/engine/dn.ts';
import type { DirectoryStore, StoredEntry } from '#src/directory/managed/engine/store.ts';
import { indexKey } from '#src/directory/managed/engine/store.ts';
import { isAppError } from '#src/shared/errors.ts';
import { BASE, USERS, addGroup, addUser, bindAs, cookieOf, createHarness, names, pagedControl, search, subCode, values } from '../managed/engine/helpers.ts';

export interface DirectoryStoreHarness {
  store: DirectoryStore;
  /** Everything the implementation persisted, serialized: used to prove no plaintext password is kept. */
  dumpStorage: () => Promise<string>;
  dispose: () => Promise<void>;
}

export type DirectoryStoreFactory = () => Promise<DirectoryStoreHarness>;

let nextUsn = 0;
function entry(dn: string, extra: Partial<StoredEntry> & { attributes?: StoredEntry['attributes'] } = {}): StoredEntry {
  nextUsn += 1;
  const ndn = normalizeDn(dn);
  return {
    guid: (Math.random().toString(16).slice(2) + '0'.repeat(32)).slice(0, 32),
    dn,
    ndn,
    parentNdn: parentNdn(ndn),
    sid: null,
    usnCreated: extra.usnCreated ?? nextUsn,
    usnChanged: extra.usnCreated ?? nextUsn,
    ...extra,
    attributes: { objectClass: ['top', 'container'], ...extra.attributes },
  };
}

export function directoryStoreContract(factory: DirectoryStoreFactory): void {
  async function withStore(run: (harness: DirectoryStoreHarness) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness);
    } finally {
      await harness.dispose();
    }
  }

  void describe('DirectoryStore contract', () => {
    void it('stores entries with text and binary attributes and finds them by DN, GUID and the indexes', () =>
      withStore(async ({ store }) => {
        const photo = Buffer.from([0, 1, 2, 255]);
        const alice = entry(`CN=Alice,${USERS}`, {
          sid: 'S-1-5-21-1-2-3-1105',
          attributes: { objectClass: ['top', 'user'], sAMAccountName: ['Alice'], userPrincipalName: ['Alice@Corp.Example.Test'], mail: ['alice@corp.example.test'], thumbnailPhoto: [photo], sn: ['Ünïcødé'] },
        });
        await store.transaction((tx) => tx.insert(alice));
        assert.deepEqual(await store.getByNdn(alice.ndn), alice);
        assert.deepEqual(await store.getByGuids([alice.guid, 'f'.repeat(32)]), [alice]);
        assert.deepEqual(await store.lookup('sAMAccountName', indexKey('sAMAccountName', 'ALICE')), [alice]);
        assert.deepEqual(await store.lookup('userPrincipalName', indexKey('userPrincipalName', 'alice@corp.example.test')), [alice]);
        assert.deepEqual(await store.lookup('mail', 'alice@corp.example.test'), [alice]);
        assert.deepEqual(await store.lookup('objectGUID', alice.guid), [alice]);
        assert.deepEqual(await store.lookup('objectSid', indexKey('objectSid', 's-1-5-21-1-2-3-1105')), [alice]);
        assert.deepEqual(await store.lookup('sAMAccountName', 'bob'), []);
        assert.equal(await store.getByNdn('cn=nobody'), undefined);
      }));

    void it('refuses a second entry with the same DN, GUID, SID, sAMAccountName or UPN, case-insensitively', () =>
      withStore(async ({ store }) => {
        const first = entry(`CN=A,${USERS}`, { sid: 'S-1-5-21-1-2-3-1', attributes: { sAMAccountName: ['Same'], userPrincipalName: ['same@x.test'] } });
        await store.transaction((tx) => tx.insert(first));
        const clashes: StoredEntry[] = [
          entry(`cn=a,cn=users,${BASE}`),
          { ...entry(`CN=B1,${USERS}`), guid: first.guid },
          entry(`CN=B2,${USERS}`, { sid: 'S-1-5-21-1-2-3-1' }),
          entry(`CN=B3,${USERS}`, { attributes: { sAMAccountName: ['SAME'] } }),
          entry(`CN=B4,${USERS}`, { attributes: { userPrincipalName: ['SAME@X.TEST'] } }),
        ];
        for (const clash of clashes) {
          await assert.rejects(store.transaction((tx) => tx.insert(clash)), (error) => isAppError(error, 'storage.conflict'), clash.dn);
        }
        // Two entries may share a mail address (AD does not require it unique).
        await store.transaction((tx) => tx.insert(entry(`CN=M1,${USERS}`, { attributes: { mail: ['x@x.test'] } })));
        await store.transaction((tx) => tx.insert(entry(`CN=M2,${USERS}`, { attributes: { mail: ['X@x.test'] } })));
        assert.equal((await store.lookup('mail', 'x@x.test')).length, 2);
      }));

    void it('scans by subtree and by parent in uSNCreated order with a cursor, without siblings that share a prefix', () =>
      withStore(async ({ store }) => {
        const dns = [BASE, USERS, `CN=U1,${USERS}`, `CN=U2,${USERS}`, `CN=Users2,${BASE}`, `CN=X,CN=Users2,${BASE}`, `CN=Deep,CN=U1,${USERS}`, `CN=Comma\\,Name,${USERS}`];
        const entries = dns.map((dn) => entry(dn));
        await store.transaction(async (tx) => {
          for (const e of entries) await tx.insert(e);
        });
        const usersNdn = normalizeDn(USERS);
        const subtree = await store.scan({ subtree: usersNdn, afterUsn: 0, limit: 100 });
        assert.deepEqual(subtree.map((e) => e.dn), [USERS, `CN=U1,${USERS}`, `CN=U2,${USERS}`, `CN=Deep,CN=U1,${USERS}`, `CN=Comma\\,Name,${USERS}`]);
        const page1 = await store.scan({ subtree: usersNdn, afterUsn: 0, limit: 2 });
        const page2 = await store.scan({ subtree: usersNdn, afterUsn: page1[1]?.usnCreated ?? 0, limit: 2 });
        assert.deepEqual([...page1, ...page2].map((e) => e.dn), subtree.slice(0, 4).map((e) => e.dn));
        const children = await store.scan({ parent: usersNdn, afterUsn: 0, limit: 100 });
        assert.deepEqual(children.map((e) => e.dn), [`CN=U1,${USERS}`, `CN=U2,${USERS}`, `CN=Comma\\,Name,${USERS}`]);
        assert.equal((await store.scan({ subtree: '', afterUsn: 0, limit: 100 })).length, dns.length);
        assert.equal(await store.countSubtree(usersNdn, 100), 5);
        assert.equal(await store.countSubtree(usersNdn, 2), 3, 'counts up to cap + 1 only');
        assert.equal(await store.hasChildren(usersNdn), true);
        assert.equal(await store.hasChildren(normalizeDn(`CN=U2,${USERS}`)), false);
      }));

    void it('keeps membership links by GUID, both directions, ordered by the linked entry', () =>
      withStore(async ({ store }) => {
        const group = entry(`CN=G,${USERS}`);
        const a = entry(`CN=A,${USERS}`);
        const b = entry(`CN=B,${USERS}`);
        await store.transaction(async (tx) => {
          for (const e of [group, a, b]) await tx.insert(e);
          await tx.addLinks([
            { group: group.guid, member: b.guid },
            { group: group.guid, member: a.guid },
          ]);
        });
        assert.deepEqual(await store.linked(group.guid, 'member'), [
          { guid: a.guid, dn: a.dn },
          { guid: b.guid, dn: b.dn },
        ]);
        assert.deepEqual(await store.linked(a.guid, 'memberOf'), [{ guid: group.guid, dn: group.dn }]);
        assert.equal((await store.linksOfGroups([group.guid])).length, 2);
        assert.deepEqual(await store.linksOfMembers([a.guid]), [{ group: group.guid, member: a.guid }]);
        await assert.rejects(store.transaction((tx) => tx.addLinks([{ group: group.guid, member: a.guid }])), (error) => isAppError(error, 'storage.conflict'));
        // A rename changes what the links resolve to, not the links.
        const renamedDn = `CN=A2,${USERS}`;
        await store.transaction((tx) => tx.update({ ...a, dn: renamedDn, ndn: normalizeDn(renamedDn) }));
        assert.deepEqual((await store.linked(group.guid, 'member')).map((l) => l.dn), [renamedDn, b.dn]);
        await store.transaction((tx) => tx.removeLinks([{ group: group.guid, member: b.guid }]));
        assert.deepEqual((await store.linked(group.guid, 'member')).map((l) => l.dn), [renamedDn]);
        await store.transaction((tx) => tx.remove(a.guid));
        assert.deepEqual(await store.linked(group.guid, 'member'), []);
        assert.equal(await store.getByNdn(normalizeDn(renamedDn)), undefined);
      }));

    void it('keeps credentials per entry and removes them with it', () =>
      withStore(async ({ store }) => {
        const a = entry(`CN=A,${USERS}`);
        await store.transaction(async (tx) => {
          await tx.insert(a);
          await tx.setCredentials(a.guid, { hash: 'scrypt$1', history: [] });
          await tx.setCredentials(a.guid, { hash: 'scrypt$2', history: ['scrypt$1'] });
        });
        assert.deepEqual(await store.getCredentials(a.guid), { hash: 'scrypt$2', history: ['scrypt$1'] });
        await store.transaction((tx) => tx.remove(a.guid));
        assert.equal(await store.getCredentials(a.guid), undefined);
      }));

    void it('counts per counter, and a failed transaction leaves nothing, counters included', () =>
      withStore(async ({ store }) => {
        assert.equal(await store.currentCounter('usn'), 0);
        assert.deepEqual(await store.transaction(async (tx) => [await tx.nextCounter('usn'), await tx.nextCounter('usn'), await tx.nextCounter('rid')]), [1, 2, 1]);
        const a = entry(`CN=A,${USERS}`);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.nextCounter('usn');
            await tx.insert(a);
            await tx.setCredentials(a.guid, { hash: 'x', history: [] });
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal(await store.currentCounter('usn'), 2);
        assert.equal(await store.getByNdn(a.ndn), undefined);
        assert.equal(await store.getCredentials(a.guid), undefined);
      }));

    void it('serialises concurrent writers: counters never repeat', () =>
      withStore(async ({ store }) => {
        const values = await Promise.all(Array.from({ length: 20 }, () => store.transaction((tx) => tx.nextCounter('usn'))));
        assert.deepEqual([...values].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
      }));

    void it('runs the directory engine: bootstrap, binds with lockout, paged search, rename, delete; no plaintext password kept', () =>
      withStore(async ({ store, dumpStorage }) => {
        const h = await createHarness({ store });
        const alice = await addUser(h, 'Alice', { password: 'Start-Pw-4242' });
        for (let i = 0; i < 12; i += 1) await addUser(h, `Filler ${i}`);
        const group = await addGroup(h, 'Team', { members: [alice] });
        assert.equal((await bindAs(h.engine, 'alice@corp.example.test', 'Start-Pw-4242')).result.resultCode, ResultCode.success);
        for (let i = 0; i < 3; i += 1) assert.equal(subCode((await bindAs(h.engine, 'CORP\\alice', 'wrong')).result), '52e');
        assert.equal(subCode((await bindAs(h.engine, 'CORP\\alice', 'Start-Pw-4242')).result), '775');

        const seen: string[] = [];
        let cookie: Buffer = Buffer.alloc(0);
        do {
          const page = await search(h.engine, h.admin, { filter: '(objectCategory=person)', attributes: ['1.1'] }, [pagedControl(5, cookie)]);
          assert.equal(page.result.resultCode, ResultCode.success);
          seen.push(...names(page));
          cookie = cookieOf(page.controls);
        } while (cookie.length > 0);
        assert.equal(seen.length, 14);

        const [tokenEntry] = (await search(h.engine, h.admin, { baseObject: alice, scope: 'base', attributes: ['tokenGroups'] })).entries;
        assert.equal(tokenEntry?.attributes[0]?.values.length, 3); // Team, Domain Users, Builtin\Users

        assert.equal((await h.engine.modifyDn(h.admin, { entry: alice, newRdn: 'CN=Alice Renamed', deleteOldRdn: true })).resultCode, ResultCode.success);
        assert.deepEqual(values((await search(h.engine, h.admin, { baseObject: group, scope: 'base', attributes: ['member'] })).entries[0], 'member'), [`CN=Alice Renamed,${USERS}`]);
        assert.equal((await h.engine.delete(h.admin, `CN=Alice Renamed,${USERS}`)).resultCode, ResultCode.success);
        assert.deepEqual(values((await search(h.engine, h.admin, { baseObject: group, scope: 'base', attributes: ['member'] })).entries[0], 'member'), []);
        const crossRef = await search(h.engine, h.admin, { baseObject: `CN=Partitions,CN=Configuration,${BASE}`, filter: `(&(objectClass=crossRef)(nCName=${BASE}))`, attributes: ['nETBIOSName'] });
        assert.deepEqual(values(crossRef.entries[0], 'nETBIOSName'), ['CORP']);
        const dump = await dumpStorage();
        assert.ok(dump.includes('Administrator'));
        assert.ok(!dump.includes('Admin-Pa55word!') && !dump.includes('Start-Pw-4242'), 'a plaintext password was persisted');
      }));
  });
}
