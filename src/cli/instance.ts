/**
 * What the instance-level commands (users, mappings, identity-source) work on: the instance's
 * database, secret box and audit log, opened in this process, and its identity source.
 */
import type { Command } from 'commander';
import { pino } from 'pino';
import { openManagedDirectory } from '#src/app.ts';
import type { AuditLog } from '#src/audit/index.ts';
import type { Config } from '#src/config/index.ts';
import type { DirectoryConnectionStore } from '#src/directory/connection-store.ts';
import { createAdConnector } from '#src/directory/connector.ts';
import type { DirectoryConnector } from '#src/directory/types.ts';
import { chooseIdentitySource, type IdentitySourceChoice } from '#src/identity-source/identity-source.ts';
import { createMappingSettings, type MappingSettings } from '#src/identity-store/mapping-settings.ts';
import type { IdentityUserWriter } from '#src/identity-store/user.ts';
import { createSecretBox, loadOrCreateSecretKey } from '#src/secrets/index.ts';
import type { SessionStore } from '#src/sessions/index.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import {
  createDatabase,
  createKyselyAuditLog,
  createKyselyDirectoryConnectionStore,
  createKyselyIdentityUserStore,
  createKyselySessionStore,
  createKyselySettingsStore,
  migrateToLatest,
} from '#src/storage/index.ts';
import { reportError } from './output.ts';

export type LoadConfig = (file: string | undefined) => Config;

/** Who the CLI acts as in the audit log. */
export const cliActor = `cli:${process.env.USER ?? 'unknown'}`;

export interface Instance {
  config: Config;
  audit: AuditLog;
  users: IdentityUserWriter;
  sessions: SessionStore;
  connections: DirectoryConnectionStore;
  mappings: MappingSettings;
  settings: SettingsStore;
  /** Opens the identity source's connector (the managed directory in-process on ephemeral ports). */
  openSource(): Promise<{ choice: IdentitySourceChoice; connector: DirectoryConnector }>;
}

export async function withInstance(command: Command, loadConfig: LoadConfig, json: boolean, work: (instance: Instance) => Promise<number>): Promise<void> {
  const closers: Array<() => Promise<void>> = [];
  try {
    const config = loadConfig(command.optsWithGlobals<{ config?: string }>().config);
    const db = createDatabase(config.database);
    closers.push(() => db.destroy());
    await migrateToLatest(db);
    const box = createSecretBox((await loadOrCreateSecretKey(config)).key);
    const audit = createKyselyAuditLog(db);
    const connections = createKyselyDirectoryConnectionStore(db, box);
    const instance: Instance = {
      config,
      audit,
      users: createKyselyIdentityUserStore(db),
      sessions: createKyselySessionStore(db),
      connections,
      mappings: createMappingSettings(createKyselySettingsStore(db), audit),
      settings: createKyselySettingsStore(db),
      async openSource() {
        const choice = await chooseIdentitySource(config.directory, connections);
        if (choice.kind === 'connector') {
          const connector = createAdConnector(choice.options, { warn: (message) => process.stderr.write(`${message}\n`) });
          closers.unshift(() => connector.close());
          return { choice, connector };
        }
        const ephemeral = { ...config, managedDirectory: { ...config.managedDirectory, listen: { host: '127.0.0.1', ldapPort: 0, ldapsPort: 0 } } };
        const opened = await openManagedDirectory(ephemeral, db, pino({ level: 'silent' }), null);
        closers.unshift(() => opened.close());
        return { choice, connector: opened.connector };
      },
    };
    process.exitCode = await work(instance);
  } catch (error) {
    process.exitCode = reportError(error, json);
  } finally {
    for (const close of closers) await close();
  }
}
