/**
 * `portico start` on its embedded default: no connector configured, so the managed directory is
 * provisioned with the demo forest, served over LDAPS, and read by Portico's own connector.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-managed-app-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
const config = () =>
  loadConfig({
    env: { PORTICO_DATA_DIR: dataDir, PORTICO_HTTP__PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0' },
  });

describe('portico start with the managed directory (embedded default)', () => {
  it('provisions the demo forest once, serves it over LDAPS, and signs its users in', async () => {
    const app = await startApp(config(), { logDestination: silent });
    try {
      assert.equal(app.managedDirectory?.provisioned, true);
      const status = (await (await fetch(`${app.url}/status`)).json()) as { directory: { kind: string; state: string; ldapsUrl: string } };
      assert.deepEqual([status.directory.kind, status.directory.state], ['managed', 'running']);

      const directory = app.directory;
      assert.ok(directory);
      const alice = await directory.authenticate('alice@portico.test', demoPassword);
      assert.equal(alice.outcome, 'ok');
      assert.equal((await directory.authenticate('PORTICO\\dave', demoPassword)).outcome, 'disabled');
      assert.equal((await directory.authenticate('erin@portico.test', demoPassword)).outcome, 'locked');
      const user = alice.outcome === 'ok' ? alice.user : null;
      assert.ok(user);
      const groups = (await directory.groupsOf(user)).groups.map((g) => g.qualifiedName);
      for (const name of ['SRE@portico.test', 'Platform@portico.test', 'Engineering@portico.test']) assert.ok(groups.includes(name), groups.join(', '));

      // A standard client that we did not write, with the listener's generated certificate as its CA
      // (asynchronously: the server answering it runs in this process).
      const { stdout: whoami } = await promisify(execFile)('ldapwhoami', ['-x', '-H', status.directory.ldapsUrl, '-D', 'alice@portico.test', '-w', demoPassword], {
        env: { ...process.env, LDAPTLS_CACERT: join(dataDir, 'managed-directory', 'ldap-cert.pem') },
        encoding: 'utf8',
      });
      assert.match(whoami, /^dn:CN=Alice Anderson,OU=Engineering,OU=People,OU=Portico Demo,DC=portico,DC=test/i);
    } finally {
      await app.stop();
    }
    assert.match(readFileSync(join(dataDir, 'managed-directory', 'administrator-password'), 'utf8'), /\S{12,}/);
  });

  it('keeps the provisioned directory on the next start', async () => {
    const app = await startApp(config(), { logDestination: silent });
    try {
      assert.equal(app.managedDirectory?.provisioned, false);
      assert.equal((await app.directory?.authenticate('bob@portico.test', demoPassword))?.outcome, 'ok');
    } finally {
      await app.stop();
    }
  });
});
