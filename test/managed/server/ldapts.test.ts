/**
 * The server driven by a real LDAP client (ldapts) over LDAPS, StartTLS and plain LDAP, with the
 * stub backend behind it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, InvalidCredentialsError, OperationsError, StrongAuthRequiredError, Change, Attribute } from 'ldapts';
import { oids } from '../../../src/directory/managed/backend.ts';
import { adDiagnostics } from '../../../src/directory/managed/server/index.ts';
import { encodePasswordModifyRequestValue } from '../../../src/directory/managed/protocol/index.ts';
import { aliceDn, alicePassword, baseDn, boomDn, boomSecret, invalidCredentials } from './stub-backend.ts';
import { makeCertificate, startServer } from './support.ts';
import type { Harness, TestCertificate } from './support.ts';

let certificate: TestCertificate;
let h: Harness;
const clients: Client[] = [];

function client(url: string): Client {
  // ldapts uses TLS whenever tlsOptions are given, so plain URLs get none.
  const c = new Client({ url, timeout: 5000, connectTimeout: 5000, ...(url.startsWith('ldaps:') && { tlsOptions: { ca: [certificate.cert] } }) });
  clients.push(c);
  return c;
}

async function rejectsWith(promise: Promise<unknown>, type: new (...args: never[]) => Error, text?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    if (text) assert.ok(error.message.includes(text), `"${error.message}" lacks "${text}"`);
    return true;
  });
}

before(async () => {
  certificate = makeCertificate();
  h = await startServer(certificate);
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.unbind()));
  await h.server.close();
  certificate.cleanup();
});

describe('LDAP server with ldapts', { timeout: 30_000 }, () => {
  it('serves the rootDSE to an anonymous client on plain LDAP', async () => {
    const c = client(h.ldapUrl);
    const { searchEntries } = await c.search('', { scope: 'base', attributes: ['defaultNamingContext', 'supportedExtension'] });
    assert.equal(searchEntries.length, 1);
    assert.equal(searchEntries[0]?.['defaultNamingContext'], baseDn);
    assert.deepEqual(searchEntries[0]?.['supportedExtension'], [oids.startTls, oids.whoAmI, oids.passwordModify]);
  });

  it('refuses any other anonymous search with AD\'s operationsError text', async () => {
    const c = client(h.ldapsUrl);
    await rejectsWith(c.search(baseDn, { scope: 'sub', filter: '(objectClass=user)' }), OperationsError, '000004DC');
    await rejectsWith(c.search('', { scope: 'one' }), OperationsError, adDiagnostics.bindRequired);
    await rejectsWith(c.compare(aliceDn, 'cn', 'Alice'), OperationsError, '000004DC');
  });

  it('binds over LDAPS; a wrong password carries the backend\'s diagnostic', async () => {
    const c = client(h.ldapsUrl);
    await rejectsWith(c.bind(aliceDn, 'wrong'), InvalidCredentialsError, invalidCredentials);
    await c.bind('alice@corp.example.test', alicePassword);
    const { searchEntries } = await c.search(baseDn, { scope: 'sub', filter: '(sAMAccountName=alice)', attributes: ['mail'] });
    assert.deepEqual(searchEntries, [{ dn: aliceDn, mail: 'alice@corp.example.test' }]);
  });

  it('refuses a password bind on plain LDAP with strongerAuthRequired and AD\'s text', async () => {
    const c = client(h.ldapUrl);
    await rejectsWith(c.bind(aliceDn, alicePassword), StrongAuthRequiredError, '00002028');
    // The refusal never reached the backend with the password.
    const binds = h.backend.seen.binds;
    await rejectsWith(c.bind(aliceDn, alicePassword), StrongAuthRequiredError, adDiagnostics.strongerAuthRequired);
    assert.equal(h.backend.seen.binds, binds);
  });

  it('upgrades with StartTLS, then binds and answers WhoAmI', async () => {
    const c = client(h.ldapUrl);
    // RFC 4532: an empty authzId for an anonymous connection.
    assert.deepEqual(await c.exop(oids.whoAmI), { oid: undefined, value: '' });
    await c.startTLS({ ca: [certificate.cert] });
    await c.bind(aliceDn, alicePassword);
    const whoami = await c.exop(oids.whoAmI);
    assert.equal(whoami.value, `dn:${aliceDn}`);
    // A second StartTLS on a secure connection is refused.
    await rejectsWith(c.startTLS({ ca: [certificate.cert] }), OperationsError, 'already');
  });

  it('a failed bind leaves the connection anonymous again', async () => {
    const c = client(h.ldapsUrl);
    await c.bind(aliceDn, alicePassword);
    await rejectsWith(c.bind(aliceDn, 'nope'), InvalidCredentialsError);
    await rejectsWith(c.search(baseDn, { scope: 'base' }), OperationsError, '000004DC');
  });

  it('passes the paged results control through in both directions', async () => {
    const c = client(h.ldapsUrl);
    await c.bind(aliceDn, alicePassword);
    const pages: number[] = [];
    for await (const page of c.searchPaginated(`CN=Users,${baseDn}`, { scope: 'one', filter: '(objectClass=user)', attributes: ['cn'], paged: { pageSize: 5 } })) {
      pages.push(page.searchEntries.length);
    }
    assert.deepEqual(pages, [5, 5, 3]);
  });

  it('dispatches modify, add, compare, modify DN and delete to the backend', async () => {
    const c = client(h.ldapsUrl);
    await c.bind(aliceDn, alicePassword);
    const bob = `CN=Bob,CN=Users,${baseDn}`;
    await c.add(bob, { objectClass: ['top', 'user'], cn: 'Bob' });
    await c.modify(bob, new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: ['builder'] }) }));
    assert.equal(await c.compare(bob, 'description', 'builder'), true);
    assert.equal(await c.compare(bob, 'description', 'plumber'), false);
    await c.modifyDN(bob, `CN=Robert,CN=Users,${baseDn}`);
    await c.del(`CN=Robert,CN=Users,${baseDn}`);
  });

  it('answers a backend failure with other (80) and a generic text, logged without detail leaks', async () => {
    const c = client(h.ldapsUrl);
    await c.bind(aliceDn, alicePassword);
    await assert.rejects(c.search(boomDn, { scope: 'base' }), (error: unknown) => {
      assert.ok(error instanceof Error && 'code' in error && error.code === 80);
      assert.ok(!error.message.includes(boomSecret));
      return true;
    });
    const logged = h.logs.find((line) => line.message === 'directory backend failed');
    assert.ok(logged);
    assert.equal(JSON.stringify(h.logs).includes(alicePassword), false, 'a bind password reached the log');
  });

  it('routes Password Modify to the backend, returning a generated password', async () => {
    const c = client(h.ldapsUrl);
    await c.bind(aliceDn, alicePassword);
    await c.exop(oids.passwordModify, encodePasswordModifyRequestValue({ oldPassword: alicePassword, newPassword: 'N3w-Password' }));
    await c.bind(aliceDn, 'N3w-Password');
    const generated = await c.exop(oids.passwordModify, encodePasswordModifyRequestValue({ userIdentity: aliceDn }));
    // ldapts decodes the BER response value as UTF-8 text (its 0x80 tag byte is lost), so look
    // for the password inside it; the raw-socket suite decodes the value exactly.
    assert.ok(generated.value?.endsWith('Generated-Pa55'));
    assert.equal(h.backend.password, 'Generated-Pa55');
    h.backend.password = alicePassword;
  });

  it('answers SASL binds with authMethodNotSupported', async () => {
    const c = client(h.ldapsUrl);
    await assert.rejects(c.bind('PLAIN', '\u0000alice\u0000pw'), (error: unknown) => error instanceof Error && 'code' in error && error.code === 7);
  });
});
