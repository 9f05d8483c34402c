import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent, AuditLog } from '#src/audit/index.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { isAppError } from '#src/shared/errors.ts';
import { createMappingSettings } from './mapping-settings.ts';
import { defaultMappings, identityCenterMappings } from './mappings.ts';

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

  it('keeps a table saved before the default changed; an instance that never saved one uses the new default', async () => {
    const saved = memorySettings();
    // What an earlier version stored when an administrator saved Identity Center's table.
    await saved.set('attribute_mappings', { ...identityCenterMappings }, new Date());
    assert.deepEqual(await createMappingSettings(saved, audit).current(), { table: identityCenterMappings, isDefault: false });
    assert.deepEqual(await createMappingSettings(memorySettings(), audit).current(), { table: defaultMappings, isDefault: true });
  });

  it('chooses a preset by name: identity-center is saved, default removes the stored table', async () => {
    const settings = memorySettings();
    const events: Array<{ action: string; details: unknown }> = [];
    const watched: AuditLog = { ...audit, record: (input) => (events.push({ action: input.action, details: input.details }), audit.record(input)) };
    const mappings = createMappingSettings(settings, watched);
    assert.deepEqual(await mappings.usePreset('identity-center', 'admin'), identityCenterMappings);
    assert.deepEqual(await mappings.current(), { table: identityCenterMappings, isDefault: false });
    assert.deepEqual(events.at(-1), { action: 'identity.mappings.saved', details: { before: defaultMappings, after: identityCenterMappings } });
    assert.deepEqual(await mappings.usePreset('default', 'admin'), defaultMappings);
    assert.deepEqual(await mappings.current(), { table: defaultMappings, isDefault: true });
    await assert.rejects(mappings.usePreset('okta', 'admin'), (error) => isAppError(error, 'identity.mapping_invalid') && /unknown preset "okta" \(known: default, identity-center\)/.test(error.message));
  });

  it('still refuses a stored table that is no longer valid', async () => {
    const settings = memorySettings();
    await settings.set('attribute_mappings', { email: '${dir:nope}' }, new Date());
    await assert.rejects(createMappingSettings(settings, audit).current(), (error) => isAppError(error, 'storage.corrupt_record'));
  });
});
