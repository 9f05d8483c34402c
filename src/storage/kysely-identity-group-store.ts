/**
 * The identity store's groups and their direct memberships on Kysely (written by the AD sync).
 * Lookup keys are columns, the rest of the group is JSON.
 */
import type { Kysely, Selectable } from 'kysely';
import type { GroupMembers, IdentityGroup, IdentityGroupWriter, SyncedGroup } from '#src/identity-store/groups.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database, IdentityGroupsTable } from './tables.ts';

type Row = Selectable<IdentityGroupsTable>;

/** Rows per INSERT: below SQLite's bound-parameter limit with three columns each. */
const INSERT_BATCH = 200;

export function createKyselyIdentityGroupStore(db: Kysely<Database>): IdentityGroupWriter {
  return {
    get: (groupId) =>
      translateStorageErrors('reading a group', async () => {
        const row = await db.selectFrom('identity_groups').selectAll().where('group_id', '=', groupId.toLowerCase()).executeTakeFirst();
        return row && toGroup(row);
      }),

    findByDisplayName: (displayName) =>
      translateStorageErrors('reading a group', async () => {
        const row = await db.selectFrom('identity_groups').selectAll().where('display_name_key', '=', displayName.toLowerCase()).executeTakeFirst();
        return row && toGroup(row);
      }),

    list: ({ limit, after }) =>
      translateStorageErrors('listing groups', async () => {
        let query = db.selectFrom('identity_groups').selectAll().orderBy('display_name_key').orderBy('group_id').limit(limit + 1);
        if (after !== undefined) query = query.where('display_name_key', '>', after);
        const rows = await query.execute();
        return { groups: rows.slice(0, limit).map(toGroup), more: rows.length > limit };
      }),

    count: () =>
      translateStorageErrors('counting groups', async () => {
        const row = await db
          .selectFrom('identity_groups')
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .executeTakeFirstOrThrow();
        return Number(row.n);
      }),

    memberUserGuids: (groupId) =>
      translateStorageErrors('reading group members', async () => {
        const rows = await db
          .selectFrom('identity_group_members')
          .select('member_guid')
          .where('group_id', '=', groupId.toLowerCase())
          .where('member_type', '=', 'user')
          .orderBy('member_guid')
          .execute();
        return rows.map((r) => r.member_guid);
      }),

    groupsOfUser: (userGuid) =>
      translateStorageErrors('reading a user’s groups', async () => {
        const rows = await db
          .selectFrom('identity_group_members as m')
          .innerJoin('identity_groups as g', 'g.group_id', 'm.group_id')
          .selectAll('g')
          .where('m.member_guid', '=', userGuid.toLowerCase())
          .where('m.member_type', '=', 'user')
          .orderBy('g.display_name_key')
          .execute();
        return rows.map(toGroup);
      }),

    userMemberships: ({ limit, after }) =>
      translateStorageErrors('listing memberships', async () => {
        let query = db
          .selectFrom('identity_group_members as m')
          .innerJoin('identity_users as u', 'u.guid', 'm.member_guid')
          .select(['m.group_id as groupId', 'u.user_id as userId'])
          .where('m.member_type', '=', 'user')
          .where('u.removed_at', 'is', null)
          .orderBy('m.group_id')
          .orderBy('u.user_id')
          .limit(limit);
        if (after !== undefined) {
          query = query.where((eb) => eb.or([eb('m.group_id', '>', after.groupId), eb.and([eb('m.group_id', '=', after.groupId), eb('u.user_id', '>', after.userId)])]));
        }
        return query.execute();
      }),

    put: (group, members, at) =>
      translateStorageErrors('storing a group', () =>
        db.transaction().execute(async (trx) => {
          const groupId = group.groupId.toLowerCase();
          const recordJson = JSON.stringify({ ...group, groupId });
          const existing = await trx.selectFrom('identity_groups').selectAll().where('group_id', '=', groupId).executeTakeFirst();
          const wanted = memberRows(groupId, members);
          const current = await trx.selectFrom('identity_group_members').select(['member_guid', 'member_type']).where('group_id', '=', groupId).execute();
          const sameMembers = current.length === wanted.length && sameSet(current.map(key), wanted.map(key));
          if (existing === undefined) {
            await trx
              .insertInto('identity_groups')
              .values({ group_id: groupId, display_name: group.displayName, display_name_key: group.displayName.toLowerCase(), record_json: recordJson, created_at: at.toISOString(), synced_at: at.toISOString() })
              .execute();
          } else {
            await trx
              .updateTable('identity_groups')
              .set({ display_name: group.displayName, display_name_key: group.displayName.toLowerCase(), record_json: recordJson, synced_at: at.toISOString() })
              .where('group_id', '=', groupId)
              .execute();
          }
          if (!sameMembers) {
            await trx.deleteFrom('identity_group_members').where('group_id', '=', groupId).execute();
            for (let i = 0; i < wanted.length; i += INSERT_BATCH) {
              await trx.insertInto('identity_group_members').values(wanted.slice(i, i + INSERT_BATCH)).execute();
            }
          }
          if (existing === undefined) return 'created' as const;
          return existing.record_json === recordJson && sameMembers ? ('unchanged' as const) : ('updated' as const);
        }),
      ),

    remove: (groupId) =>
      translateStorageErrors('removing a group', () =>
        db.transaction().execute(async (trx) => {
          const id = groupId.toLowerCase();
          await trx.deleteFrom('identity_group_members').where('group_id', '=', id).execute();
          // Its memberships in other groups go too: a removed group is nobody's member.
          await trx.deleteFrom('identity_group_members').where('member_guid', '=', id).where('member_type', '=', 'group').execute();
          const result = await trx.deleteFrom('identity_groups').where('group_id', '=', id).executeTakeFirst();
          return Number(result.numDeletedRows) > 0;
        }),
      ),

    ids: () =>
      translateStorageErrors('listing groups', async () => (await db.selectFrom('identity_groups').select('group_id').orderBy('group_id').execute()).map((r) => r.group_id)),

    removeAll: () =>
      translateStorageErrors('removing every group', async () => {
        await db.deleteFrom('identity_group_members').execute();
        const result = await db.deleteFrom('identity_groups').executeTakeFirst();
        return Number(result.numDeletedRows);
      }),
  };
}

function memberRows(groupId: string, members: GroupMembers): Array<{ group_id: string; member_guid: string; member_type: 'user' | 'group' }> {
  const rows = new Map<string, { group_id: string; member_guid: string; member_type: 'user' | 'group' }>();
  for (const guid of members.users) rows.set(guid.toLowerCase(), { group_id: groupId, member_guid: guid.toLowerCase(), member_type: 'user' });
  for (const guid of members.groups) rows.set(guid.toLowerCase(), { group_id: groupId, member_guid: guid.toLowerCase(), member_type: 'group' });
  return [...rows.values()];
}

const key = (row: { member_guid: string; member_type: string }): string => `${row.member_type}:${row.member_guid}`;

function sameSet(a: string[], b: string[]): boolean {
  const set = new Set(a);
  return b.every((value) => set.has(value));
}

function toGroup(row: Row): IdentityGroup {
  let record: SyncedGroup;
  try {
    record = JSON.parse(row.record_json) as SyncedGroup;
  } catch (error) {
    throw new AppError('storage.corrupt_record', `identity group ${row.group_id}: the stored record is not JSON`, { cause: error });
  }
  return { ...record, groupId: row.group_id, displayName: row.display_name, createdAt: new Date(row.created_at), syncedAt: new Date(row.synced_at) };
}
