/**
 * Connections to the domain controllers of one domain: a bounded pool per controller and per use
 * (service-account searches, or binds as the person signing in), failover in configured order
 * when a controller refuses or times out, and fail-back once a health probe finds the preferred
 * controller answering again. A connection is used for exactly one socket: the LDAP library's
 * transparent reconnect is refused so that a StartTLS session can never silently fall back to
 * plain LDAP.
 */
import net from 'node:net';
import { Client, ResultCodeError } from 'ldapts';
import { AppError } from '#src/shared/errors.ts';
import { bindOutcomeFromDiagnostic } from './ad-codec.ts';
import type { DirectoryConnectionOptions } from './options.ts';
import { createSecureConnector } from './tls.ts';

export type ConnectionUse = 'service' | 'bind';

export interface ControllerStatus {
  url: string;
  up: boolean;
  since: Date;
  lastError: string | null;
  open: { service: number; bind: number };
}

export interface PooledConnection {
  client: Client;
  url: string;
}

export interface DomainControllerPool {
  /**
   * Runs `work` on a connection bound as the service account. A connection failure before or
   * during the work moves on to the next controller.
   */
  withService<T>(work: (connection: PooledConnection) => Promise<T>): Promise<T>;
  /**
   * Runs `work` on a connection reserved for binds as end users. Failover and retries happen only
   * while nothing was sent: a bind that reached a controller is never replayed, not even on a
   * pooled connection that died under it, since every wrong password counts against the person's
   * lockout.
   */
  withBind<T>(work: (connection: PooledConnection) => Promise<T>): Promise<T>;
  status(): ControllerStatus[];
  close(): Promise<void>;
}

export interface PoolEvents {
  controllerDown?: (url: string, error: Error) => void;
  controllerUp?: (url: string) => void;
}

/** Raised when the LDAP client tries to reopen a socket that was closed under it. */
class ReusedSocketError extends Error {
  constructor() {
    super('connection was closed; it is not reopened transparently');
  }
}

const networkErrorCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
// What ldapts says when a socket times out, breaks or closes under a pending request.
const lostConnectionMessages = /^(Connection timeout|Socket connection not established|Socket error|Connection closed before)|Operation timed out$/;

/**
 * An error of the connection rather than an LDAP result or a local mistake: the controller is not
 * answering, so another controller may. Anything else (a result code, a malformed filter) would
 * fail the same way everywhere and must not mark a controller down.
 */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof ResultCodeError) return false;
  if (error instanceof ReusedSocketError) return true;
  if (error instanceof AppError) return error.code === 'directory.unreachable' || error.code === 'directory.timeout';
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && (networkErrorCodes.has(code) || isTlsFailure(error))) return true;
  return lostConnectionMessages.test(error.message);
}

/** The connection never opened, so the request was never written: safe to send elsewhere. */
function failedBeforeSending(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return neverConnectedCodes.has(code) || isTlsFailure(error) || error.message === 'Connection timeout';
}

const neverConnectedCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

function isTlsFailure(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return /^(ERR_TLS|ERR_SSL|ERR_PORTICO_CERT|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY))/.test(code);
}

/** AD's reason for a refused service-account bind, e.g. ", the account is disabled (AD 533)". */
function serviceBindDetail(error: ResultCodeError): string {
  if (error.code !== 49) return '';
  const { outcome, subCode } = bindOutcomeFromDiagnostic(error.message);
  return subCode ? `, ${outcome} (AD ${subCode})` : '';
}

interface Slot {
  client: Client;
  lastUsed: number;
  /** Taken from the idle list: the controller may have closed it while it waited. */
  reused: boolean;
}

interface Lane {
  idle: Slot[];
  open: number;
  waiters: Array<() => void>;
}

interface Controller {
  url: string;
  host: string;
  secure: boolean;
  up: boolean;
  since: Date;
  lastError: string | null;
  lanes: Record<ConnectionUse, Lane>;
}

export function createDomainControllerPool(options: DirectoryConnectionOptions, events: PoolEvents = {}): DomainControllerPool {
  const controllers: Controller[] = options.urls.map((url) => {
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    return {
      url,
      host,
      secure: parsed.protocol === 'ldaps:',
      up: true,
      since: new Date(),
      lastError: null,
      lanes: { service: { idle: [], open: 0, waiters: [] }, bind: { idle: [], open: 0, waiters: [] } },
    };
  });
  let healthTimer: NodeJS.Timeout | null = null;
  let closed = false;
  /** The socket under each client, as the client's connection factory opened it. */
  const sockets = new WeakMap<Client, net.Socket>();

  function markDown(controller: Controller, error: Error): void {
    controller.lastError = error.message;
    if (!controller.up) return;
    controller.up = false;
    controller.since = new Date();
    events.controllerDown?.(controller.url, error);
    for (const use of ['service', 'bind'] as const) void drainIdle(controller.lanes[use]);
    scheduleHealthChecks();
  }

  function markUp(controller: Controller): void {
    if (controller.up) return;
    controller.up = true;
    controller.since = new Date();
    controller.lastError = null;
    events.controllerUp?.(controller.url);
  }

  function drainIdle(lane: Lane): Promise<void[]> {
    return Promise.all(lane.idle.splice(0).map((slot) => destroy(lane, slot)));
  }

  function destroy(lane: Lane, slot: Slot): Promise<void> {
    lane.open -= 1;
    lane.waiters.shift()?.();
    return slot.client.unbind().catch(() => undefined);
  }

  function newClient(controller: Controller): Client {
    let plainUsed = false;
    let secureUsed = false;
    const secureConnect = createSecureConnector(options.tls, controller.host);
    const client = new Client({
      url: controller.url,
      timeout: options.timeouts.operationMs,
      connectTimeout: options.timeouts.connectMs,
      strictDN: false,
      createConnection: ((port: number, host: string) => {
        if (plainUsed) throw new ReusedSocketError();
        plainUsed = true;
        return track(net.connect(port, host));
      }) as typeof net.connect,
      createSecureConnection: (...args: unknown[]) => {
        if (secureUsed) throw new ReusedSocketError();
        secureUsed = true;
        return track(secureConnect(...args));
      },
    });
    function track<S extends net.Socket>(socket: S): S {
      sockets.set(client, socket);
      return socket;
    }
    return client;
  }

  /**
   * Whether an idle connection can still carry a request: the controller (or the network) may
   * have closed it while it waited, and a request written after the peer's FIN is lost.
   */
  function stillOpen(client: Client): boolean {
    const socket = sockets.get(client);
    return client.isConnected && socket !== undefined && !socket.destroyed && !socket.readableEnded && socket.writable;
  }

  /** Opens, secures and (for service use) binds a new connection. */
  async function open(controller: Controller, use: ConnectionUse): Promise<Client> {
    const client = newClient(controller);
    try {
      if (!controller.secure && options.tls.startTls) await client.startTLS();
      if (use === 'service') {
        try {
          await client.bind(options.serviceAccount.username, options.serviceAccount.password);
        } catch (error) {
          if (error instanceof ResultCodeError) {
            throw new AppError(
              error.code === 8 ? 'directory.insecure_transport' : 'directory.service_account_rejected',
              error.code === 8
                ? `${controller.url} requires a secure connection for simple binds (LDAP result 8)`
                : `the service account was rejected by ${controller.url} (LDAP result ${error.code}${serviceBindDetail(error)})`,
              { status: 502, cause: error },
            );
          }
          throw error;
        }
      }
      return client;
    } catch (error) {
      client.unbind().catch(() => undefined);
      throw error;
    }
  }

  async function acquire(controller: Controller, use: ConnectionUse): Promise<Slot> {
    const lane = controller.lanes[use];
    const deadline = Date.now() + options.timeouts.operationMs;
    for (;;) {
      const slot = lane.idle.pop();
      if (slot) {
        if (stillOpen(slot.client) && Date.now() - slot.lastUsed < options.pool.idleMs) return { ...slot, reused: true };
        void destroy(lane, slot);
        continue;
      }
      if (lane.open < options.pool.size) {
        lane.open += 1;
        try {
          return { client: await open(controller, use), lastUsed: Date.now(), reused: false };
        } catch (error) {
          lane.open -= 1;
          lane.waiters.shift()?.();
          throw error;
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new AppError('directory.timeout', `all ${options.pool.size} connections to ${controller.url} stayed busy`, {
          status: 503,
        });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          lane.waiters.splice(lane.waiters.indexOf(wake), 1);
          resolve();
        }, remaining);
        const wake = (): void => {
          clearTimeout(timer);
          resolve();
        };
        lane.waiters.push(wake);
      });
    }
  }

  function release(controller: Controller, use: ConnectionUse, slot: Slot, healthy: boolean): void {
    const lane = controller.lanes[use];
    if (!healthy || closed || !slot.client.isConnected) {
      void destroy(lane, slot);
      return;
    }
    slot.lastUsed = Date.now();
    lane.idle.push(slot);
    lane.waiters.shift()?.();
  }

  /** Controllers in the order to try: the configured order, answering ones first. */
  function candidates(): Controller[] {
    return [...controllers.filter((c) => c.up), ...controllers.filter((c) => !c.up)];
  }

  async function run<T>(use: ConnectionUse, work: (connection: PooledConnection) => Promise<T>): Promise<T> {
    if (closed) throw new AppError('directory.unreachable', 'the directory connection is closed', { status: 503 });
    const failures: string[] = [];
    let tlsFailures = 0;
    const noteFailure = (controller: Controller, error: Error): void => {
      markDown(controller, error);
      failures.push(`${controller.url}: ${error.message}`);
      if (isTlsFailure(error)) tlsFailures += 1;
    };
    for (const controller of candidates()) {
      let slot: Slot;
      try {
        slot = await acquire(controller, use);
      } catch (error) {
        if (!isConnectionFailure(error)) throw error;
        noteFailure(controller, error as Error);
        continue;
      }
      try {
        const result = await work({ client: slot.client, url: controller.url });
        release(controller, use, slot, true);
        markUp(controller);
        return result;
      } catch (error) {
        const connectionLost = isConnectionFailure(error);
        release(controller, use, slot, !connectionLost);
        if (!connectionLost) throw error;
        if (error instanceof ReusedSocketError || (slot.reused && use === 'service')) {
          // A pooled connection that the controller (or the network) had closed while it sat idle,
          // as AD does after MaxConnIdleTime: the request died with the old socket, so it is tried
          // again on a new connection, which finds out whether the controller itself answers.
          return run(use, work);
        }
        if (slot.reused) {
          // A user's bind was written on a pooled connection that died before the answer came: the
          // controller may have counted it, and a wrong password sent twice counts twice against
          // the account's lockout. Not replayed; the controller is not marked down for one socket.
          throw new AppError('directory.unreachable', `the connection to ${controller.url} was lost while a bind was under way; it is not sent again (${(error as Error).message})`, {
            status: 503,
            details: { failures: [`${controller.url}: ${(error as Error).message}`] },
          });
        }
        noteFailure(controller, error as Error);
        if (use === 'bind' && !failedBeforeSending(error as Error)) break;
      }
    }
    const code = tlsFailures > 0 && tlsFailures === failures.length ? 'directory.tls_failed' : 'directory.unreachable';
    const summary = code === 'directory.tls_failed' ? 'no domain controller presented an acceptable certificate' : 'no domain controller answered';
    throw new AppError(code, `${summary} (${failures.join('; ')})`, { status: 503, details: { failures } });
  }

  async function probe(controller: Controller): Promise<void> {
    const client = newClient(controller);
    try {
      if (!controller.secure && options.tls.startTls) await client.startTLS();
      await client.search('', { scope: 'base', attributes: ['dnsHostName'] });
      markUp(controller);
    } catch (error) {
      controller.lastError = (error as Error).message;
    } finally {
      client.unbind().catch(() => undefined);
    }
  }

  function scheduleHealthChecks(): void {
    if (healthTimer || closed) return;
    healthTimer = setInterval(() => {
      const down = controllers.filter((c) => !c.up);
      if (down.length === 0 && healthTimer) {
        clearInterval(healthTimer);
        healthTimer = null;
        return;
      }
      for (const controller of down) void probe(controller);
    }, options.healthCheckIntervalMs);
    // Health probes must never keep a CLI process alive.
    healthTimer.unref();
  }

  return {
    withService: (work) => run('service', work),
    withBind: (work) => run('bind', work),
    status: () =>
      controllers.map((c) => ({
        url: c.url,
        up: c.up,
        since: c.since,
        lastError: c.lastError,
        open: { service: c.lanes.service.open, bind: c.lanes.bind.open },
      })),
    async close() {
      closed = true;
      if (healthTimer) clearInterval(healthTimer);
      healthTimer = null;
      await Promise.all(controllers.flatMap((c) => [drainIdle(c.lanes.service), drainIdle(c.lanes.bind)]));
    },
  };
}
