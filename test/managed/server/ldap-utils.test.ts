/**
 * The server driven by OpenLDAP's command-line clients (Debian's ldap-utils): a second,
 * independent LDAP implementation, including its StartTLS, paging and Password Modify.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aliceDn, alicePassword, baseDn } from './stub-backend.ts';
import { makeCertificate, runCli, startServer } from './support.ts';
import type { Harness, TestCertificate } from './support.ts';

let certificate: TestCertificate;
let h: Harness;
let plainOk: Harness;
let tlsEnv: Record<string, string>;

before(async () => {
  certificate = makeCertificate();
  h = await startServer(certificate);
  plainOk = await startServer(null, { allowPlainLdap: true });
  // HOME points at the throwaway directory so no personal ldaprc interferes.
  tlsEnv = { LDAPTLS_CACERT: certificate.certFile, LDAPTLS_REQCERT: 'demand', HOME: certificate.dir };
});

after(async () => {
  await h.server.close();
  await plainOk.server.close();
  certificate.cleanup();
});

describe('LDAP server with ldap-utils', { timeout: 60_000 }, () => {
  it('ldapsearch reads the rootDSE anonymously over plain LDAP', async () => {
    const r = await runCli('ldapsearch', ['-x', '-LLL', '-H', h.ldapUrl, '-b', '', '-s', 'base', '(objectClass=*)', 'defaultNamingContext', 'dnsHostName'], tlsEnv);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`defaultNamingContext: ${baseDn}`));
    assert.match(r.stdout, /dnsHostName: dc1\.corp\.example\.test/);
  });

  it('ldapsearch is refused an anonymous subtree search with AD\'s text', async () => {
    const r = await runCli('ldapsearch', ['-x', '-H', h.ldapUrl, '-b', baseDn, '(objectClass=user)'], tlsEnv);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /result: 1 Operations error/);
    assert.match(r.stdout, /000004DC: LdapErr: DSID-0C090A5C/);
  });

  it('ldapwhoami binds over LDAPS and over StartTLS (-ZZ)', async () => {
    const ldaps = await runCli('ldapwhoami', ['-x', '-H', h.ldapsUrl, '-D', aliceDn, '-w', alicePassword], tlsEnv);
    assert.equal(ldaps.code, 0, ldaps.stderr);
    assert.equal(ldaps.stdout.trim(), `dn:${aliceDn}`);
    const startTls = await runCli('ldapwhoami', ['-x', '-ZZ', '-H', h.ldapUrl, '-D', 'alice@corp.example.test', '-w', alicePassword], tlsEnv);
    assert.equal(startTls.code, 0, startTls.stderr);
    assert.equal(startTls.stdout.trim(), `dn:${aliceDn}`);
    const anonymous = await runCli('ldapwhoami', ['-x', '-H', h.ldapUrl], tlsEnv);
    assert.equal(anonymous.code, 0, anonymous.stderr);
    assert.equal(anonymous.stdout.trim(), 'anonymous');
  });

  it('ldapwhoami sees the backend\'s diagnostic on a wrong password', async () => {
    const r = await runCli('ldapwhoami', ['-x', '-H', h.ldapsUrl, '-D', aliceDn, '-w', 'wrong'], tlsEnv);
    assert.equal(r.code, 49);
    assert.match(r.stderr, /Invalid credentials \(49\)/);
    assert.match(r.stderr, /additional info: 80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1/);
  });

  it('a plain-LDAP password bind is refused (8) unless the server opted in', async () => {
    const refused = await runCli('ldapwhoami', ['-x', '-H', h.ldapUrl, '-D', aliceDn, '-w', alicePassword], tlsEnv);
    assert.equal(refused.code, 8);
    assert.match(refused.stderr, /Strong\(er\) authentication required \(8\)/);
    assert.match(refused.stderr, /00002028: LdapErr: DSID-0C090259/);
    const allowed = await runCli('ldapwhoami', ['-x', '-H', plainOk.ldapUrl, '-D', aliceDn, '-w', alicePassword], tlsEnv);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(allowed.stdout.trim(), `dn:${aliceDn}`);
  });

  it('ldapsearch pages with the paged results control (-E pr=)', async () => {
    const r = await runCli('ldapsearch', ['-x', '-H', h.ldapsUrl, '-D', aliceDn, '-w', alicePassword, '-b', `CN=Users,${baseDn}`, '-s', 'one', '-E', 'pr=4/noprompt', '(objectClass=user)', 'cn'], tlsEnv);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stdout.match(/^dn: /gm) ?? []).length, 13);
    // ldapsearch follows the cookie page after page (4+4+4+1) and stops on the empty one.
    assert.equal((r.stdout.match(/^# with pagedResults control: size=4$/gm) ?? []).length, 4);
    assert.equal((r.stdout.match(/^result: 0 Success$/gm) ?? []).length, 4);
    assert.match(r.stdout, /^# numEntries: 13$/m);
  });

  it('ldapmodify adds and modifies entries through the backend', async () => {
    const ldif = path.join(certificate.dir, 'change.ldif');
    writeFileSync(
      ldif,
      [`dn: CN=Carol,CN=Users,${baseDn}`, 'changetype: add', 'objectClass: top', 'objectClass: user', 'cn: Carol', '', `dn: CN=Carol,CN=Users,${baseDn}`, 'changetype: modify', 'replace: description', 'description: from ldapmodify', ''].join('\n'),
    );
    const r = await runCli('ldapmodify', ['-x', '-H', h.ldapsUrl, '-D', aliceDn, '-w', alicePassword, '-f', ldif], tlsEnv);
    assert.equal(r.code, 0, r.stderr);
    const read = await runCli('ldapsearch', ['-x', '-LLL', '-H', h.ldapsUrl, '-D', aliceDn, '-w', alicePassword, '-b', `CN=Carol,CN=Users,${baseDn}`, '-s', 'base', 'description'], tlsEnv);
    assert.match(read.stdout, /description: from ldapmodify/);
  });

  it('ldappasswd changes the password, and asks for a generated one', async () => {
    const change = await runCli('ldappasswd', ['-x', '-H', h.ldapsUrl, '-D', aliceDn, '-w', alicePassword, '-a', alicePassword, '-s', 'Changed-1'], tlsEnv);
    assert.equal(change.code, 0, change.stderr);
    assert.equal(h.backend.password, 'Changed-1');
    const generate = await runCli('ldappasswd', ['-x', '-H', h.ldapsUrl, '-D', aliceDn, '-w', 'Changed-1', aliceDn], tlsEnv);
    assert.equal(generate.code, 0, generate.stderr);
    assert.match(generate.stdout, /New password: Generated-Pa55/);
    h.backend.password = alicePassword;
  });
});
