/**
 * Commands that change the managed directory run its engine in this process, as the domain's
 * Administrator. Refused when a self-managed AD is the identity source: Portico never writes to
 * a connected AD.
 */
import type { Command } from 'commander';
import { pino } from 'pino';
import type { Config } from '#src/config/index.ts';
import type { Session } from '#src/directory/managed/backend.ts';
import { openManagedEngine } from '#src/directory/managed/index.ts';
import type { OpenedEngine } from '#src/directory/managed/index.ts';
import { AppError } from '#src/shared/errors.ts';
import { createDatabase, createManagedDirectoryStores, migrateToLatest } from '#src/storage/index.ts';
import { reportError } from './output.ts';

type LoadConfig = (file: string | undefined) => Config;

export async function withManagedEngine(command: Command, loadConfig: LoadConfig, json: boolean, work: (opened: OpenedEngine, session: Session) => Promise<number>): Promise<void> {
  let close = (): Promise<void> => Promise.resolve();
  try {
    const config = loadConfig(command.optsWithGlobals<{ config?: string }>().config);
    if (config.directory) {
      throw new AppError('directory.refused', 'the identity source is a self-managed AD, and Portico never writes to a connected AD: import and export work on the managed directory', { status: 400 });
    }
    const db = createDatabase(config.database);
    close = () => db.destroy();
    await migrateToLatest(db);
    const opened = await openManagedEngine({ options: config.managedDirectory, stores: createManagedDirectoryStores(db), dataDir: config.dataDir, logger: pino({ level: 'silent' }), secrets: config.secrets });
    const session: Session = { id: `cli-${process.pid}`, boundDn: opened.administrator.dn, secure: true, remoteAddress: 'cli' };
    process.exitCode = await work(opened, session);
  } catch (error) {
    process.exitCode = reportError(error, json);
  } finally {
    await close();
  }
}

