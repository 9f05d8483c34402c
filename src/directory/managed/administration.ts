/**
 * Administering the managed directory: create, update and delete users, groups and OUs, set
 * passwords, enable, disable, unlock, manage members. Each operation is one (or two) LDAP
 * operations of the engine under the caller's session — the domain's Administrator for the CLI
 * and the admin API — so the directory's own rules (password policy, uniqueness, referential
 * integrity) apply exactly as over LDAP. The CLI (`portico directory user|group|ou`) and the
 * admin API (/admin/api/directory/managed/…) both call these functions.
 */
import type { DirectoryBackend, Filter, LdapResult, Modification, Session } from './backend.ts';
import { ResultCode } from './backend.ts';
import { escapeDnValue } from '#src/directory/names.ts';
import { AppError } from '#src/shared/errors.ts';

/** Where the operations run: the engine (or any backend), as whom, on which domain. */
export interface AdministrationTarget {
  backend: DirectoryBackend;
  session: Session;
  baseDn: string;
  /** DNS name of the domain: the UPN suffix of created users. */
  domain: string;
}

/** The user attributes that `createUser` and `updateUser` accept: field → AD attribute. */
export const userAttributeFields = {
  givenName: 'givenName',
  surname: 'sn',
  initials: 'initials',
  displayName: 'displayName',
  mail: 'mail',
  title: 'title',
  department: 'department',
} as const;
export type UserAttributeField = keyof typeof userAttributeFields;
/** A string sets the attribute; null (update only) removes it. */
export type UserAttributes = Partial<Record<UserAttributeField, string | null>>;

export interface NewUser extends Partial<Record<UserAttributeField, string>> {
  sam: string;
  /** Where to create the user; CN=Users by default. */
  ou?: string;
  /** Without one the user is created disabled. */
  password?: string | null;
  /** The user must change the password at the next sign-in. */
  mustChange?: boolean;
}

export type GroupScope = 'global' | 'domainLocal' | 'universal';

export interface NewGroup {
  name: string;
  ou?: string;
  scope?: GroupScope;
  /** A distribution group: no security, so not in tokenGroups. */
  distribution?: boolean;
}

export interface NewOu {
  name: string;
  /** Parent OU or container; the domain root by default. */
  parent?: string;
}

const text = (value: string): Buffer[] => [Buffer.from(value, 'utf8')];
const unicodePwd = (password: string): Buffer[] => [Buffer.from(`"${password}"`, 'utf16le')];

/** Maps an LDAP result to an AppError: a missing entry is not found (404), an existing one a conflict (409). */
export function check(what: string, result: LdapResult): void {
  if (result.resultCode === ResultCode.success) return;
  const status = result.resultCode === ResultCode.noSuchObject ? 404 : result.resultCode === ResultCode.entryAlreadyExists ? 409 : 400;
  throw new AppError(result.resultCode === ResultCode.noSuchObject ? 'directory.user_not_found' : 'directory.operation_failed', `${what}: ${result.diagnosticMessage ?? `LDAP result ${result.resultCode}`}`, {
    status,
  });
}

const equals = (attribute: string, value: string): Filter => ({ type: 'equality', attribute, value: Buffer.from(value, 'utf8') });
const kinds: Record<'user' | 'group' | 'ou', Filter> = {
  user: equals('sAMAccountType', '805306368'),
  group: equals('objectClass', 'group'),
  ou: equals('objectClass', 'organizationalUnit'),
};
const kindName = { user: 'user', group: 'group', any: 'user or group', ou: 'organizational unit' } as const;

async function searchDns(target: AdministrationTarget, base: string, scope: 'base' | 'sub', filter: Filter, what: string): Promise<string[]> {
  const found: string[] = [];
  const { result } = await target.backend.search(
    target.session,
    { baseObject: base, scope, derefAliases: 0, sizeLimit: 2, timeLimit: 10, typesOnly: false, filter, attributes: ['1.1'] },
    [],
    { entry: (entry) => (found.push(entry.objectName), Promise.resolve()), signal: new AbortController().signal },
  );
  if (result.resultCode === ResultCode.noSuchObject && scope === 'base') return [];
  if (result.resultCode !== ResultCode.success && result.resultCode !== ResultCode.sizeLimitExceeded) check(`looking up ${what}`, result);
  return found;
}

/**
 * The DN of a user or group named by UPN, DOMAIN\name, sAMAccountName, or a DN itself (which
 * must name an entry of that kind). Unknown names are `directory.user_not_found` (404).
 */
export async function resolveDn(target: AdministrationTarget, name: string, kind: 'user' | 'group' | 'any' | 'ou'): Promise<string> {
  const ofKind: Filter = kind === 'any' ? { type: 'or', filters: [kinds.user, kinds.group] } : kinds[kind];
  let found: string[];
  if (/^(CN|OU)=/i.test(name) || kind === 'ou') {
    found = await searchDns(target, name, 'base', ofKind, name);
  } else {
    // The filter is built as a tree of values, so nothing in `name` can change its shape.
    const bare = name.includes('\\') ? name.slice(name.indexOf('\\') + 1) : name;
    const byName: Filter = name.includes('@') ? { type: 'or', filters: [equals('userPrincipalName', name), equals('sAMAccountName', bare)] } : equals('sAMAccountName', bare);
    found = await searchDns(target, target.baseDn, 'sub', { type: 'and', filters: [ofKind, byName] }, name);
  }
  if (found.length !== 1) {
    throw new AppError(found.length === 0 ? 'directory.user_not_found' : 'directory.ambiguous_user', found.length === 0 ? `no ${kindName[kind]} named "${name}"` : `"${name}" names more than one entry`, { status: 404 });
  }
  return found[0] as string;
}

function attributeValues(attributes: UserAttributes): Array<{ field: UserAttributeField; type: string; value: string | null }> {
  return (Object.keys(userAttributeFields) as UserAttributeField[])
    .filter((field) => attributes[field] !== undefined)
    .map((field) => ({ field, type: userAttributeFields[field], value: attributes[field] ?? null }));
}

/** Creates a user (sAMAccountName@domain as UPN); without a password it is created disabled. */
export async function createUser(target: AdministrationTarget, user: NewUser): Promise<{ dn: string; enabled: boolean }> {
  const { backend, session, baseDn, domain } = target;
  const password = user.password ?? null;
  const display = user.displayName ?? ([user.givenName, user.surname].filter(Boolean).join(' ') || user.sam);
  const dn = `CN=${escapeDnValue(display)},${user.ou ?? `CN=Users,${baseDn}`}`;
  const optional = attributeValues(user)
    .filter((a) => a.type !== 'displayName' && a.value !== null) // displayName is set below, with its default
    .map((a) => ({ type: a.type, values: text(a.value as string) }));
  check(
    `creating ${dn}`,
    await backend.add(session, {
      entry: dn,
      attributes: [
        { type: 'objectClass', values: text('user') },
        { type: 'sAMAccountName', values: text(user.sam) },
        { type: 'userPrincipalName', values: text(`${user.sam}@${domain}`) },
        { type: 'displayName', values: text(display) },
        ...optional,
        ...(password !== null ? [{ type: 'unicodePwd', values: unicodePwd(password) }] : []),
        { type: 'userAccountControl', values: text(password !== null ? '512' : '514') },
      ],
    }),
  );
  if (user.mustChange) check('requiring a password change', await backend.modify(session, dn, [{ operation: 'replace', type: 'pwdLastSet', values: text('0') }]));
  return { dn, enabled: password !== null };
}

/** Changes a user's attributes: a string replaces the values, null removes the attribute. */
export async function updateUser(target: AdministrationTarget, name: string, attributes: UserAttributes): Promise<string> {
  const changes = attributeValues(attributes).map((a): Modification => ({ operation: 'replace', type: a.type, values: a.value === null ? [] : text(a.value) }));
  if (changes.length === 0) throw new AppError('directory.invalid_input', 'nothing to change: give at least one attribute', { status: 400 });
  const dn = await resolveDn(target, name, 'user');
  check(`updating ${dn}`, await target.backend.modify(target.session, dn, changes));
  return dn;
}

/** Resets a user's password; the domain's password policy applies. */
export async function setPassword(target: AdministrationTarget, name: string, password: string, mustChange = false): Promise<string> {
  const dn = await resolveDn(target, name, 'user');
  check(`setting the password of ${dn}`, await target.backend.modify(target.session, dn, [{ operation: 'replace', type: 'unicodePwd', values: unicodePwd(password) }]));
  if (mustChange) check('requiring a password change', await target.backend.modify(target.session, dn, [{ operation: 'replace', type: 'pwdLastSet', values: text('0') }]));
  return dn;
}

async function modifyUser(target: AdministrationTarget, name: string, verb: string, changes: Modification[]): Promise<string> {
  const dn = await resolveDn(target, name, 'user');
  check(`${verb} ${dn}`, await target.backend.modify(target.session, dn, changes));
  return dn;
}

const ACCOUNTDISABLE = 0x2;

/** Sets or clears ACCOUNTDISABLE only: other flags (a password that never expires) stay as they are. */
async function setDisabled(target: AdministrationTarget, name: string, disabled: boolean): Promise<string> {
  const dn = await resolveDn(target, name, 'user');
  let current = 0x200;
  const { result } = await target.backend.search(
    target.session,
    { baseObject: dn, scope: 'base', derefAliases: 0, sizeLimit: 1, timeLimit: 10, typesOnly: false, filter: { type: 'present', attribute: 'objectClass' }, attributes: ['userAccountControl'] },
    [],
    {
      entry: (entry) => {
        const value = entry.attributes.find((a) => a.type.toLowerCase() === 'useraccountcontrol')?.values[0];
        if (value) current = Number(value.toString('utf8')) >>> 0;
        return Promise.resolve();
      },
      signal: new AbortController().signal,
    },
  );
  check(`reading ${dn}`, result);
  const next = disabled ? current | ACCOUNTDISABLE : current & ~ACCOUNTDISABLE;
  check(`${disabled ? 'disable' : 'enable'} ${dn}`, await target.backend.modify(target.session, dn, [{ operation: 'replace', type: 'userAccountControl', values: text(String(next)) }]));
  return dn;
}

/** Allows the user to sign in. */
export const enableUser = (target: AdministrationTarget, name: string): Promise<string> => setDisabled(target, name, false);
/** Stops the user from signing in (binds answer AD's 533). */
export const disableUser = (target: AdministrationTarget, name: string): Promise<string> => setDisabled(target, name, true);
/** Clears a lockout. */
export const unlockUser = (target: AdministrationTarget, name: string): Promise<string> => modifyUser(target, name, 'unlock', [{ operation: 'replace', type: 'lockoutTime', values: text('0') }]);

async function deleteNamed(target: AdministrationTarget, name: string, kind: 'user' | 'group'): Promise<string> {
  const dn = await resolveDn(target, name, kind);
  check(`deleting ${dn}`, await target.backend.delete(target.session, dn));
  return dn;
}

/** Deletes a user; their memberships go with them. */
export const deleteUser = (target: AdministrationTarget, name: string): Promise<string> => deleteNamed(target, name, 'user');

/** Creates a group: global security by default. */
export async function createGroup(target: AdministrationTarget, group: NewGroup): Promise<string> {
  const scope = { global: 0x2, domainLocal: 0x4, universal: 0x8 }[group.scope ?? 'global'];
  const groupType = (scope | (group.distribution ? 0 : 0x80000000)) | 0;
  const dn = `CN=${escapeDnValue(group.name)},${group.ou ?? `CN=Users,${target.baseDn}`}`;
  check(
    `creating ${dn}`,
    await target.backend.add(target.session, {
      entry: dn,
      attributes: [
        { type: 'objectClass', values: text('group') },
        { type: 'sAMAccountName', values: text(group.name) },
        { type: 'groupType', values: text(String(groupType)) },
      ],
    }),
  );
  return dn;
}

/** Deletes a group; its memberships go with it. */
export const deleteGroup = (target: AdministrationTarget, name: string): Promise<string> => deleteNamed(target, name, 'group');

async function changeMember(target: AdministrationTarget, group: string, member: string, operation: 'add' | 'delete'): Promise<{ group: string; member: string }> {
  const groupDn = await resolveDn(target, group, 'group');
  const memberDn = await resolveDn(target, member, 'any');
  check(`${operation === 'add' ? 'add-member' : 'remove-member'} ${memberDn}`, await target.backend.modify(target.session, groupDn, [{ operation, type: 'member', values: [Buffer.from(memberDn)] }]));
  return { group: groupDn, member: memberDn };
}

/** Adds a user or a group to a group. */
export const addMember = (target: AdministrationTarget, group: string, member: string): Promise<{ group: string; member: string }> => changeMember(target, group, member, 'add');
/** Removes a user or a group from a group. */
export const removeMember = (target: AdministrationTarget, group: string, member: string): Promise<{ group: string; member: string }> => changeMember(target, group, member, 'delete');

/** Creates an organizational unit, under the domain root by default. */
export async function createOu(target: AdministrationTarget, ou: NewOu): Promise<string> {
  const dn = `OU=${escapeDnValue(ou.name)},${ou.parent ?? target.baseDn}`;
  check(`creating ${dn}`, await target.backend.add(target.session, { entry: dn, attributes: [{ type: 'objectClass', values: text('organizationalUnit') }] }));
  return dn;
}

/** Deletes an empty organizational unit (named by its DN; nothing but an OU is deleted). */
export async function deleteOu(target: AdministrationTarget, dn: string): Promise<string> {
  const found = await resolveDn(target, dn, 'ou');
  check(`deleting ${found}`, await target.backend.delete(target.session, found));
  return found;
}

/** A tombstone as `listDeleted` shows it. */
export interface DeletedObject {
  guid: string;
  /** The name it had (its RDN value before the delete). */
  name: string;
  kind: 'user' | 'group' | 'ou' | 'other';
  /** Where it was: the parent it comes back under unless the restore names another. */
  lastKnownParent: string | null;
  deletedAt: string | null;
  /** Its DN under CN=Deleted Objects. */
  dn: string;
}

/** LDAP_SERVER_SHOW_DELETED_OID: the Administrator's searches then list tombstones. */
const showDeleted = { oid: '1.2.840.113556.1.4.417', critical: true };

function toGuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  const le = (s: string): string => (s.match(/../g) ?? []).reverse().join('');
  return `${le(hex.slice(0, 8))}-${le(hex.slice(8, 12))}-${le(hex.slice(12, 16))}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function guidFilterValue(guid: string): Buffer {
  const hex = guid.replaceAll('-', '').toLowerCase();
  const le = (s: string): string => (s.match(/../g) ?? []).reverse().join('');
  return Buffer.from(le(hex.slice(0, 8)) + le(hex.slice(8, 12)) + le(hex.slice(12, 16)) + hex.slice(16), 'hex');
}

/** generalizedTime (20260102030405.0Z) → ISO 8601. */
function isoOf(time: string | undefined): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(time ?? '');
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : null;
}

async function searchDeleted(target: AdministrationTarget, filter: Filter): Promise<DeletedObject[]> {
  const found: DeletedObject[] = [];
  const isDeleted: Filter = equals('isDeleted', 'TRUE');
  const { result } = await target.backend.search(
    target.session,
    {
      baseObject: target.baseDn,
      scope: 'sub',
      derefAliases: 0,
      sizeLimit: 0,
      timeLimit: 30,
      typesOnly: false,
      // CN=Deleted Objects is itself deleted but has no lastKnownParent.
      filter: { type: 'and', filters: [isDeleted, { type: 'present', attribute: 'lastKnownParent' }, filter] },
      attributes: ['name', 'objectGUID', 'objectClass', 'lastKnownParent', 'whenChanged'],
    },
    [showDeleted],
    {
      entry: (entry) => {
        const value = (type: string): Buffer | undefined => entry.attributes.find((a) => a.type.toLowerCase() === type.toLowerCase())?.values[0];
        const classes = entry.attributes.find((a) => a.type.toLowerCase() === 'objectclass')?.values.map((v) => v.toString('utf8').toLowerCase()) ?? [];
        const guid = value('objectGUID');
        if (!guid) return Promise.resolve();
        found.push({
          guid: toGuid(guid),
          name: (value('name')?.toString('utf8') ?? '').split('\nDEL:')[0] ?? '',
          kind: classes.includes('user') ? 'user' : classes.includes('group') ? 'group' : classes.includes('organizationalunit') ? 'ou' : 'other',
          lastKnownParent: value('lastKnownParent')?.toString('utf8') ?? null,
          deletedAt: isoOf(value('whenChanged')?.toString('utf8')),
          dn: entry.objectName,
        });
        return Promise.resolve();
      },
      signal: new AbortController().signal,
    },
  );
  if (result.resultCode !== ResultCode.success && result.resultCode !== ResultCode.sizeLimitExceeded) check('listing deleted objects', result);
  return found;
}

/** The tombstones still kept (deleted within the directory's tombstone lifetime), newest last. */
export function listDeleted(target: AdministrationTarget): Promise<DeletedObject[]> {
  return searchDeleted(target, { type: 'present', attribute: 'objectClass' });
}

/**
 * Restores a deleted object (AD's undelete: a modify removing isDeleted and setting
 * distinguishedName), named by its objectGUID or the name it had: it comes back with the same
 * objectGUID and objectSid, its attributes, password and memberships, under its last parent or `ou`.
 */
export async function restoreDeleted(target: AdministrationTarget, name: string, ou?: string): Promise<{ dn: string; guid: string }> {
  const byGuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(name.trim());
  const filter: Filter = byGuid
    ? { type: 'equality', attribute: 'objectGUID', value: guidFilterValue(name.trim()) }
    : { type: 'substrings', attribute: 'name', initial: Buffer.from(`${name}\nDEL:`, 'utf8'), any: [] };
  const found = await searchDeleted(target, filter);
  if (found.length !== 1) {
    throw new AppError(
      found.length === 0 ? 'directory.user_not_found' : 'directory.ambiguous_user',
      found.length === 0 ? `no deleted object "${name}" (purged after the tombstone lifetime, or never deleted)` : `"${name}" names ${found.length} deleted objects: restore by objectGUID (${found.map((f) => f.guid).join(', ')})`,
      { status: 404 },
    );
  }
  const tombstone = found[0] as DeletedObject;
  const parent = ou ?? tombstone.lastKnownParent;
  if (!parent) throw new AppError('directory.invalid_input', 'the deleted object has no last known parent: give the OU to restore it into', { status: 400 });
  const dn = `${tombstone.kind === 'ou' ? 'OU' : 'CN'}=${escapeDnValue(tombstone.name)},${parent}`;
  check(
    `restoring ${dn}`,
    await target.backend.modify(target.session, tombstone.dn, [
      { operation: 'delete', type: 'isDeleted', values: [] },
      { operation: 'replace', type: 'distinguishedName', values: [Buffer.from(dn, 'utf8')] },
    ]),
  );
  return { dn, guid: tombstone.guid };
}
