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
        // Graceful: stop accepting, let requests in flight finish (http.shutdownGraceSeconds), close
        // the directory and database pools, exit 0. A second signal exits at once.
        let stopping = false;
        const stop = (signal: NodeJS.Signals): void => {
          if (stopping) process.exit(1);
          stopping = true;
          app.logger.info({ signal }, 'shutting down');
          app.stop().then(
            () => {
              app.logger.info('stopped');
              process.exit(0);
            },
            (error: unknown) => {
              app.logger.error({ err: error }, 'shutdown failed');
              process.exit(1);
            },
          );
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      } catch (error) {
        process.exitCode = reportError(error, false);
      }
    });
}
