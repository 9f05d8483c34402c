/**
 * Groups in the identity store (issue 18): written only by the AD sync, never by JIT. A group is
 * keyed on its objectGUID (its GroupId), named `name@domain` as before, and keeps its direct
 * memberships: users and groups by objectGUID, so that a user removed and provisioned again (a
 * new UserId) is still a member.
 */
import type { GroupKind, GroupScope } from '#src/directory/ad-codec.ts';

export interface IdentityGroup {
  /** The objectGUID, lower-cased: stable across renames and moves. */
  groupId: string;
  /** `name@domain`, the form every group is shown in. */
  displayName: string;
  name: string;
  domain: string;
  dn: string;
  sid: string;
  kind: GroupKind;
  scope: GroupScope;
  createdAt: Date;
  syncedAt: Date;
}

export type SyncedGroup = Omit<IdentityGroup, 'createdAt' | 'syncedAt'>;

export interface GroupMembers {
  /** objectGUIDs of the users directly in the group (member values and primary group). */
  users: string[];
  /** objectGUIDs of the groups directly in the group. */
  groups: string[];
}

export interface IdentityGroupPage {
  /** Ordered by lower-cased displayName. */
  groups: IdentityGroup[];
  more: boolean;
}

export interface IdentityGroupReader {
  get(groupId: string): Promise<IdentityGroup | undefined>;
  /** Case-insensitive exact match on `name@domain`. */
  findByDisplayName(displayName: string): Promise<IdentityGroup | undefined>;
  /** Groups whose lower-cased displayName sorts after `after`. */
  list(options: { limit: number; after?: string | undefined }): Promise<IdentityGroupPage>;
  count(): Promise<number>;
  /** objectGUIDs of the group's direct user members, sorted. */
  memberUserGuids(groupId: string): Promise<string[]>;
  /** The groups a user (by objectGUID) is directly in. */
  groupsOfUser(userGuid: string): Promise<IdentityGroup[]>;
  /** Every direct membership of a live user record, with its UserId (for DescribeGroupMembership), a page at a time. */
  userMemberships(options: { limit: number; after?: { groupId: string; userId: string } | undefined }): Promise<Array<{ groupId: string; userId: string }>>;
}

export interface IdentityGroupWriter extends IdentityGroupReader {
  /** Creates or refreshes the group and replaces its direct memberships. */
  put(group: SyncedGroup, members: GroupMembers, at: Date): Promise<'created' | 'updated' | 'unchanged'>;
  /** Removes the group and its memberships (deleted in AD, or out of the sync scope). */
  remove(groupId: string): Promise<boolean>;
  /** Every stored GroupId. */
  ids(): Promise<string[]>;
  /** Deletes every group (changing the identity source). */
  removeAll(): Promise<number>;
}

/** What the last sync saw of a user's AD account. */
export type DirectoryAccountState = 'active' | 'disabled' | 'locked' | 'expired' | 'deleted';

export interface UserDirectoryStateWriter {
  /** Records the AD account's state on the user record of `guid`; false when there is none. */
  setDirectoryState(guid: string, state: DirectoryAccountState, at: Date): Promise<boolean>;
  /** The state last recorded for the user of `guid`, null when never synced or no record. */
  directoryState(guid: string): Promise<{ state: DirectoryAccountState; at: Date } | null>;
  /** objectGUIDs of the live records a sync has seen (directory_state set), for reconciliation. */
  syncedGuids(): Promise<string[]>;
}
