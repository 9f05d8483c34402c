/**
 * Debian's OpenLDAP client tools — ldapwhoami, ldapsearch, ldapadd, ldapmodify, ldappasswd —
 * against the managed directory itself (engine, store and server together), over LDAPS and
 * StartTLS with the listener's generated certificate.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { startManagedDirectory } from '#src/directory/managed/index.ts';
import type { ManagedDirectory } from '#src/directory/managed/index.ts';
import { managedDirectoryOptionsSchema } from '#src/directory/managed/options.ts';
import { createDatabase, createManagedDirectoryStores, migrateToLatest } from '#src/storage/index.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-ldap-tools-'));
const adminPassword = 'Admin-Tools-Secret-7!';
const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
let directory: ManagedDirectory;
let env: NodeJS.ProcessEnv;

async function tool(name: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(name, args, { env, encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const admin = (): string[] => ['-x', '-H', directory.ldapsUrl, '-D', 'Administrator@portico.test', '-w', adminPassword];

before(async () => {
  await migrateToLatest(db);
  directory = await startManagedDirectory({
    options: managedDirectoryOptionsSchema.parse({ listen: { ldapPort: 0, ldapsPort: 0 }, administratorPassword: adminPassword }),
    stores: createManagedDirectoryStores(db),
    dataDir,
    logger: pino({ level: 'silent' }),
  });
  const caFile = join(dataDir, 'ca.pem');
  writeFileSync(caFile, directory.certificatePem);
  env = { ...process.env, LDAPTLS_CACERT: caFile };
});
after(async () => {
  await directory.close();
  await db.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('OpenLDAP client tools against the managed directory', () => {
  it('ldapwhoami binds over LDAPS and StartTLS, and reports AD sub-codes', async () => {
    const ldaps = await tool('ldapwhoami', ['-x', '-H', directory.ldapsUrl, '-D', 'PORTICO\\bob', '-w', demoPassword]);
    assert.equal(ldaps.code, 0, ldaps.stderr);
    assert.match(ldaps.stdout, /^dn:CN=Bob Brown,/);
    const startTls = await tool('ldapwhoami', ['-x', '-ZZ', '-H', directory.ldapUrl, '-D', 'bob@portico.test', '-w', demoPassword]);
    assert.equal(startTls.code, 0, startTls.stderr);
    const wrong = await tool('ldapwhoami', ['-x', '-H', directory.ldapsUrl, '-D', 'bob@portico.test', '-w', 'nope']);
    assert.equal(wrong.code, 49);
    assert.match(wrong.stderr, /data 52e/);
    const disabled = await tool('ldapwhoami', ['-x', '-H', directory.ldapsUrl, '-D', 'dave@portico.test', '-w', demoPassword]);
    assert.match(disabled.stderr, /data 533/);
    const plain = await tool('ldapwhoami', ['-x', '-H', directory.ldapUrl, '-D', 'bob@portico.test', '-w', demoPassword]);
    assert.equal(plain.code, 8, 'a simple bind without TLS is refused, as AD does');
  });

  it('ldapsearch reads users with paging, ranges and nested-group matching', async () => {
    const paged = await tool('ldapsearch', [...admin(), '-LLL', '-E', 'pr=2/noprompt', '-b', 'DC=portico,DC=test', '(sAMAccountType=805306368)', 'sAMAccountName']);
    assert.equal(paged.code, 0, paged.stderr);
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'Administrator']) assert.match(paged.stdout, new RegExp(`sAMAccountName: ${name}`));
    const ranged = await tool('ldapsearch', [...admin(), '-LLL', '-b', 'CN=All-Staff,OU=Groups,OU=Portico Demo,DC=portico,DC=test', '-s', 'base', '(objectClass=*)', 'member;range=0-1']);
    assert.match(ranged.stdout, /member;range=0-1: /);
    const chain = await tool('ldapsearch', [...admin(), '-LLL', '-b', 'DC=portico,DC=test', '(member:1.2.840.113556.1.4.1941:=CN=Alice Anderson,OU=Engineering,OU=People,OU=Portico Demo,DC=portico,DC=test)', 'cn']);
    for (const group of ['SRE', 'Platform', 'Engineering', 'All-Staff']) assert.match(chain.stdout, new RegExp(`cn: ${group}\\n`));
  });

  it('ldapadd, ldapmodify and ldappasswd manage users and groups as the Administrator', async () => {
    const ldif = [
      'dn: CN=Frank Fresh,OU=People,OU=Portico Demo,DC=portico,DC=test',
      'objectClass: user',
      'sAMAccountName: frank',
      'userPrincipalName: frank@portico.test',
      'userAccountControl: 514',
      '',
    ].join('\n');
    const added = await tool('ldapadd', admin(), ldif);
    assert.equal(added.code, 0, added.stderr);
    const password = await tool('ldappasswd', [...admin(), '-s', 'Fresh-Password-42!', 'CN=Frank Fresh,OU=People,OU=Portico Demo,DC=portico,DC=test']);
    assert.equal(password.code, 0, password.stderr);
    const enable = [
      'dn: CN=Frank Fresh,OU=People,OU=Portico Demo,DC=portico,DC=test',
      'changetype: modify',
      'replace: userAccountControl',
      'userAccountControl: 512',
      '',
      'dn: CN=SRE,OU=Groups,OU=Portico Demo,DC=portico,DC=test',
      'changetype: modify',
      'add: member',
      'member: CN=Frank Fresh,OU=People,OU=Portico Demo,DC=portico,DC=test',
      '',
    ].join('\n');
    const modified = await tool('ldapmodify', admin(), enable);
    assert.equal(modified.code, 0, modified.stderr);
    const whoami = await tool('ldapwhoami', ['-x', '-H', directory.ldapsUrl, '-D', 'frank@portico.test', '-w', 'Fresh-Password-42!']);
    assert.equal(whoami.code, 0, whoami.stderr);
    const memberOf = await tool('ldapsearch', [...admin(), '-LLL', '-b', 'DC=portico,DC=test', '(sAMAccountName=frank)', 'memberOf']);
    assert.match(memberOf.stdout, /memberOf: CN=SRE,/);
  });

  it('refuses writes from a user who is not an administrator', async () => {
    const attempt = await tool('ldapmodify', ['-x', '-H', directory.ldapsUrl, '-D', 'bob@portico.test', '-w', demoPassword], [
      'dn: CN=SRE,OU=Groups,OU=Portico Demo,DC=portico,DC=test',
      'changetype: modify',
      'add: member',
      'member: CN=Bob Brown,OU=Sales,OU=People,OU=Portico Demo,DC=portico,DC=test',
      '',
    ].join('\n'));
    assert.equal(attempt.code, 50, attempt.stderr);
  });
});
