/**
 * The instance's attribute mappings: Portico's default table (mappings.ts) until an administrator
 * saves another. An instance that never saved a table follows the default of the version it runs;
 * a saved table (a preset included) is kept as saved. Read at every sign-in (one keyed row), so a change made by the CLI or another
 * instance applies to a running server at the next sign-in; only the validation is skipped while
 * the stored table is the one last validated.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import { defaultMappings, mappingPresetNames, mappingPresets, validateMappings, type MappingTable } from './mappings.ts';

const settingName = 'attribute_mappings';

export interface MappingSettings {
  current(): Promise<{ table: MappingTable; isDefault: boolean }>;
  /** Validates and saves a whole table (the targets it omits are no longer mapped). */
  save(table: Record<string, unknown>, actor: string): Promise<MappingTable>;
  /** Back to the default table (the stored table is removed, so later defaults apply). */
  reset(actor: string): Promise<MappingTable>;
  /** A named table: `default` is `reset`; any other is saved as a table of its own. */
  usePreset(name: string, actor: string): Promise<MappingTable>;
}

export function createMappingSettings(settings: SettingsStore, audit: AuditLog, clock: () => Date = () => new Date()): MappingSettings {
  /**
   * The last stored table validated, by its JSON. The table is frozen, so that the mapping engine
   * may keep it compiled (see `compiled` in mappings.ts) and no caller can change it under others.
   */
  let validated: { json: string; table: MappingTable } | null = null;
  const defaultTable: MappingTable = Object.freeze({ ...defaultMappings });

  async function current(): Promise<{ table: MappingTable; isDefault: boolean }> {
    const stored = await settings.get(settingName);
    if (stored === undefined) return { table: defaultTable, isDefault: true };
    if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) {
      throw new AppError('storage.corrupt_record', 'the stored attribute mappings are not an object');
    }
    const json = JSON.stringify(stored);
    if (validated?.json === json) return { table: validated.table, isDefault: false };
    try {
      const table = Object.freeze(validateMappings(stored as Record<string, unknown>));
      validated = { json, table };
      return { table, isDefault: false };
    } catch (error) {
      if (!isAppError(error, 'identity.mapping_invalid')) throw error;
      throw new AppError('storage.corrupt_record', `the stored attribute mappings are no longer valid: ${error.message}`, { cause: error });
    }
  }

  async function write(table: MappingTable | null, actor: string): Promise<MappingTable> {
    const before = (await current()).table;
    if (table === null) await settings.remove(settingName);
    else await settings.set(settingName, table, clock());
    const after = table ?? defaultTable;
    await audit.record({ actor, action: 'identity.mappings.saved', target: null, outcome: 'success', details: { before, after } });
    return after;
  }

  return {
    current,
    async save(input, actor) {
      let table: MappingTable;
      try {
        table = validateMappings(input);
      } catch (error) {
        if (isAppError(error)) await audit.record({ actor, action: 'identity.mappings.saved', outcome: 'failure', errorCode: error.code, details: { reason: error.message } });
        throw error;
      }
      if (Object.keys(table).length === 0) throw new AppError('identity.mapping_invalid', 'at least one attribute must be mapped', { status: 400 });
      return write(table, actor);
    },
    reset: (actor) => write(null, actor),
    async usePreset(name, actor) {
      if (!Object.hasOwn(mappingPresets, name)) {
        throw new AppError('identity.mapping_invalid', `unknown preset "${name.slice(0, 100)}" (known: ${mappingPresetNames.join(', ')})`, { status: 400 });
      }
      if (name === 'default') return write(null, actor);
      return write(validateMappings({ ...mappingPresets[name as keyof typeof mappingPresets] }), actor);
    },
  };
}
