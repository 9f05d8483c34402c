/**
 * The composition root: the only place that picks concrete implementations and wires domains
 * together. `main.ts` (through the CLI) and the tests start Portico through `startApp`.
 */
import { hkdfSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import type { Kysely } from 'kysely';
import {
  createDatabase,
  createKyselyAccessStore,
  createKyselyAwsStore,
  createKyselyApplicationCredentialStore,
  createKyselyAuditLog,
  createKyselyAwsSsoStore,
  createKyselyChangeFeed,
  createKyselyDirectoryConnectionStore,
  createKyselyPendingRequestStore,
  createKyselyReplayStore,
  createKyselyIdentityGroupStore,
  createKyselyIdentityUserStore,
  createKyselyMfaStore,
  createKyselySessionStore,
  createKyselySettingsStore,
  createKyselyThrottleStore,
  createKyselySyncStateStore,
  createManagedDirectoryStores,
  backupSqliteFile,
  databasePoolStats,
  createKyselyOidcPayloadStore,
  migrateToLatest,
  pingDatabase,
} from '#src/storage/index.ts';
import { createAccessService } from '#src/access/access-service.ts';
import { registerAccessRoutes } from '#src/portal/access-routes.ts';
import { createSessionAccessCache } from '#src/access/session-access.ts';
import { createAdminAuth, ensureBootstrapToken, issueBootstrapToken } from '#src/admin/admin-auth.ts';
import { registerAdminApi } from '#src/admin/routes.ts';
import { readConsoleBuild, registerConsole } from '#src/console/routes.ts';
import { createAwsFederation } from '#src/federation/aws.ts';
import { createAssumeRoleWithSaml } from '#src/federation/aws-sts.ts';
import { createAwsSsoService } from '#src/portal/aws-sso/service.ts';
import { registerAwsSsoRoutes } from '#src/portal/aws-sso/routes.ts';
import { createFederation } from '#src/federation/federation.ts';
import { loadSigningKeys, type SigningKeys } from '#src/federation/signing-keys.ts';
import { loadOidcSigningKeys } from '#src/federation/oidc/keys.ts';
import { createOidcProvider, OIDC_PATH, PASSWORD_ONLY } from '#src/federation/oidc/provider.ts';
import { createOidcAdministration, openClientSecret } from '#src/federation/oidc/administration.ts';
import { continueOidcSignIn, oidcPages, registerOidcRoutes } from '#src/portal/oidc-routes.ts';
import { createSessionReader, parseCookies, serializeCookie, SESSION_COOKIE } from '#src/platform/http/index.ts';
import { AWS_SIGN_IN_URL } from '#src/federation/aws.ts';
import { createAwsSide, loadManagementSettings, type AwsSide } from '#src/aws/index.ts';
import { PORTAL_PATH, registerPortal } from '#src/portal/routes.ts';
import { cookieSecurity, httpServerOptions, registerSignInRoutes } from '#src/auth/http/index.ts';
import { createSignInThrottle, type SignInThrottleOptions } from '#src/auth/throttle.ts';
import { failureFloorFromConfig } from '#src/auth/failure-floor.ts';
import { chooseIdentitySource } from '#src/identity-source/identity-source.ts';
import { deriveIdentityStoreId, registerIdentityStoreApi } from '#src/identity-store-api/index.ts';
import { identityStoreGroups, syncedIdentityStoreGroups } from '#src/identity-store/directory-groups.ts';
import { createSyncEngine, type SyncEngine } from '#src/sync/sync-engine.ts';
import { createMappingSettings } from '#src/identity-store/mapping-settings.ts';
import { createCredentialAdministration } from '#src/identity-store/credential-administration.ts';
import { createIdentitySourceAdmin } from '#src/identity-source/identity-source-admin.ts';
import type { IdentityUserReader } from '#src/identity-store/user.ts';
import { createManagedPasswordChange } from '#src/auth/password-change.ts';
import { createSignInFlow } from '#src/auth/sign-in-flow.ts';
import { createRadiusVerifier } from '#src/mfa/radius/index.ts';
import { createMfaService } from '#src/mfa/mfa-service.ts';
import { createRememberedDeviceSigner } from '#src/mfa/remembered-device.ts';
import { registerMfaRoutes } from '#src/mfa/http/routes.ts';
import { createWebAuthnFactor } from '#src/mfa/webauthn.ts';
import { userStillAllowedIn } from '#src/auth/still-allowed.ts';
import { createSessionService, sessionAmr, sessionTimings } from '#src/sessions/index.ts';
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
import { AppError, isAppError } from '#src/shared/errors.ts';
import { displayFingerprint } from '#src/shared/certificates.ts';
import { checkHttpTls, explainListenError, listenOrExplain, openedResources, startFailure, type OpenedResources } from '#src/operations/lifecycle.ts';
import { createLogger } from '#src/operations/logging.ts';
import { createPrometheusMetrics } from '#src/operations/metrics.ts';
import type { PorticoMetrics } from '#src/operations/metrics-port.ts';
import { instrumentedAuditLog, instrumentedConnector, instrumentedSignIn, syncMetrics, timed } from '#src/operations/instrumentation.ts';
import { registerMetricsRoute, registerProbes, startMetricsListener, useRequestIds } from '#src/operations/http-face.ts';
import { porticoVersion } from '#src/operations/version.ts';
import { createBackup, restoreBackup, type BackupManifest } from '#src/operations/backup.ts';
import { createSyslogForwarder, forwardedAuditLog } from '#src/operations/syslog.ts';

export interface PorticoApp {
  url: string;
  logger: Logger;
  /** The identity source's connector, when one is usable. */
  directory: DirectoryConnector | null;
  managedDirectory: ManagedDirectory | null;
  users: IdentityUserReader;
  audit: AuditLog;
  /** The AD sync of the administrator's scope. */
  sync: SyncEngine;
  /** The bootstrap token, on the first start only (it is printed once and only its hash is kept). */
  bootstrapToken: string | null;
  /** The metrics listener's URL when metrics.listen is configured; otherwise null (/metrics on the main listener). */
  metricsUrl: string | null;
  /**
   * Sends the logout tokens of portal sessions that expired (run every minute; tests call it
   * after moving the clock). Returns how many expired sessions it handled.
   */
  sweepExpiredSessions(): Promise<number>;
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
export async function openManagedDirectory(config: Config, db: Kysely<Database>, logger: Logger, audit: AuditLog | null, opened?: OpenedResources): Promise<OpenedManagedDirectory> {
  const options = config.managedDirectory;
  let managed: ManagedDirectory;
  try {
    managed = await startManagedDirectory({ options, stores: createManagedDirectoryStores(db), dataDir: config.dataDir, logger, secrets: config.secrets, audit });
  } catch (error) {
    throw explainListenError(error, 'managed directory LDAP', 'managedDirectory.listen');
  }
  opened?.add('managed directory', () => managed.close());
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
  opened?.add('managed directory connector', () => connector.close());
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
const OIDC_EXPIRY_SWEEP_INTERVAL_MS = 60_000;

export interface StartOptions {
  logDestination?: DestinationStream;
  /** A logger made by the caller (the start command, which also logs a failed start). */
  logger?: Logger;
  /** Tests move time forward (session expiry and directory re-checks). */
  clock?: () => Date;
  /** Waits before retrying a logout token the application did not accept (tests shorten them). */
  logoutRetryDelaysMs?: readonly number[];
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
/** Wrong second-factor codes per account in 15 minutes before codes wait. */
const MFA_MAX_WRONG_CODES = 5;

/**
 * Starts Portico. A start that fails (a port in use, a bad certificate, an unreachable database)
 * closes whatever it had opened, in reverse order, and rejects with one error naming the cause:
 * the process then has nothing left running and exits.
 */
export async function startApp(config: Config, options: StartOptions = {}): Promise<PorticoApp> {
  const logger = options.logger ?? createLogger(config.log, options.logDestination);
  const opened = openedResources();
  try {
    return await startOpening(config, options, logger, opened);
  } catch (error) {
    await opened.closeAll((what, closeError) => logger.warn({ err: closeError, what }, 'closing after a failed start failed'));
    const failure = startFailure(error);
    logger.fatal({ code: failure.code, reason: failure.message }, 'Portico did not start');
    throw failure;
  }
}

async function startOpening(config: Config, options: StartOptions, logger: Logger, opened: OpenedResources): Promise<PorticoApp> {
  const startedAt = new Date();
  logger.info({ config: redactConfig(config), version: porticoVersion() }, 'configuration loaded');
  // Before anything is opened or written: without its built console Portico does not start.
  const consoleBuild = await readConsoleBuild();
  // Read and checked before anything is opened: a bad certificate costs nothing to refuse.
  const httpOptions = httpServerOptions(config);
  checkHttpTls(httpOptions);
  const metricsToken = await readMetricsToken(config);
  const metrics: PorticoMetrics | null = config.metrics.enabled ? createPrometheusMetrics({ version: porticoVersion() }) : null;
  if (metrics !== null) opened.add('metrics', () => metrics.close());

  const secretKey = await loadOrCreateSecretKey(config);
  if (secretKey.origin === 'generated') {
    logger.warn({ file: secretKey.file }, 'generated a new secret key; back it up: stored secrets cannot be read without it');
  }
  const box = createSecretBox(secretKey.key);
  // Migrated on a connection of its own without the statement timeout: a long migration, or
  // waiting for another instance's, must not be cancelled half-way.
  const migrationDb = createDatabase(config.database, { withoutStatementTimeout: true });
  const migrations = await migrateToLatest(migrationDb).finally(() => migrationDb.destroy());
  if (migrations.applied.length > 0) logger.info({ applied: migrations.applied }, 'database migrated');
  const db = createDatabase(config.database, { onPoolError: (error) => logger.error({ err: error }, 'database pool error') });
  opened.add('database', () => db.destroy());
  const syslogOptions = config.audit.syslog;
  const syslog = syslogOptions ? createSyslogForwarder(syslogOptions, (message, error) => logger.warn({ err: error }, message)) : null;
  if (syslog !== null) opened.add('syslog forwarder', () => syslog.close());
  // Every event recorded during a request carries its request id; sign-ins and SAML responses are
  // counted; with audit.syslog each event is also sent to syslog.
  const auditLog = (log: AuditLog, counted: PorticoMetrics | null): AuditLog => forwardedAuditLog(instrumentedAuditLog(log, counted), syslog);
  const audit = auditLog(createKyselyAuditLog(db), metrics);
  // How an admin change or a key rotation made on one instance reaches the others (LISTEN/NOTIFY on PostgreSQL).
  const changes = createKyselyChangeFeed(db, config.database, {
    refreshMs: config.database.driver === 'postgres' ? (config.database.postgres.changePollSeconds ?? 5) * 1000 : 0,
    onError: (error, what) => logger.warn({ err: error }, `change feed: ${what} failed`),
  });
  await changes.start();
  opened.add('change feed', () => changes.close());

  const choice = await chooseIdentitySource(config.directory, createKyselyDirectoryConnectionStore(db, box));
  const source: IdentitySource =
    choice.kind === 'connector'
      ? await connectSelfManaged(choice.options, logger, audit)
      : { kind: 'managed', state: 'running', ...(await openManagedDirectory(config, db, logger, audit, opened)) };
  if (source.kind === 'connector' && source.state === 'connected') opened.add('directory connector', () => source.connector.close());
  const sourceConnector = source.state === 'connected' || source.state === 'running' ? source.connector : null;
  const connector = sourceConnector !== null && metrics !== null ? instrumentedConnector(sourceConnector, metrics) : sourceConnector;
  metrics?.observeControllers(() => (sourceConnector?.status() ?? []).map((c) => ({ url: c.url, up: c.up, open: c.open })));
  metrics?.observeDatabasePool(() => databasePoolStats(db));
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
  // Wrong MFA codes count like wrong passwords, on their own per-account counter (never touching AD).
  const mfaThrottle = createSignInThrottle({
    perUsername: { maxFailures: MFA_MAX_WRONG_CODES, windowMs: 15 * 60_000 },
    perAddress: { maxFailures: config.signIn.throttle.perAddress.maxFailures, windowMs: config.signIn.throttle.perAddress.windowMinutes * 60_000 },
    store: createKyselyThrottleStore(db),
  });
  const radius = config.mfa.radius ? createRadiusVerifier(config.mfa.radius, { logger }) : null;
  const mfa = createMfaService({
    store: createKyselyMfaStore(db, box),
    settings: createKyselySettingsStore(db),
    audit,
    throttle: mfaThrottle,
    recoveryKey: new Uint8Array(hkdfSync('sha256', secretKey.key, new Uint8Array(0), 'portico mfa recovery codes', 32)),
    remembered: createRememberedDeviceSigner(new Uint8Array(hkdfSync('sha256', secretKey.key, new Uint8Array(0), 'portico mfa remembered device', 32))),
    issuer: 'Portico',
    // RADIUS one-time codes (mfa.radius): checked by the organisation's RADIUS servers.
    radius: () => radius,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const signInFlow = createSignInFlow({
    secondStep: (input) => mfa.secondStep(input),
    directory: () => connector,
    refusedBecause: () => (source.kind === 'connector' && source.state === 'refused' ? source.reason : null),
    passwordChange: source.kind === 'managed' ? 'portico' : 'active-directory',
    mappings: async () => (await mappings.current()).table,
    throttle,
    transaction: (work) => {
      const run = () => db.transaction().execute((trx) => work({ users: createKyselyIdentityUserStore(trx), sessions: createKyselySessionStore(trx), audit: auditLog(createKyselyAuditLog(trx), metrics) }));
      return metrics !== null ? timed(metrics, 'store', run) : run();
    },
    audit,
    sessionDurationMs: () => timings.durationMs,
    onError: (error) => logger.error({ err: error }, 'sign-in failed unexpectedly'),
    failureFloor,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const signIn = metrics !== null ? instrumentedSignIn(signInFlow, metrics) : signInFlow;

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
    transaction: (work) => db.transaction().execute((trx) => work({ store: createKyselyAccessStore(trx), audit: auditLog(createKyselyAuditLog(trx), null) })),
    directory: () => connector,
    groupMembership: config.access.groupMembership,
    changes,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const sessionAccess = createSessionAccessCache({ access, cacheMs: config.access.cacheMinutes * 60_000, log: logger, ...(options.clock ? { clock: options.clock } : {}) });

  // Created before the server listens; the listening address is known only after.
  let baseUrl = config.http.publicUrl?.replace(/\/$/, '') ?? '';
  const signingKeys = await loadSigningKeys(settings, box, new Date(), changes, (error) => logger.error({ err: error }, 'reading the rotated SAML signing keys failed'));
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
    replayStore: createKyselyReplayStore(db),
    pendingStore: createKyselyPendingRequestStore(db),
    stepUp: (session, target) => mfa.stepUp(sessionAmr(session), target),
    mfaPossible: (session) => mfa.canCompleteMfa(session.userGuid),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  if (metrics !== null) {
    // The 'signing' step: a SAML response checked against the session's access, built and signed.
    const toApplication = federation.signInToApplication.bind(federation);
    const toAccount = federation.signInToAccount.bind(federation);
    federation.signInToApplication = (...args) => timed(metrics, 'signing', () => toApplication(...args));
    federation.signInToAccount = (...args) => timed(metrics, 'signing', () => toAccount(...args));
  }

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
  opened.add('AWS side', () => aws.stop());

  // Portico as an OpenID provider (src/federation/oidc): state in the database, keys sealed in settings.
  const oidcKeys = await loadOidcSigningKeys(settings, box, new Date());
  const instanceSecret = (purpose: string) => Buffer.from(hkdfSync('sha256', secretKey.key, new Uint8Array(0), purpose, 32));
  const oidcPayloads = createKyselyOidcPayloadStore(db);
  const oidc = createOidcProvider({
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logoutRetryDelaysMs ? { logoutRetryDelaysMs: options.logoutRetryDelaysMs } : {}),
    baseUrl: () => baseUrl,
    store: oidcPayloads,
    keys: oidcKeys,
    cookieKeys: [instanceSecret('portico oidc cookies').toString('base64url')],
    access,
    openSecret: (application) => openClientSecret(box, application),
    users,
    audit,
    pairwiseSecret: instanceSecret('portico oidc pairwise subjects'),
    // amr/acr from the session: MFA sessions say so (RFC 8176 values recorded by src/mfa/).
    authenticationOf: (session) => {
      const amr = sessionAmr(session);
      return { amr, acr: amr.includes('mfa') ? 'urn:portico:acr:mfa' : PASSWORD_ONLY.acr };
    },
    portalSession: async (cookieHeader) => {
      const token = parseCookies(cookieHeader).get(SESSION_COOKIE);
      if (token === undefined || token === '') return null;
      const found = await sessions.authenticate(token, options.clock?.());
      return found === null ? null : { session: found.session, token };
    },
    endPortalSession: async (token) => {
      await sessions.signOut(token);
    },
    clearPortalCookie: () => serializeCookie(SESSION_COOKIE, '', { maxAge: 0, secure: cookieSecurity(config) === 'always' }),
    pages: oidcPages,
    // The MFA policy's per-application requirement applies to OIDC applications as to SAML ones.
    stepUp: (session, applicationId) => mfa.stepUp(sessionAmr(session), { applicationId }),
    log: logger,
  });
  // A portal session that ends takes its OpenID sessions along (back-channel logout).
  sessions.listen({
    ended: (ids, reason) => oidc.endedPortalSessions(ids, reason),
    replaced: (previousId, next) => oidc.replacedPortalSession(previousId, next.id, next.expiresAt),
  });
  const oidcAdministration = createOidcAdministration({
    access,
    box,
    keys: oidcKeys,
    audit,
    keysChanged: () => oidc.keysChanged(),
    endpoints: () => ({ issuer: `${baseUrl}${OIDC_PATH}`, discoveryUrl: `${baseUrl}${OIDC_PATH}/.well-known/openid-configuration`, jwksUri: `${baseUrl}${OIDC_PATH}/jwks` }),
  });

  const http = Fastify({ logger: false, ...httpOptions });
  // Graceful: requests in flight finish (http.shutdownGraceSeconds) before the pools close.
  opened.add('HTTP server', () => closeGracefully(http, config.http.shutdownGraceSeconds * 1000, logger));
  useRequestIds(http, logger, metrics);
  registerProbes(http, {
    version: porticoVersion(),
    startedAt,
    directory: () => describeWithHealth(source, serviceAccountProbe),
    database: () => pingDatabase(db),
    signingKey: () => signingKeyCheck(signingKeys),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  if (metrics !== null && config.metrics.listen === undefined) registerMetricsRoute(http, metrics, metricsToken);
  const credentialStore = createKyselyApplicationCredentialStore(db, box);
  const identityStoreId = deriveIdentityStoreId(secretKey.key);
  const identityGroups = createKyselyIdentityGroupStore(db);
  // AD sync (issue 18): the same mappings and upsert as sign-in's JIT step, in one transaction each.
  const sync: SyncEngine = createSyncEngine({
    directory: () => connector,
    state: createKyselySyncStateStore(db),
    groups: identityGroups,
    userStates: users,
    mappings: async () => (await mappings.current()).table,
    transaction: (work) =>
      db.transaction().execute((trx) => {
        const store = createKyselyIdentityUserStore(trx);
        return work({ users: store, states: store, audit: createKyselyAuditLog(trx) });
      }),
    revokeSessions: (guid, actor) => sessions.revokeUser(guid, actor),
    audit,
    fullEveryMs: config.sync.fullEveryMinutes * 60_000,
    tuning: { batchSize: config.sync.batchSize, concurrency: config.sync.concurrency, pauseMs: config.sync.pauseMs },
    ...(metrics !== null ? syncMetrics(metrics) : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await sync.init();
  metrics?.observeSyncLag(() => sync.lagSeconds());
  opened.add('AD sync', () => sync.stop());
  await registerIdentityStoreApi(http, {
    users,
    groups: syncedIdentityStoreGroups(identityGroups, () => sync.hasScope(), identityStoreGroups(() => connector)),
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
    clearSyncScope: (actor) => sync.clearScope(actor),
    mappings,
    audit,
    connector: () => connector,
    running: source.kind,
    warn: (message) => logger.warn(message),
  });
  // `aws sso login` and the SDKs' SSO credentials: SSO OIDC, the portal API, the device page.
  const awsSso = createAwsSsoService({
    store: createKyselyAwsSsoStore(db),
    audit,
    options: config.awsSso,
    baseUrl: () => baseUrl,
    sessionAccess,
    access,
    signInToAccount: (session, accountId, permissionSetId, purpose) => federation.signInToAccount(session, accountId, permissionSetId, purpose),
    assumeRoleWithSaml: createAssumeRoleWithSaml(config.awsSso.sts),
    userStillAllowed: userStillAllowedIn(() => connector),
    grantDurationMs: timings.durationMs,
    recheckMs: timings.recheckMs,
    ...(options.clock ? { clock: options.clock } : {}),
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
    awsSso: () => awsSso,
    sync: () => sync,
    oidc: () => oidcAdministration,
    mfa,
    aws: () => aws.admin,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await registerOidcRoutes(http, { oidc, sessions: createSessionReader({ sessions, cookieSecurity: cookieSecurity(config) }), sessionAccess });
  registerAccessRoutes(http, { sessions, sessionAccess });
  await registerConsole(http, consoleBuild);
  await registerAwsSsoRoutes(http, { service: awsSso, sessions, cookieSecurity: cookieSecurity(config), log: logger, ...(options.clock ? { clock: options.clock } : {}) });
  const portal = await registerPortal(http, {
    federation,
    sessions,
    sessionAccess,
    access,
    awsSso: { credentialsForSession: awsSso.credentialsForSession, region: config.awsSso.region, startUrl: () => `${baseUrl}${PORTAL_PATH}` },
    cookieSecurity: cookieSecurity(config),
    // OIDC third-party initiated login: the application's login start, told which issuer to use.
    oidcApplication: async (id) => {
      const found = await oidc.applicationById(id);
      if (found === undefined || found.disabled) return undefined;
      const start = found.initiateLoginUri === undefined ? null : new URL(found.initiateLoginUri);
      start?.searchParams.set('iss', `${baseUrl}${OIDC_PATH}`);
      return { name: found.name, initiateLoginUrl: start?.toString() ?? null };
    },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await registerSignInRoutes(http, {
    signIn,
    sessions,
    cookieSecurity: cookieSecurity(config),
    csrfKey,
    passwordChange,
    home: PORTAL_PATH,
    afterSignIn: async (returnTo, session, reply) => continueOidcSignIn(returnTo, reply) !== null || portal.afterSignIn(returnTo, session, reply),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const webauthn = createWebAuthnFactor({
    store: createKyselyMfaStore(db, box),
    audit,
    throttle: mfaThrottle,
    policy: () => mfa.policy(),
    ticketKey: new Uint8Array(hkdfSync('sha256', secretKey.key, new Uint8Array(0), 'portico mfa webauthn tickets', 32)),
    rpName: 'Portico',
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await registerMfaRoutes(http, { mfa, webauthn, sessions, cookieSecurity: cookieSecurity(config), publicUrl: config.http.publicUrl, afterSignIn: async (returnTo, session, reply) => continueOidcSignIn(returnTo, reply) !== null || portal.afterSignIn(returnTo, session, reply), ...(options.clock ? { clock: options.clock } : {}) });
  const address = await listenOrExplain(http, config.http.host, config.http.port, 'HTTP', 'http.host, http.port');
  let metricsUrl: string | null = null;
  if (metrics !== null && config.metrics.listen !== undefined) {
    const listen = config.metrics.listen;
    const listener = await startMetricsListener(metrics, listen, metricsToken).catch((error: unknown) => {
      throw explainListenError(error, 'metrics', 'metrics.listen');
    });
    opened.add('metrics listener', () => listener.close());
    metricsUrl = listener.url;
    logger.info({ url: metricsUrl }, 'metrics listening');
  }
  if (baseUrl === '') baseUrl = address;
  logger.info({ url: address }, 'Portico is listening');
  // Only once the start succeeded: a failed start leaves no token behind that nobody saw.
  const bootstrapToken = await ensureBootstrapToken(settings, new Date());
  if (bootstrapToken !== null) {
    logger.warn('first start: an admin bootstrap token was issued and shown on the terminal once (only its hash is stored)');
    (options.showBootstrapToken ?? printBootstrapToken)(bootstrapToken);
  }

  // Ended sessions (expired or revoked) are kept a day, then deleted.
  const purgeSessions = setInterval(() => {
    awsSso.purge(new Date(Date.now() - SESSION_RETENTION_MS)).catch((error: unknown) => logger.warn({ err: error }, 'purging ended AWS SSO records failed'));
    sessions.purgeEnded(new Date(Date.now() - SESSION_RETENTION_MS)).then(
      (purged) => {
        if (purged > 0) logger.info({ purged }, 'ended sessions purged');
      },
      (error: unknown) => logger.warn({ err: error }, 'purging ended sessions failed'),
    );
  }, SESSION_PURGE_INTERVAL_MS);
  purgeSessions.unref();
  if (connector !== null) sync.start(config.sync.pollSeconds * 1000);
  // Expired portal sessions: their applications get logout tokens (a bounded batch a minute);
  // the hourly purge sweeps what is left first, so that no expiry is purged unannounced.
  const sweepExpiredSessions = () => oidc.sweepExpired();
  const sweepAll = async () => {
    for (let batch = 0; batch < 10 && (await sweepExpiredSessions()) > 0; batch++);
  };
  const sweepOidc = setInterval(() => {
    sweepExpiredSessions().catch((error: unknown) => logger.warn({ err: error }, 'ending the OpenID sessions of expired portal sessions failed'));
  }, OIDC_EXPIRY_SWEEP_INTERVAL_MS);
  sweepOidc.unref();
  const purgeOidc = setInterval(() => {
    sweepAll()
      .catch((error: unknown) => logger.warn({ err: error }, 'ending the OpenID sessions of expired portal sessions failed'))
      .then(() => oidcPayloads.purgeExpired(new Date()))
      .catch((error: unknown) => logger.warn({ err: error }, 'purging expired OIDC tokens failed'));
  }, SESSION_PURGE_INTERVAL_MS);
  purgeOidc.unref();

  return {
    url: address,
    logger,
    directory: connector,
    managedDirectory: source.kind === 'managed' ? source.managed : null,
    users,
    audit,
    sync,
    bootstrapToken,
    metricsUrl,
    sweepExpiredSessions,
    async stop() {
      clearInterval(purgeSessions);
      clearInterval(sweepOidc);
      clearInterval(purgeOidc);
      oidc.stop();
      await opened.closeAll((what, error) => logger.warn({ err: error, what }, 'closing failed'));
    },
  };
}

/**
 * Stops accepting connections, lets the requests in flight finish (at most `graceMs`), then
 * closes whatever connections remain. Fastify answers 503 to requests arriving on kept-alive
 * connections meanwhile, which a load balancer retries elsewhere.
 */
async function closeGracefully(http: FastifyInstance, graceMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = http.close();
  const outcome = await Promise.race([closed.then(() => 'closed' as const), new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)))]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.warn({ graceMs }, 'requests still in flight after the shutdown grace period: closing their connections');
    http.server.closeAllConnections();
    await closed;
  }
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

/** The metrics token from metrics.token or metrics.tokenFile (one trailing newline dropped); null when neither is set. */
async function readMetricsToken(config: Config): Promise<string | null> {
  if (config.metrics.token !== undefined) return config.metrics.token;
  if (config.metrics.tokenFile === undefined) return null;
  let text: string;
  try {
    text = await readFile(config.metrics.tokenFile, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unknown error';
    throw new AppError('config.file_unreadable', `metrics.tokenFile: cannot read ${config.metrics.tokenFile} (${code})`, { cause: error });
  }
  const token = text.replace(/\r?\n$/, '');
  if (token.length < 16) throw new AppError('config.invalid', 'metrics.tokenFile: the token must be at least 16 characters');
  return token;
}

/** Readiness of SAML signing: the current key is loaded (unsealed) and can be used. */
function signingKeyCheck(keys: SigningKeys): { ok: boolean; reason?: string } {
  try {
    keys.current();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `the SAML signing key is not usable (${error instanceof Error ? error.message : String(error)})` };
  }
}

/**
 * Host-local, for `portico backup`: the SQLite database (online backup, while the server may run),
 * the instance key and the managed directory's files into a new directory. With PostgreSQL,
 * everything but the database (dumped with pg_dump).
 */
export function backupInstance(config: Config, output: string): Promise<BackupManifest> {
  return createBackup(config, output, backupSqliteFile);
}

/** Host-local, for `portico restore` (Portico stopped): puts a backup in place of the configured instance. */
export function restoreInstance(config: Config, from: string, options: { force: boolean }): Promise<BackupManifest> {
  return restoreBackup(config, from, options);
}
