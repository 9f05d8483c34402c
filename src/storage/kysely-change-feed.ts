/**
 * ChangeFeed (src/shared/change-feed.ts) on the database: one row per topic in change_counters.
 * Announcing bumps the row in one statement; on PostgreSQL it then NOTIFYs, and every instance
 * LISTENs on a connection of its own (outside the pool, which it would otherwise hold). Every
 * PostgreSQL instance also re-reads the counters every `refreshMs`: the fallback for a
 * notification lost while its listening connection was down. SQLite serves one process
 * (docs/several-instances.md), so it does not poll.
 */
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '#src/config/index.ts';
import type { ChangeFeed, ChangeTopic } from '#src/shared/change-feed.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database } from './tables.ts';

const CHANNEL = 'portico_changes';
const RECONNECT_MS = 1000;

export interface KyselyChangeFeedOptions {
  /**
   * How often the counters are re-read, whatever the notifications say; 0: never (SQLite serves
   * one process, whose own announcements it learns at once).
   */
  refreshMs: number;
  /** Listening or refreshing failed (logged; the feed keeps trying). */
  onError?: (error: unknown, what: string) => void;
  /** The listening connection is (again) up. */
  onListening?: () => void;
}

export interface KyselyChangeFeed extends ChangeFeed {
  /** Reads the counters now (and starts listening on PostgreSQL). */
  start(): Promise<void>;
  /** Re-reads the counters, telling listeners of every newer version. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export function createKyselyChangeFeed(db: Kysely<Database>, config: DatabaseConfig, options: KyselyChangeFeedOptions): KyselyChangeFeed {
  const versions = new Map<string, number>();
  const listeners = new Map<string, Set<(version: number) => void>>();
  // Notifications carry the schema: instances of other Porticos in other schemas of one database are not ours.
  const scope = config.driver === 'postgres' ? (config.postgres.schema ?? 'public') : 'sqlite';
  let closed = false;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  let reconnect: NodeJS.Timeout | null = null;

  function learn(topic: string, version: number): void {
    if (version <= (versions.get(topic) ?? 0)) return;
    versions.set(topic, version);
    for (const listener of listeners.get(topic) ?? []) {
      try {
        listener(version);
      } catch (error) {
        options.onError?.(error, `a listener of ${topic} changes`);
      }
    }
  }

  async function refresh(): Promise<void> {
    const rows = await translateStorageErrors('reading change counters', () => db.selectFrom('change_counters').select(['name', 'version']).execute());
    for (const row of rows) learn(row.name, Number(row.version));
  }

  async function listen(): Promise<void> {
    if (config.driver !== 'postgres' || closed) return;
    const connection = new pg.Client({ connectionString: config.postgres.url, connectionTimeoutMillis: 10_000 });
    const retry = (error: unknown) => {
      if (client === connection) client = null;
      connection.removeAllListeners();
      void connection.end().catch(() => undefined);
      if (closed) return;
      options.onError?.(error, 'listening for changes (the periodic refresh continues)');
      reconnect ??= setTimeout(() => {
        reconnect = null;
        void listen();
      }, RECONNECT_MS);
      reconnect.unref();
    };
    connection.on('error', retry);
    connection.on('end', () => retry(new Error('the listening connection ended')));
    connection.on('notification', (message) => {
      if (message.channel !== CHANNEL || message.payload === undefined) return;
      const [schema, topic, version] = message.payload.split(':');
      if (schema === scope && topic !== undefined) learn(topic, Number(version));
    });
    try {
      await connection.connect();
      await connection.query(`listen ${CHANNEL}`);
      client = connection;
      options.onListening?.();
      // Changes made while not listening.
      await refresh();
    } catch (error) {
      retry(error);
    }
  }

  return {
    version: (topic) => versions.get(topic) ?? 0,
    async announce(topic: ChangeTopic) {
      const at = new Date().toISOString();
      const row = await translateStorageErrors(`announcing a change of ${topic}`, () =>
        db
          .insertInto('change_counters')
          .values({ name: topic, version: 1, changed_at: at })
          .onConflict((conflict) => conflict.column('name').doUpdateSet({ version: sql`change_counters.version + 1`, changed_at: at }))
          .returning('version')
          .executeTakeFirstOrThrow(),
      );
      const version = Number(row.version);
      if (config.driver === 'postgres') {
        await translateStorageErrors('notifying a change', () => sql`select pg_notify(${CHANNEL}, ${`${scope}:${topic}:${version}`})`.execute(db));
      }
      learn(topic, version);
      return version;
    },
    subscribe(topic, listener) {
      const set = listeners.get(topic) ?? new Set();
      listeners.set(topic, set);
      set.add(listener);
      return () => set.delete(listener);
    },
    async start() {
      await refresh();
      await listen();
      // setInterval(…, 0) would re-read every millisecond: ~220 queries/s on an idle SQLite instance.
      if (options.refreshMs <= 0) return;
      timer = setInterval(() => {
        refresh().catch((error: unknown) => options.onError?.(error, 'refreshing change counters'));
      }, options.refreshMs);
      timer.unref();
    },
    refresh,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      if (reconnect) clearTimeout(reconnect);
      const connection = client;
      client = null;
      connection?.removeAllListeners();
      await connection?.end().catch(() => undefined);
    },
  };
}
