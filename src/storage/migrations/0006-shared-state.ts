/**
 * Cross-request state that used to live in one process's memory, moved into the database so that
 * several instances on one PostgreSQL share it (issue 15): the SAML replay cache, the SAML
 * requests waiting for their person to sign in, and the change counters each instance watches
 * (the access generation, the signing keys) to drop its caches when another instance writes.
 */
import type { Kysely, Migration } from 'kysely';

export const sharedState: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('saml_replay')
      // `<issuer>\n<request ID>`.
      .addColumn('key', 'text', (column) => column.primaryKey())
      .addColumn('expires_at', 'text', (column) => column.notNull())
      .execute();
    await db.schema.createIndex('saml_replay_expires_idx').on('saml_replay').column('expires_at').execute();

    await db.schema
      .createTable('saml_pending')
      .addColumn('ref', 'text', (column) => column.primaryKey())
      // The client address it counts against (IPv4, or an IPv6 /64).
      .addColumn('client', 'text', (column) => column.notNull())
      .addColumn('bytes', 'integer', (column) => column.notNull())
      .addColumn('value_json', 'text', (column) => column.notNull())
      .addColumn('parked_at', 'text', (column) => column.notNull())
      .addColumn('expires_at', 'text', (column) => column.notNull())
      .execute();
    await db.schema.createIndex('saml_pending_client_idx').on('saml_pending').columns(['client', 'parked_at']).execute();
    await db.schema.createIndex('saml_pending_expires_idx').on('saml_pending').column('expires_at').execute();

    await db.schema
      .createTable('change_counters')
      .addColumn('name', 'text', (column) => column.primaryKey())
      .addColumn('version', 'integer', (column) => column.notNull())
      .addColumn('changed_at', 'text', (column) => column.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('change_counters').execute();
    await db.schema.dropTable('saml_pending').execute();
    await db.schema.dropTable('saml_replay').execute();
  },
};
