/**
 * How Portico's HTTP server is exposed: HTTPS when given a certificate, and which reverse
 * proxies are believed about the client's address and scheme.
 */
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { FastifyHttpOptions } from 'fastify';
import type { Config } from '#src/config/index.ts';
import { AppError } from '#src/shared/errors.ts';

/**
 * Fastify options for the server. With `https` set Fastify creates an https.Server; it is typed
 * as the plain HTTP server options so one `FastifyInstance` type serves both (nothing in Portico
 * uses APIs that differ between the two servers).
 */
export type HttpServerOptions = FastifyHttpOptions<HttpServer> & { https?: HttpsServerOptions };

export function httpServerOptions(config: Config): HttpServerOptions {
  const { tls, trustedProxies } = config.http;
  // X-Forwarded-For/-Proto/-Host are honoured only from these peers (request.ip, request.protocol).
  const options: HttpServerOptions = { trustProxy: trustedProxies.length === 0 ? false : [...trustedProxies] };
  if (tls !== undefined) {
    options.https = { cert: readPem(tls.certFile, 'http.tls.certFile'), key: readPem(tls.keyFile, 'http.tls.keyFile') };
  }
  return options;
}

/**
 * 'always' when the public address is HTTPS (cookies then never travel in clear, even if a
 * proxy forgets X-Forwarded-Proto); otherwise 'auto': Secure when the request itself came over
 * HTTPS, directly or through a trusted proxy.
 */
export function cookieSecurity(config: Config): 'auto' | 'always' {
  return config.http.tls !== undefined || config.http.publicUrl?.startsWith('https:') === true ? 'always' : 'auto';
}

function readPem(file: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unknown error';
    throw new AppError('config.file_unreadable', `${setting}: cannot read ${file} (${code})`, { cause: error });
  }
}
