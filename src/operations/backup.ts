/**
 * `portico backup` and `portico restore`, host-local: a backup holds the instance key, which must
 * never travel over the admin API, and a restore replaces the database under a stopped server.
 * A backup is a directory (mode 0700):
 *
 *   manifest.json            what it holds (version, time, driver, migrations)
 *   portico.db               SQLite only: an online backup (consistent while the server runs)
 *   secret.key               the instance key, unless it comes from the configuration (secrets.key)
 *   managed-directory/       the managed directory's generated Administrator password and LDAP certificate
 *
 * With PostgreSQL the database itself is backed up with pg_dump (docs/operations.md): the key
 * and the files above must be kept with that dump, since sealed secrets need the key.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatabaseConfig } from '#src/config/index.ts';
import { SECRET_KEY_FILE } from '#src/secrets/index.ts';
import { AppError } from '#src/shared/errors.ts';
import { porticoVersion } from './version.ts';

export const BACKUP_FORMAT = 'portico-backup/1';
const DATABASE_FILE = 'portico.db';
const MANAGED_DIR = 'managed-directory';

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  porticoVersion: string;
  createdAt: string;
  database: { driver: 'sqlite'; file: string; migrations: string[] } | { driver: 'postgres'; note: string };
  /** 'file': secret.key is in the backup; 'configured': the key is secrets.key of the configuration (keep it with the backup). */
  key: 'file' | 'configured';
  /** SHA-256 of the key, to check at restore that the same key is in place (never the key itself). */
  keySha256: string | null;
  managedDirectoryFiles: string[];
}

export interface InstanceLocation {
  dataDir: string;
  database: DatabaseConfig;
  secrets: { key?: string | undefined };
}

/** Storage's online copy of a SQLite file (injected by app.ts: only storage opens databases). */
export type SqliteCopier = (source: string, destination: string) => Promise<{ migrations: string[] }>;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

const keyDigest = (keyText: string): string => createHash('sha256').update(Buffer.from(keyText.trim(), 'base64')).digest('hex');

async function managedFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name).sort();
  } catch {
    return [];
  }
}

export async function createBackup(instance: InstanceLocation, output: string, sqlite: SqliteCopier): Promise<BackupManifest> {
  if (await exists(output)) {
    if ((await readdir(output).catch(() => ['not a directory'])).length > 0) {
      throw new AppError('backup.target_exists', `${output} exists and is not empty: back up into a new directory`, { status: 409 });
    }
  }
  await mkdir(output, { recursive: true, mode: 0o700 });
  await chmod(output, 0o700);

  let database: BackupManifest['database'];
  if (instance.database.driver === 'sqlite') {
    const source = instance.database.sqlite.file;
    if (!(await exists(source))) throw new AppError('storage.unavailable', `there is no database at ${source}: nothing to back up`, { status: 503 });
    const { migrations } = await sqlite(source, join(output, DATABASE_FILE));
    await chmod(join(output, DATABASE_FILE), 0o600);
    database = { driver: 'sqlite', file: DATABASE_FILE, migrations };
  } else {
    database = { driver: 'postgres', note: 'the database is not in this directory: dump it with pg_dump (docs/operations.md) and keep the dump with this directory' };
  }

  let key: BackupManifest['key'];
  let keySha256: string | null = null;
  if (instance.secrets.key !== undefined) {
    key = 'configured';
    keySha256 = keyDigest(instance.secrets.key);
  } else {
    const keyFile = join(instance.dataDir, SECRET_KEY_FILE);
    let text: string;
    try {
      text = await readFile(keyFile, 'utf8');
    } catch {
      throw new AppError('secrets.key_unavailable', `the instance key ${keyFile} cannot be read: without it the backup's sealed secrets are useless`, { status: 500 });
    }
    await writeFile(join(output, SECRET_KEY_FILE), text, { mode: 0o600 });
    key = 'file';
    keySha256 = keyDigest(text);
  }

  const managedSource = join(instance.dataDir, MANAGED_DIR);
  const files = await managedFiles(managedSource);
  if (files.length > 0) {
    await mkdir(join(output, MANAGED_DIR), { mode: 0o700 });
    for (const file of files) {
      await copyFile(join(managedSource, file), join(output, MANAGED_DIR, file));
      await chmod(join(output, MANAGED_DIR, file), 0o600);
    }
  }

  const manifest: BackupManifest = { format: BACKUP_FORMAT, porticoVersion: porticoVersion(), createdAt: new Date().toISOString(), database, key, keySha256, managedDirectoryFiles: files };
  await writeFile(join(output, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}

async function readManifest(from: string): Promise<BackupManifest> {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(join(from, 'manifest.json'), 'utf8')) as BackupManifest;
  } catch {
    throw new AppError('backup.invalid', `${from} is not a Portico backup (no readable manifest.json)`, { status: 400 });
  }
  if (manifest.format !== BACKUP_FORMAT) throw new AppError('backup.invalid', `${from}: unknown backup format ${String(manifest.format)}`, { status: 400 });
  return manifest;
}

/**
 * Puts a backup in place of the configured instance. Run it with Portico stopped. An existing
 * database is replaced only with `force`; the instance key in place must be the backup's.
 */
export async function restoreBackup(instance: InstanceLocation, from: string, options: { force: boolean }): Promise<BackupManifest> {
  const manifest = await readManifest(from);
  if (manifest.database.driver !== instance.database.driver) {
    throw new AppError('backup.invalid', `the backup is of a ${manifest.database.driver} instance, the configuration names ${instance.database.driver}`, { status: 400 });
  }
  if (manifest.key === 'configured') {
    if (instance.secrets.key === undefined || keyDigest(instance.secrets.key) !== manifest.keySha256) {
      throw new AppError('backup.key_mismatch', 'the backed-up instance took its key from secrets.key: configure that same key before restoring', { status: 409 });
    }
  } else if (instance.secrets.key !== undefined && keyDigest(instance.secrets.key) !== manifest.keySha256) {
    throw new AppError('backup.key_mismatch', 'secrets.key in the configuration is not the backed-up instance key (secret.key in the backup): remove it or set it to that key', { status: 409 });
  }

  const targets: string[] = [];
  if (manifest.database.driver === 'sqlite' && instance.database.driver === 'sqlite') targets.push(instance.database.sqlite.file);
  if (manifest.key === 'file') targets.push(join(instance.dataDir, SECRET_KEY_FILE));
  const present = (await Promise.all(targets.map(async (t) => ((await exists(t)) ? t : null)))).filter((t): t is string => t !== null);
  if (present.length > 0 && !options.force) {
    throw new AppError('backup.target_exists', `${present.join(' and ')} already exist: stop Portico and pass --force to replace them`, { status: 409 });
  }

  await mkdir(instance.dataDir, { recursive: true, mode: 0o700 });
  if (manifest.database.driver === 'sqlite' && instance.database.driver === 'sqlite') {
    const file = instance.database.sqlite.file;
    // The old write-ahead log belongs to the old database: left beside the new one it would be replayed into it.
    for (const stale of [file, `${file}-wal`, `${file}-shm`]) await rm(stale, { force: true });
    await copyFile(join(from, manifest.database.file), file);
    await chmod(file, 0o600);
  }
  if (manifest.key === 'file') {
    await rm(join(instance.dataDir, SECRET_KEY_FILE), { force: true });
    await copyFile(join(from, SECRET_KEY_FILE), join(instance.dataDir, SECRET_KEY_FILE));
    await chmod(join(instance.dataDir, SECRET_KEY_FILE), 0o600);
  }
  if (manifest.managedDirectoryFiles.length > 0) {
    const dir = join(instance.dataDir, MANAGED_DIR);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const file of manifest.managedDirectoryFiles) {
      await rm(join(dir, file), { force: true });
      await copyFile(join(from, MANAGED_DIR, file), join(dir, file));
      await chmod(join(dir, file), 0o600);
    }
  }
  return manifest;
}
