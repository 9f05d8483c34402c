/** Accounts, permission sets, applications, assignments and permission-set provisioning. */
import type { Kysely, Migration } from 'kysely';

export const access: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('access_records')
      // 'account' | 'permission_set' | 'application': one shape, one table.
      .addColumn('kind', 'text', (column) => column.notNull())
      .addColumn('id', 'text', (column) => column.notNull())
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('name_key', 'text', (column) => column.notNull())
      .addColumn('body_json', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('updated_at', 'text', (column) => column.notNull())
      .addPrimaryKeyConstraint('access_records_pkey', ['kind', 'id'])
      .addUniqueConstraint('access_records_name_key', ['kind', 'name_key'])
      .execute();

    await db.schema
      .createTable('access_assignments')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('principal_type', 'text', (column) => column.notNull())
      .addColumn('principal_guid', 'text', (column) => column.notNull())
      .addColumn('principal_name', 'text', (column) => column.notNull())
      .addColumn('target_key', 'text', (column) => column.notNull())
      .addColumn('account_id', 'text')
      .addColumn('permission_set_id', 'text')
      .addColumn('application_id', 'text')
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addUniqueConstraint('access_assignments_principal_target_key', ['principal_guid', 'target_key'])
      .execute();
    await db.schema.createIndex('access_assignments_account_idx').on('access_assignments').column('account_id').execute();
    await db.schema.createIndex('access_assignments_permission_set_idx').on('access_assignments').column('permission_set_id').execute();
    await db.schema.createIndex('access_assignments_application_idx').on('access_assignments').column('application_id').execute();

    await db.schema
      .createTable('access_provisioned')
      .addColumn('account_id', 'text', (column) => column.notNull())
      .addColumn('permission_set_id', 'text', (column) => column.notNull())
      .addColumn('provisioned_at', 'text', (column) => column.notNull())
      .addPrimaryKeyConstraint('access_provisioned_pkey', ['account_id', 'permission_set_id'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('access_provisioned').execute();
    await db.schema.dropTable('access_assignments').execute();
    await db.schema.dropTable('access_records').execute();
  },
};
