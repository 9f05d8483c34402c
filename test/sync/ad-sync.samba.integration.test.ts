/**
 * The AD sync against the shared Samba DC (issue 18): throwaway users and groups created over
 * LDAPS as the DC's Administrator (unique names, deleted afterwards), a group put in the sync
 * scope through the admin API, and the identity store following AD's changes within seconds:
 * members appear, a nested group's members appear, attributes follow, a disabled account is
 * marked, a deleted one is kept but marked deleted in the directory with its sessions revoked.
 * The IdentityStore API (real AWS SDK) serves the synchronised group and its memberships.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DescribeGroupMembershipCommand, IdentitystoreClient, ListGroupMembershipsCommand, ListGroupsCommand, GetGroupIdCommand, IsMemberInGroupsCommand, ListGroupMembershipsForMemberCommand } from '@aws-sdk/client-identitystore';
import { directoryAdmin, type DirectoryAdmin, type TestUser } from '../support/directory-admin.ts';
import { sambaRuntime } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const dc = sambaRuntime();
const POLL_SECONDS = 0.5;
/** The lag this suite accepts: polling every 0.5 s, a change must be in the store well within it. */
const TARGET_LAG_MS = 10_000;
const GLOBAL_SECURITY = -2147483646;

/** Waits until `probe` returns a value; returns it with the time it took. */
async function eventually<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return { value, ms: Math.round(performance.now() - started) };
    if (performance.now() - started > TARGET_LAG_MS) assert.fail(`${what}: not within ${TARGET_LAG_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

void describe('AD sync against the Samba DC', () => {
  const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  let target: SambaPortico;
  let admin: DirectoryAdmin;
  let group: { dn: string; qualifiedName: string };
  let nested: { dn: string; qualifiedName: string };
  let first: TestUser;
  let second: TestUser;
  const lags: Record<string, number> = {};

  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${target.app.url}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
  };
  const guidOf = async (upn: string): Promise<string> => {
    const user = await target.app.directory?.findUser(upn);
    assert.ok(user, `${upn} is in AD`);
    return user.guid;
  };
  const stateOf = async (guid: string) => {
    const status = await api<{ lastRun: unknown }>('GET', '/sync');
    void status;
    return (target.app.users as unknown as { directoryState(g: string): Promise<{ state: string } | null> }).directoryState(guid);
  };

  before(async () => {
    admin = await directoryAdmin({ ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin });
    group = await admin.createGroup(`sync-g-${suffix}`, GLOBAL_SECURITY);
    nested = await admin.createGroup(`sync-n-${suffix}`, GLOBAL_SECURITY);
    first = await admin.createUser(`sync-a-${suffix}`, { givenName: 'Ada', sn: 'First', displayName: 'Ada First', mail: `sync-a-${suffix}@corp.example.test` });
    second = await admin.createUser(`sync-b-${suffix}`, { givenName: 'Bo', sn: 'Second', displayName: 'Bo Second', mail: `sync-b-${suffix}@corp.example.test` });
    await admin.addMember(group.dn, first.dn);
    await admin.addMember(nested.dn, second.dn);
    target = await startSambaPortico({ PORTICO_SYNC__POLLSECONDS: String(POLL_SECONDS) });
  });

  after(async () => {
    await target?.stop();
    await admin?.close();
    console.log(`measured lag AD change → identity store (poll ${POLL_SECONDS} s, one Samba DC): ${JSON.stringify(lags)}`);
  });

  it('puts a group in the scope and syncs its members through the mappings, with the group and its memberships in the store', async () => {
    const added = await api<{ guid: string; label: string }>('POST', '/sync/scope', { kind: 'group', name: group.qualifiedName });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.label, group.qualifiedName);
    const again = await api<{ error: { code: string } }>('POST', '/sync/scope', { kind: 'group', name: group.qualifiedName });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'sync.scope_exists');
    const unknown = await api<{ error: { code: string } }>('POST', '/sync/scope', { kind: 'group', name: `no-such-group-${suffix}` });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'sync.scope_not_found');

    const firstGuid = await guidOf(first.upn);
    const synced = await eventually('the first member in the store', () => target.app.users.findByGuid(firstGuid));
    lags.memberAdded = synced.ms;
    assert.equal(synced.value.userName, first.upn);
    assert.equal(synced.value.name.givenName, 'Ada');
    assert.equal((await stateOf(firstGuid))?.state, 'active');
    assert.equal(await target.app.users.findByGuid(await guidOf(second.upn)), undefined, 'the nested group is not nested yet: its member is out of scope');

    const status = await api<{ lastRun: { mode: string; controllerId: string; usn: string; errors: unknown[] } }>('GET', '/sync');
    assert.equal(status.status, 200);
    assert.match(status.body.lastRun.controllerId, /ntds settings/);
    assert.match(status.body.lastRun.usn, /^\d+$/);
    assert.deepEqual(status.body.lastRun.errors, []);
  });

  it('follows nesting: a group put into the scope group brings its members', async () => {
    const secondGuid = await guidOf(second.upn);
    await admin.addMember(group.dn, nested.dn);
    const synced = await eventually('the nested group member in the store', () => target.app.users.findByGuid(secondGuid));
    lags.groupNested = synced.ms;
    assert.equal(synced.value.userName, second.upn);
  });

  it('serves the synchronised groups and direct memberships through the IdentityStore API (AWS SDK)', async () => {
    const created = await api<{ accessKeyId: string; secretAccessKey: string; identityStoreId: string }>('POST', '/app-credentials', { name: `sync-test-${suffix}` });
    assert.equal(created.status, 201);
    const client = new IdentitystoreClient({ endpoint: `${target.app.url}/identitystore`, region: 'us-east-1', credentials: created.body, maxAttempts: 1 });
    const IdentityStoreId = created.body.identityStoreId;
    const groups = await client.send(new ListGroupsCommand({ IdentityStoreId }));
    const names = (groups.Groups ?? []).map((g) => g.DisplayName).sort();
    assert.deepEqual(names, [group.qualifiedName, nested.qualifiedName].sort(), 'only the scope groups are in the store');
    const { GroupId } = await client.send(new GetGroupIdCommand({ IdentityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'displayName', AttributeValue: nested.qualifiedName } } }));
    assert.ok(GroupId);
    const first = await target.app.users.findByUserName(second.upn);
    assert.ok(first);
    const memberships = await client.send(new ListGroupMembershipsCommand({ IdentityStoreId, GroupId }));
    assert.deepEqual(memberships.GroupMemberships?.map((m) => m.MemberId?.UserId), [first.userId]);
    const membership = memberships.GroupMemberships?.[0]?.MembershipId;
    assert.ok(membership);
    const described = await client.send(new DescribeGroupMembershipCommand({ IdentityStoreId, MembershipId: membership }));
    assert.deepEqual([described.GroupId, described.MemberId?.UserId, described.MembershipId], [GroupId, first.userId, membership]);
    const forMember = await client.send(new ListGroupMembershipsForMemberCommand({ IdentityStoreId, MemberId: { UserId: first.userId } }));
    assert.deepEqual(forMember.GroupMemberships?.map((m) => m.GroupId), [GroupId]);
    const outer = (groups.Groups ?? []).find((g) => g.DisplayName === group.qualifiedName);
    const is = await client.send(new IsMemberInGroupsCommand({ IdentityStoreId, MemberId: { UserId: first.userId }, GroupIds: [GroupId, outer?.GroupId ?? ''] }));
    assert.deepEqual(
      is.Results?.map((r) => r.MembershipExists),
      [true, false],
      'direct memberships only: the member of the nested group is not a direct member of the scope group',
    );
  });

  it('follows attribute changes', async () => {
    const guid = await guidOf(first.upn);
    await admin.replace(first.dn, 'givenName', 'Adelheid');
    const updated = await eventually('the new given name', async () => {
      const user = await target.app.users.findByGuid(guid);
      return user?.name.givenName === 'Adelheid' ? user : null;
    });
    lags.attributeChanged = updated.ms;
  });

  it('brings back a user an administrator removed while still in scope, with a new UserId', async () => {
    const guid = await guidOf(first.upn);
    const before = await target.app.users.findByGuid(guid);
    assert.ok(before);
    const removed = await api<{ removed: string }>('DELETE', `/users/${before.userId}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const back = await eventually('the removed user back in the store', () => target.app.users.findByGuid(guid));
    lags.removedComesBack = back.ms;
    assert.notEqual(back.value.userId, before.userId);
  });

  it('marks a disabled account, and a deleted one as deleted in the directory: record kept, sessions revoked', async () => {
    const secondGuid = await guidOf(second.upn);
    const before = await target.app.users.findByGuid(secondGuid);
    const signIn = await fetch(`${target.app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: second.upn, password: second.password }) });
    assert.equal(signIn.status, 200);
    const cookie = signIn.headers.get('set-cookie')?.split(';')[0];
    assert.ok(cookie);
    const after = await target.app.users.findByGuid(secondGuid);
    assert.equal(after?.userId, before?.userId, 'sign-in after sync keeps the UserId the sync gave');
    const me = () => fetch(`${target.app.url}/api/me/access`, { headers: { cookie } }).then((r) => r.status);
    assert.equal(await me(), 200);

    const firstGuid = await guidOf(first.upn);
    await admin.replace(first.dn, 'userAccountControl', '514');
    const disabled = await eventually('the disabled state', async () => (await stateOf(firstGuid))?.state === 'disabled');
    lags.disabled = disabled.ms;

    await admin.delete(second.dn);
    const deleted = await eventually('the deleted state', async () => (await stateOf(secondGuid))?.state === 'deleted');
    lags.deleted = deleted.ms;
    const kept = await target.app.users.findByGuid(secondGuid);
    assert.equal(kept?.userId, before?.userId, 'the record is kept with its UserId');
    assert.equal(await me(), 401, 'the session ended with the deletion');
    // Recorded once the sessions are ended, so it may follow the state by a moment.
    await eventually('the deletion audited', async () => {
      const events = await api<{ events: Array<{ action: string; target: string; details: Record<string, unknown> }> }>('GET', '/audit?action=identity.user.directory_state_changed&limit=200');
      return events.body.events.find((e) => e.target === secondGuid && e.details.after === 'deleted');
    });
  });
  it('syncs the users below an OU added through the admin API; a user moved out of the OU leaves the scope (record kept, as is)', async () => {
    const ou = await admin.createOu(`sync-ou-${suffix}`);
    const inside = await admin.createUser(`sync-o-${suffix}`, { givenName: 'Olga', sn: 'Unit', displayName: 'Olga Unit' }, ou.dn);
    const added = await api<{ kind: string; label: string; guid: string }>('POST', '/sync/scope', { kind: 'ou', name: ou.dn });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.kind, 'ou');
    assert.equal(added.body.label.toLowerCase(), ou.dn.toLowerCase());
    const notAnOu = await api<{ error: { code: string } }>('POST', '/sync/scope', { kind: 'ou', name: group.dn });
    assert.equal(notAnOu.status, 404);
    assert.equal(notAnOu.body.error.code, 'sync.scope_not_found');

    const guid = await guidOf(inside.upn);
    const synced = await eventually('the OU’s user in the store', () => target.app.users.findByGuid(guid));
    lags.ouUserAdded = synced.ms;
    assert.equal(synced.value.name.givenName, 'Olga');
    const inScope = async () => (await api<{ lastRun: { usersInScope: number } | null }>('GET', '/sync')).body.lastRun?.usersInScope ?? -1;
    const before = await inScope();
    assert.ok(before >= 1);

    await admin.move(inside.dn, `CN=Users,${dc.baseDn}`);
    const out = await eventually('the moved user out of scope', async () => (await inScope()) === before - 1);
    lags.ouUserMovedOut = out.ms;
    assert.equal((await target.app.users.findByGuid(guid))?.userId, synced.value.userId, 'the record stays');
    assert.equal((await stateOf(guid))?.state, 'active', 'still in AD: not marked deleted');
    const removed = await api('POST', '/sync/scope/remove', { kind: 'ou', name: ou.dn });
    assert.equal(removed.status, 200);
  });
});
