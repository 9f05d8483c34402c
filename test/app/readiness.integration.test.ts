/**
 * Issue 12: /status and /readyz tell the truth about the directory. When Portico's service
 * account cannot bind (disabled, locked out, wrong password) the directory is reported failing
 * with the reason, and /readyz answers 503; once fixed, healthy again. /healthz stays a liveness
 * probe. Against the managed directory (whose service account we may break: it is ours) and
 * against the Samba DC — where the shared service account is never touched: a second connector
 * configuration names an account that does not exist, or a disabled one with its right password,
 * so that no account's bad-password count moves.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client } from 'ldapts';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { createServiceAccountProbe } from '#src/directory/service-account-health.ts';
import { fixtureUser, sambaDirectoryEnv, sambaOptions } from '../support/samba.ts';

const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface DirectoryStatus {
  state: string;
  health: 'ok' | 'failing';
  code?: string;
  reason?: string;
  serviceAccount?: { ok: boolean; account: string; reason?: string };
}

let offsetMs = 0;
async function start(env: Record<string, string>): Promise<{ app: PorticoApp; token: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-readiness-'));
  dirs.push(dataDir);
  let token = '';
  const app = await startApp(loadConfig({ env: { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'silent', PORTICO_HTTP__PORT: '0', ...env } }), {
    logDestination: silent,
    showBootstrapToken: (t) => (token = t),
    clock: () => new Date(Date.now() + offsetMs),
  });
  return { app, token };
}

async function status(app: PorticoApp): Promise<DirectoryStatus> {
  return ((await (await fetch(`${app.url}/status`)).json()) as { directory: DirectoryStatus }).directory;
}

async function readyz(app: PorticoApp): Promise<{ status: number; body: { status: string; directory?: { reason?: string; code?: string } } }> {
  const response = await fetch(`${app.url}/readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; directory?: { reason?: string } } };
}

/** Past the probe's 10 s cache. */
const later = (): void => {
  offsetMs += 11_000;
};

describe('readiness with the managed directory', { timeout: 120_000 }, () => {
  let app: PorticoApp;
  let token: string;
  const api = async (path: string): Promise<number> =>
    (await fetch(`${app.url}/admin/api/directory/managed/users/portico-service/${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status;

  before(async () => {
    ({ app, token } = await start({ PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0' }));
  });
  after(async () => app.stop());

  it('is ready and healthy while the service account binds; /healthz is liveness only', async () => {
    const directory = await status(app);
    assert.equal(directory.health, 'ok');
    assert.equal(directory.serviceAccount?.account, 'portico-service@portico.test');
    const ready = await readyz(app);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, 'ready');
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
  });

  it('a disabled service account: failing with the reason, 503; enabled again: healthy', async () => {
    assert.equal(await api('disable'), 200);
    later();
    const directory = await status(app);
    assert.equal(directory.health, 'failing');
    assert.equal(directory.state, 'running');
    assert.equal(directory.code, 'directory.service_account_rejected');
    assert.match(directory.reason ?? '', /the account is disabled \(AD 533\)/);
    const ready = await readyz(app);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'not_ready');
    assert.match(ready.body.directory?.reason ?? '', /disabled/);
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200, 'liveness is not readiness');
    const admin = (await (await fetch(`${app.url}/admin/api/directory`, { headers: { authorization: `Bearer ${token}` } })).json()) as DirectoryStatus;
    assert.equal(admin.health, 'failing', 'the admin API (and the console) show it too');

    assert.equal(await api('enable'), 200);
    later();
    assert.equal((await status(app)).health, 'ok');
    assert.equal((await readyz(app)).status, 200);
  });

  it('a locked-out service account (wrong binds over LDAP): failing with the reason; unlocked: healthy', async () => {
    const managed = app.managedDirectory;
    assert.ok(managed);
    for (let i = 1; i <= 5; i += 1) {
      const c = new Client({ url: managed.ldapsUrl, tlsOptions: { ca: [managed.certificatePem], checkServerIdentity: () => undefined } });
      await assert.rejects(c.bind('portico-service@portico.test', `Wrong-Password-${i}!`));
      await c.unbind();
    }
    later();
    const directory = await status(app);
    assert.equal(directory.health, 'failing');
    assert.match(directory.reason ?? '', /locked out \(AD 775\)/);
    assert.equal((await readyz(app)).status, 503);

    assert.equal(await api('unlock'), 200);
    later();
    assert.equal((await status(app)).health, 'ok');
    assert.equal((await readyz(app)).status, 200);
  });
});

describe('readiness with a connected AD (Samba DC)', { timeout: 120_000 }, () => {
  it('the configured service account binds: healthy and ready', async () => {
    const { app } = await start(sambaDirectoryEnv());
    try {
      const directory = await status(app);
      assert.equal(directory.state, 'connected');
      assert.equal(directory.health, 'ok');
      assert.equal((await readyz(app)).status, 200);
    } finally {
      await app.stop();
    }
  });

  const refusedAccounts = (): Array<[string, string, string, RegExp]> => [
    // Disabled on the DC; his right password moves no bad-password count.
    ['a disabled account', fixtureUser('dave').upn, fixtureUser('dave').password, /disabled \(AD 533\)/],
    // A wrong password, for an account that does not exist: no account's count moves.
    ['a wrong user name or password', 'no-such-svc-health@corp.example.test', 'Wrong-Password-1!', /invalidCredentials \(AD 52e\)/],
  ];
  for (const [what, username, password, because] of refusedAccounts()) {
    it(`a second connector configuration with ${what} as service account: failing with the reason, 503`, async () => {
      const { app } = await start({ ...sambaDirectoryEnv(), PORTICO_DIRECTORY__SERVICEACCOUNT__USERNAME: username, PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: password });
      try {
        const directory = await status(app);
        assert.equal(directory.health, 'failing');
        assert.equal(directory.code, 'directory.service_account_rejected');
        assert.match(directory.reason ?? '', /service account was rejected/);
        assert.match(directory.reason ?? '', because);
        const ready = await readyz(app);
        assert.equal(ready.status, 503);
        assert.match(ready.body.directory?.reason ?? '', /service account was rejected/);
      } finally {
        await app.stop();
      }
    });
  }

  it('the probe names the reason: a wrong user name or password (never retried), a disabled account', async () => {
    // An account that does not exist: the DC answers 52e and no account's count moves.
    let attempts = 0;
    const wrong = createServiceAccountProbe(sambaOptions({ serviceAccount: { username: 'no-such-svc-health@corp.example.test', password: 'Wrong-Password-1!' } }), {
      ttlMs: 0,
      now: () => {
        attempts += 1;
        return new Date();
      },
    });
    const first = await wrong.check();
    assert.equal(first.ok, false);
    assert.equal(first.code, 'directory.service_account_rejected');
    assert.match(first.reason ?? '', /its user name or password is wrong \(AD 52e\)/);
    const clockReadsAfterFirst = attempts;
    const second = await wrong.check();
    assert.equal(second, first, 'a wrong password is not tried again (it would count toward a lockout)');
    assert.equal(attempts, clockReadsAfterFirst, 'no new probe ran');

    const dave = fixtureUser('dave');
    const disabled = await createServiceAccountProbe(sambaOptions({ serviceAccount: { username: dave.upn, password: dave.password } })).check();
    assert.equal(disabled.ok, false);
    assert.match(disabled.reason ?? '', /the account is disabled \(AD 533\)/);

    const healthy = await createServiceAccountProbe(sambaOptions()).check();
    assert.equal(healthy.ok, true);
  });
});
