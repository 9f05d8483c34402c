/**
 * `portico admin`: what only the host can do — issue a new bootstrap token for the admin API
 * (when the first one is lost, or after it was disabled). Host-local on purpose: it runs in this
 * process on the instance's database (through app.ts, the composition root), not over the admin
 * API, because it is how an administrator gets back in when no token works.
 */
import type { Command } from 'commander';
import { resetBootstrapToken } from '#src/app.ts';
import type { LoadConfig } from './admin-client.ts';
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
