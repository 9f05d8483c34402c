/**
 * The identity store's window on the directory (issue 14): the group reads the IdentityStore API
 * serves (groups are read from AD on every call, never provisioned) and a user record's direct
 * groups. The HTTP face (identity-store-api/) reads the directory only through this service, so
 * it holds no connector of its own.
 */
import type { DirectoryConnector, DirectoryGroup, GroupListOptions, GroupListPage } from '#src/directory/types.ts';
import { isGuid } from '#src/directory/ad-codec.ts';
import type { IdentityGroup, IdentityGroupReader } from './groups.ts';
import type { IdentityUser } from './user.ts';

export type { DirectoryGroup, GroupListPage } from '#src/directory/types.ts';
export { isGuid } from '#src/directory/ad-codec.ts';

export interface IdentityStoreGroups {
  /** By `objectGUID@domain`-style or `name@domain` lookup, as the connector's findGroup. */
  findGroup(name: string): Promise<DirectoryGroup | null>;
  listGroups(options: GroupListOptions): Promise<GroupListPage>;
  /** The objectGUIDs of the group's direct user members (member values and primary group). */
  groupUserGuids(group: DirectoryGroup): Promise<string[]>;
  /** The groups a user record's AD account is directly in; none when the account is gone from AD. */
  directGroupsOfUser(user: IdentityUser): Promise<DirectoryGroup[]>;
  /**
   * Stored memberships, a page at a time (only when groups are synchronised into the store):
   * what DescribeGroupMembership searches, since membership ids are derived, not stored.
   */
  userMemberships?: IdentityGroupReader['userMemberships'];
}

/** The reads over the identity source's current connector; null while it is unavailable. */
export function identityStoreGroups(directory: () => DirectoryConnector | null): () => IdentityStoreGroups | null {
  return () => {
    const connector = directory();
    if (connector === null) return null;
    return {
      findGroup: (name) => connector.findGroup(name),
      listGroups: (options) => connector.listGroups(options),
      groupUserGuids: (group) => connector.groupUserGuids(group),
      async directGroupsOfUser(user) {
        const account = await connector.findUserByGuid(user.activeDirectory.guid);
        return account ? connector.directGroupsOf(account) : [];
      },
    };
  };
}

/**
 * The group reads once the administrator chose a sync scope (issue 18): the identity store's own
 * groups and direct memberships, written by the AD sync. Until then (`synced()` false) the reads
 * go to AD as before, so that an instance without a scope behaves as it always did.
 */
export function syncedIdentityStoreGroups(store: IdentityGroupReader, synced: () => boolean, fromDirectory: () => IdentityStoreGroups | null): () => IdentityStoreGroups | null {
  const stored: IdentityStoreGroups = {
    async findGroup(name) {
      const trimmed = name.trim();
      const at = trimmed.lastIndexOf('@');
      const bare = at > 0 ? trimmed.slice(0, at) : trimmed;
      if (isGuid(bare)) {
        const group = await store.get(bare.toLowerCase());
        if (!group || (at > 0 && group.domain !== trimmed.slice(at + 1).toLowerCase())) return null;
        return toDirectoryGroup(group);
      }
      const group = await store.findByDisplayName(trimmed);
      return group ? toDirectoryGroup(group) : null;
    },
    async listGroups({ limit, after }) {
      const page = await store.list({ limit, after });
      return { groups: page.groups.map(toDirectoryGroup), more: page.more };
    },
    groupUserGuids: (group) => store.memberUserGuids(group.guid),
    async directGroupsOfUser(user) {
      return (await store.groupsOfUser(user.activeDirectory.guid)).map(toDirectoryGroup);
    },
    userMemberships: (options) => store.userMemberships(options),
  };
  return () => (synced() ? stored : fromDirectory());
}

function toDirectoryGroup(group: IdentityGroup): DirectoryGroup {
  return { guid: group.groupId, sid: group.sid, dn: group.dn, name: group.name, qualifiedName: group.displayName, kind: group.kind, scope: group.scope };
}
