/**
 * The managed directory's network face: an LDAP listener (StartTLS-capable) and, with a
 * certificate, an LDAPS listener, both feeding LdapConnection. The server owns transport and
 * limits only; every directory decision belongs to the DirectoryBackend it is given.
 */
import net from 'node:net';
import tls from 'node:tls';
import { AppError } from '../../../shared/errors.ts';
import type { DirectoryBackend } from '../backend.ts';
import { defaultMaxFilterDepth, defaultMaxMessageBytes } from '../protocol/index.ts';
import { LdapConnection } from './connection.ts';
import { createWarningLimiter } from './log-limiter.ts';
import type { ConnectionSettings, LdapServerLogger } from './connection.ts';

export interface LdapServerLimits {
  /** Largest LDAPMessage accepted; larger ones end the connection (default 1 MiB). */
  maxMessageBytes: number;
  /** Open connections across both listeners (default 1,000). */
  maxConnections: number;
  /** Close a connection after this long without reads or writes (default 900 s, AD's MaxConnIdleTime). */
  idleTimeoutMs: number;
  /** Unanswered operations per connection before answering busy (default 32). */
  maxPendingPerConnection: number;
  /** Deepest filter nesting accepted (default 64). */
  maxFilterDepth: number;
  /**
   * Largest LDAPMessage accepted before the connection has bound (default 64 KiB): anyone who
   * reaches the port can open connections, so each may hold only a little memory.
   */
  unauthenticatedMaxMessageBytes: number;
  /** Close a connection that has not bound after this long without reads or writes (default 30 s). */
  unauthenticatedIdleTimeoutMs: number;
  /**
   * Connections not bound at one time from one address (default 100): one host cannot fill
   * maxConnections with connections that never bind.
   */
  maxUnauthenticatedPerAddress: number;
  /** Interval of the rate-limited warnings (malformed messages, refused connections; default 60 s). */
  warningIntervalMs: number;
  /** Warnings of one kind logged one by one per interval; the rest are summed up (default 5). */
  warningBurst: number;
}

export interface LdapServerOptions {
  backend: DirectoryBackend;
  /** PEM key and certificate: enables StartTLS, and LDAPS when `listen.ldapsPort` is set. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Port 0 picks a free port; read it back with address(). */
  listen: { host: string; port: number; ldapsPort?: number };
  /** Accept simple binds with a password over clear-text LDAP (AD refuses them; tests and labs only). */
  allowPlainLdap: boolean;
  limits?: Partial<LdapServerLimits>;
  logger?: LdapServerLogger;
}

export interface LdapServer {
  address(): net.AddressInfo;
  /** null when no LDAPS listener was configured. */
  ldapsAddress(): net.AddressInfo | null;
  /** Stops listening, tells every client (Notice of Disconnection) and closes their connections. */
  close(): Promise<void>;
}

export const defaultLimits: LdapServerLimits = {
  maxMessageBytes: defaultMaxMessageBytes,
  maxConnections: 1000,
  idleTimeoutMs: 900_000,
  maxPendingPerConnection: 32,
  maxFilterDepth: defaultMaxFilterDepth,
  unauthenticatedMaxMessageBytes: 64 * 1024,
  unauthenticatedIdleTimeoutMs: 30_000,
  maxUnauthenticatedPerAddress: 100,
  warningIntervalMs: 60_000,
  warningBurst: 5,
};

const silentLogger: LdapServerLogger = { debug() {}, info() {}, warn() {}, error() {} };

export async function createLdapServer(options: LdapServerOptions): Promise<LdapServer> {
  const limits: LdapServerLimits = { ...defaultLimits, ...options.limits };
  const logger = options.logger ?? silentLogger;
  if (options.listen.ldapsPort !== undefined && !options.tls) {
    throw new AppError('config.invalid', 'an LDAPS port needs a TLS key and certificate', { status: 500 });
  }
  const warnings = createWarningLimiter({ logger, intervalMs: limits.warningIntervalMs, burst: limits.warningBurst });
  const unbound = new Map<string, number>();
  const countUnbound = (address: string, delta: 1 | -1): void => {
    const next = (unbound.get(address) ?? 0) + delta;
    if (next > 0) unbound.set(address, next);
    else unbound.delete(address);
  };
  const secureContext = options.tls ? tls.createSecureContext({ key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' }) : undefined;
  const settings: ConnectionSettings = {
    backend: options.backend,
    secureContext,
    allowPlainLdap: options.allowPlainLdap,
    maxMessageBytes: limits.maxMessageBytes,
    maxFilterDepth: limits.maxFilterDepth,
    idleTimeoutMs: limits.idleTimeoutMs,
    maxPendingPerConnection: limits.maxPendingPerConnection,
    // Never more than the authenticated limits: a smaller configured cap applies to everyone.
    unauthenticated: {
      maxMessageBytes: Math.min(limits.unauthenticatedMaxMessageBytes, limits.maxMessageBytes),
      idleTimeoutMs: Math.min(limits.unauthenticatedIdleTimeoutMs, limits.idleTimeoutMs),
    },
    logger,
    warnings,
    countUnbound,
  };

  const connections = new Set<LdapConnection>();
  const accept = (socket: net.Socket, secure: boolean): void => {
    if (connections.size >= limits.maxConnections) {
      warnings.warn('connection-limit', { remoteAddress: socket.remoteAddress, maxConnections: limits.maxConnections }, 'ldap connection limit reached, refusing');
      socket.destroy();
      return;
    }
    const address = socket.remoteAddress ?? 'unknown';
    if ((unbound.get(address) ?? 0) >= limits.maxUnauthenticatedPerAddress) {
      warnings.warn('unbound-per-address', { remoteAddress: address, maxUnauthenticatedPerAddress: limits.maxUnauthenticatedPerAddress }, 'too many unbound ldap connections from one address, refusing');
      socket.destroy();
      return;
    }
    connections.add(new LdapConnection(socket, secure, settings, (connection) => connections.delete(connection)));
  };

  const plain = net.createServer((socket) => accept(socket, false));
  // Sockets still in their TLS handshake are not LdapConnections yet; bound them on the listener too.
  const ldaps =
    options.listen.ldapsPort !== undefined && options.tls
      ? tls.createServer(
          { key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2', handshakeTimeout: Math.min(settings.unauthenticated.idleTimeoutMs, 30_000) },
          (socket) => accept(socket, true),
        )
      : null;
  if (ldaps) {
    ldaps.maxConnections = limits.maxConnections;
    ldaps.on('tlsClientError', (error) => logger.debug({ error: error.message }, 'LDAPS handshake failed'));
  }

  const listen = (server: net.Server, port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.listen.host, () => {
        server.removeListener('error', reject);
        server.on('error', (error) => logger.error({ error: error.message }, 'ldap listener error'));
        resolve();
      });
    });
  await listen(plain, options.listen.port);
  if (ldaps && options.listen.ldapsPort !== undefined) {
    try {
      await listen(ldaps, options.listen.ldapsPort);
    } catch (error) {
      plain.close();
      throw error;
    }
  }
  logger.info({ address: plain.address(), ldapsAddress: ldaps?.address() ?? null }, 'managed directory LDAP server listening');

  const closeServer = (server: net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
  return {
    address: () => plain.address() as net.AddressInfo,
    ldapsAddress: () => (ldaps ? (ldaps.address() as net.AddressInfo) : null),
    async close() {
      const closing = [closeServer(plain), ...(ldaps ? [closeServer(ldaps)] : [])];
      for (const connection of [...connections]) connection.shutdown();
      await Promise.all(closing);
      warnings.close();
    },
  };
}
