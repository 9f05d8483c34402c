/**
 * `portico admin`: what only the host can do — issue a new bootstrap token for the admin API
 * (when the first one is lost, or after it was disabled). Works on the instance's database.
 */
import type { Command } from 'commander';
import { issueBootstrapToken } from '#src/admin/admin-auth.ts';
import { cliActor, withInstance, type LoadConfig } from './instance.ts';
import { exitCodeHelp, exitCodes, printJson } from './output.ts';

export function registerAdminCommands(program: Command, loadConfig: LoadConfig): void {
  const admin = program.command('admin').description('host-only administration of Portico itself').addHelpText('after', exitCodeHelp);
  admin
    .command('bootstrap-token')
    .description('issue a new admin bootstrap token, replacing the previous one (it is printed once; only its hash is stored)')
    .requiredOption('--reset', 'confirm: the previous bootstrap token stops working')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const token = await issueBootstrapToken(instance.settings, new Date());
        await instance.audit.record({ actor: cliActor, action: 'admin.bootstrap_token.issued', outcome: 'success' });
        if (json) printJson({ token });
        else process.stdout.write(`New admin bootstrap token (the previous one no longer works):\n\n    ${token}\n\n  export PORTICO_ADMIN_TOKEN=${token}\n`);
        return exitCodes.ok;
      });
    });
}
