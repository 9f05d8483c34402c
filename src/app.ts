/**
 * The composition root: the only place that picks concrete implementations and wires domains
 * together. `main.ts` (through the CLI) and the tests start Portico through `startApp`.
 */
import Fastify from 'fastify';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { createKyselyAuditLog, createDatabase, migrateToLatest } from '#src/storage/index.ts';
import { redactConfig } from '#src/config/index.ts';
import type { Config } from '#src/config/index.ts';
import { connectDirectory } from '#src/directory/connector.ts';
import type { DirectoryCheck, DirectoryConnector } from '#src/directory/types.ts';
import { loadOrCreateSecretKey } from '#src/secrets/index.ts';
import { isAppError } from '#src/shared/errors.ts';

export interface PorticoApp {
  url: string;
  logger: Logger;
  stop(): Promise<void>;
}

type DirectoryState =
  | { state: 'not-configured' }
  | { state: 'connected'; connector: DirectoryConnector; check: DirectoryCheck }
  | { state: 'refused' | 'unavailable'; code: string; reason: string };

export async function startApp(config: Config, options: { logDestination?: DestinationStream } = {}): Promise<PorticoApp> {
  const logger = pino({ level: config.log.level }, options.logDestination);
  logger.info({ config: redactConfig(config) }, 'configuration loaded');

  const secretKey = await loadOrCreateSecretKey(config);
  if (secretKey.origin === 'generated') {
    logger.warn({ file: secretKey.file }, 'generated a new secret key; back it up: stored secrets cannot be read without it');
  }
  const db = createDatabase(config.database, { onPoolError: (error) => logger.error({ err: error }, 'database pool error') });
  const migrations = await migrateToLatest(db);
  if (migrations.applied.length > 0) logger.info({ applied: migrations.applied }, 'database migrated');
  const audit = createKyselyAuditLog(db);

  let directory: DirectoryState = { state: 'not-configured' };
  if (config.directory) {
    const domain = config.directory.domain;
    try {
      const { connector, check } = await connectDirectory(config.directory, {
        warn: (message) => logger.warn(message),
        events: {
          controllerDown: (url, error) => logger.warn({ controller: url, error: error.message }, 'domain controller down; failing over'),
          controllerUp: (url) => logger.info({ controller: url }, 'domain controller answers again'),
        },
      });
      directory = { state: 'connected', connector, check };
      logger.info({ domain, verdict: check.verdict }, 'directory connected');
      await audit.record({ actor: 'system', action: 'directory.connect', target: domain, outcome: 'success', details: { verdict: check.verdict.reason } });
    } catch (error) {
      // Portico still starts, so that an administrator can see and fix the directory.
      const code = isAppError(error) ? error.code : 'internal';
      const reason = error instanceof Error ? error.message : String(error);
      directory = { state: code === 'directory.refused' ? 'refused' : 'unavailable', code, reason };
      logger.error({ domain, code, reason }, 'directory not connected');
      await audit.record({ actor: 'system', action: 'directory.connect', target: domain, outcome: 'failure', errorCode: isAppError(error) ? error.code : null, details: { reason } });
    }
  } else {
    logger.warn('no directory is configured: nobody can sign in yet (see README, "Connecting a directory")');
  }

  const http = Fastify({ logger: false });
  http.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  http.get('/status', (_request, reply) => reply.send(directoryStatus()));
  function directoryStatus(): Record<string, unknown> {
    switch (directory.state) {
      case 'not-configured':
        return { directory: { state: directory.state } };
      case 'connected':
        return {
          directory: {
            state: directory.state,
            domain: directory.check.info.domain,
            verdict: directory.check.verdict,
            controllers: directory.connector.status(),
          },
        };
      case 'refused':
      case 'unavailable':
        return { directory: { state: directory.state, code: directory.code, reason: directory.reason } };
    }
  }
  const address = await http.listen({ host: config.http.host, port: config.http.port });
  logger.info({ url: address }, 'Portico is listening');

  return {
    url: address,
    logger,
    async stop() {
      await http.close();
      if (directory.state === 'connected') await directory.connector.close();
      await db.destroy();
    },
  };
}
