/**
 * The identity store's users on Kysely. Lookup keys (objectGUID, lower-cased userName and email)
 * are columns; the rest of the record is JSON. Works on a transaction too, so that provisioning
 * can write the user, the session and the audit event atomically.
 */
import { randomUUID } from 'node:crypto';
import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import type { DirectoryAccountState, UserDirectoryStateWriter } from '#src/identity-store/groups.ts';
import type { IdentityUser, IdentityUserWriter, ProvisionedUser } from '#src/identity-store/user.ts';
import { AppError } from '#src/shared/errors.ts';
import { isUniqueViolation, translateStorageErrors } from './errors.ts';
import type { Database, IdentityUsersTable } from './tables.ts';

type Row = Selectable<IdentityUsersTable>;
type LookupColumn = 'user_id' | 'guid' | 'user_name_key' | 'email_key';

export interface KyselyIdentityUserStoreOptions {
  generateId?: () => string;
}

export function createKyselyIdentityUserStore(db: Kysely<Database>, { generateId = randomUUID }: KyselyIdentityUserStoreOptions = {}): IdentityUserWriter & UserDirectoryStateWriter {
  const selectUsers = () => db.selectFrom('identity_users').selectAll().where('removed_at', 'is', null);
  const one = async (query: ReturnType<typeof selectUsers>) => {
    const row = await query.executeTakeFirst();
    return row === undefined ? undefined : toUser(row);
  };
  // The single-row lookups behind every IdentityStore API request, built and compiled once per
  // store and then run with the value alone: Kysely's building and compiling cost about as much
  // as the indexed read itself (the SQLite driver keeps the statement prepared by its text).
  const compiled = new Map<LookupColumn, CompiledQuery<Row>>();
  const lookup = async (column: LookupColumn, value: string) => {
    let query = compiled.get(column);
    if (query === undefined) {
      query = selectUsers().where(column, '=', value).compile();
      // The value must be the query's one parameter, or reusing it with another would be wrong.
      if (query.parameters.length !== 1 || query.parameters[0] !== value) throw new Error(`identity user lookup by ${column}: expected one parameter`);
      compiled.set(column, query);
    }
    const { rows } = await db.executeQuery<Row>({ ...query, parameters: [value] });
    const row = rows[0];
    return row === undefined ? undefined : toUser(row);
  };

  return {
    get: (userId) => translateStorageErrors('reading a user', () => lookup('user_id', userId)),
    findByGuid: (guid) => translateStorageErrors('reading a user', () => lookup('guid', guid.toLowerCase())),
    findByUserName: (userName) => translateStorageErrors('reading a user', () => lookup('user_name_key', userName.toLowerCase())),
    findByEmail: (email) => translateStorageErrors('reading a user', () => lookup('email_key', email.toLowerCase())),

    list: ({ limit, after, userNamePrefix }) =>
      translateStorageErrors('listing users', async () => {
        let query = selectUsers().orderBy('user_id').limit(limit + 1);
        if (after !== undefined) query = query.where('user_id', '>', after);
        if (userNamePrefix) {
          // A range instead of LIKE: no wildcard escaping, and the same on both databases.
          const prefix = userNamePrefix.toLowerCase();
          query = query.where('user_name_key', '>=', prefix).where('user_name_key', '<', `${prefix}\uffff`);
        }
        const rows = await query.execute();
        const users = rows.slice(0, limit).map(toUser);
        return { users, next: rows.length > limit ? (users.at(-1)?.userId ?? null) : null };
      }),

    count: () =>
      translateStorageErrors('counting users', async () => {
        const row = await db
          .selectFrom('identity_users')
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .where('removed_at', 'is', null)
          .executeTakeFirstOrThrow();
        return Number(row.n);
      }),

    upsert: (user, at) =>
      translateStorageErrors('provisioning a user', async () => {
        const guid = user.activeDirectory.guid.toLowerCase();
        const emailKey = user.emails[0]?.value.toLowerCase() ?? null;
        let row = await db.selectFrom('identity_users').selectAll().where('guid', '=', guid).executeTakeFirst();
        // Emails are unique: when the user's own record already holds this one, nobody else can.
        if (emailKey !== null && row?.email_key !== emailKey) {
          const holder = await db.selectFrom('identity_users').select(['guid', 'user_name']).where('email_key', '=', emailKey).executeTakeFirst();
          if (holder && holder.guid !== guid) throw emailConflict(user, holder.user_name);
        }
        const recordJson = JSON.stringify(user);
        const columns = {
          user_name: user.userName,
          user_name_key: user.userName.toLowerCase(),
          email_key: emailKey,
          record_json: recordJson,
          provisioned_at: at.toISOString(),
        };
        try {
          if (row === undefined) {
            const userId = generateId();
            // Two first sign-ins of one person at once (on two instances): one inserts, the other
            // waits for it and then updates the row it finds, instead of failing. No conflict
            // target: the two may collide on the GUID or on the email index first, and an error
            // would abort the caller's transaction.
            const inserted = await db
              .insertInto('identity_users')
              .values({ user_id: userId, guid, created_at: at.toISOString(), ...columns })
              .onConflict((conflict) => conflict.doNothing())
              .executeTakeFirst();
            if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0) return { user: { ...user, userId, createdAt: at, provisionedAt: at }, change: 'created', before: null };
            row = await db.selectFrom('identity_users').selectAll().where('guid', '=', guid).executeTakeFirst();
            // Not this GUID: someone else took the email in between.
            if (row === undefined) throw emailConflict(user, null);
          }
          if (row.removed_at !== null) {
            // A new id, so that nothing that held the old one (an application's cache) resolves to it.
            const userId = generateId();
            await db
              .updateTable('identity_users')
              .set({ ...columns, user_id: userId, created_at: at.toISOString(), removed_at: null })
              .where('user_id', '=', row.user_id)
              .execute();
            return { user: { ...user, userId, createdAt: at, provisionedAt: at }, change: 'reprovisioned', before: toUser(row) };
          }
          const previous = toUser(row);
          // The same text is the same record; the comparison of parsed records is the fallback.
          const unchanged = row.record_json === recordJson || sameRecord(previous, user);
          // Every column but the time derives from the record: an unchanged one only gets the time.
          await db
            .updateTable('identity_users')
            .set(unchanged ? { provisioned_at: columns.provisioned_at } : columns)
            .where('user_id', '=', previous.userId)
            .execute();
          const updated: IdentityUser = { ...user, userId: previous.userId, createdAt: previous.createdAt, provisionedAt: at };
          return { user: updated, change: unchanged ? 'unchanged' : 'updated', before: previous };
        } catch (error) {
          // A concurrent sign-in took the email between the check and the write.
          if (isUniqueViolation(error) && emailKey !== null) throw emailConflict(user, null);
          throw error;
        }
      }),

    remove: (userId, at = new Date()) =>
      translateStorageErrors('removing a user', async () => {
        const existing = await one(selectUsers().where('user_id', '=', userId));
        if (existing === undefined) return undefined;
        // The email is released with the record: another user may take it from now on.
        await db.updateTable('identity_users').set({ removed_at: at.toISOString(), email_key: null }).where('user_id', '=', userId).execute();
        return existing;
      }),

    setDirectoryState: (guid, state, at) =>
      translateStorageErrors('recording a user’s directory state', async () => {
        const result = await db
          .updateTable('identity_users')
          .set({ directory_state: state, directory_state_at: at.toISOString() })
          .where('guid', '=', guid.toLowerCase())
          .where('removed_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      }),

    directoryState: (guid) =>
      translateStorageErrors('reading a user’s directory state', async () => {
        const row = await db
          .selectFrom('identity_users')
          .select(['directory_state', 'directory_state_at'])
          .where('guid', '=', guid.toLowerCase())
          .where('removed_at', 'is', null)
          .executeTakeFirst();
        if (!row?.directory_state || !row.directory_state_at) return null;
        return { state: row.directory_state as DirectoryAccountState, at: new Date(row.directory_state_at) };
      }),

    syncedGuids: () =>
      translateStorageErrors('listing synced users', async () => {
        const rows = await db.selectFrom('identity_users').select('guid').where('removed_at', 'is', null).where('directory_state', 'is not', null).orderBy('guid').execute();
        return rows.map((r) => r.guid);
      }),

    removeAll: () =>
      translateStorageErrors('removing every user', async () => {
        const live = await db
          .selectFrom('identity_users')
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .where('removed_at', 'is', null)
          .executeTakeFirstOrThrow();
        await db.deleteFrom('identity_users').execute();
        return Number(live.n);
      }),
  };
}

function emailConflict(user: ProvisionedUser, holder: string | null): AppError {
  const email = user.emails[0]?.value ?? '';
  return new AppError('identity.email_conflict', `the email ${email} of ${user.userName} is already used by ${holder ?? 'another provisioned user'}; emails must be unique`, {
    status: 409,
    details: { email, userName: user.userName, holder },
  });
}

function sameRecord(existing: IdentityUser, next: ProvisionedUser): boolean {
  const stored: Partial<IdentityUser> = { ...existing };
  delete stored.userId;
  delete stored.createdAt;
  delete stored.provisionedAt;
  return JSON.stringify(stored) === JSON.stringify(next);
}

function toUser(row: Row): IdentityUser {
  let record: ProvisionedUser;
  try {
    record = JSON.parse(row.record_json) as ProvisionedUser;
  } catch (error) {
    throw new AppError('storage.corrupt_record', `identity user ${row.user_id}: the stored record is not JSON`, { cause: error });
  }
  return { ...record, userId: row.user_id, createdAt: new Date(row.created_at), provisionedAt: new Date(row.provisioned_at) };
}
