/**
 * AWS provisioning: the state of each permission set in each account (provisioned into IAM,
 * failed with AWS's message, drifted), and per account where it came from (AWS Organizations or
 * typed in) and the IAM SAML provider Portico keeps there. The management identity itself is a
 * setting (settings table, secret sealed), so it needs no table.
 */
import type { Kysely, Migration } from 'kysely';

export const awsProvisioning: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('aws_provisioning')
      .addColumn('account_id', 'text', (column) => column.notNull())
      .addColumn('permission_set_id', 'text', (column) => column.notNull())
      // 'provisioned' | 'failed' | 'drifted'
      .addColumn('status', 'text', (column) => column.notNull())
      .addColumn('message', 'text')
      .addColumn('error_code', 'text')
      .addColumn('role_arn', 'text')
      // Digest of the role as last written: unchanged permission set + same digest = nothing to call.
      .addColumn('applied_digest', 'text')
      .addColumn('provisioned_at', 'text')
      .addColumn('updated_at', 'text', (column) => column.notNull())
      .addPrimaryKeyConstraint('aws_provisioning_pkey', ['account_id', 'permission_set_id'])
      .execute();
    await db.schema.createIndex('aws_provisioning_permission_set_idx').on('aws_provisioning').column('permission_set_id').execute();

    await db.schema
      .createTable('aws_accounts')
      .addColumn('account_id', 'text', (column) => column.primaryKey())
      // 'organizations' (read from AWS Organizations) | 'manual' (typed in)
      .addColumn('source', 'text', (column) => column.notNull())
      .addColumn('organization_status', 'text')
      .addColumn('ou_id', 'text')
      .addColumn('ou_path', 'text')
      .addColumn('synced_at', 'text')
      .addColumn('saml_provider_arn', 'text')
      // 1 when Portico created the provider (only then does it delete it).
      .addColumn('saml_provider_created', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('updated_at', 'text', (column) => column.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('aws_accounts').execute();
    await db.schema.dropTable('aws_provisioning').execute();
  },
};
