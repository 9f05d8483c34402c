/**
 * Instance settings an administrator changes at run time (attribute mappings, the identity
 * source). Values are JSON; each owner validates what it reads back.
 */
export interface SettingsStore {
  get(name: string): Promise<unknown>;
  set(name: string, value: unknown, at: Date): Promise<void>;
  remove(name: string): Promise<boolean>;
}
