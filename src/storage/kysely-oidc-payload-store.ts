/**
 * OidcPayloadStore on Kysely (SQLite and PostgreSQL): oidc-provider's state in Portico's
 * database, so a restart loses no grant and every instance on the database sees the same ones.
 * Expiry is checked on read (a row past its expiry is as good as gone) and rows are purged later.
 */
import type { Kysely } from 'kysely';
import type { OidcPayloadStore, StoredOidcPayload } from '#src/federation/oidc/payload-store.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database, OidcPayloadsTable } from './tables.ts';

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function toStored(row: OidcPayloadsTable): StoredOidcPayload {
  return {
    payload: JSON.parse(row.payload_json) as Record<string, unknown>,
    consumedAt: row.consumed_at === null ? null : new Date(row.consumed_at),
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
  };
}

export function createKyselyOidcPayloadStore(db: Kysely<Database>): OidcPayloadStore {
  const live = (model: string, now: Date) =>
    db
      .selectFrom('oidc_payloads')
      .selectAll()
      .where('model', '=', model)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now.toISOString())]));

  return {
    upsert: (model, id, payload, expiresAt) =>
      translateStorageErrors(`storing the OIDC ${model}`, async () => {
        const row = {
          model,
          id,
          payload_json: JSON.stringify(payload),
          grant_id: text(payload.grantId),
          uid: text(payload.uid),
          user_code: text(payload.userCode),
          expires_at: expiresAt === null ? null : expiresAt.toISOString(),
          consumed_at: null,
        };
        await db
          .insertInto('oidc_payloads')
          .values(row)
          .onConflict((conflict) =>
            conflict.columns(['model', 'id']).doUpdateSet({ payload_json: row.payload_json, grant_id: row.grant_id, uid: row.uid, user_code: row.user_code, expires_at: row.expires_at }),
          )
          .execute();
      }),

    find: (model, id, now) =>
      translateStorageErrors(`reading the OIDC ${model}`, async () => {
        const row = await live(model, now).where('id', '=', id).executeTakeFirst();
        return row === undefined ? undefined : toStored(row);
      }),

    findByUid: (model, uid, now) =>
      translateStorageErrors(`reading the OIDC ${model}`, async () => {
        const row = await live(model, now).where('uid', '=', uid).executeTakeFirst();
        return row === undefined ? undefined : { ...toStored(row), id: row.id };
      }),

    findByUserCode: (model, userCode, now) =>
      translateStorageErrors(`reading the OIDC ${model}`, async () => {
        const row = await live(model, now).where('user_code', '=', userCode).executeTakeFirst();
        return row === undefined ? undefined : { ...toStored(row), id: row.id };
      }),

    consume: (model, id, at) =>
      translateStorageErrors(`consuming the OIDC ${model}`, async () => {
        // The first use wins: a replay keeps the original time.
        await db.updateTable('oidc_payloads').set({ consumed_at: at.toISOString() }).where('model', '=', model).where('id', '=', id).where('consumed_at', 'is', null).execute();
      }),

    destroy: (model, id) =>
      translateStorageErrors(`removing the OIDC ${model}`, async () => {
        await db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', id).execute();
      }),

    revokeByGrantId: (grantId) =>
      translateStorageErrors('revoking an OIDC grant', async () => {
        const result = await db.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).executeTakeFirst();
        return Number(result.numDeletedRows);
      }),

    takeExpired: (model, before, limit) =>
      translateStorageErrors(`taking expired OIDC ${model} payloads`, async () => {
        const oldest = db.selectFrom('oidc_payloads').select('id').where('model', '=', model).where('expires_at', '<', before.toISOString()).orderBy('expires_at').limit(limit);
        // DELETE … RETURNING: a row deleted by another instance meanwhile is not returned here.
        const rows = await db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', 'in', oldest).returning(['id', 'payload_json']).execute();
        return rows.map((row) => ({ id: row.id, payload: JSON.parse(row.payload_json) as Record<string, unknown> }));
      }),

    purgeExpired: (before) =>
      translateStorageErrors('purging expired OIDC payloads', async () => {
        const result = await db.deleteFrom('oidc_payloads').where('expires_at', '<', before.toISOString()).executeTakeFirst();
        return Number(result.numDeletedRows);
      }),
  };
}
