import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent, AuditLog } from '#src/audit/index.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { isAppError } from '#src/shared/errors.ts';
import { createMappingSettings } from './mapping-settings.ts';
import { defaultMappings } from './mappings.ts';

/** Settings as a shared database holds them: what one instance writes, another reads. */
function memorySettings(): SettingsStore & { reads: number } {
  const values = new Map<string, string>();
  const store = {
    reads: 0,
    get(name: string) {
      store.reads += 1;
      const json = values.get(name);
      return Promise.resolve(json === undefined ? undefined : (JSON.parse(json) as unknown));
    },
    set(name: string, value: unknown) {
      values.set(name, JSON.stringify(value));
      return Promise.resolve();
    },
    remove: (name: string) => Promise.resolve(values.delete(name)),
  };
  return store;
}

const audit: AuditLog = {
  record: (input) => Promise.resolve({ id: 'e', occurredAt: new Date(0), target: null, errorCode: null, details: {}, ...input } as AuditEvent),
  list: () => Promise.resolve([]),
};

describe('mapping settings', () => {
  it('reads the stored table at every call, and validates it again only when it changed', async () => {
    const settings = memorySettings();
    const mine = createMappingSettings(settings, audit);
    const other = createMappingSettings(settings, audit);

    const initial = await mine.current();
    assert.deepEqual(initial, { table: defaultMappings, isDefault: true });
    assert.ok(Object.isFrozen(initial.table), 'the table handed out cannot be changed by one caller for the others');

    await other.save({ ...defaultMappings, middleName: '${dir:initials|""}' }, 'admin');
    const saved = await mine.current();
    assert.equal(saved.isDefault, false);
    assert.equal(saved.table.middleName, '${dir:initials|""}', "another instance's save applies at the next read");
    assert.ok(Object.isFrozen(saved.table));
    const reads = settings.reads;
    assert.equal((await mine.current()).table, saved.table, 'an unchanged table is not validated again');
    assert.equal(settings.reads, reads + 1, 'but it is read');

    await other.reset('admin');
    assert.deepEqual(await mine.current(), { table: defaultMappings, isDefault: true });
  });

  it('still refuses a stored table that is no longer valid', async () => {
    const settings = memorySettings();
    await settings.set('attribute_mappings', { email: '${dir:nope}' }, new Date());
    await assert.rejects(createMappingSettings(settings, audit).current(), (error) => isAppError(error, 'storage.corrupt_record'));
  });
});
