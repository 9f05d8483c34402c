/** What the operations face asks of the database: does it answer, and how busy is its pool. */
import { sql, type Kysely } from 'kysely';
import type { Database } from './tables.ts';

export { databasePoolStats } from './create-database.ts';

/** One trivial round trip; rejects when the database does not answer. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
