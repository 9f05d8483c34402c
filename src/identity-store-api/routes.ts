/**
 * The IdentityStore API over HTTP, as AWS serves it: AWS JSON 1.1 (`POST /` with
 * `X-Amz-Target: AWSIdentityStore.<Operation>`), requests signed with SigV4 by access keys that
 * Portico issues. The real AWS SDKs and CLI work against it with only the endpoint overridden
 * (`http://portico:8080/identitystore`) and a Portico access key as their credentials.
 *
 * Everything lives in one encapsulated Fastify scope: its body parser (the raw bytes, which the
 * signature covers), its error and not-found handlers, none of which leak into other routes.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from '#src/audit/index.ts';
import type { ApplicationCredentialStore } from '#src/identity-store/application-credentials.ts';
import { isAppError } from '#src/shared/errors.ts';
import { IdentityStoreError } from './errors.ts';
import { createIdentityStoreOperations, type IdentityStoreOperationDeps } from './operations.ts';
import { SigningKeyCache, SigV4Error, verifySigV4 } from './sigv4.ts';

export const IDENTITY_STORE_SIGNING_NAME = 'identitystore';
export const IDENTITY_STORE_TARGET_PREFIX = 'AWSIdentityStore.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Writes of last-used times and audit events of refused requests, at most once a minute per key. */
const THROTTLE_MS = 60_000;
const THROTTLE_ENTRIES = 10_000;

interface LogSink {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface IdentityStoreApiDeps extends IdentityStoreOperationDeps {
  credentials: ApplicationCredentialStore;
  /** Receives refused requests (bad signature, unknown or revoked key). */
  audit?: AuditLog | undefined;
  logger?: LogSink | undefined;
  clock?: (() => Date) | undefined;
}

export interface IdentityStoreApiOptions {
  /** Where the API is mounted; the SDK's endpoint is the server's URL plus this path. */
  prefix?: string;
}

/**
 * Mounts the API at `prefix` (default `/identitystore`) in a scope of its own.
 *
 * @example
 * await registerIdentityStoreApi(http, { users, groups: identityStoreGroups(() => connector), credentials, identityStoreId, audit });
 * // new IdentitystoreClient({ endpoint: 'http://127.0.0.1:8080/identitystore', region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } })
 */
export async function registerIdentityStoreApi(http: FastifyInstance, deps: IdentityStoreApiDeps, { prefix = '/identitystore' }: IdentityStoreApiOptions = {}): Promise<void> {
  const clock = deps.clock ?? (() => new Date());
  const operations = createIdentityStoreOperations(deps);
  const lastUse = new Throttle();
  const lastRefusal = new Throttle();
  const signingKeys = new SigningKeyCache();

  await http.register(
    (scope, _options, done) => {
      // The signature covers the exact bytes, so the body stays a Buffer until it is verified.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, parsed) => parsed(null, body));

      // AWS SDKs correct their clock from the Date of an InvalidSignatureException: it must be this clock's.
      scope.addHook('onRequest', (_request, reply, next) => {
        reply.header('date', clock().toUTCString());
        next();
      });

      scope.setNotFoundHandler((request, reply) => {
        sendError(reply, requestIdOf(reply), new IdentityStoreError('UnknownOperationException', `No operation is served at ${request.method} ${request.url.split('?')[0] ?? ''}.`));
      });

      scope.setErrorHandler((error: unknown, _request, reply) => {
        sendError(reply, requestIdOf(reply), toIdentityStoreError(error, deps.logger));
      });

      scope.post('/', async (request, reply) => {
        const requestId = requestIdOf(reply);
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const target = headerText(request, 'x-amz-target');
        const url = request.raw.url ?? '/';
        const queryAt = url.indexOf('?');
        const now = clock();

        let accessKeyId: string;
        try {
          const verified = await verifySigV4(
            {
              method: request.method,
              path: queryAt < 0 ? url : url.slice(0, queryAt),
              query: queryAt < 0 ? '' : url.slice(queryAt + 1),
              headers: pairs(request.raw.rawHeaders),
              body,
            },
            { service: IDENTITY_STORE_SIGNING_NAME, now, secretFor: (id) => deps.credentials.getSecret(id), signingKeys },
          );
          accessKeyId = verified.accessKeyId;
        } catch (error) {
          if (!(error instanceof SigV4Error)) throw error;
          await recordRefusal(error, request, target, now);
          throw new IdentityStoreError(error.code, error.message);
        }
        if (lastUse.due(accessKeyId, now)) {
          await deps.credentials.markUsed(accessKeyId, now).catch((cause: unknown) => deps.logger?.warn({ err: cause, accessKeyId }, 'could not record the use of an access key'));
        }

        const operation = target?.startsWith(IDENTITY_STORE_TARGET_PREFIX) ? target.slice(IDENTITY_STORE_TARGET_PREFIX.length) : null;
        const run = operation !== null && Object.hasOwn(operations, operation) ? operations[operation] : undefined;
        if (!run) throw new IdentityStoreError('UnknownOperationException', target ? `Unknown operation ${target}.` : 'The request names no operation (X-Amz-Target).');
        const result = await run(parseBody(body));
        return reply.code(200).header('content-type', CONTENT_TYPE).header('x-amzn-RequestId', requestId).send(JSON.stringify(result));
      });
      done();
    },
    { prefix },
  );

  async function recordRefusal(error: SigV4Error, request: FastifyRequest, target: string | undefined, now: Date): Promise<void> {
    // Refused requests can come in floods (a misconfigured client, a scan): one event per key,
    // or per address for unsigned requests, per minute, counting the ones left out.
    const key = error.accessKeyId ?? `address:${request.ip}`;
    const skipped = lastRefusal.skipped(key);
    if (!lastRefusal.due(key, now)) return;
    await deps.audit
      ?.record({
        actor: error.accessKeyId ? `access-key:${error.accessKeyId}` : 'anonymous',
        action: 'identitystore.api.refused',
        target: error.accessKeyId,
        outcome: 'failure',
        errorCode: 'api.unauthorized',
        details: { reason: error.code, message: error.message, operation: target ?? null, address: request.ip, refusedSinceLastEvent: skipped },
      })
      .catch((cause: unknown) => deps.logger?.error({ err: cause }, 'could not audit a refused IdentityStore request'));
  }
}

/** One id per request, set on the reply before anything can fail. */
function requestIdOf(reply: FastifyReply): string {
  const existing = reply.getHeader('x-amzn-RequestId');
  if (typeof existing === 'string') return existing;
  const id = randomUUID();
  reply.header('x-amzn-RequestId', id);
  return id;
}

function sendError(reply: FastifyReply, requestId: string, error: IdentityStoreError): void {
  void reply
    .code(error.status)
    .header('content-type', CONTENT_TYPE)
    .header('x-amzn-RequestId', requestId)
    .header('x-amzn-ErrorType', error.type)
    .send(JSON.stringify(error.body(requestId)));
}

function toIdentityStoreError(error: unknown, logger: LogSink | undefined): IdentityStoreError {
  if (error instanceof IdentityStoreError) return error;
  const status = (error as { statusCode?: unknown }).statusCode;
  // Fastify's own refusals (a body over the limit, a broken Content-Length): the request was not readable.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new IdentityStoreError('SerializationException', error instanceof Error ? error.message : 'The request could not be read.', { status });
  }
  if (isAppError(error) && (error.code.startsWith('directory.') || error.code === 'storage.unavailable')) {
    logger?.warn({ err: error, code: error.code }, 'IdentityStore request failed: a dependency is unavailable');
    return new IdentityStoreError('InternalServerException', 'The identity source or the database did not answer. Retry later.', {
      fields: { RetryAfterSeconds: 30 },
      cause: error,
    });
  }
  logger?.error({ err: error }, 'IdentityStore request failed');
  return new IdentityStoreError('InternalServerException', 'The request processing has failed because of an unknown error, exception or failure.', { cause: error });
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new IdentityStoreError('SerializationException', 'The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new IdentityStoreError('SerializationException', 'The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

function headerText(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : Array.isArray(value) ? value[0] : undefined;
}

/** Node's rawHeaders (`[name, value, name, value…]`) as pairs, repeated headers kept apart. */
function pairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] ?? '', raw[i + 1] ?? '']);
  return out;
}

/** Remembers when something last happened per key, in bounded memory. */
class Throttle {
  private readonly last = new Map<string, { at: number; skipped: number }>();

  due(key: string, now: Date): boolean {
    const entry = this.last.get(key);
    if (entry && now.getTime() - entry.at < THROTTLE_MS) {
      entry.skipped += 1;
      return false;
    }
    if (this.last.size >= THROTTLE_ENTRIES) this.last.clear();
    this.last.set(key, { at: now.getTime(), skipped: 0 });
    return true;
  }

  skipped(key: string): number {
    return this.last.get(key)?.skipped ?? 0;
  }
}
