/**
 * The databases the contract suites run against, each test on a fresh, empty one:
 * - SQLite: a file in a temporary directory, removed afterwards;
 * - PostgreSQL: a database of its own per run on the URL's server (dropped at the end), and a
 *   fresh schema per test in it, so concurrent runs on one server never meet.
 *
 * PostgreSQL is selected by PORTICO_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test):
 * the server and an existing database to connect to; the user must be allowed to create databases.
 * When it is unreachable the PostgreSQL tests fail with a message saying so; they never skip.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { redactUrl, type DatabaseConfig } from '#src/config/index.ts';
import { createDatabase, migrateToLatest, type Database } from '#src/storage/index.ts';
import { refuseInUnitTier } from '../support/tier.ts';

export const DEFAULT_TEST_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const TEST_PREFIX = 'portico_test_';
// Databases left behind by a crashed run are swept once they are this old.
const STALE_AFTER_MS = 60 * 60 * 1000;

export interface TestDatabase {
  db: Kysely<Database>;
  config: DatabaseConfig;
  dispose(): Promise<void>;
}

export interface DatabaseTarget {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty database; migrated unless `migrate` is false. */
  open(options?: { migrate?: boolean }): Promise<TestDatabase>;
  /** Releases what the target holds across tests (the PostgreSQL run database and pools). */
  close(): Promise<void>;
}

export function sqliteTarget(): DatabaseTarget {
  return {
    name: 'sqlite',
    async open({ migrate = true } = {}) {
      const dir = await mkdtemp(join(tmpdir(), 'portico-contract-'));
      const config: DatabaseConfig = { driver: 'sqlite', sqlite: { file: join(dir, 'portico.db') } };
      const db = createDatabase(config);
      if (migrate) await migrateToLatest(db);
      return {
        db,
        config,
        async dispose() {
          await db.destroy();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
    close: () => Promise.resolve(),
  };
}

export function postgresTarget(url = process.env.PORTICO_TEST_POSTGRES_URL ?? DEFAULT_TEST_POSTGRES_URL): DatabaseTarget {
  refuseInUnitTier('PostgreSQL');
  // One database per run, created on first use: Kysely's migrator introspects every schema of
  // its database, so another run dropping its schemas in the same database would break ours.
  let run: Promise<{ admin: Kysely<Database>; runAdmin: Kysely<Database>; runUrl: string; name: string }> | undefined;

  const startRun = (): NonNullable<typeof run> => {
    run ??= (async () => {
      const admin = createDatabase({ driver: 'postgres', postgres: { url, poolSize: 1 } });
      try {
        await sql`select 1`.execute(admin);
      } catch (error) {
        await admin.destroy().catch(() => undefined);
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `PostgreSQL is required for these tests but is not reachable at ${redactUrl(url)}: ${reason}. ` +
            'Start it (scripts/ensure-postgres.sh), or point PORTICO_TEST_POSTGRES_URL at a server where this user may create databases.',
          { cause: error },
        );
      }
      await sweepStaleDatabases(admin);
      const name = uniqueName();
      await sql`create database ${sql.id(name)}`.execute(admin);
      const runUrl = withDatabaseName(url, name);
      const runAdmin = createDatabase({ driver: 'postgres', postgres: { url: runUrl, poolSize: 1 } });
      return { admin, runAdmin, runUrl, name };
    })();
    return run;
  };

  return {
    name: 'postgres',
    async open({ migrate = true } = {}) {
      const { runAdmin, runUrl } = await startRun();
      const schema = uniqueName();
      await sql`create schema ${sql.id(schema)}`.execute(runAdmin);
      const config: DatabaseConfig = { driver: 'postgres', postgres: { url: runUrl, schema, poolSize: 4 } };
      const db = createDatabase(config);
      const dispose = async (): Promise<void> => {
        await db.destroy();
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(runAdmin);
      };
      try {
        if (migrate) await migrateToLatest(db);
      } catch (error) {
        await dispose();
        throw error;
      }
      return { db, config, dispose };
    },
    async close() {
      const pending = run;
      run = undefined;
      const started = await pending?.catch(() => undefined);
      if (!started) return;
      await started.runAdmin.destroy();
      await sql`drop database if exists ${sql.id(started.name)} with (force)`.execute(started.admin);
      await started.admin.destroy();
    },
  };
}

/** portico_test_<base-36 creation time>_<random>: unique, and old ones can be recognised. */
function uniqueName(): string {
  return `${TEST_PREFIX}${Date.now().toString(36)}_${randomBytes(5).toString('hex')}`;
}

function withDatabaseName(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Drops databases left behind by runs that crashed before their cleanup. */
async function sweepStaleDatabases(admin: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ datname: string }>`
    select datname from pg_database where starts_with(datname, ${TEST_PREFIX})
  `.execute(admin);
  for (const { datname } of rows) {
    const createdAt = parseInt(datname.slice(TEST_PREFIX.length).split('_')[0] ?? '', 36);
    if (Number.isFinite(createdAt) && Date.now() - createdAt > STALE_AFTER_MS) {
      await sql`drop database if exists ${sql.id(datname)} with (force)`.execute(admin);
    }
  }
}
