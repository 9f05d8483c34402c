/** `portico start`: run the server until SIGINT/SIGTERM. Host-local by nature: it is the server. */
import type { Command } from 'commander';
import type { Config } from '#src/config/index.ts';
import { startApp } from '#src/app.ts';
import { exitCodeHelp, reportError } from './output.ts';

export function registerStartCommand(program: Command, loadConfig: (file: string | undefined) => Config): void {
  program
    .command('start')
    .description('start Portico: HTTP on http.host:http.port, storage migrated, the directory connected and validated')
    .addHelpText(
      'after',
      `
A start that fails (a port in use, an HTTPS certificate that does not load, the database
unreachable) prints one line "portico: <reason> [<code>]" on standard error, closes whatever it
had opened and exits non-zero at once; no admin bootstrap token is issued before a start succeeds.
Logs go to standard output: human-readable on a terminal, JSON lines otherwise (log.format).
${exitCodeHelp}`,
    )
    .action(async (_options: unknown, command: Command) => {
      let config: Config;
      try {
        config = loadConfig(command.optsWithGlobals<{ config?: string }>().config);
      } catch (error) {
        process.exit(reportError(error, false));
      }
      try {
        const app = await startApp(config);
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
        // startApp closed what it had opened; exit now rather than wait on anything it missed.
        process.exit(reportError(error, false));
      }
    });
}
