/**
 * The admin API of the sign-in throttle (/admin/api/throttle…): the help desk's view of who is
 * being held back (accounts, unknown spellings, client addresses) and a way to clear one, for
 * a person who locked themselves out of Portico before the window runs out. Clearing is audited
 * as `auth.throttle.cleared`; a target that matches nothing is refused (404) and audited too.
 */
import { z } from 'zod';
import type { AuditLog } from '#src/audit/index.ts';
import type { ThrottleAdmin, ThrottleEntry } from '#src/auth/throttle.ts';
import { AppError } from '#src/shared/errors.ts';
import { route, type ApiRoute } from './api-route.ts';

export interface ThrottleAdminDeps {
  throttle: ThrottleAdmin;
  audit: AuditLog;
  clock?: () => Date;
}

const TAG = 'throttle';
export const THROTTLE_CLEARED = 'auth.throttle.cleared';

export const throttleEntry = z
  .object({
    kind: z.enum(['account', 'name', 'address']).describe('account: a directory account (whatever spelling was typed); name: a user name counted by its spelling (it designates no account); address: a client IPv4 address or IPv6 /64'),
    key: z.string().describe('what failures are counted under: account:<objectGUID>, name:<spelling>, or the address'),
    label: z.string().describe("the account's UPN or the spelling typed, or the address"),
    failures: z.number().int().describe('failures still inside the window'),
    maxFailures: z.number().int().describe('failures that make further attempts wait'),
    throttled: z.boolean(),
    retryAfterSeconds: z.number().int().nullable().describe('until the next attempt is allowed; null while not throttled'),
    throttledUntil: z.string().nullable(),
    lastFailureAt: z.string(),
  })
  .meta({ id: 'ThrottleEntry' });

function view(entry: ThrottleEntry, now: Date): z.infer<typeof throttleEntry> {
  return {
    kind: entry.kind,
    key: entry.key,
    label: entry.label,
    failures: entry.failures,
    maxFailures: entry.maxFailures,
    throttled: entry.throttledUntil !== null,
    retryAfterSeconds: entry.throttledUntil === null ? null : Math.max(1, Math.ceil((entry.throttledUntil.getTime() - now.getTime()) / 1000)),
    throttledUntil: entry.throttledUntil?.toISOString() ?? null,
    lastFailureAt: entry.lastFailureAt.toISOString(),
  };
}

export function throttleAdminRoutes(deps: ThrottleAdminDeps): ApiRoute[] {
  const now = () => (deps.clock ?? (() => new Date()))();
  return [
    route({
      method: 'GET', path: '/throttle', operationId: 'listThrottle', tag: TAG,
      summary: 'Accounts, unknown user names and client addresses with recent failed sign-ins (throttled ones first)',
      query: z.strictObject({ throttled: z.enum(['true', 'false']).optional().describe('true: only those refused right now') }),
      response: z.object({ entries: z.array(throttleEntry) }),
      handler: async ({ query }) => {
        const at = now();
        const entries = (await deps.throttle.list(at)).map((entry) => view(entry, at));
        return { entries: query.throttled === 'true' ? entries.filter((entry) => entry.throttled) : entries };
      },
    }),
    route({
      method: 'POST', path: '/throttle/clear', operationId: 'clearThrottle', tag: TAG,
      summary: "Forget the failed sign-ins of one account, user name or client address (a key or label as listed, a UPN, or an IP address); the directory's own lockout is not changed",
      body: z.strictObject({ target: z.string({ error: 'target: a key, label or address as listed' }).trim().min(1, 'target: a key, label or address as listed').max(1024, 'target: at most 1024 characters') }),
      response: z.object({ cleared: z.array(throttleEntry) }),
      handler: async ({ body, admin }) => {
        const at = now();
        const cleared = await deps.throttle.clear(body.target, at);
        if (cleared.length === 0) {
          await deps.audit.record({ actor: admin.actor, action: THROTTLE_CLEARED, target: body.target.slice(0, 256), outcome: 'failure', errorCode: 'auth.throttle_not_found' });
          throw new AppError('auth.throttle_not_found', `no recent failed sign-ins for ${body.target.slice(0, 256)}`, { status: 404 });
        }
        for (const entry of cleared) {
          await deps.audit.record({
            actor: admin.actor,
            action: THROTTLE_CLEARED,
            target: entry.key,
            outcome: 'success',
            details: { kind: entry.kind, label: entry.label, failures: entry.failures, wasThrottled: entry.throttledUntil !== null },
          });
        }
        return { cleared: cleared.map((entry) => view(entry, at)) };
      },
    }),
  ];
}
