/**
 * AD sync (issue 18): the administrator's sync scope, the change-tracking watermark per domain
 * controller, groups in the identity store keyed on objectGUID with their direct memberships,
 * and the directory state of each user record (deleted in the directory, disabled, locked…).
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const sync: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('sync_scope')
      .addColumn('kind', 'text', (column) => column.notNull())
      // objectGUID of the AD group or user, lower-cased.
      .addColumn('guid', 'text', (column) => column.notNull())
      .addColumn('label', 'text', (column) => column.notNull())
      .addColumn('added_by', 'text', (column) => column.notNull())
      .addColumn('added_at', 'text', (column) => column.notNull())
      .addPrimaryKeyConstraint('sync_scope_pkey', ['kind', 'guid'])
      .addCheckConstraint('sync_scope_kind_check', sql`kind in ('group', 'user')`)
      .execute();

    await db.schema
      .createTable('sync_watermarks')
      // The directory (its DNS domain): one tracking position per identity source.
      .addColumn('source', 'text', (column) => column.primaryKey())
      // highestCommittedUSN is per domain controller: the USN is only meaningful with its DC.
      .addColumn('controller_id', 'text', (column) => column.notNull())
      .addColumn('usn', 'text', (column) => column.notNull())
      // DirSync's cookie, when that path is used (opaque, base64).
      .addColumn('cookie', 'text')
      .addColumn('full_sync_at', 'text', (column) => column.notNull())
      .addColumn('updated_at', 'text', (column) => column.notNull())
      .execute();

    await db.schema
      .createTable('identity_groups')
      .addColumn('group_id', 'text', (column) => column.primaryKey())
      .addColumn('display_name', 'text', (column) => column.notNull())
      .addColumn('display_name_key', 'text', (column) => column.notNull())
      .addColumn('record_json', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('synced_at', 'text', (column) => column.notNull())
      .execute();
    await db.schema.createIndex('identity_groups_display_name_idx').on('identity_groups').column('display_name_key').execute();

    await db.schema
      .createTable('identity_group_members')
      .addColumn('group_id', 'text', (column) => column.notNull())
      // objectGUID of the member: a user's survives removal and reprovisioning (new UserId).
      .addColumn('member_guid', 'text', (column) => column.notNull())
      .addColumn('member_type', 'text', (column) => column.notNull())
      .addPrimaryKeyConstraint('identity_group_members_pkey', ['group_id', 'member_guid'])
      .addCheckConstraint('identity_group_members_type_check', sql`member_type in ('user', 'group')`)
      .execute();
    await db.schema.createIndex('identity_group_members_member_idx').on('identity_group_members').column('member_guid').execute();

    // null: never seen by a sync (JIT only); else active | disabled | locked | expired | deleted.
    await db.schema.alterTable('identity_users').addColumn('directory_state', 'text').execute();
    await db.schema.alterTable('identity_users').addColumn('directory_state_at', 'text').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('identity_users').dropColumn('directory_state_at').execute();
    await db.schema.alterTable('identity_users').dropColumn('directory_state').execute();
    await db.schema.dropTable('identity_group_members').execute();
    await db.schema.dropTable('identity_groups').execute();
    await db.schema.dropTable('sync_watermarks').execute();
    await db.schema.dropTable('sync_scope').execute();
  },
};
