/**
 * The managed directory's engine: an Active Directory-shaped DirectoryBackend over a
 * DirectoryStore. It owns the schema, search semantics (scopes, filters, paging, ranges,
 * constructed attributes), binds with AD's sub-codes and lockout, the password policy, and
 * administrator-only writes with referential integrity (links are kept by GUID, so renames and
 * moves never leave a stale member value).
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { dateToFiletime, filetimeNever, filetimeToDate, sidToBytes } from '#src/directory/ad-codec.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import {
  ResultCode,
  oids,
  type AddRequest,
  type Control,
  type DirectoryBackend,
  type LdapResult,
  type Modification,
  type ModifyDnRequest,
  type PartialAttribute,
  type PasswordModifyRequest,
  type ResultCodeValue,
  type SearchRequest,
  type SearchSink,
  type Session,
} from '../backend.ts';
import { decodePagedResults, encodePagedResults } from './controls.ts';
import {
  DnSyntaxError,
  formatDn,
  formatRdn,
  isChildOf,
  isWithin,
  normalizeDn,
  normalizeRdn,
  normalizeRdns,
  parentNdn,
  parseDn,
  tryNormalizeDn,
  type Rdn,
} from './dn.ts';
import { compileFilter, type CompiledFilter, type EntryView, type FilterResolver, type Plan } from './filter.ts';
import { createPasswordHasher, decodeUnicodePwd, generatePassword, hashAlgorithm, passwordProblem, type PasswordHasher } from './password.ts';
import { defaultPolicy, policyAttributes, policyFromAttributes, type DirectoryPolicy } from './policy.ts';
import {
  allAttributeTypes,
  attributeType,
  firstUserRid,
  groupTypeBits,
  isValidGroupType,
  objectClassDef,
  samAccountType,
  samAccountTypeForGroup,
  structuralClass,
  uacFlags,
  wellKnownRids,
  type AttributeType,
  type ObjectClassDef,
} from './schema.ts';
import {
  indexKey,
  type AttributeMap,
  type AttributeValue,
  type Credentials,
  type DirectoryReads,
  type DirectoryStore,
  type DirectoryWrites,
  type LinkedEntry,
  type StoredEntry,
} from './store.ts';
import { createVerifiedPasswordCache, type VerifiedPasswordCacheOptions } from './verified-passwords.ts';

export interface DomainOptions {
  /** corp.example.test */
  dnsName: string;
  /** CORP */
  netbiosName: string;
  /** Defaults to the DC= form of dnsName. */
  baseDn?: string;
  /** S-1-5-21-x-y-z; random at provisioning when absent. Ignored once provisioned. */
  domainSid?: string;
}

export interface DirectoryEngineOptions {
  store: DirectoryStore;
  domain: DomainOptions;
  /** Written onto the domain object at provisioning; the domain object rules afterwards. */
  policy?: Partial<DirectoryPolicy>;
  clock?: () => Date;
  /** Host name announced in the rootDSE (dnsHostName); default portico.<dnsName>. */
  hostName?: string;
  vendorVersion?: string;
  /** How passwords are hashed and verified; default Argon2id at OWASP's parameters, at most one verification per core at once. */
  passwordHasher?: PasswordHasher;
  /**
   * Passwords verified by a hash are remembered (as an HMAC under a per-engine random key, with
   * the stored hash) for `ttlMs` (default 5 minutes), at most `maxEntries` of them (default
   * 10,000): a repeat bind skips the hash, a wrong password never does. 0 in either turns it off.
   */
  passwordCache?: Pick<VerifiedPasswordCacheOptions, 'maxEntries' | 'ttlMs'>;
  /** The hash comparison (password, stored hash); replaceable for tests and instrumentation. */
  verifyPassword?: (password: string, hash: string) => Promise<boolean>;
  /** Security events the engine records itself (today: a legacy hash re-hashed at a bind); the composition root passes the audit log. */
  audit?: (event: DirectoryAuditEvent) => Promise<void>;
  /** Refuse simple binds and password writes without TLS, as AD does (default true). */
  requireSecureTransport?: boolean;
  /**
   * Lock out the built-in Administrator (RID 500) at the threshold like any account (default
   * false). Windows AD never locks RID 500 by default, so that the domain cannot be locked out of
   * its own administration: wrong passwords still fail, cost the same and count in badPwdCount.
   */
  lockOutAdministrator?: boolean;
  limits?: Partial<EngineLimits>;
}

/** What the engine reports to the audit log; never a password or a hash. */
export interface DirectoryAuditEvent {
  action: 'directory.password.rehashed';
  /** The account's objectGUID. */
  target: string;
  details: Record<string, unknown>;
}

export interface EngineLimits {
  /** Entries per unpaged search and per page (Windows AD's MaxPageSize). */
  maxPageSize: number;
  /** Values per range of member/memberOf (Windows AD's MaxValRange). */
  maxValRange: number;
  /** Open paged searches per session; the oldest is forgotten beyond this. */
  maxPagedSearchesPerSession: number;
  /** Seconds a search may run whatever the client asks (AD's MaxQueryDuration). */
  maxQueryDurationSeconds: number;
}

export interface BootstrapOptions {
  administratorPassword: string;
}

export interface DirectoryEngine extends DirectoryBackend {
  /** Provisions the domain on an empty store; a no-op (created: false) when it exists. */
  bootstrap(options: BootstrapOptions): Promise<{ created: boolean; domainSid: string }>;
  /** Forgets what the engine keeps per session (paged searches); call when a connection closes. */
  closeSession(sessionId: string): void;
  readonly baseDn: string;
}

/** A failed operation with its LDAP result; thrown inside the engine, returned at its edge. */
class LdapFailure extends Error {
  constructor(
    readonly resultCode: ResultCodeValue,
    message: string,
    readonly matchedDN?: string,
  ) {
    super(message);
  }
}

const bindFailureText = (sub: string): string => `80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data ${sub}, v1db1`;
const notBoundText =
  '000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563';
const insufficientText = '00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0';
const willNotPerform = (what: string): string => `0000209A: SvcErr: DSID-031A1256, problem 5003 (WILL_NOT_PERFORM): ${what}`;
const passwordRestriction = (what: string): string => `0000052D: Constraint violation - check_password_restrictions: ${what}`;
const wrongOldPassword = '00000056: AtrErr: DSID-03190F80, #1: 0: 00000056: unicodePwd: the old password is not correct';

const samForbidden = /["/\\[\]:;|=,+*?<>@]/;
// eslint-disable-next-line no-control-regex -- control characters are what is refused
const controlCharacters = /[\u0000-\u001f\u007f]/;
const rootDseNdn = '';
/** Entries per store read while scanning. */
const scanBatch = 500;
/** Subtrees larger than this are scanned in uSN order rather than by DN range. */
const bigSubtree = 2000;
/** A paged search not continued within this long is forgotten (its cookie then fails). */
const pagedSearchLifetimeMs = 15 * 60_000;
const systemAttributesOnWrite = new Set(['objectguid', 'objectsid', 'usncreated', 'usnchanged', 'whencreated', 'whenchanged', 'distinguishedname', 'memberof', 'samaccounttype', 'objectcategory', 'badpwdcount', 'badpasswordtime', 'name', 'instancetype']);

function generalizedTime(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}.0Z`;
}

function filetime(date: Date): string {
  return dateToFiletime(date).toString();
}

function first(attributes: AttributeMap, name: string): string | undefined {
  const value = attributes[name]?.[0];
  return value === undefined ? undefined : value.toString();
}

function int(attributes: AttributeMap, name: string, otherwise = 0): number {
  const value = Number(first(attributes, name));
  return Number.isFinite(value) ? value : otherwise;
}

function bigint(attributes: AttributeMap, name: string): bigint {
  const value = first(attributes, name);
  return value !== undefined && /^-?\d+$/.test(value) ? BigInt(value) : 0n;
}

function classesOf(entry: StoredEntry): string[] {
  return (entry.attributes.objectClass ?? []).map((v) => v.toString().toLowerCase());
}

function isUser(entry: StoredEntry): boolean {
  return classesOf(entry).includes('user');
}

function isGroup(entry: StoredEntry): boolean {
  return classesOf(entry).includes('group');
}

function parseRange(option: string): { low: number; high: number | null } | null {
  const match = /^range=(\d+)-(\d+|\*)$/i.exec(option);
  if (!match) return null;
  return { low: Number(match[1]), high: match[2] === '*' ? null : Number(match[2]) };
}

function storageConflict(error: unknown): boolean {
  return isAppError(error, 'storage.conflict');
}

function domainBaseDn(dnsName: string): string {
  return dnsName
    .split('.')
    .filter(Boolean)
    .map((label) => `DC=${label}`)
    .join(',');
}

interface PagedState {
  sessionId: string;
  fingerprint: string;
  afterUsn: number;
  returned: number;
  createdAt: number;
}

interface Selection {
  all: boolean;
  operational: boolean;
  named: Map<string, { type: AttributeType; range: { low: number; high: number | null } | null }>;
}

export function createDirectoryEngine(options: DirectoryEngineOptions): DirectoryEngine {
  const { store } = options;
  const clock = options.clock ?? (() => new Date());
  const baseDn = formatDn(parseDn(options.domain.baseDn ?? domainBaseDn(options.domain.dnsName)));
  const baseNdn = normalizeDn(baseDn);
  const dnsName = options.domain.dnsName.toLowerCase();
  const netbiosName = options.domain.netbiosName.toUpperCase();
  const hostName = (options.hostName ?? `portico.${dnsName}`).toLowerCase();
  const configDn = `CN=Configuration,${baseDn}`;
  const configNdn = normalizeDn(configDn);
  const schemaDn = `CN=Schema,${configDn}`;
  const schemaNdn = normalizeDn(schemaDn);
  const partitionsDn = `CN=Partitions,${configDn}`;
  const serverShortName = (hostName.split('.')[0] ?? 'portico').toUpperCase();
  const serverDn = `CN=${serverShortName},CN=Servers,CN=Default-First-Site-Name,CN=Sites,${configDn}`;
  const namingContexts = [baseNdn, configNdn, schemaNdn];
  const hasher = options.passwordHasher ?? createPasswordHasher();
  const requireSecure = options.requireSecureTransport ?? true;
  const lockOutAdministrator = options.lockOutAdministrator ?? false;
  const verify = options.verifyPassword ?? hasher.verify;
  const verifiedPasswords = createVerifiedPasswordCache({ ...options.passwordCache, now: () => clock().getTime() });
  const limits: EngineLimits = {
    maxPageSize: 1000,
    maxValRange: 1500,
    maxPagedSearchesPerSession: 10,
    maxQueryDurationSeconds: 120,
    ...options.limits,
  };
  const configuredPolicy: DirectoryPolicy = { ...defaultPolicy, ...options.policy };
  const paged = new Map<string, PagedState>();

  // ---------------------------------------------------------------- shared look-ups

  async function domainEntry(reads: DirectoryReads = store): Promise<StoredEntry | undefined> {
    return reads.getByNdn(baseNdn);
  }

  async function currentPolicy(reads: DirectoryReads = store): Promise<{ policy: DirectoryPolicy; domainSid: string | null }> {
    const domain = await domainEntry(reads);
    return { policy: domain ? policyFromAttributes(domain.attributes, configuredPolicy) : configuredPolicy, domainSid: domain?.sid ?? null };
  }

  function categoryDn(def: ObjectClassDef): string {
    return `CN=${def.category},${schemaDn}`;
  }

  /** The naming context an entry belongs to: the longest NC root above it. */
  function namingContextOf(ndn: string): string | null {
    let best: string | null = null;
    for (const nc of namingContexts) if (isWithin(ndn, nc) && (best === null || nc.length > best.length)) best = nc;
    return best;
  }

  async function entryByDn(dn: string, reads: DirectoryReads = store): Promise<StoredEntry | undefined> {
    const ndn = tryNormalizeDn(dn);
    return ndn === null ? undefined : reads.getByNdn(ndn);
  }

  /** The closest existing ancestor, for matchedDN on noSuchObject. */
  async function matchedDnOf(ndn: string, reads: DirectoryReads = store): Promise<string | undefined> {
    for (let current = parentNdn(ndn); current !== null && current !== ''; current = parentNdn(current)) {
      const found = await reads.getByNdn(current);
      if (found) return found.dn;
    }
    return undefined;
  }

  /** GUIDs of every group containing one of `start`, transitively; cycle-safe. */
  async function groupsAbove(start: string[], reads: DirectoryReads = store): Promise<Set<string>> {
    const seen = new Set<string>();
    let frontier = start;
    while (frontier.length > 0) {
      const links = await reads.linksOfMembers(frontier);
      frontier = [];
      for (const link of links) {
        if (!seen.has(link.group)) {
          seen.add(link.group);
          frontier.push(link.group);
        }
      }
    }
    return seen;
  }

  async function membersBelow(group: string, reads: DirectoryReads = store): Promise<Set<string>> {
    const seen = new Set<string>();
    let frontier = [group];
    while (frontier.length > 0) {
      const links = await reads.linksOfGroups(frontier);
      frontier = [];
      for (const link of links) {
        if (!seen.has(link.member)) {
          seen.add(link.member);
          frontier.push(link.member);
        }
      }
    }
    return seen;
  }

  async function primaryGroupOf(entry: StoredEntry, domainSid: string | null, reads: DirectoryReads = store): Promise<StoredEntry | undefined> {
    const rid = first(entry.attributes, 'primaryGroupID');
    if (rid === undefined || domainSid === null) return undefined;
    return (await reads.lookup('objectSid', indexKey('objectSid', `${domainSid}-${rid}`)))[0];
  }

  /** Every group the entry is in, transitively, the primary group and its nesting included. */
  async function tokenGroupEntries(entry: StoredEntry, reads: DirectoryReads = store): Promise<StoredEntry[]> {
    const { domainSid } = await currentPolicy(reads);
    const primary = await primaryGroupOf(entry, domainSid, reads);
    // As AD builds a token: only security groups, reached through security groups only (a
    // security group the entry is in only by way of a distribution group is not in it).
    const found = new Map<string, StoredEntry>(primary ? [[primary.guid, primary]] : []);
    let frontier = [entry.guid, ...(primary ? [primary.guid] : [])];
    while (frontier.length > 0) {
      const above = [...new Set((await reads.linksOfMembers(frontier)).map((link) => link.group))].filter((guid) => !found.has(guid) && guid !== entry.guid);
      const read: StoredEntry[] = [];
      for (let i = 0; i < above.length; i += 500) read.push(...(await reads.getByGuids(above.slice(i, i + 500))));
      const security = read.filter((g) => (int(g.attributes, 'groupType') >>> 0) & groupTypeBits.security);
      for (const group of security) found.set(group.guid, group);
      frontier = security.map((g) => g.guid);
    }
    return [...found.values()];
  }

  async function isAdministrator(session: Session): Promise<StoredEntry | null> {
    if (session.boundDn === null) return null;
    const entry = await entryByDn(session.boundDn);
    if (!entry) return null;
    const { domainSid } = await currentPolicy();
    if (domainSid === null) return null;
    const admins = `${domainSid}-${wellKnownRids.domainAdmins}`.toUpperCase();
    const groups = await tokenGroupEntries(entry);
    return groups.some((g) => g.sid?.toUpperCase() === admins || g.sid === 'S-1-5-32-544') ? entry : null;
  }

  function resolverFor(reads: DirectoryReads = store): FilterResolver {
    return {
      schemaNdn,
      guidOfDn: async (dn) => (await entryByDn(dn, reads))?.guid ?? null,
      groupsInChain: (guid) => groupsAbove([guid], reads),
      membersInChain: (guid) => membersBelow(guid, reads),
      directGroups: async (guid) => new Set((await reads.linksOfMembers([guid])).map((l) => l.group)),
      directMembers: async (guid) => new Set((await reads.linksOfGroups([guid])).map((l) => l.member)),
    };
  }

  // ---------------------------------------------------------------- account state

  /** The built-in Administrator (RID 500), exempt from lockout unless configured otherwise. */
  function exemptFromLockout(entry: Pick<StoredEntry, 'sid'>): boolean {
    return !lockOutAdministrator && entry.sid !== null && entry.sid.endsWith(`-${wellKnownRids.administrator}`) && entry.sid.startsWith('S-1-5-21-');
  }

  function lockedOut(attributes: AttributeMap, policy: DirectoryPolicy, now: Date, entry?: Pick<StoredEntry, 'sid'>): boolean {
    if (entry && exemptFromLockout(entry)) return false;
    const lockoutTime = bigint(attributes, 'lockoutTime');
    if (lockoutTime <= 0n) return false;
    if (policy.lockoutDurationMs === null) return true;
    return now.getTime() < filetimeToDate(lockoutTime).getTime() + policy.lockoutDurationMs;
  }

  function passwordExpired(attributes: AttributeMap, policy: DirectoryPolicy, now: Date): boolean {
    const uac = int(attributes, 'userAccountControl');
    if (uac & uacFlags.dontExpirePassword) return false;
    const pwdLastSet = bigint(attributes, 'pwdLastSet');
    if (pwdLastSet === 0n) return true;
    if (policy.maxPwdAgeMs === null) return false;
    return now.getTime() >= filetimeToDate(pwdLastSet).getTime() + policy.maxPwdAgeMs;
  }

  function computedUac(entry: StoredEntry, policy: DirectoryPolicy, now: Date): number {
    let value = 0;
    if (lockedOut(entry.attributes, policy, now, entry)) value |= uacFlags.lockout;
    if (passwordExpired(entry.attributes, policy, now)) value |= uacFlags.passwordExpired;
    return value;
  }

  // ---------------------------------------------------------------- views and output

  interface ViewContext {
    policy: DirectoryPolicy;
    now: Date;
    links?: { member?: LinkedEntry[]; memberOf?: LinkedEntry[] };
  }

  function storedValues(entry: StoredEntry, type: AttributeType, context: ViewContext): AttributeValue[] {
    switch (type.name) {
      case 'distinguishedName':
        return [entry.dn];
      case 'objectGUID':
        return [Buffer.from(entry.guid, 'hex')];
      case 'objectSid':
        return entry.sid === null ? [] : [sidToBytes(entry.sid)];
      case 'uSNCreated':
        return [String(entry.usnCreated)];
      case 'uSNChanged':
        return [String(entry.usnChanged)];
      case 'member':
        return (context.links?.member ?? []).map((l) => l.dn);
      case 'memberOf':
        return (context.links?.memberOf ?? []).map((l) => l.dn);
      case 'msDS-User-Account-Control-Computed':
        return isUser(entry) ? [String(computedUac(entry, context.policy, context.now))] : [];
      case 'createTimeStamp':
        return entry.attributes.whenCreated ?? [];
      case 'modifyTimeStamp':
        return entry.attributes.whenChanged ?? [];
      case 'structuralObjectClass': {
        const classes = entry.attributes.objectClass ?? [];
        return classes.length > 0 ? [classes[classes.length - 1] as AttributeValue] : [];
      }
      case 'subSchemaSubEntry':
        return [`CN=Aggregate,${schemaDn}`];
      case 'canonicalName':
        return [canonicalName(entry.dn)];
      case 'tokenGroups':
      case 'unicodePwd':
      case 'userPassword':
        return [];
      default:
        return entry.attributes[type.name] ?? [];
    }
  }

  /** corp.example.test/Users/Alice, as AD constructs canonicalName. */
  function canonicalName(dn: string): string {
    const rdns = parseDn(dn);
    const labels = rdns.filter((r) => r[0]?.type.toLowerCase() === 'dc').map((r) => r[0]?.value ?? '');
    const others = rdns.filter((r) => r[0]?.type.toLowerCase() !== 'dc').map((r) => r[0]?.value ?? '').reverse();
    return `${labels.join('.')}/${others.join('/')}`;
  }

  function viewOf(entry: StoredEntry, context: ViewContext): EntryView {
    return { guid: entry.guid, dn: entry.dn, values: (type) => storedValues(entry, type, context) };
  }

  function parseSelection(requested: string[]): Selection {
    const selection: Selection = { all: requested.length === 0, operational: false, named: new Map() };
    const names = requested.filter((name) => name !== '1.1');
    if (requested.length > 0 && names.length === 0) return selection;
    for (const raw of names) {
      if (raw === '*') {
        selection.all = true;
        continue;
      }
      if (raw === '+') {
        selection.operational = true;
        continue;
      }
      const [name = '', ...opts] = raw.split(';');
      const type = attributeType(name);
      if (!type) continue;
      let range: { low: number; high: number | null } | null = null;
      for (const option of opts) range = parseRange(option) ?? range;
      selection.named.set(type.name.toLowerCase(), { type, range });
    }
    return selection;
  }

  function toBuffer(value: AttributeValue): Buffer {
    return Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
  }

  /** member / memberOf, in ranges as Windows AD returns them. */
  function rangedAttribute(name: string, values: string[], range: { low: number; high: number | null } | null): PartialAttribute | null {
    if (range === null) {
      if (values.length <= limits.maxValRange) return values.length === 0 ? null : { type: name, values: values.map(toBuffer) };
      return { type: `${name};range=0-${limits.maxValRange - 1}`, values: values.slice(0, limits.maxValRange).map(toBuffer) };
    }
    const { low } = range;
    if (values.length === 0 && low === 0) return null;
    if (low >= values.length) return { type: `${name};range=${low}-*`, values: [] };
    const wantedHigh = range.high === null ? values.length - 1 : range.high;
    const high = Math.min(wantedHigh, low + limits.maxValRange - 1, values.length - 1);
    const slice = values.slice(low, high + 1).map(toBuffer);
    return { type: high >= values.length - 1 ? `${name};range=${low}-*` : `${name};range=${low}-${high}`, values: slice };
  }

  async function attributesOf(entry: StoredEntry, selection: Selection, typesOnly: boolean, base: boolean, policy: DirectoryPolicy): Promise<PartialAttribute[]> {
    const now = clock();
    const wanted: Array<{ type: AttributeType; range: { low: number; high: number | null } | null }> = [];
    const added = new Set<string>();
    const want = (type: AttributeType, range: { low: number; high: number | null } | null = null): void => {
      const key = type.name.toLowerCase();
      if (added.has(key)) return;
      added.add(key);
      wanted.push({ type, range });
    };
    if (selection.all) {
      for (const name of Object.keys(entry.attributes)) {
        const type = attributeType(name);
        if (type?.inAll) want(type, selection.named.get(type.name.toLowerCase())?.range ?? null);
      }
      for (const name of ['distinguishedName', 'objectGUID', 'objectSid', 'uSNCreated', 'uSNChanged', 'member', 'memberOf']) {
        const type = attributeType(name) as AttributeType;
        want(type, selection.named.get(type.name.toLowerCase())?.range ?? null);
      }
    }
    if (selection.operational) {
      for (const name of ['createTimeStamp', 'modifyTimeStamp', 'structuralObjectClass', 'subSchemaSubEntry', 'msDS-User-Account-Control-Computed']) {
        want(attributeType(name) as AttributeType);
      }
    }
    for (const { type, range } of selection.named.values()) want(type, range);

    const out: PartialAttribute[] = [];
    for (const { type, range } of wanted) {
      if (type.syntax === 'password') continue;
      if (type.name === 'member' || type.name === 'memberOf') {
        const linked = await store.linked(entry.guid, type.name === 'member' ? 'member' : 'memberOf');
        const attribute = rangedAttribute(type.name, linked.map((l) => l.dn), range);
        if (attribute) out.push(typesOnly ? { type: attribute.type, values: [] } : attribute);
        continue;
      }
      if (type.name === 'tokenGroups') {
        // Constructed per entry by walking the groups: AD returns it on base-scope reads only.
        if (!base || !(isUser(entry) || isGroup(entry))) continue;
        const groups = await tokenGroupEntries(entry);
        const sids = groups
          .filter((g) => (int(g.attributes, 'groupType') >>> 0) & groupTypeBits.security)
          .map((g) => g.sid)
          .filter((sid): sid is string => sid !== null)
          .map((sid) => sidToBytes(sid));
        if (sids.length > 0) out.push({ type: type.name, values: typesOnly ? [] : sids });
        continue;
      }
      const values = storedValues(entry, type, { policy, now });
      if (values.length === 0) continue;
      out.push({ type: type.name, values: typesOnly ? [] : values.map(toBuffer) });
    }
    return out;
  }

  // ---------------------------------------------------------------- rootDSE

  async function rootDseAttributes(): Promise<AttributeMap> {
    const highest = await store.currentCounter('usn');
    return {
      objectClass: ['top'],
      currentTime: [generalizedTime(clock())],
      subschemaSubentry: [`CN=Aggregate,${schemaDn}`],
      dsServiceName: [`CN=NTDS Settings,${serverDn}`],
      namingContexts: [baseDn, configDn, schemaDn],
      defaultNamingContext: [baseDn],
      rootDomainNamingContext: [baseDn],
      configurationNamingContext: [configDn],
      schemaNamingContext: [schemaDn],
      serverName: [serverDn],
      supportedCapabilities: ['1.2.840.113556.1.4.800', '1.2.840.113556.1.4.1670', '1.2.840.113556.1.4.1791', '1.2.840.113556.1.4.1935', '1.2.840.113556.1.4.2080'],
      supportedControl: [oids.pagedResults],
      supportedExtension: [oids.startTls, oids.whoAmI, oids.passwordModify],
      supportedLDAPVersion: ['3'],
      supportedLDAPPolicies: ['MaxPageSize', 'MaxValRange', 'MaxQueryDuration'],
      supportedSASLMechanisms: [],
      highestCommittedUSN: [String(highest)],
      dnsHostName: [hostName],
      ldapServiceName: [`${dnsName}:${serverShortName.toLowerCase()}$@${dnsName.toUpperCase()}`],
      isSynchronized: ['TRUE'],
      isGlobalCatalogReady: ['FALSE'],
      domainFunctionality: ['7'],
      forestFunctionality: ['7'],
      domainControllerFunctionality: ['7'],
      vendorName: ['Portico'],
      vendorVersion: [options.vendorVersion ?? '0.1.0'],
    };
  }

  async function searchRootDse(request: SearchRequest, sink: SearchSink): Promise<LdapResult> {
    const attributes = await rootDseAttributes();
    // The rootDSE is outside the schema: its filter is only tested for presence and equality.
    if (!rootDseMatches(request.filter, attributes)) return { resultCode: ResultCode.success };
    const requested = request.attributes.filter((a) => a !== '1.1');
    const all = request.attributes.length === 0 || requested.includes('*') || requested.includes('+');
    const lower = new Set(requested.map((a) => a.toLowerCase()));
    const out: PartialAttribute[] = [];
    for (const [name, values] of Object.entries(attributes)) {
      if (!all && !lower.has(name.toLowerCase())) continue;
      if (values.length === 0) continue;
      out.push({ type: name, values: request.typesOnly ? [] : values.map(toBuffer) });
    }
    await sink.entry({ objectName: '', attributes: out });
    return { resultCode: ResultCode.success };
  }

  function rootDseMatches(filter: SearchRequest['filter'], attributes: AttributeMap): boolean {
    const get = (name: string): AttributeValue[] => Object.entries(attributes).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1] ?? [];
    switch (filter.type) {
      case 'present':
        return get(filter.attribute).length > 0;
      case 'equality':
      case 'approx':
        return get(filter.attribute).some((v) => v.toString().toLowerCase() === filter.value.toString('utf8').toLowerCase());
      case 'and':
        return filter.filters.every((f) => rootDseMatches(f, attributes));
      case 'or':
        return filter.filters.some((f) => rootDseMatches(f, attributes));
      case 'not':
        return !rootDseMatches(filter.filter, attributes);
      case 'substrings':
      case 'greaterOrEqual':
      case 'lessOrEqual':
      case 'extensible':
        return false;
    }
  }

  // ---------------------------------------------------------------- search

  function fingerprint(request: SearchRequest): string {
    return JSON.stringify([request.baseObject.toLowerCase(), request.scope, request.filter], (_key, value: unknown) => {
      if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
        return Buffer.from((value as { data: number[] }).data).toString('hex');
      }
      return value;
    });
  }

  function rememberPaged(cookie: string, state: PagedState): void {
    // Abandoned paged searches (the client never asked for the next page) are forgotten.
    const stale = clock().getTime() - pagedSearchLifetimeMs;
    for (const [key, value] of paged) if (value.createdAt < stale) paged.delete(key);
    paged.set(cookie, state);
    const mine = [...paged.entries()].filter(([, s]) => s.sessionId === state.sessionId);
    while (mine.length > limits.maxPagedSearchesPerSession) {
      const oldest = mine.shift();
      if (oldest) paged.delete(oldest[0]);
    }
  }

  /** Candidates of an indexed plan, ordered by uSNCreated. */
  async function planCandidates(plan: Plan): Promise<StoredEntry[]> {
    switch (plan.kind) {
      case 'none':
        return [];
      case 'lookup':
        return store.lookup(plan.index, plan.key);
      case 'dn': {
        const found = await store.getByNdn(plan.ndn);
        return found ? [found] : [];
      }
      case 'guids': {
        const guids = [...plan.guids];
        const out: StoredEntry[] = [];
        for (let i = 0; i < guids.length; i += 500) out.push(...(await store.getByGuids(guids.slice(i, i + 500))));
        return out.sort((a, b) => a.usnCreated - b.usnCreated);
      }
      case 'union': {
        const byGuid = new Map<string, StoredEntry>();
        for (const part of plan.plans) for (const entry of await planCandidates(part)) byGuid.set(entry.guid, entry);
        return [...byGuid.values()].sort((a, b) => a.usnCreated - b.usnCreated);
      }
    }
  }

  async function* candidates(compiled: CompiledFilter, request: SearchRequest, base: StoredEntry, afterUsn: number): AsyncGenerator<StoredEntry[]> {
    if (request.scope === 'base') {
      if (base.usnCreated > afterUsn) yield [base];
      return;
    }
    if (compiled.plan !== null) {
      const found = (await planCandidates(compiled.plan)).filter((e) => e.usnCreated > afterUsn);
      for (let i = 0; i < found.length; i += 200) yield found.slice(i, i + 200);
      return;
    }
    let cursor = afterUsn;
    // A big subtree (a naming-context root, CN=Users of a large domain) is scanned in uSN order
    // without a DN range, the scope and partition tests below doing the filtering: linear. A DN
    // range sorted by uSN for every batch would be quadratic; for small subtrees it is the cheap way.
    const whole =
      request.scope === 'sub' && (namingContexts.includes(base.ndn) || (await store.countSubtree(base.ndn, bigSubtree)) > bigSubtree);
    for (;;) {
      const batch = await store.scan(
        request.scope === 'one'
          ? { parent: base.ndn, afterUsn: cursor, limit: scanBatch }
          : whole
            ? { afterUsn: cursor, limit: scanBatch }
            : { subtree: base.ndn, afterUsn: cursor, limit: scanBatch },
      );
      if (batch.length === 0) return;
      yield batch;
      cursor = (batch[batch.length - 1] as StoredEntry).usnCreated;
      if (batch.length < scanBatch) return;
    }
  }

  async function search(session: Session, request: SearchRequest, controls: Control[], sink: SearchSink): Promise<{ result: LdapResult; controls?: Control[] }> {
    try {
      let pagedRequest: { size: number; cookie: Buffer } | null = null;
      for (const control of controls) {
        if (control.oid === oids.pagedResults) {
          try {
            pagedRequest = decodePagedResults(control.value ?? Buffer.alloc(0));
          } catch {
            throw new LdapFailure(ResultCode.protocolError, 'the paged-results control value is not valid');
          }
        } else if (control.critical) {
          throw new LdapFailure(ResultCode.unavailableCriticalExtension, `the critical control ${control.oid} is not supported`);
        }
      }

      let baseNdnOfSearch: string;
      try {
        baseNdnOfSearch = normalizeDn(request.baseObject);
      } catch {
        throw new LdapFailure(ResultCode.invalidDNSyntax, `0000208F: NameErr: DSID-03100225, problem 2006 (BAD_NAME), data 8350, best match of: '${request.baseObject}'`);
      }
      if (baseNdnOfSearch === rootDseNdn) {
        if (request.scope === 'base') return { result: await searchRootDse(request, sink) };
        if (session.boundDn === null) throw new LdapFailure(ResultCode.operationsError, notBoundText);
        return { result: { resultCode: ResultCode.success } };
      }
      if (session.boundDn === null) throw new LdapFailure(ResultCode.operationsError, notBoundText);

      const base = await store.getByNdn(baseNdnOfSearch);
      if (!base) {
        throw new LdapFailure(
          ResultCode.noSuchObject,
          `0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0, best match of: '${request.baseObject}'`,
          (await matchedDnOf(baseNdnOfSearch)) ?? '',
        );
      }

      // Paging state: a new search, or the continuation a cookie names.
      const print = fingerprint(request);
      let state: PagedState | null = null;
      let cookieId: string | null = null;
      if (pagedRequest && pagedRequest.cookie.length > 0) {
        cookieId = pagedRequest.cookie.toString('hex');
        const found = paged.get(cookieId);
        if (!found || found.sessionId !== session.id || found.fingerprint !== print || found.createdAt < clock().getTime() - pagedSearchLifetimeMs) {
          throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('the paged-results cookie is not valid for this search'));
        }
        paged.delete(cookieId);
        if (pagedRequest.size <= 0) {
          // RFC 2696: a size of 0 with a cookie abandons the paged search.
          return { result: { resultCode: ResultCode.success }, controls: [pagedControl(Buffer.alloc(0))] };
        }
        state = found;
      }
      const pageSize = pagedRequest ? Math.min(Math.max(pagedRequest.size, 1), limits.maxPageSize) : null;
      if (pagedRequest && pagedRequest.size <= 0 && !state) {
        return { result: { resultCode: ResultCode.success }, controls: [pagedControl(Buffer.alloc(0))] };
      }
      const sizeLimit =
        request.sizeLimit > 0 ? (pageSize === null ? Math.min(request.sizeLimit, limits.maxPageSize) : request.sizeLimit) : pageSize === null ? limits.maxPageSize : Infinity;
      const clientLimited = request.sizeLimit > 0;
      const started = clock().getTime();
      const timeLimitSeconds = request.timeLimit > 0 ? Math.min(request.timeLimit, limits.maxQueryDurationSeconds) : limits.maxQueryDurationSeconds;
      const deadline = started + timeLimitSeconds * 1000;

      const compiled = await compileFilter(request.filter, resolverFor());
      const { policy } = await currentPolicy();
      const selection = parseSelection(request.attributes);
      const baseNc = namingContextOf(base.ndn);
      const afterUsn = state?.afterUsn ?? 0;
      let returned = state?.returned ?? 0;
      let onPage = 0;
      let lastUsn = afterUsn;
      let more = false;
      let limitHit = false;

      outer: for await (const batch of candidates(compiled, request, base, afterUsn)) {
        for (const entry of batch) {
          if (sink.signal.aborted) return { result: { resultCode: ResultCode.other, diagnosticMessage: 'the search was abandoned' } };
          if (clock().getTime() > deadline) {
            return { result: { resultCode: ResultCode.timeLimitExceeded } };
          }
          if (request.scope === 'one' && !isChildOf(entry.ndn, base.ndn)) continue;
          if (request.scope === 'sub' && !isWithin(entry.ndn, base.ndn)) continue;
          if (request.scope !== 'base' && namingContextOf(entry.ndn) !== baseNc) continue;
          const links = compiled.readsLinks
            ? { member: await store.linked(entry.guid, 'member'), memberOf: await store.linked(entry.guid, 'memberOf') }
            : undefined;
          if (compiled.test(viewOf(entry, { policy, now: clock(), ...(links ? { links } : {}) })) !== true) continue;
          if (returned >= sizeLimit || (pageSize !== null && onPage >= pageSize)) {
            more = true;
            limitHit = returned >= sizeLimit;
            break outer;
          }
          await sink.entry({ objectName: entry.dn, attributes: await attributesOf(entry, selection, request.typesOnly, request.scope === 'base', policy) });
          returned += 1;
          onPage += 1;
          lastUsn = entry.usnCreated;
        }
      }

      if (limitHit) {
        const result: LdapResult = { resultCode: ResultCode.sizeLimitExceeded };
        if (!clientLimited && pageSize === null) {
          result.diagnosticMessage = `the search returned more than ${limits.maxPageSize} entries: use the paged-results control`;
        }
        return pageSize === null ? { result } : { result, controls: [pagedControl(Buffer.alloc(0))] };
      }
      if (pageSize === null) return { result: { resultCode: ResultCode.success } };
      if (!more) return { result: { resultCode: ResultCode.success }, controls: [pagedControl(Buffer.alloc(0))] };
      const cookie = randomBytes(16);
      rememberPaged(cookie.toString('hex'), { sessionId: session.id, fingerprint: print, afterUsn: lastUsn, returned, createdAt: clock().getTime() });
      return { result: { resultCode: ResultCode.success }, controls: [pagedControl(cookie)] };
    } catch (error) {
      return { result: toResult(error) };
    }
  }

  function pagedControl(cookie: Buffer): Control {
    // The size field of a response is an estimate of the total; 0 means "unknown", as AD sends.
    return { oid: oids.pagedResults, critical: false, value: encodePagedResults(0, cookie) };
  }

  function toResult(error: unknown): LdapResult {
    if (error instanceof LdapFailure) {
      return { resultCode: error.resultCode, diagnosticMessage: error.message, ...(error.matchedDN !== undefined ? { matchedDN: error.matchedDN } : {}) };
    }
    if (error instanceof DnSyntaxError) return { resultCode: ResultCode.invalidDNSyntax, diagnosticMessage: error.message };
    if (isAppError(error, 'storage.unavailable')) return { resultCode: ResultCode.unavailable, diagnosticMessage: 'the directory store is unavailable' };
    if (storageConflict(error)) return { resultCode: ResultCode.entryAlreadyExists, diagnosticMessage: '00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS), data 0' };
    // Internals stay out of the wire message.
    return { resultCode: ResultCode.other, diagnosticMessage: 'internal error' };
  }

  // ---------------------------------------------------------------- bind

  /** The user a bind or password-modify name designates: DN, UPN (explicit or implicit), or DOMAIN\sam. */
  async function resolveAccountName(name: string, reads: DirectoryReads = store): Promise<StoredEntry | undefined> {
    const trimmed = name.trim();
    if (trimmed === '' || trimmed.length > 1024 || controlCharacters.test(trimmed)) return undefined;
    const backslash = trimmed.indexOf('\\');
    const users = (found: StoredEntry[]): StoredEntry | undefined => {
      const list = found.filter(isUser);
      return list.length === 1 ? list[0] : undefined;
    };
    if (backslash > 0 && !trimmed.includes('=')) {
      const domain = trimmed.slice(0, backslash).toUpperCase();
      const sam = trimmed.slice(backslash + 1);
      if (domain !== netbiosName && domain !== dnsName.toUpperCase()) return undefined;
      return users(await reads.lookup('sAMAccountName', indexKey('sAMAccountName', sam)));
    }
    if (trimmed.includes('=')) {
      const entry = await entryByDn(trimmed, reads);
      return entry && isUser(entry) ? entry : undefined;
    }
    const at = trimmed.lastIndexOf('@');
    if (at > 0) {
      const explicit = users(await reads.lookup('userPrincipalName', indexKey('userPrincipalName', trimmed)));
      if (explicit) return explicit;
      // AD also accepts the implicit UPN sAMAccountName@<dns domain>, whatever the account's own
      // UPN (another prefix or suffix); an explicit UPN that matches wins, as above.
      if (trimmed.slice(at + 1).toLowerCase() === dnsName) return users(await reads.lookup('sAMAccountName', indexKey('sAMAccountName', trimmed.slice(0, at))));
    }
    // A bare sAMAccountName is not a bind name for AD's simple bind.
    return undefined;
  }

  /** Unknown names pay a verification at the current parameters too, so their answer takes as long as a wrong password's. */
  function fakeVerify(password: string): Promise<boolean> {
    return hasher
      .dummyHash()
      .then((hash) => verify(password, hash))
      .then(() => false);
  }

  /** Records a wrong password: badPwdCount within the observation window, lockout at the threshold. */
  async function recordBadPassword(guid: string): Promise<void> {
    await store.transaction(async (tx) => {
      await tx.nextCounter('usn'); // serialises concurrent writers before the read below
      const [entry] = await tx.getByGuids([guid]);
      if (!entry) return;
      const { policy } = await currentPolicy(tx);
      const now = clock();
      const attributes = { ...entry.attributes };
      const lastBad = bigint(attributes, 'badPasswordTime');
      const windowOpen = lastBad > 0n && now.getTime() - filetimeToDate(lastBad).getTime() < policy.lockoutObservationWindowMs;
      const count = (windowOpen ? int(attributes, 'badPwdCount') : 0) + 1;
      attributes.badPwdCount = [String(count)];
      attributes.badPasswordTime = [filetime(now)];
      let usnChanged = entry.usnChanged;
      if (policy.lockoutThreshold > 0 && count >= policy.lockoutThreshold && !exemptFromLockout(entry) && !lockedOut(attributes, policy, now)) {
        attributes.lockoutTime = [filetime(now)];
        usnChanged = await tx.nextCounter('usn');
        attributes.whenChanged = [generalizedTime(now)];
      }
      await tx.update({ ...entry, attributes, usnChanged });
    });
  }

  async function recordGoodPassword(entry: StoredEntry): Promise<void> {
    if (int(entry.attributes, 'badPwdCount') === 0 && bigint(entry.attributes, 'lockoutTime') === 0n) return;
    await store.transaction(async (tx) => {
      await tx.nextCounter('usn');
      const [current] = await tx.getByGuids([entry.guid]);
      if (!current) return;
      const attributes: AttributeMap = { ...current.attributes, badPwdCount: ['0'] };
      let usnChanged = current.usnChanged;
      if (bigint(current.attributes, 'lockoutTime') !== 0n) {
        attributes.lockoutTime = ['0'];
        usnChanged = await tx.nextCounter('usn');
      }
      await tx.update({ ...current, attributes, usnChanged });
    });
  }

  type Verification = { ok: true; entry: StoredEntry; policy: DirectoryPolicy; hash: string } | { ok: false; sub: '52e' | '775' };

  /** Checks a password the way a bind does, with lockout accounting; no account-state checks. */
  async function verifyAccountPassword(name: string, password: string, resolved?: StoredEntry): Promise<Verification> {
    const entry = resolved ?? (await resolveAccountName(name));
    if (!entry) {
      await fakeVerify(password);
      return { ok: false, sub: '52e' };
    }
    const { policy } = await currentPolicy();
    const credentials = await store.getCredentials(entry.guid);
    const locked = lockedOut(entry.attributes, policy, clock(), entry);
    const hash = credentials?.hash;
    let correct: boolean;
    // A locked account always pays the hash: a fast 775 would tell a right guess from a wrong one.
    if (hash && !locked && verifiedPasswords.has(hash, password)) correct = true;
    else {
      correct = hash ? await verify(password, hash) : await fakeVerify(password);
      if (correct && hash && !locked) verifiedPasswords.remember(entry.guid, hash, password);
    }
    if (locked) return { ok: false, sub: '775' };
    if (!correct || !hash) {
      await recordBadPassword(entry.guid);
      return { ok: false, sub: '52e' };
    }
    return { ok: true, entry, policy, hash };
  }

  /**
   * A hash older than the configured one (scrypt from before issue 21, or Argon2id below today's
   * parameters), just proven by a successful bind, is replaced by one at the current parameters,
   * so nobody has to reset a password. Stored only if the account still has the hash that was
   * verified (a concurrent bind or password change wins), hence audited once per account. A
   * failure leaves the old hash, which still verifies: the next bind tries again.
   */
  async function upgradeHash(entry: StoredEntry, verified: string, password: string): Promise<void> {
    if (!hasher.needsRehash(verified)) return;
    try {
      const upgraded = await hasher.hash(password);
      const replaced = await store.transaction(async (tx) => {
        await tx.nextCounter('usn'); // serialises concurrent upgrades on PostgreSQL before the read below
        const current = await tx.getCredentials(entry.guid);
        if (current?.hash !== verified) return false;
        await tx.setCredentials(entry.guid, { ...current, hash: upgraded });
        return true;
      });
      if (!replaced) return;
      verifiedPasswords.forget(entry.guid);
      verifiedPasswords.remember(entry.guid, upgraded, password);
      await options.audit?.({ action: 'directory.password.rehashed', target: entry.guid, details: { dn: entry.dn, from: hashAlgorithm(verified), to: hashAlgorithm(upgraded), parameters: hasher.description } });
    } catch {
      // Kept as it was; see above.
    }
  }

  async function bind(session: Session, name: string, password: Buffer): Promise<{ result: LdapResult; boundDn?: string | null }> {
    const invalid = (sub: string): { result: LdapResult; boundDn: null } => ({
      result: { resultCode: ResultCode.invalidCredentials, diagnosticMessage: bindFailureText(sub) },
      boundDn: null,
    });
    try {
      if (name === '' && password.length === 0) return { result: { resultCode: ResultCode.success }, boundDn: null };
      // Windows treats a name with an empty password as an anonymous bind; we refuse it instead.
      if (name === '' || password.length === 0) return invalid('52e');
      if (requireSecure && !session.secure) {
        return { result: { resultCode: ResultCode.strongerAuthRequired, diagnosticMessage: 'BindSimple: Transport encryption required.' }, boundDn: null };
      }
      const verification = await verifyAccountPassword(name, password.toString('utf8'));
      if (!verification.ok) return invalid(verification.sub);
      const { entry, policy } = verification;
      const now = clock();
      const uac = int(entry.attributes, 'userAccountControl');
      if (uac & uacFlags.accountDisable) return invalid('533');
      const expires = bigint(entry.attributes, 'accountExpires');
      if (expires !== 0n && expires !== filetimeNever && filetimeToDate(expires).getTime() <= now.getTime()) return invalid('701');
      if (!(uac & uacFlags.dontExpirePassword)) {
        if (bigint(entry.attributes, 'pwdLastSet') === 0n) return invalid('773');
        if (passwordExpired(entry.attributes, policy, now)) return invalid('532');
      }
      await recordGoodPassword(entry);
      await upgradeHash(entry, verification.hash, password.toString('utf8'));
      return { result: { resultCode: ResultCode.success }, boundDn: entry.dn };
    } catch (error) {
      return { result: toResult(error), boundDn: null };
    }
  }

  // ---------------------------------------------------------------- password writes

  async function checkNewPassword(entry: StoredEntry, password: string, credentials: Credentials | undefined, policy: DirectoryPolicy): Promise<void> {
    const problem = passwordProblem(password, { minLength: policy.minPwdLength, complexity: policy.complexity }, first(entry.attributes, 'sAMAccountName') ?? null);
    if (problem) throw new LdapFailure(ResultCode.constraintViolation, passwordRestriction(problem));
    if (policy.pwdHistoryLength > 0 && credentials?.hash) {
      const previous = [credentials.hash, ...credentials.history].slice(0, policy.pwdHistoryLength);
      const reused = await Promise.all(previous.map((hash) => verify(password, hash)));
      if (reused.some(Boolean)) throw new LdapFailure(ResultCode.constraintViolation, passwordRestriction('the password was used before (password history)'));
    }
  }

  function newCredentials(hash: string, previous: Credentials | undefined, policy: DirectoryPolicy): Credentials {
    const history = previous?.hash ? [previous.hash, ...previous.history] : [...(previous?.history ?? [])];
    return { hash, history: history.slice(0, Math.max(policy.pwdHistoryLength - 1, 0)) };
  }

  function requireSecurePasswordWrite(session: Session): void {
    if (requireSecure && !session.secure) {
      throw new LdapFailure(ResultCode.unwillingToPerform, '0000001F: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0: password changes need a TLS connection');
    }
  }

  function passwordValue(type: AttributeType, value: Buffer): string {
    if (type.name === 'unicodePwd') {
      const decoded = decodeUnicodePwd(value);
      if (decoded === null) throw new LdapFailure(ResultCode.constraintViolation, '00000057: unicodePwd must be the quoted password in UTF-16LE');
      return decoded;
    }
    return value.toString('utf8');
  }

  // ---------------------------------------------------------------- write helpers

  function requireBound(session: Session): void {
    if (session.boundDn === null) throw new LdapFailure(ResultCode.operationsError, notBoundText);
  }

  async function requireAdmin(session: Session): Promise<StoredEntry> {
    requireBound(session);
    const admin = await isAdministrator(session);
    if (!admin) throw new LdapFailure(ResultCode.insufficientAccessRights, insufficientText);
    return admin;
  }

  function validateSam(value: string, user: boolean): void {
    if (value.length === 0 || samForbidden.test(value) || controlCharacters.test(value) || value.endsWith('.') || (user && value.length > 20) || value.length > 256) {
      throw new LdapFailure(ResultCode.constraintViolation, `0000052D: sAMAccountName ${JSON.stringify(value)} is not valid`);
    }
  }

  /** Text values of a write, checked against the syntax. */
  function decodeValues(type: AttributeType, values: Buffer[]): AttributeValue[] {
    return values.map((value) => {
      switch (type.syntax) {
        case 'binary':
        case 'guid':
        case 'sid':
          return Buffer.from(value);
        case 'int':
        case 'int64': {
          const text = value.toString('utf8').trim();
          if (!/^-?\d+$/.test(text)) throw new LdapFailure(ResultCode.invalidAttributeSyntax, `00000057: ${type.name}: ${JSON.stringify(text)} is not an integer`);
          const n = BigInt(text);
          if (type.syntax === 'int' && (n < -2147483648n || n > 4294967295n)) throw new LdapFailure(ResultCode.invalidAttributeSyntax, `00000057: ${type.name} is out of range`);
          // 32-bit values are stored signed, as AD returns them (groupType -2147483646).
          return type.syntax === 'int' ? String(Number(n) | 0) : n.toString();
        }
        case 'bool': {
          const text = value.toString('utf8').toUpperCase();
          if (text !== 'TRUE' && text !== 'FALSE') throw new LdapFailure(ResultCode.invalidAttributeSyntax, `00000057: ${type.name} must be TRUE or FALSE`);
          return text;
        }
        case 'dn': {
          const text = value.toString('utf8');
          if (tryNormalizeDn(text) === null) throw new LdapFailure(ResultCode.invalidAttributeSyntax, `00000057: ${type.name}: not a DN`);
          return formatDn(parseDn(text));
        }
        case 'string':
        case 'time':
        case 'password':
          return value.toString('utf8');
      }
    });
  }

  function sameValue(type: AttributeType, a: AttributeValue, b: AttributeValue): boolean {
    if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return toBuffer(a).equals(toBuffer(b));
    if (type.syntax === 'dn') return tryNormalizeDn(a) === tryNormalizeDn(b);
    return a.toLowerCase() === b.toLowerCase();
  }

  async function guidsOfDns(dns: AttributeValue[], reads: DirectoryReads): Promise<string[]> {
    const guids: string[] = [];
    for (const dn of dns) {
      const entry = await entryByDn(dn.toString(), reads);
      if (!entry) throw new LdapFailure(ResultCode.noSuchObject, `0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0, best match of: '${dn.toString()}'`);
      guids.push(entry.guid);
    }
    return guids;
  }

  async function checkUnique(tx: DirectoryReads, attributes: AttributeMap, self: string | null, user: boolean): Promise<void> {
    const sam = first(attributes, 'sAMAccountName');
    if (sam !== undefined) {
      validateSam(sam, user);
      const taken = (await tx.lookup('sAMAccountName', indexKey('sAMAccountName', sam))).some((e) => e.guid !== self);
      if (taken) throw new LdapFailure(ResultCode.entryAlreadyExists, `00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS): sAMAccountName ${sam} is taken`);
    }
    const upn = first(attributes, 'userPrincipalName');
    if (upn !== undefined) {
      const taken = (await tx.lookup('userPrincipalName', indexKey('userPrincipalName', upn))).some((e) => e.guid !== self);
      if (taken) throw new LdapFailure(ResultCode.constraintViolation, `0000217B: userPrincipalName ${upn} is taken`);
    }
  }

  async function allocateSid(tx: DirectoryWrites): Promise<string> {
    const { domainSid } = await currentPolicy(tx);
    if (domainSid === null) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('the domain is not provisioned'));
    const rid = firstUserRid - 1 + (await tx.nextCounter('rid'));
    return `${domainSid}-${rid}`;
  }

  function newGuid(): string {
    return randomUUID().replaceAll('-', '');
  }

  function generatedSam(): string {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    const part = (n: number): string => Array.from({ length: n }, () => chars[randomInt(chars.length)]).join('');
    return `$${part(6)}-${part(12)}`;
  }

  // ---------------------------------------------------------------- add

  async function add(session: Session, request: AddRequest): Promise<LdapResult> {
    try {
      await requireAdmin(session);
      const rdns = parseDn(request.entry);
      const rdn = rdns[0];
      if (!rdn || rdn.length !== 1) throw new LdapFailure(ResultCode.namingViolation, '00002099: NameErr: the RDN must be one attribute');
      const ndn = normalizeRdns(rdns);
      const parent = parentNdn(ndn) ?? '';
      const attributes: AttributeMap = {};
      let password: string | null = null;
      let members: AttributeValue[] = [];
      for (const { type: rawType, values } of request.attributes) {
        const type = attributeType(rawType.split(';')[0] ?? '');
        if (!type) throw new LdapFailure(ResultCode.undefinedAttributeType, `00000057: LdapErr: DSID-0C090D8A, comment: Error in attribute conversion operation, data 0, v4563: ${rawType}`);
        if (systemAttributesOnWrite.has(type.name.toLowerCase()) || type.owner === 'system' || type.owner === 'constructed') {
          throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform(`${type.name} is owned by the directory`));
        }
        if (type.syntax === 'password') {
          requireSecurePasswordWrite(session);
          if (values.length !== 1) throw new LdapFailure(ResultCode.constraintViolation, passwordRestriction('one password value expected'));
          password = passwordValue(type, values[0] as Buffer);
          continue;
        }
        const decoded = decodeValues(type, values);
        if (type.name === 'member') {
          members = [...members, ...decoded];
          continue;
        }
        const merged = [...(attributes[type.name] ?? []), ...decoded];
        if (type.single && merged.length > 1) throw new LdapFailure(ResultCode.constraintViolation, `${type.name} is single-valued`);
        attributes[type.name] = merged;
      }

      const def = structuralClass((attributes.objectClass ?? []).map(String));
      if (!def) throw new LdapFailure(ResultCode.objectClassViolation, '0000207D: UpdErr: DSID-031A0F6E, problem 6002 (OBJ_CLASS_VIOLATION): no known structural objectClass');
      if (!def.creatable) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform(`entries of class ${def.name} cannot be added`));
      const ava = rdn[0] as { type: string; value: string };
      if (ava.type.toLowerCase() !== def.rdnType) throw new LdapFailure(ResultCode.namingViolation, `00002099: NameErr: ${def.name} entries are named by ${def.rdnType.toUpperCase()}`);
      const rdnAttribute = attributeType(def.rdnType) as AttributeType;
      const given = attributes[rdnAttribute.name]?.[0];
      if (given !== undefined && given.toString().toLowerCase() !== ava.value.toLowerCase()) {
        throw new LdapFailure(ResultCode.namingViolation, `00002099: NameErr: ${rdnAttribute.name} does not match the RDN`);
      }
      if (members.length > 0 && def.name !== 'group') throw new LdapFailure(ResultCode.objectClassViolation, 'member is an attribute of groups');
      if (password !== null && def.name !== 'user') throw new LdapFailure(ResultCode.objectClassViolation, 'only users have passwords');

      const now = clock();
      attributes.objectClass = [...def.chain];
      attributes[rdnAttribute.name] = [ava.value];
      attributes.name = [ava.value];
      attributes.objectCategory = [categoryDn(def)];
      attributes.instanceType = ['4'];
      attributes.whenCreated = [generalizedTime(now)];
      attributes.whenChanged = [generalizedTime(now)];

      const result = await store.transaction(async (tx) => {
        const usn = await tx.nextCounter('usn');
        if (await tx.getByNdn(ndn)) throw new LdapFailure(ResultCode.entryAlreadyExists, '00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS), data 0');
        const parentEntry = await tx.getByNdn(parent);
        if (!parentEntry) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0', (await matchedDnOf(ndn, tx)) ?? '');
        const parentClasses = classesOf(parentEntry);
        if (parentClasses.includes('user') || parentClasses.includes('group')) {
          throw new LdapFailure(ResultCode.namingViolation, '00002099: NameErr: users and groups cannot hold entries');
        }
        if (namingContextOf(ndn) !== baseNdn) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('entries are added in the domain partition only'));
        const isUserClass = def.name === 'user';
        const isGroupClass = def.name === 'group';
        let sid: string | null = null;
        let credentials: Credentials | undefined;
        const { policy } = await currentPolicy(tx);
        if (isUserClass || isGroupClass) {
          attributes.sAMAccountName ??= [generatedSam()];
          await checkUnique(tx, attributes, null, isUserClass);
          sid = await allocateSid(tx);
        }
        if (isUserClass) {
          const uacGiven = attributes.userAccountControl !== undefined;
          const uac = uacGiven ? int(attributes, 'userAccountControl') : password === null ? uacFlags.normalAccount | uacFlags.accountDisable : uacFlags.normalAccount;
          attributes.userAccountControl = [String((uac & ~(uacFlags.lockout | uacFlags.passwordExpired)) | uacFlags.normalAccount)];
          attributes.sAMAccountType = [String(samAccountType.user)];
          const primary = int(attributes, 'primaryGroupID', wellKnownRids.domainUsers);
          if (primary !== wellKnownRids.domainUsers) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('a new user starts in Domain Users; change primaryGroupID afterwards'));
          attributes.primaryGroupID = [String(primary)];
          attributes.accountExpires ??= [filetimeNever.toString()];
          const pwdLastSetGiven = first(attributes, 'pwdLastSet');
          if (pwdLastSetGiven !== undefined && pwdLastSetGiven !== '0' && pwdLastSetGiven !== '-1') {
            throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('pwdLastSet accepts 0 or -1 only'));
          }
          attributes.pwdLastSet = [password !== null && pwdLastSetGiven !== '0' ? filetime(now) : '0'];
          attributes.badPwdCount = ['0'];
          attributes.badPasswordTime = ['0'];
          attributes.lockoutTime ??= ['0'];
          if (first(attributes, 'lockoutTime') !== '0') throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('lockoutTime accepts 0 only'));
          attributes.logonCount = ['0'];
          if (password !== null) {
            const candidate: StoredEntry = { guid: '', dn: '', ndn, parentNdn: parent, sid, usnCreated: 0, usnChanged: 0, attributes };
            await checkNewPassword(candidate, password, undefined, policy);
            credentials = { hash: await hasher.hash(password), history: [] };
          }
        } else if (isGroupClass) {
          const groupType = attributes.groupType ? int(attributes, 'groupType') : (groupTypeBits.security | groupTypeBits.global) | 0;
          if (!isValidGroupType(groupType) || ((groupType >>> 0) & groupTypeBits.builtinLocal) !== 0) {
            throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('groupType must have exactly one of global, domain-local or universal'));
          }
          attributes.groupType = [String(groupType | 0)];
          attributes.sAMAccountType = [String(samAccountTypeForGroup(groupType))];
        } else {
          for (const name of ['userAccountControl', 'primaryGroupID', 'groupType', 'pwdLastSet', 'lockoutTime', 'sAMAccountName', 'userPrincipalName']) {
            if (attributes[name]) throw new LdapFailure(ResultCode.objectClassViolation, `${name} is not an attribute of ${def.name}`);
          }
        }
        const guid = newGuid();
        const dn = formatDn(rdns);
        const memberGuids = await guidsOfDns(members, tx);
        await tx.insert({ guid, dn, ndn, parentNdn: parent, sid, usnCreated: usn, usnChanged: usn, attributes });
        if (memberGuids.length > 0) await tx.addLinks([...new Set(memberGuids)].map((member) => ({ group: guid, member })));
        if (credentials) await tx.setCredentials(guid, credentials);
        return { resultCode: ResultCode.success } satisfies LdapResult;
      });
      return result;
    } catch (error) {
      return toResult(error);
    }
  }

  // ---------------------------------------------------------------- modify

  function isPasswordChangePair(changes: Modification[]): boolean {
    if (changes.length !== 2) return false;
    const [a, b] = changes as [Modification, Modification];
    const pwd = (m: Modification): boolean => attributeType(m.type.split(';')[0] ?? '')?.syntax === 'password';
    return pwd(a) && pwd(b) && a.operation === 'delete' && b.operation === 'add' && a.values.length === 1 && b.values.length === 1;
  }

  async function modify(session: Session, dn: string, changes: Modification[]): Promise<LdapResult> {
    try {
      requireBound(session);
      const target = await entryByDn(dn);
      if (!target) {
        const ndn = tryNormalizeDn(dn);
        if (ndn === null) throw new LdapFailure(ResultCode.invalidDNSyntax, 'invalid DN');
        throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0', (await matchedDnOf(ndn)) ?? '');
      }
      const admin = await isAdministrator(session);
      const self = session.boundDn !== null && tryNormalizeDn(session.boundDn) === target.ndn;
      const changePair = isPasswordChangePair(changes);
      if (!admin && !(self && changePair)) throw new LdapFailure(ResultCode.insufficientAccessRights, insufficientText);

      if (changePair) {
        requireSecurePasswordWrite(session);
        const [del, addition] = changes as [Modification, Modification];
        const oldPassword = passwordValue(attributeType(del.type) as AttributeType, del.values[0] as Buffer);
        const newPassword = passwordValue(attributeType(addition.type) as AttributeType, addition.values[0] as Buffer);
        await changePassword(target, oldPassword, newPassword, admin !== null);
        return { resultCode: ResultCode.success };
      }

      return await store.transaction(async (tx) => {
        const usn = await tx.nextCounter('usn');
        const [entry] = await tx.getByGuids([target.guid]);
        if (!entry) throw new LdapFailure(ResultCode.noSuchObject, 'the entry was removed');
        const { policy } = await currentPolicy(tx);
        const def = structuralClass(classesOf(entry));
        const attributes: AttributeMap = { ...entry.attributes };
        const user = isUser(entry);
        const group = isGroup(entry);
        let memberGuids: Set<string> | null = null;
        const linkChanges: { add: string[]; remove: string[] } = { add: [], remove: [] };
        let newPassword: string | null = null;
        const now = clock();

        const currentMembers = async (): Promise<Set<string>> => {
          memberGuids ??= new Set((await tx.linksOfGroups([entry.guid])).map((l) => l.member));
          return memberGuids;
        };

        for (const change of changes) {
          const type = attributeType(change.type.split(';')[0] ?? '');
          if (!type) throw new LdapFailure(ResultCode.undefinedAttributeType, `00000057: ${change.type} is not an attribute of this directory`);
          const name = type.name;
          const lower = name.toLowerCase();
          if (type.owner === 'system' || type.owner === 'constructed' || systemAttributesOnWrite.has(lower)) {
            throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform(`${name} is owned by the directory`));
          }
          if (def && lower === def.rdnType) throw new LdapFailure(ResultCode.notAllowedOnRDN, `00002016: ${name} names the entry: use modifyDN`);
          if (lower === 'objectclass') throw new LdapFailure(ResultCode.objectClassViolation, '0000207D: objectClass cannot change');
          if (type.syntax === 'password') {
            if (!user) throw new LdapFailure(ResultCode.objectClassViolation, 'only users have passwords');
            requireSecurePasswordWrite(session);
            if (change.operation !== 'replace' || change.values.length !== 1) {
              throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('set a password with replace, or change it with delete old + add new'));
            }
            newPassword = passwordValue(type, change.values[0] as Buffer);
            continue;
          }
          if (name === 'member') {
            if (!group) throw new LdapFailure(ResultCode.objectClassViolation, 'member is an attribute of groups');
            const members = await currentMembers();
            const guids = await guidsOfDns(decodeValues(type, change.values), tx);
            if (change.operation === 'add') {
              for (const guid of guids) {
                if (members.has(guid)) throw new LdapFailure(ResultCode.entryAlreadyExists, '00000562: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS): already a member');
                members.add(guid);
                linkChanges.add.push(guid);
              }
            } else if (change.operation === 'delete' && guids.length > 0) {
              for (const guid of guids) {
                if (!members.has(guid)) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('00000561: not a member'));
                members.delete(guid);
                linkChanges.remove.push(guid);
              }
            } else {
              const wanted = new Set(guids);
              for (const guid of members) if (!wanted.has(guid)) linkChanges.remove.push(guid);
              for (const guid of wanted) if (!members.has(guid)) linkChanges.add.push(guid);
              memberGuids = wanted;
            }
            continue;
          }
          const decoded = decodeValues(type, change.values);
          const existing = attributes[name] ?? [];
          let next: AttributeValue[];
          switch (change.operation) {
            case 'add':
              for (const value of decoded) {
                if (existing.some((v) => sameValue(type, v, value))) throw new LdapFailure(ResultCode.attributeOrValueExists, `00002083: AtrErr: ${name}: the value exists`);
              }
              next = [...existing, ...decoded];
              break;
            case 'delete':
              if (existing.length === 0) throw new LdapFailure(ResultCode.noSuchAttribute, `00002080: AtrErr: ${name} has no value`);
              if (decoded.length === 0) next = [];
              else {
                for (const value of decoded) {
                  if (!existing.some((v) => sameValue(type, v, value))) throw new LdapFailure(ResultCode.noSuchAttribute, `${name}: no such value`);
                }
                next = existing.filter((v) => !decoded.some((d) => sameValue(type, v, d)));
              }
              break;
            case 'replace':
              next = decoded;
              break;
          }
          if (type.single && next.length > 1) throw new LdapFailure(ResultCode.constraintViolation, `${name} is single-valued`);
          // Attributes with rules of their own.
          if (name === 'pwdLastSet') {
            if (!user) throw new LdapFailure(ResultCode.objectClassViolation, 'pwdLastSet is an attribute of users');
            const value = next[0]?.toString();
            if (next.length !== 1 || (value !== '0' && value !== '-1')) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('pwdLastSet accepts 0 or -1 only'));
            next = [value === '0' ? '0' : filetime(now)];
          } else if (name === 'lockoutTime') {
            if (next.length !== 1 || next[0]?.toString() !== '0') throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('lockoutTime accepts 0 only (unlock)'));
            attributes.badPwdCount = ['0'];
          } else if (name === 'userAccountControl') {
            if (!user || next.length !== 1) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('userAccountControl is required on users only'));
            const uac = Number(next[0]);
            next = [String((uac & ~(uacFlags.lockout | uacFlags.passwordExpired)) | uacFlags.normalAccount)];
          } else if (name === 'groupType') {
            const value = Number(next[0]);
            if (!group || next.length !== 1 || !isValidGroupType(value)) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('groupType must name one scope'));
            attributes.sAMAccountType = [String(samAccountTypeForGroup(value))];
          } else if (name === 'primaryGroupID') {
            if (!user || next.length !== 1) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('primaryGroupID is required on users'));
            const { domainSid } = await currentPolicy(tx);
            const primary = (await tx.lookup('objectSid', indexKey('objectSid', `${domainSid ?? ''}-${next[0]?.toString() ?? ''}`)))[0];
            const direct = primary ? (await tx.linksOfMembers([entry.guid])).some((l) => l.group === primary.guid) : false;
            if (!primary || !isGroup(primary) || !direct) {
              throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('the primary group must be a group the user is a member of'));
            }
          } else if ((name === 'sAMAccountName' || name === 'userPrincipalName') && !(user || group)) {
            throw new LdapFailure(ResultCode.objectClassViolation, `${name} is an attribute of users and groups`);
          } else if (name === 'sAMAccountName' && next.length === 0) {
            throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('sAMAccountName is required'));
          }
          if (next.length === 0) delete attributes[name];
          else attributes[name] = next;
        }

        await checkUnique(tx, attributes, entry.guid, user);
        attributes.whenChanged = [generalizedTime(now)];
        let credentials: Credentials | undefined;
        if (newPassword !== null) {
          const previous = await tx.getCredentials(entry.guid);
          await checkNewPassword({ ...entry, attributes }, newPassword, previous, policy);
          credentials = newCredentials(await hasher.hash(newPassword), previous, policy);
          // An admin reset may ask for "must change" with pwdLastSet=0 in the same request.
          const explicitZero = changes.some((c) => c.type.toLowerCase() === 'pwdlastset') && first(attributes, 'pwdLastSet') === '0';
          if (!explicitZero) attributes.pwdLastSet = [filetime(now)];
        }
        await tx.update({ ...entry, attributes, usnChanged: usn });
        if (linkChanges.remove.length > 0) await tx.removeLinks(linkChanges.remove.map((member) => ({ group: entry.guid, member })));
        if (linkChanges.add.length > 0) await tx.addLinks(linkChanges.add.map((member) => ({ group: entry.guid, member })));
        if (credentials) {
          await tx.setCredentials(entry.guid, credentials);
          // The old hash no longer matches anything; this only frees its cache entries sooner.
          verifiedPasswords.forget(entry.guid);
        }
        return { resultCode: ResultCode.success } satisfies LdapResult;
      });
    } catch (error) {
      return toResult(error);
    }
  }

  /** A change (the old password is known): lockout accounting on a wrong old password, minimum age for users. */
  async function changePassword(target: StoredEntry, oldPassword: string, newPassword: string, byAdmin: boolean): Promise<void> {
    const verification = await verifyAccountPassword('', oldPassword, target);
    if (!verification.ok) {
      if (verification.sub === '775') throw new LdapFailure(ResultCode.constraintViolation, '00000775: the account is locked out');
      throw new LdapFailure(ResultCode.constraintViolation, wrongOldPassword);
    }
    await store.transaction(async (tx) => {
      const usn = await tx.nextCounter('usn');
      const [entry] = await tx.getByGuids([target.guid]);
      if (!entry) throw new LdapFailure(ResultCode.noSuchObject, 'the entry was removed');
      const { policy } = await currentPolicy(tx);
      const now = clock();
      const lastSet = bigint(entry.attributes, 'pwdLastSet');
      if (!byAdmin && policy.minPwdAgeMs > 0 && lastSet > 0n && now.getTime() < filetimeToDate(lastSet).getTime() + policy.minPwdAgeMs) {
        throw new LdapFailure(ResultCode.constraintViolation, passwordRestriction('the password was changed too recently (minimum password age)'));
      }
      const previous = await tx.getCredentials(entry.guid);
      await checkNewPassword(entry, newPassword, previous, policy);
      const credentials = newCredentials(await hasher.hash(newPassword), previous, policy);
      const attributes = { ...entry.attributes, pwdLastSet: [filetime(now)], whenChanged: [generalizedTime(now)], badPwdCount: ['0'] };
      await tx.update({ ...entry, attributes, usnChanged: usn });
      await tx.setCredentials(entry.guid, credentials);
      verifiedPasswords.forget(entry.guid);
    });
  }

  // ---------------------------------------------------------------- delete, modifyDn, compare

  async function remove(session: Session, dn: string): Promise<LdapResult> {
    try {
      await requireAdmin(session);
      const ndn = normalizeDn(dn);
      return await store.transaction(async (tx) => {
        await tx.nextCounter('usn');
        const entry = await tx.getByNdn(ndn);
        if (!entry) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0', (await matchedDnOf(ndn, tx)) ?? '');
        if (first(entry.attributes, 'isCriticalSystemObject') === 'TRUE' || namingContexts.includes(entry.ndn)) {
          throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('critical system objects cannot be deleted'));
        }
        if (await tx.hasChildren(ndn)) throw new LdapFailure(ResultCode.notAllowedOnNonLeaf, '00002015: UpdErr: DSID-031A1236, problem 6003 (CANT_ON_NON_LEAF), data 0');
        await tx.remove(entry.guid);
        verifiedPasswords.forget(entry.guid);
        return { resultCode: ResultCode.success } satisfies LdapResult;
      });
    } catch (error) {
      return toResult(error);
    }
  }

  async function modifyDn(session: Session, request: ModifyDnRequest): Promise<LdapResult> {
    try {
      await requireAdmin(session);
      const ndn = normalizeDn(request.entry);
      const newRdns = parseDn(request.newRdn);
      if (newRdns.length !== 1 || (newRdns[0] as Rdn).length !== 1) throw new LdapFailure(ResultCode.namingViolation, '00002099: NameErr: the new RDN must be one attribute');
      const newRdn = newRdns[0] as Rdn;
      return await store.transaction(async (tx) => {
        const usn = await tx.nextCounter('usn');
        const entry = await tx.getByNdn(ndn);
        if (!entry) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0', (await matchedDnOf(ndn, tx)) ?? '');
        if (namingContexts.includes(entry.ndn) || entry.parentNdn === null) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('naming-context roots cannot move'));
        const def = structuralClass(classesOf(entry));
        const ava = newRdn[0] as { type: string; value: string };
        if (!def || ava.type.toLowerCase() !== def.rdnType) throw new LdapFailure(ResultCode.namingViolation, `00002099: NameErr: this entry is named by ${def?.rdnType.toUpperCase() ?? 'CN'}`);
        let parentEntry: StoredEntry | undefined;
        if (request.newSuperior !== undefined && request.newSuperior !== '') {
          parentEntry = await tx.getByNdn(normalizeDn(request.newSuperior));
          if (!parentEntry) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: the new superior does not exist');
        } else {
          parentEntry = await tx.getByNdn(entry.parentNdn);
        }
        if (!parentEntry) throw new LdapFailure(ResultCode.noSuchObject, 'the parent does not exist');
        if (isWithin(parentEntry.ndn, entry.ndn)) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('an entry cannot move below itself'));
        if (namingContextOf(parentEntry.ndn) !== namingContextOf(entry.ndn)) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('entries cannot move across partitions'));
        const parentClasses = classesOf(parentEntry);
        if (parentClasses.includes('user') || parentClasses.includes('group')) throw new LdapFailure(ResultCode.namingViolation, '00002099: users and groups cannot hold entries');
        const newNdn = `${normalizeRdn(newRdn)},${parentEntry.ndn}`;
        const newDn = `${formatRdn(newRdn)},${parentEntry.dn}`;
        if (newNdn !== entry.ndn && (await tx.getByNdn(newNdn))) throw new LdapFailure(ResultCode.entryAlreadyExists, '00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS), data 0');
        const rdnAttribute = (attributeType(def.rdnType) as AttributeType).name;
        const now = clock();
        // Descendants first (their DNs hang off the old one); links are by GUID and need nothing.
        const descendants: StoredEntry[] = [];
        for (let cursor = 0; ; ) {
          const batch = await tx.scan({ subtree: entry.ndn, afterUsn: cursor, limit: 500 });
          descendants.push(...batch.filter((e) => e.guid !== entry.guid));
          if (batch.length < 500) break;
          cursor = (batch[batch.length - 1] as StoredEntry).usnCreated;
        }
        const oldDepth = parseDn(entry.dn).length;
        await tx.update({
          ...entry,
          dn: newDn,
          ndn: newNdn,
          parentNdn: parentEntry.ndn,
          usnChanged: usn,
          attributes: { ...entry.attributes, [rdnAttribute]: [ava.value], name: [ava.value], whenChanged: [generalizedTime(now)] },
        });
        for (const descendant of descendants) {
          const rdns = parseDn(descendant.dn);
          const own = rdns.slice(0, rdns.length - oldDepth);
          const dn = [formatDn(own), newDn].join(',');
          const dNdn = normalizeDn(dn);
          await tx.update({ ...descendant, dn, ndn: dNdn, parentNdn: parentNdn(dNdn) });
        }
        return { resultCode: ResultCode.success } satisfies LdapResult;
      });
    } catch (error) {
      return toResult(error);
    }
  }

  async function compare(session: Session, dn: string, attribute: string, value: Buffer): Promise<LdapResult> {
    try {
      requireBound(session);
      const entry = await entryByDn(dn);
      if (!entry) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0');
      const type = attributeType(attribute.split(';')[0] ?? '');
      if (!type) throw new LdapFailure(ResultCode.undefinedAttributeType, `${attribute} is not an attribute of this directory`);
      if (type.syntax === 'password') throw new LdapFailure(ResultCode.insufficientAccessRights, insufficientText);
      const { policy } = await currentPolicy();
      const links =
        type.name === 'member' || type.name === 'memberOf'
          ? { member: await store.linked(entry.guid, 'member'), memberOf: await store.linked(entry.guid, 'memberOf') }
          : undefined;
      const view = viewOf(entry, { policy, now: clock(), ...(links ? { links } : {}) });
      if (view.values(type).length === 0) throw new LdapFailure(ResultCode.noSuchAttribute, `${type.name} has no value`);
      const compiled = await compileFilter({ type: 'equality', attribute: type.name, value }, resolverFor());
      const matches = type.name === 'member' || type.name === 'memberOf' ? view.values(type).some((v) => tryNormalizeDn(v.toString()) === tryNormalizeDn(value.toString('utf8'))) : compiled.test(view) === true;
      return { resultCode: matches ? ResultCode.compareTrue : ResultCode.compareFalse };
    } catch (error) {
      return toResult(error);
    }
  }

  // ---------------------------------------------------------------- password modify (RFC 3062)

  async function passwordModify(session: Session, request: PasswordModifyRequest): Promise<{ result: LdapResult; genPassword?: string }> {
    try {
      if (requireSecure && !session.secure) throw new LdapFailure(ResultCode.confidentialityRequired, 'password changes need a TLS connection');
      const admin = await isAdministrator(session);
      let target: StoredEntry | undefined;
      if (request.userIdentity !== undefined && request.userIdentity !== '') {
        target = await resolveAccountName(request.userIdentity);
        if (!target) {
          // Unknown and wrong are indistinguishable to someone without rights.
          if (!admin) {
            await fakeVerify(request.oldPassword ?? '');
            throw new LdapFailure(ResultCode.constraintViolation, wrongOldPassword);
          }
          throw new LdapFailure(ResultCode.noSuchObject, 'no such user');
        }
      } else {
        if (session.boundDn === null) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('bind first or name the user'));
        target = await entryByDn(session.boundDn);
        if (!target || !isUser(target)) throw new LdapFailure(ResultCode.noSuchObject, 'the bound entry is not a user');
      }
      const self = session.boundDn !== null && tryNormalizeDn(session.boundDn) === target.ndn;
      const generated = request.newPassword === undefined ? generatePassword() : null;
      const newPassword = request.newPassword ?? (generated as string);
      if (admin && request.oldPassword === undefined) {
        // An administrator's reset.
        await modifyAsSystem(target, newPassword);
      } else {
        // A change by the user (bound or not: "must change password" users cannot bind) or an admin who knows the old one.
        if (request.oldPassword === undefined) {
          throw new LdapFailure(self ? ResultCode.unwillingToPerform : ResultCode.insufficientAccessRights, self ? willNotPerform('the old password is required') : insufficientText);
        }
        await changePassword(target, request.oldPassword, newPassword, admin !== null);
      }
      return generated === null ? { result: { resultCode: ResultCode.success } } : { result: { resultCode: ResultCode.success }, genPassword: generated };
    } catch (error) {
      return { result: toResult(error) };
    }
  }

  async function modifyAsSystem(target: StoredEntry, newPassword: string): Promise<void> {
    await store.transaction(async (tx) => {
      const usn = await tx.nextCounter('usn');
      const [entry] = await tx.getByGuids([target.guid]);
      if (!entry) throw new LdapFailure(ResultCode.noSuchObject, 'the entry was removed');
      const { policy } = await currentPolicy(tx);
      const previous = await tx.getCredentials(entry.guid);
      await checkNewPassword(entry, newPassword, previous, policy);
      const credentials = newCredentials(await hasher.hash(newPassword), previous, policy);
      const now = clock();
      await tx.update({ ...entry, attributes: { ...entry.attributes, pwdLastSet: [filetime(now)], whenChanged: [generalizedTime(now)] }, usnChanged: usn });
      await tx.setCredentials(entry.guid, credentials);
      verifiedPasswords.forget(entry.guid);
    });
  }

  // ---------------------------------------------------------------- provisioning

  async function bootstrap({ administratorPassword }: BootstrapOptions): Promise<{ created: boolean; domainSid: string }> {
    // Warm the dummy hash now, so the first bind of an unknown name costs what later ones do.
    await hasher.dummyHash();
    const existing = await domainEntry();
    if (existing) return { created: false, domainSid: existing.sid ?? '' };
    const domainSid = options.domain.domainSid ?? `S-1-5-21-${[0, 1, 2].map(() => randomInt(1, 2 ** 32 - 1)).join('-')}`;
    if (!/^S-1-5-21-\d+-\d+-\d+$/.test(domainSid)) throw new AppError('config.invalid', 'domainSid must have the form S-1-5-21-x-y-z');
    const problem = passwordProblem(administratorPassword, { minLength: configuredPolicy.minPwdLength, complexity: configuredPolicy.complexity }, 'Administrator');
    if (problem) throw new AppError('config.invalid', `the Administrator password does not meet the password policy: ${problem}`);
    const hash = await hasher.hash(administratorPassword);
    const now = clock();
    const stamp = generalizedTime(now);
    const usersDn = `CN=Users,${baseDn}`;
    const builtinDn = `CN=Builtin,${baseDn}`;

    const created = await store.transaction(async (tx) => {
      if (await tx.getByNdn(baseNdn)) return false;
      const put = async (dn: string, className: string, extra: AttributeMap, sid: string | null = null): Promise<string> => {
        const def = objectClassDef(className) as ObjectClassDef;
        const rdns = parseDn(dn);
        const ndn = normalizeRdns(rdns);
        const usn = await tx.nextCounter('usn');
        const value = (rdns[0]?.[0]?.value ?? '');
        const guid = newGuid();
        const attributes: AttributeMap = {
          objectClass: [...def.chain],
          [(attributeType(def.rdnType) as AttributeType).name]: [value],
          name: [value],
          objectCategory: [categoryDn(def)],
          instanceType: [namingContexts.includes(ndn) ? '5' : '4'],
          whenCreated: [stamp],
          whenChanged: [stamp],
          ...extra,
        };
        await tx.insert({ guid, dn: formatDn(rdns), ndn, parentNdn: namingContexts.includes(ndn) ? null : parentNdn(ndn), sid, usnCreated: usn, usnChanged: usn, attributes });
        return guid;
      };
      const critical = { isCriticalSystemObject: ['TRUE'] };
      const group = (sam: string, groupType: number, description: string): AttributeMap => ({
        sAMAccountName: [sam],
        groupType: [String(groupType | 0)],
        sAMAccountType: [String(samAccountTypeForGroup(groupType))],
        description: [description],
        ...critical,
      });
      const globalSecurity = groupTypeBits.security | groupTypeBits.global;
      const builtinLocal = groupTypeBits.security | groupTypeBits.builtinLocal | groupTypeBits.domainLocal;

      await put(baseDn, 'domainDNS', { ...policyAttributes(configuredPolicy), ...critical }, domainSid);
      await put(usersDn, 'container', { description: ['Default container for upgraded user accounts'], ...critical });
      await put(builtinDn, 'builtinDomain', critical, 'S-1-5-32');
      const domainAdmins = await put(`CN=Domain Admins,${usersDn}`, 'group', group('Domain Admins', globalSecurity, 'Designated administrators of the domain'), `${domainSid}-${wellKnownRids.domainAdmins}`);
      const domainUsers = await put(`CN=Domain Users,${usersDn}`, 'group', group('Domain Users', globalSecurity, 'All domain users'), `${domainSid}-${wellKnownRids.domainUsers}`);
      const administrators = await put(`CN=Administrators,${builtinDn}`, 'group', group('Administrators', builtinLocal, 'Administrators have complete and unrestricted access to the domain'), 'S-1-5-32-544');
      const builtinUsers = await put(`CN=Users,${builtinDn}`, 'group', group('Users', builtinLocal, 'Users are prevented from making accidental or intentional system-wide changes'), 'S-1-5-32-545');
      const administrator = await put(
        `CN=Administrator,${usersDn}`,
        'user',
        {
          sAMAccountName: ['Administrator'],
          userPrincipalName: [`Administrator@${dnsName}`],
          description: ['Built-in account for administering the computer/domain'],
          userAccountControl: [String(uacFlags.normalAccount | uacFlags.dontExpirePassword)],
          sAMAccountType: [String(samAccountType.user)],
          primaryGroupID: [String(wellKnownRids.domainUsers)],
          accountExpires: [filetimeNever.toString()],
          pwdLastSet: [filetime(now)],
          badPwdCount: ['0'],
          badPasswordTime: ['0'],
          lockoutTime: ['0'],
          logonCount: ['0'],
          ...critical,
        },
        `${domainSid}-${wellKnownRids.administrator}`,
      );
      await tx.addLinks([
        { group: domainAdmins, member: administrator },
        { group: administrators, member: domainAdmins },
        { group: administrators, member: administrator },
        { group: builtinUsers, member: domainUsers },
      ]);
      await tx.setCredentials(administrator, { hash, history: [] });
      await put(configDn, 'configuration', critical);
      await put(schemaDn, 'dMD', critical);
      await put(partitionsDn, 'crossRefContainer', critical);
      await put(`CN=${netbiosName},${partitionsDn}`, 'crossRef', {
        nETBIOSName: [netbiosName],
        nCName: [baseDn],
        dnsRoot: [dnsName],
        systemFlags: ['3'],
      });
      return true;
    });
    return { created, domainSid: created ? domainSid : ((await domainEntry())?.sid ?? '') };
  }

  return {
    baseDn,
    bind,
    search,
    add,
    modify,
    delete: remove,
    modifyDn,
    compare,
    passwordModify,
    bootstrap,
    closeSession(sessionId) {
      for (const [cookie, state] of paged) if (state.sessionId === sessionId) paged.delete(cookie);
    },
  };
}

/** Every attribute type the engine knows, for the server's schema answers and documentation. */
export function knownAttributeNames(): string[] {
  return [...allAttributeTypes()].map((t) => t.name);
}
