/**
 * How an instance opens and closes: every resource a start opens is registered here, so that a
 * start that fails half-way, and a stop, close all of them in reverse order; and the few ways a
 * start fails for reasons outside Portico (a port in use, a certificate that does not load) are
 * named in one line with a stable code instead of a stack.
 */
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { AppError, isAppError } from '#src/shared/errors.ts';

export interface OpenedResources {
  /** Registers something to close; closed last-opened first. */
  add(what: string, close: () => Promise<void> | void): void;
  /** Closes everything registered once (later calls close nothing), whatever fails on the way. */
  closeAll(onError: (what: string, error: unknown) => void): Promise<void>;
}

export function openedResources(): OpenedResources {
  const stack: Array<{ what: string; close: () => Promise<void> | void }> = [];
  return {
    add(what, close) {
      stack.push({ what, close });
    },
    async closeAll(onError) {
      for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
        try {
          await entry.close();
        } catch (error) {
          onError(entry.what, error);
        }
      }
    },
  };
}

interface ListenError {
  code?: string;
  address?: string;
  port?: number;
}

function listenErrorOf(error: unknown): ListenError | null {
  if (!(error instanceof Error) || !('code' in error)) return null;
  const code = String((error as ListenError).code);
  return code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' ? (error as ListenError) : null;
}

/** A listener that could not open, said as the administrator needs it: which one, which setting. */
export function explainListenError(error: unknown, listener: string, settings: string): unknown {
  const listen = listenErrorOf(error);
  if (listen === null) return error;
  const where = `${listen.address ?? '?'}:${listen.port ?? '?'}`;
  const why =
    listen.code === 'EADDRINUSE'
      ? 'is already in use by another process'
      : listen.code === 'EACCES'
        ? 'may not be opened by this user (ports below 1024 need privileges)'
        : 'is not an address of this machine';
  return new AppError('start.listen_failed', `the ${listener} port ${where} ${why} (${settings})`, { cause: error, details: { listener, address: listen.address, port: listen.port, reason: listen.code } });
}

/** Opens `listen` and turns a listen error into start.listen_failed. */
export async function listenOrExplain(server: { listen(options: { host: string; port: number }): Promise<string> }, host: string, port: number, listener: string, settings: string): Promise<string> {
  try {
    return await server.listen({ host, port });
  } catch (error) {
    throw explainListenError(error, listener, settings);
  }
}

/** Loads the HTTPS certificate and key once, so that a bad pair is refused before anything opens. */
export function checkHttpTls(options: { https?: SecureContextOptions }): void {
  if (options.https === undefined) return;
  try {
    createSecureContext(options.https);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppError('config.tls_invalid', `http.tls: the certificate and key do not load (${reason})`, { cause: error });
  }
}

/** Any start error as an AppError (the CLI prints its message and code on one line). */
export function startFailure(error: unknown): AppError {
  if (isAppError(error)) return error;
  const listen = explainListenError(error, 'a', 'see the configuration');
  if (isAppError(listen)) return listen;
  const reason = error instanceof Error ? error.message : String(error);
  return new AppError('start.failed', `Portico did not start: ${reason}`, { cause: error });
}
