/**
 * AuditLog on Kysely. Pages are read newest first with (occurred_at, id) as the cursor, so
 * events stamped in the same millisecond are neither skipped nor repeated across pages.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { currentAuditAction, MAX_AUDIT_PAGE, redactDetails, storedAuditActions, type AuditEvent, type AuditLog, type JsonObject } from '#src/audit/index.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { AuditEventsTable, Database } from './tables.ts';

export interface KyselyAuditLogOptions {
  clock?: () => Date;
  generateId?: () => string;
}

export function createKyselyAuditLog(
  db: Kysely<Database>,
  { clock = () => new Date(), generateId = randomUUID }: KyselyAuditLogOptions = {},
): AuditLog {
  return {
    record: (input) =>
      translateStorageErrors('recording an audit event', async () => {
        const event: AuditEvent = {
          id: generateId(),
          occurredAt: clock(),
          actor: input.actor,
          action: input.action,
          target: input.target ?? null,
          outcome: input.outcome,
          errorCode: input.errorCode ?? null,
          details: redactDetails(input.details ?? {}),
        };
        await db
          .insertInto('audit_events')
          .values({
            id: event.id,
            occurred_at: event.occurredAt.toISOString(),
            actor: event.actor,
            action: event.action,
            target: event.target,
            outcome: event.outcome,
            error_code: event.errorCode,
            details_json: JSON.stringify(event.details),
          })
          .execute();
        return event;
      }),

    list: ({ limit, before, action, actor, target, since, until }) =>
      translateStorageErrors('listing audit events', async () => {
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) {
          throw new AppError('audit.invalid_query', `limit must be an integer from 1 to ${MAX_AUDIT_PAGE}`, { status: 400 });
        }
        let query = db.selectFrom('audit_events').selectAll();
        // Rows stored under a legacy name match a filter by the current one, and the other way round.
        if (action !== undefined) query = query.where('action', 'in', storedAuditActions(action));
        if (actor !== undefined) query = query.where('actor', '=', actor);
        if (target !== undefined) query = query.where('target', '=', target);
        // occurred_at is ISO-8601 UTC text of one length, so text order is time order.
        if (since !== undefined) query = query.where('occurred_at', '>=', since.toISOString());
        if (until !== undefined) query = query.where('occurred_at', '<', until.toISOString());
        if (before !== undefined) {
          const cursor = await db
            .selectFrom('audit_events')
            .select(['occurred_at', 'id'])
            .where('id', '=', before)
            .executeTakeFirst();
          if (cursor === undefined) {
            throw new AppError('audit.invalid_query', 'before must be the id of an audit event', { status: 400 });
          }
          query = query.where((eb) =>
            eb.or([
              eb('occurred_at', '<', cursor.occurred_at),
              eb.and([eb('occurred_at', '=', cursor.occurred_at), eb('id', '<', cursor.id)]),
            ]),
          );
        }
        const rows = await query.orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
        return rows.map(toEvent);
      }),
  };
}

function toEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: row.id,
    occurredAt: new Date(row.occurred_at),
    actor: row.actor,
    action: currentAuditAction(row.action),
    target: row.target,
    outcome: row.outcome,
    errorCode: row.error_code,
    details: parseDetails(row),
  };
}

function parseDetails(row: Selectable<AuditEventsTable>): JsonObject {
  try {
    const value: unknown = JSON.parse(row.details_json);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as JsonObject;
  } catch {
    // fall through to the error below
  }
  throw new AppError('storage.corrupt_record', `audit event ${row.id}: details are not a JSON object`);
}
