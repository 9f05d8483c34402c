/**
 * Access against the real Samba AD DC, through the admin API: nested groups three levels deep
 * reach an account, removal from the AD group takes access away once the cache ages out, the
 * direct-membership switch denies nested members, the fixture's group cycle terminates, and bad
 * input is refused with nothing written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { directoryAdmin, type DirectoryAdmin, type TestUser } from '../support/directory-admin.ts';
import { fixtureUser, sambaDirectoryEnv, sambaRuntime } from '../support/samba.ts';

const dc = sambaRuntime();
const groupDn = (cn: string) => `CN=${cn},OU=Groups,OU=Corp,${dc.baseDn}`;
const MINUTE = 60_000;

interface Started {
  app: PorticoApp;
  clock: { now: Date };
  token: string;
  stop(): Promise<void>;
}

async function start(extraEnv: Record<string, string> = {}): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-access-'));
  const clock = { now: new Date() };
  const env = {
    PORTICO_DATA_DIR: dataDir,
    PORTICO_LOG__LEVEL: 'silent',
    PORTICO_HTTP__PORT: '0',
    ...sambaDirectoryEnv(dc),
    PORTICO_ADMIN__GROUPS: JSON.stringify(['Portico-Admins@corp.example.test']),
    ...extraEnv,
  };
  let token = '';
  const app = await startApp(loadConfig({ env }), { clock: () => clock.now, showBootstrapToken: (t) => (token = t) });
  assert.match(token, /^pbt_[\w-]{43}$/, 'the first start shows a bootstrap token');
  return {
    app,
    clock,
    token,
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

function client(target: Started) {
  return async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, auth: { token?: string; cookie?: string } = { token: target.token }): Promise<Reply<T>> {
    const headers: Record<string, string> = {};
    if (auth.token) headers.authorization = `Bearer ${auth.token}`;
    if (auth.cookie) {
      headers.cookie = auth.cookie;
      // As the console's fetch does: cookie-authenticated changes must name Portico's origin.
      headers.origin = new URL(target.app.url).origin;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${target.app.url}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
  };
}

async function signIn(target: Started, username: string, password: string): Promise<string> {
  const response = await fetch(`${target.app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200, `${username} signs in`);
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  assert.ok(cookie);
  return cookie;
}

type Access = { accounts: Array<{ account: { id: string }; permissionSets: Array<{ permissionSet: { name: string }; grants: Array<{ type: string; name?: string; path?: string[] }> }> }>; applications: Array<{ application: { name: string } }> };

const PERMISSION_SET = { name: 'ReadOnly', description: 'Read everything', sessionDuration: 'PT4H', managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] };
const ACCOUNT = { id: '111122223333', name: 'Production', email: 'aws-prod@corp.example.test' };

void describe('access against the Samba AD DC', () => {
  let target: Started;
  let api: ReturnType<typeof client>;
  let admin: DirectoryAdmin;
  let nested: TestUser;
  let permissionSetId: string;

  before(async () => {
    target = await start();
    api = client(target);
    admin = await directoryAdmin({ ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin });
    // A fresh user three levels below Portico-Users: Eng-Platform-SRE → Eng-Platform → Eng-All → Portico-Users.
    nested = await admin.createUser(`acc-${Date.now().toString(36)}`, { givenName: 'Nested', sn: 'Member', displayName: 'Nested Member', mail: `nested-${Date.now()}@corp.example.test` });
    await admin.addMember(groupDn('Eng-Platform-SRE'), nested.dn);
    // Identity Center's default table requires initials, which only alice has in the fixture.
    const { body } = await api<{ table: Record<string, string> }>('GET', '/admin/api/mappings');
    const saved = await api('PUT', '/admin/api/mappings', { table: { ...body.table, middleName: '${dir:initials|""}' } });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
  });
  after(async () => {
    await admin?.close();
    await target?.stop();
  });

  it('refuses the admin API without credentials, with a wrong token, and to a signed-in non-administrator', async () => {
    assert.equal((await api('GET', '/admin/api/accounts', undefined, {})).status, 401);
    const wrong = await api('GET', '/admin/api/accounts', undefined, { token: 'pbt_wrong' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(Object.keys(wrong.body), ['error']);
    const bob = fixtureUser('bob');
    const cookie = await signIn(target, bob.upn, bob.password);
    const refused = await api<{ error: { code: string; message: string } }>('GET', '/admin/api/accounts', undefined, { cookie });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'admin.forbidden');
  });

  it('lets a member of the admin AD group administer through their session, audited under their name', async () => {
    const alice = fixtureUser('alice');
    const cookie = await signIn(target, alice.upn, alice.password);
    const me = await api('GET', '/admin/api/me', undefined, { cookie });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { actor: alice.upn, via: 'session' });
    const created = await api<{ id: string }>('POST', '/admin/api/permission-sets', PERMISSION_SET, { cookie });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    permissionSetId = created.body.id;
    // A cross-site request carrying the admin's cookie is refused.
    const response = await fetch(`${target.app.url}/admin/api/permission-sets/${permissionSetId}`, { method: 'DELETE', headers: { cookie, origin: 'https://evil.example' } });
    assert.equal(response.status, 403);
    const audit = await api<{ events: Array<{ actor: string; action: string; details: { before: unknown; after: { name: string } } }> }>('GET', '/admin/api/audit?action=access.permission_set.created');
    assert.equal(audit.body.events[0]?.actor, alice.upn);
    assert.equal(audit.body.events[0]?.details.before, null);
    assert.equal(audit.body.events[0]?.details.after.name, 'ReadOnly');
  });

  it('a user three groups below the assigned group reaches the account; who-can-reach shows the path', async () => {
    assert.equal((await api('POST', '/admin/api/accounts', ACCOUNT)).status, 201);
    const assigned = await api<{ provisioned: boolean; assignment: { principal: { name: string } } }>('POST', '/admin/api/assignments', {
      principal: { type: 'group', id: 'Portico-Users@corp.example.test' },
      target: { type: 'account', accountId: ACCOUNT.id, permissionSetId },
    });
    assert.equal(assigned.status, 201, JSON.stringify(assigned.body));
    // No AWS management identity here: no IAM role, so not claimed provisioned (test/aws/ covers the other case).
    assert.equal(assigned.body.provisioned, false);
    assert.equal(assigned.body.assignment.principal.name, 'Portico-Users@corp.example.test');

    const explained = await api<{ entitlements: Access }>('GET', `/admin/api/access/users/${encodeURIComponent(nested.upn)}`);
    assert.equal(explained.status, 200, JSON.stringify(explained.body));
    const grant = explained.body.entitlements.accounts[0]?.permissionSets[0]?.grants[0];
    assert.deepEqual(grant?.path, ['Eng-Platform-SRE@corp.example.test', 'Eng-Platform@corp.example.test', 'Eng-All@corp.example.test', 'Portico-Users@corp.example.test']);

    const who = await api<{ users: Array<{ userName: string | null; grants: Array<{ grant: { path: string[] } }> }> }>('GET', `/admin/api/accounts/${ACCOUNT.id}/access`);
    assert.equal(who.status, 200);
    const entry = who.body.users.find((u) => u.userName === nested.upn);
    assert.ok(entry, 'the nested member appears in who can reach the account');
    assert.deepEqual(entry.grants[0]?.grant.path, ['Eng-Platform-SRE@corp.example.test', 'Eng-Platform@corp.example.test', 'Eng-All@corp.example.test', 'Portico-Users@corp.example.test']);
    assert.ok(!who.body.users.some((u) => u.userName === fixtureUser('bob').upn.replace('bob', 'nobody')));
  });

  it('the signed-in user sees the account; removed from the AD group, they lose it once the cache ages out', async () => {
    const cookie = await signIn(target, nested.upn, nested.password);
    const mine = async () => {
      const response = await fetch(`${target.app.url}/api/me/access`, { headers: { cookie } });
      assert.equal(response.status, 200);
      return (await response.json()) as Access;
    };
    assert.deepEqual((await mine()).accounts.map((a) => a.account.id), [ACCOUNT.id]);

    await admin.removeMember(groupDn('Eng-Platform-SRE'), nested.dn);
    assert.deepEqual((await mine()).accounts.map((a) => a.account.id), [ACCOUNT.id], 'still cached');
    target.clock.now = new Date(target.clock.now.getTime() + 6 * MINUTE);
    assert.deepEqual((await mine()).accounts, [], 'gone after the cache aged out');
    await admin.addMember(groupDn('Eng-Platform-SRE'), nested.dn);
  });

  it('an administrator change applies to cached sessions at once', async () => {
    const alice = fixtureUser('alice');
    const cookie = await signIn(target, alice.upn, alice.password);
    const apps = async () => ((await (await fetch(`${target.app.url}/api/me/access`, { headers: { cookie } })).json()) as Access).applications.map((a) => a.application.name);
    assert.deepEqual(await apps(), []);
    const application = await api<{ id: string }>('POST', '/admin/api/applications', { name: 'Wiki', entityId: 'https://wiki.corp.example.test/saml', acsUrls: ['https://wiki.corp.example.test/saml/acs'] });
    assert.equal(application.status, 201, JSON.stringify(application.body));
    // The fixture's Cycle-A ⇄ Cycle-B loop: alice is in Cycle-A.
    const assigned = await api('POST', '/admin/api/assignments', { principal: { type: 'group', id: 'Cycle-B@corp.example.test' }, target: { type: 'application', applicationId: application.body.id } });
    assert.equal(assigned.status, 201);
    assert.deepEqual(await apps(), ['Wiki']);
    const who = await api<{ users: Array<{ userName: string }> }>('GET', `/admin/api/applications/${application.body.id}/access`);
    assert.equal(who.status, 200, 'the group cycle terminates');
    assert.ok(who.body.users.some((u) => u.userName === alice.upn));
  });

  it('assigns and explains a user by the implicit UPN: the same account as the explicit UPN and DOMAIN\\sam', async () => {
    const ursula = fixtureUser('ursula'); // UPN u.keller@corpmail.example, sAMAccountName ursula
    const application = await api<{ id: string }>('POST', '/admin/api/applications', { name: 'Implicit', entityId: 'https://implicit.corp.example.test/saml', acsUrls: ['https://implicit.corp.example.test/saml/acs'] });
    assert.equal(application.status, 201, JSON.stringify(application.body));
    const assigned = await api<{ assignment: { principal: { guid: string; name: string } } }>('POST', '/admin/api/assignments', {
      principal: { type: 'user', id: 'ursula@corp.example.test' },
      target: { type: 'application', applicationId: application.body.id },
    });
    assert.equal(assigned.status, 201, JSON.stringify(assigned.body));
    const byGuid = await target.app.directory?.findUser(ursula.upn);
    assert.equal(assigned.body.assignment.principal.guid, byGuid?.guid, 'the assignment keys the account, not the spelling');
    assert.equal(assigned.body.assignment.principal.name, ursula.upn, 'and names it by its explicit UPN');
    for (const spelling of ['ursula@corp.example.test', ursula.upn, 'CORP.EXAMPLE.TEST\\ursula', 'CORP\\ursula']) {
      const explained = await api<{ entitlements: Access }>('GET', `/admin/api/access/users/${encodeURIComponent(spelling)}`);
      assert.equal(explained.status, 200, `${spelling}: ${JSON.stringify(explained.body)}`);
      assert.ok(explained.body.entitlements.applications.some((a) => a.application.name === 'Implicit'), spelling);
    }
  });

  it('refuses bad input precisely and writes nothing', async () => {
    const count = async () => (await api<{ assignments: unknown[] }>('GET', '/admin/api/assignments')).body.assignments.length;
    const before = await count();
    const cases: Array<[string, string, unknown, number, string, RegExp]> = [
      ['POST', '/admin/api/assignments', { principal: { type: 'group', id: 'No-Such-Group@corp.example.test' }, target: { type: 'account', accountId: ACCOUNT.id, permissionSetId } }, 404, 'access.principal_not_found', /No-Such-Group/],
      ['POST', '/admin/api/assignments', { principal: { type: 'user', id: 'nobody@corp.example.test' }, target: { type: 'account', accountId: ACCOUNT.id, permissionSetId } }, 404, 'access.principal_not_found', /nobody/],
      ['POST', '/admin/api/assignments', { principal: { type: 'group', id: 'Portico-Users@corp.example.test' }, target: { type: 'account', accountId: ACCOUNT.id, permissionSetId } }, 409, 'access.conflict', /already assigned/],
      ['POST', '/admin/api/assignments', { principal: { type: 'user', id: '*)(objectClass=*' }, target: { type: 'account', accountId: ACCOUNT.id, permissionSetId } }, 404, 'access.principal_not_found', /no user/],
      ['POST', '/admin/api/permission-sets', { name: 'Broken', inlinePolicy: '{"Statement": [' }, 400, 'api.invalid_request', /inlinePolicy: not valid JSON/],
      ['POST', '/admin/api/permission-sets', { name: 'Long', relayState: 'x'.repeat(241) }, 400, 'api.invalid_request', /relayState: at most 240/],
      ['POST', '/admin/api/permission-sets', { name: 'bad name!' }, 400, 'api.invalid_request', /name: only letters/],
      ['POST', '/admin/api/permission-sets', { name: 'Short', sessionDuration: 'PT13H' }, 400, 'api.invalid_request', /sessionDuration: must be between PT1H and PT12H/],
      ['POST', '/admin/api/accounts', { id: '1234', name: 'x', email: 'x@example.com' }, 400, 'api.invalid_request', /id: an AWS account id is exactly 12 digits/],
      ['POST', '/admin/api/accounts', ACCOUNT, 409, 'access.conflict', /already exists/],
      ['POST', '/admin/api/applications/from-metadata', { metadata: 'this is not XML', application: { name: 'X' } }, 400, 'access.metadata_invalid', /./],
      ['POST', '/admin/api/applications/from-metadata', { metadata: '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol2;"/>', application: { name: 'Bomb' } }, 400, 'access.metadata_invalid', /DOCTYPE/i],
      ['POST', '/admin/api/assignments', '{not json', 400, 'api.invalid_request', /not valid JSON/],
      ['DELETE', `/admin/api/accounts/${ACCOUNT.id}`, undefined, 409, 'access.conflict', /has 1 assignment/],
    ];
    for (const [method, path, body, status, code, message] of cases) {
      const reply = await api<{ error: { code: string; message: string } }>(method, path, body);
      assert.equal(reply.status, status, `${method} ${path} ${String(JSON.stringify(body)).slice(0, 80)}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.error.code, code);
      assert.match(reply.body.error.message, message);
    }
    assert.equal(await count(), before);
    assert.equal((await api<{ applications: Array<{ name: string }> }>('GET', '/admin/api/applications')).body.applications.some((a) => a.name === 'Bomb' || a.name === 'X'), false);
    assert.equal((await api<{ permissionSets: unknown[] }>('GET', '/admin/api/permission-sets')).body.permissionSets.length, 1);
  });
});

void describe('access with the direct-membership switch', () => {
  let target: Started;
  after(async () => target?.stop());

  it('denies a member of a nested group and allows a direct member', async () => {
    target = await start({ PORTICO_ACCESS__GROUPMEMBERSHIP: 'direct' });
    const api = client(target);
    const ps = await api<{ id: string }>('POST', '/admin/api/permission-sets', PERMISSION_SET);
    assert.equal((await api('POST', '/admin/api/accounts', ACCOUNT)).status, 201);
    for (const group of ['Portico-Users@corp.example.test', 'Eng-Platform-SRE@corp.example.test']) {
      assert.equal((await api('POST', '/admin/api/assignments', { principal: { type: 'group', id: group }, target: { type: 'account', accountId: ACCOUNT.id, permissionSetId: ps.body.id } })).status, 201);
    }
    const alice = fixtureUser('alice');
    const explained = await api<{ entitlements: Access }>('GET', `/admin/api/access/users/${encodeURIComponent(alice.upn)}`);
    const grants = explained.body.entitlements.accounts[0]?.permissionSets[0]?.grants ?? [];
    assert.deepEqual(grants.map((g) => g.name), ['Eng-Platform-SRE@corp.example.test'], 'only the group alice is directly in grants access');
    const carol = fixtureUser('carol'); // directly in Eng-Platform only
    const denied = await api<{ entitlements: Access }>('GET', `/admin/api/access/users/${encodeURIComponent(carol.upn)}`);
    assert.deepEqual(denied.body.entitlements.accounts, []);
  });
});
