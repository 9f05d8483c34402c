/**
 * The managed directory engine's public shapes (options, limits, audit events, the DirectoryEngine
 * interface), apart from the façade that builds it so the operation modules can name them too.
 */
import type { DirectoryBackend } from '../backend.ts';
import type { PasswordHasher } from './password.ts';
import type { DirectoryPolicy } from './policy.ts';
import type { DirectoryStore } from './store.ts';
import type { VerifiedPasswordCacheOptions } from './verified-passwords.ts';

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
  /**
   * sAMAccountNames of accounts besides administrators for which the Show Deleted control lists
   * tombstones (Portico passes its service account: the AD sync reads deletions as it).
   */
  deletedObjectReaders?: string[];
  /** Days a tombstone is kept before `purgeTombstones` removes it (AD's default tombstoneLifetime, 180). */
  tombstoneLifetimeDays?: number;
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
  /** Removes the tombstones older than the retention period; returns how many. */
  purgeTombstones(): Promise<number>;
  readonly baseDn: string;
}
