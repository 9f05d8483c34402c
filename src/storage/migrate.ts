/**
 * Brings the schema up to date with Kysely's Migrator and the in-code migration list. Safe to
 * run at every start: applied migrations are recorded and skipped, and on PostgreSQL the
 * Migrator holds a session advisory lock while it migrates, so of several instances starting
 * together one migrates and the others wait, then find nothing left to do (proved by the
 * PostgreSQL contract suite). A database migrated by a newer Portico is refused before anything
 * is written: this version cannot know what the newer schema expects.
 */
import { Migrator, PostgresIntrospector, sql, type Kysely } from 'kysely';
import { AppError } from '#src/shared/errors.ts';
import { driverErrorCode, isUnavailable } from './errors.ts';
import { migrations } from './migrations/index.ts';
import type { Database } from './tables.ts';

export interface MigrationReport {
  /** Names of the migrations applied by this run, in order; empty when already up to date. */
  applied: string[];
}

const MIGRATION_TABLE = 'kysely_migration';

export async function migrateToLatest(db: Kysely<Database>): Promise<MigrationReport> {
  const schema = await postgresSchemaOf(db);
  await refuseNewerSchema(db, schema);
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
    migrationTableSchema: schema,
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error')?.migrationName;
    throw migrationError(error, failed ? `migration ${failed} failed` : 'could not read the applied migrations');
  }
  return { applied: results.filter((result) => result.status === 'Success').map((result) => result.migrationName) };
}

/** Migrations recorded in the database that this version does not have: a newer Portico ran them. */
async function refuseNewerSchema(db: Kysely<Database>, schema: string | undefined): Promise<void> {
  let applied: string[];
  try {
    const table = schema === undefined ? sql.table(MIGRATION_TABLE) : sql.table(`${schema}.${MIGRATION_TABLE}`);
    const { rows } = await sql<{ name: string }>`select name from ${table} order by name`.execute(db);
    applied = rows.map((row) => row.name);
  } catch (error) {
    // A database never migrated (undefined_table; SQLite names it in the message).
    if (driverErrorCode(error) === '42P01' || (error instanceof Error && /no such table/.test(error.message))) return;
    throw migrationError(error, 'could not read the applied migrations');
  }
  const known = Object.keys(migrations).sort();
  const unknown = applied.filter((name) => !Object.hasOwn(migrations, name));
  if (unknown.length > 0) {
    throw new AppError(
      'storage.schema_too_new',
      `the database schema is newer than this Portico: it has migration${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}, and this version knows migrations up to ${known.at(-1) ?? 'none'}. Run the newer Portico, or restore the backup taken before the upgrade`,
      { details: { unknown, latestKnown: known.at(-1) } },
    );
  }
}

/**
 * On PostgreSQL, the schema the migration tables belong in: the connection's current schema.
 * Named explicitly because without it Kysely looks for its migration table in *any* schema,
 * so another Portico (or Kysely app) in the same database would make it skip creating ours.
 */
async function postgresSchemaOf(db: Kysely<Database>): Promise<string | undefined> {
  if (!(db.introspection instanceof PostgresIntrospector)) return undefined;
  let schema: string | null | undefined;
  try {
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    schema = rows[0]?.schema;
  } catch (error) {
    throw migrationError(error, 'cannot migrate');
  }
  // search_path names only schemas that do not exist.
  if (!schema) throw new AppError('storage.migration_failed', 'cannot migrate: the configured PostgreSQL schema does not exist');
  return schema;
}

function migrationError(error: unknown, what: string): AppError {
  const code = driverErrorCode(error);
  if (isUnavailable(error)) {
    return new AppError('storage.unavailable', `${what}: the database is unavailable (${code ?? 'unknown'})`, { status: 503, cause: error });
  }
  const hint =
    code === '3D000' ? ': the configured PostgreSQL database does not exist'
    : code === '3F000' ? ': the configured PostgreSQL schema does not exist'
    : code !== undefined ? ` (${code})`
    : '';
  return new AppError('storage.migration_failed', `${what}${hint}`, { cause: error });
}
