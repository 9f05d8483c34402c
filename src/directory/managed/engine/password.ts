/**
 * Password hashing and the domain password rules as AD applies them: length, complexity, history.
 *
 * New passwords are hashed with Argon2id (RFC 9106) at OWASP's recommended parameters by default
 * (m=19 MiB, t=2, p=1), stored as the PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash) so each hash
 * carries its own parameters. Hashes written before issue 21 are scrypt (N=2^15, r=8, p=1, our own
 * `scrypt$N$r$p$salt$hash`); they keep verifying and the engine re-hashes them to Argon2id on the
 * next successful bind (`needsRehash`). Verifications run on libuv's thread pool (the library's
 * async API), at most `maxConcurrent` at a time (the cores by default): Argon2id takes its memory
 * per verification, so a password-spraying burst waits in a queue instead of allocating 19 MiB per
 * attempt at once, and the thread pool keeps room for the file system and DNS work.
 */
import { availableParallelism } from 'node:os';
import { randomBytes, randomInt, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { hash as argon2Hash, parseOptions as argon2ParseOptions, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';

/** Algorithm.Argon2id: the package's enum is a `const enum`, which this project's isolated modules cannot read. */
const argon2id = 2 as Algorithm;

export interface Argon2Parameters {
  /** Memory per hash in KiB (m). */
  memoryKiB: number;
  /** Passes over the memory (t). */
  timeCost: number;
  /** Lanes (p). */
  parallelism: number;
}

/** OWASP Password Storage Cheat Sheet: Argon2id with m=19 MiB, t=2, p=1. */
export const owaspArgon2Parameters: Readonly<Argon2Parameters> = { memoryKiB: 19 * 1024, timeCost: 2, parallelism: 1 };

/** Configuration ceilings (managedDirectory.passwordHashing), so that a typo cannot make every bind take a gigabyte or a minute. */
export const maxArgon2Parameters: Readonly<Argon2Parameters> = { memoryKiB: 1024 * 1024, timeCost: 20, parallelism: 16 };

export interface ScryptParameters {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** What hashes written before issue 21 used: 32 MiB, below OWASP's minimum for scrypt (N=2^17). */
export const legacyScryptParameters: Readonly<ScryptParameters> = { N: 2 ** 15, r: 8, p: 1 };

const scryptKeyLength = 32;

function scrypt(password: Buffer, salt: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  const options: ScryptOptions = { N: parameters.N, r: parameters.r, p: parameters.p, maxmem: 256 * parameters.N * parameters.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, scryptKeyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt$hash` (base64 without padding): the pre-issue-21 format, for tests and the benchmark's "before". */
export async function hashPasswordScrypt(password: string, parameters: ScryptParameters = legacyScryptParameters): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(Buffer.from(password, 'utf8'), salt, parameters);
  return ['scrypt', parameters.N, parameters.r, parameters.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

async function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6) return false;
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(key, 'base64url');
  const actual = await scrypt(Buffer.from(password, 'utf8'), Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Argon2id PHC string with a fresh 16-byte salt. */
export function hashPassword(password: string, parameters: Argon2Parameters = owaspArgon2Parameters): Promise<string> {
  return argon2Hash(password, { algorithm: argon2id, memoryCost: parameters.memoryKiB, timeCost: parameters.timeCost, parallelism: parameters.parallelism });
}

/** Verifies against an Argon2id PHC string or a legacy scrypt hash; false for anything else. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  let correct: boolean;
  if (stored.startsWith('$argon2id$')) correct = await argon2Verify(stored, password).catch(() => false);
  else if (stored.startsWith('scrypt$')) correct = await verifyScrypt(password, stored);
  else return false;
  // scrypt keys HMAC with the password, and HMAC pads short keys with zeros: "pw" and "pw\0" give
  // the same scrypt hash (commit d8f7793). Argon2id hashes the password's length too, so it tells
  // them apart by itself; the rule stays for both: no real password holds NUL, so a password with
  // one is simply wrong (after paying the full cost, like any wrong password).
  return correct && !password.includes('\0');
}

/** True when the stored hash is not Argon2id at (at least) these parameters: re-hash it after a successful bind. */
export function needsRehash(stored: string, parameters: Argon2Parameters): boolean {
  if (!stored.startsWith('$argon2id$')) return true;
  try {
    const used = argon2ParseOptions(stored);
    return used.memoryCost < parameters.memoryKiB || used.timeCost < parameters.timeCost || used.parallelism < parameters.parallelism;
  } catch {
    return true;
  }
}

/** The algorithm of a stored hash, for audit records: 'argon2id', 'scrypt' or 'unknown'. */
export function hashAlgorithm(stored: string): 'argon2id' | 'scrypt' | 'unknown' {
  if (stored.startsWith('$argon2id$')) return 'argon2id';
  if (stored.startsWith('scrypt$')) return 'scrypt';
  return 'unknown';
}

/** At most `limit` tasks at once; the others wait in arrival order. */
export interface ConcurrencyGate {
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly limit: number;
  readonly active: number;
  readonly queued: number;
  /** The most tasks that ever ran at once. */
  readonly peak: number;
}

export function createConcurrencyGate(limit: number): ConcurrencyGate {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  let active = 0;
  let peak = 0;
  const waiting: Array<() => void> = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active -= 1;
  };
  return {
    async run(task) {
      if (active < limit) active += 1;
      // The slot passes straight from the finishing task to the next waiter (active unchanged).
      else await new Promise<void>((resolve) => waiting.push(resolve));
      peak = Math.max(peak, active);
      try {
        return await task();
      } finally {
        release();
      }
    },
    limit,
    get active() {
      return active;
    },
    get queued() {
      return waiting.length;
    },
    get peak() {
      return peak;
    },
  };
}

export interface PasswordHasherOptions {
  /** Argon2id parameters for new hashes and the dummy hash (default OWASP's; the engine does not police them, the configuration does). */
  argon2?: Argon2Parameters;
  /** Hash and verification runs at once; the rest queue (default: the cores, os.availableParallelism()). */
  maxConcurrent?: number;
  /**
   * The pre-issue-21 behaviour, for the benchmark's "before" only: new hashes are scrypt at
   * `legacyScryptParameters`, nothing is re-hashed, nothing is gated.
   */
  legacyScrypt?: boolean;
}

/** How the engine hashes and verifies passwords. */
export interface PasswordHasher {
  hash: (password: string) => Promise<string>;
  verify: (password: string, stored: string) => Promise<boolean>;
  /** A hash of a random password at the current parameters (made once): verifying an unknown name against it costs what a real verification costs. */
  dummyHash: () => Promise<string>;
  needsRehash: (stored: string) => boolean;
  readonly gate: ConcurrencyGate;
  readonly description: string;
}

export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const parameters = options.argon2 ?? owaspArgon2Parameters;
  const gate = createConcurrencyGate(options.legacyScrypt ? Number.MAX_SAFE_INTEGER : (options.maxConcurrent ?? availableParallelism()));
  const hashOne = (password: string): Promise<string> => (options.legacyScrypt ? hashPasswordScrypt(password) : hashPassword(password, parameters));
  let dummy: Promise<string> | null = null;
  const dummyHash = (): Promise<string> => (dummy ??= gate.run(() => hashOne(randomBytes(16).toString('hex'))));
  return {
    hash: (password) => gate.run(() => hashOne(password)),
    verify: (password, stored) => gate.run(() => verifyPassword(password, stored)),
    dummyHash,
    needsRehash: (stored) => !options.legacyScrypt && needsRehash(stored, parameters),
    gate,
    description: options.legacyScrypt
      ? `scrypt N=${legacyScryptParameters.N}, r=${legacyScryptParameters.r}, p=${legacyScryptParameters.p} (legacy, ungated)`
      : `Argon2id m=${parameters.memoryKiB} KiB, t=${parameters.timeCost}, p=${parameters.parallelism}, at most ${gate.limit} at once`,
  };
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
