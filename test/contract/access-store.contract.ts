/**
 * The behaviour every AccessStore must have, whatever stores it: records of three kinds
 * (accounts, permission sets, applications), assignments, and permission-set provisioning.
 * A test file calls `accessStoreContract` with a factory for its implementation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessStore, RecordKind } from '#src/access/access-store.ts';
import type { Assignment, AssignmentTarget } from '#src/access/model.ts';
import { isAppError } from '#src/shared/errors.ts';

export interface AccessStoreHarness {
  store: AccessStore;
  dispose: () => Promise<void>;
}

export type AccessStoreFactory = () => Promise<AccessStoreHarness>;

const KINDS: readonly RecordKind[] = ['account', 'permission_set', 'application'];

const T0 = new Date('2026-04-01T10:00:00.000Z');
const T1 = new Date('2026-04-02T11:30:00.500Z');
const T2 = new Date('2026-04-03T12:00:00.250Z');

/** A GUID numbered n, lower-case as the directory writes them. */
const guid = (n: number): string => `6f1c2a52-0c1e-4b8e-9a57-${n.toString(16).padStart(12, '0')}`;
/** Creation times one second apart from T0. */
const createdAt = (n: number): string => new Date(T0.getTime() + n * 1000).toISOString();

const toAccount = (accountId: string, permissionSetId: string): AssignmentTarget => ({ type: 'account', accountId, permissionSetId });
const toApplication = (applicationId: string): AssignmentTarget => ({ type: 'application', applicationId });

function assignment(id: string, principalGuid: string, target: AssignmentTarget, created: string, type: 'user' | 'group' = 'user'): Assignment {
  return { id, principal: { type, guid: principalGuid, name: type === 'user' ? `${id}@corp.example.test` : `Group ${id}@corp.example.test` }, target, createdAt: created };
}

const isConflict = (error: unknown): boolean => isAppError(error, 'storage.conflict');

export function accessStoreContract(factory: AccessStoreFactory): void {
  async function withStore(run: (store: AccessStore) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness.store);
    } finally {
      await harness.dispose();
    }
  }

  const ids = (list: ReadonlyArray<{ id: string }>): string[] => list.map((item) => item.id);

  void describe('AccessStore contract: records', () => {
    for (const kind of KINDS) {
      void it(`${kind}: inserts, reads by id and by name (case-insensitively), updates the body and removes`, () =>
        withStore(async (store) => {
          const inserted = await store.insertRecord(kind, { id: 'r1', name: 'Prod-Admin', body: { tier: 1, tags: { team: 'ops' } } }, T0);
          assert.deepEqual(inserted, { id: 'r1', name: 'Prod-Admin', body: { tier: 1, tags: { team: 'ops' } }, createdAt: T0, updatedAt: T0 });
          assert.deepEqual(await store.getRecord(kind, 'r1'), inserted);
          assert.deepEqual(await store.findRecordByName(kind, 'Prod-Admin'), inserted);
          assert.deepEqual(await store.findRecordByName(kind, 'prod-admin'), inserted);
          assert.deepEqual(await store.findRecordByName(kind, 'PROD-ADMIN'), inserted);
          assert.equal(await store.getRecord(kind, 'R1'), undefined, 'ids are exact');
          assert.equal(await store.getRecord(kind, 'missing'), undefined);
          assert.equal(await store.findRecordByName(kind, 'Prod-Admin2'), undefined);
          for (const other of KINDS.filter((k) => k !== kind)) {
            assert.equal(await store.getRecord(other, 'r1'), undefined, `not visible as ${other}`);
            assert.equal(await store.findRecordByName(other, 'prod-admin'), undefined, `not visible as ${other}`);
            assert.deepEqual(await store.listRecords(other), []);
          }

          assert.equal(await store.updateRecord(kind, 'r1', { name: 'Prod-Admin', body: { tier: 2 } }, T1), true);
          assert.deepEqual(await store.getRecord(kind, 'r1'), { id: 'r1', name: 'Prod-Admin', body: { tier: 2 }, createdAt: T0, updatedAt: T1 });
          assert.equal(await store.updateRecord(kind, 'missing', { name: 'x', body: { tier: 3 } }, T2), false);
          for (const other of KINDS.filter((k) => k !== kind)) assert.equal(await store.updateRecord(other, 'r1', { name: 'x', body: { tier: 3 } }, T2), false);
          assert.deepEqual((await store.getRecord(kind, 'r1'))?.body, { tier: 2 });

          // A rename moves the lookup key and frees the old name; taking a used name is a conflict.
          assert.equal(await store.updateRecord(kind, 'r1', { name: 'Prod', body: { tier: 2 } }, T1), true);
          assert.equal((await store.findRecordByName(kind, 'prod'))?.id, 'r1');
          assert.equal(await store.findRecordByName(kind, 'prod-admin'), undefined);
          await store.insertRecord(kind, { id: 'r2', name: 'Other', body: {} }, T0);
          await assert.rejects(store.updateRecord(kind, 'r1', { name: 'OTHER', body: {} }, T1), (error) => isAppError(error, 'storage.conflict'));
          assert.equal(await store.removeRecord(kind, 'r2'), true);
          assert.equal(await store.updateRecord(kind, 'r1', { name: 'Prod-Admin', body: { tier: 2 } }, T1), true);

          assert.equal(await store.removeRecord(kind, 'r1'), true);
          assert.equal(await store.removeRecord(kind, 'r1'), false);
          assert.equal(await store.getRecord(kind, 'r1'), undefined);
          assert.equal(await store.findRecordByName(kind, 'prod-admin'), undefined);
          assert.deepEqual(await store.listRecords(kind), []);
          // The name is free again.
          await store.insertRecord(kind, { id: 'r2', name: 'PROD-admin', body: {} }, T2);
          assert.equal((await store.findRecordByName(kind, 'Prod-Admin'))?.id, 'r2');
        }));

      void it(`${kind}: lists ordered by lower-cased name`, () =>
        withStore(async (store) => {
          // Inserted out of order; a case-sensitive sort would put "Mike" and "Zulu" before "alpha".
          for (const [id, name] of [['1', 'Zulu'], ['2', 'alpha'], ['3', 'Mike'], ['4', 'bravo'], ['5', 'ALPHA2'], ['6', 'Charlie']]) {
            await store.insertRecord(kind, { id: id!, name: name!, body: { id } }, T0);
          }
          const list = await store.listRecords(kind);
          assert.deepEqual(list.map((r) => r.name), ['alpha', 'ALPHA2', 'bravo', 'Charlie', 'Mike', 'Zulu']);
          assert.deepEqual(list.find((r) => r.id === '3'), await store.getRecord(kind, '3'));
        }));

      void it(`${kind}: refuses a taken id or a taken name in any case as storage.conflict, and keeps the original`, () =>
        withStore(async (store) => {
          const original = await store.insertRecord(kind, { id: 'r1', name: 'Finance', body: { original: true } }, T0);
          await assert.rejects(store.insertRecord(kind, { id: 'r1', name: 'Other', body: {} }, T1), isConflict);
          await assert.rejects(store.insertRecord(kind, { id: 'r2', name: 'Finance', body: {} }, T1), isConflict);
          await assert.rejects(store.insertRecord(kind, { id: 'r3', name: 'FINANCE', body: {} }, T1), isConflict);
          await assert.rejects(store.insertRecord(kind, { id: 'r4', name: 'finance', body: {} }, T1), isConflict);
          assert.deepEqual(await store.listRecords(kind), [original]);
          assert.equal(await store.findRecordByName(kind, 'Other'), undefined);
          assert.equal(await store.getRecord(kind, 'r2'), undefined);
        }));
    }

    void it('allows the same id and the same name in different kinds', () =>
      withStore(async (store) => {
        for (const [index, kind] of KINDS.entries()) {
          await store.insertRecord(kind, { id: 'shared', name: index === 1 ? 'SHARED-name' : 'shared-Name', body: { kind } }, T0);
        }
        for (const kind of KINDS) {
          assert.deepEqual((await store.getRecord(kind, 'shared'))?.body, { kind });
          assert.deepEqual((await store.findRecordByName(kind, 'Shared-Name'))?.body, { kind });
          assert.equal((await store.listRecords(kind)).length, 1);
        }
        // Removing one kind's record leaves the others.
        assert.equal(await store.removeRecord('permission_set', 'shared'), true);
        assert.equal(await store.getRecord('permission_set', 'shared'), undefined);
        assert.deepEqual((await store.getRecord('account', 'shared'))?.body, { kind: 'account' });
        assert.deepEqual((await store.getRecord('application', 'shared'))?.body, { kind: 'application' });
      }));

    void it('counts the records of the given kinds', () =>
      withStore(async (store) => {
        assert.equal(await store.countRecords(KINDS), 0);
        for (let n = 0; n < 3; n++) await store.insertRecord('account', { id: `a${n}`, name: `account-${n}`, body: {} }, T0);
        for (let n = 0; n < 2; n++) await store.insertRecord('permission_set', { id: `p${n}`, name: `set-${n}`, body: {} }, T0);
        await store.insertRecord('application', { id: 'x0', name: 'app-0', body: {} }, T0);

        assert.equal(await store.countRecords(['account']), 3);
        assert.equal(await store.countRecords(['permission_set']), 2);
        assert.equal(await store.countRecords(['application']), 1);
        assert.equal(await store.countRecords(['account', 'application']), 4);
        assert.equal(await store.countRecords(KINDS), 6);
        assert.equal(await store.countRecords([]), 0);
        await store.removeRecord('account', 'a1');
        assert.equal(await store.countRecords(['account', 'application']), 3);
      }));

    void it('returns a body exactly as stored: nested JSON, unicode, escapes, numbers, null', () =>
      withStore(async (store) => {
        const body = {
          description: 'Zugriff für Ärzte — 日本語 — emoji 🚀👩‍💻 — Ελληνικά — עברית',
          quotes: 'a "quoted" \\ backslash / slash\ttab\nnewline\r\u2028\u2029',
          control: 'nul \u0000 bell \u0007 del \u007f',
          surrogate: 'lone \ud800 half',
          numbers: { int: 42, negative: -7, float: 3.25, big: 9007199254740991, tiny: 1e-7, zero: 0 },
          flags: [true, false, null],
          empty: { object: {}, array: [], string: '' },
          nested: { a: { b: { c: [{ d: [1, [2, [3, { e: 'deep' }]]] }] } } },
          inlinePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bücket/*' }] }),
          'key with spaces and ключ': 'value',
        };
        const inserted = await store.insertRecord('permission_set', { id: 'ps-1', name: 'Ünïcödé-Set', body }, T0);
        assert.deepEqual(inserted.body, body);
        assert.deepEqual((await store.getRecord('permission_set', 'ps-1'))?.body, body);
        assert.deepEqual((await store.findRecordByName('permission_set', 'ünïcödé-set'))?.body, body);
        assert.equal((await store.findRecordByName('permission_set', 'ÜNÏCÖDÉ-SET'))?.name, 'Ünïcödé-Set');
        assert.deepEqual((await store.listRecords('permission_set'))[0]?.body, body);

        const updated = { ...body, nested: { replaced: ['✓', { '🔑': '🔒' }] } };
        assert.equal(await store.updateRecord('permission_set', 'ps-1', { name: 'Ünïcödé-Set', body: updated }, T1), true);
        assert.deepEqual((await store.getRecord('permission_set', 'ps-1'))?.body, updated);
      }));
  });

  void describe('AccessStore contract: assignments', () => {
    const alice = guid(1);
    const bob = guid(2);
    const engineers = guid(3);

    /** Inserted out of creation order, so ordering is the store's doing. */
    async function seed(store: AccessStore): Promise<Assignment[]> {
      const all = [
        assignment('as-1', alice, toAccount('111111111111', 'ps-admin'), createdAt(1)),
        assignment('as-2', engineers, toAccount('111111111111', 'ps-read'), createdAt(2), 'group'),
        assignment('as-3', bob, toApplication('app-wiki'), createdAt(3)),
        assignment('as-4', alice, toAccount('222222222222', 'ps-read'), createdAt(4)),
        assignment('as-5', engineers, toApplication('app-wiki'), createdAt(5), 'group'),
        assignment('as-6', bob, toAccount('222222222222', 'ps-admin'), createdAt(6)),
        assignment('as-7', alice, toApplication('app-crm'), createdAt(7)),
      ];
      for (const index of [3, 0, 6, 1, 5, 2, 4]) await store.insertAssignment(all[index]!);
      return all;
    }

    void it('inserts and reads an assignment back exactly, for both target types', () =>
      withStore(async (store) => {
        const account = assignment('as-1', alice, toAccount('111111111111', 'ps-admin'), createdAt(1));
        const application = assignment('as-2', engineers, toApplication('app-wiki'), createdAt(2), 'group');
        await store.insertAssignment(account);
        await store.insertAssignment(application);
        assert.deepEqual(await store.getAssignment('as-1'), account);
        assert.deepEqual(await store.getAssignment('as-2'), application);
        assert.equal(await store.getAssignment('missing'), undefined);
      }));

    void it('lists all assignments, or by account, permission set, application or principals, ordered by creation', () =>
      withStore(async (store) => {
        const all = await seed(store);
        const byId = (...wanted: string[]) => all.filter((a) => wanted.includes(a.id));

        assert.deepEqual(await store.listAssignments({}), all);
        assert.deepEqual(await store.listAssignments({ accountId: '111111111111' }), byId('as-1', 'as-2'));
        assert.deepEqual(await store.listAssignments({ accountId: '222222222222' }), byId('as-4', 'as-6'));
        assert.deepEqual(await store.listAssignments({ accountId: '333333333333' }), []);
        assert.deepEqual(await store.listAssignments({ permissionSetId: 'ps-admin' }), byId('as-1', 'as-6'));
        assert.deepEqual(await store.listAssignments({ permissionSetId: 'ps-read' }), byId('as-2', 'as-4'));
        assert.deepEqual(await store.listAssignments({ accountId: '222222222222', permissionSetId: 'ps-read' }), byId('as-4'));
        assert.deepEqual(await store.listAssignments({ applicationId: 'app-wiki' }), byId('as-3', 'as-5'));
        assert.deepEqual(await store.listAssignments({ applicationId: 'app-crm' }), byId('as-7'));
        assert.deepEqual(await store.listAssignments({ applicationId: 'ps-admin' }), []);

        assert.deepEqual(await store.listAssignments({ principalGuids: [alice] }), byId('as-1', 'as-4', 'as-7'));
        assert.deepEqual(await store.listAssignments({ principalGuids: [engineers, bob] }), byId('as-2', 'as-3', 'as-5', 'as-6'));
        assert.deepEqual(await store.listAssignments({ principalGuids: [bob, bob, bob] }), byId('as-3', 'as-6'), 'a GUID listed twice counts once');
        assert.deepEqual(await store.listAssignments({ principalGuids: [guid(99)] }), []);
        assert.deepEqual(await store.listAssignments({ principalGuids: [] }), [], 'no principals means no assignments, not all of them');
        assert.deepEqual(await store.listAssignments({ principalGuids: [alice, engineers], accountId: '111111111111' }), byId('as-1', 'as-2'));
        assert.deepEqual(await store.listAssignments({ principalGuids: [alice, bob], applicationId: 'app-wiki' }), byId('as-3'));
      }));

    void it('matches principal GUIDs case-insensitively', () =>
      withStore(async (store) => {
        const all = await seed(store);
        const upper = assignment('as-upper', guid(50).toUpperCase(), toApplication('app-wiki'), createdAt(50));
        await store.insertAssignment(upper);

        assert.deepEqual(ids(await store.listAssignments({ principalGuids: [alice.toUpperCase()] })), ['as-1', 'as-4', 'as-7']);
        assert.deepEqual(ids(await store.listAssignments({ principalGuids: [bob.toUpperCase(), bob] })), ['as-3', 'as-6']);
        assert.deepEqual(ids(await store.listAssignments({ principalGuids: [guid(50)] })), ['as-upper']);
        assert.deepEqual(ids(await store.listAssignments({ principalGuids: [guid(50).toUpperCase()] })), ['as-upper']);
        // The GUID may come back in either case; everything else exactly as inserted.
        const stored = await store.getAssignment('as-upper');
        assert.ok(stored);
        assert.equal(stored.principal.guid.toLowerCase(), guid(50));
        assert.deepEqual({ ...stored, principal: { ...stored.principal, guid: upper.principal.guid } }, upper);
        assert.deepEqual(ids(await store.listAssignments({ applicationId: 'app-wiki' })), [...ids(all.filter((a) => a.target.type === 'application' && a.target.applicationId === 'app-wiki')), 'as-upper']);
      }));

    void it('lists by more principal GUIDs than one query may bind (chunked), still ordered by creation', () =>
      withStore(async (store) => {
        // 1,200 principals, of which every other one has an assignment; creation runs against GUID
        // order, so chunks concatenated in GUID order would come out in the wrong order.
        const count = 1200;
        const expected: string[] = [];
        for (let n = count - 1; n >= 0; n--) {
          if (n % 2 === 0) {
            await store.insertAssignment(assignment(`bulk-${n}`, guid(n), toApplication('app-wiki'), createdAt(count - n)));
            expected.push(`bulk-${n}`);
          }
        }
        await store.insertAssignment(assignment('outsider', guid(count + 1), toApplication('app-wiki'), createdAt(0)));

        const guids = Array.from({ length: count }, (_, n) => (n % 3 === 0 ? guid(n).toUpperCase() : guid(n)));
        const listed = await store.listAssignments({ principalGuids: guids });
        assert.equal(listed.length, count / 2);
        assert.deepEqual(ids(listed), expected);
        assert.deepEqual(ids(await store.listAssignments({ principalGuids: [...guids, ...guids.slice(0, 600)] })), expected, 'duplicates across chunks count once');
        assert.deepEqual(ids(await store.listAssignments({ principalGuids: guids.slice(500, 1001) })), expected.filter((id) => Number(id.slice(5)) >= 500 && Number(id.slice(5)) <= 1000));
        assert.equal((await store.listAssignments({})).length, count / 2 + 1);
      }));

    void it('refuses a second assignment of a principal to the same target as storage.conflict', () =>
      withStore(async (store) => {
        await seed(store);
        await assert.rejects(store.insertAssignment(assignment('dup-1', alice, toAccount('111111111111', 'ps-admin'), createdAt(20))), isConflict);
        await assert.rejects(store.insertAssignment(assignment('dup-2', bob, toApplication('app-wiki'), createdAt(21))), isConflict);
        await assert.rejects(store.insertAssignment(assignment('dup-3', alice.toUpperCase(), toApplication('app-crm'), createdAt(22))), isConflict, 'the GUID in another case is the same principal');
        await assert.rejects(store.insertAssignment(assignment('as-1', guid(40), toApplication('app-other'), createdAt(23))), isConflict, 'the id is taken');
        for (const id of ['dup-1', 'dup-2', 'dup-3']) assert.equal(await store.getAssignment(id), undefined);
        assert.equal((await store.listAssignments({})).length, 7);

        // Another principal on the same target, or the same principal on another target, is fine.
        await store.insertAssignment(assignment('ok-1', bob, toAccount('111111111111', 'ps-admin'), createdAt(30)));
        await store.insertAssignment(assignment('ok-2', alice, toAccount('111111111111', 'ps-read'), createdAt(31)));
        await store.insertAssignment(assignment('ok-3', alice, toAccount('333333333333', 'ps-admin'), createdAt(32)));
        await store.insertAssignment(assignment('ok-4', alice, toApplication('app-wiki'), createdAt(33)));
        assert.deepEqual(ids(await store.listAssignments({ principalGuids: [alice] })), ['as-1', 'as-4', 'as-7', 'ok-2', 'ok-3', 'ok-4']);
      }));

    void it('removes an assignment, reporting whether there was one, and frees its target for the principal', () =>
      withStore(async (store) => {
        await seed(store);
        assert.equal(await store.removeAssignment('as-4'), true);
        assert.equal(await store.removeAssignment('as-4'), false);
        assert.equal(await store.removeAssignment('missing'), false);
        assert.equal(await store.getAssignment('as-4'), undefined);
        assert.deepEqual(ids(await store.listAssignments({ principalGuids: [alice] })), ['as-1', 'as-7']);
        assert.deepEqual(ids(await store.listAssignments({ accountId: '222222222222' })), ['as-6']);
        const again = assignment('as-4b', alice, toAccount('222222222222', 'ps-read'), createdAt(40));
        await store.insertAssignment(again);
        assert.deepEqual(await store.getAssignment('as-4b'), again);
      }));
  });

  void describe('AccessStore contract: provisioning', () => {
    void it('marks a permission set provisioned once: true the first time, false after, keeping the first time', () =>
      withStore(async (store) => {
        assert.equal(await store.markProvisioned('111111111111', 'ps-admin', T0), true);
        assert.equal(await store.markProvisioned('111111111111', 'ps-admin', T1), false);
        assert.equal(await store.markProvisioned('111111111111', 'ps-admin', T2), false);
        assert.deepEqual(await store.listProvisioned({}), [{ accountId: '111111111111', permissionSetId: 'ps-admin', provisionedAt: T0 }]);
        // Either half differing is a new pair.
        assert.equal(await store.markProvisioned('111111111111', 'ps-read', T1), true);
        assert.equal(await store.markProvisioned('222222222222', 'ps-admin', T1), true);
        assert.equal((await store.listProvisioned({})).length, 3);
      }));

    void it('lists provisioned pairs by account, by permission set or both, and removes them by the same filters with a count', () =>
      withStore(async (store) => {
        const pairs: Array<[string, string, Date]> = [
          ['222222222222', 'ps-read', T2],
          ['111111111111', 'ps-read', T1],
          ['111111111111', 'ps-admin', T0],
          ['333333333333', 'ps-admin', T1],
          ['222222222222', 'ps-admin', T0],
        ];
        for (const [accountId, permissionSetId, at] of pairs) assert.equal(await store.markProvisioned(accountId, permissionSetId, at), true);
        const pair = (accountId: string, permissionSetId: string) => {
          const found = pairs.find(([a, p]) => a === accountId && p === permissionSetId);
          assert.ok(found);
          return { accountId, permissionSetId, provisionedAt: found[2] };
        };
        const sortKey = (p: { accountId: string; permissionSetId: string }) => `${p.accountId}/${p.permissionSetId}`;
        const sorted = <T extends { accountId: string; permissionSetId: string }>(list: T[]): T[] => [...list].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));

        assert.deepEqual(sorted(await store.listProvisioned({})), sorted(pairs.map(([a, p]) => pair(a, p))));
        assert.deepEqual(sorted(await store.listProvisioned({ accountId: '111111111111' })), [pair('111111111111', 'ps-admin'), pair('111111111111', 'ps-read')]);
        assert.deepEqual(sorted(await store.listProvisioned({ permissionSetId: 'ps-admin' })), [pair('111111111111', 'ps-admin'), pair('222222222222', 'ps-admin'), pair('333333333333', 'ps-admin')]);
        assert.deepEqual(await store.listProvisioned({ accountId: '222222222222', permissionSetId: 'ps-read' }), [pair('222222222222', 'ps-read')]);
        assert.deepEqual(await store.listProvisioned({ accountId: '999999999999' }), []);
        assert.deepEqual(await store.listProvisioned({ accountId: '333333333333', permissionSetId: 'ps-read' }), []);

        assert.equal(await store.removeProvisioned({ accountId: '999999999999' }), 0);
        assert.equal(await store.removeProvisioned({ accountId: '222222222222', permissionSetId: 'ps-read' }), 1);
        assert.equal(await store.removeProvisioned({ permissionSetId: 'ps-admin' }), 3);
        assert.deepEqual(await store.listProvisioned({}), [pair('111111111111', 'ps-read')]);
        assert.equal(await store.removeProvisioned({ permissionSetId: 'ps-admin' }), 0);
        // A removed pair can be provisioned again, and is new again.
        assert.equal(await store.markProvisioned('111111111111', 'ps-admin', T2), true);
        assert.equal(await store.removeProvisioned({ accountId: '111111111111' }), 2);
        assert.deepEqual(await store.listProvisioned({}), []);
        assert.equal(await store.markProvisioned('222222222222', 'ps-admin', T2), true);
        assert.equal(await store.markProvisioned('333333333333', 'ps-admin', T2), true);
        assert.equal(await store.removeProvisioned({}), 2);
        assert.deepEqual(await store.listProvisioned({}), []);
      }));
  });
}
