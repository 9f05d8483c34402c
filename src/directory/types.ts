/**
 * The connector's view of AD: users and groups keyed on objectGUID, and the typed outcomes of a
 * sign-in bind. Everything another domain needs from a directory goes through `DirectoryConnector`.
 */
import type { AccountStateReport, BindOutcome, GroupKind, GroupScope } from './ad-codec.ts';
import type { GroupResolutionMethod } from './options.ts';
import type { ControllerStatus } from './pool.ts';
import type { DirectoryVerdict, RootDse } from './rootdse.ts';

export interface DirectoryUser {
  guid: string;
  sid: string;
  dn: string;
  samAccountName: string;
  userPrincipalName: string | null;
  displayName: string | null;
  givenName: string | null;
  surname: string | null;
  mail: string | null;
  /** NetBIOS name of the user's domain, for DOMAIN\name display. */
  netbiosName: string;
  /** DNS name of the user's domain. */
  domain: string;
  primaryGroupId: number | null;
  account: AccountStateReport;
  /** Every string-valued attribute read, by its LDAP name, for attribute mappings. */
  attributes: Record<string, string[]>;
}

export interface DirectoryGroup {
  guid: string;
  sid: string;
  dn: string;
  /** sAMAccountName of the group. */
  name: string;
  /** `name@domain`, the form shown wherever a group is named. */
  qualifiedName: string;
  kind: GroupKind;
  scope: GroupScope;
}

export interface TransitiveGroups {
  method: GroupResolutionMethod;
  groups: DirectoryGroup[];
  /** True when the cap on groups evaluated per user cut the list. */
  truncated: boolean;
  warnings: string[];
}

export type AuthenticationResult =
  | { outcome: 'ok'; user: DirectoryUser; controller: string }
  | {
      outcome: Exclude<BindOutcome, 'ok'>;
      /** AD's sub-code (52e, 533 …) for the audit log; never shown to the person signing in. */
      subCode: string | null;
      controller: string | null;
      /**
       * The objectGUID of the account the name designated when the bind was answered, when the
       * entry read alongside found one: a failure counts against it (it may differ from a stale
       * cached resolution).
       */
      guid?: string;
    };

/**
 * The directory account a spelling designates (UPN in any case, alternative UPN suffix, implicit
 * UPN, NETBIOS\sam, DNS-DOMAIN\sam, sAMAccountName, DN, objectGUID), resolved before any bind so
 * that the sign-in throttle counts per account whatever the spelling.
 */
export interface ResolvedAccount {
  guid: string;
  dn: string;
  samAccountName: string;
  userPrincipalName: string | null;
  /** DNS name of the account's domain. */
  domain: string;
  /**
   * The lockout threshold that applies to this account: its fine-grained password policy's
   * (msDS-ResultantPSO) where the directory exposes it, else the domain's; 0 never locks; null unknown.
   */
  lockoutThreshold: number | null;
  /** The connector's own service account: never bound as a user, never to be locked through Portico. */
  serviceAccount: boolean;
}

export type DirectoryPrincipal =
  | {
      type: 'user';
      guid: string;
      dn: string;
      samAccountName: string;
      userPrincipalName: string | null;
      displayName: string | null;
      mail: string | null;
    }
  | ({ type: 'group' } & DirectoryGroup);

export interface PrincipalSearchOptions {
  types?: Array<'user' | 'group'>;
  /** At most this many principals; `more` tells whether the directory had others. */
  limit?: number;
}

export interface PrincipalSearchResult {
  principals: DirectoryPrincipal[];
  more: boolean;
}

export interface GroupListOptions {
  /** At most this many groups; `more` tells whether there are others after them. */
  limit: number;
  /** Only groups whose lower-cased `qualifiedName` sorts after this one: the last of the previous page. */
  after?: string | undefined;
}

export interface GroupListPage {
  /** Ordered by lower-cased `qualifiedName`, in UTF-16 code-unit order (the same everywhere). */
  groups: DirectoryGroup[];
  more: boolean;
}

export interface UserSampleOptions extends UserReadOptions {
  limit: number;
}

export interface UserSample {
  users: DirectoryUser[];
  /** True when the directory has users beyond the sample. */
  more: boolean;
}

export interface DomainInfo {
  rootDse: RootDse;
  baseDn: string;
  domain: string;
  netbiosName: string;
  domainSid: string | null;
  lockoutThreshold: number | null;
  policy: { lockoutDurationMs: number | null; maxPasswordAgeMs: number | null };
  controller: string;
}

export interface DirectoryCheck {
  verdict: DirectoryVerdict;
  info: DomainInfo;
  /** Whether the service account could read a user with its userAccountControl. */
  canReadUsers: boolean;
  controllers: ControllerStatus[];
}

/** One LDAP request as it went to a controller, for metrics and for tests that prove behaviour. */
export interface LdapOperationEvent {
  operation: 'bind' | 'search';
  controller: string;
  base?: string;
  scope?: string;
  filter?: string;
  attributes?: string[];
  paged?: boolean;
  entries?: number;
  durationMs: number;
  outcome: 'success' | 'failure';
}

/** What a user read returns beyond the connector's own attribute list. */
export interface UserReadOptions {
  /** Further AD attributes to read (those attribute mappings reference), in `attributes`. */
  attributes?: readonly string[];
}

export interface DirectoryConnector {
  discover(): Promise<DomainInfo>;
  check(): Promise<DirectoryCheck>;
  findUser(name: string, options?: UserReadOptions): Promise<DirectoryUser | null>;
  findUserByGuid(guid: string, options?: UserReadOptions): Promise<DirectoryUser | null>;
  /** Many users by objectGUID in a few paged searches on one connection; GUIDs naming no user are absent. */
  findUsersByGuids(guids: readonly string[], options?: UserReadOptions): Promise<DirectoryUser[]>;
  /**
   * The account any spelling designates, from a bounded expiring cache or one indexed search;
   * null when it designates none. Ambiguity is resolved as AD binds: an explicit UPN wins over an
   * implicit one (sAMAccountName@domain).
   */
  resolveAccount(name: string): Promise<ResolvedAccount | null>;
  /**
   * Binds as the user. With `account` (from resolveAccount), a DN or GUID spelling binds as that
   * account, and a resolution that turns out stale is corrected in the cache.
   */
  authenticate(name: string, password: string, options?: UserReadOptions & { account?: ResolvedAccount | null }): Promise<AuthenticationResult>;
  groupsOf(user: DirectoryUser, method?: GroupResolutionMethod): Promise<TransitiveGroups>;
  findGroup(name: string): Promise<DirectoryGroup | null>;
  /** Member DNs of a group, read in ranges however many there are. */
  groupMembers(group: DirectoryGroup): Promise<string[]>;
  /** Users and groups whose name, UPN, sAMAccountName or mail starts with `prefix`. */
  searchPrincipals(prefix: string, options?: PrincipalSearchOptions): Promise<PrincipalSearchResult>;
  /** Every group of the directory, a page at a time (for integrated applications' listings). */
  listGroups(options: GroupListOptions): Promise<GroupListPage>;
  /** Up to `limit` users in the directory's order, read with a paged search that stops there. */
  sampleUsers(options: UserSampleOptions): Promise<UserSample>;
  /** objectGUIDs of the users directly in a group: its members, and users whose primary group it is. */
  groupUserGuids(group: DirectoryGroup): Promise<string[]>;
  /** The groups a user is directly in (memberOf and the primary group), without nesting. */
  directGroupsOf(user: DirectoryUser): Promise<DirectoryGroup[]>;
  /** The groups a group is directly in (its memberOf within the domain). */
  parentGroupsOf(group: DirectoryGroup): Promise<DirectoryGroup[]>;
  /** The groups directly in a group. */
  childGroupsOf(group: DirectoryGroup): Promise<DirectoryGroup[]>;
  /**
   * The DC's identity and highestCommittedUSN, and with `sinceUsn` (that DC's earlier
   * highestCommittedUSN) the users and groups changed or deleted since, all read from one DC:
   * through DirSync from `options.cookie` when the service account has Replicating Directory
   * Changes, through uSNChanged otherwise.
   */
  readChanges(sinceUsn: string | null, options?: ChangeReadOptions): Promise<DirectoryChanges>;
  /** An organizational unit by DN or objectGUID; null when there is none. */
  findOrganizationalUnit(name: string): Promise<DirectoryOrganizationalUnit | null>;
  /** objectGUIDs of the users anywhere below the OU (subtree). */
  organizationalUnitUserGuids(ou: DirectoryOrganizationalUnit): Promise<string[]>;
  status(): ControllerStatus[];
  close(): Promise<void>;
}

export interface ChangeReadOptions {
  /**
   * The DirSync cookie of the previous read and the DC that issued it. It is sent only to that DC:
   * from another one, a fresh cookie is taken instead (and the caller reconciles in full, as for
   * the USN).
   */
  cookie?: { value: string; controllerId: string } | null;
}

export interface DirectoryOrganizationalUnit {
  guid: string;
  dn: string;
}

/** What changed on one domain controller since a USN (or a DirSync cookie) of its own. */
export interface DirectoryChanges {
  /** The DC that answered: its URL and its identity (dsServiceName, lower-cased). */
  controller: { url: string; id: string };
  /** Its highestCommittedUSN before the changes were read: the next call's `sinceUsn`. */
  highestCommittedUsn: string;
  /** objectGUIDs of users changed since (attributes, state, rename or move). */
  users: string[];
  /** objectGUIDs of groups changed since (memberships included). */
  groups: string[];
  /** Tombstones since, where the service account may list them (Show Deleted, or DirSync). */
  deleted: Array<{ guid: string; name: string | null }>;
  /** How the changes were found: DirSync, or uSNChanged (no Replicating Directory Changes, or no DirSync). */
  tracker: 'dirsync' | 'usn';
  /** DirSync: the cookie to continue from (base64), taken from this DC after highestCommittedUsn was read. */
  cookie: string | null;
  /** The DC refused the cookie passed in (expired, malformed): what changed since is unknown. */
  cookieRejected: boolean;
}
