/**
 * The one configuration schema of an instance. Every setting, its default and its validation
 * live here; `loadConfig` merges the sources and parses them through `configSchema` once, at
 * start-up, so the rest of the program only ever sees a valid `Config`.
 */
import net from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { directoryConnectionOptionsSchema, type DirectoryConnectionOptions } from '#src/directory/options.ts';
import { managedDirectoryOptionsSchema, type ManagedDirectoryOptions } from '#src/directory/managed/options.ts';
import { radiusOptionsSchema, type RadiusConfig } from '#src/mfa/radius/options.ts';
import { isSecretKeyText, SECRET_KEY_BYTES } from '#src/secrets/index.ts';
import { sessionsOptionsSchema, type SessionsOptions } from '#src/sessions/options.ts';
import { awsSsoOptionsSchema, type AwsSsoOptions } from './aws-sso-options.ts';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export const logFormats = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

export const databaseDrivers = ['sqlite', 'postgres'] as const;

const secretKeyText = z
  .string()
  .refine(isSecretKeyText, `must be ${SECRET_KEY_BYTES} random bytes in base64 (e.g. \`openssl rand -base64 32\`)`);

// Restricted so it can be written into `SET search_path` without quoting rules to get wrong.
const postgresIdentifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case PostgreSQL identifier (letters, digits, _)');

const postgresSchema = z.object({
  /** postgres://user:password@host:5432/database; the password is masked by redactConfig. */
  url: z.string().regex(/^postgres(ql)?:\/\/\S+$/i, 'must be a postgres:// or postgresql:// URL'),
  /** Schema holding Portico's tables (it must exist); the server's search_path when omitted. */
  schema: postgresIdentifier.optional(),
  poolSize: z.number().int().min(1).max(100).default(10),
  /** Longest a single statement may run before the server cancels it; 0: no limit. Migrations run without it. */
  statementTimeoutMs: z.number().int().min(0).max(3_600_000).default(30_000),
  /** How often an instance re-reads the change counters, in case a LISTEN/NOTIFY notification was lost. */
  changePollSeconds: z.number().int().min(1).max(300).default(5),
});

/** An IP address, a CIDR range, or one of proxy-addr's names for loopback and private ranges. */
const proxyAddress = z.string().refine((value) => {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(value)) return true;
  const [address = '', prefix, extra] = value.split('/');
  const family = net.isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}, 'must be an IP address or CIDR range (e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8), or loopback, linklocal, uniquelocal');

const tlsFile = (other: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `required together with http.tls.${other}` : 'must be a file path') }).min(1, 'must be a file path');

const maxFailures = z.number().int('must be a whole number').min(1, 'must be from 1 to 1000').max(1000, 'must be from 1 to 1000');
const windowMinutes = z.number().int('must be a whole number of minutes').min(1, 'must be from 1 to 1440 minutes').max(1440, 'must be from 1 to 1440 minutes');

/**
 * The input shape: what a file or the environment may set. `configSchema` below turns it into
 * the resolved `Config` (defaults derived from other settings, unused database section dropped).
 */
export const configInputSchema = z.object({
  /** Where the instance keeps its SQLite database and generated secret key. */
  dataDir: z.string().min(1).default('./data'),
  http: z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      // 0 asks the OS for a free port (tests).
      port: z.number().int().min(0).max(65535).default(8080),
      /** PEM certificate (chain) and key: Portico then serves HTTPS itself. */
      tls: z.object({ certFile: tlsFile('keyFile'), keyFile: tlsFile('certFile') }).optional(),
      /** Reverse proxies whose X-Forwarded-For/-Proto/-Host are believed; nobody's by default. */
      trustedProxies: z.array(proxyAddress).default([]),
      /** The address people reach Portico at, e.g. https://sso.example.com (behind a proxy). */
      publicUrl: z
        .string()
        .refine((value) => {
          try {
            const url = new URL(value);
            return (url.protocol === 'https:' || url.protocol === 'http:') && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
          } catch {
            return false;
          }
        }, 'must be an absolute http:// or https:// URL without query, fragment or credentials')
        .optional(),
      /** On SIGTERM/SIGINT: how long requests in flight may take to finish before the process exits anyway. */
      shutdownGraceSeconds: z.number().int().min(0).max(300).default(10),
    })
    .prefault({}),
  database: z
    .object({
      driver: z.enum(databaseDrivers).default('sqlite'),
      sqlite: z.object({ file: z.string().min(1).optional() }).prefault({}),
      postgres: postgresSchema.optional(),
    })
    .prefault({})
    .superRefine((value, ctx) => {
      if (value.driver === 'postgres' && value.postgres === undefined) {
        ctx.addIssue({ code: 'custom', path: ['postgres', 'url'], message: "required when database.driver is 'postgres'" });
      }
    }),
  secrets: z
    .object({
      /** 32 bytes, base64. When absent, <dataDir>/secret.key is generated on first start. */
      key: secretKeyText.optional(),
    })
    .prefault({}),
  log: z
    .object({
      level: z.enum(logLevels).default('info'),
      /** 'auto': human-readable lines on a terminal, JSON lines otherwise (a service manager, a pipe). */
      format: z.enum(logFormats).default('auto'),
    })
    .prefault({}),
  /** Prometheus metrics at /metrics: on the main listener behind a bearer token, or on a listener of their own. */
  metrics: z
    .object({
      enabled: z.boolean().default(true),
      /** Scrapers send `Authorization: Bearer <token>`. Required for /metrics on the main listener. */
      token: z.string().min(16, 'must be at least 16 characters').optional(),
      /** A file holding the token (a mounted secret); one trailing newline is dropped. */
      tokenFile: z.string().min(1).optional(),
      /** A plain-HTTP listener serving only /metrics (e.g. on an internal interface); the main listener then serves none. */
      listen: z.object({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535) }).optional(),
    })
    .refine((m) => m.token === undefined || m.tokenFile === undefined, { message: 'set token or tokenFile, not both', path: ['token'] })
    .prefault({}),
  /** The audit log, besides the database: forwarded to syslog as events are recorded. */
  audit: z
    .object({
      syslog: z
        .object({
          host: z.string().min(1),
          port: z.number().int().min(1).max(65535).default(514),
          /** RFC 5424 facility number: 10 = authpriv (default), 13 = log audit, 16–23 = local0–local7. */
          facility: z.number().int().min(0).max(23).default(10),
          appName: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'must be 1–48 printable characters without spaces').default('portico'),
        })
        .optional(),
    })
    .prefault({}),
  /** The self-managed AD domain to connect to, if configured in the file rather than the console. */
  directory: directoryConnectionOptionsSchema.optional(),
  /** Portico's built-in directory: the identity source when `directory` is not set. */
  managedDirectory: managedDirectoryOptionsSchema,
  /** Portal sessions: lifetime and how often the directory re-confirms the user. */
  sessions: sessionsOptionsSchema,
  signIn: z
    .object({
      throttle: z
        .object({
          /** maxFailures defaults to a value derived from the domain's lockout threshold. */
          perUsername: z.object({ maxFailures: maxFailures.optional(), windowMinutes: windowMinutes.default(30) }).prefault({}),
          perAddress: z.object({ maxFailures: maxFailures.default(20), windowMinutes: windowMinutes.default(15) }).prefault({}),
        })
        .prefault({}),
      /** Failed sign-ins answer no earlier than a wrong password usually takes (src/auth/failure-floor.ts). */
      failureFloor: z
        .object({
          enabled: z.boolean().default(true),
          /** The floor until a controller has enough samples to learn its own. */
          initialMs: z.number().int().min(0).max(10_000).default(100),
          maxMs: z.number().int().min(0).max(10_000).default(1000),
        })
        .refine((f) => f.initialMs <= f.maxMs, { message: 'initialMs must not exceed maxMs', path: ['initialMs'] })
        .prefault({}),
    })
    .prefault({}),
  /** Who may administer Portico, besides the bootstrap token. */
  admin: z
    .object({
      /** AD groups whose members (transitively) are administrators: `name@domain` or objectGUID. */
      groups: z.array(z.string().min(1).max(1024)).default([]),
    })
    .prefault({}),
  /** How assignments are evaluated. */
  access: z
    .object({
      /** 'direct': only groups a user is directly in grant access (nested groups do not). */
      groupMembership: z.enum(['transitive', 'direct']).default('transitive'),
      /** How long a session's evaluated access (and its groups) is reused before AD is read again. */
      cacheMinutes: z.number().int().min(1).max(1440).default(5),
    })
    .prefault({}),
  /** AD sync of the administrator's scope into the identity store (issue 18). */
  sync: z
    .object({
      /** How often the directory is polled for changes (uSNChanged); fractions for tests. */
      pollSeconds: z.number().min(0.2).max(3600).default(5),
      /** A full reconciliation at least this often, the safety net behind change tracking. */
      fullEveryMinutes: z.number().int().min(1).max(10080).default(360),
      /** Users read per batch (objectGUIDs in a few paged searches) and written per transaction. */
      batchSize: z.number().int().min(1).max(5000).default(500),
      /** Batches in flight at once: each holds one service connection of the directory pool while it reads. */
      concurrency: z.number().int().min(1).max(16).default(2),
      /** Pause between two batches of one worker, so that sign-ins get the database and the DC in between. */
      pauseMs: z.number().int().min(0).max(10_000).default(10),
    })
    .prefault({}),
  /** Portico as a SAML identity provider, for applications and cloud accounts. */
  federation: z
    .object({
      saml: z
        .object({
          /** The IdP's entity ID; `<http.publicUrl>/saml/metadata` by default. Applications keep it: set it before registering any. */
          entityId: z.string().min(1).max(1024).optional(),
        })
        .prefault({}),
      aws: z
        .object({
          /** The IAM SAML provider that trusts Portico, in every account: `arn:aws:iam::<account>:saml-provider/<this>`. */
          samlProviderName: z.string().regex(/^[\w.-]{1,128}$/, 'must be 1–128 letters, digits, _ . -').default('Portico'),
          /**
           * The IAM role a permission set signs in as, in every account: `{permissionSet}` is its name,
           * `{accountId}` the account's. May start with a path (`sso/{permissionSet}`).
           */
          roleName: z
            .string()
            .min(1)
            .max(512)
            .refine((value) => value.includes('{permissionSet}'), 'must contain {permissionSet}: each permission set is its own role')
            .default('{permissionSet}'),
          /** Attributes for access control: session tag key → `${path:…}` over the identity-store user (e.g. `${path:enterprise.department}`). */
          accessControlAttributes: z
            .record(z.string().regex(/^[\p{L}\p{N} _.:/=+@-]{1,128}$/u, 'a tag key is 1–128 letters, digits, spaces and _ . : / = + - @'), z.string().min(1).max(256))
            .refine((value) => Object.keys(value).length <= 50, 'at most 50 attributes')
            .default({}),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Multi-factor authentication. */
  mfa: z
    .object({
      /** RADIUS MFA: the one-time code checked by the organisation's RADIUS servers (docs/mfa-radius.md). */
      radius: radiusOptionsSchema.optional(),
    })
    .prefault({}),
  /** The AWS-compatible SSO OIDC and portal APIs (`aws sso login`, the SDKs' SSO credentials). */
  awsSso: awsSsoOptionsSchema,
});

export interface SqliteDatabaseConfig {
  driver: 'sqlite';
  sqlite: { file: string };
}

export interface PostgresDatabaseConfig {
  driver: 'postgres';
  postgres: { url: string; schema?: string | undefined; poolSize: number; statementTimeoutMs?: number; changePollSeconds?: number };
}

export type DatabaseConfig = SqliteDatabaseConfig | PostgresDatabaseConfig;

export interface Config {
  dataDir: string;
  http: {
    host: string;
    port: number;
    tls?: { certFile: string; keyFile: string } | undefined;
    trustedProxies: string[];
    publicUrl?: string | undefined;
    shutdownGraceSeconds: number;
  };
  database: DatabaseConfig;
  secrets: { key?: string | undefined };
  log: { level: LogLevel; format: LogFormat };
  audit: { syslog?: { host: string; port: number; facility: number; appName: string } | undefined };
  metrics: { enabled: boolean; token?: string | undefined; tokenFile?: string | undefined; listen?: { host: string; port: number } | undefined };
  directory?: DirectoryConnectionOptions | undefined;
  managedDirectory: ManagedDirectoryOptions;
  sessions: SessionsOptions;
  signIn: {
    throttle: {
      perUsername: { maxFailures?: number | undefined; windowMinutes: number };
      perAddress: { maxFailures: number; windowMinutes: number };
    };
    failureFloor: { enabled: boolean; initialMs: number; maxMs: number };
  };
  admin: { groups: string[] };
  access: { groupMembership: 'transitive' | 'direct'; cacheMinutes: number };
  sync: { pollSeconds: number; fullEveryMinutes: number; batchSize: number; concurrency: number; pauseMs: number };
  federation: {
    saml: { entityId?: string | undefined };
    aws: { samlProviderName: string; roleName: string; accessControlAttributes: Record<string, string> };
  };
  mfa: { radius?: RadiusConfig | undefined };
  awsSso: AwsSsoOptions;
}

export const configSchema = configInputSchema.transform((input): Config => {
  const { driver, sqlite, postgres } = input.database;
  let database: DatabaseConfig;
  if (driver === 'postgres') {
    // The superRefine above guarantees the section; transforms only run on valid input.
    if (postgres === undefined) throw new Error('unreachable: database.postgres checked by the schema');
    database = { driver, postgres };
  } else {
    database = { driver, sqlite: { file: sqlite.file ?? join(input.dataDir, 'portico.db') } };
  }
  return { ...input, database };
});
