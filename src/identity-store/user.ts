/**
 * The identity store's user: the SCIM-like shape of AWS's IdentityStore, filled from AD by the
 * attribute mappings at every sign-in and by the AD sync. Groups are in groups.ts (sync only).
 */
import { AppError } from '#src/shared/errors.ts';

/** Identity-store attributes a mapping can fill (Identity Center's names first, then SCIM's). */
export const mappingTargets = [
  'AD_GUID',
  'email',
  'familyName',
  'givenName',
  'middleName',
  'name',
  'preferredUsername',
  'subject',
  'formattedName',
  'nickName',
  'phoneNumber',
  'address',
  'title',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'department',
  'employeeNumber',
  'costCenter',
  'organization',
  'division',
  'manager',
] as const;
export type MappingTarget = (typeof mappingTargets)[number];

/** The values the mappings produced for one user; absent targets were not mapped. */
export type MappedAttributes = Partial<Record<MappingTarget, string>>;

export interface IdentityUser {
  /** Portico's own opaque id; a new one each time a removed user is provisioned again. */
  userId: string;
  /** The user's UPN. */
  userName: string;
  name: { formatted: string | null; givenName: string | null; familyName: string | null; middleName: string | null };
  displayName: string | null;
  nickName: string | null;
  emails: Array<{ value: string; type: 'work'; primary: true }>;
  phoneNumbers: Array<{ value: string; type: 'work'; primary: true }>;
  addresses: Array<{ formatted: string; type: 'work'; primary: true }>;
  title: string | null;
  userType: string | null;
  preferredLanguage: string | null;
  locale: string | null;
  timezone: string | null;
  enterprise: {
    department: string | null;
    employeeNumber: string | null;
    costCenter: string | null;
    organization: string | null;
    division: string | null;
    manager: string | null;
  };
  /** Issuer: the directory (`ad:<domain>`); Id: the objectGUID. */
  externalIds: Array<{ issuer: string; id: string }>;
  activeDirectory: { windowsUpn: string; domain: string; guid: string; sid: string };
  /** Every mapped value, by target, including those with no SCIM field (AD_GUID, subject). */
  attributes: MappedAttributes;
  createdAt: Date;
  /** The last sign-in that refreshed the record. */
  provisionedAt: Date;
}

/** What provisioning hands the store: everything but the id and the timestamps. */
export type ProvisionedUser = Omit<IdentityUser, 'userId' | 'createdAt' | 'provisionedAt'>;

export interface DirectoryIdentity {
  guid: string;
  sid: string;
  userPrincipalName: string;
  domain: string;
}

/** Builds the record from the mapped values and the AD keys; pure, so preview and sign-in agree. */
export function toProvisionedUser(identity: DirectoryIdentity, mapped: MappedAttributes): ProvisionedUser {
  const value = (target: MappingTarget): string | null => {
    const v = mapped[target]?.trim();
    return v ? v : null;
  };
  const givenName = value('givenName');
  const familyName = value('familyName');
  const email = value('email');
  const phone = value('phoneNumber');
  const address = value('address');
  return {
    userName: identity.userPrincipalName,
    name: {
      formatted: value('formattedName') ?? ([givenName, familyName].filter(Boolean).join(' ') || null),
      givenName,
      familyName,
      middleName: value('middleName'),
    },
    displayName: value('name'),
    nickName: value('nickName') ?? value('preferredUsername'),
    emails: email ? [{ value: email, type: 'work', primary: true }] : [],
    phoneNumbers: phone ? [{ value: phone, type: 'work', primary: true }] : [],
    addresses: address ? [{ formatted: address, type: 'work', primary: true }] : [],
    title: value('title'),
    userType: value('userType'),
    preferredLanguage: value('preferredLanguage'),
    locale: value('locale'),
    timezone: value('timezone'),
    enterprise: {
      department: value('department'),
      employeeNumber: value('employeeNumber'),
      costCenter: value('costCenter'),
      organization: value('organization'),
      division: value('division'),
      manager: value('manager'),
    },
    externalIds: [{ issuer: directoryIssuer(identity.domain), id: identity.guid }],
    activeDirectory: { windowsUpn: identity.userPrincipalName, domain: identity.domain, guid: identity.guid, sid: identity.sid },
    attributes: mapped,
  };
}

/** The ExternalIds issuer naming a directory (AWS uses the directory's ARN; we have no ARN). */
export function directoryIssuer(domain: string): string {
  return `ad:${domain.toLowerCase()}`;
}

export interface UserPage {
  users: IdentityUser[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

export interface UserListQuery {
  limit: number;
  after?: string | undefined;
  /** Case-insensitive prefix of userName. */
  userNamePrefix?: string | undefined;
}

/** Read access: what integrated applications and the portal may do. */
export interface IdentityUserReader {
  get(userId: string): Promise<IdentityUser | undefined>;
  findByGuid(guid: string): Promise<IdentityUser | undefined>;
  findByUserName(userName: string): Promise<IdentityUser | undefined>;
  findByEmail(email: string): Promise<IdentityUser | undefined>;
  /** Ordered by userId. */
  list(query: UserListQuery): Promise<UserPage>;
  count(): Promise<number>;
}

export interface UpsertResult {
  user: IdentityUser;
  /** reprovisioned: the user had been removed by an administrator and comes back with a new id. */
  change: 'created' | 'reprovisioned' | 'updated' | 'unchanged';
  /** The record before this provisioning (the removed one for a reprovisioning). */
  before: IdentityUser | null;
}

/** Write access: provisioning and administrators only. */
export interface IdentityUserWriter extends IdentityUserReader {
  /**
   * Creates the record of `user.activeDirectory.guid`, or refreshes every mapped attribute of the
   * existing one. Throws identity.email_conflict when another user already has the email.
   */
  upsert(user: ProvisionedUser, at: Date): Promise<UpsertResult>;
  /** Removes the record from every lookup; returns it, or undefined when there was none. */
  remove(userId: string, at?: Date): Promise<IdentityUser | undefined>;
  /** Deletes every record, removed ones too (changing the identity source); returns how many were live. */
  removeAll(): Promise<number>;
}

/** A provisioned user by UserId, user name, objectGUID or email (what administrators type). */
export async function findProvisionedUser(users: IdentityUserReader, key: string): Promise<IdentityUser> {
  const user = (await users.get(key)) ?? (await users.findByUserName(key)) ?? (await users.findByGuid(key)) ?? (await users.findByEmail(key));
  if (!user) throw new AppError('identity.user_not_found', `no provisioned user "${key.slice(0, 100)}" (give a UserId, user name, objectGUID or email)`, { status: 404 });
  return user;
}
