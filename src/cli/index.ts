/**
 * The `portico` command. Each domain registers its subcommands; this file only assembles them.
 */
import { Command } from 'commander';
import { loadConfig } from '#src/config/index.ts';
import { porticoVersion } from '#src/operations/version.ts';
import { registerAccessCommands } from './access-commands.ts';
import { registerAdminCommands, registerBackupCommands } from './admin-commands.ts';
import { registerAuditCommands } from './audit-commands.ts';
import { registerSamlCommands } from './saml-commands.ts';
import { registerOidcCommands } from './oidc-commands.ts';
import { registerAwsCommands } from './aws-commands.ts';
import { registerAppCredentialCommands } from './app-credentials-commands.ts';
import { registerDirectoryCommands } from './directory-commands.ts';
import { registerIdentityCommands } from './identity-commands.ts';
import { registerStartCommand } from './start-command.ts';
import { registerThrottleCommands } from './throttle-commands.ts';
import { registerSyncCommands } from './sync-commands.ts';
import { registerMfaCommands } from './mfa-commands.ts';

export function buildProgram(): Command {
  const program = new Command('portico')
    .description('Single sign-on for organisations that run Microsoft Active Directory')
    .version(porticoVersion(), '-V, --version', 'print the version of Portico and exit')
    .option('-c, --config <file>', 'configuration file (YAML or JSON); default: $PORTICO_CONFIG, else ./portico.yaml')
    .showHelpAfterError()
    .exitOverride((error) => {
      // Commander's own errors (unknown option, missing argument) are usage errors.
      process.exit(error.exitCode === 0 ? 0 : 2);
    });
  const load = (file: string | undefined) => loadConfig({ file });
  registerStartCommand(program, load);
  registerDirectoryCommands(program, load);
  registerIdentityCommands(program, load);
  registerAppCredentialCommands(program, load);
  registerAccessCommands(program, load);
  registerAdminCommands(program, load);
  registerSamlCommands(program, load);
  registerOidcCommands(program, load);
  registerAwsCommands(program, load);
  registerThrottleCommands(program, load);
  registerAuditCommands(program, load);
  registerBackupCommands(program, load);
  registerSyncCommands(program, load);
  registerMfaCommands(program, load);
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
