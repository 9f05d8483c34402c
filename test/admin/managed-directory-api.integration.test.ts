/**
 * The admin API of the managed directory (/admin/api/directory/managed/…), on Portico started
 * over its managed directory with the demo forest: users, passwords under the policy,
 * enable/disable as sign-in sees it, groups and members as access sees them, OUs, precise
 * refusals, injection-shaped names, and an audit trail without passwords. Then against a
 * connected Samba AD: every route is refused with 409 and nothing is written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { sambaDirectoryEnv, sambaRuntime } from '../support/samba.ts';

const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
const API = '/admin/api/directory/managed';

interface Started {
  app: PorticoApp;
  token: string;
  stop(): Promise<void>;
}

async function start(env: Record<string, string>): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-managed-api-'));
  let token = '';
  const app = await startApp(loadConfig({ env: { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'silent', PORTICO_HTTP__PORT: '0', ...env } }), {
    logDestination: silent,
    showBootstrapToken: (t) => (token = t),
  });
  assert.match(token, /^pbt_/, 'the first start shows a bootstrap token');
  return {
    app,
    token,
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface Reply<T> {
  status: number;
  body: T;
  text: string;
}
type Failure = { error: { code: string; message: string } };

function client(target: Started) {
  return async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${target.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${target.app.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T, text };
  };
}

async function signIn(target: Started, username: string, password: string): Promise<Reply<Failure & { userName: string }>> {
  const response = await fetch(`${target.app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Failure & { userName: string }, text };
}

const enc = encodeURIComponent;
const INITIAL = 'Quartz-Initial-Pass-1!';
const SECOND = 'Quartz-Second-Pass-2!';
const WEAK = 'Qz9!';
const INJECTION = '*)(sAMAccountName=*';

void describe('the managed directory admin API', () => {
  let target: Started;
  let api: ReturnType<typeof client>;
  const userDn = 'CN=Quinn Quartz,OU=Contractors,DC=portico,DC=test';

  before(async () => {
    target = await start({ PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0' });
    api = client(target);
  });
  after(async () => target?.stop());

  it('creates an OU and a user with a password, who signs in', async () => {
    const ou = await api<{ dn: string }>('POST', `${API}/ous`, { name: 'Contractors' });
    assert.equal(ou.status, 201, ou.text);
    assert.equal(ou.body.dn, 'OU=Contractors,DC=portico,DC=test');
    const created = await api<{ dn: string; enabled: boolean }>('POST', `${API}/users`, {
      sam: 'quinn',
      ou: ou.body.dn,
      password: INITIAL,
      givenName: 'Quinn',
      surname: 'Quartz',
      initials: 'Q',
      mail: 'quinn@portico.test',
      title: 'Contractor',
      department: 'Engineering',
    });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body, { dn: userDn, enabled: true });
    const again = await api<Failure>('POST', `${API}/users`, { sam: 'quinn', ou: ou.body.dn, password: INITIAL, givenName: 'Quinn', surname: 'Quartz' });
    assert.equal(again.status, 409, again.text);

    const signedIn = await signIn(target, 'quinn@portico.test', INITIAL);
    assert.equal(signedIn.status, 200, signedIn.text);
    assert.equal(signedIn.body.userName, 'quinn@portico.test');
  });

  it('disables (sign-in refused with the disabled message) and enables', async () => {
    const disabled = await api<{ dn: string }>('POST', `${API}/users/${enc('PORTICO\\quinn')}/disable`);
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal(disabled.body.dn, userDn);
    const refused = await signIn(target, 'quinn@portico.test', INITIAL);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'auth.account_disabled');
    assert.equal(refused.body.error.message, 'Your account is disabled. Contact your administrator.');

    assert.equal((await api('POST', `${API}/users/quinn/enable`)).status, 200);
    assert.equal((await signIn(target, 'quinn@portico.test', INITIAL)).status, 200);
    assert.equal((await api('POST', `${API}/users/erin/unlock`)).status, 200);
    assert.equal((await target.app.directory?.authenticate('erin@portico.test', demoPassword))?.outcome, 'ok', 'erin is unlocked');
  });

  it('creates a group, adds the user, and access sees the membership', async () => {
    const group = await api<{ dn: string }>('POST', `${API}/groups`, { name: 'Quartz-Team', ou: 'OU=Contractors,DC=portico,DC=test' });
    assert.equal(group.status, 201, group.text);
    assert.equal(group.body.dn, 'CN=Quartz-Team,OU=Contractors,DC=portico,DC=test');
    const added = await api<{ group: string; member: string }>('POST', `${API}/groups/Quartz-Team/members`, { member: 'quinn@portico.test' });
    assert.equal(added.status, 200, added.text);
    assert.deepEqual(added.body, { group: group.body.dn, member: userDn });
    assert.equal((await api('POST', `${API}/groups/Engineering/members`, { member: 'Quartz-Team' })).status, 200, 'groups nest');

    const access = await api<{ groups: Array<{ qualifiedName: string; path: string[] }> }>('GET', `/admin/api/access/users/${enc('quinn@portico.test')}`);
    assert.equal(access.status, 200, access.text);
    const names = access.body.groups.map((g) => g.qualifiedName);
    assert.ok(names.includes('Quartz-Team@portico.test'), names.join(', '));
    assert.ok(names.includes('Engineering@portico.test'), names.join(', '));

    assert.equal((await api('DELETE', `${API}/groups/Engineering/members/Quartz-Team`)).status, 204);
    const after = await api<{ groups: Array<{ qualifiedName: string }> }>('GET', `/admin/api/access/users/${enc('quinn@portico.test')}`);
    const left = after.body.groups.map((g) => g.qualifiedName);
    assert.ok(left.includes('Quartz-Team@portico.test') && !left.includes('Engineering@portico.test'), left.join(', '));
  });

  it('sets passwords under the password policy: a violation answers 400 naming the rule', async () => {
    const weak = await api<Failure>('POST', `${API}/users/quinn/password`, { password: WEAK });
    assert.equal(weak.status, 400, weak.text);
    assert.equal(weak.body.error.code, 'directory.operation_failed');
    assert.match(weak.body.error.message, /the password is shorter than 7 characters/);
    assert.ok(!weak.text.includes(WEAK), 'the answer does not echo the password');
    assert.equal((await signIn(target, 'quinn@portico.test', INITIAL)).status, 200, 'the old password still works');

    const reset = await api<{ dn: string }>('POST', `${API}/users/quinn/password`, { password: SECOND, mustChange: true });
    assert.equal(reset.status, 200, reset.text);
    const mustChange = await signIn(target, 'quinn@portico.test', SECOND);
    assert.equal(mustChange.status, 401);
    assert.equal(mustChange.body.error.code, 'auth.password_must_change');
  });

  it('updates attributes (null removes one)', async () => {
    const updated = await api<{ dn: string }>('PATCH', `${API}/users/quinn`, { title: 'Lead Contractor', department: null });
    assert.equal(updated.status, 200, updated.text);
    const user = await target.app.directory?.findUser('quinn', { attributes: ['title', 'department'] });
    assert.deepEqual(user?.attributes.title, ['Lead Contractor']);
    assert.deepEqual(user?.attributes.department ?? [], []);
  });

  it('refuses bad input precisely, unknown and injection-shaped names with 404, and changes nothing', async () => {
    const cases: Array<[string, string, unknown, number, string, RegExp]> = [
      ['POST', `${API}/users`, { sam: 'bad*name' }, 400, 'api.invalid_request', /sam: none of/],
      ['POST', `${API}/users`, { sam: 'a-name-longer-than-twenty' }, 400, 'api.invalid_request', /sam: at most 20 characters/],
      ['POST', `${API}/users`, { sam: 'ok', ou: 'Contractors' }, 400, 'api.invalid_request', /ou: a DN/],
      ['POST', `${API}/users`, { sam: 'ok', admin: true }, 400, 'api.invalid_request', /unknown field admin/],
      ['POST', `${API}/users`, { sam: 'ok', ou: 'OU=Nowhere,DC=portico,DC=test' }, 404, 'directory.user_not_found', /OU=Nowhere/],
      ['PATCH', `${API}/users/quinn`, {}, 400, 'api.invalid_request', /nothing to change/],
      ['PATCH', `${API}/users/quinn`, { title: '' }, 400, 'api.invalid_request', /title: must not be empty/],
      ['POST', `${API}/users/quinn/password`, {}, 400, 'api.invalid_request', /password: required/],
      ['POST', `${API}/groups`, { name: 'G', scope: 'galactic' }, 400, 'api.invalid_request', /scope: global, domainLocal or universal/],
      ['POST', `${API}/groups/Quartz-Team/members`, {}, 400, 'api.invalid_request', /member: required/],
      ['POST', `${API}/users/Administrator/disable`, undefined, 409, 'directory.refused', /lock Portico out/],
      ['POST', `${API}/users/Administrator/password`, { password: SECOND }, 409, 'directory.refused', /lock Portico out/],
      ['POST', `${API}/users/${enc(INJECTION)}/disable`, undefined, 404, 'directory.user_not_found', /no user named/],
      ['POST', `${API}/users/${enc(INJECTION)}/enable`, undefined, 404, 'directory.user_not_found', /no user named/],
      ['POST', `${API}/users/${enc(INJECTION)}/password`, { password: SECOND }, 404, 'directory.user_not_found', /no user named/],
      ['PATCH', `${API}/users/${enc(INJECTION)}`, { title: 'Owned' }, 404, 'directory.user_not_found', /no user named/],
      ['DELETE', `${API}/users/${enc(INJECTION)}`, undefined, 404, 'directory.user_not_found', /no user named/],
      ['DELETE', `${API}/groups/${enc(INJECTION)}`, undefined, 404, 'directory.user_not_found', /no group named/],
      ['POST', `${API}/groups/${enc(INJECTION)}/members`, { member: 'quinn' }, 404, 'directory.user_not_found', /no group named/],
      ['POST', `${API}/groups/Quartz-Team/members`, { member: INJECTION }, 404, 'directory.user_not_found', /no user or group named/],
      ['DELETE', `${API}/groups/Quartz-Team/members/${enc(INJECTION)}`, undefined, 404, 'directory.user_not_found', /no user or group named/],
      ['DELETE', `${API}/users/${enc('CN=Quartz-Team,OU=Contractors,DC=portico,DC=test')}`, undefined, 404, 'directory.user_not_found', /no user named/],
      ['DELETE', `${API}/ous/${enc(userDn)}`, undefined, 404, 'directory.user_not_found', /no organizational unit named/],
      ['DELETE', `${API}/ous/${enc('OU=Contractors,DC=portico,DC=test')}`, undefined, 400, 'directory.operation_failed', /CANT_ON_NON_LEAF/],
    ];
    for (const [method, path, body, status, code, message] of cases) {
      const reply = await api<Failure>(method, path, body);
      assert.equal(reply.status, status, `${method} ${path} ${JSON.stringify(body)}: ${reply.text}`);
      assert.equal(reply.body.error.code, code, `${method} ${path}`);
      assert.match(reply.body.error.message, message, `${method} ${path}`);
    }
    const directory = target.app.directory;
    assert.ok(directory);
    for (const name of ['alice', 'bob', 'carol', 'quinn']) {
      const user = await directory.findUser(`${name}@portico.test`, { attributes: ['title'] });
      assert.ok(user, `${name} is still there`);
      assert.notDeepEqual(user.attributes.title, ['Owned']);
    }
    assert.equal((await directory.authenticate('alice@portico.test', demoPassword)).outcome, 'ok', 'alice is still enabled');
    assert.equal((await directory.authenticate('PORTICO\\dave', demoPassword)).outcome, 'disabled', 'dave is still disabled');
    const team = await directory.findGroup('Quartz-Team@portico.test');
    assert.ok(team, 'the group is still there');
  });

  it('deletes the user, restores it from its tombstone (same objectGUID and password), then deletes the user, the group and the OU', async () => {
    const guid = (await target.app.directory?.findUser('quinn'))?.guid;
    assert.ok(guid);
    assert.equal((await api('DELETE', `${API}/users/quinn`)).status, 204);
    assert.equal((await signIn(target, 'quinn@portico.test', SECOND)).body.error.code, 'auth.invalid_credentials');
    assert.equal((await api<Failure>('DELETE', `${API}/users/quinn`)).status, 404);

    const listed = await api<{ deleted: Array<{ guid: string; name: string; kind: string; lastKnownParent: string | null; deletedAt: string | null }> }>('GET', `${API}/deleted`);
    assert.equal(listed.status, 200, listed.text);
    const tombstone = listed.body.deleted.find((d) => d.guid === guid.toLowerCase());
    assert.deepEqual(tombstone && { name: tombstone.name, kind: tombstone.kind, parent: tombstone.lastKnownParent }, { name: 'Quinn Quartz', kind: 'user', parent: 'OU=Contractors,DC=portico,DC=test' });
    assert.match(tombstone?.deletedAt ?? '', /^\d{4}-\d{2}-\d{2}T/);
    const missing = await api<Failure>('POST', `${API}/deleted/${enc('Nobody Here')}/restore`, {});
    assert.equal(missing.status, 404, missing.text);
    const restored = await api<{ dn: string; guid: string }>('POST', `${API}/deleted/${enc('Quinn Quartz')}/restore`, {});
    assert.equal(restored.status, 200, restored.text);
    assert.deepEqual(restored.body, { dn: userDn, guid: guid.toLowerCase() });
    const back = await signIn(target, 'quinn@portico.test', SECOND);
    // SECOND was set with mustChange: the password is right (not invalid_credentials) and pwdLastSet=0 came back too.
    assert.equal(back.body.error.code, 'auth.password_must_change', `the password came back with the user: ${back.text}`);
    assert.equal((await target.app.directory?.findUser('quinn'))?.guid.toLowerCase(), guid.toLowerCase(), 'the same objectGUID');
    assert.equal((await api<Failure>('POST', `${API}/deleted/${enc(guid)}/restore`, {})).status, 404, 'restored: no tombstone left');

    assert.equal((await api('DELETE', `${API}/users/quinn`)).status, 204);
    assert.equal((await api('DELETE', `${API}/groups/Quartz-Team`)).status, 204);
    assert.equal((await api('DELETE', `${API}/ous/${enc('OU=Contractors,DC=portico,DC=test')}`)).status, 204);
    assert.equal(await target.app.directory?.findUser('quinn'), null);
  });

  it('audits every change under the admin, with the DN and the outcome, and never the password', async () => {
    const audit = await api<{ events: Array<{ actor: string; action: string; target: string | null; outcome: string; errorCode: string | null; details: Record<string, unknown> }> }>('GET', '/admin/api/audit?limit=1000');
    assert.equal(audit.status, 200);
    for (const secret of [INITIAL, SECOND, WEAK, 'Quartz-Initial', 'Quartz-Second']) assert.ok(!audit.text.includes(secret), `the audit log does not carry ${secret}`);
    const events = audit.body.events.filter((e) => e.action.startsWith('directory.managed.'));
    const find = (action: string, outcome = 'success') => events.find((e) => e.action === `directory.managed.${action}` && e.outcome === outcome);
    // Every event made during a request carries its request id (compared apart: it is generated).
    const withoutRequestId = <T extends { details: Record<string, unknown> }>(event: T | undefined) => {
      if (event === undefined) return undefined;
      const { requestId, ...details } = event.details;
      assert.match(String(requestId), /^[0-9a-f-]{36}$/, 'the request id is recorded');
      return { ...event, details };
    };
    assert.deepEqual(
      { ...withoutRequestId(find('user.created')), id: undefined, occurredAt: undefined },
      {
        id: undefined,
        occurredAt: undefined,
        actor: 'bootstrap-token',
        action: 'directory.managed.user.created',
        target: userDn,
        outcome: 'success',
        errorCode: null,
        details: { sam: 'quinn', ou: 'OU=Contractors,DC=portico,DC=test', attributes: ['givenName', 'surname', 'initials', 'mail', 'title', 'department'], enabled: true, mustChange: false },
      },
    );
    for (const action of ['user.disabled', 'user.enabled', 'user.unlocked', 'user.password_set', 'user.updated', 'user.deleted', 'group.created', 'group.member_added', 'group.member_removed', 'group.deleted', 'ou.created', 'ou.deleted', 'object.restored']) {
      const event = find(action);
      assert.ok(event, `${action} is audited`);
      assert.equal(event.actor, 'bootstrap-token');
      assert.match(event.target ?? '', /^(CN|OU)=.*DC=portico,DC=test$/, `${action} targets a DN`);
    }
    const added = events.find((e) => e.action === 'directory.managed.group.member_added' && e.target === 'CN=Quartz-Team,OU=Contractors,DC=portico,DC=test');
    assert.deepEqual(withoutRequestId(added)?.details, { member: userDn }, 'the member is recorded by its DN');
    const weak = events.find((e) => e.action === 'directory.managed.user.password_set' && e.outcome === 'failure' && e.errorCode === 'directory.operation_failed');
    assert.equal(weak?.target, 'quinn', 'a failure names the target as given');
    assert.match(String(weak?.details.reason), /shorter than 7 characters/);
    const injected = events.find((e) => e.outcome === 'failure' && e.target === INJECTION);
    assert.equal(injected?.errorCode, 'directory.user_not_found');
    assert.equal(events.find((e) => e.action === 'directory.managed.user.disabled' && e.target === 'Administrator')?.errorCode, 'directory.refused', 'refusing to disable the Administrator is audited');
  });
});

void describe('the managed directory admin API with a connected AD', () => {
  const dc = sambaRuntime();
  let target: Started;
  after(async () => target?.stop());

  it('refuses every route with 409 and writes nothing to the AD', async () => {
    target = await start({
      ...sambaDirectoryEnv(dc),
    });
    const api = client(target);
    const directory = target.app.directory;
    assert.ok(directory, 'the Samba AD is connected');
    const sam = `mapi-${Date.now().toString(36)}`;
    const groupsOfAlice = async () => {
      const alice = await directory.findUser(`alice@${dc.domain}`);
      assert.ok(alice);
      return (await directory.groupsOf(alice)).groups.map((g) => g.qualifiedName).sort();
    };
    const aliceBefore = await directory.findUser(`alice@${dc.domain}`, { attributes: ['title'] });
    const groupsBefore = await groupsOfAlice();

    const routes: Array<[string, string, unknown?]> = [
      ['POST', `${API}/users`, { sam, password: INITIAL, givenName: 'Refused', surname: 'User' }],
      ['PATCH', `${API}/users/alice`, { title: 'Owned' }],
      ['POST', `${API}/users/alice/password`, { password: SECOND }],
      ['POST', `${API}/users/alice/enable`],
      ['POST', `${API}/users/alice/disable`],
      ['POST', `${API}/users/alice/unlock`],
      ['DELETE', `${API}/users/alice`],
      ['POST', `${API}/groups`, { name: sam }],
      ['DELETE', `${API}/groups/Eng-All`],
      ['POST', `${API}/groups/Eng-All/members`, { member: 'bob' }],
      ['DELETE', `${API}/groups/Eng-Platform-SRE/members/alice`],
      ['POST', `${API}/ous`, { name: sam }],
      ['DELETE', `${API}/ous/${enc(`OU=Groups,OU=Corp,${dc.baseDn}`)}`],
      ['POST', `${API}/import`, { ldif: `dn: CN=${sam},CN=Users,${dc.baseDn}\nobjectClass: user\nsAMAccountName: ${sam}\n` }],
      ['GET', `${API}/export`],
      ['GET', `${API}/deleted`],
      ['POST', `${API}/deleted/alice/restore`, {}],
    ];
    const document = (await (await fetch(`${target.app.url}/admin/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const declared = Object.entries(document.paths).flatMap(([path, methods]) => (path.startsWith(API) ? Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`) : []));
    assert.equal(routes.length, declared.length, `every managed-directory route is tried: ${declared.join(', ')}`);

    for (const [method, path, body] of routes) {
      const reply = await api<Failure>(method, path, body);
      assert.equal(reply.status, 409, `${method} ${path}: ${reply.text}`);
      assert.equal(reply.body.error.code, 'directory.refused');
      assert.match(reply.body.error.message, /Portico never writes to a connected AD/);
    }

    assert.equal(await directory.findUser(sam), null, 'no user was created');
    assert.equal(await directory.findGroup(`${sam}@${dc.domain}`), null, 'no group was created');
    const aliceAfter = await directory.findUser(`alice@${dc.domain}`, { attributes: ['title'] });
    assert.deepEqual(aliceAfter?.attributes.title, aliceBefore?.attributes.title);
    assert.deepEqual(aliceAfter?.account, aliceBefore?.account);
    assert.deepEqual(await groupsOfAlice(), groupsBefore);
    assert.ok(await directory.findGroup(`Eng-All@${dc.domain}`), 'Eng-All is still there');

    const audit = await api<{ events: Array<{ action: string; outcome: string; errorCode: string | null }> }>('GET', '/admin/api/audit?limit=1000');
    const refused = audit.body.events.filter((e) => e.action.startsWith('directory.managed.'));
    assert.equal(refused.length, routes.length - 1, 'each refusal is audited (listing deleted objects is a read, not audited)');
    assert.ok(refused.every((e) => e.outcome === 'failure' && e.errorCode === 'directory.refused'));
    assert.ok(!audit.text.includes(INITIAL) && !audit.text.includes(SECOND));
  });
});
