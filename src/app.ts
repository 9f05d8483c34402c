/**
 * The composition root: the only place that picks concrete implementations and wires domains
 * together. `main.ts` (through the CLI) and the tests start Portico through `startApp`.
 */
import { hkdfSync } from 'node:crypto';
import Fastify from 'fastify';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { Kysely } from 'kysely';
import {
  createDatabase,
  createKyselyAccessStore,
  createKyselyAwsStore,
  createKyselyApplicationCredentialStore,
  createKyselyAuditLog,
  createKyselyDirectoryConnectionStore,
  createKyselyIdentityUserStore,
  createKyselySessionStore,
  createKyselySettingsStore,
  createKyselyThrottleStore,
  createManagedDirectoryStores,
  migrateToLatest,
} from '#src/storage/index.ts';
import { createAccessService } from '#src/access/access-service.ts';
import { registerAccessRoutes } from '#src/portal/access-routes.ts';
import { createSessionAccessCache } from '#src/access/session-access.ts';
import { createAdminAuth, ensureBootstrapToken, issueBootstrapToken } from '#src/admin/admin-auth.ts';
import { registerAdminApi } from '#src/admin/routes.ts';
import { readConsoleBuild, registerConsole } from '#src/console/routes.ts';
import { createAwsFederation } from '#src/federation/aws.ts';
import { createFederation } from '#src/federation/federation.ts';
import { loadSigningKeys } from '#src/federation/signing-keys.ts';
import { AWS_SIGN_IN_URL } from '#src/federation/aws.ts';
import { createAwsSide, loadManagementSettings, type AwsSide } from '#src/aws/index.ts';
import { PORTAL_PATH, registerPortal } from '#src/portal/routes.ts';
import { cookieSecurity, httpServerOptions, registerSignInRoutes } from '#src/auth/http/index.ts';
import { createSignInThrottle, type SignInThrottleOptions } from '#src/auth/throttle.ts';
import { failureFloorFromConfig } from '#src/auth/failure-floor.ts';
import { chooseIdentitySource } from '#src/identity-source/identity-source.ts';
import { deriveIdentityStoreId, registerIdentityStoreApi } from '#src/identity-store-api/index.ts';
import { identityStoreGroups } from '#src/identity-store/directory-groups.ts';
import { createMappingSettings } from '#src/identity-store/mapping-settings.ts';
import { createCredentialAdministration } from '#src/identity-store/credential-administration.ts';
import { createIdentitySourceAdmin } from '#src/identity-source/identity-source-admin.ts';
import type { IdentityUserReader } from '#src/identity-store/user.ts';
import { createManagedPasswordChange } from '#src/auth/password-change.ts';
import { createSignInFlow } from '#src/auth/sign-in-flow.ts';
import { userStillAllowedIn } from '#src/auth/still-allowed.ts';
import { createSessionService, sessionTimings } from '#src/sessions/index.ts';
import type { Database } from '#src/storage/index.ts';
import type { AuditLog } from '#src/audit/index.ts';
import { redactConfig } from '#src/config/index.ts';
import type { Config } from '#src/config/index.ts';
import { connectDirectory, createAdConnector } from '#src/directory/connector.ts';
import { startManagedDirectory } from '#src/directory/managed/index.ts';
import type { ManagedDirectory } from '#src/directory/managed/index.ts';
import { directoryConnectionOptionsSchema, type DirectoryConnectionOptions } from '#src/directory/options.ts';
import { createServiceAccountProbe } from '#src/directory/service-account-health.ts';
import type { ServiceAccountHealth, ServiceAccountProbe } from '#src/directory/service-account-health.ts';
import { createTrustingDirectory, openTrustedForests } from '#src/directory/trust.ts';
import type { TrustCheck, TrustingDirectory } from '#src/directory/trust.ts';
import type { DirectoryCheck, DirectoryConnector } from '#src/directory/types.ts';
import { createSecretBox, loadOrCreateSecretKey } from '#src/secrets/index.ts';
import { isAppError } from '#src/shared/errors.ts';
import { displayFingerprint } from '#src/shared/certificates.ts';

export interface PorticoApp {
  url: string;
  logger: Logger;
  /** The identity source's connector, when one is usable. */
  directory: DirectoryConnector | null;
  managedDirectory: ManagedDirectory | null;
  users: IdentityUserReader;
  audit: AuditLog;
  /** The bootstrap token, on the first start only (it is printed once and only its hash is kept). */
  bootstrapToken: string | null;
  stop(): Promise<void>;
}

type IdentitySource =
  | { kind: 'connector'; state: 'connected'; connector: DirectoryConnector; check: DirectoryCheck }
  | { kind: 'connector'; state: 'refused' | 'unavailable'; code: string; reason: string }
  | ({ kind: 'managed'; state: 'running' } & OpenedManagedDirectory);

async function connectSelfManaged(options: DirectoryConnectionOptions, logger: Logger, audit: AuditLog): Promise<IdentitySource> {
  const domain = options.domain;
  try {
    const { connector, check } = await connectDirectory(options, {
      warn: (message) => logger.warn(message),
      events: {
        controllerDown: (url, error) => logger.warn({ controller: url, error: error.message }, 'domain controller down; failing over'),
        controllerUp: (url) => logger.info({ controller: url }, 'domain controller answers again'),
      },
    });
    logger.info({ domain, verdict: check.verdict }, 'directory connected');
    await audit.record({ actor: 'system', action: 'directory.connection.checked', target: domain, outcome: 'success', details: { verdict: check.verdict.reason } });
    return { kind: 'connector', state: 'connected', connector, check };
  } catch (error) {
    // Portico still starts, so that an administrator can see and fix the directory.
    const code = isAppError(error) ? error.code : 'internal';
    const reason = error instanceof Error ? error.message : String(error);
    logger.error({ domain, code, reason }, 'directory not connected');
    await audit.record({ actor: 'system', action: 'directory.connection.checked', target: domain, outcome: 'failure', errorCode: isAppError(error) ? error.code : null, details: { reason } });
    return { kind: 'connector', state: code === 'directory.refused' ? 'refused' : 'unavailable', code, reason };
  }
}

export interface OpenedManagedDirectory {
  managed: ManagedDirectory;
  /** Portico's connector to its own directory, extended with the trusted forests. */
  connector: TrustingDirectory;
  trusts: TrustCheck[];
  /** How Portico connects to its own directory (as its service account). */
  connectionOptions: DirectoryConnectionOptions;
  close(): Promise<void>;
}

/**
 * Starts the managed directory and reads it through the same connector as any AD, over loopback
 * LDAPS with the listener's certificate pinned.
 */
export async function openManagedDirectory(config: Config, db: Kysely<Database>, logger: Logger, audit: AuditLog | null): Promise<OpenedManagedDirectory> {
  const options = config.managedDirectory;
  const managed = await startManagedDirectory({ options, stores: createManagedDirectoryStores(db), dataDir: config.dataDir, logger, secrets: config.secrets, audit });
  const localOptions = directoryConnectionOptionsSchema.parse({
    domain: options.domain,
    netbiosName: options.netbiosName,
    urls: [managed.ldapsUrl.replace('0.0.0.0', '127.0.0.1')],
    // Its own least-privilege account, never the Administrator (which Portico then cannot lock).
    serviceAccount: { username: managed.serviceAccount.upn, password: await managed.serviceAccountPassword() },
    tls: { verify: false, pinnedSha256: [managed.certificateSha256] },
  });
  const local = createAdConnector(localOptions);
  const forests = await openTrustedForests(options.trusts, { warn: (message) => logger.warn(message) });
  for (const forest of forests) {
    const ok = forest.check.ok;
    (ok ? logger.info.bind(logger) : logger.error.bind(logger))({ forest: forest.check.domain, reason: forest.check.reason }, ok ? 'trusted forest validated' : 'trusted forest unusable');
    await audit?.record({ actor: 'system', action: 'directory.trust.validated', target: forest.check.domain, outcome: ok ? 'success' : 'failure', errorCode: ok ? null : 'directory.trust_unavailable', details: { reason: forest.check.reason } });
  }
  const connector = createTrustingDirectory(local, forests);
  return {
    managed,
    connector,
    trusts: forests.map((f) => f.check),
    connectionOptions: localOptions,
    async close() {
      await connector.close();
      await managed.close();
    },
  };
}

const SESSION_PURGE_INTERVAL_MS = 60 * 60_000;
const SESSION_RETENTION_MS = 24 * 60 * 60_000;

export interface StartOptions {
  logDestination?: DestinationStream;
  /** Tests move time forward (session expiry and directory re-checks). */
  clock?: () => Date;
  /** Where the first start's bootstrap token is shown; stderr by default (never the structured log). */
  showBootstrapToken?: (token: string) => void;
}

function printBootstrapToken(token: string): void {
  process.stderr.write(
    `\nPortico admin bootstrap token (shown once; use it for the first setup, then configure admin.groups):\n\n    ${token}\n\n` +
      `  export PORTICO_ADMIN_TOKEN=${token}\n\n`,
  );
}

/** How long an admitted sign-in attempt holds its throttle slot at most: longer than any bind with failover takes. */
const ATTEMPT_HOLD_MS = 2 * 60_000;

export async function startApp(config: Config, options: StartOptions = {}): Promise<PorticoApp> {
  const logger = pino({ level: config.log.level }, options.logDestination);
  logger.info({ config: redactConfig(config) }, 'configuration loaded');
  // Before anything is opened or written: without its built console Portico does not start.
  const consoleBuild = await readConsoleBuild();

  const secretKey = await loadOrCreateSecretKey(config);
  if (secretKey.origin === 'generated') {
    logger.warn({ file: secretKey.file }, 'generated a new secret key; back it up: stored secrets cannot be read without it');
  }
  const box = createSecretBox(secretKey.key);
  const db = createDatabase(config.database, { onPoolError: (error) => logger.error({ err: error }, 'database pool error') });
  const migrations = await migrateToLatest(db);
  if (migrations.applied.length > 0) logger.info({ applied: migrations.applied }, 'database migrated');
  const audit = createKyselyAuditLog(db);

  const choice = await chooseIdentitySource(config.directory, createKyselyDirectoryConnectionStore(db, box));
  const source: IdentitySource =
    choice.kind === 'connector'
      ? await connectSelfManaged(choice.options, logger, audit)
      : { kind: 'managed', state: 'running', ...(await openManagedDirectory(config, db, logger, audit)) };
  const connector = source.state === 'connected' || source.state === 'running' ? source.connector : null;
  // Binds as the service account on a fresh connection, for /status and /readyz.
  const probeOptions = source.kind === 'managed' ? source.connectionOptions : choice.kind === 'connector' && source.state === 'connected' ? choice.options : null;
  const serviceAccountProbe = probeOptions ? createServiceAccountProbe(probeOptions, options.clock ? { now: options.clock } : {}) : null;

  const users = createKyselyIdentityUserStore(db);
  const mappings = createMappingSettings(createKyselySettingsStore(db), audit);
  const timings = sessionTimings(config.sessions);
  const sessions = createSessionService({
    store: createKyselySessionStore(db),
    audit,
    userStillAllowed: userStillAllowedIn(() => connector),
    durationMs: timings.durationMs,
    recheckMs: timings.recheckMs,
    log: logger,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  // Counters in the database: kept across restarts, shared by every instance on it. Each admitted
  // attempt holds a slot while its bind is in flight (longer than any bind with failover takes).
  const throttle = createSignInThrottle({ ...(await throttleLimits(config, connector, logger)), store: createKyselyThrottleStore(db), attemptHoldMs: ATTEMPT_HOLD_MS });
  // Failed sign-ins and password changes answer no earlier than a wrong password usually takes.
  const failureFloor = failureFloorFromConfig(config.signIn.failureFloor, logger);
  const signIn = createSignInFlow({
    directory: () => connector,
    refusedBecause: () => (source.kind === 'connector' && source.state === 'refused' ? source.reason : null),
    passwordChange: source.kind === 'managed' ? 'portico' : 'active-directory',
    mappings: async () => (await mappings.current()).table,
    throttle,
    transaction: (work) =>
      db.transaction().execute((trx) => work({ users: createKyselyIdentityUserStore(trx), sessions: createKyselySessionStore(trx), audit: createKyselyAuditLog(trx) })),
    audit,
    sessionDurationMs: () => timings.durationMs,
    onError: (error) => logger.error({ err: error }, 'sign-in failed unexpectedly'),
    failureFloor,
    ...(options.clock ? { clock: options.clock } : {}),
  });

  // Where Portico owns the directory, people change their own password on its page; password
  // guessing through that form counts against the sign-in limits (the same throttle).
  const passwordChange =
    source.kind === 'managed'
      ? createManagedPasswordChange({
          engine: source.managed.engine,
          resolveAccount: async (name) => (connector ? connector.resolveAccount(name) : null),
          throttle,
          audit,
          failureFloor,
          ...(options.clock ? { clock: options.clock } : {}),
        })
      : null;
  // Derived from the instance key, so every instance and every restart accepts the others' forms.
  const csrfKey = new Uint8Array(hkdfSync('sha256', secretKey.key, new Uint8Array(0), 'portico sign-in csrf', 32));

  const settings = createKyselySettingsStore(db);
  // The AWS side needs access and federation, and access tells it of changes: bound once both exist.
  const awsManagement = await loadManagementSettings(settings, box);
  let awsSide: AwsSide | null = null;
  const access = createAccessService({
    provisioning: () => awsSide?.accessProvisioning() ?? null,
    store: createKyselyAccessStore(db),
    transaction: (work) => db.transaction().execute((trx) => work({ store: createKyselyAccessStore(trx), audit: createKyselyAuditLog(trx) })),
    directory: () => connector,
    groupMembership: config.access.groupMembership,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const sessionAccess = createSessionAccessCache({ access, cacheMs: config.access.cacheMinutes * 60_000, log: logger, ...(options.clock ? { clock: options.clock } : {}) });
  const bootstrapToken = await ensureBootstrapToken(settings, new Date());
  if (bootstrapToken !== null) {
    logger.warn('first start: an admin bootstrap token was issued and shown on the terminal once (only its hash is stored)');
    (options.showBootstrapToken ?? printBootstrapToken)(bootstrapToken);
  }

  // Created before the server listens; the listening address is known only after.
  let baseUrl = config.http.publicUrl?.replace(/\/$/, '') ?? '';
  const signingKeys = await loadSigningKeys(settings, box, new Date());
  const federation = createFederation({
    keys: signingKeys,
    users,
    access,
    sessionAccess,
    audit,
    aws: createAwsFederation({ ...config.federation.aws, rolePath: () => awsSide?.rolePath() ?? null }),
    baseUrl: () => baseUrl,
    entityId: config.federation.saml.entityId,
    // Persistent NameIDs must never change for the life of the instance: derived from its key.
    nameIdSecret: Buffer.from(hkdfSync('sha256', secretKey.key, new Uint8Array(0), 'portico saml name ids', 32)),
    ...(options.clock ? { clock: options.clock } : {}),
  });

  const roleNames = createAwsFederation(config.federation.aws);
  awsSide = createAwsSide({
    store: createKyselyAwsStore(db),
    management: awsManagement,
    access,
    audit,
    federation: {
      samlProviderName: config.federation.aws.samlProviderName,
      roleName: (account, permissionSet) => roleNames.roleName(account, permissionSet),
      audience: (account) => account.signInUrl ?? AWS_SIGN_IN_URL,
      metadata: () => federation.metadata(),
    },
    log: logger,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const aws = awsSide;

  const http = Fastify({ logger: false, ...httpServerOptions(config) });
  // Liveness: the process answers; it never waits on the directory.
  http.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  http.get('/status', async (_request, reply) => reply.send({ directory: await describeWithHealth(source, serviceAccountProbe) }));
  // Readiness: 200 only while the directory is usable (its service account binds); 503 with the reason otherwise.
  http.get('/readyz', async (_request, reply) => {
    const directory = await describeWithHealth(source, serviceAccountProbe);
    const ready = directory.health === 'ok';
    return reply.code(ready ? 200 : 503).send(ready ? { status: 'ready' } : { status: 'not_ready', directory: { state: directory.state, code: directory.code, reason: directory.reason } });
  });
  const credentialStore = createKyselyApplicationCredentialStore(db, box);
  const identityStoreId = deriveIdentityStoreId(secretKey.key);
  await registerIdentityStoreApi(http, {
    users,
    groups: identityStoreGroups(() => connector),
    credentials: credentialStore,
    identityStoreId,
    audit,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  // The use cases the admin API (and so the CLI and the console) runs; nothing else calls them.
  const credentials = createCredentialAdministration({ store: credentialStore, audit, identityStoreId });
  const identitySource = createIdentitySourceAdmin({
    configured: config.directory,
    connections: createKyselyDirectoryConnectionStore(db, box),
    users,
    revokeAllSessions: () => createKyselySessionStore(db).revokeAll(new Date()),
    mappings,
    audit,
    connector: () => connector,
    running: source.kind,
    warn: (message) => logger.warn(message),
  });
  await registerAdminApi(http, {
    auth: createAdminAuth({ settings, sessions, sessionAccess, adminGroups: adminGroups(config, source) }),
    access,
    users,
    sessions,
    mappings,
    directory: () => connector,
    managed: () =>
      source.kind === 'managed'
        ? { engine: source.managed.engine, administrator: source.managed.administrator, baseDn: source.managed.engine.baseDn, domain: config.managedDirectory.domain }
        : null,
    status: () => describeWithHealth(source, serviceAccountProbe),
    saml: () => ({ keys: signingKeys, endpoints: () => federation.endpoints() }),
    audit,
    settings,
    throttle,
    credentials: () => credentials,
    identitySource: () => identitySource,
    aws: () => aws.admin,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  registerAccessRoutes(http, { sessions, sessionAccess });
  await registerConsole(http, consoleBuild);
  const portal = await registerPortal(http, { federation, sessions, sessionAccess, access, cookieSecurity: cookieSecurity(config), ...(options.clock ? { clock: options.clock } : {}) });
  await registerSignInRoutes(http, {
    signIn,
    sessions,
    cookieSecurity: cookieSecurity(config),
    csrfKey,
    passwordChange,
    home: PORTAL_PATH,
    afterSignIn: portal.afterSignIn,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const address = await http.listen({ host: config.http.host, port: config.http.port });
  if (baseUrl === '') baseUrl = address;
  logger.info({ url: address }, 'Portico is listening');

  // Ended sessions (expired or revoked) are kept a day, then deleted.
  const purgeSessions = setInterval(() => {
    sessions.purgeEnded(new Date(Date.now() - SESSION_RETENTION_MS)).then(
      (purged) => {
        if (purged > 0) logger.info({ purged }, 'ended sessions purged');
      },
      (error: unknown) => logger.warn({ err: error }, 'purging ended sessions failed'),
    );
  }, SESSION_PURGE_INTERVAL_MS);
  purgeSessions.unref();

  return {
    url: address,
    logger,
    directory: connector,
    managedDirectory: source.kind === 'managed' ? source.managed : null,
    users,
    audit,
    bootstrapToken,
    async stop() {
      clearInterval(purgeSessions);
      aws.stop();
      await http.close();
      if (source.kind === 'managed') await source.close();
      else await connector?.close();
      await db.destroy();
    },
  };
}

/**
 * The per-username limit stays below the domain's lockout threshold, so that password spraying
 * through Portico cannot lock AD accounts; without a readable policy, below AD's common 5.
 */
async function throttleLimits(config: Config, connector: DirectoryConnector | null, logger: Logger): Promise<SignInThrottleOptions> {
  const { perUsername, perAddress } = config.signIn.throttle;
  let threshold: number | null = null;
  try {
    threshold = (await connector?.discover())?.lockoutThreshold ?? null;
  } catch (error) {
    logger.warn({ err: error }, 'the lockout threshold could not be read; the sign-in throttle uses its fallback');
  }
  const derived = threshold !== null && threshold > 0 ? Math.max(1, threshold - 1) : threshold === 0 ? 10 : 4;
  const maxFailures = perUsername.maxFailures ?? derived;
  if (threshold !== null && threshold > 0 && maxFailures >= threshold) {
    logger.warn({ maxFailures, lockoutThreshold: threshold }, 'signIn.throttle.perUsername.maxFailures reaches the domain lockout threshold: each account is limited to its own lockout threshold − 1 instead');
  }
  logger.info({ perUsername: maxFailures, lockoutThreshold: threshold }, 'sign-in throttle');
  return {
    perUsername: { maxFailures, windowMs: perUsername.windowMinutes * 60_000 },
    perAddress: { maxFailures: perAddress.maxFailures, windowMs: perAddress.windowMinutes * 60_000 },
  };
}

/**
 * The configured admin groups; with the managed directory and none configured, its own
 * Portico-Admins group (the directory is Portico's, so that group is Portico's to define).
 */
function adminGroups(config: Config, source: IdentitySource): string[] {
  if (config.admin.groups.length > 0 || source.kind !== 'managed') return config.admin.groups;
  return [`Portico-Admins@${config.managedDirectory.domain}`];
}

/**
 * describe() plus the verdict on the service account: `health` is 'ok' only when the directory
 * was accepted (or is the running managed directory) and its service account binds now;
 * otherwise 'failing' with `code` and `reason`.
 */
async function describeWithHealth(source: IdentitySource, probe: ServiceAccountProbe | null): Promise<Record<string, unknown>> {
  const described = describe(source);
  if (source.state === 'refused' || source.state === 'unavailable') return { ...described, health: 'failing' };
  const serviceAccount: ServiceAccountHealth | null = probe ? await probe.check() : null;
  if (!serviceAccount || serviceAccount.ok) return { ...described, health: 'ok', ...(serviceAccount ? { serviceAccount } : {}) };
  return { ...described, health: 'failing', code: serviceAccount.code, reason: serviceAccount.reason, serviceAccount };
}

function describe(source: IdentitySource): Record<string, unknown> {
  switch (source.state) {
    case 'connected':
      return { kind: source.kind, state: source.state, domain: source.check.info.domain, verdict: source.check.verdict, controllers: source.connector.status() };
    case 'refused':
    case 'unavailable':
      return { kind: source.kind, state: source.state, code: source.code, reason: source.reason };
    case 'running':
      return {
        kind: source.kind,
        state: source.state,
        ldapUrl: source.managed.ldapUrl,
        ldapsUrl: source.managed.ldapsUrl,
        certificateSha256: displayFingerprint(source.managed.certificateSha256),
        trusts: source.trusts.map((t) => ({ domain: t.domain, ok: t.ok, reason: t.reason })),
      };
  }
}

/**
 * Host-local bootstrap, for `portico admin bootstrap-token --reset`: a new admin bootstrap token
 * written straight to the instance's database, audited. It stays out of the admin API on purpose:
 * it is how an administrator on the host gets back in when no token or session works.
 */
export async function resetBootstrapToken(config: Config, actor: string): Promise<string> {
  const db = createDatabase(config.database);
  try {
    await migrateToLatest(db);
    const token = await issueBootstrapToken(createKyselySettingsStore(db), new Date());
    await createKyselyAuditLog(db).record({ actor, action: 'admin.bootstrap_token.issued', outcome: 'success' });
    return token;
  } finally {
    await db.destroy();
  }
}
