/**
 * Multi-factor authentication (src/mfa/): devices keyed on the user's objectGUID (so they follow
 * the person, not the JIT record), one-time recovery codes stored as hashes.
 *
 * TOTP replay: `totp_last_step` holds the last time step accepted for the device; accepting a code
 * is one conditional update (`last_step < step`), atomic on SQLite and PostgreSQL alike, so a code
 * is accepted once across every instance on the database, and an older code never after a newer.
 */
import { type Kysely, type Migration } from 'kysely';

export const mfa: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('mfa_devices')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('user_guid', 'text', (column) => column.notNull())
      // 'totp' | 'webauthn'
      .addColumn('type', 'text', (column) => column.notNull())
      .addColumn('name', 'text', (column) => column.notNull())
      // TOTP: the base32 secret sealed under the instance key, bound to the device id.
      .addColumn('secret_sealed', 'text')
      .addColumn('totp_last_step', 'bigint')
      // WebAuthn: the credential id (base64url), public key and flags as JSON.
      .addColumn('credential_id', 'text', (column) => column.unique())
      .addColumn('credential_json', 'text')
      .addColumn('confirmed_at', 'text')
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('last_used_at', 'text')
      .execute();
    await db.schema.createIndex('mfa_devices_user_idx').on('mfa_devices').column('user_guid').execute();
    await db.schema
      .createTable('mfa_recovery_codes')
      .addColumn('user_guid', 'text', (column) => column.notNull())
      .addColumn('code_hash', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('used_at', 'text')
      .addPrimaryKeyConstraint('mfa_recovery_codes_pkey', ['user_guid', 'code_hash'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('mfa_recovery_codes').execute();
    await db.schema.dropTable('mfa_devices').execute();
  },
};
