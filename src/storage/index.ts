/**
 * Storage: the only domain that knows about database drivers. It opens the database, migrates
 * it, and implements the repository interfaces other domains declare.
 */
export { createDatabase, type CreateDatabaseOptions } from './create-database.ts';
export { migrateToLatest, type MigrationReport } from './migrate.ts';
export {
  createKyselyDirectoryConnectionStore,
  type KyselyDirectoryConnectionStoreOptions,
} from './kysely-directory-connection-store.ts';
export { createKyselyAuditLog, type KyselyAuditLogOptions } from './kysely-audit-log.ts';
export { createKyselyDirectoryStore } from './kysely-directory-store.ts';
export { createKyselyIdentityUserStore, type KyselyIdentityUserStoreOptions } from './kysely-identity-user-store.ts';
export { createKyselySettingsStore } from './kysely-settings-store.ts';
export { createKyselySessionStore, type KyselySessionStoreOptions } from './kysely-session-store.ts';
export { createKyselyApplicationCredentialStore, type KyselyApplicationCredentialStoreOptions } from './kysely-application-credential-store.ts';
export { createKyselyAccessStore } from './kysely-access-store.ts';
export { createKyselyAwsStore } from './kysely-aws-store.ts';
export type { Database } from './tables.ts';
export { createKyselyOidcPayloadStore } from './kysely-oidc-payload-store.ts';
export { createKyselyThrottleStore, type KyselyThrottleStoreOptions } from './kysely-throttle-store.ts';
export { createKyselyPendingRequestStore, createKyselyReplayStore } from './kysely-saml-state-store.ts';
export { createKyselyChangeFeed, type KyselyChangeFeed, type KyselyChangeFeedOptions } from './kysely-change-feed.ts';

import type { Kysely } from 'kysely';
import { createKyselyDirectoryStore } from './kysely-directory-store.ts';
import { createKyselySettingsStore } from './kysely-settings-store.ts';
import type { Database } from './tables.ts';

/** The stores the managed directory is started with (its entries; the sealed service-account password). */
export function createManagedDirectoryStores(db: Kysely<Database>): { directory: ReturnType<typeof createKyselyDirectoryStore>; settings: ReturnType<typeof createKyselySettingsStore> } {
  return { directory: createKyselyDirectoryStore(db), settings: createKyselySettingsStore(db) };
}
export { createKyselyAwsSsoStore } from './kysely-aws-sso-store.ts';
export { databasePoolStats, pingDatabase } from './health.ts';
export { backupSqliteFile } from './backup.ts';
export { createKyselyIdentityGroupStore } from './kysely-identity-group-store.ts';
export { createKyselySyncStateStore } from './kysely-sync-state-store.ts';
export { createKyselyMfaStore } from './kysely-mfa-store.ts';
