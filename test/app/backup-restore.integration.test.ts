/**
 * Issue 15, "backup, restore": `portico backup` (online, while the instance runs) and
 * `portico restore` into another data directory, as real processes; the restored instance keeps
 * its sessions, users, assignments, SAML signing key and managed-directory entries, and signs
 * people in. Then `portico audit export` reads the restored audit log as JSON lines.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { runPortico } from '../support/cli.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-backup-'));
  dirs.push(dir);
  return dir;
};
const silent = new Writable({ write: (_chunk, _encoding, done) => done() });

async function start(dataDir: string, onToken: (token: string) => void = () => undefined): Promise<PorticoApp> {
  return startApp(
    loadConfig({ env: { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'silent', PORTICO_HTTP__PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0' } }),
    { logDestination: silent, showBootstrapToken: onToken },
  );
}

async function call<T>(app: PorticoApp, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${app.url}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (response.status === 204 ? undefined : await response.json()) as T };
}

async function signIn(app: PorticoApp, username: string, password: string): Promise<{ status: number; cookie: string }> {
  const response = await fetch(`${app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return { status: response.status, cookie: (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '' };
}

const certificateOf = (metadata: string): string => /<ds:X509Certificate>([^<]+)</.exec(metadata)?.[1] ?? 'none';

describe('backup and restore round trip', { timeout: 120_000 }, () => {
  it('a restored instance has the sessions, users, assignments, keys and directory entries, and signs in', async () => {
    const original = tempDir();
    let token = '';
    const a = await start(original, (t) => (token = t));
    const sam = `bk${randomBytes(4).toString('hex')}`;
    const password = `Bk-${randomBytes(9).toString('base64url')}-7a`;
    let session: string;
    let metadata: string;
    try {
      assert.equal((await call(a, token, 'POST', '/directory/managed/users', { sam, password, givenName: 'Backup', surname: 'Person' })).status, 201);
      const permissionSet = await call<{ id: string }>(a, token, 'POST', '/permission-sets', { name: 'BackupReader', sessionDuration: 'PT1H', managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });
      assert.equal(permissionSet.status, 201, JSON.stringify(permissionSet.body));
      assert.equal((await call(a, token, 'POST', '/accounts', { id: '444455556666', name: 'BackupAccount', email: 'backup@portico.test' })).status, 201);
      const assigned = await call(a, token, 'POST', '/assignments', { principal: { type: 'user', id: `${sam}@portico.test` }, target: { type: 'account', accountId: '444455556666', permissionSetId: permissionSet.body.id } });
      assert.equal(assigned.status, 201, JSON.stringify(assigned.body));
      const signedIn = await signIn(a, `${sam}@portico.test`, password);
      assert.equal(signedIn.status, 200);
      session = signedIn.cookie;
      metadata = certificateOf(await (await fetch(`${a.url}/saml/metadata`)).text());

      // Online: the instance keeps running while the backup is taken.
      const backup = join(tempDir(), 'backup');
      const made = await runPortico(['backup', backup, '--json'], { PORTICO_DATA_DIR: original });
      assert.equal(made.status, 0, made.stderr);
      const manifest = JSON.parse(made.stdout) as { database: { driver: string; migrations: string[] }; key: string; managedDirectoryFiles: string[] };
      assert.equal(manifest.database.driver, 'sqlite');
      assert.ok(manifest.database.migrations.length >= 5);
      assert.equal(manifest.key, 'file');
      assert.ok(manifest.managedDirectoryFiles.includes('administrator-password'));
      assert.deepEqual(readdirSync(backup).sort(), ['managed-directory', 'manifest.json', 'portico.db', 'secret.key']);
      assert.equal(statSync(backup).mode & 0o777, 0o700);
      assert.equal(statSync(join(backup, 'secret.key')).mode & 0o777, 0o600);
      assert.equal((await runPortico(['backup', backup], { PORTICO_DATA_DIR: original })).status, 6, 'never into a non-empty directory');

      await a.stop();

      const restored = tempDir();
      const restoredRun = await runPortico(['restore', backup], { PORTICO_DATA_DIR: restored });
      assert.equal(restoredRun.status, 0, restoredRun.stderr);
      const again = await runPortico(['restore', backup], { PORTICO_DATA_DIR: restored });
      assert.equal(again.status, 6, 'an existing database is replaced only with --force');
      assert.match(again.stderr, /--force/);

      let newToken: string | null = null;
      const b = await start(restored, (t) => (newToken = t));
      try {
        assert.equal(newToken, null, 'the restored database has its bootstrap token: none is issued');
        assert.equal((await fetch(`${b.url}/api/session`, { headers: { cookie: session } })).status, 200, 'the session survives');
        const users = await call<{ users: Array<{ userName: string }> }>(b, token, 'GET', '/users');
        assert.equal(users.status, 200, 'the old bootstrap token works');
        assert.ok(users.body.users.some((u) => u.userName === `${sam}@portico.test`), 'the JIT user is there');
        const assignments = await call<{ assignments: Array<{ principal: { name: string } }> }>(b, token, 'GET', '/assignments?accountId=444455556666');
        assert.equal(assignments.status, 200, JSON.stringify(assignments.body));
        assert.ok(assignments.body.assignments.some((x) => x.principal.name.startsWith(sam)), JSON.stringify(assignments.body));
        assert.equal(certificateOf(await (await fetch(`${b.url}/saml/metadata`)).text()), metadata, 'the same signing key and certificate');
        assert.equal((await signIn(b, `${sam}@portico.test`, password)).status, 200, 'the managed directory entry and its password are intact: the restored instance signs in');
        assert.equal((await fetch(`${b.url}/readyz`)).status, 200);

        const exported = await runPortico(['audit', 'export', '--since', '1h', '--action', 'auth.user.signed_in'], { PORTICO_URL: b.url, PORTICO_ADMIN_TOKEN: token });
        assert.equal(exported.status, 0, exported.stderr);
        const lines = exported.stdout.trim().split('\n').map((line) => JSON.parse(line) as { action: string; outcome: string; target: string; details: { requestId?: string } });
        assert.equal(lines.filter((e) => e.outcome === 'success' && e.target === `${sam}@portico.test`).length, 2, 'both sign-ins, before and after the restore');
        assert.ok(lines.every((e) => e.action === 'auth.user.signed_in' && typeof e.details.requestId === 'string'));
        const listed = await runPortico(['audit', 'list', '--limit', '3'], { PORTICO_URL: b.url, PORTICO_ADMIN_TOKEN: token });
        assert.equal(listed.status, 0, listed.stderr);
        assert.match(listed.stdout, /^TIME\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME\s+CODE/);
        const bad = await runPortico(['audit', 'list', '--since', 'yesterday'], { PORTICO_URL: b.url, PORTICO_ADMIN_TOKEN: token });
        assert.equal(bad.status, 2);
      } finally {
        await b.stop();
      }
    } finally {
      await a.stop();
    }
  });
});
