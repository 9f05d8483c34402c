/**
 * Runs every repository contract on one database target, plus the checks that only make sense
 * for the SQL implementation: migrations and what the rows actually hold.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createSecretBox } from '#src/secrets/index.ts';
import { isAppError } from '#src/shared/errors.ts';
import {
  createKyselyAccessStore,
  createKyselyAwsStore,
  createKyselyApplicationCredentialStore,
  createKyselyAuditLog,
  createKyselyAwsSsoStore,
  createKyselyDirectoryConnectionStore,
  createKyselyDirectoryStore,
  createKyselyIdentityUserStore,
  createKyselyMfaStore,
  createKyselySettingsStore,
  createKyselySessionStore,
  createKyselyThrottleStore,
  createKyselyChangeFeed,
  createKyselyPendingRequestStore,
  createKyselyReplayStore,
  createKyselyIdentityGroupStore,
  createKyselySyncStateStore,
  createKyselyOidcPayloadStore,
  createDatabase,
  migrateToLatest,
  type Database,
} from '#src/storage/index.ts';
import { accessStoreContract } from './access-store.contract.ts';
import { awsStoreContract } from './aws-store.contract.ts';
import { applicationCredentialStoreContract } from './application-credential-store.contract.ts';
import { auditLogContract } from './audit-log.contract.ts';
import { awsSsoStoreContract } from './aws-sso-store.contract.ts';
import type { DatabaseTarget, TestDatabase } from './databases.ts';
import { connectionOptions, directoryConnectionStoreContract } from './directory-connection-store.contract.ts';
import { directoryStoreContract } from './directory-store.contract.ts';
import { identityUserStoreContract } from './identity-user-store.contract.ts';
import { sessionStoreContract } from './session-store.contract.ts';
import { throttleStoreContract } from './throttle-store.contract.ts';
import { sharedStateContract, type SharedStateStores } from './shared-state.contract.ts';
import { syncStoresContract } from './sync-stores.contract.ts';
import { oidcPayloadStoreContract } from './oidc-payload-store.contract.ts';
import { mfaStoreContract } from './mfa-store.contract.ts';

/** Every migration, in the order they run: a new one is added here too. */
const ALL_MIGRATIONS = ['0001_initial', '0002_managed_directory', '0003_identity', '0004_access', '0005_sign_in_throttle', '0006_shared_state', '0008_aws_sso', '0009_aws_provisioning', '0010_mfa', '0011_sync', '0012_oidc', '0013_aws_sso_authorization_codes', '0016_mfa_user_locks', '0019_sync_scope_ous'];
const TABLES: ReadonlyArray<keyof Database> = ['directory_connections', 'audit_events', 'dir_entries', 'dir_links', 'dir_credentials', 'dir_counters', 'identity_users', 'settings', 'sessions', 'application_credentials', 'access_records', 'access_assignments', 'access_provisioned', 'sign_in_failures', 'aws_sso_clients', 'aws_sso_device_codes', 'aws_sso_grants', 'saml_replay', 'saml_pending', 'change_counters', 'sync_scope', 'sync_watermarks', 'identity_groups', 'identity_group_members', 'oidc_payloads', 'mfa_devices', 'mfa_recovery_codes', 'aws_provisioning', 'aws_accounts', 'aws_sso_authorization_codes', 'mfa_user_locks'];

export function runStorageSuites(target: DatabaseTarget): void {
  after(() => target.close());

  async function withDatabase(run: (database: TestDatabase) => Promise<void>, options?: { migrate?: boolean }): Promise<void> {
    const database = await target.open(options);
    try {
      await run(database);
    } finally {
      await database.dispose();
    }
  }

  async function dumpTable(database: TestDatabase, table: keyof Database): Promise<string> {
    return JSON.stringify(await database.db.selectFrom(table).selectAll().execute());
  }

  void describe(`${target.name}: directory connections`, () => {
    directoryConnectionStoreContract(async ({ clock }) => {
      const database = await target.open();
      return {
        store: createKyselyDirectoryConnectionStore(database.db, createSecretBox(randomBytes(32)), { clock }),
        dumpStorage: () => dumpTable(database, 'directory_connections'),
        dispose: () => database.dispose(),
      };
    });
  });

  void describe(`${target.name}: audit log`, () => {
    auditLogContract(async ({ clock }) => {
      const database = await target.open();
      return {
        log: createKyselyAuditLog(database.db, { clock }),
        dumpStorage: () => dumpTable(database, 'audit_events'),
        storeLegacyRow: async (id, action, at) => {
          await database.db.insertInto('audit_events').values({ id, occurred_at: at.toISOString(), actor: 'system', action, target: null, outcome: 'success', error_code: null, details_json: '{}' }).execute();
        },
        dispose: () => database.dispose(),
      };
    });
  });

  void describe(`${target.name}: managed directory store`, () => {
    directoryStoreContract(async () => {
      const database = await target.open();
      return {
        store: createKyselyDirectoryStore(database.db),
        dumpStorage: async () =>
          (await Promise.all((['dir_entries', 'dir_links', 'dir_credentials'] as const).map((table) => dumpTable(database, table)))).join('\n'),
        dispose: () => database.dispose(),
      };
    });
  });

  void describe(`${target.name}: identity store users`, () => {
    identityUserStoreContract(async () => {
      const database = await target.open();
      return { store: createKyselyIdentityUserStore(database.db), dispose: () => database.dispose() };
    });
  });

  void describe(`${target.name}: AD sync stores`, () => {
    syncStoresContract(async () => {
      const database = await target.open();
      return {
        groups: createKyselyIdentityGroupStore(database.db),
        state: createKyselySyncStateStore(database.db),
        users: createKyselyIdentityUserStore(database.db),
        dispose: () => database.dispose(),
      };
    });
  });

  void describe(`${target.name}: OIDC provider payloads`, () => {
    oidcPayloadStoreContract(async () => {
      const database = await target.open();
      return {
        store: createKyselyOidcPayloadStore(database.db),
        other: () => {
          const db = createDatabase(database.config);
          return Promise.resolve({ store: createKyselyOidcPayloadStore(db), dispose: () => db.destroy() });
        },
        dispose: () => database.dispose(),
      };
    });
  });

  void describe(`${target.name}: sign-in throttle`, () => {
    throttleStoreContract(async (options) => {
      const database = await target.open();
      return {
        store: createKyselyThrottleStore(database.db, options),
        other: () => {
          // Another instance: its own connections to the same database.
          const db = createDatabase(database.config);
          return Promise.resolve({ store: createKyselyThrottleStore(db, options), dispose: () => db.destroy() });
        },
        dispose: () => database.dispose(),
      };
    });
  });

  void describe(`${target.name}: AWS SSO registrations, device codes and grants`, () => {
    awsSsoStoreContract(async () => {
      const database = await target.open();
      return {
        store: createKyselyAwsSsoStore(database.db),
        other: () => {
          const db = createDatabase(database.config);
          return Promise.resolve({ store: createKyselyAwsSsoStore(db), dispose: () => db.destroy() });
        },
        dumpStorage: async () => (await Promise.all((['aws_sso_clients', 'aws_sso_device_codes', 'aws_sso_grants', 'aws_sso_authorization_codes'] as const).map((table) => dumpTable(database, table)))).join('\n'),
        dispose: () => database.dispose(),
      };
    });
  });

  void describe(`${target.name}: MFA devices`, () => {
    mfaStoreContract(async () => {
      const database = await target.open();
      const box = createSecretBox(randomBytes(32));
      return {
        store: createKyselyMfaStore(database.db, box),
        other: () => {
          const db = createDatabase(database.config);
          return Promise.resolve({ store: createKyselyMfaStore(db, box), dispose: () => db.destroy() });
        },
        dumpStorage: () => dumpTable(database, 'mfa_devices'),
        dispose: () => database.dispose(),
      };
    });
  });

  void describe(`${target.name}: shared state`, () => {
    sharedStateContract(async () => {
      const database = await target.open();
      const stores = (db: typeof database.db): SharedStateStores => ({
        replay: createKyselyReplayStore(db),
        pending: createKyselyPendingRequestStore(db),
        settings: createKyselySettingsStore(db),
        // No polling in the contract: what arrives without refresh() arrived by notification.
        feed: createKyselyChangeFeed(db, database.config, { refreshMs: 3_600_000 }),
      });
      const mine = stores(database.db);
      const others: Array<() => Promise<void>> = [];
      return {
        ...mine,
        notifies: database.config.driver === 'postgres',
        other: () => {
          const db = createDatabase(database.config);
          const theirs = stores(db);
          const dispose = async () => {
            await theirs.feed.close();
            await db.destroy();
          };
          others.push(dispose);
          return Promise.resolve({ ...theirs, dispose });
        },
        dispose: async () => {
          await mine.feed.close();
          await database.dispose();
        },
      };
    });
  });

  void describe(`${target.name}: sessions`, () => {
    sessionStoreContract(async () => {
      const database = await target.open();
      return {
        store: createKyselySessionStore(database.db),
        inTransaction: (work) => database.db.transaction().execute((trx) => work(createKyselySessionStore(trx))),
        dumpStorage: () => dumpTable(database, 'sessions'),
        dispose: () => database.dispose(),
      };
    });

    void it('report a row whose data no longer parses as storage.corrupt_record', () =>
      withDatabase(async ({ db }) => {
        const store = createKyselySessionStore(db);
        await store.create(
          {
            tokenHash: 'hash-1',
            userId: 'u1',
            userGuid: 'g1',
            expiresAt: new Date(Date.now() + 60_000),
            data: { userName: 'a@b.test', displayName: null, groups: [], groupsTruncated: false, csrfSecret: 's', clientAddress: null, userAgent: null },
          },
          new Date(),
        );
        await db.updateTable('sessions').set({ data_json: '{"userName":"a@b.test"}' }).execute();
        await assert.rejects(store.findByTokenHash('hash-1'), (error) => isAppError(error, 'storage.corrupt_record'));
      }));
  });

  void describe(`${target.name}: settings`, () => {
    void it('store JSON values by name, replace them, and remove them', () =>
      withDatabase(async ({ db }) => {
        const settings = createKyselySettingsStore(db);
        assert.equal(await settings.get('mappings'), undefined);
        await settings.set('mappings', { email: '${dir:windowsUpn}' }, new Date());
        await settings.set('mappings', { email: '${dir:email}' }, new Date());
        assert.deepEqual(await settings.get('mappings'), { email: '${dir:email}' });
        assert.equal(await settings.remove('mappings'), true);
        assert.equal(await settings.remove('mappings'), false);
      }));
  });

  void describe(`${target.name}: application credentials`, () => {
    applicationCredentialStoreContract(async ({ clock }) => {
      const database = await target.open();
      return {
        store: createKyselyApplicationCredentialStore(database.db, createSecretBox(randomBytes(32)), { clock }),
        dumpStorage: () => dumpTable(database, 'application_credentials'),
        dispose: () => database.dispose(),
      };
    });

    void it('refuse a sealed secret copied onto another key', () =>
      withDatabase(async ({ db }) => {
        const store = createKyselyApplicationCredentialStore(db, createSecretBox(randomBytes(32)));
        const victim = await store.create('victim');
        const attacker = await store.create('attacker');
        // Both secrets opened once already: the store keeps opened secrets, which must not help the copy.
        assert.equal(await store.getSecret(attacker.accessKeyId), attacker.secretAccessKey);
        assert.equal(await store.getSecret(victim.accessKeyId), victim.secretAccessKey);
        const sealed = await db.selectFrom('application_credentials').select('secret_sealed').where('access_key_id', '=', victim.accessKeyId).executeTakeFirstOrThrow();
        await db.updateTable('application_credentials').set(sealed).where('access_key_id', '=', attacker.accessKeyId).execute();
        await assert.rejects(store.getSecret(attacker.accessKeyId), (error) => isAppError(error, 'secrets.decrypt_failed'));
        assert.equal(await store.getSecret(victim.accessKeyId), victim.secretAccessKey);
      }));

    void it('read the row on every getSecret: a revocation or an altered seal by another instance counts at once', () =>
      withDatabase(async ({ db }) => {
        const box = createSecretBox(randomBytes(32));
        const store = createKyselyApplicationCredentialStore(db, box);
        // What another instance (or the CLI's admin API call there) does to the same rows.
        const elsewhere = createKyselyApplicationCredentialStore(db, box);
        const revoked = await store.create('revoked elsewhere');
        const altered = await store.create('altered');
        assert.equal(await store.getSecret(revoked.accessKeyId), revoked.secretAccessKey);
        assert.equal(await store.getSecret(altered.accessKeyId), altered.secretAccessKey);
        assert.equal(await elsewhere.revoke(revoked.accessKeyId), true);
        assert.equal(await store.getSecret(revoked.accessKeyId), undefined);
        const row = await db.selectFrom('application_credentials').select('secret_sealed').where('access_key_id', '=', altered.accessKeyId).executeTakeFirstOrThrow();
        const [version, iv, tag, ciphertext = ''] = row.secret_sealed.split('.');
        const flipped = `${ciphertext.startsWith('A') ? 'B' : 'A'}${ciphertext.slice(1)}`;
        await db.updateTable('application_credentials').set({ secret_sealed: [version, iv, tag, flipped].join('.') }).where('access_key_id', '=', altered.accessKeyId).execute();
        await assert.rejects(store.getSecret(altered.accessKeyId), (error) => isAppError(error, 'secrets.decrypt_failed'));
      }));
  });

  void describe(`${target.name}: access store`, () => {
    accessStoreContract(async () => {
      const database = await target.open();
      return { store: createKyselyAccessStore(database.db), dispose: () => database.dispose() };
    });
  });

  void describe(`${target.name}: AWS provisioning store`, () => {
    awsStoreContract(async () => {
      const database = await target.open();
      return { store: createKyselyAwsStore(database.db), dispose: () => database.dispose() };
    });
  });

  void describe(`${target.name}: directory connection rows`, () => {
    void it('hold the options without the password, and the password sealed for this connection only', () =>
      withDatabase(async ({ db }) => {
        const box = createSecretBox(randomBytes(32));
        const store = createKyselyDirectoryConnectionStore(db, box);
        await store.save({ name: 'corp', options: connectionOptions({ password: 'Row-Password-42' }) });

        const row = await db.selectFrom('directory_connections').selectAll().where('name', '=', 'corp').executeTakeFirstOrThrow();
        assert.equal(row.domain, 'corp.example.test');
        const stored = JSON.parse(row.options_json) as { serviceAccount: Record<string, unknown> };
        assert.deepEqual(stored.serviceAccount, { username: 'svc-portico@corp.example.test' });
        assert.match(row.bind_password_sealed, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
        assert.ok(!JSON.stringify(row).includes('Row-Password-42'));
        assert.equal(box.open(row.bind_password_sealed, 'directory_connections:corp'), 'Row-Password-42');
      }));

    void it('refuse a sealed password copied from another connection', () =>
      withDatabase(async ({ db }) => {
        const store = createKyselyDirectoryConnectionStore(db, createSecretBox(randomBytes(32)));
        await store.save({ name: 'corp', options: connectionOptions({ password: 'corp-password' }) });
        await store.save({ name: 'attacker', options: connectionOptions({ password: 'attacker-password' }) });
        const corp = await db.selectFrom('directory_connections').select('bind_password_sealed').where('name', '=', 'corp').executeTakeFirstOrThrow();
        await db.updateTable('directory_connections').set(corp).where('name', '=', 'attacker').execute();

        await assert.rejects(store.get('attacker'), (error) => isAppError(error, 'secrets.decrypt_failed'));
        assert.equal((await store.get('corp'))?.options.serviceAccount.password, 'corp-password');
      }));

    void it('cannot be opened with another secret key, and the error carries no plaintext', () =>
      withDatabase(async ({ db }) => {
        await createKyselyDirectoryConnectionStore(db, createSecretBox(randomBytes(32))).save({
          name: 'corp',
          options: connectionOptions({ password: 'Key-Bound-Password' }),
        });
        const otherKey = createKyselyDirectoryConnectionStore(db, createSecretBox(randomBytes(32)));
        await assert.rejects(otherKey.get('corp'), (error) => {
          assert.ok(isAppError(error, 'secrets.decrypt_failed'));
          assert.ok(!JSON.stringify({ message: error.message, details: error.details }).includes('Key-Bound-Password'));
          return true;
        });
        // Listing needs no decryption, so it still works for an operator recovering from a lost key.
        assert.deepEqual(
          (await otherKey.list()).map((connection) => connection.name),
          ['corp'],
        );
      }));

    void it('report a row whose options no longer parse as storage.corrupt_record', () =>
      withDatabase(async ({ db }) => {
        const store = createKyselyDirectoryConnectionStore(db, createSecretBox(randomBytes(32)));
        await store.save({ name: 'corp', options: connectionOptions() });
        await db.updateTable('directory_connections').set({ options_json: '{"domain":"corp.example.test"}' }).execute();
        await assert.rejects(store.get('corp'), (error) => isAppError(error, 'storage.corrupt_record'));
        await assert.rejects(store.list(), (error) => isAppError(error, 'storage.corrupt_record'));
      }));
  });

  void describe(`${target.name}: migrations`, () => {
    void it('create every table, and a second run is a no-op', () =>
      withDatabase(
        async ({ db }) => {
          const first = await migrateToLatest(db);
          assert.deepEqual(first.applied, ALL_MIGRATIONS);
          for (const table of TABLES) assert.deepEqual(await db.selectFrom(table).selectAll().execute(), []);

          await createKyselyAuditLog(db).record({ actor: 'system', action: 'directory.trust.validated', outcome: 'success' });
          const second = await migrateToLatest(db);
          assert.deepEqual(second.applied, []);
          // Data written between the runs survives: the second run changed nothing.
          assert.equal((await db.selectFrom('audit_events').selectAll().execute()).length, 1);
        },
        { migrate: false },
      ));

    // PostgreSQL only: several instances need it (SQLite serves one process).
    void it('run once when several instances start together: each waits, none fails, every migration is applied once', { skip: target.name === 'sqlite' ? 'several instances need PostgreSQL' : false }, () =>
      withDatabase(
        async ({ config }) => {
          const instances = [createDatabase(config), createDatabase(config), createDatabase(config)];
          try {
            const reports = await Promise.all(instances.map((db) => migrateToLatest(db)));
            const applied = reports.flatMap((report) => report.applied).sort();
            assert.deepEqual(applied, ALL_MIGRATIONS);
          } finally {
            await Promise.all(instances.map((db) => db.destroy()));
          }
        },
        { migrate: false },
      ));

    void it('refuse a schema migrated by a newer Portico, with one line naming what it does not know', () =>
      withDatabase(async ({ db }) => {
        await sql`insert into kysely_migration (name, timestamp) values ('0099_from_the_future', '2030-01-01T00:00:00.000Z')`.execute(db);
        await assert.rejects(migrateToLatest(db), (error) => {
          assert.ok(isAppError(error, 'storage.schema_too_new'));
          assert.match(error.message, new RegExp(`newer than this Portico: it has migration 0099_from_the_future, and this version knows migrations up to ${ALL_MIGRATIONS.at(-1)}`));
          assert.doesNotMatch(error.message, /\n/);
          return true;
        });
      }));

    void it('enforce the outcome check and the unique connection name in the schema itself', () =>
      withDatabase(async ({ db }) => {
        const row = {
          id: 'e1',
          occurred_at: new Date().toISOString(),
          actor: 'a',
          action: 'x.y',
          target: null,
          error_code: null,
          details_json: '{}',
        };
        // Casting past the column type on purpose: the database, not TypeScript, must refuse it.
        await assert.rejects(db.insertInto('audit_events').values({ ...row, outcome: 'maybe' as 'success' }).execute());

        const connection = {
          name: 'corp',
          domain: 'corp.example.test',
          options_json: '{}',
          bind_password_sealed: 'v1.x.y.z',
          created_at: row.occurred_at,
          updated_at: row.occurred_at,
        };
        await db.insertInto('directory_connections').values({ ...connection, id: 'c1' }).execute();
        await assert.rejects(db.insertInto('directory_connections').values({ ...connection, id: 'c2' }).execute());
      }));
  });
}

/** Used by the PostgreSQL runner to prove tests ran in their own schema, not in a shared one. */
export async function currentSchema(database: TestDatabase): Promise<string | null> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(database.db);
  return rows[0]?.schema ?? null;
}
