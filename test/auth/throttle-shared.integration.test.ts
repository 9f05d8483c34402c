/**
 * The sign-in throttle's counters live in the database: two Portico instances on one PostgreSQL
 * database share them (failures through one throttle the other, and an administrator clears them
 * through either), and a restart on the embedded SQLite file keeps them. Real servers only: the
 * Samba DC (user tlock1, the one reserved for lockout tests, with the per-user limit set to 2 so
 * that it never sees more than 2 wrong passwords before its count is reset) and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Client } from 'ldapts';
import { postgresTarget } from '../contract/databases.ts';
import { fixtureUser, resetBadPasswordCounts, sambaRuntime } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi } from '../support/saml-http.ts';

const TLOCK1 = fixtureUser('tlock1');
const LIMIT = { PORTICO_SIGNIN__THROTTLE__PERUSERNAME__MAXFAILURES: '2' };

async function signIn(app: SambaPortico, password: string): Promise<{ status: number; code: string | null; retryAfter: string | null }> {
  const response = await fetch(`${app.app.url}/api/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: TLOCK1.upn, password }),
  });
  const body = (await response.json()) as { error?: { code: string } };
  return { status: response.status, code: body.error?.code ?? null, retryAfter: response.headers.get('retry-after') };
}

/** tlock1's bad-password count as the DC keeps it (read as the domain administrator). */
async function badPwdCount(): Promise<number> {
  const dc = sambaRuntime();
  const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: readFileSync(dc.caFile) } });
  try {
    await client.bind(dc.admin.username, dc.admin.password);
    const { searchEntries } = await client.search(dc.baseDn, { filter: `(sAMAccountName=${TLOCK1.sAMAccountName})`, attributes: ['badPwdCount', 'lockoutTime'] });
    const entry = searchEntries[0];
    assert.ok(entry, 'tlock1 is on the DC');
    assert.equal(String(entry.lockoutTime ?? '0'), '0', 'tlock1 is not locked');
    return Number(entry.badPwdCount ?? 0);
  } finally {
    await client.unbind();
  }
}

interface Listed {
  entries: Array<{ kind: string; key: string; label: string; failures: number; throttled: boolean; retryAfterSeconds: number | null }>;
}

before(() => resetBadPasswordCounts(['tlock1']));
afterEach(() => resetBadPasswordCounts(['tlock1']));

void describe('sign-in throttle shared by two instances on one PostgreSQL database', () => {
  const target = postgresTarget();
  after(() => target.close());

  void it('counts failures through either instance, refuses on both, and clears through either', async () => {
    const database = await target.open({ migrate: false });
    assert.equal(database.config.driver, 'postgres');
    const { url, schema } = database.config.driver === 'postgres' ? database.config.postgres : { url: '', schema: '' };
    // One data directory: both instances must share the instance key (sealed secrets in the database).
    const dataDir = mkdtempSync(join(tmpdir(), 'portico-throttle-shared-'));
    const env = { ...LIMIT, PORTICO_DATA_DIR: dataDir, PORTICO_DATABASE__DRIVER: 'postgres', PORTICO_DATABASE__POSTGRES__URL: url, PORTICO_DATABASE__POSTGRES__SCHEMA: schema ?? '' };
    const first = await startSambaPortico(env);
    const second = await startSambaPortico(env);
    try {
      assert.notEqual(first.app.url, second.app.url);
      const before = await badPwdCount();

      assert.deepEqual((await signIn(first, 'wrong-password-1')).code, 'auth.invalid_credentials');
      assert.deepEqual((await signIn(second, 'wrong-password-2')).code, 'auth.invalid_credentials');
      // The limit (2) is reached across the instances: both refuse, even the right password, before any bind.
      for (const app of [first, second]) {
        const refused = await signIn(app, TLOCK1.password);
        assert.equal(refused.status, 429);
        assert.equal(refused.code, 'auth.throttled');
        assert.ok(Number(refused.retryAfter) > 0);
      }
      assert.equal((await badPwdCount()) - before, 2, 'the DC saw the two wrong passwords and nothing after them');

      // The help desk sees it through either instance (the token was issued by the first start).
      const listed = await adminApi<Listed>(second.app.url, first.token, 'GET', '/throttle?throttled=true');
      const entry = listed.entries.find((e) => e.label.toLowerCase() === TLOCK1.upn.toLowerCase());
      assert.ok(entry, JSON.stringify(listed));
      assert.equal(entry.failures, 2);
      assert.ok((entry.retryAfterSeconds ?? 0) > 0);

      const cleared = await adminApi<{ cleared: Array<{ key: string }> }>(second.app.url, first.token, 'POST', '/throttle/clear', { target: TLOCK1.upn }, 200);
      assert.deepEqual(cleared.cleared.map((c) => c.key), [entry.key]);
      // The right password reaches the DC again and is accepted there (whatever provisioning then
      // says of tlock1's attributes: neither throttled nor a wrong password).
      const after = await signIn(first, TLOCK1.password);
      assert.ok(after.code !== 'auth.throttled' && after.code !== 'auth.invalid_credentials', JSON.stringify(after));
      assert.equal(await badPwdCount(), 0, 'a successful bind resets the DC count');
      const audit = await adminApi<{ events: Array<{ action: string; target: string; outcome: string }> }>(first.app.url, first.token, 'GET', '/audit?action=auth.throttle.cleared');
      assert.deepEqual(audit.events.map((e) => [e.target, e.outcome]), [[entry.key, 'success']]);
    } finally {
      await second.stop();
      await first.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await database.dispose();
    }
  });
});

void describe('sign-in throttle across a restart (SQLite file)', () => {
  void it('keeps the counters: a restarted instance still refuses', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'portico-throttle-restart-'));
    const env = { ...LIMIT, PORTICO_DATA_DIR: dataDir };
    try {
      const before = await badPwdCount();
      const first = await startSambaPortico(env);
      try {
        assert.equal((await signIn(first, 'wrong-password-1')).code, 'auth.invalid_credentials');
        assert.equal((await signIn(first, 'wrong-password-2')).code, 'auth.invalid_credentials');
      } finally {
        await first.app.stop();
      }
      const restarted = await startSambaPortico(env);
      try {
        const refused = await signIn(restarted, TLOCK1.password);
        assert.equal(refused.status, 429);
        assert.equal(refused.code, 'auth.throttled');
        assert.equal((await badPwdCount()) - before, 2);
      } finally {
        await restarted.app.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
