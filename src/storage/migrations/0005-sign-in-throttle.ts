/**
 * Sign-in throttle counters (src/auth/throttle.ts), kept in the database so that they survive a
 * restart and are shared by every instance on one database. One row per counted failure slot:
 * a key has at most maxFailures slots, so a key never grows beyond its limit, and taking a slot
 * is one conditional upsert on the primary key (atomic on SQLite and PostgreSQL alike). A slot is
 * either a counted failure or (pending = 1) a short hold on an attempt still in flight.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const signInThrottle: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('sign_in_failures')
      // 'subject' (account:<guid> or name:<spelling>) | 'address' (IPv4, or an IPv6 /64).
      .addColumn('scope', 'text', (column) => column.notNull())
      .addColumn('key', 'text', (column) => column.notNull())
      .addColumn('slot', 'integer', (column) => column.notNull())
      .addColumn('label', 'text', (column) => column.notNull())
      .addColumn('max_failures', 'integer', (column) => column.notNull())
      .addColumn('failed_at', 'text', (column) => column.notNull())
      .addColumn('expires_at', 'text', (column) => column.notNull())
      .addColumn('pending', 'integer', (column) => column.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('sign_in_failures_pkey', ['scope', 'key', 'slot'])
      .addCheckConstraint('sign_in_failures_scope_check', sql`scope in ('subject', 'address')`)
      .execute();
    // Pruning and listing read by expiry.
    await db.schema.createIndex('sign_in_failures_expires_idx').on('sign_in_failures').column('expires_at').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('sign_in_failures').execute();
  },
};
