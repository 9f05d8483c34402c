/** The identity store, instance settings, portal sessions and application credentials. */
import type { Kysely, Migration } from 'kysely';

export const identity: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('identity_users')
      .addColumn('user_id', 'text', (column) => column.primaryKey())
      // objectGUID: one record per AD user, whatever its UPN or DN becomes.
      .addColumn('guid', 'text', (column) => column.notNull())
      .addColumn('user_name', 'text', (column) => column.notNull())
      // Lower-cased lookup keys; email is unique across provisioned users (Identity Center's rule).
      .addColumn('user_name_key', 'text', (column) => column.notNull())
      .addColumn('email_key', 'text')
      .addColumn('record_json', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('provisioned_at', 'text', (column) => column.notNull())
      // Removed by an administrator: invisible to every lookup, kept so that the next sign-in
      // is recorded as a reprovisioning (with a new user_id).
      .addColumn('removed_at', 'text')
      .addUniqueConstraint('identity_users_guid_key', ['guid'])
      .execute();
    await db.schema.createIndex('identity_users_user_name_idx').on('identity_users').column('user_name_key').execute();
    await db.schema.createIndex('identity_users_email_key').on('identity_users').column('email_key').unique().execute();

    await db.schema
      .createTable('settings')
      .addColumn('name', 'text', (column) => column.primaryKey())
      .addColumn('value_json', 'text', (column) => column.notNull())
      .addColumn('updated_at', 'text', (column) => column.notNull())
      .execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id', 'text', (column) => column.primaryKey())
      // SHA-256 of the bearer token: a stolen database does not yield usable sessions.
      .addColumn('token_hash', 'text', (column) => column.notNull())
      .addColumn('user_id', 'text', (column) => column.notNull())
      .addColumn('user_guid', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('expires_at', 'text', (column) => column.notNull())
      // When the directory last confirmed the user still exists and may sign in.
      .addColumn('checked_at', 'text', (column) => column.notNull())
      .addColumn('revoked_at', 'text')
      .addColumn('data_json', 'text', (column) => column.notNull())
      .addUniqueConstraint('sessions_token_hash_key', ['token_hash'])
      .execute();
    await db.schema.createIndex('sessions_user_guid_idx').on('sessions').column('user_guid').execute();

    await db.schema
      .createTable('application_credentials')
      .addColumn('access_key_id', 'text', (column) => column.primaryKey())
      .addColumn('name', 'text', (column) => column.notNull())
      // SigV4 needs the secret itself to recompute signatures, so it is sealed, not hashed.
      .addColumn('secret_sealed', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('last_used_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('application_credentials').execute();
    await db.schema.dropTable('sessions').execute();
    await db.schema.dropTable('settings').execute();
    await db.schema.dropTable('identity_users').execute();
  },
};
