/**
 * The AWS-compatible SSO OIDC and portal APIs (src/portal/aws-sso): client registrations,
 * device codes and grants (access + refresh token). Bearer secrets are stored as SHA-256 hashes
 * only; times are ISO-8601 text like every other table.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const awsSso: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('aws_sso_clients')
      .addColumn('client_id', 'text', (column) => column.primaryKey())
      .addColumn('secret_hash', 'text', (column) => column.notNull())
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('scopes_json', 'text', (column) => column.notNull())
      .addColumn('registered_at', 'text', (column) => column.notNull())
      .addColumn('expires_at', 'text', (column) => column.notNull())
      .addColumn('revoked_at', 'text')
      .addColumn('registered_from', 'text', (column) => column.notNull())
      .execute();
    await db.schema.createIndex('aws_sso_clients_from_idx').on('aws_sso_clients').columns(['registered_from', 'registered_at']).execute();

    await db.schema
      .createTable('aws_sso_device_codes')
      .addColumn('device_code_hash', 'text', (column) => column.primaryKey())
      .addColumn('user_code', 'text', (column) => column.notNull().unique())
      .addColumn('client_id', 'text', (column) => column.notNull())
      .addColumn('start_url', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('expires_at', 'text', (column) => column.notNull())
      .addColumn('interval_seconds', 'integer', (column) => column.notNull())
      .addColumn('last_polled_at', 'text')
      .addColumn('status', 'text', (column) => column.notNull())
      .addColumn('decided_at', 'text')
      // The approving person (SsoPrincipal as JSON), once approved.
      .addColumn('principal_json', 'text')
      .addCheckConstraint('aws_sso_device_codes_status_check', sql`status in ('pending', 'approved', 'denied', 'redeemed')`)
      .execute();
    await db.schema.createIndex('aws_sso_device_codes_client_idx').on('aws_sso_device_codes').columns(['client_id', 'created_at']).execute();

    await db.schema
      .createTable('aws_sso_grants')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('client_id', 'text', (column) => column.notNull())
      .addColumn('access_token_hash', 'text', (column) => column.notNull().unique())
      .addColumn('access_expires_at', 'text', (column) => column.notNull())
      .addColumn('refresh_token_hash', 'text', (column) => column.notNull().unique())
      .addColumn('expires_at', 'text', (column) => column.notNull())
      .addColumn('scopes_json', 'text', (column) => column.notNull())
      .addColumn('user_guid', 'text', (column) => column.notNull())
      .addColumn('principal_json', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('checked_at', 'text', (column) => column.notNull())
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema.createIndex('aws_sso_grants_user_idx').on('aws_sso_grants').column('user_guid').execute();
    await db.schema.createIndex('aws_sso_grants_client_idx').on('aws_sso_grants').column('client_id').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('aws_sso_grants').execute();
    await db.schema.dropTable('aws_sso_device_codes').execute();
    await db.schema.dropTable('aws_sso_clients').execute();
  },
};
