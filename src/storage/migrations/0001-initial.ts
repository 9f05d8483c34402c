/** Directory connections and the audit log. */
import { sql, type Kysely, type Migration } from 'kysely';

export const initial: Migration = {
  // Kysely<unknown>: a migration must not depend on today's table types, which later migrations change.
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('directory_connections')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('domain', 'text', (column) => column.notNull())
      .addColumn('options_json', 'text', (column) => column.notNull())
      .addColumn('bind_password_sealed', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('updated_at', 'text', (column) => column.notNull())
      .addUniqueConstraint('directory_connections_name_key', ['name'])
      .execute();

    await db.schema
      .createTable('audit_events')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('occurred_at', 'text', (column) => column.notNull())
      .addColumn('actor', 'text', (column) => column.notNull())
      .addColumn('action', 'text', (column) => column.notNull())
      .addColumn('target', 'text')
      .addColumn('outcome', 'text', (column) => column.notNull())
      .addColumn('error_code', 'text')
      .addColumn('details_json', 'text', (column) => column.notNull())
      .addCheckConstraint('audit_events_outcome_check', sql`outcome in ('success', 'failure')`)
      .execute();

    // Pages are read newest first, optionally for one action; (occurred_at, id) is the cursor.
    await db.schema.createIndex('audit_events_occurred_at_idx').on('audit_events').columns(['occurred_at', 'id']).execute();
    await db.schema
      .createIndex('audit_events_action_occurred_at_idx')
      .on('audit_events')
      .columns(['action', 'occurred_at', 'id'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('audit_events').execute();
    await db.schema.dropTable('directory_connections').execute();
  },
};
