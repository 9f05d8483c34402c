/**
 * The sync engine on a migrated Portico database, wired as src/app.ts wires it (the batch's user
 * writes, directory states and audit in one transaction), for tests against a real directory.
 */
import type { Kysely } from 'kysely';
import type { DirectoryConnector } from '#src/directory/types.ts';
import { defaultMappings } from '#src/identity-store/mappings.ts';
import { createKyselyAuditLog, createKyselyIdentityGroupStore, createKyselyIdentityUserStore, createKyselySyncStateStore, type Database } from '#src/storage/index.ts';
import { createSyncEngine, type SyncDeps, type SyncEngine } from '#src/sync/sync-engine.ts';

export function syncEngineOn(db: Kysely<Database>, connector: DirectoryConnector, options: { revoked?: string[] } & Pick<SyncDeps, 'onRun'> = {}): SyncEngine {
  return createSyncEngine({
    directory: () => connector,
    state: createKyselySyncStateStore(db),
    groups: createKyselyIdentityGroupStore(db),
    userStates: createKyselyIdentityUserStore(db),
    mappings: () => Promise.resolve(defaultMappings),
    transaction: (work) =>
      db.transaction().execute((trx) => {
        const users = createKyselyIdentityUserStore(trx);
        return work({ users, states: users, audit: createKyselyAuditLog(trx) });
      }),
    revokeSessions: (guid) => {
      options.revoked?.push(guid);
      return Promise.resolve(0);
    },
    audit: createKyselyAuditLog(db),
    ...(options.onRun ? { onRun: options.onRun } : {}),
  });
}
