import type { Kysely } from 'kysely';
import type { SharedSettingsStore } from '#src/settings/settings-store.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database } from './tables.ts';

export function createKyselySettingsStore(db: Kysely<Database>): SharedSettingsStore {
  return {
    get: (name) =>
      translateStorageErrors(`reading the setting ${name}`, async () => {
        const row = await db.selectFrom('settings').select('value_json').where('name', '=', name).executeTakeFirst();
        if (row === undefined) return undefined;
        try {
          return JSON.parse(row.value_json) as unknown;
        } catch (error) {
          throw new AppError('storage.corrupt_record', `the setting ${name} is not JSON`, { cause: error });
        }
      }),
    set: (name, value, at) =>
      translateStorageErrors(`saving the setting ${name}`, async () => {
        const changes = { value_json: JSON.stringify(value), updated_at: at.toISOString() };
        await db
          .insertInto('settings')
          .values({ name, ...changes })
          .onConflict((conflict) => conflict.column('name').doUpdateSet(changes))
          .execute();
      }),
    create: (name, value, at) =>
      translateStorageErrors(`creating the setting ${name}`, async () => {
        const result = await db
          .insertInto('settings')
          .values({ name, value_json: JSON.stringify(value), updated_at: at.toISOString() })
          .onConflict((conflict) => conflict.column('name').doNothing())
          .executeTakeFirst();
        return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
      }),
    // Compared on the stored text: JSON.stringify of what get() parsed gives the same text back.
    replace: (name, expected, value, at) =>
      translateStorageErrors(`replacing the setting ${name}`, async () => {
        const result = await db
          .updateTable('settings')
          .set({ value_json: JSON.stringify(value), updated_at: at.toISOString() })
          .where('name', '=', name)
          .where('value_json', '=', JSON.stringify(expected))
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      }),
    remove: (name) =>
      translateStorageErrors(`removing the setting ${name}`, async () => {
        const result = await db.deleteFrom('settings').where('name', '=', name).executeTakeFirst();
        return result.numDeletedRows > 0n;
      }),
  };
}
