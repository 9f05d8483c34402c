/**
 * The audit log: who did what to which object, and whether it worked. Domains record events
 * through `AuditLog`; storage implements it. Events never carry secrets: `details` passes
 * through `redactDetails` before it is stored.
 */
import type { ErrorCode } from '#src/shared/errors.ts';
import type { AuditAction } from './actions.ts';
import type { JsonObject } from './redact.ts';

export type AuditOutcome = 'success' | 'failure';
export const auditOutcomes: readonly AuditOutcome[] = ['success', 'failure'];

export interface AuditEventInput {
  /** Who acted: an admin's id, a user's objectGUID, or 'system'. */
  actor: string;
  /** One of the audit actions (see actions.ts for the naming scheme). */
  action: AuditAction;
  /** The object acted on (a connection name, a user's objectGUID); null when there is none. */
  target?: string | null;
  outcome: AuditOutcome;
  /** The stable code of the failure, when outcome is 'failure'. */
  errorCode?: ErrorCode | null;
  /** Extra context; keys named like secrets are dropped and values made JSON-safe. */
  details?: Record<string, unknown>;
}

export interface AuditEvent {
  id: string;
  occurredAt: Date;
  actor: string;
  /** The current name of the action (a legacy name read back is renamed); a plain string, since rows outlive names. */
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  // A plain string on the way out: events outlive codes that are later retired.
  errorCode: string | null;
  details: JsonObject;
}

export interface AuditQuery {
  /** Page size, 1 to MAX_AUDIT_PAGE. */
  limit: number;
  /** Cursor: the id of the last event of the previous page; returns the events older than it. */
  before?: string | undefined;
  /** Only events with this action, by its current or a legacy name (both match rows stored under either). */
  action?: string | undefined;
  /** Only events by exactly this actor (an administrator's user name, `bootstrap-token`, …). */
  actor?: string | undefined;
  /** Only events about exactly this target. */
  target?: string | undefined;
  /** Only events at or after this time. */
  since?: Date | undefined;
  /** Only events before this time. */
  until?: Date | undefined;
}

export const MAX_AUDIT_PAGE = 1000;

export interface AuditLog {
  /** Stores the event, stamped with an id and the current time, and returns it as stored. */
  record(event: AuditEventInput): Promise<AuditEvent>;
  /** Newest first; page with `before` set to the last id returned. */
  list(query: AuditQuery): Promise<AuditEvent[]>;
}
