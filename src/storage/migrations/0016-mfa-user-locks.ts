/**
 * One lock row per person who registers MFA devices. Adding a device first upserts the person's
 * row in the same transaction, which holds its row lock (PostgreSQL) or the write lock (SQLite)
 * until commit: registrations of one person run one after the other, so count-then-insert cannot
 * let parallel registrations pass the 8-device limit. Nothing else is kept here.
 */
import type { Kysely, Migration } from 'kysely';

export const mfaUserLocks: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('mfa_user_locks')
      .addColumn('user_guid', 'text', (column) => column.primaryKey())
      .addColumn('locked_at', 'text', (column) => column.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('mfa_user_locks').execute();
  },
};
