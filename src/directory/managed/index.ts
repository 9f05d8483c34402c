/**
 * Starts Portico's managed directory: the engine over Portico's database, provisioned on first
 * start (with the demo forest unless turned off), served over LDAPS and LDAP+StartTLS.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditLog } from '#src/audit/index.ts';
import { generateSelfSignedCertificate } from '#src/shared/certificates.ts';
import { createSecretBox, loadOrCreateSecretKey } from '#src/secrets/index.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { seedDemoForest } from './demo-forest.ts';
import { createDirectoryEngine } from './engine/engine.ts';
import { createPasswordHasher } from './engine/password.ts';
import type { DirectoryAuditEvent, DirectoryEngine, DirectoryEngineOptions } from './engine/engine.ts';
import type { DirectoryStore } from './engine/store.ts';
import type { ManagedDirectoryOptions } from './options.ts';
import { ensureServiceAccount, SERVICE_ACCOUNT_NAME } from './service-account.ts';
import type { ServiceAccount } from './service-account.ts';
import { createLdapServer } from './server/index.ts';
import type { LdapServer } from './server/index.ts';

export interface ManagedDirectory {
  engine: DirectoryEngine;
  server: LdapServer;
  ldapUrl: string;
  ldapsUrl: string;
  /** The listener's certificate (PEM): the CA a client trusts for a self-signed one. */
  certificatePem: string;
  certificateSha256: string;
  administrator: { dn: string; upn: string };
  /** The Administrator's password as provisioned (from the configuration or the generated file). */
  administratorPassword(): Promise<string>;
  /** The account Portico's connector binds as: a plain user, no administrative rights. */
  serviceAccount: { dn: string; upn: string };
  serviceAccountPassword(): Promise<string>;
  /** True when this start provisioned the domain (and seeded the demo forest if enabled). */
  provisioned: boolean;
  close(): Promise<void>;
}

async function readOrCreate(file: string, create: () => string): Promise<{ value: string; created: boolean }> {
  try {
    return { value: (await readFile(file, 'utf8')).trim(), created: false };
  } catch {
    const value = create();
    await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
    return { value, created: true };
  }
}

/** A password that satisfies AD's complexity rule (upper, lower, digit, symbol). */
function generatePassword(): string {
  return `Pt-${randomBytes(18).toString('base64url')}-9a`;
}

async function listenerTls(options: ManagedDirectoryOptions, dir: string, hostNames: string[]): Promise<{ cert: string; key: string }> {
  if (options.tls.certFile && options.tls.keyFile) {
    return { cert: await readFile(options.tls.certFile, 'utf8'), key: await readFile(options.tls.keyFile, 'utf8') };
  }
  const certFile = join(dir, 'ldap-cert.pem');
  const keyFile = join(dir, 'ldap-key.pem');
  try {
    return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  } catch {
    const generated = generateSelfSignedCertificate({ commonName: hostNames[0] ?? 'localhost', altNames: hostNames, validDays: 825 });
    await writeFile(keyFile, generated.keyPem, { mode: 0o600 });
    await writeFile(certFile, generated.certPem, { mode: 0o644 });
    return { cert: generated.certPem, key: generated.keyPem };
  }
}

export interface ManagedDirectoryStores {
  directory: DirectoryStore;
  settings: SettingsStore;
}

export interface ManagedDirectoryInput {
  options: ManagedDirectoryOptions;
  /**
   * Where the directory keeps its entries and the sealed service-account password. Injected by
   * the composition root (storage's createManagedDirectoryStores) so that directory/ never picks
   * a database itself.
   */
  stores: ManagedDirectoryStores;
  dataDir: string;
  logger: Logger;
  /** Tests move time (password age, lockout duration) through this. */
  clock?: () => Date;
  /** The instance key's settings (config.secrets): the service account's password is sealed under it. */
  secrets?: { key?: string | undefined };
  /** Where the engine records its own security events (a legacy password hash re-hashed at a bind). */
  audit?: AuditLog | null;
  /** Benchmarks only: another hasher (the pre-issue-21 scrypt) or the verified-password cache off. */
  engine?: Pick<DirectoryEngineOptions, 'passwordHasher' | 'passwordCache'>;
}

/** The engine's audit port onto Portico's audit log: the system acted on the account (its objectGUID). */
function auditTo(audit: AuditLog): (event: DirectoryAuditEvent) => Promise<void> {
  return async (event) => {
    await audit.record({ actor: 'system', action: event.action, target: event.target, outcome: 'success', details: event.details });
  };
}

export interface OpenedEngine {
  engine: DirectoryEngine;
  administrator: { dn: string; upn: string; password: string };
  serviceAccount: ServiceAccount;
  provisioned: boolean;
  dir: string;
}

/** The engine over Portico's database, provisioned (with the demo forest) on first use. No listener. */
export async function openManagedEngine(input: ManagedDirectoryInput): Promise<OpenedEngine> {
  const { options, stores, logger } = input;
  const dir = join(input.dataDir, 'managed-directory');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);

  const engine = createDirectoryEngine({
    store: stores.directory,
    domain: { dnsName: options.domain, netbiosName: options.netbiosName },
    hostName: `dc1.${options.domain}`,
    requireSecureTransport: !options.allowPlainLdap,
    lockOutAdministrator: options.lockOutAdministrator,
    // The AD sync binds as the service account and reads deletions with Show Deleted.
    deletedObjectReaders: [SERVICE_ACCOUNT_NAME],
    tombstoneLifetimeDays: options.tombstoneLifetimeDays,
    passwordHasher: createPasswordHasher({
      argon2: { memoryKiB: options.passwordHashing.memoryKiB, timeCost: options.passwordHashing.timeCost, parallelism: options.passwordHashing.parallelism },
      ...(options.passwordHashing.maxConcurrentVerifications ? { maxConcurrent: options.passwordHashing.maxConcurrentVerifications } : {}),
    }),
    ...(input.audit ? { audit: auditTo(input.audit) } : {}),
    ...(input.clock ? { clock: input.clock } : {}),
    ...input.engine,
  });

  const password = options.administratorPassword
    ? { value: options.administratorPassword, created: false }
    : await readOrCreate(join(dir, 'administrator-password'), generatePassword);
  const { created } = await engine.bootstrap({ administratorPassword: password.value });
  const administrator = { dn: `CN=Administrator,CN=Users,${engine.baseDn}`, upn: `Administrator@${options.domain}`, password: password.value };
  if (created) {
    logger.warn(
      { domain: options.domain, administrator: administrator.upn, passwordFile: password.created ? join(dir, 'administrator-password') : undefined },
      'provisioned the managed directory',
    );
    if (options.demoForest) {
      const demo = await seedDemoForest(engine, administrator.dn, engine.baseDn, options.domain);
      logger.info({ users: demo.users }, 'seeded the demo forest (see README for the demo password)');
    }
  }
  // Provisioned with the domain, and on the first start of a directory made before it existed.
  const secretKey = await loadOrCreateSecretKey({ dataDir: input.dataDir, secrets: input.secrets ?? {} });
  const serviceAccount = await ensureServiceAccount({
    backend: engine,
    admin: { id: 'portico-provisioning', boundDn: administrator.dn, secure: true, remoteAddress: 'portico' },
    baseDn: engine.baseDn,
    domain: options.domain,
    settings: stores.settings,
    box: createSecretBox(secretKey.key),
    logger,
    ...(input.clock ? { now: input.clock } : {}),
  });
  return { engine, administrator, serviceAccount, provisioned: created, dir };
}

export async function startManagedDirectory(input: ManagedDirectoryInput): Promise<ManagedDirectory> {
  const { options, logger } = input;
  const { engine, administrator: admin, serviceAccount, provisioned: created, dir } = await openManagedEngine(input);
  const hostName = `dc1.${options.domain}`;
  const administrator = { dn: admin.dn, upn: admin.upn };
  const password = { value: admin.password };

  const tls = await listenerTls(options, dir, [hostName, 'localhost', options.listen.host].filter((h, i, all) => all.indexOf(h) === i && h !== '0.0.0.0'));
  if (options.allowPlainLdap) {
    logger.warn('WARNING: the managed directory accepts plain LDAP binds (allowPlainLdap). Passwords cross the network in clear text.');
  }
  const server = await createLdapServer({
    backend: engine,
    tls,
    listen: { host: options.listen.host, port: options.listen.ldapPort, ldapsPort: options.listen.ldapsPort },
    allowPlainLdap: options.allowPlainLdap,
    logger,
  });
  // Expired tombstones go at start and then hourly (the retention is counted in days).
  const purge = (): void => {
    engine.purgeTombstones().then(
      (purged) => {
        if (purged > 0) logger.info({ purged }, 'purged expired tombstones of the managed directory');
      },
      (error: unknown) => logger.warn({ err: error }, 'purging expired tombstones failed; the next purge tries again'),
    );
  };
  purge();
  const purgeTimer = setInterval(purge, 3600_000);
  purgeTimer.unref();
  const urlHost = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  const ldapsPort = server.ldapsAddress()?.port;
  const certificate = new X509Certificate(tls.cert);
  logger.info({ ldap: `ldap://${urlHost}:${server.address().port}`, ldaps: `ldaps://${urlHost}:${ldapsPort}` }, 'managed directory listening');

  return {
    engine,
    server,
    ldapUrl: `ldap://${urlHost}:${server.address().port}`,
    ldapsUrl: `ldaps://${urlHost}:${ldapsPort}`,
    certificatePem: tls.cert,
    certificateSha256: certificate.fingerprint256.replace(/:/g, '').toLowerCase(),
    administrator,
    administratorPassword: () => Promise.resolve(password.value),
    serviceAccount: { dn: serviceAccount.dn, upn: serviceAccount.upn },
    serviceAccountPassword: () => Promise.resolve(serviceAccount.password),
    provisioned: created,
    close: () => {
      clearInterval(purgeTimer);
      return server.close();
    },
  };
}
