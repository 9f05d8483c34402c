/**
 * Issue 15, "behaving as a service": a start that fails exits at once with one line, releases
 * what it opened and leaves no bootstrap token behind. Real processes (`portico start` through
 * bin/portico.js), real port conflicts; one in-process case checks that the managed directory's
 * listeners are closed again and that the token is issued by the first start that succeeds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { isAppError } from '#src/shared/errors.ts';
import { runPortico } from '../support/cli.ts';

const dirs: string[] = [];
const servers: net.Server[] = [];
after(async () => {
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-start-failure-'));
  dirs.push(dir);
  return dir;
}

/** A port some other process holds (here: a listener of this test process). */
async function takenPort(): Promise<number> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A port nobody listens on now (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function canListen(port: number): Promise<boolean> {
  const server = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise((resolve) => server.close(resolve));
  return ok;
}

const managedPorts = { PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0' };

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${stderr}`);
  return lines[0] ?? '';
}

describe('a failed start exits at once with one clear line', { timeout: 120_000, concurrency: true }, () => {
  it('HTTP port in use: exit 1, names the port and the setting, no bootstrap token shown', async () => {
    const port = await takenPort();
    const started = Date.now();
    const run = await runPortico(['start'], { PORTICO_DATA_DIR: dataDir(), PORTICO_HTTP__PORT: String(port), ...managedPorts, PORTICO_LOG__FORMAT: 'json' });
    const elapsed = Date.now() - started;
    assert.equal(run.status, 1);
    assert.equal(oneLine(run.stderr), `portico: the HTTP port 127.0.0.1:${port} is already in use by another process (http.host, http.port) [start.listen_failed]`);
    assert.doesNotMatch(run.stdout + run.stderr, /pbt_/, 'no bootstrap token before the start succeeded');
    assert.match(run.stdout, /"level":60.*"code":"start\.listen_failed"/, 'the log says it too, as a fatal entry');
    // Before the fix it never exited (the managed directory kept listening); the bound is generous for a cold tsx start.
    assert.ok(elapsed < 45_000, `exited after ${elapsed} ms`);
  });

  it('managed directory LDAPS port in use: exit 1, names managedDirectory.listen', async () => {
    const port = await takenPort();
    const run = await runPortico(['start'], {
      PORTICO_DATA_DIR: dataDir(),
      PORTICO_HTTP__PORT: '0',
      PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0',
      PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: String(port),
      PORTICO_LOG__FORMAT: 'json',
    });
    assert.equal(run.status, 1);
    assert.equal(oneLine(run.stderr), `portico: the managed directory LDAP port 127.0.0.1:${port} is already in use by another process (managedDirectory.listen) [start.listen_failed]`);
    assert.doesNotMatch(run.stdout + run.stderr, /pbt_/);
  });

  it('an HTTPS certificate that does not load: exit 2 (configuration), before anything is opened', async () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'cert.pem'), 'not a certificate\n');
    const run = await runPortico(['start'], {
      PORTICO_DATA_DIR: dir,
      PORTICO_HTTP__PORT: '0',
      PORTICO_HTTP__TLS__CERT_FILE: join(dir, 'cert.pem'),
      PORTICO_HTTP__TLS__KEY_FILE: join(dir, 'cert.pem'),
      ...managedPorts,
      PORTICO_LOG__FORMAT: 'json',
    });
    assert.equal(run.status, 2);
    assert.match(oneLine(run.stderr), /^portico: http\.tls: the certificate and key do not load \(.*PEM.*\) \[config\.tls_invalid\]$/);
    assert.doesNotMatch(run.stdout, /managed directory listening/, 'refused before the directory was opened');
  });

  it('an unreachable PostgreSQL: exit 5 (unavailable)', async () => {
    const port = await freePort();
    const run = await runPortico(['start'], {
      PORTICO_DATA_DIR: dataDir(),
      PORTICO_HTTP__PORT: '0',
      PORTICO_DATABASE__DRIVER: 'postgres',
      PORTICO_DATABASE__POSTGRES__URL: `postgres://portico:x@127.0.0.1:${port}/portico`,
      ...managedPorts,
      PORTICO_LOG__FORMAT: 'json',
    });
    assert.equal(run.status, 5);
    assert.match(oneLine(run.stderr), /^portico: cannot migrate: the database is unavailable \(ECONNREFUSED\) \[storage\.unavailable\]$/);
  });
});

describe('a failed start releases what it opened (in process)', { timeout: 60_000 }, () => {
  it('closes the managed directory listeners; the first successful start then issues the bootstrap token', async () => {
    const dir = dataDir();
    const [ldapPort, ldapsPort, httpPort] = [await freePort(), await freePort(), await takenPort()];
    const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
    const env = { PORTICO_DATA_DIR: dir, PORTICO_LOG__LEVEL: 'silent', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: String(ldapPort), PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: String(ldapsPort) };
    let shown: string | null = null;
    await assert.rejects(
      startApp(loadConfig({ env: { ...env, PORTICO_HTTP__PORT: String(httpPort) } }), { logDestination: silent, showBootstrapToken: (token) => (shown = token) }),
      (error: unknown) => isAppError(error, 'start.listen_failed'),
    );
    assert.equal(shown, null, 'no token shown by the failed start');
    assert.ok(await canListen(ldapPort), 'the LDAP port is free again');
    assert.ok(await canListen(ldapsPort), 'the LDAPS port is free again');

    const app = await startApp(loadConfig({ env: { ...env, PORTICO_HTTP__PORT: '0' } }), { logDestination: silent, showBootstrapToken: (token) => (shown = token) });
    try {
      assert.match(shown ?? '', /^pbt_/, 'the token is issued by the start that succeeded');
      const response = await fetch(`${app.url}/admin/api/directory`, { headers: { authorization: `Bearer ${shown ?? ''}` } });
      assert.equal(response.status, 200);
    } finally {
      await app.stop();
    }
  });
});
