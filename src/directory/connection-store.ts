/**
 * What the directory domain needs from storage to keep the connections administrators
 * configure. Implementations seal the service account's password with the instance secret box:
 * the plaintext password never reaches the database.
 *
 * Reading every connection (`list`) does not decrypt passwords; only `get`, which a caller uses
 * to actually connect, returns one.
 */
import type { DirectoryConnectionOptions } from './options.ts';

export interface DirectoryConnection {
  /** The administrator's name for the connection, unique per instance. */
  name: string;
  options: DirectoryConnectionOptions;
}

export interface StoredDirectoryConnection extends DirectoryConnection {
  id: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Connection options without the service account's password. */
export type DirectoryConnectionOptionsWithoutPassword = Omit<DirectoryConnectionOptions, 'serviceAccount'> & {
  serviceAccount: Omit<DirectoryConnectionOptions['serviceAccount'], 'password'>;
};

export interface DirectoryConnectionSummary {
  id: string;
  name: string;
  options: DirectoryConnectionOptionsWithoutPassword;
  createdAt: Date;
  updatedAt: Date;
}

export interface DirectoryConnectionStore {
  /** Creates the connection, or replaces the options of the one with the same name (keeping its id). */
  save(connection: DirectoryConnection): Promise<StoredDirectoryConnection>;
  /** The connection with its password, or undefined when no connection has that name. */
  get(name: string): Promise<StoredDirectoryConnection | undefined>;
  /** Every connection, ordered by name, without passwords. */
  list(): Promise<DirectoryConnectionSummary[]>;
  /** Deletes the connection; false when there was none with that name. */
  remove(name: string): Promise<boolean>;
}

/** Splits the password off the options, for storing them apart. */
export function withoutPassword(options: DirectoryConnectionOptions): {
  options: DirectoryConnectionOptionsWithoutPassword;
  password: string;
} {
  const { password, ...serviceAccount } = options.serviceAccount;
  return { options: { ...options, serviceAccount }, password };
}
