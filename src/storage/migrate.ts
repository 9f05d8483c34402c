/**
 * Brings the schema up to date with Kysely's Migrator and the in-code migration list. Safe to
 * run at every start: applied migrations are recorded and skipped, and PostgreSQL runs take a
 * lock so two instances starting together do not both migrate.
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

export async function migrateToLatest(db: Kysely<Database>): Promise<MigrationReport> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
    migrationTableSchema: await postgresSchemaOf(db),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error')?.migrationName;
    throw migrationError(error, failed ? `migration ${failed} failed` : 'could not read the applied migrations');
  }
  return { applied: results.filter((result) => result.status === 'Success').map((result) => result.migrationName) };
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
