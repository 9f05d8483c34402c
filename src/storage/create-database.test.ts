import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import SqliteDriver from 'better-sqlite3';
import { Kysely, sql, SqliteDialect } from 'kysely';
import { withStatementCache } from './create-database.ts';

describe('the SQLite statement cache', () => {
  it('prepares each SQL text once and runs it with every set of parameters', () => {
    const raw = new SqliteDriver(':memory:');
    let prepared = 0;
    const prepare = raw.prepare.bind(raw);
    raw.prepare = (text: string) => {
      prepared += 1;
      return prepare(text);
    };
    const database = withStatementCache(raw);
    database.prepare('create table t (n integer)').run([]);
    for (const n of [1, 2, 3]) database.prepare('insert into t values (?)').run([n]);
    assert.deepEqual(database.prepare('select n from t where n >= ? order by n').all([2]), [{ n: 2 }, { n: 3 }]);
    assert.deepEqual(database.prepare('select n from t where n >= ? order by n').all([3]), [{ n: 3 }]);
    assert.equal(prepared, 3);
    database.close();
    assert.equal(raw.open, false);
  });

  it('gives a statement still being iterated its own copy, and keeps at most the given number', () => {
    const database = withStatementCache(new SqliteDriver(':memory:'), 2);
    const text = 'select value from json_each(?)';
    const outer = database.prepare(text);
    const seen: unknown[] = [];
    for (const row of outer.iterate(['[1,2]'])) {
      seen.push(row, database.prepare(text).all(['[9]']));
    }
    assert.deepEqual(seen, [{ value: 1 }, [{ value: 9 }], { value: 2 }, [{ value: 9 }]]);
    assert.equal(database.prepare(text), outer, 'the cached statement is used again once it is free');
    database.prepare('select 1');
    database.prepare('select 2');
    assert.notEqual(database.prepare(text), outer, 'a full cache starts again');
    database.close();
  });

  it('serves Kysely, transactions included', async () => {
    const db = new Kysely<{ t: { n: number } }>({ dialect: new SqliteDialect({ database: withStatementCache(new SqliteDriver(':memory:')) }) });
    await sql`create table t (n integer)`.execute(db);
    for (let i = 0; i < 3; i += 1) await db.transaction().execute((tx) => tx.insertInto('t').values({ n: i }).execute());
    await assert.rejects(
      db.transaction().execute(async (tx) => {
        await tx.insertInto('t').values({ n: 99 }).execute();
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    assert.deepEqual(await db.selectFrom('t').select('n').orderBy('n').execute(), [{ n: 0 }, { n: 1 }, { n: 2 }]);
    await db.destroy();
  });
});
