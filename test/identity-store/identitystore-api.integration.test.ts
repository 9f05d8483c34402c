/**
 * The IdentityStore API driven by the real AWS SDK (@aws-sdk/client-identitystore), unmodified
 * but for its endpoint and a Portico access key: a Fastify server on loopback, a real SQLite
 * database with users provisioned through the identity store, and groups read from Portico's
 * managed directory loaded with the same fixture as the Samba DC.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateUserCommand,
  DescribeGroupCommand,
  DescribeGroupMembershipCommand,
  DescribeUserCommand,
  GetGroupIdCommand,
  GetGroupMembershipIdCommand,
  GetUserIdCommand,
  IdentitystoreClient,
  IsMemberInGroupsCommand,
  ListGroupMembershipsCommand,
  ListGroupMembershipsForMemberCommand,
  ListGroupsCommand,
  ListUsersCommand,
  paginateListGroupMemberships,
  paginateListGroups,
  paginateListUsers,
} from '@aws-sdk/client-identitystore';
import { SignatureV4 } from '@smithy/signature-v4';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { createAdConnector } from '#src/directory/connector.ts';
import type { DirectoryConnector, DirectoryGroup, DirectoryUser } from '#src/directory/types.ts';
import { deriveIdentityStoreId, membershipId, registerIdentityStoreApi } from '#src/identity-store-api/index.ts';
import { identityStoreGroups } from '#src/identity-store/directory-groups.ts';
import type { ApplicationCredentialStore, IssuedApplicationCredential } from '#src/identity-store/application-credentials.ts';
import { toProvisionedUser, type IdentityUser, type IdentityUserWriter } from '#src/identity-store/user.ts';
import { createSecretBox } from '#src/secrets/index.ts';
import {
  createDatabase,
  createKyselyApplicationCredentialStore,
  createKyselyAuditLog,
  createKyselyIdentityUserStore,
  migrateToLatest,
  type Database,
} from '#src/storage/index.ts';
import { startManagedFixture, type ManagedFixture } from '../support/managed.ts';
import { fixtureUser, sambaOptions } from '../support/samba.ts';

// The SDK warns that its releases from 2027 on need Node 22; this pinned one runs on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const DOMAIN = 'corp.example.test';
const FIXTURE_USERS = ['alice', 'bob', 'carol', 'zoe', 'jsmith', 'hank', 'dave', 'erin', 'frank', 'mike', 'paula', 'greg'];
const BULK_USERS = 20;

let fixture: ManagedFixture;
let connector: DirectoryConnector;
let dataDir: string;
let db: Kysely<Database>;
let users: IdentityUserWriter;
let credentials: ApplicationCredentialStore;
let http: FastifyInstance;
let endpoint: string;
let key: IssuedApplicationCredential;
let identityStoreId: string;
const provisioned = new Map<string, IdentityUser>();
/** How far the server's clock is ahead of this process's. */
let serverClockOffsetMs = 0;

function client(credential: { accessKeyId: string; secretAccessKey: string } = key): IdentitystoreClient {
  return new IdentitystoreClient({ endpoint, region: 'eu-central-1', credentials: credential, maxAttempts: 1 });
}

async function provision(account: DirectoryUser, upn: string): Promise<IdentityUser> {
  const mapped = {
    AD_GUID: account.guid,
    email: account.mail ?? undefined,
    givenName: account.givenName ?? undefined,
    familyName: account.surname ?? undefined,
    name: account.displayName ?? undefined,
    title: account.attributes.title?.[0],
    phoneNumber: account.attributes.telephoneNumber?.[0],
    subject: upn,
  };
  const { user } = await users.upsert(toProvisionedUser({ guid: account.guid, sid: account.sid, userPrincipalName: upn, domain: DOMAIN }, mapped), new Date());
  return user;
}

function user(key: string): IdentityUser {
  const found = provisioned.get(key);
  assert.ok(found, key);
  return found;
}

async function group(name: string): Promise<DirectoryGroup> {
  const found = await connector.findGroup(name);
  assert.ok(found, name);
  return found;
}

/** What the SDK raised: its name, HTTP status and the modelled members. */
async function failure(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string; error: Record<string, unknown> }> {
  const error = await promise.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e as Error & { $metadata?: { httpStatusCode?: number } },
  );
  return { name: error.name, status: error.$metadata?.httpStatusCode, message: error.message, error: error as unknown as Record<string, unknown> };
}

class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {}
}

/** A request signed like the SDK signs, but with any target and body: for what the SDK cannot send. */
async function rawCall(target: string | null, body: string, { sign = true }: { sign?: boolean } = {}): Promise<{ status: number; errorType: string | null; body: Record<string, unknown> }> {
  const url = new URL(endpoint);
  const headers: Record<string, string> = { host: url.host, 'content-type': 'application/x-amz-json-1.1', ...(target ? { 'x-amz-target': target } : {}) };
  const request = { method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: `${url.pathname}/`, query: {}, headers, body };
  const signed = sign
    ? await new SignatureV4({ service: 'identitystore', region: 'us-east-1', credentials: key, sha256: NodeSha256 }).sign(request)
    : request;
  const response = await fetch(`${url.origin}${request.path}`, { method: 'POST', headers: signed.headers, body });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), body: (await response.json()) as Record<string, unknown> };
}

before(async () => {
  fixture = await startManagedFixture();
  connector = createAdConnector(sambaOptions({}, fixture.runtime));
  dataDir = await mkdtemp(join(tmpdir(), 'portico-identitystore-'));
  db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
  await migrateToLatest(db);
  users = createKyselyIdentityUserStore(db);
  const secretKey = randomBytes(32);
  credentials = createKyselyApplicationCredentialStore(db, createSecretBox(secretKey));
  identityStoreId = deriveIdentityStoreId(secretKey);

  for (const name of FIXTURE_USERS) {
    const account = await connector.findUser(fixtureUser(name).upn);
    assert.ok(account, name);
    provisioned.set(name, await provision(account, fixtureUser(name).upn));
  }
  // Members of the big group without a UPN in the fixture: provisioned under their implicit UPN.
  for (let i = 1; i <= BULK_USERS; i += 1) {
    const name = `bulk${String(i).padStart(4, '0')}`;
    const account = await connector.findUser(name);
    assert.ok(account, name);
    provisioned.set(name, await provision(account, `${name}@${DOMAIN}`));
  }

  http = Fastify();
  await registerIdentityStoreApi(http, {
    users,
    groups: identityStoreGroups(() => connector),
    credentials,
    identityStoreId,
    audit: createKyselyAuditLog(db),
    clock: () => new Date(Date.now() + serverClockOffsetMs),
  });
  const address = await http.listen({ host: '127.0.0.1', port: 0 });
  endpoint = `${address}/identitystore`;
  key = await credentials.create('integration test');
});

after(async () => {
  await http?.close();
  await connector?.close();
  await db?.destroy();
  await fixture?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the IdentityStore API through the AWS SDK', () => {
  describe('users', () => {
    it('ListUsers pages through every provisioned user', async () => {
      const seen: string[] = [];
      let pages = 0;
      for await (const page of paginateListUsers({ client: client(), pageSize: 5 }, { IdentityStoreId: identityStoreId })) {
        pages += 1;
        assert.ok((page.Users ?? []).length <= 5);
        seen.push(...(page.Users ?? []).map((u) => u.UserId ?? ''));
      }
      assert.equal(seen.length, FIXTURE_USERS.length + BULK_USERS);
      assert.equal(new Set(seen).size, seen.length);
      assert.equal(pages, Math.ceil(seen.length / 5));
      assert.deepEqual(new Set(seen), new Set([...provisioned.values()].map((u) => u.userId)));
    });

    it('DescribeUser returns the AWS User shape', async () => {
      const alice = user('alice');
      const described = await client().send(new DescribeUserCommand({ IdentityStoreId: identityStoreId, UserId: alice.userId }));
      assert.equal(described.UserId, alice.userId);
      assert.equal(described.UserName, 'alice@corp.example.test');
      assert.equal(described.IdentityStoreId, identityStoreId);
      assert.equal(described.Name?.GivenName, 'Alice');
      assert.equal(described.Name?.FamilyName, fixtureUser('alice').sn);
      assert.equal(described.Name?.Formatted, `Alice ${fixtureUser('alice').sn}`);
      assert.equal(described.DisplayName, fixtureUser('alice').displayName);
      assert.deepEqual(described.Emails, [{ Value: fixtureUser('alice').mail, Type: 'work', Primary: true }]);
      assert.deepEqual(described.ExternalIds, [{ Issuer: 'ad:corp.example.test', Id: alice.activeDirectory.guid }]);
      assert.equal(typeof described.$metadata.requestId, 'string');
    });

    it('GetUserId finds a user by ExternalId, userName and email', async () => {
      const zoe = user('zoe');
      const byExternalId = await client().send(
        new GetUserIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { ExternalId: { Issuer: 'ad:corp.example.test', Id: zoe.activeDirectory.guid } } }),
      );
      assert.equal(byExternalId.UserId, zoe.userId);
      assert.equal(byExternalId.IdentityStoreId, identityStoreId);
      const byUserName = await client().send(
        new GetUserIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'userName', AttributeValue: fixtureUser('zoe').upn } } }),
      );
      assert.equal(byUserName.UserId, zoe.userId);
      const byEmail = await client().send(
        new GetUserIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'emails.value', AttributeValue: fixtureUser('zoe').mail.toUpperCase() } } }),
      );
      assert.equal(byEmail.UserId, zoe.userId);
      const wrongIssuer = await failure(
        client().send(new GetUserIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { ExternalId: { Issuer: 'ad:other.example.test', Id: zoe.activeDirectory.guid } } })),
      );
      assert.equal(wrongIssuer.name, 'ResourceNotFoundException');
      assert.equal(wrongIssuer.error.ResourceType, 'USER');
    });

    it('ListUsers still honours the deprecated UserName filter', async () => {
      const listed = await client().send(new ListUsersCommand({ IdentityStoreId: identityStoreId, Filters: [{ AttributePath: 'UserName', AttributeValue: 'BOB@corp.example.test' }] }));
      assert.deepEqual(listed.Users?.map((u) => u.UserId), [user('bob').userId]);
      const none = await client().send(new ListUsersCommand({ IdentityStoreId: identityStoreId, Filters: [{ AttributePath: 'UserName', AttributeValue: 'nobody@corp.example.test' }] }));
      assert.deepEqual(none.Users, []);
    });

    it('a removed user is not found by any lookup', async () => {
      const hank = user('hank');
      await users.remove(hank.userId);
      try {
        const described = await failure(client().send(new DescribeUserCommand({ IdentityStoreId: identityStoreId, UserId: hank.userId })));
        assert.equal(described.name, 'ResourceNotFoundException');
        assert.equal(described.status, 400);
        assert.equal(described.error.ResourceType, 'USER');
        assert.equal(described.error.ResourceId, hank.userId);
        const byName = await failure(
          client().send(new GetUserIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'userName', AttributeValue: hank.userName } } })),
        );
        assert.equal(byName.name, 'ResourceNotFoundException');
        assert.equal(byName.error.ResourceType, 'USER');
        const sales = await group('Sales-Team');
        const members = await client().send(new ListGroupMembershipsCommand({ IdentityStoreId: identityStoreId, GroupId: sales.guid }));
        assert.ok(!members.GroupMemberships?.some((m) => m.MemberId?.UserId === hank.userId));
      } finally {
        const account = await connector.findUser(fixtureUser('hank').upn);
        assert.ok(account);
        provisioned.set('hank', await provision(account, fixtureUser('hank').upn));
      }
    });
  });

  describe('groups, read from the directory', () => {
    it('ListGroups pages through every group of the directory', async () => {
      const seen: string[] = [];
      for await (const page of paginateListGroups({ client: client(), pageSize: 25 }, { IdentityStoreId: identityStoreId })) {
        seen.push(...(page.Groups ?? []).map((g) => g.DisplayName ?? ''));
      }
      const all = await connector.listGroups({ limit: 10_000 });
      assert.deepEqual(seen, all.groups.map((g) => g.qualifiedName));
      assert.ok(seen.includes('Sales-Team@corp.example.test'));
      assert.ok(seen.length > 25);
    });

    it('DescribeGroup returns the objectGUID as GroupId and name@domain as DisplayName', async () => {
      const sales = await group('Sales-Team');
      const described = await client().send(new DescribeGroupCommand({ IdentityStoreId: identityStoreId, GroupId: sales.guid }));
      assert.equal(described.GroupId, sales.guid);
      assert.equal(described.DisplayName, 'Sales-Team@corp.example.test');
      assert.deepEqual(described.ExternalIds, [{ Issuer: 'ad:corp.example.test', Id: sales.guid }]);
      assert.equal(described.IdentityStoreId, identityStoreId);
      const missing = await failure(client().send(new DescribeGroupCommand({ IdentityStoreId: identityStoreId, GroupId: '00000000-0000-4000-8000-000000000000' })));
      assert.equal(missing.name, 'ResourceNotFoundException');
      assert.equal(missing.error.ResourceType, 'GROUP');
    });

    it('GetGroupId finds a group by DisplayName and by ExternalId', async () => {
      const sre = await group('Eng-Platform-SRE');
      const byName = await client().send(
        new GetGroupIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'displayName', AttributeValue: 'eng-platform-sre@CORP.example.test' } } }),
      );
      assert.equal(byName.GroupId, sre.guid);
      const byExternalId = await client().send(
        new GetGroupIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { ExternalId: { Issuer: 'ad:corp.example.test', Id: sre.guid } } }),
      );
      assert.equal(byExternalId.GroupId, sre.guid);
      // The bare sAMAccountName is not the DisplayName.
      const bare = await failure(
        client().send(new GetGroupIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'displayName', AttributeValue: 'Eng-Platform-SRE' } } })),
      );
      assert.equal(bare.name, 'ResourceNotFoundException');
      assert.equal(bare.error.ResourceType, 'GROUP');
      const filtered = await client().send(new ListGroupsCommand({ IdentityStoreId: identityStoreId, Filters: [{ AttributePath: 'DisplayName', AttributeValue: 'Eng-Platform-SRE@corp.example.test' }] }));
      assert.deepEqual(filtered.Groups?.map((g) => g.GroupId), [sre.guid]);
    });
  });

  describe('memberships: direct AD membership of provisioned users', () => {
    it('ListGroupMemberships lists the provisioned direct members, not nested ones', async () => {
      const sales = await group('Sales-Team');
      const listed = await client().send(new ListGroupMembershipsCommand({ IdentityStoreId: identityStoreId, GroupId: sales.guid }));
      const expected = ['bob', 'jsmith', 'hank', 'dave', 'mike', 'paula'].map((name) => user(name).userId);
      assert.deepEqual(new Set(listed.GroupMemberships?.map((m) => m.MemberId?.UserId)), new Set(expected));
      for (const membership of listed.GroupMemberships ?? []) {
        assert.equal(membership.GroupId, sales.guid);
        assert.equal(membership.IdentityStoreId, identityStoreId);
        assert.equal(membership.MembershipId, membershipId(sales.guid, membership.MemberId?.UserId ?? ''));
      }
      // alice is in Eng-All only through Eng-Platform-SRE → Eng-Platform → Eng-All.
      const engAll = await client().send(new ListGroupMembershipsCommand({ IdentityStoreId: identityStoreId, GroupId: (await group('Eng-All')).guid }));
      assert.deepEqual(new Set(engAll.GroupMemberships?.map((m) => m.MemberId?.UserId)), new Set(['zoe', 'erin', 'frank'].map((name) => user(name).userId)));
    });

    it('pages a big group, skipping members that were never provisioned', async () => {
      const big = await group('Big-Group');
      const seen: string[] = [];
      let pages = 0;
      for await (const page of paginateListGroupMemberships({ client: client(), pageSize: 7 }, { IdentityStoreId: identityStoreId, GroupId: big.guid })) {
        pages += 1;
        seen.push(...(page.GroupMemberships ?? []).map((m) => m.MemberId?.UserId ?? ''));
      }
      assert.equal(seen.length, BULK_USERS);
      assert.equal(new Set(seen).size, BULK_USERS);
      assert.ok(pages >= 3, String(pages));
    });

    it("ListGroupMembershipsForMember lists a user's direct groups, the primary group included", async () => {
      const alice = user('alice');
      const listed = await client().send(new ListGroupMembershipsForMemberCommand({ IdentityStoreId: identityStoreId, MemberId: { UserId: alice.userId } }));
      const expected = await Promise.all(['All-Staff', 'Cycle-A', 'Domain Users', 'Eng-Platform-SRE', 'Portico-Admins'].map(async (name) => (await group(name)).guid));
      assert.deepEqual(new Set(listed.GroupMemberships?.map((m) => m.GroupId)), new Set(expected));
      const greg = user('greg');
      const paged: string[] = [];
      let token: string | undefined;
      do {
        const page = await client().send(new ListGroupMembershipsForMemberCommand({ IdentityStoreId: identityStoreId, MemberId: { UserId: greg.userId }, MaxResults: 10, NextToken: token }));
        paged.push(...(page.GroupMemberships ?? []).map((m) => m.GroupId ?? ''));
        token = page.NextToken;
      } while (token);
      assert.equal(paged.length, 42); // 41 groups of the fixture and Domain Users
      assert.equal(new Set(paged).size, 42);
    });

    it('IsMemberInGroups and GetGroupMembershipId answer for direct membership only', async () => {
      const alice = user('alice');
      const [sre, platform, sales] = await Promise.all(['Eng-Platform-SRE', 'Eng-Platform', 'Sales-Team'].map(group));
      assert.ok(sre && platform && sales);
      const answer = await client().send(new IsMemberInGroupsCommand({ IdentityStoreId: identityStoreId, MemberId: { UserId: alice.userId }, GroupIds: [sre.guid, platform.guid, sales.guid] }));
      assert.deepEqual(
        answer.Results?.map((r) => [r.GroupId, r.MemberId?.UserId, r.MembershipExists]),
        [
          [sre.guid, alice.userId, true],
          [platform.guid, alice.userId, false],
          [sales.guid, alice.userId, false],
        ],
      );
      const id = await client().send(new GetGroupMembershipIdCommand({ IdentityStoreId: identityStoreId, GroupId: sre.guid, MemberId: { UserId: alice.userId } }));
      assert.equal(id.MembershipId, membershipId(sre.guid, alice.userId));
      const nested = await failure(client().send(new GetGroupMembershipIdCommand({ IdentityStoreId: identityStoreId, GroupId: platform.guid, MemberId: { UserId: alice.userId } })));
      assert.equal(nested.name, 'ResourceNotFoundException');
      assert.equal(nested.error.ResourceType, 'GROUP_MEMBERSHIP');
    });
  });

  describe('authentication', () => {
    it('refuses a wrong secret with InvalidSignatureException', async () => {
      const refused = await failure(client({ accessKeyId: key.accessKeyId, secretAccessKey: 'x'.repeat(40) }).send(new ListUsersCommand({ IdentityStoreId: identityStoreId })));
      assert.equal(refused.name, 'InvalidSignatureException');
      assert.equal(refused.status, 400);
      assert.match(refused.message, /signature we calculated does not match/);
    });

    it('refuses an unknown access key with UnrecognizedClientException', async () => {
      const refused = await failure(client({ accessKeyId: 'PKIAAAAAAAAAAAAAAAAA', secretAccessKey: key.secretAccessKey }).send(new ListUsersCommand({ IdentityStoreId: identityStoreId })));
      assert.equal(refused.name, 'UnrecognizedClientException');
      assert.equal(refused.status, 400);
    });

    it('refuses a revoked key, and audits refusals', async () => {
      const doomed = await credentials.create('short-lived');
      await client(doomed).send(new ListUsersCommand({ IdentityStoreId: identityStoreId, MaxResults: 1 }));
      assert.ok((await credentials.list()).find((c) => c.accessKeyId === doomed.accessKeyId)?.lastUsedAt);
      assert.equal(await credentials.revoke(doomed.accessKeyId), true);
      const refused = await failure(client(doomed).send(new ListUsersCommand({ IdentityStoreId: identityStoreId })));
      assert.equal(refused.name, 'UnrecognizedClientException');
      const events = await createKyselyAuditLog(db).list({ limit: 100, action: 'identitystore.api.refused' });
      const event = events.find((e) => e.target === doomed.accessKeyId);
      assert.equal(event?.outcome, 'failure');
      assert.equal(event?.details.reason, 'UnrecognizedClientException');
      assert.equal(event?.details.operation, 'AWSIdentityStore.ListUsers');
      assert.ok(!JSON.stringify(events).includes(doomed.secretAccessKey));
    });

    it("refuses a request signed more than 5 minutes off the server's clock, which the SDK then corrects", async () => {
      serverClockOffsetMs = 10 * 60_000;
      try {
        const refused = await failure(client().send(new ListUsersCommand({ IdentityStoreId: identityStoreId, MaxResults: 1 })));
        assert.equal(refused.name, 'InvalidSignatureException');
        assert.match(refused.message, /^Signature expired: /);
        // The SDK reads the server's time from the Date header, adjusts its offset and retries.
        const retrying = new IdentitystoreClient({ endpoint, region: 'eu-central-1', credentials: key, maxAttempts: 2 });
        const listed = await retrying.send(new ListUsersCommand({ IdentityStoreId: identityStoreId, MaxResults: 1 }));
        assert.equal(listed.Users?.length, 1);
      } finally {
        serverClockOffsetMs = 0;
      }
    });

    it('answers an unsigned request with MissingAuthenticationTokenException', async () => {
      const response = await rawCall('AWSIdentityStore.ListUsers', JSON.stringify({ IdentityStoreId: identityStoreId }), { sign: false });
      assert.equal(response.status, 400);
      assert.equal(response.errorType, 'MissingAuthenticationTokenException');
      assert.equal(response.body.__type, 'MissingAuthenticationTokenException');
    });
  });

  describe('errors in the AWS JSON 1.1 form', () => {
    it('answers bad input with ValidationException', async () => {
      const zero = await failure(client().send(new ListUsersCommand({ IdentityStoreId: identityStoreId, MaxResults: 0 })));
      assert.equal(zero.name, 'ValidationException');
      assert.equal(zero.status, 400);
      assert.match(zero.message, /^1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1$/);
      const otherStore = await failure(client().send(new ListUsersCommand({ IdentityStoreId: 'd-0000000000' })));
      assert.equal(otherStore.name, 'ValidationException');
      assert.match(otherStore.message, new RegExp(identityStoreId));
      const badId = await failure(client().send(new DescribeUserCommand({ IdentityStoreId: identityStoreId, UserId: 'not-a-user-id' })));
      assert.equal(badId.name, 'ValidationException');
      assert.match(badId.message, /'userId'/);
      const badPath = await failure(
        client().send(new GetUserIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'title', AttributeValue: 'x' } } })),
      );
      assert.equal(badPath.name, 'ValidationException');
      const badToken = await failure(client().send(new ListGroupsCommand({ IdentityStoreId: identityStoreId, NextToken: 'bm90LWEtdG9rZW4' })));
      assert.equal(badToken.name, 'ValidationException');
    });

    it('refuses writes with AccessDeniedException: users and groups come from AD', async () => {
      const refused = await failure(client().send(new CreateUserCommand({ IdentityStoreId: identityStoreId, UserName: 'mallory', DisplayName: 'Mallory' })));
      assert.equal(refused.name, 'AccessDeniedException');
      assert.equal(refused.status, 400);
      const unsupported = await failure(client().send(new DescribeGroupMembershipCommand({ IdentityStoreId: identityStoreId, MembershipId: membershipId((await group('Sales-Team')).guid, user('bob').userId) })));
      assert.equal(unsupported.name, 'ValidationException');
    });

    it('answers an unknown X-Amz-Target with UnknownOperationException, body and header', async () => {
      const response = await rawCall('AWSIdentityStore.ListEverything', JSON.stringify({ IdentityStoreId: identityStoreId }));
      assert.equal(response.status, 400);
      assert.equal(response.errorType, 'UnknownOperationException');
      assert.equal(response.body.__type, 'UnknownOperationException');
      assert.equal(typeof response.body.Message, 'string');
      const prototype = await rawCall('AWSIdentityStore.constructor', '{}');
      assert.equal(prototype.errorType, 'UnknownOperationException');
      const none = await rawCall(null, '{}');
      assert.equal(none.errorType, 'UnknownOperationException');
    });

    it('answers a body that is not JSON with SerializationException', async () => {
      const response = await rawCall('AWSIdentityStore.ListUsers', '{"IdentityStoreId":');
      assert.equal(response.status, 400);
      assert.equal(response.errorType, 'SerializationException');
    });
  });
});
