/** The operations on fakes: what the SDK-driven integration test cannot easily set up. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { DirectoryGroup, IdentityStoreGroups } from '#src/identity-store/directory-groups.ts';
import { toProvisionedUser, type IdentityUser, type IdentityUserReader } from '#src/identity-store/user.ts';
import { IdentityStoreError } from './errors.ts';
import { createIdentityStoreOperations } from './operations.ts';
import { decodePageToken, encodePageToken, membershipId } from './shapes.ts';

const STORE = 'd-0123456789';

function identityUser(guid: string): IdentityUser {
  const provisioned = toProvisionedUser({ guid, sid: 'S-1-5-21-1-2-3-1000', userPrincipalName: `${guid.slice(0, 8)}@corp.example.test`, domain: 'corp.example.test' }, {});
  return { ...provisioned, userId: randomUUID(), createdAt: new Date(), provisionedAt: new Date() };
}

function fakeUsers(users: IdentityUser[], lookups: { count: number }): IdentityUserReader {
  return {
    get: (id) => Promise.resolve(users.find((u) => u.userId === id)),
    findByGuid: (guid) => {
      lookups.count += 1;
      return Promise.resolve(users.find((u) => u.activeDirectory.guid === guid));
    },
    findByUserName: () => Promise.resolve(undefined),
    findByEmail: () => Promise.resolve(undefined),
    list: () => Promise.resolve({ users, next: null }),
    count: () => Promise.resolve(users.length),
  };
}

const group: DirectoryGroup = {
  guid: '11111111-2222-4333-8444-555555555555',
  sid: 'S-1-5-21-1-2-3-2000',
  dn: 'CN=Big,DC=corp,DC=example,DC=test',
  name: 'Big',
  qualifiedName: 'Big@corp.example.test',
  kind: 'security',
  scope: 'global',
};

function fakeDirectory(memberGuids: string[]): IdentityStoreGroups {
  // Only what the operations under test call; the rest of the interface is never reached.
  const partial: Partial<IdentityStoreGroups> = {
    findGroup: (name) => Promise.resolve(name.startsWith(group.guid) ? group : null),
    groupUserGuids: () => Promise.resolve(memberGuids),
  };
  return partial as IdentityStoreGroups;
}

async function rejectsWith(promise: Promise<unknown>, type: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof IdentityStoreError, String(error));
    assert.equal(error.type, type, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('IdentityStore operations', () => {
  it('reports every violation of a request at once, worded as AWS words them', async () => {
    const ops = createIdentityStoreOperations({ users: fakeUsers([], { count: 0 }), groups: () => null, identityStoreId: STORE });
    await rejectsWith(
      ops.ListUsers?.({ IdentityStoreId: 'nope', MaxResults: 101, NextToken: '%%%' }) ?? Promise.reject(new Error('no ListUsers')),
      'ValidationException',
      /^3 validation errors detected: Value at 'identityStoreId' failed to satisfy constraint: Member must satisfy regular expression pattern: .*; Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100; Value at 'nextToken'/,
    );
    await rejectsWith(ops.DescribeUser?.({ IdentityStoreId: STORE }) ?? Promise.reject(new Error()), 'ValidationException', /Value null at 'userId' failed to satisfy constraint: Member must not be null/);
    await rejectsWith(
      ops.IsMemberInGroups?.({ IdentityStoreId: STORE, MemberId: {}, GroupIds: [] }) ?? Promise.reject(new Error()),
      'ValidationException',
      /exactly one of memberId\.userId.*'groupIds' failed to satisfy constraint: Member must have length greater than or equal to 1/,
    );
  });

  it('answers with InternalServerException while the identity source is unavailable', async () => {
    const ops = createIdentityStoreOperations({ users: fakeUsers([], { count: 0 }), groups: () => null, identityStoreId: STORE });
    await assert.rejects(ops.ListGroups?.({ IdentityStoreId: STORE }) ?? Promise.reject(new Error()), (error) => {
      assert.ok(error instanceof IdentityStoreError);
      assert.equal(error.type, 'InternalServerException');
      assert.equal(error.status, 500);
      assert.equal(error.fields.RetryAfterSeconds, 30);
      return true;
    });
  });

  it('bounds the member lookups of one page, and continues on the next', async () => {
    const guids = Array.from({ length: 2_500 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    // Two provisioned members, at the end of the big group.
    const users = [identityUser(guids[2_400] ?? ''), identityUser(guids[2_499] ?? '')];
    const lookups = { count: 0 };
    const ops = createIdentityStoreOperations({ users: fakeUsers(users, lookups), groups: () => fakeDirectory([...guids].reverse()), identityStoreId: STORE });
    const pages: Array<{ GroupMemberships: Array<{ MemberId: { UserId: string }; MembershipId: string }>; NextToken?: string }> = [];
    let token: string | undefined;
    do {
      const page = (await ops.ListGroupMemberships?.({ IdentityStoreId: STORE, GroupId: group.guid.toUpperCase(), MaxResults: 100, ...(token ? { NextToken: token } : {}) })) as (typeof pages)[number];
      pages.push(page);
      token = page.NextToken;
    } while (token);
    assert.deepEqual(
      pages.map((p) => p.GroupMemberships.length),
      [0, 0, 2],
    );
    assert.equal(lookups.count, 2_500);
    assert.deepEqual(
      pages.flatMap((p) => p.GroupMemberships.map((m) => m.MemberId.UserId)),
      users.map((u) => u.userId),
    );
    assert.equal(pages[2]?.GroupMemberships[0]?.MembershipId, membershipId(group.guid, users[0]?.userId ?? ''));
  });

  it('refuses a NextToken of another listing', async () => {
    const ops = createIdentityStoreOperations({ users: fakeUsers([], { count: 0 }), groups: () => fakeDirectory([]), identityStoreId: STORE });
    const other = encodePageToken('ListGroupMemberships', 'x', '99999999-2222-4333-8444-555555555555');
    await rejectsWith(ops.ListGroupMemberships?.({ IdentityStoreId: STORE, GroupId: group.guid, NextToken: other }) ?? Promise.reject(new Error()), 'ValidationException', /nextToken/);
    assert.equal(decodePageToken(encodePageToken('ListUsers', 'abc'), 'ListUsers'), 'abc');
    assert.throws(() => decodePageToken(encodePageToken('ListUsers', 'abc'), 'ListGroups'), IdentityStoreError);
  });

  it('derives membership ids as name-based UUIDs: stable, distinct, AWS-shaped', () => {
    const a = membershipId(group.guid, 'user-1');
    assert.equal(a, membershipId(group.guid.toUpperCase(), 'user-1'));
    assert.notEqual(a, membershipId(group.guid, 'user-2'));
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
