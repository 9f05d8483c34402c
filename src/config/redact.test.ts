import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadConfig } from './load-config.ts';
import { redactConfig, redactUrl } from './redact.ts';

const BIND_PASSWORD = 'Bind-Password-5e1f';
const DB_PASSWORD = 'Db-Password-77aa';
const SECRET_KEY = randomBytes(32).toString('base64');

function fullConfig(database: Record<string, string>) {
  return loadConfig({
    cwd: '/nonexistent',
    env: {
      ...database,
      PORTICO_SECRETS__KEY: SECRET_KEY,
      PORTICO_DIRECTORY__DOMAIN: 'corp.example.test',
      PORTICO_DIRECTORY__URLS: 'ldaps://dc1.corp.example.test',
      PORTICO_DIRECTORY__SERVICEACCOUNT__USERNAME: 'svc@corp.example.test',
      PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: BIND_PASSWORD,
    },
  });
}

void describe('redactConfig', () => {
  void it('masks the bind password, the secret key and the PostgreSQL password, and keeps the rest', () => {
    const config = fullConfig({
      PORTICO_DATABASE__DRIVER: 'postgres',
      PORTICO_DATABASE__POSTGRES__URL: `postgres://portico:${DB_PASSWORD}@db.internal:5432/portico?sslmode=require`,
    });
    const redacted = redactConfig(config);

    assert.equal(redacted.directory?.serviceAccount.password, '***');
    assert.equal(redacted.directory?.serviceAccount.username, 'svc@corp.example.test');
    assert.equal(redacted.secrets.key, '***');
    assert.deepEqual(redacted.database, {
      driver: 'postgres',
      postgres: { url: 'postgres://portico:***@db.internal:5432/portico?sslmode=require', poolSize: 10, statementTimeoutMs: 30_000, changePollSeconds: 5 },
    });
    assert.deepEqual(redacted.http, config.http);
    assert.deepEqual(redacted.directory?.urls, config.directory?.urls);

    const logged = JSON.stringify(redacted);
    for (const secret of [BIND_PASSWORD, DB_PASSWORD, SECRET_KEY]) assert.ok(!logged.includes(secret), secret);
  });

  void it('does not change the configuration it was given', () => {
    const config = fullConfig({});
    const before = structuredClone(config);
    redactConfig(config);
    assert.deepEqual(config, before);
    assert.equal(config.directory?.serviceAccount.password, BIND_PASSWORD);
  });

  void it('leaves absent secrets absent', () => {
    const redacted = redactConfig(loadConfig({ cwd: '/nonexistent', env: {} }));
    assert.deepEqual(redacted.secrets, {});
    assert.equal(redacted.directory, undefined);
  });
});

void describe('redactUrl', () => {
  void it('masks passwords in the user info and in query parameters', () => {
    assert.equal(redactUrl('postgres://u:p%40ss@h/db'), 'postgres://u:***@h/db');
    assert.equal(redactUrl('postgresql://h/db?user=u&password=x&sslmode=verify-full'), 'postgresql://h/db?user=u&password=***&sslmode=verify-full');
    assert.equal(redactUrl('postgres://u@h/db'), 'postgres://u@h/db');
  });

  void it('hides a URL it cannot parse entirely', () => {
    assert.equal(redactUrl('postgres://u:pa ss@[bad/db'), '***');
  });
});
