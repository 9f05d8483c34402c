/**
 * One-time recovery codes: ten per person, 50 random bits each (10 base32 characters, shown as
 * `xxxxx-xxxxx`), stored only as an HMAC under a key derived from the instance key — enough
 * against a stolen database, since the codes are random and not guessable like passwords.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789'; // no 0/o, 1/l: read aloud and typed from paper

export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(10);
    const chars = [...bytes].map((byte) => ALPHABET[byte % 32]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** What a person typed, as stored: lower case, no separators; null when it cannot be a code. */
export function normaliseRecoveryCode(input: string): string | null {
  const code = input.toLowerCase().replace(/[\s-]/g, '');
  return /^[a-z0-9]{10}$/.test(code) ? code : null;
}

export function hashRecoveryCode(key: Uint8Array, code: string): string {
  return createHmac('sha256', key).update(normaliseRecoveryCode(code) ?? code).digest('base64url');
}
