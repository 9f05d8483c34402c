/**
 * The instance's secret key: from the configuration when an operator provides one, otherwise a
 * key file in the data directory, generated on first start and reused afterwards. Losing the key
 * makes every sealed secret unreadable, so the caller should tell the operator to back it up
 * when `origin` is 'generated'.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '#src/shared/errors.ts';
import { SECRET_KEY_BYTES } from './secret-box.ts';

export const SECRET_KEY_FILE = 'secret.key';

export interface SecretKeySettings {
  dataDir: string;
  secrets: { key?: string | undefined };
}

export interface LoadedSecretKey {
  key: Buffer;
  /** 'config': from `secrets.key`; 'file': an existing key file; 'generated': created just now. */
  origin: 'config' | 'file' | 'generated';
  /** The key file, unless the key came from the configuration. */
  file?: string;
}

/** Whether `text` is a usable key: base64 (or base64url) of exactly 32 bytes. */
export function isSecretKeyText(text: string): boolean {
  const trimmed = text.trim();
  // Buffer.from skips invalid characters silently; the regex makes a typo an error instead.
  return /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed) && Buffer.from(trimmed, 'base64').length === SECRET_KEY_BYTES;
}

/** Decodes a key checked by `isSecretKeyText`; the error names `where`, never the value. */
export function decodeSecretKey(text: string, where: string): Buffer {
  if (!isSecretKeyText(text)) {
    throw new AppError(
      'secrets.key_invalid',
      `${where}: the secret key must be ${SECRET_KEY_BYTES} random bytes in base64 (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  return Buffer.from(text.trim(), 'base64');
}

/**
 * @example
 * const { key, origin, file } = await loadOrCreateSecretKey(config);
 * if (origin === 'generated') logger.warn({ file }, 'generated a new secret key; back it up');
 */
export async function loadOrCreateSecretKey(settings: SecretKeySettings): Promise<LoadedSecretKey> {
  if (settings.secrets.key !== undefined) {
    return { key: decodeSecretKey(settings.secrets.key, 'secrets.key'), origin: 'config' };
  }
  const file = join(settings.dataDir, SECRET_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing) return { key: existing, origin: 'file', file };

  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw keyUnavailable(`cannot create the data directory ${settings.dataDir}`, error);
  });
  const key = randomBytes(SECRET_KEY_BYTES);
  const created = await writeKeyFileExclusively(file, key);
  if (created) return { key, origin: 'generated', file };
  // Another process created the file between our read and our write: use its key, not ours.
  const raced = await readKeyFile(file);
  if (!raced) throw keyUnavailable(`the key file ${file} vanished while it was being created`);
  return { key: raced, origin: 'file', file };
}

async function readKeyFile(file: string): Promise<Buffer | undefined> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw keyUnavailable(`cannot read the key file ${file}`, error);
  }
  // Like ssh with private keys: a key others can read is refused rather than silently used.
  if ((mode & 0o077) !== 0) {
    throw new AppError(
      'secrets.key_file_insecure',
      `the key file ${file} is accessible to other users (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw keyUnavailable(`cannot read the key file ${file}`, error);
  });
  return decodeSecretKey(text, file);
}

/**
 * Writes the key to a private temporary file, then links it into place: `link` fails when the
 * target exists, so concurrent first starts agree on one key and nobody reads a half-written file.
 */
async function writeKeyFileExclusively(file: string, key: Buffer): Promise<boolean> {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(`${key.toString('base64')}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    // The creation mode is filtered by the umask; make 0600 explicit.
    await chmod(temporary, 0o600);
    await link(temporary, file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw keyUnavailable(`cannot create the key file ${file}`, error);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

function keyUnavailable(message: string, cause?: unknown): AppError {
  const code = errorCode(cause);
  return new AppError('secrets.key_unavailable', code ? `${message} (${code})` : message, { cause });
}

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}
