/**
 * The connector to a self-managed AD domain: discovery, validation, user lookup, authentication
 * by binding as the user, transitive groups, ranged and paged reads. It never writes to AD.
 */
import { Control, type Client, type Entry } from 'ldapts';
import { AppError } from '#src/shared/errors.ts';
import {
  bindOutcomeFromDiagnostic,
  decodeAccountState,
  decodeGroupType,
  guidToBytes,
  guidToString,
  isGuid,
  policyIntervalMs,
  sidToBytes,
  sidToString,
} from './ad-codec.ts';
import type { DomainPasswordPolicy } from './ad-codec.ts';
import { DirSyncControl } from './dirsync-control.ts';
import { dirSyncFlags } from './dirsync.ts';
import { createExpiringCache } from './expiring-cache.ts';
import { createGroupCache, defaultGroupCacheOptions, type GroupCacheOptions } from './group-cache.ts';
import { transitiveGroupsBy, type GroupReads } from './group-strategies.ts';
import './ldapts-binary.ts';
import { parseFilter } from './ldap-filter.ts';
import { accountNameKey, parseAccountName, type AccountName } from './account-name.ts';
import { tryNormalizeDn } from './managed/engine/dn.ts';
import { filter } from './names.ts';
import type { DirectoryConnectionOptions, GroupResolutionMethod } from './options.ts';
import { createDomainControllerPool, isConnectionFailure } from './pool.ts';
import type { PoolEvents, PooledConnection } from './pool.ts';
import { judgeDirectory, parseRootDse, rootDseAttributes } from './rootdse.ts';
import type {
  AuthenticationResult,
  ChangeReadOptions,
  DirectoryChanges,
  DirectoryCheck,
  DirectoryConnector,
  DirectoryGroup,
  DirectoryOrganizationalUnit,
  DirectoryPrincipal,
  DirectoryUser,
  DomainInfo,
  GroupListOptions,
  GroupListPage,
  LdapOperationEvent,
  PrincipalSearchOptions,
  PrincipalSearchResult,
  ResolvedAccount,
  TransitiveGroups,
  UserReadOptions,
  UserSample,
  UserSampleOptions,
} from './types.ts';

export const userAttributes = [
  'objectGUID',
  'objectSid',
  'sAMAccountName',
  'userPrincipalName',
  'cn',
  'displayName',
  'givenName',
  'sn',
  'initials',
  'mail',
  'proxyAddresses',
  'title',
  'department',
  'company',
  'division',
  'employeeID',
  'employeeNumber',
  'employeeType',
  'telephoneNumber',
  'mobile',
  'manager',
  'physicalDeliveryOfficeName',
  'streetAddress',
  'l',
  'st',
  'postalCode',
  'co',
  'preferredLanguage',
  'userAccountControl',
  'msDS-User-Account-Control-Computed',
  'lockoutTime',
  'accountExpires',
  'pwdLastSet',
  'primaryGroupID',
  'whenCreated',
  'whenChanged',
];
const groupAttributes = ['objectGUID', 'objectSid', 'sAMAccountName', 'cn', 'groupType'];
const binaryAttributes = ['objectGUID', 'objectSid', 'tokenGroups'];
/** sAMAccountType of normal user accounts: indexed in AD, and excludes computers and trusts. */
const userFilter = '(sAMAccountType=805306368)';
const groupFilter = '(objectClass=group)';
/** LDAP_SERVER_SHOW_DELETED_OID: searches also return tombstones (isDeleted=TRUE). */
const showDeletedOid = '1.2.840.113556.1.4.417';
/**
 * What DirSync watches: every user and group, tombstones included (a tombstone keeps objectClass
 * but loses sAMAccountType), every attribute ('*': a change to any mapped attribute, the account
 * state or `member` must show; a rename shows as `name`).
 */
const dirSyncFilter = '(|(objectClass=user)(objectClass=group))';
const dirSyncAttributes = ['*'];
/** The answer size the DC may send per round before saying "more data" (AD's default is 1 MB too). */
const dirSyncMaxBytes = 1_048_576;
const dirSyncMaxRounds = 10_000;
/** How long a DirSync refusal (no right, no control) is believed before DirSync is tried again. */
const dirSyncRecheckMs = 10 * 60_000;
/** Objects per OR-filter when resolving many SIDs or DNs in one search. */
const batchSize = 100;
/**
 * How long the tokenGroups read with the entry at a bind stand in for reading them again, for the
 * groupsOf call of the same sign-in (which follows at once).
 */
const bindTokenGroupsMs = 30_000;
/**
 * Spelling → account, so that a repeat sign-in resolves its name with no round trip to the DC
 * (the entry is read alongside the bind anyway, and corrects a stale resolution). An account
 * renamed or deleted is seen within this time; a spelling that named nobody is retried sooner.
 */
const accountCacheTtlMs = 10 * 60_000;
const unknownNameTtlMs = 60_000;
const accountCacheMaxEntries = 10_000;
/** What resolving a spelling reads: the account's keys and the fine-grained policy that applies to it. */
const accountAttributes = ['objectGUID', 'sAMAccountName', 'userPrincipalName', 'sAMAccountType', 'msDS-ResultantPSO'];
const normalUserAccountType = '805306368';

export interface ConnectorDependencies {
  events?: PoolEvents;
  onOperation?: (event: LdapOperationEvent) => void;
  now?: () => Date;
  warn?: (message: string) => void;
  /** The SID → group cache's poll interval and staleness bound (group-cache.ts). */
  groupCache?: Partial<GroupCacheOptions>;
  /** Each poll of group changes once applied: the groups it found changed (null: a DC's first poll), or its error. */
  onGroupPoll?: (outcome: { changed: number | null } | { error: Error }) => void;
}

/**
 * An entry's attributes by lower-cased name (AD names are case-insensitive), built once per entry:
 * a user entry has ~45 attributes and is read ~45 times, so scanning its keys per read is costly.
 */
const attributesByEntry = new WeakMap<Entry, Map<string, Array<string | Buffer>>>();

function attributeMap(entry: Entry): Map<string, Array<string | Buffer>> {
  let map = attributesByEntry.get(entry);
  if (map === undefined) {
    map = new Map();
    for (const [key, value] of Object.entries(entry)) {
      const lower = key.toLowerCase();
      if (!map.has(lower)) map.set(lower, Array.isArray(value) ? value : [value]);
    }
    attributesByEntry.set(entry, map);
  }
  return map;
}

/** Case-insensitive attribute access over an ldapts entry. */
function valuesOf(entry: Entry, name: string): Array<string | Buffer> {
  return attributeMap(entry).get(name.toLowerCase()) ?? [];
}

function strings(entry: Entry, name: string): string[] {
  return valuesOf(entry, name).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
}

function first(entry: Entry, name: string): string | null {
  return strings(entry, name)[0] ?? null;
}

function binary(entry: Entry, name: string): Buffer | null {
  const value = valuesOf(entry, name)[0];
  return Buffer.isBuffer(value) ? value : null;
}

/** A ranged attribute in an entry (`member;range=0-1499`), or the plain attribute when complete. */
function rangedValues(entry: Entry, name: string): { values: string[]; next: number | null } | null {
  const pattern = new RegExp(`^${name};range=(\\d+)-(\\d+|\\*)$`, 'i');
  for (const [key, value] of Object.entries(entry)) {
    const match = pattern.exec(key);
    if (!match) continue;
    const values = (Array.isArray(value) ? value : [value]).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
    // An empty range is the end too: Samba answers a range past the last value that way.
    return { values, next: match[2] === '*' || values.length === 0 ? null : Number(match[2]) + 1 };
  }
  const plain = strings(entry, name);
  return plain.length > 0 ? { values: plain, next: null } : null;
}

/** The order of group listings: lower-cased `name@domain`, compared by code unit, not by locale. */
export function groupSortKey(group: DirectoryGroup): string {
  return group.qualifiedName.toLowerCase();
}

export function compareGroups(a: DirectoryGroup, b: DirectoryGroup): number {
  const [ka, kb] = [groupSortKey(a), groupSortKey(b)];
  return ka < kb ? -1 : ka > kb ? 1 : a.guid < b.guid ? -1 : a.guid > b.guid ? 1 : 0;
}

/** DC=corp,DC=example,DC=test → corp.example.test */
function domainOfDn(dn: string): string {
  return dn
    .split(',')
    .map((rdn) => /^\s*DC=(.*)$/i.exec(rdn)?.[1]?.trim().toLowerCase())
    .filter((label): label is string => Boolean(label))
    .join('.');
}

export function createAdConnector(options: DirectoryConnectionOptions, deps: ConnectorDependencies = {}): DirectoryConnector {
  const pool = createDomainControllerPool(options, deps.events);
  const now = deps.now ?? (() => new Date());
  let domainInfo: Promise<DomainInfo> | null = null;
  /** By the SID's bytes in hex; null remembers a SID that is no group of this domain (well-known, foreign). */
  const groupsBySid = createGroupCache({ ...defaultGroupCacheOptions, ...deps.groupCache });
  /** Which DC a pooled service connection reached (its dsServiceName), read once per connection. */
  const controllerOfClient = new WeakMap<Client, Promise<string>>();
  /** tokenGroups read with the user's own entry at the bind, by the user object authenticate returned. */
  const tokenGroupsAtBind = new WeakMap<DirectoryUser, { sids: Buffer[]; atMs: number }>();
  let groupPollWarned = false;
  /** By accountNameKey; unknownNames remembers spellings that designate no account, for less long. */
  const accounts = createExpiringCache<ResolvedAccount>({ ttlMs: accountCacheTtlMs, maxEntries: accountCacheMaxEntries });
  const unknownNames = createExpiringCache<true>({ ttlMs: unknownNameTtlMs, maxEntries: accountCacheMaxEntries });
  /** msDS-LockoutThreshold by PSO DN (lower-cased); null when the PSO cannot be read. */
  const psoThresholds = createExpiringCache<number | null>({ ttlMs: accountCacheTtlMs, maxEntries: 1_000 });
  /** PSOs already warned about (bounded by the number of PSOs of the domain). */
  const unreadablePsos = new Set<string>();
  let serviceGuid: Promise<string | null> | null = null;
  const serviceName = parseAccountName(options.serviceAccount.username);

  if (options.allowPlainLdap && options.urls.some((u) => u.toLowerCase().startsWith('ldap://')) && !options.tls.startTls) {
    deps.warn?.(
      'WARNING: plain LDAP is enabled (allowPlainLdap). Passwords cross the network in clear text. Use ldaps:// or StartTLS in production.',
    );
  }
  if (options.allowSamba) {
    deps.warn?.('WARNING: the lab override allowSamba is on. Samba-based directories (Simple AD) are not supported in production.');
  }

  async function timed<T>(
    connection: PooledConnection,
    event: Omit<LdapOperationEvent, 'durationMs' | 'outcome' | 'controller'>,
    run: () => Promise<T>,
    count?: (result: T) => number,
  ): Promise<T> {
    const started = performance.now();
    try {
      const result = await run();
      deps.onOperation?.({
        ...event,
        controller: connection.url,
        durationMs: performance.now() - started,
        outcome: 'success',
        ...(count ? { entries: count(result) } : {}),
      });
      return result;
    } catch (error) {
      deps.onOperation?.({ ...event, controller: connection.url, durationMs: performance.now() - started, outcome: 'failure' });
      throw error;
    }
  }

  async function searchBase(connection: PooledConnection, dn: string, attributes: string[]): Promise<Entry | null> {
    try {
      const result = await timed(
        connection,
        { operation: 'search', base: dn, scope: 'base', attributes },
        () => connection.client.search(dn, { scope: 'base', attributes, explicitBufferAttributes: binaryAttributes }),
        (r) => r.searchEntries.length,
      );
      return result.searchEntries[0] ?? null;
    } catch (error) {
      if ((error as { code?: number }).code === 32) return null; // noSuchObject
      throw error;
    }
  }

  /** Every subtree search is paged: Windows AD stops unpaged searches at 1,000 entries. */
  async function* searchPaged(
    connection: PooledConnection,
    base: string,
    searchFilter: string,
    attributes: string[],
    pageSize = options.pageSize,
    controls: Control[] = [],
  ): AsyncGenerator<Entry[]> {
    const pages = connection.client.searchPaginated(
      base,
      {
        scope: 'sub',
        filter: parseFilter(searchFilter),
        attributes,
        explicitBufferAttributes: binaryAttributes,
        paged: { pageSize },
      },
      controls,
    );
    for (;;) {
      const page = await timed(
        connection,
        { operation: 'search', base, scope: 'sub', filter: searchFilter, attributes, paged: true },
        () => pages.next(),
        (r) => (r.done ? 0 : r.value.searchEntries.length),
      );
      if (page.done) return;
      // Referrals to other partitions are ignored: they name hosts we are not configured for.
      if (page.value.searchEntries.length > 0) yield page.value.searchEntries;
    }
  }

  async function searchAll(connection: PooledConnection, base: string, searchFilter: string, attributes: string[], controls: Control[] = []): Promise<Entry[]> {
    const all: Entry[] = [];
    for await (const page of searchPaged(connection, base, searchFilter, attributes, options.pageSize, controls)) all.push(...page);
    return all;
  }

  /** All values of a multi-valued attribute, always asked for in ranges (AD returns at most 1,500 per range). */
  async function readRanged(connection: PooledConnection, dn: string, attribute: string, from = 0, known: string[] = []): Promise<string[]> {
    const values = [...known];
    let start: number | null = from;
    while (start !== null) {
      const entry = await searchBase(connection, dn, [`${attribute};range=${start}-${start + options.rangeSize - 1}`]);
      const range = entry ? rangedValues(entry, attribute) : null;
      if (!range) break;
      values.push(...range.values);
      start = range.next;
    }
    return values;
  }

  function discover(): Promise<DomainInfo> {
    domainInfo ??= pool
      .withService(async (connection) => {
        const rootEntry = await searchBase(connection, '', rootDseAttributes);
        if (!rootEntry) throw new AppError('directory.protocol_error', 'the directory returned no rootDSE', { status: 502 });
        const rootDse = parseRootDse((name) => strings(rootEntry, name));
        const baseDn = options.baseDn ?? rootDse.defaultNamingContext;
        if (!baseDn) {
          throw new AppError('directory.protocol_error', 'the directory announces no defaultNamingContext; set baseDn', { status: 502 });
        }
        const domainEntry = await searchBase(connection, baseDn, ['objectSid', 'lockoutDuration', 'lockoutThreshold', 'maxPwdAge']);
        let netbiosName = options.netbiosName ?? null;
        if (!netbiosName && rootDse.configurationNamingContext) {
          const partitions = await searchAll(
            connection,
            `CN=Partitions,${rootDse.configurationNamingContext}`,
            filter`(&(objectClass=crossRef)(nCName=${baseDn}))`,
            ['nETBIOSName'],
          );
          netbiosName = partitions[0] ? first(partitions[0], 'nETBIOSName') : null;
        }
        const sid = domainEntry ? binary(domainEntry, 'objectSid') : null;
        const threshold = domainEntry ? first(domainEntry, 'lockoutThreshold') : null;
        const policy: DomainPasswordPolicy = {
          lockoutDurationMs: domainEntry ? policyIntervalMs(first(domainEntry, 'lockoutDuration') ?? undefined) : null,
          maxPasswordAgeMs: domainEntry ? policyIntervalMs(first(domainEntry, 'maxPwdAge') ?? undefined) : null,
        };
        return {
          rootDse,
          baseDn,
          domain: options.domain.toLowerCase(),
          netbiosName: (netbiosName ?? options.domain.split('.')[0] ?? options.domain).toUpperCase(),
          domainSid: sid ? sidToString(sid) : null,
          lockoutThreshold: threshold === null ? null : Number(threshold),
          policy,
          controller: connection.url,
        };
      })
      .catch((error: unknown) => {
        domainInfo = null; // a failed discovery is retried on the next call
        throw error;
      });
    return domainInfo;
  }

  function toUser(entry: Entry, info: DomainInfo, read: readonly string[]): DirectoryUser {
    const guid = binary(entry, 'objectGUID');
    const sid = binary(entry, 'objectSid');
    if (!guid || !sid) throw new AppError('directory.protocol_error', `user ${entry.dn} has no objectGUID/objectSid`, { status: 502 });
    const attributes: Record<string, string[]> = {};
    for (const name of read) {
      if (binaryAttributes.includes(name)) continue;
      const values = strings(entry, name);
      if (values.length > 0) attributes[name] = values;
    }
    const primary = first(entry, 'primaryGroupID');
    return {
      guid: guidToString(guid),
      sid: sidToString(sid),
      dn: entry.dn,
      samAccountName: first(entry, 'sAMAccountName') ?? '',
      userPrincipalName: first(entry, 'userPrincipalName'),
      displayName: first(entry, 'displayName'),
      givenName: first(entry, 'givenName'),
      surname: first(entry, 'sn'),
      mail: first(entry, 'mail'),
      netbiosName: info.netbiosName,
      domain: info.domain,
      primaryGroupId: primary === null ? null : Number(primary),
      account: decodeAccountState(
        {
          userAccountControl: first(entry, 'userAccountControl') ?? undefined,
          'msDS-User-Account-Control-Computed': first(entry, 'msDS-User-Account-Control-Computed') ?? undefined,
          lockoutTime: first(entry, 'lockoutTime') ?? undefined,
          accountExpires: first(entry, 'accountExpires') ?? undefined,
          pwdLastSet: first(entry, 'pwdLastSet') ?? undefined,
        },
        info.policy,
        now(),
      ),
      attributes,
    };
  }

  function toGroup(entry: Entry, info: DomainInfo): DirectoryGroup | null {
    const guid = binary(entry, 'objectGUID');
    const sid = binary(entry, 'objectSid');
    if (!guid || !sid) return null;
    const name = first(entry, 'sAMAccountName') ?? first(entry, 'cn') ?? entry.dn;
    return {
      guid: guidToString(guid),
      sid: sidToString(sid),
      dn: entry.dn,
      name,
      qualifiedName: `${name}@${info.domain}`,
      ...decodeGroupType(first(entry, 'groupType') ?? undefined),
    };
  }

  /** Whether a spelling can designate an account of this domain (a down-level or DN name may name another). */
  function belongsHere(name: AccountName, info: DomainInfo): boolean {
    switch (name.kind) {
      case 'downLevel':
        return name.domain.toUpperCase() === info.netbiosName || name.domain.toLowerCase() === info.domain;
      case 'dn': {
        const base = tryNormalizeDn(info.baseDn);
        return base !== null && (name.ndn === base || name.ndn.endsWith(`,${base}`));
      }
      default:
        return true;
    }
  }

  /** The filter that finds the user a spelling designates in this domain; null for a DN (read by a base search). */
  function userFilterFor(name: AccountName, info: DomainInfo): string | null {
    switch (name.kind) {
      case 'upn': {
        if (name.suffix !== info.domain) return `(&${userFilter}${filter`(userPrincipalName=${name.upn})`})`;
        // Every account also answers to its implicit UPN sAMAccountName@<DNS domain>, whatever
        // its explicit UPN (AD binds it); when both match different accounts the explicit one wins.
        const prefix = name.upn.slice(0, -name.suffix.length - 1);
        return `(&${userFilter}${filter`(|(userPrincipalName=${name.upn})(sAMAccountName=${prefix}))`})`;
      }
      case 'downLevel':
      case 'samAccountName':
        return `(&${userFilter}${filter`(sAMAccountName=${name.samAccountName})`})`;
      case 'guid':
        return `(&${userFilter}${filter`(objectGUID=${guidToBytes(name.guid)})`})`;
      case 'dn':
        return null;
    }
  }

  /** Of the entries a spelling's filter matched, the one AD would bind: an explicit UPN before an implicit one. */
  function pickEntry(entries: Entry[], name: AccountName): Entry | null {
    if (entries.length <= 1) return entries[0] ?? null;
    if (name.kind === 'upn') {
      const upn = name.upn.toLowerCase();
      const explicit = entries.filter((entry) => first(entry, 'userPrincipalName')?.toLowerCase() === upn);
      if (explicit.length === 1) return explicit[0] as Entry;
    }
    throw new AppError('directory.ambiguous_user', `${entries.length} users match; refusing to guess`, { status: 409 });
  }

  /** The user entry a spelling designates in this domain: one indexed search (or a base search for a DN). */
  async function readUserEntry(name: AccountName, info: DomainInfo, read: readonly string[]): Promise<Entry | null> {
    if (!belongsHere(name, info)) return null;
    const search = userFilterFor(name, info);
    if (search === null) {
      const dn = (name as Extract<AccountName, { kind: 'dn' }>).dn;
      const entry = await pool.withService((c) => searchBase(c, dn, [...read, 'sAMAccountType']));
      return entry && first(entry, 'sAMAccountType') === normalUserAccountType ? entry : null;
    }
    const entries = await pool.withService((c) => searchAll(c, info.baseDn, search, [...read]));
    return pickEntry(entries, name);
  }

  /** The connector's attributes plus those asked for, without duplicates (AD names are case-insensitive). */
  function attributesToRead(options: UserReadOptions): readonly string[] {
    const extra = (options.attributes ?? []).filter((name) => !userAttributes.some((known) => known.toLowerCase() === name.toLowerCase()));
    return extra.length === 0 ? userAttributes : [...userAttributes, ...new Set(extra)];
  }

  async function findOneUser(name: AccountName, info: DomainInfo, options: UserReadOptions = {}): Promise<DirectoryUser | null> {
    const read = attributesToRead(options);
    const entry = await readUserEntry(name, info, read);
    return entry ? toUser(entry, info, read) : null;
  }

  async function findUser(name: string, options?: UserReadOptions): Promise<DirectoryUser | null> {
    const info = await discover();
    const parsed = parseAccountName(name);
    return parsed ? findOneUser(parsed, info, options) : null;
  }

  async function findUserByGuid(guid: string, options?: UserReadOptions): Promise<DirectoryUser | null> {
    if (!isGuid(guid)) return null;
    const info = await discover();
    return findOneUser({ kind: 'guid', guid: guid.toLowerCase() }, info, options);
  }

  /**
   * Many users by objectGUID (the AD sync's batched read): OR-filters of `batchSize` GUIDs, each a
   * paged search, all on one service connection, so that a batch holds one connection of the
   * lane however large it is. GUIDs that name no user are simply absent from the result.
   */
  async function findUsersByGuids(guids: readonly string[], options: UserReadOptions = {}): Promise<DirectoryUser[]> {
    const wanted = [...new Set(guids.filter(isGuid).map((g) => g.toLowerCase()))];
    if (wanted.length === 0) return [];
    const info = await discover();
    const read = attributesToRead(options);
    return pool.withService(async (connection) => {
      const users: DirectoryUser[] = [];
      for (let i = 0; i < wanted.length; i += batchSize) {
        const clauses = wanted.slice(i, i + batchSize).map((guid) => filter`(objectGUID=${guidToBytes(guid)})`).join('');
        for await (const page of searchPaged(connection, info.baseDn, `(&${userFilter}(|${clauses}))`, [...read])) {
          for (const entry of page) users.push(toUser(entry, info, read));
        }
      }
      return users;
    });
  }

  /** The objectGUID of the connector's own service account (read once, by its configured name). */
  function serviceAccountGuid(info: DomainInfo): Promise<string | null> {
    serviceGuid ??= (async () => {
      const entry = serviceName ? await readUserEntry(serviceName, info, ['objectGUID']) : null;
      const guid = entry ? binary(entry, 'objectGUID') : null;
      return guid ? guidToString(guid) : null;
    })().catch((error: unknown) => {
      serviceGuid = null;
      throw error;
    });
    return serviceGuid;
  }

  function isServiceName(name: AccountName, info: DomainInfo): boolean {
    return serviceName !== null && belongsHere(serviceName, info) && accountNameKey(serviceName) === accountNameKey(name);
  }

  /** The lockout threshold of a fine-grained password policy; null when the service account cannot read it. */
  async function psoThreshold(psoDn: string): Promise<number | null> {
    const key = psoDn.toLowerCase();
    const at = now().getTime();
    const cached = psoThresholds.get(key, at);
    if (cached !== undefined) return cached;
    // AD lets only administrators read PSOs by default: an unreadable one falls back to the domain's threshold.
    const entry = await pool.withService((c) => searchBase(c, psoDn, ['msDS-LockoutThreshold'])).catch(() => null);
    const raw = entry ? first(entry, 'msDS-LockoutThreshold') : null;
    const threshold = raw === null || !/^\d+$/.test(raw) ? null : Number(raw);
    if (threshold === null && !unreadablePsos.has(key)) {
      unreadablePsos.add(key);
      deps.warn?.(
        `the service account cannot read msDS-LockoutThreshold of the password settings object ${psoDn}; the sign-in throttle uses the domain's lockout threshold for its users. Grant the service account read access to it, or set signIn.throttle.perUsername.maxFailures below its threshold`,
      );
    }
    psoThresholds.set(key, threshold, at);
    return threshold;
  }

  async function toAccount(entry: Entry, info: DomainInfo): Promise<ResolvedAccount | null> {
    const guidBytes = binary(entry, 'objectGUID');
    if (!guidBytes) return null;
    const guid = guidToString(guidBytes);
    const pso = first(entry, 'msDS-ResultantPSO');
    const fromPso = pso ? await psoThreshold(pso) : null;
    return {
      guid,
      dn: entry.dn,
      samAccountName: first(entry, 'sAMAccountName') ?? '',
      userPrincipalName: first(entry, 'userPrincipalName'),
      domain: info.domain,
      lockoutThreshold: fromPso ?? info.lockoutThreshold,
      serviceAccount: guid === (await serviceAccountGuid(info)),
    };
  }

  async function resolveAccount(name: string): Promise<ResolvedAccount | null> {
    const parsed = parseAccountName(name);
    if (!parsed) return null;
    const info = await discover();
    if (!belongsHere(parsed, info)) return null;
    const key = accountNameKey(parsed);
    const at = now().getTime();
    const cached = accounts.get(key, at);
    if (cached !== undefined) return cached;
    if (unknownNames.get(key, at)) return null;
    const entry = await readUserEntry(parsed, info, accountAttributes);
    const account = entry ? await toAccount(entry, info) : null;
    if (account) accounts.set(key, Object.freeze(account), at);
    else unknownNames.set(key, true, at);
    return account;
  }

  async function authenticate(
    name: string,
    password: string,
    options: UserReadOptions & { account?: ResolvedAccount | null } = {},
  ): Promise<AuthenticationResult> {
    const refused: AuthenticationResult = { outcome: 'invalidCredentials', subCode: null, controller: null };
    // Windows treats a bind with an empty password as an anonymous bind that "succeeds".
    if (password.length === 0) return refused;
    const info = await discover();
    const parsed = parseAccountName(name);
    if (!parsed || !belongsHere(parsed, info)) return refused;
    // A DN or GUID is no bind name AD accepts from everyone: those bind as the account they resolve to.
    const account = options.account !== undefined || (parsed.kind !== 'dn' && parsed.kind !== 'guid') ? options.account : await resolveAccount(name);
    // Portico's own identity is never bound as a user: a wrong password would count towards its lockout.
    if (account?.serviceAccount || isServiceName(parsed, info)) return { ...refused, ...(account ? { guid: account.guid } : {}) };
    // The name handed to the controller is rebuilt from the parsed form, never the raw input.
    const bindName =
      parsed.kind === 'upn'
        ? parsed.upn
        : parsed.kind === 'downLevel' || parsed.kind === 'samAccountName'
          ? `${info.netbiosName}\\${parsed.samAccountName}`
          : account
            ? `${info.netbiosName}\\${account.samAccountName}`
            : null;
    if (bindName === null) return refused;

    // A known account is read on the connection it just bound, as itself (AD lets users read their
    // own entry and tokenGroups): bind and one base search, nothing else.
    const known = account && account.domain === info.domain ? account : null;
    const read = attributesToRead(options);
    const bound = await pool.withBind(async (connection) => {
      try {
        await timed(connection, { operation: 'bind' }, () => connection.client.bind(bindName, password));
      } catch (error) {
        if (isConnectionFailure(error)) throw error;
        const code = (error as { code?: number }).code;
        if (code !== 49) {
          throw new AppError('directory.protocol_error', `the bind failed with LDAP result ${code ?? 'unknown'}`, {
            status: 502,
            cause: error,
          });
        }
        return { ok: false as const, controller: connection.url, ...bindOutcomeFromDiagnostic((error as Error).message) };
      }
      // Never fails the sign-in (nor replays the bind on another connection): a refused or lost
      // read falls back to the service account's.
      const own = known ? await readOwnEntry(connection, known.dn, read).catch(() => null) : null;
      return { ok: true as const, controller: connection.url, own };
    });
    let user: DirectoryUser | null;
    if (bound.ok && known && bound.own && answersTo(bound.own, parsed, known)) {
      user = toUser(bound.own, info, read);
      const sids = valuesOf(bound.own, 'tokenGroups').filter((v): v is Buffer => Buffer.isBuffer(v));
      // Every account's token holds at least its primary group: none means they could not be read.
      if (sids.length > 0) tokenGroupsAtBind.set(user, { sids, atMs: now().getTime() });
    } else {
      // An unresolved name, a wrong password, or an own read that was refused or names another
      // account (renamed, recreated): the service account reads the entry the spelling designates.
      // Always after the bind, so that a wrong password costs the same whether the name exists
      // or not (the failure-timing tests).
      user = bound.ok ? await findOneUser(parsed, info, options) : await findOneUser(parsed, info, options).catch(() => null);
    }
    // The entry read now is the truth: a cached resolution that names another account (renamed,
    // recreated) or none is forgotten, so the next attempt resolves the spelling afresh.
    if ((user?.guid ?? null) !== (account?.guid ?? null) && options.account !== undefined) {
      accounts.delete(accountNameKey(parsed));
      unknownNames.delete(accountNameKey(parsed));
    }
    if (!bound.ok) {
      const guid = user?.guid ?? account?.guid;
      return { outcome: bound.outcome === 'ok' ? 'invalidCredentials' : bound.outcome, subCode: bound.subCode, controller: bound.controller, ...(guid ? { guid } : {}) };
    }
    if (!user) {
      // The controller accepted the password of a name this domain's search cannot see (another
      // domain of the forest): not a user Portico can key.
      return { outcome: 'invalidCredentials', subCode: null, controller: bound.controller };
    }
    return { outcome: 'ok', user, controller: bound.controller };
  }

  /** The entry at `dn` as the connection's bound user reads it, with its tokenGroups when those resolve groups. */
  function readOwnEntry(connection: PooledConnection, dn: string, read: readonly string[]): Promise<Entry | null> {
    return searchBase(connection, dn, options.groupResolution === 'tokenGroups' ? [...read, 'tokenGroups'] : [...read]);
  }

  /**
   * Whether an entry read by the DN of a cached resolution is the account AD just bound: the same
   * object, still answering to the spelling bound (an explicit UPN only: an implicit one may have
   * been taken by an explicit UPN since), with its state attributes readable (checked after).
   */
  function answersTo(entry: Entry, name: AccountName, account: ResolvedAccount): boolean {
    const guid = binary(entry, 'objectGUID');
    if (!guid || guidToString(guid) !== account.guid || !binary(entry, 'objectSid')) return false;
    if (first(entry, 'userAccountControl') === null || first(entry, 'pwdLastSet') === null) return false;
    const same = (a: string | null, b: string): boolean => a !== null && a.toLowerCase() === b.toLowerCase();
    switch (name.kind) {
      case 'upn':
        return same(first(entry, 'userPrincipalName'), name.upn);
      case 'downLevel':
      case 'samAccountName':
        return same(first(entry, 'sAMAccountName'), name.samAccountName);
      case 'dn':
      case 'guid':
        return same(first(entry, 'sAMAccountName'), account.samAccountName);
    }
  }

  /** The DC a service connection reached (its dsServiceName, else its URL), read once per connection. */
  function controllerOf(connection: PooledConnection): Promise<string> {
    let known = controllerOfClient.get(connection.client);
    if (known === undefined) {
      known = searchBase(connection, '', ['dsServiceName']).then((root) => (root ? first(root, 'dsServiceName') : null)?.toLowerCase() ?? connection.url);
      controllerOfClient.set(connection.client, known);
      known.catch(() => controllerOfClient.delete(connection.client));
    }
    return known;
  }

  /**
   * The groups of these SIDs, from the cache (group-cache.ts) or, for the SIDs it lacks only, one
   * batched search per 100 on `connection` (a service connection taken only then when none is given).
   */
  async function resolveBySids(connection: PooledConnection | null, sids: Buffer[], info: DomainInfo): Promise<DirectoryGroup[]> {
    pollGroupChangesWhenDue(info);
    const { groups, missing } = groupsBySid.lookup(
      sids.map((sid) => sid.toString('hex')),
      now().getTime(),
    );
    if (missing.length === 0) return groups;
    const search = async (c: PooledConnection): Promise<DirectoryGroup[]> => {
      const controller = await controllerOf(c);
      const found: DirectoryGroup[] = [];
      for (let i = 0; i < missing.length; i += batchSize) {
        const batch = missing.slice(i, i + batchSize);
        const clauses = batch.map((sid) => filter`(objectSid=${Buffer.from(sid, 'hex')})`).join('');
        const startedMs = now().getTime();
        const entries = await searchAll(c, info.baseDn, `(&${groupFilter}(|${clauses}))`, groupAttributes);
        const bySid = new Map<string, DirectoryGroup>();
        for (const entry of entries) {
          const group = toGroup(entry, info);
          if (!group) continue;
          found.push(group);
          bySid.set((binary(entry, 'objectSid') as Buffer).toString('hex'), group);
        }
        for (const sid of batch) groupsBySid.store(sid, bySid.get(sid) ?? null, controller, startedMs);
      }
      return found;
    };
    return [...groups, ...(await (connection ? search(connection) : pool.withService(search)))];
  }

  /**
   * Starts a poll of group changes when one is due, without waiting for it: the sign-in that
   * triggers it uses the cache as it is (still within its staleness bound).
   */
  function pollGroupChangesWhenDue(info: DomainInfo): void {
    const startedMs = now().getTime();
    if (!groupsBySid.pollDue(startedMs) || !groupsBySid.beginPoll(startedMs)) return;
    pool
      .withService(async (connection) => {
        const polledMs = now().getTime();
        const root = await searchBase(connection, '', ['highestCommittedUSN', 'dsServiceName']);
        const usnReadMs = now().getTime();
        const highest = root ? first(root, 'highestCommittedUSN') : null;
        if (!root || highest === null || !/^\d+$/.test(highest)) throw new Error(`${connection.url} announces no highestCommittedUSN`);
        const controller = first(root, 'dsServiceName')?.toLowerCase() ?? connection.url;
        controllerOfClient.set(connection.client, Promise.resolve(controller));
        const previous = groupsBySid.watermark(controller);
        let changed: Map<string, DirectoryGroup> | null = null;
        if (previous !== null) {
          changed = new Map();
          for (const entry of await searchAll(connection, info.baseDn, `(&${groupFilter}(uSNChanged>=${previous + 1n}))`, groupAttributes)) {
            const group = toGroup(entry, info);
            if (group) changed.set((binary(entry, 'objectSid') as Buffer).toString('hex'), group);
          }
        }
        return { controller, highestUsn: BigInt(highest), startedMs: polledMs, usnReadMs, changed };
      })
      .then(
        (poll) => {
          groupsBySid.endPoll(poll);
          deps.onGroupPoll?.({ changed: poll.changed?.size ?? null });
        },
        (error: unknown) => {
          groupsBySid.endPoll(null);
          deps.onGroupPoll?.({ error: error as Error });
          // Entries age out within the staleness bound meanwhile; said once, not per sign-in.
          if (!groupPollWarned) deps.warn?.(`polling group changes failed (the group cache reads groups again as they age): ${(error as Error).message}`);
          groupPollWarned = true;
        },
      );
  }

  async function primaryGroup(connection: PooledConnection, user: DirectoryUser, info: DomainInfo): Promise<DirectoryGroup[]> {
    if (user.primaryGroupId === null || !info.domainSid) return [];
    return resolveBySids(connection, [sidToBytes(`${info.domainSid}-${user.primaryGroupId}`)], info);
  }

  /** The group strategies' reads (group-strategies.ts) over one service connection. */
  function groupReads(connection: PooledConnection, info: DomainInfo): GroupReads {
    return {
      baseDn: info.baseDn,
      tokenGroupSids: async (dn) => {
        const entry = await searchBase(connection, dn, ['tokenGroups']);
        return entry ? valuesOf(entry, 'tokenGroups').filter((v): v is Buffer => Buffer.isBuffer(v)) : [];
      },
      groupsBySids: (sids) => resolveBySids(connection, sids, info),
      primaryGroup: (user) => primaryGroup(connection, user, info),
      memberOf: (dn) => readRanged(connection, dn, 'memberOf'),
      searchGroups: async (clause) => {
        const entries = await searchAll(connection, info.baseDn, `(&${groupFilter}${clause})`, [...groupAttributes, `memberOf;range=0-${options.rangeSize - 1}`]);
        return entries.map((entry) => ({
          dn: entry.dn,
          group: toGroup(entry, info),
          parents: async () => {
            const range = rangedValues(entry, 'memberOf');
            return range === null ? [] : range.next === null ? range.values : readRanged(connection, entry.dn, 'memberOf', range.next, range.values);
          },
        }));
      },
    };
  }

  /**
   * tokenGroups as read with the user's entry at the bind, resolved from the group cache: no
   * service connection is taken unless a SID is missing from it. Only the tokenGroups method.
   */
  function readsFromBind(sids: Buffer[], info: DomainInfo): GroupReads {
    const unused = (): never => {
      throw new Error('only tokenGroups are resolved from the bind');
    };
    return { baseDn: info.baseDn, tokenGroupSids: () => Promise.resolve(sids), groupsBySids: (found) => resolveBySids(null, found, info), primaryGroup: unused, memberOf: unused, searchGroups: unused };
  }

  async function groupsOf(user: DirectoryUser, method: GroupResolutionMethod = options.groupResolution): Promise<TransitiveGroups> {
    const info = await discover();
    const cap = options.maxGroups;
    const atBind = tokenGroupsAtBind.get(user);
    tokenGroupsAtBind.delete(user);
    const { groups, warnings } =
      method === 'tokenGroups' && atBind && now().getTime() - atBind.atMs <= bindTokenGroupsMs
        ? await transitiveGroupsBy(method, user, readsFromBind(atBind.sids, info), cap)
        : await pool.withService((connection) => transitiveGroupsBy(method, user, groupReads(connection, info), cap));
    const unique = [...new Map(groups.map((g) => [g.guid, g])).values()].sort((a, b) => a.name.localeCompare(b.name));
    const truncated = unique.length > cap;
    if (truncated) {
      warnings.push(`${user.userPrincipalName ?? user.samAccountName} is in ${unique.length} groups; only the first ${cap} are evaluated`);
      deps.warn?.(warnings[warnings.length - 1] as string);
    }
    return { method, groups: unique.slice(0, cap), truncated, warnings };
  }

  async function findGroup(name: string): Promise<DirectoryGroup | null> {
    const info = await discover();
    const bare = name.endsWith(`@${info.domain}`) ? name.slice(0, -info.domain.length - 1) : name;
    // `<guid>@domain` is a GUID too: the trusting directory routes on the suffix.
    const search = `(&${groupFilter}${isGuid(bare) ? filter`(objectGUID=${guidToBytes(bare)})` : filter`(|(sAMAccountName=${bare})(cn=${bare}))`})`;
    const entries = await pool.withService((c) => searchAll(c, info.baseDn, search, groupAttributes));
    if (entries.length > 1) throw new AppError('directory.ambiguous_user', `${entries.length} groups match "${name}"`, { status: 409 });
    return entries[0] ? toGroup(entries[0], info) : null;
  }

  /** An organizational unit by DN or objectGUID (the sync scope keeps its GUID: renames and moves keep it). */
  async function findOrganizationalUnit(name: string): Promise<DirectoryOrganizationalUnit | null> {
    const info = await discover();
    const key = name.trim();
    const toOu = (entry: Entry | null | undefined): DirectoryOrganizationalUnit | null => {
      const guid = entry ? binary(entry, 'objectGUID') : null;
      return entry && guid && strings(entry, 'objectClass').some((c) => c.toLowerCase() === 'organizationalunit') ? { guid: guidToString(guid), dn: entry.dn } : null;
    };
    if (isGuid(key)) {
      const entries = await pool.withService((c) => searchAll(c, info.baseDn, filter`(&(objectClass=organizationalUnit)(objectGUID=${guidToBytes(key)}))`, ['objectGUID', 'objectClass']));
      return toOu(entries[0]);
    }
    if (tryNormalizeDn(key) === null) return null;
    return toOu(await pool.withService((c) => searchBase(c, key, ['objectGUID', 'objectClass'])));
  }

  /** objectGUIDs of the users anywhere below an organizational unit (subtree). */
  async function organizationalUnitUserGuids(ou: DirectoryOrganizationalUnit): Promise<string[]> {
    const entries = await pool.withService((c) => searchAll(c, ou.dn, userFilter, ['objectGUID']));
    const guids = entries.map((entry) => binary(entry, 'objectGUID')).filter((guid): guid is Buffer => guid !== null);
    return [...new Set(guids.map(guidToString))];
  }

  async function groupMembers(group: DirectoryGroup): Promise<string[]> {
    return pool.withService((connection) => readRanged(connection, group.dn, 'member'));
  }

  async function listGroups({ limit, after }: GroupListOptions): Promise<GroupListPage> {
    const info = await discover();
    // AD's server-side sort is not available on every DC (nor in Samba) and paged-search cookies
    // do not outlive a connection, so the groups' names are read (paged) and the page cut here.
    const entries = await pool.withService((c) => searchAll(c, info.baseDn, groupFilter, groupAttributes));
    const groups = entries
      .map((entry) => toGroup(entry, info))
      .filter((group): group is DirectoryGroup => group !== null && (after === undefined || groupSortKey(group) > after))
      .sort(compareGroups);
    return { groups: groups.slice(0, limit), more: groups.length > limit };
  }

  async function groupUserGuids(group: DirectoryGroup): Promise<string[]> {
    const info = await discover();
    // Primary-group membership is not in `member`: AD records it as the user's primaryGroupID.
    const rid = info.domainSid && group.sid.startsWith(`${info.domainSid}-`) ? group.sid.slice(info.domainSid.length + 1) : null;
    const members = filter`(memberOf=${group.dn})`;
    const search = `(&${userFilter}${rid && /^\d+$/.test(rid) ? `(|${members}(primaryGroupID=${rid}))` : members})`;
    const entries = await pool.withService((c) => searchAll(c, info.baseDn, search, ['objectGUID']));
    const guids = entries.map((entry) => binary(entry, 'objectGUID')).filter((guid): guid is Buffer => guid !== null);
    return [...new Set(guids.map(guidToString))];
  }

  async function directGroupsOf(user: DirectoryUser): Promise<DirectoryGroup[]> {
    const info = await discover();
    const groups = await pool.withService(async (connection) => {
      const dns = await readRanged(connection, user.dn, 'memberOf');
      return [...(await primaryGroup(connection, user, info)), ...(await groupsByDn(connection, dns, info))];
    });
    return [...new Map(groups.map((g) => [g.guid, g])).values()].sort(compareGroups);
  }

  async function parentGroupsOf(group: DirectoryGroup): Promise<DirectoryGroup[]> {
    const info = await discover();
    const groups = await pool.withService(async (connection) => groupsByDn(connection, await readRanged(connection, group.dn, 'memberOf'), info));
    return groups.sort(compareGroups);
  }

  async function childGroupsOf(group: DirectoryGroup): Promise<DirectoryGroup[]> {
    const info = await discover();
    const entries = await pool.withService((c) => searchAll(c, info.baseDn, `(&${groupFilter}${filter`(memberOf=${group.dn})`})`, groupAttributes));
    return entries.map((entry) => toGroup(entry, info)).filter((g): g is DirectoryGroup => g !== null).sort(compareGroups);
  }

  /** Groups by DN, batched; DNs outside this domain's naming context resolve to nothing. */
  async function groupsByDn(connection: PooledConnection, dns: string[], info: DomainInfo): Promise<DirectoryGroup[]> {
    const groups: DirectoryGroup[] = [];
    for (let i = 0; i < dns.length; i += batchSize) {
      const clauses = dns.slice(i, i + batchSize).map((dn) => filter`(distinguishedName=${dn})`).join('');
      for (const entry of await searchAll(connection, info.baseDn, `(&${groupFilter}(|${clauses}))`, groupAttributes)) {
        const group = toGroup(entry, info);
        if (group) groups.push(group);
      }
    }
    return groups;
  }

  async function searchPrincipals(
    prefix: string,
    { types = ['user', 'group'], limit = 50 }: PrincipalSearchOptions = {},
  ): Promise<PrincipalSearchResult> {
    const info = await discover();
    const term = prefix.trim();
    // The term is escaped; the trailing wildcard is added outside the escaped part.
    const startsWith = (attribute: string): string => `(${attribute}=${filter`${term}`}*)`;
    const byName = `(|${['cn', 'displayName', 'sAMAccountName', 'userPrincipalName', 'mail'].map(startsWith).join('')})`;
    const kinds = types.map((t) => (t === 'user' ? userFilter : groupFilter)).join('');
    const search = `(&(|${kinds})${term ? byName : ''})`;
    const attributes = ['objectGUID', 'objectSid', 'objectClass', 'sAMAccountName', 'userPrincipalName', 'cn', 'displayName', 'mail', 'groupType'];
    return pool.withService(async (connection) => {
      const principals: DirectoryPrincipal[] = [];
      for await (const page of searchPaged(connection, info.baseDn, search, attributes, Math.min(options.pageSize, limit + 1))) {
        for (const entry of page) {
          if (principals.length === limit) return { principals, more: true };
          const principal = toPrincipal(entry, info);
          if (principal) principals.push(principal);
        }
      }
      return { principals, more: false };
    });
  }

  /** A bounded sample for `portico mappings check`: the paged search is left after `limit` users. */
  async function sampleUsers({ limit, ...read }: UserSampleOptions): Promise<UserSample> {
    const info = await discover();
    const attributes = attributesToRead(read);
    return pool.withService(async (connection) => {
      const users: DirectoryUser[] = [];
      for await (const page of searchPaged(connection, info.baseDn, userFilter, [...attributes], Math.min(options.pageSize, limit + 1))) {
        for (const entry of page) {
          if (users.length === limit) return { users, more: true };
          users.push(toUser(entry, info, attributes));
        }
      }
      return { users, more: false };
    });
  }

  function toPrincipal(entry: Entry, info: DomainInfo): DirectoryPrincipal | null {
    if (strings(entry, 'objectClass').some((c) => c.toLowerCase() === 'group')) {
      const group = toGroup(entry, info);
      return group ? { type: 'group', ...group } : null;
    }
    const guid = binary(entry, 'objectGUID');
    if (!guid) return null;
    return {
      type: 'user',
      guid: guidToString(guid),
      dn: entry.dn,
      samAccountName: first(entry, 'sAMAccountName') ?? '',
      userPrincipalName: first(entry, 'userPrincipalName'),
      displayName: first(entry, 'displayName'),
      mail: first(entry, 'mail'),
    };
  }

  /**
   * DirSync state of this connector: null while unknown, otherwise whether the service account
   * may use it (Replicating Directory Changes) and until when that answer is trusted. A refusal
   * is asked again after a while, so that a right granted later is picked up.
   */
  let dirSyncUsable: { usable: boolean; until: number } | null = null;

  /**
   * One DirSync read from `cookie` (empty: a fresh cookie, with a filter that matches nothing, so
   * nothing is listed), following "more data" until the DC has no more. Entries come back with
   * only their changed attributes; the filter is matched against the whole object, tombstones
   * included.
   */
  async function dirSync(connection: PooledConnection, base: string, cookie: Buffer, fresh: boolean): Promise<{ entries: Entry[]; cookie: Buffer }> {
    const entries: Entry[] = [];
    const search = fresh ? `(objectGUID=${'\\00'.repeat(16)})` : dirSyncFilter;
    for (let round = 0; ; round += 1) {
      const control = new DirSyncControl({ flags: dirSyncFlags.incrementalValues, maxBytes: dirSyncMaxBytes, cookie });
      const result = await timed(
        connection,
        { operation: 'search', base, scope: 'sub', filter: search, attributes: dirSyncAttributes },
        () => connection.client.search(base, { scope: 'sub', filter: parseFilter(search), attributes: dirSyncAttributes, explicitBufferAttributes: binaryAttributes }, [control]),
        (r) => r.searchEntries.length,
      );
      if (!control.response) {
        throw new AppError('directory.protocol_error', `the directory controller ${connection.url} answered a DirSync search without the DirSync control${control.responseError ? `: ${control.responseError.message}` : ''}`, { status: 502 });
      }
      entries.push(...result.searchEntries);
      cookie = control.response.cookie;
      // A DC that keeps saying "more" without moving its cookie would loop: the bound stops it.
      if (!control.response.moreResults) return { entries, cookie };
      if (round >= dirSyncMaxRounds) throw new AppError('directory.protocol_error', `the directory controller ${connection.url} still had more DirSync data after ${dirSyncMaxRounds} rounds`, { status: 502 });
    }
  }

  /** Users and groups among DirSync's changed entries: those whose class it did not send are read (100 per search). */
  async function classify(connection: PooledConnection, info: DomainInfo, entries: Entry[], changes: DirectoryChanges): Promise<void> {
    const unknown: Buffer[] = [];
    const seen = new Set<string>();
    for (const entry of entries) {
      const guid = binary(entry, 'objectGUID');
      if (!guid || seen.has(guid.toString('hex'))) continue;
      seen.add(guid.toString('hex'));
      if (strings(entry, 'isDeleted').some((v) => v.toUpperCase() === 'TRUE')) {
        changes.deleted.push({ guid: guidToString(guid), name: first(entry, 'sAMAccountName') });
        continue;
      }
      const classes = strings(entry, 'objectClass').map((c) => c.toLowerCase());
      const accountType = first(entry, 'sAMAccountType');
      if (classes.includes('group')) changes.groups.push(guidToString(guid));
      else if (accountType === normalUserAccountType) changes.users.push(guidToString(guid));
      else if (classes.length === 0 || accountType === null) unknown.push(guid);
      // Anything else (a computer, a trust account) is no concern of the sync.
    }
    for (let i = 0; i < unknown.length; i += batchSize) {
      const clauses = unknown.slice(i, i + batchSize).map((guid) => filter`(objectGUID=${guid})`).join('');
      const found = await searchAll(connection, info.baseDn, `(&(|${userFilter}${groupFilter})(|${clauses}))`, ['objectGUID', 'objectClass']);
      for (const entry of found) {
        const guid = binary(entry, 'objectGUID');
        if (!guid) continue;
        const isGroup = strings(entry, 'objectClass').some((c) => c.toLowerCase() === 'group');
        (isGroup ? changes.groups : changes.users).push(guidToString(guid));
      }
      // Not found: deleted since (its tombstone comes with the next read) or not a user or group.
    }
  }

  /** Whether a DirSync failure says "not for you / not here" rather than "the connection broke". */
  function dirSyncRefusal(error: unknown): number | null {
    if (isConnectionFailure(error)) return null;
    const code = (error as { code?: unknown }).code;
    return typeof code === 'number' ? code : null;
  }

  /**
   * One DC's changes since `sinceUsn` (its own highestCommittedUSN of an earlier call), read on one
   * connection so that the USN, the DC's identity, the cookie and the changes all come from the
   * same DC. highestCommittedUSN is read first and a fresh cookie is taken before anything is
   * searched: a change committed meanwhile is seen again next time (harmless, the sync is
   * idempotent) rather than missed.
   */
  async function readChanges(sinceUsn: string | null, readOptions: ChangeReadOptions = {}): Promise<DirectoryChanges> {
    const info = await discover();
    return pool.withService(async (connection) => {
      const root = await searchBase(connection, '', ['highestCommittedUSN', 'dsServiceName', 'serverName']);
      const highest = root ? first(root, 'highestCommittedUSN') : null;
      if (!root || highest === null || !/^\d+$/.test(highest)) {
        throw new AppError('directory.protocol_error', `the directory controller ${connection.url} announces no highestCommittedUSN`, { status: 502 });
      }
      const controller = { url: connection.url, id: (first(root, 'dsServiceName') ?? first(root, 'serverName') ?? connection.url).toLowerCase() };
      const changes: DirectoryChanges = { controller, highestCommittedUsn: highest, users: [], groups: [], deleted: [], tracker: 'usn', cookie: null, cookieRejected: false };

      const at = now().getTime();
      if (dirSyncUsable === null || dirSyncUsable.until <= at || dirSyncUsable.usable) {
        // A cookie is only ever sent back to the DC that issued it.
        const stored = readOptions.cookie && readOptions.cookie.controllerId === controller.id ? Buffer.from(readOptions.cookie.value, 'base64') : null;
        try {
          if (stored !== null && stored.length > 0 && sinceUsn !== null) {
            try {
              const read = await dirSync(connection, info.baseDn, stored, false);
              await classify(connection, info, read.entries, changes);
              dirSyncUsable = { usable: true, until: at + dirSyncRecheckMs };
              return { ...changes, tracker: 'dirsync', cookie: read.cookie.toString('base64') };
            } catch (error) {
              const code = dirSyncRefusal(error);
              if (code === null || code === 50) throw error; // a broken connection, or the right is gone: decided below
              // The DC refuses this cookie (Samba: 12 "Unable to unmarshall cookie"; AD: 53 or 2 for an expired one).
              changes.cookieRejected = true;
            }
          }
          // No usable cookie: a fresh one now, before any change is read.
          const fresh = await dirSync(connection, info.baseDn, Buffer.alloc(0), true);
          dirSyncUsable = { usable: true, until: at + dirSyncRecheckMs };
          changes.tracker = 'dirsync';
          changes.cookie = fresh.cookie.toString('base64');
        } catch (error) {
          const code = dirSyncRefusal(error);
          // 50: no Replicating Directory Changes; 12/53/2: no DirSync on this DC. Either way: uSNChanged.
          if (code === null || ![50, 12, 53, 2].includes(code)) throw error;
          dirSyncUsable = { usable: false, until: at + dirSyncRecheckMs };
          changes.cookieRejected = false;
        }
      }
      if (sinceUsn === null || changes.cookieRejected) return changes;
      // Changes since the USN by uSNChanged: the service account has no DirSync, or no cookie of this DC yet.
      const from = (BigInt(sinceUsn) + 1n).toString();
      const changed = await searchAll(connection, info.baseDn, `(&(|${userFilter}${groupFilter})(uSNChanged>=${from}))`, ['objectGUID', 'objectClass', 'sAMAccountType']);
      for (const entry of changed) {
        const guid = binary(entry, 'objectGUID');
        if (!guid) continue;
        const isGroup = strings(entry, 'objectClass').some((c) => c.toLowerCase() === 'group');
        (isGroup ? changes.groups : changes.users).push(guidToString(guid));
      }
      // Tombstones, where the account may list them (Show Deleted); not critical: a directory that
      // ignores the control shows none, and reconciliation finds the deletion instead.
      const showDeleted = new Control(showDeletedOid, { critical: false });
      const tombstones = await searchAll(connection, info.baseDn, `(&(isDeleted=TRUE)(uSNChanged>=${from}))`, ['objectGUID', 'sAMAccountName', 'objectClass'], [showDeleted]);
      for (const entry of tombstones) {
        const guid = binary(entry, 'objectGUID');
        if (guid) changes.deleted.push({ guid: guidToString(guid), name: first(entry, 'sAMAccountName') });
      }
      return changes;
    });
  }

  async function check(): Promise<DirectoryCheck> {
    const info = await discover();
    const judged = judgeDirectory(info.rootDse, { allowSamba: options.allowSamba });
    const served = domainOfDn(info.rootDse.defaultNamingContext ?? '');
    const verdict =
      judged.accepted && served !== info.domain
        ? { ...judged, accepted: false, reason: `The domain controllers serve ${served || 'no domain'}, not the configured domain ${info.domain}` }
        : judged;
    let canReadUsers = false;
    if (verdict.accepted) {
      canReadUsers = await pool.withService(async (connection) => {
        for await (const page of searchPaged(connection, info.baseDn, `(&${userFilter}(userAccountControl=*))`, ['userAccountControl'], 1)) {
          return page.length > 0;
        }
        return false;
      });
      if (!canReadUsers) verdict.warnings.push('The service account cannot read any user with its userAccountControl');
    }
    return { verdict, info, canReadUsers, controllers: pool.status() };
  }

  return {
    discover,
    check,
    findUser,
    findUserByGuid,
    findUsersByGuids,
    resolveAccount,
    authenticate,
    groupsOf,
    findGroup,
    groupMembers,
    searchPrincipals,
    listGroups,
    sampleUsers,
    groupUserGuids,
    directGroupsOf,
    parentGroupsOf,
    childGroupsOf,
    findOrganizationalUnit,
    organizationalUnitUserGuids,
    readChanges,
    status: () => pool.status(),
    close: () => pool.close(),
  };
}

/**
 * Opens a connector and admits it only if the directory passes validation; the composition root
 * uses this, so that a refused directory never serves a sign-in.
 */
export async function connectDirectory(options: DirectoryConnectionOptions, deps: ConnectorDependencies = {}): Promise<{ connector: DirectoryConnector; check: DirectoryCheck }> {
  const connector = createAdConnector(options, deps);
  try {
    const check = await connector.check();
    if (!check.verdict.accepted) {
      throw new AppError('directory.refused', check.verdict.reason, { status: 400, details: { kind: check.verdict.kind } });
    }
    return { connector, check };
  } catch (error) {
    await connector.close();
    throw error;
  }
}

export type { Client };
