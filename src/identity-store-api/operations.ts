/**
 * The IdentityStore API's operations on Portico's data: users from the identity store (JIT
 * provisioned or synchronised, removed ones invisible), groups from the identity store once a
 * sync scope exists (issue 18), else read from AD on every call (never provisioned by JIT).
 * Pure of HTTP: each operation takes the parsed JSON body and returns the response body.
 *
 * Memberships are direct AD memberships: a group's `member` values and the users whose primary
 * group it is. The IdentityStore's data model has no nested groups, so a user who is in a group
 * only through another group is not listed as its member (sign-in and access evaluation, which
 * do resolve nesting, are another matter). Only provisioned users appear as members.
 */
import { isGuid, type DirectoryGroup, type IdentityStoreGroups } from '#src/identity-store/directory-groups.ts';
import type { IdentityUser, IdentityUserReader } from '#src/identity-store/user.ts';
import { IdentityStoreError, resourceNotFound, validationError } from './errors.ts';
import { Input, patterns } from './input.ts';
import {
  decodePageToken,
  encodePageToken,
  groupDomain,
  membershipId,
  toAwsGroup,
  toAwsMembership,
  toAwsUser,
  type AwsGroupMembership,
} from './shapes.ts';

export interface IdentityStoreOperationDeps {
  users: IdentityUserReader;
  /** The identity store's directory reads (identity-store/directory-groups.ts); null while the identity source is unavailable. */
  groups: () => IdentityStoreGroups | null;
  identityStoreId: string;
}

export type Operation = (body: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** Operations AWS defines that change the store: refused, users and groups come from AD. */
export const writeOperations = [
  'CreateUser',
  'UpdateUser',
  'DeleteUser',
  'CreateGroup',
  'UpdateGroup',
  'DeleteGroup',
  'CreateGroupMembership',
  'DeleteGroupMembership',
] as const;

const DEFAULT_PAGE = 100;
/** At most this many member lookups per ListGroupMemberships page; a page may then be short. */
const MEMBER_LOOKUPS_PER_PAGE = 1000;
const LOOKUP_BATCH = 25;

export function createIdentityStoreOperations(deps: IdentityStoreOperationDeps): Record<string, Operation> {
  const storeId = deps.identityStoreId;

  /** Reads the members every request has, checks the rest, and the identity store id last. */
  function begin(body: Record<string, unknown>): Input {
    const input = new Input(body);
    input.string('IdentityStoreId', { required: true, min: 1, max: 36, pattern: patterns.identityStoreId });
    return input;
  }

  function finish(input: Input, body: Record<string, unknown>): void {
    input.finish();
    if (body.IdentityStoreId !== storeId) {
      throw validationError([`Value at 'identityStoreId' failed to satisfy constraint: Member must be the identity store of this Portico instance (${storeId})`]);
    }
  }

  const pageSize = (input: Input): number => input.integer('MaxResults', { min: 1, max: 100 }) ?? DEFAULT_PAGE;
  const nextToken = (input: Input): string | undefined => input.string('NextToken', { min: 1, max: 65535, pattern: patterns.nextToken });
  const resourceId = (input: Input, member: string): string => input.string(member, { required: true, min: 1, max: 47, pattern: patterns.resourceId });

  function directory(): IdentityStoreGroups {
    const connector = deps.groups();
    if (!connector) {
      throw new IdentityStoreError('InternalServerException', 'The identity source is unavailable: groups cannot be read now. Retry later.', {
        fields: { RetryAfterSeconds: 30 },
      });
    }
    return connector;
  }

  async function userById(userId: string): Promise<IdentityUser> {
    const user = await deps.users.get(userId);
    if (!user) throw resourceNotFound('USER', userId, `No user with UserId ${userId} exists in identity store ${storeId}.`);
    return user;
  }

  /** A group by its GroupId (objectGUID), in any forest the directory reads. */
  async function groupById(groupId: string): Promise<DirectoryGroup> {
    const group = isGuid(groupId) ? await directory().findGroup(groupId.toLowerCase()) : null;
    if (!group || group.guid.toLowerCase() !== groupId.toLowerCase()) {
      throw resourceNotFound('GROUP', groupId, `No group with GroupId ${groupId} exists in identity store ${storeId}.`);
    }
    return group;
  }

  /** A group by its DisplayName, `name@domain`, matched exactly (case-insensitively). */
  async function groupByDisplayName(displayName: string): Promise<DirectoryGroup | null> {
    const at = displayName.lastIndexOf('@');
    if (at <= 0) return null;
    // Domain names are case-insensitive; the directory matches the name part case-insensitively.
    const group = await directory().findGroup(`${displayName.slice(0, at)}@${displayName.slice(at + 1).toLowerCase()}`);
    return group && group.qualifiedName.toLowerCase() === displayName.toLowerCase() ? group : null;
  }

  /** The groups a user record's AD account is directly in; none when the account is gone from AD. */
  async function directGroupsOfUser(user: IdentityUser): Promise<DirectoryGroup[]> {
    return directory().directGroupsOfUser(user);
  }

  function memberUserId(input: Input): string {
    const member = input.structure('MemberId', { required: true });
    if (!member) return '';
    member.oneOf(['UserId']);
    return resourceId(member, 'UserId');
  }

  function alternateIdentifier(input: Input): { kind: 'ExternalId'; issuer: string; id: string } | { kind: 'UniqueAttribute'; path: string; value: unknown } | undefined {
    const alternate = input.structure('AlternateIdentifier', { required: true });
    const kind = alternate?.oneOf(['ExternalId', 'UniqueAttribute']);
    if (!alternate || !kind) return undefined;
    const inner = alternate.structure(kind, { required: true });
    if (!inner) return undefined;
    if (kind === 'ExternalId') {
      const issuer = inner.string('Issuer', { required: true, min: 1, max: 100, pattern: patterns.externalIdIssuer });
      const id = inner.string('Id', { required: true, min: 1, max: 256, pattern: patterns.externalIdId });
      return { kind: 'ExternalId', issuer, id };
    }
    const path = inner.string('AttributePath', { required: true, min: 1, max: 255, pattern: patterns.attributePath });
    if (!inner.has('AttributeValue')) inner.string('AttributeValue', { required: true });
    return { kind: 'UniqueAttribute', path, value: inner.raw('AttributeValue') };
  }

  function filters(input: Input): Array<{ path: string; value: string }> {
    return (
      input.list('Filters', { min: 0, max: 1 }, (at) => {
        const filter = at.structure('', { required: true });
        return {
          path: filter?.string('AttributePath', { required: true, min: 1, max: 255, pattern: patterns.attributePath }) ?? '',
          value: filter?.string('AttributeValue', { required: true, min: 1, max: 1024 }) ?? '',
        };
      }) ?? []
    );
  }

  function unsupportedAttribute(member: string, path: string, allowed: string[]): IdentityStoreError {
    return validationError([`Value at '${member}' failed to satisfy constraint: ${path} is not a supported attribute path; use ${allowed.join(' or ')}`]);
  }

  const operations: Record<string, Operation> = {
    async ListUsers(body) {
      const input = begin(body);
      const limit = pageSize(input);
      const token = nextToken(input);
      const [filter] = filters(input);
      finish(input, body);
      if (filter) {
        if (filter.path.toLowerCase() !== 'username') throw unsupportedAttribute('filters.1.attributePath', filter.path, ['UserName']);
        const user = await deps.users.findByUserName(filter.value);
        return { Users: user ? [toAwsUser(user, storeId)] : [] };
      }
      const page = await deps.users.list({ limit, after: decodePageToken(token, 'ListUsers') });
      return {
        Users: page.users.map((user) => toAwsUser(user, storeId)),
        ...(page.next === null ? {} : { NextToken: encodePageToken('ListUsers', page.next) }),
      };
    },

    async DescribeUser(body) {
      const input = begin(body);
      const userId = resourceId(input, 'UserId');
      finish(input, body);
      return { ...toAwsUser(await userById(userId), storeId) };
    },

    async GetUserId(body) {
      const input = begin(body);
      const identifier = alternateIdentifier(input);
      finish(input, body);
      let user: IdentityUser | undefined;
      if (identifier?.kind === 'ExternalId') {
        const candidate = isGuid(identifier.id) ? await deps.users.findByGuid(identifier.id.toLowerCase()) : undefined;
        const matches = candidate?.externalIds.some((e) => e.issuer === identifier.issuer && e.id.toLowerCase() === identifier.id.toLowerCase());
        user = matches ? candidate : undefined;
      } else if (identifier?.kind === 'UniqueAttribute') {
        const path = identifier.path.toLowerCase();
        if (path !== 'username' && path !== 'emails.value') {
          throw unsupportedAttribute('alternateIdentifier.uniqueAttribute.attributePath', identifier.path, ['userName', 'emails.value']);
        }
        if (typeof identifier.value !== 'string' || identifier.value.length === 0) {
          throw validationError(["Value at 'alternateIdentifier.uniqueAttribute.attributeValue' failed to satisfy constraint: Member must be a non-empty string"]);
        }
        user = path === 'username' ? await deps.users.findByUserName(identifier.value) : await deps.users.findByEmail(identifier.value);
      }
      if (!user) throw resourceNotFound('USER', null, `No user matches the AlternateIdentifier in identity store ${storeId}.`);
      return { UserId: user.userId, IdentityStoreId: storeId };
    },

    async ListGroups(body) {
      const input = begin(body);
      const limit = pageSize(input);
      const token = nextToken(input);
      const [filter] = filters(input);
      finish(input, body);
      if (filter) {
        if (filter.path.toLowerCase() !== 'displayname') throw unsupportedAttribute('filters.1.attributePath', filter.path, ['DisplayName']);
        const group = await groupByDisplayName(filter.value);
        return { Groups: group ? [toAwsGroup(group, storeId)] : [] };
      }
      const page = await directory().listGroups({ limit, after: decodePageToken(token, 'ListGroups') });
      const last = page.groups.at(-1);
      return {
        Groups: page.groups.map((group) => toAwsGroup(group, storeId)),
        ...(page.more && last ? { NextToken: encodePageToken('ListGroups', last.qualifiedName.toLowerCase()) } : {}),
      };
    },

    async DescribeGroup(body) {
      const input = begin(body);
      const groupId = resourceId(input, 'GroupId');
      finish(input, body);
      return { ...toAwsGroup(await groupById(groupId), storeId) };
    },

    async GetGroupId(body) {
      const input = begin(body);
      const identifier = alternateIdentifier(input);
      finish(input, body);
      let group: DirectoryGroup | null = null;
      if (identifier?.kind === 'ExternalId') {
        // Issuer `ad:<domain>`, Id the objectGUID: the ExternalIds every group carries.
        const domain = identifier.issuer.startsWith('ad:') ? identifier.issuer.slice(3) : null;
        if (domain && isGuid(identifier.id)) {
          const found = await directory().findGroup(`${identifier.id.toLowerCase()}@${domain}`);
          group = found && groupDomain(found) === domain && found.guid.toLowerCase() === identifier.id.toLowerCase() ? found : null;
        }
      } else if (identifier?.kind === 'UniqueAttribute') {
        if (identifier.path.toLowerCase() !== 'displayname') {
          throw unsupportedAttribute('alternateIdentifier.uniqueAttribute.attributePath', identifier.path, ['displayName']);
        }
        if (typeof identifier.value !== 'string' || identifier.value.length === 0) {
          throw validationError(["Value at 'alternateIdentifier.uniqueAttribute.attributeValue' failed to satisfy constraint: Member must be a non-empty string"]);
        }
        group = await groupByDisplayName(identifier.value);
      }
      if (!group) throw resourceNotFound('GROUP', null, `No group matches the AlternateIdentifier in identity store ${storeId}.`);
      return { GroupId: group.guid, IdentityStoreId: storeId };
    },

    async ListGroupMemberships(body) {
      const input = begin(body);
      const groupId = resourceId(input, 'GroupId');
      const limit = pageSize(input);
      const token = nextToken(input);
      finish(input, body);
      const after = decodePageToken(token, 'ListGroupMemberships', groupId.toLowerCase());
      const group = await groupById(groupId);
      // Ordered by objectGUID, so that a page resolves only the members it needs.
      const guids = (await directory().groupUserGuids(group)).map((g) => g.toLowerCase()).sort();
      const pending = after === undefined ? guids : guids.filter((guid) => guid > after);
      const memberships: AwsGroupMembership[] = [];
      let examined = 0;
      let stoppedAt: string | undefined;
      while (examined < pending.length && memberships.length < limit && examined < MEMBER_LOOKUPS_PER_PAGE) {
        const batch = pending.slice(examined, Math.min(examined + LOOKUP_BATCH, MEMBER_LOOKUPS_PER_PAGE));
        const users = await Promise.all(batch.map((guid) => deps.users.findByGuid(guid)));
        for (const [index, user] of users.entries()) {
          examined += 1;
          stoppedAt = batch[index];
          if (user) memberships.push(toAwsMembership(group.guid, user.userId, storeId));
          if (memberships.length === limit) break;
        }
      }
      return {
        GroupMemberships: memberships,
        ...(examined < pending.length && stoppedAt !== undefined ? { NextToken: encodePageToken('ListGroupMemberships', stoppedAt, groupId.toLowerCase()) } : {}),
      };
    },

    async ListGroupMembershipsForMember(body) {
      const input = begin(body);
      const userId = memberUserId(input);
      const limit = pageSize(input);
      const token = nextToken(input);
      finish(input, body);
      const after = decodePageToken(token, 'ListGroupMembershipsForMember', userId);
      const user = await userById(userId);
      const groups = (await directGroupsOfUser(user)).map((g) => g.guid.toLowerCase()).sort();
      const pending = after === undefined ? groups : groups.filter((guid) => guid > after);
      const page = pending.slice(0, limit);
      const last = page.at(-1);
      return {
        GroupMemberships: page.map((groupGuid) => toAwsMembership(groupGuid, user.userId, storeId)),
        ...(pending.length > limit && last ? { NextToken: encodePageToken('ListGroupMembershipsForMember', last, userId) } : {}),
      };
    },

    async IsMemberInGroups(body) {
      const input = begin(body);
      const userId = memberUserId(input);
      const groupIds = input.list('GroupIds', { min: 1, max: 100, required: true }, (at) => at.string('', { required: true, min: 1, max: 47, pattern: patterns.resourceId })) ?? [];
      finish(input, body);
      const user = await userById(userId);
      const direct = new Set((await directGroupsOfUser(user)).map((g) => g.guid.toLowerCase()));
      return {
        Results: groupIds.map((groupId) => ({ GroupId: groupId, MemberId: { UserId: user.userId }, MembershipExists: direct.has(groupId.toLowerCase()) })),
      };
    },

    async GetGroupMembershipId(body) {
      const input = begin(body);
      const groupId = resourceId(input, 'GroupId');
      const userId = memberUserId(input);
      finish(input, body);
      const user = await userById(userId);
      const group = await groupById(groupId);
      const direct = await directGroupsOfUser(user);
      if (!direct.some((g) => g.guid.toLowerCase() === group.guid.toLowerCase())) {
        throw resourceNotFound('GROUP_MEMBERSHIP', null, `User ${userId} is not a direct member of group ${groupId}.`);
      }
      return { MembershipId: membershipId(group.guid, user.userId), IdentityStoreId: storeId };
    },

    async DescribeGroupMembership(body) {
      const input = begin(body);
      const wanted = resourceId(input, 'MembershipId');
      finish(input, body);
      const groups = directory();
      if (groups.userMemberships) {
        // Synchronised groups: the stored memberships are searched for the derived id.
        let after: { groupId: string; userId: string } | undefined;
        for (;;) {
          const page = await groups.userMemberships({ limit: 1000, after });
          for (const m of page) {
            if (membershipId(m.groupId, m.userId) === wanted.toLowerCase()) return { ...toAwsMembership(m.groupId, m.userId, storeId) };
          }
          if (page.length < 1000) break;
          after = page.at(-1);
        }
        throw resourceNotFound('GROUP_MEMBERSHIP', wanted, `No membership with MembershipId ${wanted} exists in identity store ${storeId}.`);
      }
      return Promise.reject(
        new IdentityStoreError(
          'ValidationException',
          'DescribeGroupMembership needs a sync scope (groups synchronised into the identity store): without one Portico derives membership ids from the group and the user and keeps no index of them. Use GetGroupMembershipId, ListGroupMemberships or IsMemberInGroups.',
        ),
      );
    },
  };

  for (const name of writeOperations) {
    operations[name] = () =>
      Promise.reject(
        new IdentityStoreError(
          'AccessDeniedException',
          `${name} is not allowed: this identity store is read-only. Portico provisions users from Active Directory at sign-in and reads groups from it; change them in AD.`,
        ),
      );
  }
  return operations;
}
