/** `portico start`: run the server until SIGINT/SIGTERM. Host-local by nature: it is the server. */
import type { Command } from 'commander';
import type { Config } from '#src/config/index.ts';
import { startApp } from '#src/app.ts';
import { reportError } from './output.ts';

export function registerStartCommand(program: Command, loadConfig: (file: string | undefined) => Config): void {
  program
    .command('start')
    .description('start Portico: HTTP on http.host:http.port, storage migrated, the directory connected and validated')
    .action(async (_options: unknown, command: Command) => {
      try {
        const app = await startApp(loadConfig(command.optsWithGlobals<{ config?: string }>().config));
        const stop = (): void => {
          void app.stop().then(() => process.exit(0));
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      } catch (error) {
        process.exitCode = reportError(error, false);
      }
    });
}
