/**
 * Issue 12: Portico binds to its managed directory as its own least-privilege account, and the
 * directory's Administrator cannot be locked out. Everything goes over LDAPS with a real client
 * (ldapts, and Debian's ldapwhoami for the Administrator), against a managed directory started
 * the way Portico starts it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Change, Attribute, Client, InsufficientAccessError } from 'ldapts';
import { pino } from 'pino';
import { sidToString } from '#src/directory/ad-codec.ts';
import { startManagedDirectory } from '#src/directory/managed/index.ts';
import type { ManagedDirectory } from '#src/directory/managed/index.ts';
import { managedDirectoryOptionsSchema } from '#src/directory/managed/options.ts';
import { SERVICE_ACCOUNT_NAME, ensureServiceAccount } from '#src/directory/managed/service-account.ts';
import { createSecretBox, loadOrCreateSecretKey } from '#src/secrets/index.ts';
import { createDatabase, createKyselySettingsStore, createManagedDirectoryStores, migrateToLatest } from '#src/storage/index.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-service-account-'));
const adminPassword = 'Admin-Service-Secret-7!';
const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
const base = 'DC=portico,DC=test';
let log = '';
let directory: ManagedDirectory;
let caFile: string;

const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      log += chunk.toString('utf8');
      done();
    },
  }),
);

function start(): Promise<ManagedDirectory> {
  return startManagedDirectory({
    options: managedDirectoryOptionsSchema.parse({ listen: { ldapPort: 0, ldapsPort: 0 }, administratorPassword: adminPassword }),
    stores: createManagedDirectoryStores(db),
    dataDir,
    logger,
  });
}

async function client(name: string, password: string): Promise<Client> {
  const c = new Client({ url: directory.ldapsUrl, tlsOptions: { ca: [directory.certificatePem], checkServerIdentity: () => undefined } });
  await c.bind(name, password);
  return c;
}

async function refusedWith50(what: string, work: () => Promise<unknown>): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof InsufficientAccessError, `${what}: ${String(error)}`);
    assert.equal((error).code, 50, what);
    return true;
  });
}

function runTool(name: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(name, args, { env: { ...process.env, LDAPTLS_CACERT: caFile }, timeout: 20_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

before(async () => {
  await migrateToLatest(db);
  directory = await start();
  caFile = join(dataDir, 'ca.pem');
  writeFileSync(caFile, directory.certificatePem);
});
after(async () => {
  await directory.close();
  await db.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("Portico's service account in its managed directory", { timeout: 120_000 }, () => {
  it('is provisioned with the domain: a plain user whose password is in no file and no log line', async () => {
    assert.equal(directory.serviceAccount.upn, `${SERVICE_ACCOUNT_NAME}@portico.test`);
    assert.equal(directory.serviceAccount.dn, `CN=${SERVICE_ACCOUNT_NAME},CN=Users,${base}`);
    const password = await directory.serviceAccountPassword();
    assert.ok(password.length >= 24);
    assert.ok(!log.includes(password), 'the password is never logged');
    const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));
    for (const file of files(dataDir)) assert.ok(!readFileSync(file).includes(password), `${file} holds the password`);
  });

  it('binds and reads users and groups (tokenGroups included), and is in no admin group', async () => {
    const c = await client(directory.serviceAccount.upn, await directory.serviceAccountPassword());
    try {
      const { searchEntries: users } = await c.search(base, { filter: '(sAMAccountName=alice)', attributes: ['sAMAccountName', 'memberOf'] });
      assert.equal(users.length, 1);
      const { searchEntries: token } = await c.search(`CN=Carol Chen,OU=Engineering,OU=People,OU=Portico Demo,${base}`, { scope: 'base', attributes: ['tokenGroups'], explicitBufferAttributes: ['tokenGroups'] });
      assert.ok((token[0]?.tokenGroups as Buffer[]).length >= 2, 'tokenGroups are readable');
      const { searchEntries: self } = await c.search(directory.serviceAccount.dn, { scope: 'base', attributes: ['tokenGroups', 'userAccountControl'], explicitBufferAttributes: ['tokenGroups'] });
      const sids = (self[0]?.tokenGroups as Buffer[]).map((sid) => sidToString(sid));
      assert.ok(sids.some((sid) => sid.endsWith('-513')), 'in Domain Users');
      assert.ok(!sids.some((sid) => sid.endsWith('-512') || sid === 'S-1-5-32-544'), `not an administrator: ${sids.join(', ')}`);
      const { searchEntries: admins } = await c.search(base, { filter: '(cn=Portico-Admins)', attributes: ['member'] });
      assert.ok(!JSON.stringify(admins).toLowerCase().includes(SERVICE_ACCOUNT_NAME), 'not in Portico-Admins');
      assert.equal(Number(self[0]?.userAccountControl) & 0x10000, 0x10000, 'its password does not expire');
    } finally {
      await c.unbind();
    }
  });

  it('every write is refused with insufficientAccessRights (50): add, modify, delete, rename, password reset', async () => {
    const c = await client(directory.serviceAccount.upn, await directory.serviceAccountPassword());
    const bob = `CN=Bob Brown,OU=Sales,OU=People,OU=Portico Demo,${base}`;
    try {
      await refusedWith50('add', () => c.add(`CN=intruder,CN=Users,${base}`, { objectClass: 'user', sAMAccountName: 'intruder' }));
      await refusedWith50('modify', () => c.modify(bob, new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: ['changed'] }) })));
      await refusedWith50('add to Domain Admins', () => c.modify(`CN=Domain Admins,CN=Users,${base}`, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [directory.serviceAccount.dn] }) })));
      await refusedWith50('delete', () => c.del(bob));
      await refusedWith50('rename', () => c.modifyDN(bob, 'CN=Robert Brown'));
      await refusedWith50('password reset', () =>
        c.modify(bob, new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [Buffer.from('"Reset-Pa55word!"', 'utf16le')] }) })),
      );
      await refusedWith50('unlock', () => c.modify(bob, new Change({ operation: 'replace', modification: new Attribute({ type: 'lockoutTime', values: ['0'] }) })));
    } finally {
      await c.unbind();
    }
  });

  it('survives a restart with the same sealed password, and is created on the first start of an older directory', async () => {
    const password = await directory.serviceAccountPassword();
    await directory.close();
    directory = await start();
    assert.equal(await directory.serviceAccountPassword(), password);
    await (await client(directory.serviceAccount.upn, password)).unbind();

    // A directory provisioned before the account existed: no account, no sealed password.
    const admin = { id: 'test', boundDn: directory.administrator.dn, secure: true, remoteAddress: 'test' };
    assert.equal((await directory.engine.delete(admin, directory.serviceAccount.dn)).resultCode, 0);
    assert.ok(await createKyselySettingsStore(db).remove('managed_directory_service_account'));
    await directory.close();
    directory = await start();
    const upgraded = await directory.serviceAccountPassword();
    assert.notEqual(upgraded, password);
    await (await client(directory.serviceAccount.upn, upgraded)).unbind();

    // An administrator resets its password by hand: the next start notices and sets a new one.
    const reset = await directory.engine.modify({ ...admin, boundDn: directory.administrator.dn }, directory.serviceAccount.dn, [
      { operation: 'replace', type: 'unicodePwd', values: [Buffer.from('"Hand-Reset-Pa55!"', 'utf16le')] },
    ]);
    assert.equal(reset.resultCode, 0);
    await directory.close();
    directory = await start();
    const healed = await directory.serviceAccountPassword();
    assert.notEqual(healed, upgraded);
    await (await client(directory.serviceAccount.upn, healed)).unbind();
    writeFileSync(caFile, directory.certificatePem);
  });
});

describe('two Portico instances provisioning the account at once', { timeout: 60_000 }, () => {
  it('agree on one account and one password', async () => {
    const admin = { id: 'test', boundDn: directory.administrator.dn, secure: true, remoteAddress: 'test' };
    const settings = createKyselySettingsStore(db);
    assert.equal((await directory.engine.delete(admin, directory.serviceAccount.dn)).resultCode, 0);
    assert.ok(await settings.remove('managed_directory_service_account'));
    const box = createSecretBox((await loadOrCreateSecretKey({ dataDir, secrets: {} })).key);
    const input = { backend: directory.engine, admin, baseDn: base, domain: 'portico.test', settings, box, logger };
    const [a, b] = await Promise.all([ensureServiceAccount(input), ensureServiceAccount(input)]);
    assert.equal(a.password, b.password);
    assert.equal(a.dn, b.dn);
    await (await client(a.upn, a.password)).unbind();
    // The next start finds both and changes nothing.
    await directory.close();
    directory = await start();
    assert.equal(await directory.serviceAccountPassword(), a.password);
    writeFileSync(caFile, directory.certificatePem);
  });
});

describe('the managed directory does not lock out its Administrator', { timeout: 180_000 }, () => {
  it('50 wrong binds over LDAP (ldapts), then the right password works (ldapwhoami too) and the account shows no lockout', async () => {
    for (let i = 1; i <= 50; i += 1) {
      const c = new Client({ url: directory.ldapsUrl, tlsOptions: { ca: [directory.certificatePem], checkServerIdentity: () => undefined } });
      await assert.rejects(c.bind(directory.administrator.upn, `Wrong-Password-${i}!`), (error: unknown) => {
        assert.match(String((error as Error).message), /data 52e/, `attempt ${i} answers 52e, never 775`);
        return true;
      });
      await c.unbind();
    }
    const whoami = await runTool('ldapwhoami', ['-x', '-H', directory.ldapsUrl, '-D', 'PORTICO\\Administrator', '-w', adminPassword]);
    assert.equal(whoami.code, 0, whoami.stderr);
    const c = await client(directory.administrator.upn, adminPassword);
    try {
      const { searchEntries } = await c.search(directory.administrator.dn, { scope: 'base', attributes: ['lockoutTime'] });
      assert.equal(searchEntries[0]?.lockoutTime, '0');
    } finally {
      await c.unbind();
    }
  });

  it('any other account still locks at the threshold (5)', async () => {
    const bob = 'bob@portico.test';
    for (let i = 1; i <= 5; i += 1) {
      const c = new Client({ url: directory.ldapsUrl, tlsOptions: { ca: [directory.certificatePem], checkServerIdentity: () => undefined } });
      await assert.rejects(c.bind(bob, `Wrong-Password-${i}!`));
      await c.unbind();
    }
    const locked = await runTool('ldapwhoami', ['-x', '-H', directory.ldapsUrl, '-D', bob, '-w', 'Portico-Demo-2026!']);
    assert.equal(locked.code, 49);
    assert.match(locked.stderr, /data 775/);
  });
});
