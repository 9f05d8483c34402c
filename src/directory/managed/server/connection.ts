/**
 * One LDAP connection: framing with the decoder, a Session, the rules the server enforces itself
 * (transport security for binds, anonymous access to the rootDSE only, limits), dispatch to the
 * backend, and writes that respect the socket's back-pressure. Searches run concurrently; other
 * operations run one after another in arrival order; a bind waits for everything before it and
 * holds back everything after it (RFC 4511 §4.2.1).
 */
import { randomUUID } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { ResultCode, oids } from '../backend.ts';
import type { Control, DirectoryBackend, LdapResult, SearchSink, Session } from '../backend.ts';
import {
  ProtocolError,
  decodeMessage,
  decodePasswordModifyRequestValue,
  encodeBindResponse,
  encodeExtendedResponse,
  encodeNoticeOfDisconnection,
  encodePasswordModifyResponseValue,
  encodeResultResponse,
  encodeSearchResultDone,
  encodeSearchResultEntry,
  needMoreData,
} from '../protocol/index.ts';
import type { BindRequestOp, ExtendedRequestOp, LdapMessage, RequestOp, SearchRequestOp, WireResult } from '../protocol/index.ts';
import { adDiagnostics } from './ad-diagnostics.ts';
import type { WarningLimiter } from './log-limiter.ts';

export interface LdapServerLogger {
  debug(details: Record<string, unknown>, message: string): void;
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export interface ConnectionSettings {
  backend: DirectoryBackend;
  /** Present when StartTLS can be offered. */
  secureContext: tls.SecureContext | undefined;
  allowPlainLdap: boolean;
  maxMessageBytes: number;
  maxFilterDepth: number;
  idleTimeoutMs: number;
  maxPendingPerConnection: number;
  /** Tighter limits until the connection has bound (anyone can open one). */
  unauthenticated: { maxMessageBytes: number; idleTimeoutMs: number };
  logger: LdapServerLogger;
  /** Warnings any client can provoke at will go through here, rate-limited. */
  warnings: Pick<WarningLimiter, 'warn'>;
  /** Told when a connection starts or stops counting as unbound (+1/−1), for the per-address cap. */
  countUnbound?: (remoteAddress: string, delta: 1 | -1) => void;
}

/** Thrown into a backend's SearchSink.entry once the search can no longer deliver entries. */
export class SearchAbortedError extends Error {
  constructor(readonly why: 'abandoned' | 'timeLimit' | 'closed') {
    super(`search ${why}`);
    this.name = 'SearchAbortedError';
  }
}

class ConnectionClosedError extends Error {
  constructor() {
    super('connection closed');
    this.name = 'ConnectionClosedError';
  }
}

type ResponseKind = 'bindResponse' | 'searchResultDone' | 'modifyResponse' | 'addResponse' | 'delResponse' | 'modifyDnResponse' | 'compareResponse' | 'extendedResponse';

const responseKindOf = {
  bindRequest: 'bindResponse',
  searchRequest: 'searchResultDone',
  modifyRequest: 'modifyResponse',
  addRequest: 'addResponse',
  delRequest: 'delResponse',
  modifyDnRequest: 'modifyDnResponse',
  compareRequest: 'compareResponse',
  extendedRequest: 'extendedResponse',
} as const satisfies Record<string, ResponseKind>;

type AnsweredOp = Extract<RequestOp, { op: keyof typeof responseKindOf }>;

const genericFailure = 'The server could not complete the operation.';

export class LdapConnection {
  readonly session: Session;
  private socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private closed = false;
  /** Set while StartTLS hands the socket over: no byte may be read as LDAP until TLS is up. */
  private upgrading = false;
  /** Operations accepted and not yet answered. */
  private pending = 0;
  private readonly searches = new Map<number, { controller: AbortController; why?: SearchAbortedError['why'] }>();
  private gate: Promise<unknown> = Promise.resolve();
  private serial: Promise<unknown> = Promise.resolve();
  private readonly inflight = new Set<Promise<void>>();
  private drained: Promise<void> | null = null;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  constructor(
    socket: net.Socket,
    secure: boolean,
    private readonly settings: ConnectionSettings,
    private readonly onClosed: (connection: LdapConnection) => void,
  ) {
    this.socket = socket;
    this.session = { id: randomUUID(), boundDn: null, secure, remoteAddress: socket.remoteAddress ?? 'unknown' };
    this.settings.countUnbound?.(this.session.remoteAddress, 1);
    this.attach(socket);
    socket.on('data', this.onData);
    this.settings.logger.debug({ session: this.session.id, remoteAddress: this.session.remoteAddress, secure }, 'ldap connection opened');
  }

  /** Closes from the server side, telling the client why first. */
  shutdown(): void {
    this.disconnect(ResultCode.unavailable, 'The server is shutting down.');
  }

  private attach(socket: net.Socket): void {
    socket.setNoDelay(true);
    // Socket inactivity counts reads and writes: a client that stops reading is idle too.
    socket.setTimeout(this.limits().idleTimeoutMs);
    socket.on('timeout', () => {
      // Unbound connections timing out are routine (and anyone can cause many): debug only.
      const bound = this.session.boundDn !== null;
      this.settings.logger[bound ? 'info' : 'debug']({ session: this.session.id, bound }, 'ldap connection idle, closing');
      this.destroy();
    });
    socket.on('error', (error: Error) => {
      this.settings.logger.debug({ session: this.session.id, error: error.message }, 'ldap socket error');
    });
    socket.on('close', () => this.destroy());
  }

  /** The limits that apply now: the authenticated ones once the connection has bound. */
  private limits(): { maxMessageBytes: number; idleTimeoutMs: number } {
    const { settings } = this;
    return this.session.boundDn === null ? settings.unauthenticated : { maxMessageBytes: settings.maxMessageBytes, idleTimeoutMs: settings.idleTimeoutMs };
  }

  /** Sets the bound identity and the idle timeout that goes with it. */
  private setBoundDn(dn: string | null): void {
    const wasBound = this.session.boundDn !== null;
    this.session.boundDn = dn;
    if (!this.closed && wasBound !== (dn !== null)) this.settings.countUnbound?.(this.session.remoteAddress, dn === null ? 1 : -1);
    if (!this.closed && !this.upgrading) this.socket.setTimeout(this.limits().idleTimeoutMs);
  }

  // ---- reading ----

  private receive(chunk: Buffer): void {
    if (this.closed || this.upgrading) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (!this.closed && !this.upgrading && this.buffer.length > 0) {
      let decoded;
      try {
        decoded = decodeMessage(this.buffer, { maxMessageBytes: this.limits().maxMessageBytes, maxFilterDepth: this.settings.maxFilterDepth });
      } catch (error) {
        const reason = error instanceof ProtocolError ? error.reason : 'unexpected';
        this.settings.warnings.warn('malformed-message', { session: this.session.id, remoteAddress: this.session.remoteAddress, bound: this.session.boundDn !== null, reason }, 'malformed LDAP message, disconnecting');
        this.disconnect(ResultCode.protocolError, error instanceof ProtocolError ? error.message : 'malformed message');
        return;
      }
      if (decoded === needMoreData) break;
      this.buffer = this.buffer.subarray(decoded.bytesConsumed);
      this.dispatch(decoded.message);
    }
    // Drop the reference to a fully consumed chunk so it can be collected.
    if (this.buffer.length === 0) this.buffer = Buffer.alloc(0);
  }

  private dispatch(message: LdapMessage): void {
    const { messageId, protocolOp: op } = message;
    if (messageId === 0) {
      // messageID 0 is reserved for unsolicited notifications (RFC 4511 §4.1.1.1).
      this.disconnect(ResultCode.protocolError, 'messageID 0 is reserved');
      return;
    }
    switch (op.op) {
      case 'abandonRequest': {
        const search = this.searches.get(op.messageId);
        if (search && !search.controller.signal.aborted) {
          search.why = 'abandoned';
          search.controller.abort(new SearchAbortedError('abandoned'));
        }
        return;
      }
      case 'unbindRequest':
        this.end();
        return;
      case 'bindResponse':
      case 'searchResultEntry':
      case 'searchResultReference':
      case 'searchResultDone':
      case 'modifyResponse':
      case 'addResponse':
      case 'delResponse':
      case 'modifyDnResponse':
      case 'compareResponse':
      case 'extendedResponse':
        this.disconnect(ResultCode.protocolError, 'a client may not send responses');
        return;
      default:
        break;
    }
    const request = { ...message, protocolOp: op };
    if (this.pending >= this.settings.maxPendingPerConnection) {
      this.respond(messageId, responseKindOf[op.op], { resultCode: ResultCode.busy, diagnosticMessage: 'Too many outstanding operations on this connection.' });
      return;
    }
    if (op.op === 'extendedRequest' && op.requestName === oids.startTls) {
      this.startTls(messageId);
      return;
    }
    if (op.op === 'searchRequest') {
      // Registered now, so an Abandon that overtakes a queued search still finds it.
      this.searches.set(messageId, { controller: new AbortController() });
    }
    this.pending += 1;
    const run = (): Promise<void> => this.execute(request);
    const kind = op.op === 'bindRequest' ? 'exclusive' : op.op === 'searchRequest' ? 'concurrent' : 'serial';
    let task: Promise<void>;
    if (kind === 'exclusive') {
      task = Promise.allSettled([this.gate, this.serial, ...this.inflight]).then(run);
      this.gate = task;
    } else if (kind === 'serial') {
      task = Promise.allSettled([this.gate, this.serial]).then(run);
      this.serial = task;
    } else {
      task = this.gate.then(run, run);
    }
    const tracked: Promise<void> = task
      .catch((error: unknown) => this.settings.logger.error({ session: this.session.id, error: describe(error) }, 'ldap operation failed unexpectedly'))
      .finally(() => {
        this.inflight.delete(tracked);
        this.pending -= 1;
        if (op.op === 'searchRequest') this.searches.delete(messageId);
      });
    this.inflight.add(tracked);
  }

  // ---- operations ----

  private async execute(message: LdapMessage<AnsweredOp>): Promise<void> {
    if (this.closed) return;
    const { messageId, protocolOp: op, controls } = message;
    const kind = responseKindOf[op.op];
    if (!this.mayRunWhileAnonymous(op)) {
      this.respond(messageId, kind, { resultCode: ResultCode.operationsError, diagnosticMessage: adDiagnostics.bindRequired });
      return;
    }
    // The backend sees controls only on searches; elsewhere a critical control is one we cannot honour.
    const critical = op.op === 'searchRequest' ? undefined : controls.find((control) => control.critical);
    if (critical) {
      this.respond(messageId, kind, { resultCode: ResultCode.unavailableCriticalExtension, diagnosticMessage: `Critical control ${critical.oid} is not supported for this operation.` });
      return;
    }
    try {
      await this.perform(messageId, op, controls);
    } catch (error) {
      if (error instanceof ConnectionClosedError || this.closed) return;
      if (op.op === 'searchRequest' && this.searches.get(messageId)?.why === 'abandoned') return;
      // Never log the operation itself: a bind or password change carries secrets.
      this.settings.logger.error({ session: this.session.id, operation: op.op, messageId, error: describe(error) }, 'directory backend failed');
      this.respond(messageId, kind, { resultCode: ResultCode.other, diagnosticMessage: genericFailure });
    }
  }

  private mayRunWhileAnonymous(op: AnsweredOp): boolean {
    if (this.session.boundDn !== null) return true;
    if (op.op === 'bindRequest') return true;
    if (op.op === 'searchRequest') return op.baseObject === '' && op.scope === 'base';
    if (op.op === 'extendedRequest') return op.requestName === oids.whoAmI;
    return false;
  }

  private async perform(messageId: number, op: AnsweredOp, controls: Control[]): Promise<void> {
    const { backend } = this.settings;
    const session = this.session;
    switch (op.op) {
      case 'bindRequest':
        return this.bind(messageId, op);
      case 'searchRequest':
        return this.search(messageId, op, controls);
      case 'modifyRequest':
        return this.respond(messageId, 'modifyResponse', await backend.modify(session, op.object, op.changes));
      case 'addRequest':
        return this.respond(messageId, 'addResponse', await backend.add(session, { entry: op.entry, attributes: op.attributes }));
      case 'delRequest':
        return this.respond(messageId, 'delResponse', await backend.delete(session, op.entry));
      case 'modifyDnRequest': {
        const { entry, newRdn, deleteOldRdn, newSuperior } = op;
        return this.respond(messageId, 'modifyDnResponse', await backend.modifyDn(session, { entry, newRdn, deleteOldRdn, ...(newSuperior !== undefined && { newSuperior }) }));
      }
      case 'compareRequest':
        return this.respond(messageId, 'compareResponse', await backend.compare(session, op.entry, op.attribute, op.value));
      case 'extendedRequest':
        return this.extended(messageId, op);
    }
  }

  private async bind(messageId: number, op: BindRequestOp): Promise<void> {
    // A bind, whatever its outcome, first drops the previous identity (RFC 4511 §4.2.1).
    this.setBoundDn(null);
    if (op.version !== 3) {
      this.respond(messageId, 'bindResponse', { resultCode: ResultCode.protocolError, diagnosticMessage: 'Only LDAP version 3 is supported.' });
      return;
    }
    if (op.authentication.method === 'sasl') {
      this.respond(messageId, 'bindResponse', { resultCode: ResultCode.authMethodNotSupported, diagnosticMessage: 'Only simple binds are supported.' });
      return;
    }
    const { password } = op.authentication;
    if (password.length > 0 && !this.session.secure && !this.settings.allowPlainLdap) {
      this.settings.logger.info({ session: this.session.id }, 'refused a simple bind without TLS');
      this.respond(messageId, 'bindResponse', { resultCode: ResultCode.strongerAuthRequired, diagnosticMessage: adDiagnostics.strongerAuthRequired });
      return;
    }
    const { result, boundDn } = await this.settings.backend.bind(this.session, op.name, password);
    if (result.resultCode === ResultCode.success) this.setBoundDn(boundDn ?? null);
    this.settings.logger.debug({ session: this.session.id, resultCode: result.resultCode }, 'ldap bind');
    this.respond(messageId, 'bindResponse', result);
  }

  private async search(messageId: number, op: SearchRequestOp, controls: Control[]): Promise<void> {
    const state = this.searches.get(messageId);
    if (!state || state.controller.signal.aborted) return;
    const { signal } = state.controller;
    const timer =
      op.timeLimit > 0
        ? setTimeout(() => {
            state.why = 'timeLimit';
            state.controller.abort(new SearchAbortedError('timeLimit'));
          }, op.timeLimit * 1000)
        : undefined;
    const sink: SearchSink = {
      signal,
      entry: async (entry) => {
        if (signal.aborted) throw new SearchAbortedError(state.why ?? 'closed');
        await this.write(encodeSearchResultEntry(messageId, entry));
      },
    };
    const { baseObject, scope, derefAliases, sizeLimit, timeLimit, typesOnly, filter, attributes } = op;
    const request = { baseObject, scope, derefAliases, sizeLimit, timeLimit, typesOnly, filter, attributes };
    try {
      const outcome = await this.settings.backend.search(this.session, request, controls, sink).catch((error: unknown) => {
        // A backend that stops because its sink refused an entry is not a backend failure.
        if (error instanceof SearchAbortedError || signal.aborted) return null;
        throw error;
      });
      if (state.why === 'abandoned' || this.closed) return; // abandoned operations get no answer
      if (state.why === 'timeLimit' || !outcome) {
        this.respond(messageId, 'searchResultDone', { resultCode: ResultCode.timeLimitExceeded, diagnosticMessage: 'Time limit exceeded.' });
        return;
      }
      this.respond(messageId, 'searchResultDone', outcome.result, outcome.controls);
    } finally {
      clearTimeout(timer);
    }
  }

  private async extended(messageId: number, op: ExtendedRequestOp): Promise<void> {
    if (op.requestName === oids.whoAmI) {
      // RFC 4532: an empty authzId means anonymous.
      const authzId = this.session.boundDn === null ? '' : `dn:${this.session.boundDn}`;
      this.write(encodeExtendedResponse(messageId, { resultCode: ResultCode.success }, { responseValue: Buffer.from(authzId, 'utf8') })).catch(ignoreClosed);
      return;
    }
    if (op.requestName === oids.passwordModify) {
      let request;
      try {
        request = decodePasswordModifyRequestValue(op.requestValue);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.respond(messageId, 'extendedResponse', { resultCode: ResultCode.protocolError, diagnosticMessage: 'Malformed password modify request value.' });
        return;
      }
      const { result, genPassword } = await this.settings.backend.passwordModify(this.session, request);
      const value = genPassword !== undefined && result.resultCode === ResultCode.success ? encodePasswordModifyResponseValue(genPassword) : undefined;
      this.write(encodeExtendedResponse(messageId, result, value ? { responseValue: value } : {})).catch(ignoreClosed);
      return;
    }
    // RFC 4511 §4.12: an unrecognised request name is a protocolError result, not a disconnection.
    this.respond(messageId, 'extendedResponse', { resultCode: ResultCode.protocolError, diagnosticMessage: `Unsupported extended operation ${op.requestName}.` });
  }

  private startTls(messageId: number): void {
    const refuse = (resultCode: LdapResult['resultCode'], diagnosticMessage: string): void => this.respond(messageId, 'extendedResponse', { resultCode, diagnosticMessage }, undefined, oids.startTls);
    const context = this.settings.secureContext;
    if (!context) return refuse(ResultCode.unavailable, 'TLS is not configured on this server.');
    if (this.session.secure) return refuse(ResultCode.operationsError, 'TLS is already active on this connection.');
    if (this.pending > 0) return refuse(ResultCode.operationsError, 'Operations are outstanding on this connection.');
    if (this.buffer.length > 0) {
      // The client spoke after StartTLS without waiting for the answer: those bytes belong to no protocol.
      this.disconnect(ResultCode.protocolError, 'data followed the StartTLS request');
      return;
    }
    const raw = this.socket;
    this.upgrading = true;
    this.pending += 1;
    raw.removeListener('data', this.onData);
    raw.pause();
    const response = encodeExtendedResponse(messageId, { resultCode: ResultCode.success }, { responseName: oids.startTls });
    // The answer must leave in clear text before the handshake takes the socket over.
    raw.write(response, (error) => {
      if (error || this.closed) return;
      raw.removeAllListeners('timeout');
      raw.removeAllListeners('close');
      raw.setTimeout(0);
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
      this.socket = secure;
      this.attach(secure);
      secure.once('secure', () => {
        this.session.secure = true;
        this.upgrading = false;
        this.pending -= 1;
        secure.on('data', this.onData);
        this.settings.logger.debug({ session: this.session.id }, 'StartTLS established');
      });
    });
  }

  // ---- writing ----

  private respond(messageId: number, kind: ResponseKind, result: WireResult, controls?: Control[], responseName?: string): void {
    let bytes: Buffer;
    switch (kind) {
      case 'bindResponse':
        bytes = encodeBindResponse(messageId, result, controls);
        break;
      case 'searchResultDone':
        bytes = encodeSearchResultDone(messageId, result, controls);
        break;
      case 'extendedResponse':
        bytes = encodeExtendedResponse(messageId, result, responseName !== undefined ? { responseName } : {}, controls);
        break;
      default:
        bytes = encodeResultResponse(messageId, kind, result, controls);
    }
    this.write(bytes).catch(ignoreClosed);
  }

  /** Resolves once the socket took the bytes without exceeding its buffer, or after it drained. */
  private write(bytes: Buffer): Promise<void> {
    if (this.closed || this.socket.destroyed) return Promise.reject(new ConnectionClosedError());
    if (this.socket.write(bytes)) return Promise.resolve();
    if (!this.drained) {
      const socket = this.socket;
      // Stop reading while the client does not read: otherwise a client that floods requests
      // without reading answers would make us buffer those answers without bound.
      socket.pause();
      this.drained = new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          socket.removeListener('close', onClose);
          this.drained = null;
          if (!this.upgrading) socket.resume();
          resolve();
        };
        const onClose = (): void => {
          socket.removeListener('drain', onDrain);
          this.drained = null;
          reject(new ConnectionClosedError());
        };
        socket.once('drain', onDrain);
        socket.once('close', onClose);
      });
    }
    return this.drained;
  }

  // ---- closing ----

  /** Notice of Disconnection (RFC 4511 §4.4.1), then close. */
  private disconnect(resultCode: number, diagnosticMessage: string): void {
    if (this.closed) return;
    this.socket.write(encodeNoticeOfDisconnection(resultCode, diagnosticMessage));
    this.end();
  }

  /** Graceful close: flush what was written, then let go of the socket. */
  private end(): void {
    if (this.closed) return;
    this.markClosed();
    const socket = this.socket;
    socket.removeListener('data', this.onData);
    socket.end();
    // A peer that never reads would keep a half-closed socket forever.
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  private destroy(): void {
    this.markClosed();
    this.socket.destroy();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.session.boundDn === null) this.settings.countUnbound?.(this.session.remoteAddress, -1);
    this.buffer = Buffer.alloc(0);
    for (const search of this.searches.values()) {
      if (!search.controller.signal.aborted) {
        search.why ??= 'closed';
        search.controller.abort(new SearchAbortedError('closed'));
      }
    }
    this.settings.logger.debug({ session: this.session.id }, 'ldap connection closed');
    this.settings.backend.closeSession?.(this.session.id);
    this.onClosed(this);
  }
}

/** A response that cannot be written because the client left needs no further handling. */
function ignoreClosed(_error: unknown): void {}

/** Name and message only: backend errors must not drag request contents into the log. */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'non-error thrown';
}
