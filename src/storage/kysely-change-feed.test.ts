import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import SqliteDriver from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { createKyselyChangeFeed } from './kysely-change-feed.ts';
import type { Database } from './tables.ts';

describe('the change feed on SQLite', () => {
  it('reads the counters at start and never again when refreshMs is 0 (it learns its own announcements at once)', async () => {
    const raw = new SqliteDriver(':memory:');
    raw.exec('create table change_counters (name text primary key, version integer not null, changed_at text not null)');
    let reads = 0;
    const prepare = raw.prepare.bind(raw);
    raw.prepare = (text: string) => {
      if (/^select .* from "change_counters"/.test(text)) reads += 1;
      return prepare(text);
    };
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    const feed = createKyselyChangeFeed(db, { driver: 'sqlite', sqlite: { file: ':memory:' } }, { refreshMs: 0 });
    await feed.start();
    assert.equal(reads, 1);
    await sleep(50);
    // setInterval(…, 0) used to re-read every millisecond.
    assert.equal(reads, 1, 'no polling');
    assert.equal(await feed.announce('access'), 1);
    assert.equal(feed.version('access'), 1);
    await feed.close();
    await db.destroy();
  });
});
