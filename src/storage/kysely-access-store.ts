/** The access domain's records, assignments and provisioning on Kysely (works on a transaction too). */
import type { Kysely, Selectable } from 'kysely';
import type { AccessStore, RecordKind, StoredRecord } from '#src/access/access-store.ts';
import { targetKey, type Assignment } from '#src/access/model.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { AccessAssignmentsTable, AccessRecordsTable, Database } from './tables.ts';

// Well under SQLite's and PostgreSQL's bound-parameter limits.
const IN_LIST_CHUNK = 500;

export function createKyselyAccessStore(db: Kysely<Database>): AccessStore {
  const records = (kind: RecordKind) => db.selectFrom('access_records').selectAll().where('kind', '=', kind);

  return {
    insertRecord: (kind, { id, name, body }, at) =>
      translateStorageErrors(`creating the ${kind.replace('_', ' ')} ${name}`, async () => {
        const row = { kind, id, name, name_key: name.toLowerCase(), body_json: JSON.stringify(body), created_at: at.toISOString(), updated_at: at.toISOString() };
        await db.insertInto('access_records').values(row).execute();
        return toRecord(row);
      }),
    updateRecord: (kind, id, { name, body }, at) =>
      translateStorageErrors(`updating the ${kind.replace('_', ' ')} ${id}`, async () => {
        const result = await db
          .updateTable('access_records')
          .set({ name, name_key: name.toLowerCase(), body_json: JSON.stringify(body), updated_at: at.toISOString() })
          .where('kind', '=', kind)
          .where('id', '=', id)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      }),
    getRecord: (kind, id) =>
      translateStorageErrors('reading access records', async () => {
        const row = await records(kind).where('id', '=', id).executeTakeFirst();
        return row && toRecord(row);
      }),
    findRecordByName: (kind, name) =>
      translateStorageErrors('reading access records', async () => {
        const row = await records(kind).where('name_key', '=', name.toLowerCase()).executeTakeFirst();
        return row && toRecord(row);
      }),
    listRecords: (kind) => translateStorageErrors('listing access records', async () => (await records(kind).orderBy('name_key').execute()).map(toRecord)),
    removeRecord: (kind, id) =>
      translateStorageErrors('removing an access record', async () => {
        const result = await db.deleteFrom('access_records').where('kind', '=', kind).where('id', '=', id).executeTakeFirst();
        return result.numDeletedRows > 0n;
      }),
    countRecords: (kinds) =>
      translateStorageErrors('counting access records', async () => {
        // `in ()` is a syntax error on PostgreSQL.
        if (kinds.length === 0) return 0;
        const row = await db
          .selectFrom('access_records')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('kind', 'in', [...kinds])
          .executeTakeFirstOrThrow();
        return Number(row.n);
      }),

    insertAssignment: (assignment) =>
      translateStorageErrors('creating an assignment', async () => {
        const { target } = assignment;
        await db
          .insertInto('access_assignments')
          .values({
            id: assignment.id,
            principal_type: assignment.principal.type,
            // GUIDs are case-insensitive: stored lower-case, as listAssignments looks them up and
            // as the unique (principal, target) constraint must compare them.
            principal_guid: assignment.principal.guid.toLowerCase(),
            principal_name: assignment.principal.name,
            target_key: targetKey(target),
            account_id: target.type === 'account' ? target.accountId : null,
            permission_set_id: target.type === 'account' ? target.permissionSetId : null,
            application_id: target.type === 'application' ? target.applicationId : null,
            created_at: assignment.createdAt,
          })
          .execute();
      }),
    getAssignment: (id) =>
      translateStorageErrors('reading an assignment', async () => {
        const row = await db.selectFrom('access_assignments').selectAll().where('id', '=', id).executeTakeFirst();
        return row && toAssignment(row);
      }),
    listAssignments: (filter) =>
      translateStorageErrors('listing assignments', async () => {
        const base = () => {
          let query = db.selectFrom('access_assignments').selectAll().orderBy('created_at').orderBy('id');
          if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
          if (filter.permissionSetId !== undefined) query = query.where('permission_set_id', '=', filter.permissionSetId);
          if (filter.applicationId !== undefined) query = query.where('application_id', '=', filter.applicationId);
          return query;
        };
        if (filter.principalGuids === undefined) return (await base().execute()).map(toAssignment);
        const rows: Array<Selectable<AccessAssignmentsTable>> = [];
        const guids = [...new Set(filter.principalGuids.map((g) => g.toLowerCase()))];
        for (let i = 0; i < guids.length; i += IN_LIST_CHUNK) rows.push(...(await base().where('principal_guid', 'in', guids.slice(i, i + IN_LIST_CHUNK)).execute()));
        return rows.map(toAssignment).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
      }),
    removeAssignment: (id) =>
      translateStorageErrors('removing an assignment', async () => {
        const result = await db.deleteFrom('access_assignments').where('id', '=', id).executeTakeFirst();
        return result.numDeletedRows > 0n;
      }),

    markProvisioned: (accountId, permissionSetId, at) =>
      translateStorageErrors('recording a provisioned permission set', async () => {
        const result = await db
          .insertInto('access_provisioned')
          .values({ account_id: accountId, permission_set_id: permissionSetId, provisioned_at: at.toISOString() })
          .onConflict((conflict) => conflict.columns(['account_id', 'permission_set_id']).doNothing())
          .executeTakeFirst();
        return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
      }),
    listProvisioned: (filter) =>
      translateStorageErrors('listing provisioned permission sets', async () => {
        let query = db.selectFrom('access_provisioned').selectAll().orderBy('account_id').orderBy('permission_set_id');
        if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
        if (filter.permissionSetId !== undefined) query = query.where('permission_set_id', '=', filter.permissionSetId);
        return (await query.execute()).map((row) => ({ accountId: row.account_id, permissionSetId: row.permission_set_id, provisionedAt: new Date(row.provisioned_at) }));
      }),
    removeProvisioned: (filter) =>
      translateStorageErrors('removing provisioned permission sets', async () => {
        let query = db.deleteFrom('access_provisioned');
        if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
        if (filter.permissionSetId !== undefined) query = query.where('permission_set_id', '=', filter.permissionSetId);
        return Number((await query.executeTakeFirst()).numDeletedRows);
      }),
  };
}

function toRecord(row: Selectable<AccessRecordsTable>): StoredRecord {
  let body: unknown;
  try {
    body = JSON.parse(row.body_json);
  } catch (error) {
    throw new AppError('storage.corrupt_record', `the ${row.kind} ${row.id} is not JSON`, { cause: error });
  }
  return { id: row.id, name: row.name, body: body as Record<string, unknown>, createdAt: new Date(row.created_at), updatedAt: new Date(row.updated_at) };
}

function toAssignment(row: Selectable<AccessAssignmentsTable>): Assignment {
  return {
    id: row.id,
    principal: { type: row.principal_type, guid: row.principal_guid, name: row.principal_name },
    target:
      row.account_id !== null && row.permission_set_id !== null
        ? { type: 'account', accountId: row.account_id, permissionSetId: row.permission_set_id }
        : { type: 'application', applicationId: row.application_id ?? '' },
    createdAt: row.created_at,
  };
}
