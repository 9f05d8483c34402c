/**
 * `portico admin`: what only the host can do — issue a new bootstrap token for the admin API
 * (when the first one is lost, or after it was disabled). Host-local on purpose: it runs in this
 * process on the instance's database (through app.ts, the composition root), not over the admin
 * API, because it is how an administrator gets back in when no token works.
 */
import type { Command } from 'commander';
import { backupInstance, resetBootstrapToken, restoreInstance } from '#src/app.ts';
import type { LoadConfig } from './admin-client.ts';
import { isAppError } from '#src/shared/errors.ts';
import { exitCodeHelp, exitCodes, printJson, reportError } from './output.ts';

/** Who a host-local command acts as in the audit log. */
const hostActor = `cli:${process.env.USER ?? 'unknown'}`;

export function registerAdminCommands(program: Command, loadConfig: LoadConfig): void {
  const admin = program.command('admin').description('host-only administration of Portico itself (in this process, on the instance\'s database; not via the admin API)').addHelpText('after', exitCodeHelp);
  admin
    .command('bootstrap-token')
    .description('issue a new admin bootstrap token, replacing the previous one (it is printed once; only its hash is stored). Host-local: run it on the host, with the configuration of the instance')
    .requiredOption('--reset', 'confirm: the previous bootstrap token stops working')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      try {
        const token = await resetBootstrapToken(loadConfig(command.optsWithGlobals<{ config?: string }>().config), hostActor);
        if (json) printJson({ token });
        else process.stdout.write(`New admin bootstrap token (the previous one no longer works):\n\n    ${token}\n\n  export PORTICO_ADMIN_TOKEN=${token}\n`);
        process.exitCode = exitCodes.ok;
      } catch (error) {
        process.exitCode = reportError(error, json);
      }
    });
}

const BACKUP_HELP = `
A backup is a new directory (mode 0700) holding manifest.json, portico.db (SQLite: an online
backup, consistent while Portico runs), secret.key (the instance key: stored directory
passwords, SAML signing keys and the managed directory's service account are sealed with it)
and managed-directory/ (its Administrator password file and LDAP certificate). Keep it as
secret as the key itself.

With PostgreSQL the database is not copied: dump it with pg_dump and keep the dump with the
directory this command writes (docs/operations.md).

Host-local on purpose: it runs in this process with the configuration of the instance, not over
the admin API, because the instance key must never travel over the network.
`;

export function registerBackupCommands(program: Command, loadConfig: LoadConfig): void {
  program
    .command('backup')
    .description('back up this instance (database, instance key, managed-directory files) into a new directory. Host-local')
    .argument('<directory>', 'where to write the backup (must not exist, or be empty)')
    .option('--json', 'machine-readable output (the manifest)')
    .addHelpText('after', `${BACKUP_HELP}\nExample:\n  portico --config /etc/portico/portico.yaml backup /var/backups/portico/$(date +%F)\n${exitCodeHelp}`)
    .action(async (directory: string, options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      try {
        const manifest = await backupInstance(loadConfig(command.optsWithGlobals<{ config?: string }>().config), directory);
        if (json) printJson(manifest);
        else {
          process.stdout.write(`Backed up Portico ${manifest.porticoVersion} into ${directory}\n`);
          if (manifest.database.driver === 'sqlite') process.stdout.write(`  database   ${manifest.database.file} (${manifest.database.migrations.length} migrations applied)\n`);
          else process.stdout.write('  database   NOT included (PostgreSQL): dump it with pg_dump and keep the dump with this directory\n');
          process.stdout.write(manifest.key === 'file' ? '  key        secret.key\n' : '  key        NOT included: it is secrets.key of your configuration; keep that with the backup\n');
          process.stdout.write(`  managed    ${manifest.managedDirectoryFiles.length > 0 ? manifest.managedDirectoryFiles.join(', ') : '-'}\n`);
        }
        process.exitCode = exitCodes.ok;
      } catch (error) {
        process.exitCode = restoreExitCode(error, json);
      }
    });

  program
    .command('restore')
    .description('put a backup made by `portico backup` in place of this instance (stop Portico first). Host-local')
    .argument('<directory>', 'the backup directory')
    .option('--force', 'replace the existing database and instance key')
    .option('--json', 'machine-readable output (the manifest)')
    .addHelpText(
      'after',
      `
Restores the SQLite database (its old -wal/-shm files are removed), secret.key and the managed
directory's files into the configured dataDir / database.sqlite.file. Stop Portico first: a
running instance keeps writing into the database being replaced. The next start migrates the
restored database if it is older than this version. With PostgreSQL, restore the dump with
pg_restore/psql first; this command then puts the key and files back.
A backup whose key came from secrets.key needs that same key configured (checked by digest).
${exitCodeHelp}`,
    )
    .action(async (directory: string, options: { force?: boolean; json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      try {
        const manifest = await restoreInstance(loadConfig(command.optsWithGlobals<{ config?: string }>().config), directory, { force: options.force ?? false });
        if (json) printJson(manifest);
        else process.stdout.write(`Restored the backup of ${manifest.createdAt} (Portico ${manifest.porticoVersion}). Start Portico to use it.\n`);
        process.exitCode = exitCodes.ok;
      } catch (error) {
        process.exitCode = restoreExitCode(error, json);
      }
    });
}

function restoreExitCode(error: unknown, json: boolean): number {
  const code = reportError(error, json);
  if (isAppError(error, 'backup.target_exists') || isAppError(error, 'backup.key_mismatch')) return exitCodes.conflict;
  if (isAppError(error, 'backup.invalid')) return exitCodes.usage;
  return code;
}
