/**
 * The SAML replay cache and the waiting SAML requests in the database (src/federation/replay.ts,
 * src/federation/pending-requests.ts), shared by every instance on it.
 *
 * Race safety: remembering an ID is one upsert on its primary key that overwrites only an expired
 * record, so of two instances receiving the same request at once exactly one sees it as new.
 * Taking a waiting request is one DELETE … RETURNING: exactly one taker gets it. The bounds of the
 * waiting requests are checked and then written in separate statements, so instances parking at
 * the same moment may pass a bound by the number of such requests in flight.
 */
import { sql, type Kysely } from 'kysely';
import type { ReplayStore } from '#src/federation/replay.ts';
import type { PendingRequestStore } from '#src/federation/pending-requests.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database } from './tables.ts';

export function createKyselyReplayStore(db: Kysely<Database>): ReplayStore {
  return {
    remember: (key, expiresAt, now) =>
      translateStorageErrors('recording a SAML request ID', async () => {
        const result = await db
          .insertInto('saml_replay')
          .values({ key, expires_at: expiresAt.toISOString() })
          .onConflict((conflict) => conflict.column('key').doUpdateSet({ expires_at: expiresAt.toISOString() }).where('saml_replay.expires_at', '<=', now.toISOString()))
          .executeTakeFirst();
        return Number(result.numInsertedOrUpdatedRows ?? 0n) === 0;
      }),
    prune: (now) =>
      translateStorageErrors('pruning SAML request IDs', async () => {
        const result = await db.deleteFrom('saml_replay').where('expires_at', '<=', now.toISOString()).executeTakeFirst();
        return Number(result.numDeletedRows);
      }),
    count: (now) =>
      translateStorageErrors('counting SAML request IDs', async () => {
        const row = await db.selectFrom('saml_replay').select((eb) => eb.fn.countAll<string | number>().as('n')).where('expires_at', '>', now.toISOString()).executeTakeFirstOrThrow();
        return Number(row.n);
      }),
  };
}

export function createKyselyPendingRequestStore(db: Kysely<Database>): PendingRequestStore {
  const prune = async (now: Date): Promise<number> => Number((await db.deleteFrom('saml_pending').where('expires_at', '<=', now.toISOString()).executeTakeFirst()).numDeletedRows);
  const found = (row: { value_json: string; parked_at: string } | undefined) => (row === undefined ? undefined : { valueJson: row.value_json, parkedAt: new Date(row.parked_at) });

  return {
    park: (entry, bounds) =>
      translateStorageErrors('keeping a SAML request', async () => {
        await prune(entry.parkedAt);
        const totals = await db
          .selectFrom('saml_pending')
          .select([
            sql<string | number>`count(*)`.as('entries'),
            sql<string | number>`coalesce(sum(bytes), 0)`.as('bytes'),
            sql<string | number>`coalesce(sum(case when client = ${entry.client} then 1 else 0 end), 0)`.as('client_entries'),
            sql<string | number>`coalesce(sum(case when client = ${entry.client} then bytes else 0 end), 0)`.as('client_bytes'),
          ])
          .executeTakeFirstOrThrow();
        let entries = Number(totals.entries);
        let bytes = Number(totals.bytes);
        const clientEntries = Number(totals.client_entries);
        const clientBytes = Number(totals.client_bytes);
        if (clientEntries + 1 > bounds.clientEntries || clientBytes + entry.bytes > bounds.clientBytes) {
          // The client's own oldest go, until the new one fits in its share.
          const own = await db.selectFrom('saml_pending').select(['ref', 'bytes']).where('client', '=', entry.client).orderBy('parked_at').orderBy('ref').execute();
          let keptEntries = clientEntries;
          let keptBytes = clientBytes;
          const evicted: string[] = [];
          for (const row of own) {
            if (keptEntries + 1 <= bounds.clientEntries && keptBytes + entry.bytes <= bounds.clientBytes) break;
            evicted.push(row.ref);
            keptEntries -= 1;
            keptBytes -= Number(row.bytes);
          }
          if (evicted.length > 0) {
            const removed = await db.deleteFrom('saml_pending').where('ref', 'in', evicted).executeTakeFirst();
            entries -= Number(removed.numDeletedRows);
            bytes -= clientBytes - keptBytes;
          }
          if (entry.bytes > bounds.clientBytes) return 'full';
        }
        if (entries + 1 > bounds.maxEntries || bytes + entry.bytes > bounds.maxBytes) return 'full';
        await db
          .insertInto('saml_pending')
          .values({ ref: entry.ref, client: entry.client, bytes: entry.bytes, value_json: entry.valueJson, parked_at: entry.parkedAt.toISOString(), expires_at: entry.expiresAt.toISOString() })
          .execute();
        return 'parked';
      }),
    peek: (ref, now) =>
      translateStorageErrors('reading a SAML request', async () =>
        found(await db.selectFrom('saml_pending').select(['value_json', 'parked_at']).where('ref', '=', ref).where('expires_at', '>', now.toISOString()).executeTakeFirst()),
      ),
    take: (ref, now) =>
      translateStorageErrors('resuming a SAML request', async () => {
        const row = await db.deleteFrom('saml_pending').where('ref', '=', ref).returning(['value_json', 'parked_at', 'expires_at']).executeTakeFirst();
        return row === undefined || row.expires_at <= now.toISOString() ? undefined : found(row);
      }),
    prune: (now) => translateStorageErrors('pruning SAML requests', () => prune(now)),
    stats: (now) =>
      translateStorageErrors('counting SAML requests', async () => {
        const row = await db
          .selectFrom('saml_pending')
          .select([sql<string | number>`count(*)`.as('entries'), sql<string | number>`coalesce(sum(bytes), 0)`.as('bytes'), sql<string | number>`count(distinct client)`.as('clients')])
          .where('expires_at', '>', now.toISOString())
          .executeTakeFirstOrThrow();
        return { entries: Number(row.entries), bytes: Number(row.bytes), clients: Number(row.clients) };
      }),
  };
}
