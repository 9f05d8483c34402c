/**
 * The identity store's window on the directory (issue 14): the group reads the IdentityStore API
 * serves (groups are read from AD on every call, never provisioned) and a user record's direct
 * groups. The HTTP face (identity-store-api/) reads the directory only through this service, so
 * it holds no connector of its own.
 */
import type { DirectoryConnector, DirectoryGroup, GroupListOptions, GroupListPage } from '#src/directory/types.ts';
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
