/**
 * `portico start` through the composition root: storage migrated, the directory validated at
 * start, status served over HTTP, and no secret in the logs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { createDatabase, createKyselyAuditLog } from '#src/storage/index.ts';
import { fixtureUser, sambaRuntime } from '../support/samba.ts';

const dc = sambaRuntime();
const dirs: string[] = [];

function configFor(extra: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-app-'));
  dirs.push(dataDir);
  return loadConfig({
    env: {
      PORTICO_DATA_DIR: dataDir,
      PORTICO_HTTP__PORT: '0',
      PORTICO_DIRECTORY__DOMAIN: dc.domain,
      PORTICO_DIRECTORY__URLS: JSON.stringify([dc.ldapsUrl]),
      PORTICO_DIRECTORY__SERVICEACCOUNT__USERNAME: dc.serviceAccount.username,
      PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: dc.serviceAccount.password,
      PORTICO_DIRECTORY__TLS__CAFILE: dc.caFile,
      ...extra,
    },
  });
}

function logSink(): { text(): string; stream: Writable } {
  const chunks: string[] = [];
  return {
    text: () => chunks.join(''),
    stream: new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    }),
  };
}

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('portico start', () => {
  it('starts, refuses the Samba directory by default, and says so on /status and to whoever signs in', async () => {
    const logs = logSink();
    const config = configFor({});
    const app = await startApp(config, { logDestination: logs.stream });
    try {
      // The right password: the refusal is Portico's configuration, not the DC's answer.
      const alice = fixtureUser('alice');
      const signIn = await fetch(`${app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: alice.upn, password: alice.password }) });
      assert.equal(signIn.status, 503);
      const { error } = (await signIn.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'auth.directory_refused');
      assert.match(error.message, /the directory was refused by Portico's configuration/);
      assert.doesNotMatch(error.message, /cannot be reached/);
      const health = await fetch(`${app.url}/healthz`);
      assert.equal(health.status, 200);
      const status = (await (await fetch(`${app.url}/status`)).json()) as { directory: { state: string; code: string; reason: string } };
      assert.equal(status.directory.state, 'refused');
      assert.equal(status.directory.code, 'directory.refused');
      assert.match(status.directory.reason, /Simple AD \(Samba4\) is not supported/);
    } finally {
      await app.stop();
    }
    assert.ok(!logs.text().includes(dc.serviceAccount.password), 'the service-account password is not logged');
    assert.match(logs.text(), /"password":"\*\*\*"/);
    const db = createDatabase(config.database);
    try {
      const [event] = await createKyselyAuditLog(db).list({ limit: 1, action: 'auth.sign_in' });
      assert.equal(event?.errorCode, 'auth.directory_refused');
      assert.match(event?.details.reason as string, /Simple AD \(Samba4\) is not supported/, 'the audit says why the directory was refused');
    } finally {
      await db.destroy();
    }
  });

  it('connects the directory under the lab override and reports its controllers', async () => {
    const logs = logSink();
    const app = await startApp(configFor({ PORTICO_DIRECTORY__ALLOWSAMBA: 'true' }), { logDestination: logs.stream });
    try {
      const status = (await (await fetch(`${app.url}/status`)).json()) as {
        directory: { state: string; verdict: { accepted: boolean }; controllers: Array<{ url: string; up: boolean }> };
      };
      assert.equal(status.directory.state, 'connected');
      assert.equal(status.directory.verdict.accepted, true);
      assert.deepEqual(status.directory.controllers.map((c) => [c.url, c.up]), [[dc.ldapsUrl, true]]);
    } finally {
      await app.stop();
    }
    assert.ok(!logs.text().includes(dc.serviceAccount.password));
  });
});
