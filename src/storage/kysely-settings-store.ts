import type { Kysely } from 'kysely';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database } from './tables.ts';

export function createKyselySettingsStore(db: Kysely<Database>): SettingsStore {
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
    remove: (name) =>
      translateStorageErrors(`removing the setting ${name}`, async () => {
        const result = await db.deleteFrom('settings').where('name', '=', name).executeTakeFirst();
        return result.numDeletedRows > 0n;
      }),
  };
}
