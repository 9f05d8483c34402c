/**
 * The subset of Active Directory's schema the managed directory serves: structural classes with
 * their superclass chains and default object categories, and attributes with their syntax, arity
 * and ownership. Names are AD's lDAPDisplayNames; lookups are case-insensitive.
 */
import { groupTypeFlags } from '#src/directory/ad-codec.ts';

export type Syntax =
  /** Unicode string, compared case-insensitively. */
  | 'string'
  /** A DN, compared in normalised form. */
  | 'dn'
  /** 32-bit integer (signed on the wire: groupType's security bit is its sign bit). */
  | 'int'
  /** 64-bit integer (FILETIME, negative 100 ns intervals). */
  | 'int64'
  | 'bool'
  /** Generalized time (20260102030405.0Z). */
  | 'time'
  | 'guid'
  | 'sid'
  | 'binary'
  /** unicodePwd / userPassword: accepted on writes, never stored as a value, never read. */
  | 'password';

export type Ownership =
  /** Clients write it freely (admins). */
  | 'user'
  /** Set by the directory only: clients get unwillingToPerform / constraintViolation. */
  | 'system'
  /** Computed at read time, never stored. */
  | 'constructed'
  /** Writable with restrictions the engine checks (pwdLastSet, lockoutTime, member, …). */
  | 'special';

export interface AttributeType {
  name: string;
  syntax: Syntax;
  single: boolean;
  owner: Ownership;
  /** Returned for '*' (AD returns stored and back-link attributes, not constructed ones). */
  inAll: boolean;
}

const definitions: Array<[string, Syntax, 'single' | 'multi', Ownership?]> = [
  ['objectClass', 'string', 'multi', 'special'],
  ['cn', 'string', 'single', 'special'],
  ['name', 'string', 'single', 'system'],
  ['ou', 'string', 'single', 'special'],
  ['dc', 'string', 'single', 'special'],
  ['distinguishedName', 'dn', 'single', 'system'],
  ['objectGUID', 'guid', 'single', 'system'],
  ['objectSid', 'sid', 'single', 'system'],
  ['objectCategory', 'dn', 'single', 'system'],
  ['instanceType', 'int', 'single', 'system'],
  ['whenCreated', 'time', 'single', 'system'],
  ['whenChanged', 'time', 'single', 'system'],
  ['uSNCreated', 'int64', 'single', 'system'],
  ['uSNChanged', 'int64', 'single', 'system'],
  ['isCriticalSystemObject', 'bool', 'single', 'system'],
  ['systemFlags', 'int', 'single', 'system'],
  ['showInAdvancedViewOnly', 'bool', 'single'],
  // Tombstones (tombstones.ts): isDeleted is written only by a restore's delete of it.
  ['isDeleted', 'bool', 'single', 'special'],
  ['lastKnownParent', 'dn', 'single', 'system'],
  ['sAMAccountName', 'string', 'single', 'special'],
  ['sAMAccountType', 'int', 'single', 'system'],
  ['userPrincipalName', 'string', 'single', 'special'],
  ['displayName', 'string', 'single'],
  ['givenName', 'string', 'single'],
  ['sn', 'string', 'single'],
  ['initials', 'string', 'single'],
  ['mail', 'string', 'single'],
  ['proxyAddresses', 'string', 'multi'],
  ['title', 'string', 'single'],
  ['department', 'string', 'single'],
  ['company', 'string', 'single'],
  ['division', 'string', 'single'],
  ['employeeID', 'string', 'single'],
  ['employeeNumber', 'string', 'single'],
  ['employeeType', 'string', 'single'],
  ['telephoneNumber', 'string', 'single'],
  ['otherTelephone', 'string', 'multi'],
  ['mobile', 'string', 'single'],
  ['manager', 'dn', 'single'],
  ['physicalDeliveryOfficeName', 'string', 'single'],
  ['streetAddress', 'string', 'single'],
  ['l', 'string', 'single'],
  ['st', 'string', 'single'],
  ['postalCode', 'string', 'single'],
  ['co', 'string', 'single'],
  ['c', 'string', 'single'],
  ['preferredLanguage', 'string', 'single'],
  ['description', 'string', 'multi'],
  ['info', 'string', 'single'],
  ['wWWHomePage', 'string', 'single'],
  ['thumbnailPhoto', 'binary', 'single'],
  ['jpegPhoto', 'binary', 'multi'],
  ['member', 'dn', 'multi', 'special'],
  ['memberOf', 'dn', 'multi', 'system'],
  ['tokenGroups', 'sid', 'multi', 'constructed'],
  ['primaryGroupID', 'int', 'single', 'special'],
  ['userAccountControl', 'int', 'single', 'special'],
  ['msDS-User-Account-Control-Computed', 'int', 'single', 'constructed'],
  ['pwdLastSet', 'int64', 'single', 'special'],
  ['accountExpires', 'int64', 'single'],
  ['lockoutTime', 'int64', 'single', 'special'],
  ['badPwdCount', 'int', 'single', 'system'],
  ['badPasswordTime', 'int64', 'single', 'system'],
  ['lastLogon', 'int64', 'single', 'system'],
  ['logonCount', 'int', 'single', 'system'],
  ['groupType', 'int', 'single', 'special'],
  ['unicodePwd', 'password', 'single', 'special'],
  ['userPassword', 'password', 'single', 'special'],
  // Domain object: policy, in AD's encodings.
  ['lockoutThreshold', 'int', 'single'],
  ['lockoutDuration', 'int64', 'single'],
  ['lockOutObservationWindow', 'int64', 'single'],
  ['maxPwdAge', 'int64', 'single'],
  ['minPwdAge', 'int64', 'single'],
  ['minPwdLength', 'int', 'single'],
  ['pwdHistoryLength', 'int', 'single'],
  ['pwdProperties', 'int', 'single'],
  ['nextRid', 'int', 'single', 'system'],
  // Configuration: partitions.
  ['nETBIOSName', 'string', 'single'],
  ['nCName', 'dn', 'single'],
  ['dnsRoot', 'string', 'multi'],
  // Constructed, on request only.
  ['createTimeStamp', 'time', 'single', 'constructed'],
  ['modifyTimeStamp', 'time', 'single', 'constructed'],
  ['structuralObjectClass', 'string', 'single', 'constructed'],
  ['subSchemaSubEntry', 'dn', 'single', 'constructed'],
  ['canonicalName', 'string', 'single', 'constructed'],
];

const byName = new Map<string, AttributeType>();
for (const [name, syntax, arity, owner = 'user'] of definitions) {
  byName.set(name.toLowerCase(), { name, syntax, single: arity === 'single', owner, inAll: owner !== 'constructed' && syntax !== 'password' });
}

export function attributeType(name: string): AttributeType | undefined {
  return byName.get(name.toLowerCase());
}

export function allAttributeTypes(): Iterable<AttributeType> {
  return byName.values();
}

export interface ObjectClassDef {
  name: string;
  /** Superclass chain, top first, the class itself last (as AD returns objectClass). */
  chain: string[];
  /** CN of the defaultObjectCategory under CN=Schema. */
  category: string;
  /** Attribute naming the entry in its RDN. */
  rdnType: string;
  /** Clients may add entries of this class. */
  creatable: boolean;
}

const classes: ObjectClassDef[] = [
  { name: 'domainDNS', chain: ['top', 'domain', 'domainDNS'], category: 'Domain-DNS', rdnType: 'dc', creatable: false },
  { name: 'organizationalUnit', chain: ['top', 'organizationalUnit'], category: 'Organizational-Unit', rdnType: 'ou', creatable: true },
  { name: 'container', chain: ['top', 'container'], category: 'Container', rdnType: 'cn', creatable: true },
  { name: 'user', chain: ['top', 'person', 'organizationalPerson', 'user'], category: 'Person', rdnType: 'cn', creatable: true },
  { name: 'group', chain: ['top', 'group'], category: 'Group', rdnType: 'cn', creatable: true },
  { name: 'builtinDomain', chain: ['top', 'builtinDomain'], category: 'Builtin-Domain', rdnType: 'cn', creatable: false },
  { name: 'configuration', chain: ['top', 'configuration'], category: 'Configuration', rdnType: 'cn', creatable: false },
  { name: 'crossRefContainer', chain: ['top', 'crossRefContainer'], category: 'Cross-Ref-Container', rdnType: 'cn', creatable: false },
  { name: 'crossRef', chain: ['top', 'crossRef'], category: 'Cross-Ref', rdnType: 'cn', creatable: false },
  { name: 'dMD', chain: ['top', 'dMD'], category: 'DMD', rdnType: 'cn', creatable: false },
];

const classByName = new Map(classes.map((c) => [c.name.toLowerCase(), c]));

export function objectClassDef(name: string): ObjectClassDef | undefined {
  return classByName.get(name.toLowerCase());
}

/** The most specific known class among the values of objectClass (whatever their order). */
export function structuralClass(values: string[]): ObjectClassDef | undefined {
  let best: ObjectClassDef | undefined;
  for (const value of values) {
    const def = objectClassDef(value);
    if (def && (!best || def.chain.length > best.chain.length)) best = def;
  }
  return best;
}

/**
 * AD's objectCategory shorthand: `(objectCategory=person)` names a class whose
 * defaultObjectCategory is then compared. `user` maps to Person as in AD.
 */
export function categoryCnFor(shorthand: string): string | undefined {
  const lower = shorthand.toLowerCase();
  if (lower === 'person' || lower === 'organizationalperson') return 'Person';
  return classByName.get(lower)?.category;
}

export const samAccountType = {
  user: 805306368,
  securityGroup: 268435456,
  distributionGroup: 268435457,
  aliasSecurity: 536870912,
  aliasDistribution: 536870913,
} as const;

/** AD's groupType bits, shared with the connector's decoding. */
export const groupTypeBits = groupTypeFlags;

/** sAMAccountType implied by a groupType (domain-local groups are "aliases" in SAM). */
export function samAccountTypeForGroup(groupType: number): number {
  const value = groupType >>> 0;
  const security = (value & groupTypeBits.security) !== 0;
  const local = (value & (groupTypeBits.domainLocal | groupTypeBits.builtinLocal)) !== 0;
  if (local) return security ? samAccountType.aliasSecurity : samAccountType.aliasDistribution;
  return security ? samAccountType.securityGroup : samAccountType.distributionGroup;
}

/** Exactly one scope bit, as AD requires. */
export function isValidGroupType(groupType: number): boolean {
  const scope = (groupType >>> 0) & 0xf;
  return scope === groupTypeBits.global || scope === groupTypeBits.domainLocal || scope === groupTypeBits.universal || scope === groupTypeBits.builtinLocal;
}

export function toSigned32(value: number): number {
  return value | 0;
}

export const uacFlags = {
  accountDisable: 0x2,
  lockout: 0x10,
  passwordNotRequired: 0x20,
  normalAccount: 0x200,
  dontExpirePassword: 0x10000,
  passwordExpired: 0x800000,
} as const;

export const wellKnownRids = {
  administrator: 500,
  domainAdmins: 512,
  domainUsers: 513,
} as const;

/** The first RID given to objects created after provisioning, as in AD. */
export const firstUserRid = 1103;
