/**
 * SessionStore on Kysely. Every operation is a single statement, so the store works the same on
 * a Kysely instance and on a Transaction handed to it (sign-in creates the session inside the
 * provisioning transaction). Only the SHA-256 of the bearer token is stored.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import type { NewSession, Session, SessionData, SessionStore } from '#src/sessions/session-store.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database, SessionsTable } from './tables.ts';

export interface KyselySessionStoreOptions {
  generateId?: () => string;
}

type Row = Selectable<SessionsTable>;

const sessionDataSchema = z.object({
  userName: z.string(),
  displayName: z.string().nullable(),
  groups: z.array(z.object({ guid: z.string(), qualifiedName: z.string() })),
  groupsTruncated: z.boolean(),
  csrfSecret: z.string().min(1),
  clientAddress: z.string().nullable(),
  userAgent: z.string().nullable(),
  authn: z.object({ amr: z.array(z.string()), passwordAt: z.string(), mfaAt: z.string().nullable(), pending: z.enum(['verify', 'enrol']).nullable() }).optional(),
});

export function createKyselySessionStore(db: Kysely<Database>, { generateId = randomUUID }: KyselySessionStoreOptions = {}): SessionStore {
  return {
    create: (session: NewSession, at: Date) =>
      translateStorageErrors('creating a session', async () => {
        const row: Row = {
          id: generateId(),
          token_hash: session.tokenHash,
          user_id: session.userId,
          user_guid: session.userGuid,
          created_at: at.toISOString(),
          expires_at: session.expiresAt.toISOString(),
          checked_at: at.toISOString(),
          revoked_at: null,
          data_json: JSON.stringify(toStoredData(session.data)),
        };
        await db.insertInto('sessions').values(row).execute();
        return toSession(row);
      }),

    findByTokenHash: (tokenHash) =>
      translateStorageErrors('reading a session', async () => {
        const row = await db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
        return row === undefined ? undefined : toSession(row);
      }),

    markChecked: (id, at) =>
      translateStorageErrors('marking a session checked', async () => {
        // Never moves backwards: a slow re-check finishing after a newer one keeps the newer time.
        await db
          .updateTable('sessions')
          .set({ checked_at: at.toISOString() })
          .where('id', '=', id)
          .where('checked_at', '<', at.toISOString())
          .execute();
      }),

    revoke: (id, at) =>
      translateStorageErrors('revoking a session', async () => {
        const result = await db
          .updateTable('sessions')
          .set({ revoked_at: at.toISOString() })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      }),

    revokeForUser: (userGuid, at) =>
      translateStorageErrors("revoking a user's sessions", async () => {
        const result = await db
          .updateTable('sessions')
          .set({ revoked_at: at.toISOString() })
          .where('user_guid', '=', userGuid)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', at.toISOString())
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      }),

    revokeAll: (at) =>
      translateStorageErrors('revoking every session', async () => {
        const result = await db
          .updateTable('sessions')
          .set({ revoked_at: at.toISOString() })
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', at.toISOString())
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      }),

    listForUser: (userGuid, at) =>
      translateStorageErrors("listing a user's sessions", async () => {
        const rows = await db
          .selectFrom('sessions')
          .selectAll()
          .where('user_guid', '=', userGuid)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', at.toISOString())
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .execute();
        return rows.map(toSession);
      }),

    purge: (before) =>
      translateStorageErrors('purging ended sessions', async () => {
        const cutoff = before.toISOString();
        const result = await db
          .deleteFrom('sessions')
          .where((eb) => eb.or([eb('expires_at', '<', cutoff), eb('revoked_at', '<', cutoff)]))
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      }),
  };
}

/** Only the declared fields: a caller's extra properties never reach the database. */
function toStoredData(data: SessionData): SessionData {
  return {
    userName: data.userName,
    displayName: data.displayName,
    groups: data.groups.map((group) => ({ guid: group.guid, qualifiedName: group.qualifiedName })),
    groupsTruncated: data.groupsTruncated,
    csrfSecret: data.csrfSecret,
    clientAddress: data.clientAddress,
    userAgent: data.userAgent,
    ...(data.authn === undefined ? {} : { authn: { amr: [...data.authn.amr], passwordAt: data.authn.passwordAt, mfaAt: data.authn.mfaAt, pending: data.authn.pending } }),
  };
}

function toSession(row: Row): Session {
  return {
    id: row.id,
    userId: row.user_id,
    userGuid: row.user_guid,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    checkedAt: new Date(row.checked_at),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
    data: parseData(row),
  };
}

function parseData(row: Row): SessionData {
  let value: unknown;
  try {
    value = JSON.parse(row.data_json);
  } catch {
    value = undefined;
  }
  const parsed = sessionDataSchema.safeParse(value);
  if (!parsed.success) throw new AppError('storage.corrupt_record', `session ${row.id}: data is not a valid session record`);
  return parsed.data;
}
