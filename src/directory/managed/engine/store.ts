/**
 * What the directory engine needs from storage. The engine owns every rule (schema, policy,
 * access); a store only keeps entries, membership links, credentials and counters, answers the
 * indexed look-ups, and runs writes in transactions. Implementations: the in-memory one beside
 * this file (unit tests) and the Kysely one in src/storage/ (SQLite, PostgreSQL).
 */

/** Text, or bytes for binary syntaxes. */
export type AttributeValue = string | Buffer;
/** Keys are the schema's canonical names (`sAMAccountName`), never two spellings of one name. */
export type AttributeMap = Record<string, AttributeValue[]>;

export interface StoredEntry {
  /** objectGUID as 32 lower-case hex digits of its wire bytes: the entry's identity. */
  guid: string;
  /** Display form (`CN=Alice,CN=Users,DC=corp,DC=example,DC=test`). */
  dn: string;
  /** Normalised form (see dn.ts); unique. */
  ndn: string;
  /** Normalised DN of the parent; null for a naming-context root. */
  parentNdn: string | null;
  /** objectSid in string form (S-1-5-21-…), for security principals and the domain. */
  sid: string | null;
  /** Allocated at creation; unique, increasing: the order of scans and the paging cursor. */
  usnCreated: number;
  usnChanged: number;
  /**
   * Every other stored attribute. sAMAccountName, userPrincipalName and mail here feed the
   * store's indexes; objectGUID, objectSid, uSN*, member and memberOf are never in this map.
   */
  attributes: AttributeMap;
}

/** Exact-match indexes; keys are given normalised (see `indexKey`). */
export type LookupIndex = 'sAMAccountName' | 'userPrincipalName' | 'mail' | 'objectGUID' | 'objectSid';

export interface ScanRequest {
  /** Only entries at or below this normalised DN ('' = everything). */
  subtree?: string;
  /** Only direct children of this normalised DN. */
  parent?: string;
  /** Exclusive cursor: entries with a greater uSNCreated, ascending. */
  afterUsn: number;
  limit: number;
}

export interface MembershipLink {
  /** GUID of the group. */
  group: string;
  /** GUID of the member. */
  member: string;
}

export interface LinkedEntry {
  guid: string;
  dn: string;
}

export interface Credentials {
  /** Self-describing password hash ($argon2id$… PHC string, or scrypt$… from before issue 21); null when no password was ever set. */
  hash: string | null;
  /** Previous hashes, newest first, for the history rule. */
  history: string[];
}

export type Counter = 'usn' | 'rid';

export interface DirectoryReads {
  getByNdn(ndn: string): Promise<StoredEntry | undefined>;
  getByGuids(guids: readonly string[]): Promise<StoredEntry[]>;
  lookup(index: LookupIndex, key: string): Promise<StoredEntry[]>;
  /** Ordered by uSNCreated ascending. */
  scan(request: ScanRequest): Promise<StoredEntry[]>;
  /** Entries at or below `ndn`, counted up to cap + 1 only (the caller only asks "more than cap?"). */
  countSubtree(ndn: string, cap: number): Promise<number>;
  hasChildren(ndn: string): Promise<boolean>;
  /** Links whose group is one of `groups`. */
  linksOfGroups(groups: readonly string[]): Promise<MembershipLink[]>;
  /** Links whose member is one of `members`. */
  linksOfMembers(members: readonly string[]): Promise<MembershipLink[]>;
  /** The members of a group (direction 'member') or the groups of an entry ('memberOf'), ordered by their uSNCreated. */
  linked(guid: string, direction: 'member' | 'memberOf'): Promise<LinkedEntry[]>;
  getCredentials(guid: string): Promise<Credentials | undefined>;
  /** The last value handed out by a counter (0 before the first). */
  currentCounter(counter: Counter): Promise<number>;
}

export interface DirectoryWrites extends DirectoryReads {
  /** Increments and returns a counter. On PostgreSQL it also serialises concurrent writers. */
  nextCounter(counter: Counter): Promise<number>;
  /** storage.conflict when the DN, GUID, SID, sAMAccountName or userPrincipalName is taken. */
  insert(entry: StoredEntry): Promise<void>;
  /** Replaces the entry with this GUID (its DN may change). */
  update(entry: StoredEntry): Promise<void>;
  /** Removes the entry, its links in both directions and its credentials. */
  remove(guid: string): Promise<void>;
  addLinks(links: readonly MembershipLink[]): Promise<void>;
  removeLinks(links: readonly MembershipLink[]): Promise<void>;
  setCredentials(guid: string, credentials: Credentials): Promise<void>;
}

export interface DirectoryStore extends DirectoryReads {
  /** Runs `work` atomically: everything it wrote is kept, or nothing when it throws. */
  transaction<T>(work: (tx: DirectoryWrites) => Promise<T>): Promise<T>;
}

/** The normalised key of an indexed value, shared by every store and the engine. */
export function indexKey(index: LookupIndex, value: AttributeValue): string {
  switch (index) {
    case 'objectGUID':
      return Buffer.isBuffer(value) ? value.toString('hex') : value.toLowerCase();
    case 'objectSid':
      return typeof value === 'string' ? value.toUpperCase() : value.toString('utf8').toUpperCase();
    case 'sAMAccountName':
    case 'userPrincipalName':
    case 'mail':
      return (typeof value === 'string' ? value : value.toString('utf8')).toLowerCase();
  }
}

/** The index keys an entry has, derived from its attributes. */
export function entryIndexKeys(entry: StoredEntry): { sam: string | null; upn: string | null; mail: string | null } {
  const first = (name: 'sAMAccountName' | 'userPrincipalName' | 'mail'): string | null => {
    const value = entry.attributes[name]?.[0];
    return value === undefined ? null : indexKey(name, value);
  };
  return { sam: first('sAMAccountName'), upn: first('userPrincipalName'), mail: first('mail') };
}

/** JSON form of attributes for storage: text as is, bytes as {"b": base64}. */
export function encodeAttributes(attributes: AttributeMap): string {
  const out: Record<string, Array<string | { b: string }>> = {};
  for (const [name, values] of Object.entries(attributes)) {
    out[name] = values.map((value) => (Buffer.isBuffer(value) ? { b: value.toString('base64') } : value));
  }
  return JSON.stringify(out);
}

export function decodeAttributes(json: string): AttributeMap {
  const parsed = JSON.parse(json) as Record<string, Array<string | { b: string }>>;
  const out: AttributeMap = {};
  for (const [name, values] of Object.entries(parsed)) {
    out[name] = values.map((value) => (typeof value === 'string' ? value : Buffer.from(value.b, 'base64')));
  }
  return out;
}
