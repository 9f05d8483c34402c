/**
 * The engine context: everything the operations share (store, clock, naming of the domain and its
 * partitions, policy access, limits, hasher and verified-password cache, audit port, paged-search
 * state, write serialisation), built once per engine by the façade in engine.ts. The operation
 * modules are functions of this context, so what an operation may touch is visible in one type.
 */
import { formatDn, isWithin, normalizeDn, parentNdn, parseDn, tryNormalizeDn } from './dn.ts';
import { createPasswordHasher, type PasswordHasher } from './password.ts';
import { defaultPolicy, policyFromAttributes, type DirectoryPolicy } from './policy.ts';
import type { ObjectClassDef } from './schema.ts';
import type { DirectoryReads, DirectoryStore, DirectoryWrites, StoredEntry } from './store.ts';
import type { DirectoryAuditEvent, DirectoryEngineOptions, EngineLimits } from './types.ts';

/** AD's default tombstoneLifetime in days (tombstones.ts). */
export const defaultTombstoneLifetimeDays = 180;
import { createVerifiedPasswordCache, type VerifiedPasswordCache } from './verified-passwords.ts';

/** A paged search between two pages, found again by its cookie. */
export interface PagedState {
  sessionId: string;
  fingerprint: string;
  afterUsn: number;
  returned: number;
  createdAt: number;
}

export interface EngineContext {
  readonly store: DirectoryStore;
  readonly clock: () => Date;
  readonly baseDn: string;
  readonly baseNdn: string;
  readonly dnsName: string;
  readonly netbiosName: string;
  readonly hostName: string;
  readonly configDn: string;
  readonly schemaDn: string;
  readonly schemaNdn: string;
  readonly partitionsDn: string;
  readonly serverShortName: string;
  readonly serverDn: string;
  /** The three partitions' roots (domain, configuration, schema), normalised. */
  readonly namingContexts: string[];
  readonly vendorVersion: string;
  /** The domain SID asked for at provisioning, if any. */
  readonly configuredDomainSid: string | undefined;
  /** The policy written at provisioning; the domain object's attributes rule afterwards. */
  readonly configuredPolicy: DirectoryPolicy;
  readonly limits: EngineLimits;
  readonly hasher: PasswordHasher;
  readonly verify: (password: string, hash: string) => Promise<boolean>;
  readonly verifiedPasswords: VerifiedPasswordCache;
  readonly requireSecure: boolean;
  readonly lockOutAdministrator: boolean;
  readonly audit: ((event: DirectoryAuditEvent) => Promise<void>) | undefined;
  /** sAMAccountNames (lower-cased) of non-administrators whose Show Deleted searches list tombstones. */
  readonly deletedObjectReaders: ReadonlySet<string>;
  /** How long a tombstone is kept before it is purged. */
  readonly tombstoneLifetimeMs: number;
  /** Open paged searches by cookie (hex). */
  readonly paged: Map<string, PagedState>;
  /**
   * Runs a write in a store transaction that first takes the next uSN: taking the counter
   * serialises concurrent writers (on PostgreSQL too) before the transaction reads anything.
   */
  serialisedWrite<T>(work: (tx: DirectoryWrites, usn: number) => Promise<T>): Promise<T>;
}

export function domainBaseDn(dnsName: string): string {
  return dnsName
    .split('.')
    .filter(Boolean)
    .map((label) => `DC=${label}`)
    .join(',');
}

export function createEngineContext(options: DirectoryEngineOptions): EngineContext {
  const { store } = options;
  const clock = options.clock ?? (() => new Date());
  const baseDn = formatDn(parseDn(options.domain.baseDn ?? domainBaseDn(options.domain.dnsName)));
  const baseNdn = normalizeDn(baseDn);
  const dnsName = options.domain.dnsName.toLowerCase();
  const hostName = (options.hostName ?? `portico.${dnsName}`).toLowerCase();
  const configDn = `CN=Configuration,${baseDn}`;
  const schemaDn = `CN=Schema,${configDn}`;
  const schemaNdn = normalizeDn(schemaDn);
  const serverShortName = (hostName.split('.')[0] ?? 'portico').toUpperCase();
  const hasher = options.passwordHasher ?? createPasswordHasher();
  return {
    store,
    clock,
    baseDn,
    baseNdn,
    dnsName,
    netbiosName: options.domain.netbiosName.toUpperCase(),
    hostName,
    configDn,
    schemaDn,
    schemaNdn,
    partitionsDn: `CN=Partitions,${configDn}`,
    serverShortName,
    serverDn: `CN=${serverShortName},CN=Servers,CN=Default-First-Site-Name,CN=Sites,${configDn}`,
    namingContexts: [baseNdn, normalizeDn(configDn), schemaNdn],
    vendorVersion: options.vendorVersion ?? '0.1.0',
    configuredDomainSid: options.domain.domainSid,
    configuredPolicy: { ...defaultPolicy, ...options.policy },
    limits: {
      maxPageSize: 1000,
      maxValRange: 1500,
      maxPagedSearchesPerSession: 10,
      maxQueryDurationSeconds: 120,
      ...options.limits,
    },
    hasher,
    verify: options.verifyPassword ?? hasher.verify,
    verifiedPasswords: createVerifiedPasswordCache({ ...options.passwordCache, now: () => clock().getTime() }),
    requireSecure: options.requireSecureTransport ?? true,
    lockOutAdministrator: options.lockOutAdministrator ?? false,
    audit: options.audit,
    deletedObjectReaders: new Set((options.deletedObjectReaders ?? []).map((name) => name.toLowerCase())),
    tombstoneLifetimeMs: (options.tombstoneLifetimeDays ?? defaultTombstoneLifetimeDays) * 86_400_000,
    paged: new Map(),
    serialisedWrite: (work) =>
      store.transaction(async (tx) => {
        const usn = await tx.nextCounter('usn');
        return work(tx, usn);
      }),
  };
}

// ---------------------------------------------------------------- shared look-ups

export async function domainEntry(ctx: EngineContext, reads: DirectoryReads = ctx.store): Promise<StoredEntry | undefined> {
  return reads.getByNdn(ctx.baseNdn);
}

/** The policy in force (the domain object's, or the configured one before provisioning) and the domain SID. */
export async function currentPolicy(ctx: EngineContext, reads: DirectoryReads = ctx.store): Promise<{ policy: DirectoryPolicy; domainSid: string | null }> {
  const domain = await domainEntry(ctx, reads);
  return { policy: domain ? policyFromAttributes(domain.attributes, ctx.configuredPolicy) : ctx.configuredPolicy, domainSid: domain?.sid ?? null };
}

export function categoryDn(ctx: EngineContext, def: ObjectClassDef): string {
  return `CN=${def.category},${ctx.schemaDn}`;
}

/** The naming context an entry belongs to: the longest NC root above it. */
export function namingContextOf(ctx: EngineContext, ndn: string): string | null {
  let best: string | null = null;
  for (const nc of ctx.namingContexts) if (isWithin(ndn, nc) && (best === null || nc.length > best.length)) best = nc;
  return best;
}

/** The entry a DN names; a tombstone only with `includeDeleted` (for anything else it does not exist). */
export async function entryByDn(ctx: EngineContext, dn: string, reads: DirectoryReads = ctx.store, includeDeleted = false): Promise<StoredEntry | undefined> {
  const ndn = tryNormalizeDn(dn);
  const entry = ndn === null ? undefined : await reads.getByNdn(ndn);
  // Inline isTombstone (tombstones.ts imports this module).
  return entry && !includeDeleted && entry.attributes.isDeleted?.[0]?.toString() === 'TRUE' ? undefined : entry;
}

/** The closest existing ancestor, for matchedDN on noSuchObject. */
export async function matchedDnOf(ctx: EngineContext, ndn: string, reads: DirectoryReads = ctx.store): Promise<string | undefined> {
  for (let current = parentNdn(ndn); current !== null && current !== ''; current = parentNdn(current)) {
    const found = await reads.getByNdn(current);
    if (found) return found.dn;
  }
  return undefined;
}
