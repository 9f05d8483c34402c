/**
 * Instance settings an administrator changes at run time (attribute mappings, the identity
 * source). Values are JSON; each owner validates what it reads back.
 */
export interface SettingsStore {
  get(name: string): Promise<unknown>;
  set(name: string, value: unknown, at: Date): Promise<void>;
  remove(name: string): Promise<boolean>;
}

/**
 * The conditional writes several instances on one database need, so that two of them doing the
 * same thing at once do not overwrite each other: the first start's bootstrap token and signing
 * key, and signing-key rotation.
 */
export interface SharedSettingsStore extends SettingsStore {
  /** Stores `value` only when `name` has none; false when another writer was first. */
  create(name: string, value: unknown, at: Date): Promise<boolean>;
  /** Replaces `name` only while it still holds `expected` (compared as stored JSON); false otherwise. */
  replace(name: string, expected: unknown, value: unknown, at: Date): Promise<boolean>;
}
