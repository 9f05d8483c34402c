/**
 * Secrets at rest: values Portico must be able to read back (a directory service account's
 * password) are sealed with AES-256-GCM under the instance key before they reach storage.
 *
 * Sealed format, all parts base64url: `v1.<iv>.<tag>.<ciphertext>`. The version prefix lets a
 * later format (key ids for rotation, another cipher) coexist with rows written by this one.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '#src/shared/errors.ts';

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
export const SECRET_KEY_BYTES = 32;
// 96-bit IVs are GCM's native size; random ones are safe far beyond the number of secrets we seal.
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretBox {
  /**
   * Encrypts `plaintext`. `context` (optional) is authenticated but not stored: the value only
   * opens again with the same context, so a sealed value copied to another record fails.
   */
  seal(plaintext: string, context?: string): string;
  /** Decrypts a value from `seal`; throws `secrets.decrypt_failed` when it was altered or the key differs. */
  open(sealed: string, context?: string): string;
}

/**
 * @example
 * const box = createSecretBox(key);
 * const sealed = box.seal('hunter2', 'directory_connections:corp');
 * box.open(sealed, 'directory_connections:corp'); // 'hunter2'
 */
export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== SECRET_KEY_BYTES) {
    throw new AppError('secrets.key_invalid', `the secret key must be ${SECRET_KEY_BYTES} bytes, got ${key.length}`);
  }
  // Private copy: a caller zeroing or reusing its buffer must not change this box's key.
  const ownKey = Buffer.from(key);

  return {
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, ownKey, iv, { authTagLength: TAG_BYTES });
      if (context !== undefined) cipher.setAAD(Buffer.from(context, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, ...[iv, tag, ciphertext].map((part) => part.toString('base64url'))].join('.');
    },

    open(sealed, context) {
      const parts = sealed.split('.');
      const [version, ivText, tagText, ciphertextText] = parts;
      if (parts.length !== 4 || version !== VERSION || ivText === undefined || tagText === undefined || ciphertextText === undefined) {
        throw decryptFailed();
      }
      const iv = Buffer.from(ivText, 'base64url');
      const tag = Buffer.from(tagText, 'base64url');
      // Length checks matter: GCM would otherwise accept a truncated tag and weaken authentication.
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw decryptFailed();
      try {
        const decipher = createDecipheriv(ALGORITHM, ownKey, iv, { authTagLength: TAG_BYTES });
        decipher.setAuthTag(tag);
        if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'));
        return Buffer.concat([decipher.update(Buffer.from(ciphertextText, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        // OpenSSL's message says nothing useful and the cause is not kept: the decrypted bytes of
        // a failed open must not travel with the error.
        throw decryptFailed();
      }
    },
  };
}

function decryptFailed(): AppError {
  return new AppError(
    'secrets.decrypt_failed',
    'a stored secret could not be decrypted: it was altered, or it was sealed with another secret key',
  );
}
