/**
 * OUs in the AD sync scope (issue 18): sync_scope.kind may be 'ou' (an organizational unit, its
 * users in the whole subtree). PostgreSQL swaps the check constraint; SQLite cannot alter one, so
 * the table is rebuilt with its rows.
 */
import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

async function setKinds(db: Kysely<unknown>, kinds: readonly string[]): Promise<void> {
  const allowed = sql.join(kinds.map((k) => sql.lit(k)));
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table sync_scope drop constraint sync_scope_kind_check`.execute(db);
    await sql`alter table sync_scope add constraint sync_scope_kind_check check (kind in (${allowed}))`.execute(db);
    return;
  }
  await db.schema
    .createTable('sync_scope_rebuilt')
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('guid', 'text', (column) => column.notNull())
    .addColumn('label', 'text', (column) => column.notNull())
    .addColumn('added_by', 'text', (column) => column.notNull())
    .addColumn('added_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('sync_scope_pkey', ['kind', 'guid'])
    .addCheckConstraint('sync_scope_kind_check', sql`kind in (${allowed})`)
    .execute();
  await sql`insert into sync_scope_rebuilt (kind, guid, label, added_by, added_at) select kind, guid, label, added_by, added_at from sync_scope where kind in (${allowed})`.execute(db);
  await db.schema.dropTable('sync_scope').execute();
  await db.schema.alterTable('sync_scope_rebuilt').renameTo('sync_scope').execute();
}

export const syncScopeOus: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await setKinds(db, ['group', 'user', 'ou']);
  },
  async down(db: Kysely<unknown>): Promise<void> {
    // OU entries cannot be kept by the older schema: going down drops them from the scope.
    await sql`delete from sync_scope where kind = 'ou'`.execute(db);
    await setKinds(db, ['group', 'user']);
  },
};
