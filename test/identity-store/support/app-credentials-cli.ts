/**
 * `portico app-credentials …` as its own program, so its tests run it as a separate process
 * whatever commands the main program wires in.
 */
import { Command } from 'commander';
import { registerAppCredentialCommands } from '#src/cli/app-credentials-commands.ts';
import { loadConfig } from '#src/config/index.ts';

const program = new Command('portico').option('-c, --config <file>', 'configuration file').exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
registerAppCredentialCommands(program, (file) => loadConfig({ file }));
await program.parseAsync(process.argv);
