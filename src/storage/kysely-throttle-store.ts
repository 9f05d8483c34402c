/**
 * ThrottleStore on Kysely (SQLite and PostgreSQL): the sign-in throttle's counters in the
 * database, shared by every instance on it and kept across restarts.
 *
 * Race safety: a failure takes one of its key's slots with a single statement, an upsert on the
 * primary key (scope, key, slot) that overwrites the row only when it has expired. PostgreSQL
 * re-evaluates that condition on the latest committed row under the row lock (a concurrent
 * writer of the same slot waits, then sees the slot taken); SQLite runs one writer at a time.
 * So two instances never take the same slot, and a key never holds more live failures than slots.
 */
import { sql, type Kysely } from 'kysely';
import type { StoredThrottleFailure, ThrottleStore } from '#src/auth/throttle.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database } from './tables.ts';

export interface KyselyThrottleStoreOptions {
  /** Rows kept at most; beyond it the failures expiring soonest are dropped at the next prune. */
  maxRows?: number;
}

export const DEFAULT_MAX_THROTTLE_ROWS = 100_000;

export function createKyselyThrottleStore(db: Kysely<Database>, { maxRows = DEFAULT_MAX_THROTTLE_ROWS }: KyselyThrottleStoreOptions = {}): ThrottleStore {
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError('maxRows must be a positive integer');

  return {
    liveExpiries: (scope, key, now) =>
      translateStorageErrors('reading sign-in failures', async () => {
        const rows = await db
          .selectFrom('sign_in_failures')
          .select('expires_at')
          .where('scope', '=', scope)
          .where('key', '=', key)
          .where('expires_at', '>', now.toISOString())
          .orderBy('expires_at')
          .execute();
        return rows.map((row) => Date.parse(row.expires_at));
      }),

    addFailure: (scope, key, failure) =>
      translateStorageErrors('recording a sign-in failure', async () => {
        const at = failure.failedAt.toISOString();
        const pending = failure.pending === true ? 1 : 0;
        const values = { label: failure.label, max_failures: failure.maxFailures, failed_at: at, expires_at: failure.expiresAt.toISOString(), pending: 0 };
        // A hint only (which slots look held or free); the conditional writes below decide atomically.
        const live = await db.selectFrom('sign_in_failures').select(['slot', 'pending']).where('scope', '=', scope).where('key', '=', key).where('expires_at', '>', at).orderBy('slot').execute();
        if (pending === 0) {
          // A failure turns a live hold of its key into the failure: one conditional update per
          // hold, so two failures never both take the same hold.
          for (const { slot } of live.filter((row) => Number(row.pending) === 1)) {
            const result = await db
              .updateTable('sign_in_failures')
              .set(values)
              .where('scope', '=', scope)
              .where('key', '=', key)
              .where('slot', '=', slot)
              .where('pending', '=', 1)
              .where('expires_at', '>', at)
              .executeTakeFirst();
            if (Number(result.numUpdatedRows) > 0) return true;
          }
        }
        const taken = new Set(live.map((row) => Number(row.slot)));
        for (let slot = 0; slot < failure.maxFailures; slot += 1) {
          if (taken.has(slot)) continue;
          const result = await db
            .insertInto('sign_in_failures')
            .values({ scope, key, slot, ...values, pending })
            .onConflict((conflict) =>
              conflict
                .columns(['scope', 'key', 'slot'])
                .doUpdateSet((eb) => ({
                  label: eb.ref('excluded.label'),
                  max_failures: eb.ref('excluded.max_failures'),
                  failed_at: eb.ref('excluded.failed_at'),
                  expires_at: eb.ref('excluded.expires_at'),
                  pending: eb.ref('excluded.pending'),
                }))
                .where('sign_in_failures.expires_at', '<=', at),
            )
            .executeTakeFirst();
          if (Number(result.numInsertedOrUpdatedRows ?? 0n) > 0) return true;
        }
        return false;
      }),

    releaseHold: (scope, key, now) =>
      translateStorageErrors('releasing a sign-in attempt', async () => {
        const at = now.toISOString();
        const holds = await db.selectFrom('sign_in_failures').select('slot').where('scope', '=', scope).where('key', '=', key).where('pending', '=', 1).where('expires_at', '>', at).execute();
        // One conditional delete per hold: two releases never both give back the same hold.
        for (const { slot } of holds) {
          const result = await db.deleteFrom('sign_in_failures').where('scope', '=', scope).where('key', '=', key).where('slot', '=', slot).where('pending', '=', 1).executeTakeFirst();
          if (Number(result.numDeletedRows) > 0) return true;
        }
        return false;
      }),

    clear: (scope, key) =>
      translateStorageErrors('clearing sign-in failures', async () => {
        const result = await db.deleteFrom('sign_in_failures').where('scope', '=', scope).where('key', '=', key).executeTakeFirst();
        return Number(result.numDeletedRows);
      }),

    listLive: (now, limit, only) =>
      translateStorageErrors('listing sign-in failures', async () => {
        let query = db.selectFrom('sign_in_failures').selectAll().where('expires_at', '>', now.toISOString());
        if (only !== undefined && 'label' in only) {
          // Every failure of the subjects that any failure labels so (an administrator's lookup: no index needed).
          const labelled = db.selectFrom('sign_in_failures').select('key').where('scope', '=', 'subject').where(sql<string>`lower(label)`, '=', only.label.toLowerCase());
          query = query.where('scope', '=', 'subject').where('key', 'in', labelled);
        } else if (only !== undefined) {
          query = query.where('scope', '=', only.scope).where('key', '=', only.key);
        }
        const rows = await query
          .orderBy('scope')
          .orderBy('key')
          .orderBy('expires_at')
          .limit(limit)
          .execute();
        return rows.map(
          (row): StoredThrottleFailure => ({
            scope: row.scope,
            key: row.key,
            label: row.label,
            maxFailures: Number(row.max_failures),
            failedAt: new Date(row.failed_at),
            expiresAt: new Date(row.expires_at),
            pending: Number(row.pending) === 1,
          }),
        );
      }),

    prune: (now) =>
      translateStorageErrors('pruning sign-in failures', async () => {
        const expired = await db.deleteFrom('sign_in_failures').where('expires_at', '<=', now.toISOString()).executeTakeFirst();
        let removed = Number(expired.numDeletedRows);
        // The cap: the row at position maxRows (newest expiry first) and everything expiring no later go.
        const boundary = await db.selectFrom('sign_in_failures').select('expires_at').orderBy('expires_at', 'desc').offset(maxRows).limit(1).executeTakeFirst();
        if (boundary !== undefined) {
          const capped = await db.deleteFrom('sign_in_failures').where('expires_at', '<=', boundary.expires_at).executeTakeFirst();
          removed += Number(capped.numDeletedRows);
        }
        return removed;
      }),
  };
}
