/**
 * Opens the instance database: an embedded SQLite file (the default) or a PostgreSQL server.
 * Nothing outside src/storage/ sees the drivers; the rest of the program gets `Kysely<Database>`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDriver from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '#src/config/index.ts';
import { AppError } from '#src/shared/errors.ts';
import { driverErrorCode } from './errors.ts';
import type { Database } from './tables.ts';

export interface CreateDatabaseOptions {
  /**
   * Called when an idle pooled PostgreSQL connection fails (the server restarted). Without a
   * listener pg would crash the process; the next query reconnects either way.
   */
  onPoolError?: (error: Error) => void;
  /** For migrations: a long schema change, or waiting for another instance's, must not be cancelled. */
  withoutStatementTimeout?: boolean;
}

/**
 * @example
 * const db = createDatabase(config.database);
 * await migrateToLatest(db);
 * // …
 * await db.destroy();
 */
export function createDatabase(config: DatabaseConfig, options: CreateDatabaseOptions = {}): Kysely<Database> {
  switch (config.driver) {
    case 'sqlite':
      return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(openSqlite(config.sqlite.file)) }) });
    case 'postgres': {
      const pool = postgresPool(config.postgres, options);
      const db = new Kysely<Database>({ dialect: postgresDialect(pool, config.postgres) });
      pools.set(db, { pool, max: config.postgres.poolSize });
      return db;
    }
  }
}

/** Each PostgreSQL database's pool, for its gauges (storage/health.ts). */
const pools = new WeakMap<Kysely<Database>, { pool: pg.Pool; max: number }>();

/** The pool's counts (total, idle, waiting clients, max), or null for SQLite (no pool). */
export function databasePoolStats(db: Kysely<Database>): { total: number; idle: number; waiting: number; max: number } | null {
  const entry = pools.get(db);
  return entry === undefined ? null : { total: entry.pool.totalCount, idle: entry.pool.idleCount, waiting: entry.pool.waitingCount, max: entry.max };
}

function openSqlite(file: string): SqliteDriver.Database {
  try {
    // 0700: the database holds sealed secrets and the audit trail; other users have no business reading it.
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const database = new SqliteDriver(file);
    // WAL lets readers proceed while one writer commits; NORMAL sync is durable enough with WAL.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    // SQLite leaves foreign keys off unless asked, per connection.
    database.pragma('foreign_keys = ON');
    // A CLI command and the server may write at once: wait for the lock instead of failing.
    database.pragma('busy_timeout = 5000');
    return database;
  } catch (error) {
    const code = driverErrorCode(error) ?? (error instanceof Error ? error.message : 'unknown error');
    throw new AppError('storage.unavailable', `cannot open the SQLite database ${file} (${code})`, { cause: error });
  }
}

/** Distinct SQL texts kept prepared; the program has far fewer, so this only bounds a leak. */
const maxCachedStatements = 500;

/**
 * The database as Kysely's SQLite driver sees it, with prepared statements reused: the driver
 * prepares every query it runs, and preparing costs about as much as running a small statement.
 * A better-sqlite3 statement can be run again with other parameters; one still being iterated
 * (a streamed query) cannot, so a second statement is prepared for that run only.
 */
export function withStatementCache(database: SqliteDriver.Database, maxStatements = maxCachedStatements): SqliteDatabase {
  const statements = new Map<string, SqliteDriver.Statement>();
  return {
    prepare(sql) {
      const cached = statements.get(sql);
      if (cached !== undefined && !cached.busy) return cached;
      const statement = database.prepare(sql);
      if (cached === undefined) {
        if (statements.size >= maxStatements) statements.clear();
        statements.set(sql, statement);
      }
      return statement;
    },
    close() {
      statements.clear();
      database.close();
    },
  };
}

function postgresPool(config: { url: string; poolSize: number; statementTimeoutMs?: number }, options: CreateDatabaseOptions): pg.Pool {
  const statementTimeout = options.withoutStatementTimeout ? 0 : (config.statementTimeoutMs ?? 0);
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    // Set by the server per connection: a runaway query is cancelled instead of holding a pooled connection.
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    // Fail a start-up against an unreachable server in seconds, not at the OS's TCP timeout.
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', (error) => options.onPoolError?.(error));
  return pool;
}

function postgresDialect(pool: pg.Pool, config: { schema?: string | undefined }): PostgresDialect {
  const { schema } = config;
  return new PostgresDialect({
    pool,
    // The config schema restricts `schema` to [a-z0-9_], so it needs no further quoting rules.
    onCreateConnection:
      schema === undefined
        ? undefined
        : async (connection) => {
            await connection.executeQuery(CompiledQuery.raw(`set search_path to "${schema}"`));
          },
  });
}
