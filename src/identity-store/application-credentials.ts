/**
 * Access keys Portico issues to integrated applications for its IdentityStore API. They have the
 * shape of AWS access keys (an id and a 40-character secret) so that AWS SDKs sign requests with
 * them unmodified. SigV4 needs the secret itself to recompute a signature, so storage seals it
 * (it cannot be hashed the way session tokens are); the secret is shown once, when issued.
 */
import { randomBytes } from 'node:crypto';

export interface ApplicationCredential {
  /** `PKIA` + 16 base32 characters: AWS's shape, with a prefix no AWS key has. */
  accessKeyId: string;
  /** What the key is for (the application's name); a label, not unique. */
  name: string;
  createdAt: Date;
  /** The last request it signed, to the minute: null when never used. */
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface IssuedApplicationCredential extends ApplicationCredential {
  /** Shown once: storage keeps it sealed and never hands it to a listing. */
  secretAccessKey: string;
}

export interface ApplicationCredentialStore {
  /** Issues a new key pair named `name`. */
  create(name: string): Promise<IssuedApplicationCredential>;
  /** The secret of a live key; undefined when the key is unknown or revoked. */
  getSecret(accessKeyId: string): Promise<string | undefined>;
  /** Every key, revoked ones included, oldest first; never the secrets. */
  list(): Promise<ApplicationCredential[]>;
  /** Revokes a key for good; false when it is unknown or already revoked. */
  revoke(accessKeyId: string): Promise<boolean>;
  /** Records that the key signed a request at `at`. */
  markUsed(accessKeyId: string, at: Date): Promise<void>;
}

export const ACCESS_KEY_PREFIX = 'PKIA';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const accessKeyPattern = /^PKIA[A-Z2-7]{16}$/;
export const MAX_CREDENTIAL_NAME_LENGTH = 128;

/** A new access key id: 80 random bits in base32, after the Portico prefix. */
export function newAccessKeyId(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `${ACCESS_KEY_PREFIX}${out}`;
}

/** A new secret access key: 240 random bits, 40 base64 characters like AWS's. */
export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64');
}

export function isAccessKeyId(value: string): boolean {
  return accessKeyPattern.test(value);
}

/** The reason a credential name is refused, or null when it is acceptable. */
export function credentialNameProblem(name: string): string | null {
  const trimmed = name.trim();
  if (trimmed.length === 0) return 'the name must not be empty';
  if (trimmed.length > MAX_CREDENTIAL_NAME_LENGTH) return `the name must be at most ${MAX_CREDENTIAL_NAME_LENGTH} characters`;
  // Control characters would corrupt listings in a terminal.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) return 'the name must not contain control characters';
  return null;
}
