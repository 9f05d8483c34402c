/**
 * The request id: taken from X-Request-Id when a proxy set a sane one, generated otherwise,
 * echoed on the response, written on every request log line, and carried (through
 * AsyncLocalStorage) into the audit events recorded while the request runs — so that one id
 * joins a proxy's log, Portico's log and the audit trail.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Letters, digits and `._:-`, at most 128: anything else is replaced, never logged as sent. */
const ACCEPTED_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && ACCEPTED_ID.test(value) ? value : randomUUID();
}

export function runInRequest<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

export function currentRequestId(): string | null {
  return storage.getStore()?.requestId ?? null;
}
