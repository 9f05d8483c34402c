/**
 * A consistent copy of the SQLite database while the server runs: SQLite's online backup API
 * (through better-sqlite3), which copies the pages under a read transaction, WAL included.
 * PostgreSQL databases are backed up with pg_dump (docs/operations.md).
 */
import SqliteDriver from 'better-sqlite3';
import { AppError } from '#src/shared/errors.ts';

/**
 * Copies `source` into `destination` (a new file) and makes the copy self-contained (rollback
 * journal, no -wal/-shm beside it). Returns the migrations the copy has applied.
 */
export async function backupSqliteFile(source: string, destination: string): Promise<{ migrations: string[] }> {
  let database: SqliteDriver.Database;
  try {
    database = new SqliteDriver(source, { fileMustExist: true, readonly: true });
  } catch (error) {
    throw new AppError('storage.unavailable', `cannot open the SQLite database ${source} (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  try {
    await database.backup(destination);
  } finally {
    database.close();
  }
  const copy = new SqliteDriver(destination, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    let migrations: string[] = [];
    try {
      migrations = (copy.prepare('select name from kysely_migration order by name').all() as Array<{ name: string }>).map((row) => row.name);
    } catch {
      // A database never migrated has no migration table: nothing applied.
    }
    return { migrations };
  } finally {
    copy.close();
  }
}
