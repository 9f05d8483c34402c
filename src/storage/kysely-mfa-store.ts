/**
 * MfaStore on Kysely. TOTP secrets are sealed with the secret box, bound to the device id (a
 * sealed secret copied onto another device's row fails to open). Recovery codes arrive hashed.
 */
import { randomUUID } from 'node:crypto';
import { sql, SqliteAdapter, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { DeviceType, MfaDevice, MfaStore, WebAuthnCredential } from '#src/mfa/mfa-store.ts';
import type { SecretBox } from '#src/secrets/index.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database, MfaDevicesTable } from './tables.ts';

type Row = Selectable<MfaDevicesTable>;

const sealContext = (id: string): string => `mfa_devices:${id}`;

export function createKyselyMfaStore(db: Kysely<Database>, box: SecretBox): MfaStore {
  const isSqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  const select = () =>
    db.selectFrom('mfa_devices').select(['id', 'user_guid', 'type', 'name', 'secret_sealed', 'totp_last_step', 'credential_id', 'credential_json', 'confirmed_at', 'created_at', 'last_used_at']);

  return {
    listDevices: (userGuid) =>
      translateStorageErrors('listing MFA devices', async () => (await select().where('user_guid', '=', userGuid.toLowerCase()).orderBy('created_at').orderBy('id').execute()).map(toDevice)),

    getDevice: (id) =>
      translateStorageErrors('reading an MFA device', async () => {
        const row = await select().where('id', '=', id).executeTakeFirst();
        return row === undefined ? undefined : toDevice(row);
      }),

    findByCredentialId: (credentialId) =>
      translateStorageErrors('reading an MFA device', async () => {
        const row = await select().where('credential_id', '=', credentialId).executeTakeFirst();
        return row === undefined ? undefined : toDevice(row);
      }),

    addDevice: (device, at, { maxDevices, staleBefore }) =>
      translateStorageErrors('registering an MFA device', async () => {
        const userGuid = device.userGuid.toLowerCase();
        const id = randomUUID();
        const row: Insertable<MfaDevicesTable> & Row = {
          id,
          user_guid: userGuid,
          type: device.type,
          name: device.name,
          secret_sealed: device.totpSecret === undefined ? null : box.seal(device.totpSecret, sealContext(id)),
          totp_last_step: null,
          credential_id: device.credential?.id ?? null,
          credential_json: device.credential === undefined ? null : JSON.stringify(device.credential),
          confirmed_at: device.confirmed ? at.toISOString() : null,
          created_at: at.toISOString(),
          last_used_at: null,
        };
        const add = async (executor: Kysely<Database>): Promise<boolean> => {
          // An enrolment started and never confirmed does not hold a place for ever.
          await executor.deleteFrom('mfa_devices').where('user_guid', '=', userGuid).where('confirmed_at', 'is', null).where('created_at', '<', staleBefore.toISOString()).execute();
          // One statement: insert only while the person has fewer than maxDevices.
          const result = await sql`insert into mfa_devices (id, user_guid, type, name, secret_sealed, totp_last_step, credential_id, credential_json, confirmed_at, created_at, last_used_at)
            select ${row.id}, ${row.user_guid}, ${row.type}, ${row.name}, ${row.secret_sealed}, null, ${row.credential_id}, ${row.credential_json}, ${row.confirmed_at}, ${row.created_at}, null
            where (select count(*) from mfa_devices where user_guid = ${userGuid}) < ${maxDevices}`.execute(executor);
          return (result.numAffectedRows ?? 0n) > 0n;
        };
        // SQLite runs a statement under the database's write lock: the conditional insert is atomic
        // by itself (and a transaction held across awaits would block the other connections of
        // this process, better-sqlite3 being synchronous). PostgreSQL reads the count from the
        // statement's snapshot: there the person's lock row (migration 0016), upserted first in the
        // transaction, makes a second registration wait for this one and count what it added.
        const added = isSqlite
          ? await add(db)
          : await db.transaction().execute(async (tx) => {
              await tx
                .insertInto('mfa_user_locks')
                .values({ user_guid: userGuid, locked_at: at.toISOString() })
                .onConflict((oc) => oc.column('user_guid').doUpdateSet({ locked_at: at.toISOString() }))
                .execute();
              return add(tx);
            });
        return added ? toDevice(row) : false;
      }),

    confirmDevice: (id, at, name) =>
      translateStorageErrors('confirming an MFA device', async () => {
        const result = await db.updateTable('mfa_devices').set({ confirmed_at: at.toISOString(), ...(name === undefined ? {} : { name }) }).where('id', '=', id).where('confirmed_at', 'is', null).executeTakeFirst();
        return result.numUpdatedRows > 0n;
      }),

    totpSecret: (id) =>
      translateStorageErrors('reading a TOTP secret', async () => {
        const row = await db.selectFrom('mfa_devices').select('secret_sealed').where('id', '=', id).executeTakeFirst();
        return row?.secret_sealed == null ? undefined : box.open(row.secret_sealed, sealContext(id));
      }),

    claimTotpStep: (id, step, at) =>
      translateStorageErrors('recording a TOTP code', async () => {
        const result = await db
          .updateTable('mfa_devices')
          .set({ totp_last_step: step, last_used_at: at.toISOString() })
          .where('id', '=', id)
          .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      }),

    recordWebAuthnUse: (id, counter, backedUp, at) =>
      translateStorageErrors('recording a passkey use', async () => {
        const row = await db.selectFrom('mfa_devices').select('credential_json').where('id', '=', id).executeTakeFirst();
        if (row?.credential_json == null) return;
        const credential = { ...parseCredential(id, row.credential_json), counter, backedUp };
        await db.updateTable('mfa_devices').set({ credential_json: JSON.stringify(credential), last_used_at: at.toISOString() }).where('id', '=', id).execute();
      }),

    markUsed: (id, at) =>
      translateStorageErrors('recording a device use', async () => {
        await db.updateTable('mfa_devices').set({ last_used_at: at.toISOString() }).where('id', '=', id).execute();
      }),

    renameDevice: (userGuid, id, name) =>
      translateStorageErrors('renaming an MFA device', async () => {
        const result = await db.updateTable('mfa_devices').set({ name }).where('id', '=', id).where('user_guid', '=', userGuid.toLowerCase()).where('confirmed_at', 'is not', null).executeTakeFirst();
        return result.numUpdatedRows > 0n;
      }),

    removeDevice: (userGuid, id) =>
      translateStorageErrors('removing an MFA device', async () => {
        const result = await db.deleteFrom('mfa_devices').where('id', '=', id).where('user_guid', '=', userGuid.toLowerCase()).executeTakeFirst();
        return result.numDeletedRows > 0n;
      }),

    removeAll: (userGuid) =>
      translateStorageErrors('resetting MFA devices', async () => {
        const guid = userGuid.toLowerCase();
        await db.deleteFrom('mfa_recovery_codes').where('user_guid', '=', guid).execute();
        await db.deleteFrom('mfa_user_locks').where('user_guid', '=', guid).execute();
        const result = await db.deleteFrom('mfa_devices').where('user_guid', '=', guid).executeTakeFirst();
        return Number(result.numDeletedRows);
      }),

    replaceRecoveryCodes: (userGuid, hashes, at) =>
      translateStorageErrors('saving recovery codes', async () => {
        const guid = userGuid.toLowerCase();
        await db.deleteFrom('mfa_recovery_codes').where('user_guid', '=', guid).execute();
        if (hashes.length > 0) {
          await db
            .insertInto('mfa_recovery_codes')
            .values(hashes.map((code_hash) => ({ user_guid: guid, code_hash, created_at: at.toISOString(), used_at: null })))
            .execute();
        }
      }),

    consumeRecoveryCode: (userGuid, hash, at) =>
      translateStorageErrors('using a recovery code', async () => {
        const result = await db
          .updateTable('mfa_recovery_codes')
          .set({ used_at: at.toISOString() })
          .where('user_guid', '=', userGuid.toLowerCase())
          .where('code_hash', '=', hash)
          .where('used_at', 'is', null)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      }),

    unusedRecoveryCodes: (userGuid) =>
      translateStorageErrors('counting recovery codes', async () => {
        const { count } = await db
          .selectFrom('mfa_recovery_codes')
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .where('user_guid', '=', userGuid.toLowerCase())
          .where('used_at', 'is', null)
          .executeTakeFirstOrThrow();
        return Number(count);
      }),
  };
}

function parseCredential(id: string, json: string): WebAuthnCredential {
  try {
    return JSON.parse(json) as WebAuthnCredential;
  } catch (error) {
    throw new AppError('storage.corrupt_record', `MFA device ${id}: the credential is not JSON`, { cause: error });
  }
}

function toDevice(row: Row): MfaDevice {
  if (row.type !== 'totp' && row.type !== 'webauthn') throw new AppError('storage.corrupt_record', `MFA device ${row.id}: unknown type ${row.type}`);
  return {
    id: row.id,
    userGuid: row.user_guid,
    type: row.type satisfies DeviceType,
    name: row.name,
    confirmed: row.confirmed_at !== null,
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
    credential: row.credential_json === null ? null : parseCredential(row.id, row.credential_json),
  };
}
