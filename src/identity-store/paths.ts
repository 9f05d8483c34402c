/**
 * The one registry of paths the template languages read, so that what a template may name is
 * decided in one place:
 * - `${dir:…}` (directory → identity-store mappings, mappings.ts): the directory sources over an
 *   AD user, the raw attributes a mapping may never read, and the typed fields behind raw names;
 * - `${path:…}` (user-path.ts) and `${user:…}` (SAML attribute mappings, federation/saml/attributes.ts):
 *   the values of an identity-store user, one reader per value, each language naming the values
 *   it offers (its vocabulary and the order its error messages list them in).
 */
import type { DirectoryUser } from '#src/directory/types.ts';
import type { IdentityUser } from './user.ts';

// ---- `${dir:…}`: an AD user ----

export interface SourceReading {
  value: string | null;
  /** The AD attribute that supplied (or would have supplied) the value. */
  attribute: string;
}

interface DirectorySourceSpec {
  /** AD attributes the source reads; the first is the one named when the value is missing. */
  attributes: readonly string[];
  read(user: DirectoryUser): SourceReading;
}

const givenNameSource = field('givenName', (u) => u.givenName);
const surnameSource = field('sn', (u) => u.surname);

// Names and meanings are Identity Center's (but those marked Portico); their case is significant,
// as AWS documents them.
export const directorySources = {
  email: field('mail', (u) => u.mail),
  displayname: field('displayName', (u) => u.displayName),
  distinguishedName: field('distinguishedName', (u) => u.dn),
  firstname: givenNameSource,
  guid: field('objectGUID', (u) => u.guid),
  initials: field('initials', () => null),
  lastname: surnameSource,
  // Portico: "givenName sn" (whichever are set), as AD tools build a display name.
  fullname: {
    attributes: ['givenName', 'sn'],
    read(user) {
      const given = givenNameSource.read(user).value;
      const sn = surnameSource.read(user).value;
      const value = [given, sn].filter(hasText).map((v) => v.trim()).join(' ');
      return { value: value === '' ? null : value, attribute: hasText(given) ? 'givenName' : hasText(sn) ? 'sn' : 'givenName' };
    },
  },
  // Portico: every AD account has one, so it is the last fallback of a required name.
  samAccountName: field('sAMAccountName', (u) => u.samAccountName),
  // AD keeps no order among values; the primary (SMTP:) form is the reliable one.
  proxyAddresses: proxyAddress(null),
  'proxyAddresses:SMTP': proxyAddress('SMTP:'),
  'proxyAddresses:smtp': proxyAddress('smtp:'),
  windowsUpn: {
    attributes: ['userPrincipalName', 'sAMAccountName'],
    read(user) {
      if (hasText(user.userPrincipalName)) return { value: user.userPrincipalName, attribute: 'userPrincipalName' };
      // AD's implicit UPN: every account can sign in as sAMAccountName@dnsDomain even without one.
      if (hasText(user.samAccountName)) return { value: `${user.samAccountName}@${user.domain}`, attribute: 'sAMAccountName' };
      return { value: null, attribute: 'userPrincipalName' };
    },
  },
} satisfies Record<string, DirectorySourceSpec>;

export type DirectorySource = keyof typeof directorySources;
export const directorySourceNames = Object.keys(directorySources) as DirectorySource[];

export function isDirectorySource(name: string): name is DirectorySource {
  return Object.hasOwn(directorySources, name);
}

/** A source backed by a typed DirectoryUser field, or else by the raw attribute of that name. */
function field(attribute: string, typed: (user: DirectoryUser) => string | null): DirectorySourceSpec {
  return {
    attributes: [attribute],
    read(user) {
      const value = typed(user);
      if (hasText(value)) return { value, attribute };
      const raw = findAttribute(user, attribute);
      return { value: raw?.value ?? null, attribute: raw?.name ?? attribute };
    },
  };
}

function proxyAddress(prefix: 'SMTP:' | 'smtp:' | null): DirectorySourceSpec {
  return {
    attributes: ['proxyAddresses'],
    read(user) {
      const found = findAttributeValues(user, 'proxyAddresses');
      const values = found?.values ?? [];
      // The prefix is case-sensitive on purpose: Exchange marks the primary address with SMTP:.
      const value = prefix === null ? values.find(hasText) : values.find((v) => v.startsWith(prefix))?.slice(prefix.length);
      return { value: value ?? null, attribute: found?.name ?? 'proxyAddresses' };
    },
  };
}

// Secrets must never leave AD through a mapping; binary values have no meaningful string form.
export const refusedAttributes = new Map<string, string>([
  ['unicodepwd', 'it holds a password'],
  ['userpassword', 'it holds a password'],
  ['unixuserpassword', 'it holds a password'],
  ['dbcspwd', 'it holds a password hash'],
  ['ntpwdhistory', 'it holds password hashes'],
  ['lmpwdhistory', 'it holds password hashes'],
  ['supplementalcredentials', 'it holds credentials'],
  ['ms-mcs-admpwd', 'it holds a LAPS password'],
  ['mslaps-password', 'it holds a LAPS password'],
  ['mslaps-encryptedpassword', 'it holds a LAPS password'],
  ['msds-managedpassword', 'it holds a managed service account password'],
  ['msds-keycredentiallink', 'it holds key credentials'],
  ['objectguid', 'it is binary; write ${dir:guid} for the GUID in its string form'],
  ['objectsid', 'it is binary; identify the user with ${dir:guid}'],
  ['ms-ds-consistencyguid', 'it is binary; write ${dir:guid} for the GUID in its string form'],
  ['sidhistory', 'it is binary'],
  ['tokengroups', 'it is binary'],
  ['thumbnailphoto', 'it is binary'],
  ['jpegphoto', 'it is binary'],
  ['usercertificate', 'it is binary'],
]);

// Fields the connector always fills, for raw names it may not have put in `attributes`.
export const typedFields: Record<string, (user: DirectoryUser) => string | null> = {
  distinguishedname: (u) => u.dn,
  samaccountname: (u) => u.samAccountName,
  userprincipalname: (u) => u.userPrincipalName,
  displayname: (u) => u.displayName,
  givenname: (u) => u.givenName,
  sn: (u) => u.surname,
  mail: (u) => u.mail,
};

export function hasText(value: string | null | undefined): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function findAttributeValues(user: DirectoryUser, name: string): { name: string; values: string[] } | null {
  const wanted = name.toLowerCase();
  // The connector keys attributes by the name it requested; templates may spell it otherwise.
  for (const [key, values] of Object.entries(user.attributes)) {
    if (key.toLowerCase() === wanted) return { name: key, values };
  }
  return null;
}

/** The first non-blank value of a raw attribute (AD stores no empty values, so: the first). */
export function findAttribute(user: DirectoryUser, name: string): { name: string; value: string } | null {
  const found = findAttributeValues(user, name);
  const value = found?.values.find(hasText);
  return found && value !== undefined ? { name: found.name, value } : null;
}

// ---- `${path:…}` and `${user:…}`: an identity-store user ----

/** One value of an identity-store user; null or '' is missing. */
export type UserValueReader = (user: IdentityUser) => string | null;

// Each multi-valued attribute holds at most one value, the primary work one (as Identity Center's do).
const primaryEmail: UserValueReader = (u) => u.emails[0]?.value ?? null;
const primaryPhone: UserValueReader = (u) => u.phoneNumbers[0]?.value ?? null;
const primaryAddress: UserValueReader = (u) => u.addresses[0]?.formatted ?? null;

/** Every value a template can read from an identity-store user, by its SCIM path (Portico's own under `activeDirectory.`, and `subject`). */
export const identityUserValues = {
  userName: (u) => u.userName,
  displayName: (u) => u.displayName,
  nickName: (u) => u.nickName,
  title: (u) => u.title,
  userType: (u) => u.userType,
  preferredLanguage: (u) => u.preferredLanguage,
  locale: (u) => u.locale,
  timezone: (u) => u.timezone,
  'name.formatted': (u) => u.name.formatted,
  'name.givenName': (u) => u.name.givenName,
  'name.familyName': (u) => u.name.familyName,
  'name.middleName': (u) => u.name.middleName,
  'enterprise.department': (u) => u.enterprise.department,
  'enterprise.employeeNumber': (u) => u.enterprise.employeeNumber,
  'enterprise.costCenter': (u) => u.enterprise.costCenter,
  'enterprise.organization': (u) => u.enterprise.organization,
  'enterprise.division': (u) => u.enterprise.division,
  'enterprise.manager.value': (u) => u.enterprise.manager,
  'emails.value': primaryEmail,
  'phoneNumbers.value': primaryPhone,
  'addresses.formatted': primaryAddress,
  subject: (u) => u.attributes.subject ?? null,
  'activeDirectory.windowsUpn': (u) => u.activeDirectory.windowsUpn,
  'activeDirectory.guid': (u) => u.activeDirectory.guid,
} satisfies Record<string, UserValueReader>;

export type IdentityUserValue = keyof typeof identityUserValues;

const MULTI_VALUED = [
  ['emails', 'value', 'emails.value'],
  ['phoneNumbers', 'value', 'phoneNumbers.value'],
  ['addresses', 'formatted', 'addresses.formatted'],
] as const;

/**
 * `${path:…}`: the SCIM paths Identity Center's attributes for access control use, each naming
 * a value above; a multi-valued attribute is reached by its primary or its work value (the same one).
 * A Map, not an object: `${path:constructor}` must not find Object.prototype's.
 */
export const PATH_TEMPLATE_PATHS: ReadonlyMap<string, UserValueReader> = new Map<string, UserValueReader>([
  ...(['userName', 'displayName', 'nickName', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'name.formatted', 'name.givenName', 'name.familyName', 'name.middleName', 'enterprise.department', 'enterprise.employeeNumber', 'enterprise.costCenter', 'enterprise.organization', 'enterprise.division', 'enterprise.manager.value'] as const).map(
    (path) => [path, identityUserValues[path]] as const,
  ),
  ...MULTI_VALUED.flatMap(([name, sub, value]) => {
    const read = identityUserValues[value];
    return [[`${name}[primary eq true].${sub}`, read], [`${name}[type eq "work"].${sub}`, read]] as const;
  }),
]);

/** `${user:…}`: what an application's SAML attribute mappings may name, in the order messages list them; `groups` is the session's groups, not a user value. */
export const USER_TEMPLATE_PATHS = [
  'subject',
  'userName',
  'email',
  'displayName',
  'name.givenName',
  'name.familyName',
  'name.formatted',
  'title',
  'enterprise.department',
  'enterprise.employeeNumber',
  'activeDirectory.windowsUpn',
  'activeDirectory.guid',
  'groups',
] as const;

export type UserTemplatePath = (typeof USER_TEMPLATE_PATHS)[number];

/** The user value behind each `${user:…}` path but `groups`. */
export const USER_TEMPLATE_VALUES: Readonly<Record<Exclude<UserTemplatePath, 'groups'>, UserValueReader>> = {
  subject: identityUserValues.subject,
  userName: identityUserValues.userName,
  email: identityUserValues['emails.value'],
  displayName: identityUserValues.displayName,
  'name.givenName': identityUserValues['name.givenName'],
  'name.familyName': identityUserValues['name.familyName'],
  'name.formatted': identityUserValues['name.formatted'],
  title: identityUserValues.title,
  'enterprise.department': identityUserValues['enterprise.department'],
  'enterprise.employeeNumber': identityUserValues['enterprise.employeeNumber'],
  'activeDirectory.windowsUpn': identityUserValues['activeDirectory.windowsUpn'],
  'activeDirectory.guid': identityUserValues['activeDirectory.guid'],
};
