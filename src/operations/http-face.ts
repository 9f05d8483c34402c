/**
 * The operations face over HTTP: request ids and request logs on every request, the probes
 * (/livez, /healthz, /readyz, /status) and the Prometheus metrics (/metrics, on the main
 * listener behind a bearer token, or on a listener of its own).
 */
import { createServer, type Server } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PorticoMetrics } from './metrics-port.ts';
import { requestIdFrom, runInRequest } from './request-context.ts';

/** Probe and scrape paths are logged at debug only: a load balancer asks every few seconds. */
const QUIET_PATHS = new Set(['/livez', '/healthz', '/readyz', '/metrics']);
const IDENTITY_STORE_PREFIX = '/identitystore';

export interface Check {
  ok: boolean;
  reason?: string;
  [detail: string]: unknown;
}

/**
 * Before any route is registered (hooks reach only the scopes registered after them): a request
 * id for every request, its log line when it is answered, and its HTTP metrics.
 */
export function useRequestIds(http: FastifyInstance, logger: Logger, metrics: PorticoMetrics | null): void {
  http.addHook('onRequest', (request, reply, done) => {
    const requestId = requestIdFrom(request.headers['x-request-id']);
    reply.header('x-request-id', requestId);
    (request as { porticoRequestId?: string }).porticoRequestId = requestId;
    // Everything this request runs (hooks, handler, audit records) sees its id.
    runInRequest({ requestId }, done);
  });
  http.addHook('onResponse', (request, reply, done) => {
    const path = request.url.split('?')[0] ?? '/';
    const route = request.routeOptions.url ?? 'unmatched';
    const ms = reply.elapsedTime;
    const line = { reqId: (request as { porticoRequestId?: string }).porticoRequestId, method: request.method, path, route, status: reply.statusCode, ms: Math.round(ms * 10) / 10, client: request.ip };
    if (QUIET_PATHS.has(path)) logger.debug(line, 'request');
    else logger.info(line, 'request');
    if (metrics !== null) {
      metrics.httpRequest(route, request.method, reply.statusCode, ms / 1000);
      if (path === IDENTITY_STORE_PREFIX || path.startsWith(`${IDENTITY_STORE_PREFIX}/`)) {
        const target = request.headers['x-amz-target'];
        const operation = typeof target === 'string' && /^AWSIdentityStore\.[A-Za-z]{1,64}$/.test(target) ? target.slice('AWSIdentityStore.'.length) : 'unknown';
        metrics.identityStoreCall(operation, reply.statusCode);
      }
    }
    done();
  });
}

export interface ProbeDependencies {
  version: string;
  startedAt: Date;
  /** The identity source in detail, with `health` 'ok' or 'failing' (app.ts describeWithHealth). */
  directory: () => Promise<Record<string, unknown>>;
  /** Resolves when the database answers a trivial query. */
  database: () => Promise<void>;
  /** Whether the SAML signing key is loaded and usable. */
  signingKey: () => Check;
  clock?: () => Date;
}

async function databaseCheck(ping: () => Promise<void>): Promise<Check> {
  try {
    await ping();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `the database does not answer (${error instanceof Error ? error.message : String(error)})` };
  }
}

/**
 * /livez and /healthz: the process answers (never waits on anything). /readyz: 200 only when the
 * database answers, the directory is usable (its service account binds) and the signing key is
 * loaded; 503 with each check's reason otherwise. /status: all of it for people, with version and uptime.
 */
export function registerProbes(http: FastifyInstance, deps: ProbeDependencies): void {
  const clock = deps.clock ?? (() => new Date());
  const live = { status: 'ok' };
  http.get('/livez', (_request, reply) => reply.header('cache-control', 'no-store').send(live));
  // Kept for probes configured before /livez existed: the same answer.
  http.get('/healthz', (_request, reply) => reply.header('cache-control', 'no-store').send(live));
  http.get('/readyz', async (_request, reply) => {
    const [database, directory] = await Promise.all([databaseCheck(deps.database), deps.directory()]);
    const directoryCheck: Check = directory.health === 'ok' ? { ok: true } : { ok: false, state: directory.state, code: directory.code, reason: directory.reason as string | undefined };
    const checks = { database, directory: directoryCheck, signingKey: deps.signingKey() };
    const ready = Object.values(checks).every((check) => check.ok);
    reply.header('cache-control', 'no-store');
    if (ready) return reply.send({ status: 'ready', checks });
    return reply.code(503).send({
      status: 'not_ready',
      // The failing directory as before /readyz had checks ({ state, code, reason }), for existing probes.
      ...(directoryCheck.ok ? {} : { directory: { state: directory.state, code: directory.code, reason: directory.reason } }),
      checks,
    });
  });
  http.get('/status', async (_request, reply) => {
    const [database, directory] = await Promise.all([databaseCheck(deps.database), deps.directory()]);
    const now = clock();
    return reply.header('cache-control', 'no-store').send({
      version: deps.version,
      startedAt: deps.startedAt.toISOString(),
      uptimeSeconds: Math.max(0, Math.round((now.getTime() - deps.startedAt.getTime()) / 1000)),
      database,
      signingKey: deps.signingKey(),
      directory,
    });
  });
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(header.slice('Bearer '.length).trim()), digest(token));
}

/**
 * /metrics on the main listener: only with a token (scrapers send it as a bearer token); without
 * one configured it answers 404, so that nothing leaks by default.
 */
export function registerMetricsRoute(http: FastifyInstance, metrics: PorticoMetrics, token: string | null): void {
  http.get('/metrics', async (request, reply) => {
    if (token === null) return reply.code(404).send({ error: { code: 'metrics.not_served_here', message: 'metrics are not served on this listener: set metrics.token, or metrics.listen for a listener of their own' } });
    if (!tokenMatches(request.headers.authorization, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="portico-metrics"').send({ error: { code: 'metrics.unauthorized', message: 'send the metrics token as Authorization: Bearer <token>' } });
    }
    const { contentType, body } = await metrics.render();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}

/** A listener of its own serving only GET /metrics (a token, if configured, is required there too). */
export async function startMetricsListener(metrics: PorticoMetrics, listen: { host: string; port: number }, token: string | null): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: only GET /metrics is served here\n');
      return;
    }
    if (token !== null && !tokenMatches(request.headers.authorization, token)) {
      response.writeHead(401, { 'www-authenticate': 'Bearer realm="portico-metrics"', 'content-type': 'text/plain' }).end('unauthorized\n');
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address() as { address: string; port: number };
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
