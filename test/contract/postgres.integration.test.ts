/**
 * Repository contracts and migrations on PostgreSQL, each test in its own schema. The server
 * comes from PORTICO_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test); when
 * it is unreachable these tests fail, they do not skip.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '#src/shared/errors.ts';
import { createDatabase, migrateToLatest } from '#src/storage/index.ts';
import { DEFAULT_TEST_POSTGRES_URL, postgresTarget } from './databases.ts';
import { currentSchema, runStorageSuites } from './storage-suites.ts';

const target = postgresTarget();

void describe('postgres: test isolation', () => {
  void it('reaches the server and works in a schema of its own', async () => {
    const database = await target.open({ migrate: false });
    try {
      assert.equal(database.config.driver, 'postgres');
      const expected = database.config.driver === 'postgres' ? database.config.postgres.schema : undefined;
      assert.match(expected ?? '', /^portico_test_/);
      assert.equal(await currentSchema(database), expected);
    } finally {
      await database.dispose();
    }
  });
});

runStorageSuites(target);

void describe('postgres: configuration errors', () => {
  void it('names a missing schema when migrating, with a stable code', async () => {
    const url = process.env.PORTICO_TEST_POSTGRES_URL ?? DEFAULT_TEST_POSTGRES_URL;
    const db = createDatabase({ driver: 'postgres', postgres: { url, schema: 'portico_no_such_schema', poolSize: 1 } });
    try {
      await assert.rejects(migrateToLatest(db), (error) => {
        assert.ok(isAppError(error, 'storage.migration_failed'));
        assert.match(error.message, /schema does not exist/);
        return true;
      });
    } finally {
      await db.destroy();
    }
  });

  void it('reports an unreachable server as storage.unavailable', async () => {
    const db = createDatabase({ driver: 'postgres', postgres: { url: 'postgres://postgres:pw@127.0.0.1:1/test', poolSize: 1 } });
    try {
      await assert.rejects(migrateToLatest(db), (error) => {
        assert.ok(isAppError(error, 'storage.unavailable'));
        assert.doesNotMatch(error.message, /pw/);
        return true;
      });
    } finally {
      await db.destroy();
    }
  });
});
