/**
 * Password hashing (scrypt, memory-hard, per-password salt, parameters kept in the hash) and the
 * domain password rules as AD applies them: length, complexity, history.
 */
import { randomBytes, randomInt, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParameters {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** 32 MiB per hash: OWASP's minimum for scrypt is N=2^17,r=8 (128 MiB); 2^15 keeps binds cheap on small hosts. */
export const defaultScryptParameters: ScryptParameters = { N: 2 ** 15, r: 8, p: 1 };

const keyLength = 32;

function scrypt(password: Buffer, salt: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  const options: ScryptOptions = { N: parameters.N, r: parameters.r, p: parameters.p, maxmem: 256 * parameters.N * parameters.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt$hash` (base64 without padding). */
export async function hashPassword(password: string, parameters: ScryptParameters = defaultScryptParameters): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(Buffer.from(password, 'utf8'), salt, parameters);
  return ['scrypt', parameters.N, parameters.r, parameters.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(key, 'base64url');
  const actual = await scrypt(Buffer.from(password, 'utf8'), Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  // scrypt keys HMAC with the password, and HMAC pads short keys with zeros: "pw" and "pw\0"
  // give the same hash. No real password holds NUL, so a password with one is simply wrong
  // (after paying the full cost, like any wrong password).
  return actual.length === expected.length && timingSafeEqual(actual, expected) && !password.includes('\0');
}

/**
 * A hash of a random password with the current parameters: verifying against it costs what a
 * real verification costs, so unknown users answer as slowly as wrong passwords.
 */
export function createDummyHash(parameters: ScryptParameters): Promise<string> {
  return hashPassword(randomBytes(16).toString('hex'), parameters);
}

/** unicodePwd carries the password in double quotes, UTF-16LE. Null when it is not in that form. */
export function decodeUnicodePwd(value: Buffer): string | null {
  if (value.length < 4 || value.length % 2 !== 0) return null;
  const text = value.toString('utf16le');
  if (!text.startsWith('"') || !text.endsWith('"')) return null;
  return text.slice(1, -1);
}

export function encodeUnicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}

export interface PasswordRules {
  minLength: number;
  complexity: boolean;
}

/**
 * AD's complexity rule: three of four categories (upper, lower, digit, other — non-ASCII letters
 * count as letters of their case, others as symbols), and not containing the sAMAccountName
 * when it is longer than two characters.
 */
export function passwordProblem(password: string, rules: PasswordRules, samAccountName: string | null): string | null {
  if ([...password].length < rules.minLength) return `the password is shorter than ${rules.minLength} characters`;
  if (!rules.complexity) return null;
  let categories = 0;
  if (/\p{Lu}/u.test(password)) categories += 1;
  if (/\p{Ll}/u.test(password)) categories += 1;
  if (/\p{Nd}/u.test(password)) categories += 1;
  if (/[^\p{L}\p{Nd}]/u.test(password)) categories += 1;
  if (categories < 3) return 'the password does not meet the complexity requirements';
  if (samAccountName && samAccountName.length > 2 && password.toLowerCase().includes(samAccountName.toLowerCase())) {
    return 'the password contains the account name';
  }
  return null;
}

/** A password that satisfies complexity, for RFC 3062 requests without a new password. */
export function generatePassword(length = 20): string {
  const sets = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '!#%+-.:=?@_'];
  const all = sets.join('');
  const chars = sets.map((set) => set[randomInt(set.length)] as string);
  while (chars.length < length) chars.push(all[randomInt(all.length)] as string);
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
