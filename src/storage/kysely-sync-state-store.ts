/** The AD sync's scope and watermarks on Kysely. */
import type { Kysely } from 'kysely';
import type { SyncStateStore } from '#src/sync/ports.ts';
import { isUniqueViolation, translateStorageErrors } from './errors.ts';
import type { Database } from './tables.ts';

export function createKyselySyncStateStore(db: Kysely<Database>): SyncStateStore {
  return {
    scope: () =>
      translateStorageErrors('reading the sync scope', async () => {
        const rows = await db.selectFrom('sync_scope').selectAll().orderBy('kind').orderBy('label').execute();
        return rows.map((r) => ({ kind: r.kind, guid: r.guid, label: r.label, addedBy: r.added_by, addedAt: new Date(r.added_at) }));
      }),

    addScope: (entry) =>
      translateStorageErrors('adding to the sync scope', async () => {
        try {
          await db
            .insertInto('sync_scope')
            .values({ kind: entry.kind, guid: entry.guid.toLowerCase(), label: entry.label, added_by: entry.addedBy, added_at: entry.addedAt.toISOString() })
            .execute();
          return true;
        } catch (error) {
          if (isUniqueViolation(error)) return false;
          throw error;
        }
      }),

    removeScope: (kind, guid) =>
      translateStorageErrors('removing from the sync scope', async () => {
        const result = await db.deleteFrom('sync_scope').where('kind', '=', kind).where('guid', '=', guid.toLowerCase()).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      }),

    watermark: (source) =>
      translateStorageErrors('reading the sync watermark', async () => {
        const row = await db.selectFrom('sync_watermarks').selectAll().where('source', '=', source).executeTakeFirst();
        if (!row) return null;
        return { source: row.source, controllerId: row.controller_id, usn: row.usn, cookie: row.cookie, fullSyncAt: new Date(row.full_sync_at), updatedAt: new Date(row.updated_at) };
      }),

    saveWatermark: (w) =>
      translateStorageErrors('saving the sync watermark', async () => {
        const values = { controller_id: w.controllerId, usn: w.usn, cookie: w.cookie, full_sync_at: w.fullSyncAt.toISOString(), updated_at: w.updatedAt.toISOString() };
        await db
          .insertInto('sync_watermarks')
          .values({ source: w.source, ...values })
          .onConflict((oc) => oc.column('source').doUpdateSet(values))
          .execute();
      }),

    clearWatermarks: () =>
      translateStorageErrors('clearing sync watermarks', async () => {
        await db.deleteFrom('sync_watermarks').execute();
      }),
  };
}
