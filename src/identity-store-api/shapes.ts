/**
 * Portico's users and AD's groups in the IdentityStore API's shapes (PascalCase members, absent
 * values left out as AWS leaves them out), membership ids, and the opaque NextToken.
 */
import { createHash } from 'node:crypto';
import type { DirectoryGroup } from '#src/identity-store/directory-groups.ts';
import { directoryIssuer, type IdentityUser } from '#src/identity-store/user.ts';
import { validationError } from './errors.ts';

export interface AwsUser {
  UserName: string;
  UserId: string;
  ExternalIds?: Array<{ Issuer: string; Id: string }>;
  Name?: { Formatted?: string; FamilyName?: string; GivenName?: string; MiddleName?: string };
  DisplayName?: string;
  NickName?: string;
  Emails?: Array<{ Value: string; Type: string; Primary: boolean }>;
  PhoneNumbers?: Array<{ Value: string; Type: string; Primary: boolean }>;
  Addresses?: Array<{ Formatted: string; Type: string; Primary: boolean }>;
  UserType?: string;
  Title?: string;
  PreferredLanguage?: string;
  Locale?: string;
  Timezone?: string;
  IdentityStoreId: string;
}

export interface AwsGroup {
  GroupId: string;
  DisplayName: string;
  ExternalIds: Array<{ Issuer: string; Id: string }>;
  IdentityStoreId: string;
}

export interface AwsGroupMembership {
  IdentityStoreId: string;
  MembershipId: string;
  GroupId: string;
  MemberId: { UserId: string };
}

/**
 * A user in the API's shape. Built member by member in AWS's order (the JSON members come out in
 * it), leaving out absent values: ListUsers makes a hundred of these per page.
 */
export function toAwsUser(user: IdentityUser, identityStoreId: string): AwsUser {
  const out: Partial<AwsUser> & Pick<AwsUser, 'UserName' | 'UserId'> = { UserName: user.userName, UserId: user.userId };
  if (user.externalIds.length > 0) out.ExternalIds = user.externalIds.map(({ issuer, id }) => ({ Issuer: issuer, Id: id }));
  const { formatted, familyName, givenName, middleName } = user.name;
  if (isSet(formatted) || isSet(familyName) || isSet(givenName) || isSet(middleName)) {
    const name: NonNullable<AwsUser['Name']> = {};
    if (isSet(formatted)) name.Formatted = formatted;
    if (isSet(familyName)) name.FamilyName = familyName;
    if (isSet(givenName)) name.GivenName = givenName;
    if (isSet(middleName)) name.MiddleName = middleName;
    out.Name = name;
  }
  if (isSet(user.displayName)) out.DisplayName = user.displayName;
  if (isSet(user.nickName)) out.NickName = user.nickName;
  if (user.emails.length > 0) out.Emails = user.emails.map(({ value, type, primary }) => ({ Value: value, Type: type, Primary: primary }));
  if (user.phoneNumbers.length > 0) out.PhoneNumbers = user.phoneNumbers.map(({ value, type, primary }) => ({ Value: value, Type: type, Primary: primary }));
  if (user.addresses.length > 0) out.Addresses = user.addresses.map(({ formatted: text, type, primary }) => ({ Formatted: text, Type: type, Primary: primary }));
  if (isSet(user.userType)) out.UserType = user.userType;
  if (isSet(user.title)) out.Title = user.title;
  if (isSet(user.preferredLanguage)) out.PreferredLanguage = user.preferredLanguage;
  if (isSet(user.locale)) out.Locale = user.locale;
  if (isSet(user.timezone)) out.Timezone = user.timezone;
  out.IdentityStoreId = identityStoreId;
  return out as AwsUser;
}

/** Neither null nor undefined: what AWS leaves out. */
function isSet<T>(value: T | null | undefined): value is T {
  return value !== null && value !== undefined;
}

/** The domain of a group, from its `name@domain`. */
export function groupDomain(group: DirectoryGroup): string {
  return group.qualifiedName.slice(group.qualifiedName.lastIndexOf('@') + 1).toLowerCase();
}

/** A group as the IdentityStore shows an AD group: its objectGUID as id, `name@domain` as name. */
export function toAwsGroup(group: DirectoryGroup, identityStoreId: string): AwsGroup {
  return {
    GroupId: group.guid,
    DisplayName: group.qualifiedName,
    ExternalIds: [{ Issuer: directoryIssuer(groupDomain(group)), Id: group.guid }],
    IdentityStoreId: identityStoreId,
  };
}

// Name-based UUIDs (RFC 9562 version 5) in a namespace of Portico's own.
const MEMBERSHIP_NAMESPACE = Buffer.from('7c1b2f4e9a3d4c8b8e5f0d6a2b9c4e71', 'hex');

/**
 * The id of a user's membership in a group: the same for the same group and user record every
 * time, so it needs no storage; a user removed and provisioned again (a new UserId) gets new ones.
 */
export function membershipId(groupId: string, userId: string): string {
  const hash = createHash('sha1').update(MEMBERSHIP_NAMESPACE).update(`${groupId.toLowerCase()}/${userId}`, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function toAwsMembership(groupId: string, userId: string, identityStoreId: string): AwsGroupMembership {
  return { IdentityStoreId: identityStoreId, MembershipId: membershipId(groupId, userId), GroupId: groupId, MemberId: { UserId: userId } };
}

interface PageToken {
  /** The operation the token continues. */
  o: string;
  /** What the listing is of (a GroupId, a UserId), when it is of something. */
  c?: string;
  /** Where the next page starts after. */
  a: string;
}

/**
 * NextToken: opaque to clients, base64url of where the listing stopped. It is not signed: a
 * forged one can only move within a listing the caller may read in full anyway.
 */
export function encodePageToken(operation: string, after: string, context?: string): string {
  const token: PageToken = { o: operation, a: after, ...(context === undefined ? {} : { c: context }) };
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

/** The `after` a NextToken carries; ValidationException when it belongs to another listing. */
export function decodePageToken(token: string | undefined, operation: string, context?: string): string | undefined {
  if (token === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  const candidate = parsed as Partial<PageToken> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    candidate.o !== operation ||
    typeof candidate.a !== 'string' ||
    (context === undefined ? candidate.c !== undefined : candidate.c !== context)
  ) {
    throw validationError([`Value at 'nextToken' failed to satisfy constraint: Member must be a NextToken returned by ${operation} for the same request`]);
  }
  return candidate.a;
}
