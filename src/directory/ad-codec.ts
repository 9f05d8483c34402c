/**
 * Pure decoding of Active Directory's binary and numeric encodings: objectGUID, objectSid,
 * FILETIME timestamps, userAccountControl flags, and the account state they imply together.
 * No I/O here, so every rule is unit-testable with a frozen clock.
 */

/** objectGUID's string form: the first three fields are little-endian on the wire. */
export function guidToString(bytes: Buffer): string {
  if (bytes.length !== 16) throw new RangeError(`objectGUID must be 16 bytes, got ${bytes.length}`);
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Array.from(bytes.subarray(from, to));
    return (reverse ? part.reverse() : part).map((b) => b.toString(16).padStart(2, '0')).join('');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-');
}

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return guidPattern.test(value);
}

export function guidToBytes(guid: string): Buffer {
  if (!isGuid(guid)) throw new RangeError('not a GUID');
  const hex = guid.replace(/-/g, '');
  const bytes = Buffer.from(hex, 'hex');
  // Undo the little-endian layout of the first three fields.
  bytes.subarray(0, 4).reverse();
  bytes.subarray(4, 6).reverse();
  bytes.subarray(6, 8).reverse();
  return bytes;
}

/** objectSid's string form S-R-I-S1-S2…: authority is 48-bit big-endian, sub-authorities 32-bit little-endian. */
export function sidToString(bytes: Buffer): string {
  if (bytes.length < 8) throw new RangeError('objectSid is too short');
  const revision = bytes.readUInt8(0);
  const count = bytes.readUInt8(1);
  if (bytes.length !== 8 + count * 4) throw new RangeError('objectSid length does not match its sub-authority count');
  const authority = bytes.readUIntBE(2, 6);
  const parts = [`S-${revision}-${authority}`];
  for (let i = 0; i < count; i += 1) parts.push(String(bytes.readUInt32LE(8 + i * 4)));
  return parts.join('-');
}

export function sidToBytes(sid: string): Buffer {
  const match = /^S-(\d+)-(\d+)((?:-\d+)*)$/i.exec(sid);
  if (!match) throw new RangeError('not a SID');
  const subs = (match[3] ?? '').split('-').filter(Boolean).map(Number);
  if (subs.length > 15 || subs.some((s) => s > 0xffffffff)) throw new RangeError('not a SID');
  const bytes = Buffer.alloc(8 + subs.length * 4);
  bytes.writeUInt8(Number(match[1]), 0);
  bytes.writeUInt8(subs.length, 1);
  bytes.writeUIntBE(Number(match[2]), 2, 6);
  subs.forEach((sub, i) => bytes.writeUInt32LE(sub, 8 + i * 4));
  return bytes;
}

/** FILETIME: 100-nanosecond intervals since 1601-01-01 UTC. */
const filetimeEpochOffsetMs = 11_644_473_600_000n;
export const filetimeNever = 0x7fffffffffffffffn;

export function filetimeToDate(value: bigint): Date {
  return new Date(Number(value / 10_000n - filetimeEpochOffsetMs));
}

export function dateToFiletime(date: Date): bigint {
  return (BigInt(date.getTime()) + filetimeEpochOffsetMs) * 10_000n;
}

/** accountExpires: both 0 and 0x7FFFFFFFFFFFFFFF mean "never". */
export function accountExpiryFrom(raw: string | undefined): Date | null {
  if (raw === undefined || raw === '') return null;
  const value = BigInt(raw);
  if (value === 0n || value === filetimeNever) return null;
  return filetimeToDate(value);
}

/** Generalized time as AD writes it: 20261126140000.0Z. */
export function generalizedTimeToDate(raw: string | undefined): Date | null {
  const match = raw ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(raw) : null;
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

export const userAccountControl = {
  accountDisabled: 0x2,
  lockout: 0x10,
  passwordNotRequired: 0x20,
  normalAccount: 0x200,
  dontExpirePassword: 0x10000,
  smartcardRequired: 0x40000,
  passwordExpired: 0x800000,
} as const;

export const groupTypeFlags = {
  builtinLocal: 0x1,
  global: 0x2,
  domainLocal: 0x4,
  universal: 0x8,
  security: 0x80000000,
} as const;

export type GroupKind = 'security' | 'distribution';
export type GroupScope = 'global' | 'domainLocal' | 'universal' | 'builtinLocal';

export function decodeGroupType(raw: string | undefined): { kind: GroupKind; scope: GroupScope } {
  // groupType is a signed 32-bit integer on the wire; the security bit is its sign bit.
  const value = Number(raw ?? 0) >>> 0;
  const kind: GroupKind = value & groupTypeFlags.security ? 'security' : 'distribution';
  const scope: GroupScope =
    value & groupTypeFlags.universal
      ? 'universal'
      : value & groupTypeFlags.domainLocal
        ? 'domainLocal'
        : value & groupTypeFlags.builtinLocal
          ? 'builtinLocal'
          : 'global';
  return { kind, scope };
}

/** What stands between a person and a successful sign-in, as AD sees the account. */
export type AccountState = 'ok' | 'disabled' | 'locked' | 'expired' | 'mustChangePassword' | 'passwordExpired';

/** Domain-wide policy values (negative 100 ns intervals on the domain object), when readable. */
export interface DomainPasswordPolicy {
  /** Lockout duration in ms; null means "until an administrator unlocks". */
  lockoutDurationMs: number | null;
  /** Maximum password age in ms; null means passwords never expire. */
  maxPasswordAgeMs: number | null;
}

export interface AccountStateAttributes {
  userAccountControl?: string | undefined;
  'msDS-User-Account-Control-Computed'?: string | undefined;
  lockoutTime?: string | undefined;
  accountExpires?: string | undefined;
  pwdLastSet?: string | undefined;
}

export interface AccountStateReport {
  state: AccountState;
  /** Every condition that holds, in the order a sign-in meets them. */
  conditions: AccountState[];
  accountExpires: Date | null;
  passwordLastSet: Date | null;
  lockedOutAt: Date | null;
}

/** Policy intervals are stored as negative 100 ns counts; 0x8000000000000000 means "forever". */
export function policyIntervalMs(raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return null;
  const value = BigInt(raw);
  if (value === 0n || value === -0x8000000000000000n) return null;
  const abs = value < 0n ? -value : value;
  return Number(abs / 10_000n);
}

/**
 * The account's state from its attributes. msDS-User-Account-Control-Computed is authoritative
 * for lockout and password expiry where the server provides it (it applies fine-grained password
 * policies); otherwise they are computed from lockoutTime/pwdLastSet and the domain policy.
 */
export function decodeAccountState(
  attributes: AccountStateAttributes,
  policy: DomainPasswordPolicy | null,
  now: Date,
): AccountStateReport {
  const uac = Number(attributes.userAccountControl ?? 0);
  const computedRaw = attributes['msDS-User-Account-Control-Computed'];
  const computed = computedRaw === undefined ? null : Number(computedRaw);
  const accountExpires = accountExpiryFrom(attributes.accountExpires);
  const pwdLastSetRaw = attributes.pwdLastSet === undefined ? null : BigInt(attributes.pwdLastSet);
  const passwordLastSet = pwdLastSetRaw && pwdLastSetRaw > 0n ? filetimeToDate(pwdLastSetRaw) : null;
  const lockoutRaw = attributes.lockoutTime ? BigInt(attributes.lockoutTime) : 0n;
  const lockedOutAt = lockoutRaw > 0n ? filetimeToDate(lockoutRaw) : null;
  const neverExpires = (uac & userAccountControl.dontExpirePassword) !== 0;

  const locked =
    computed !== null
      ? (computed & userAccountControl.lockout) !== 0
      : lockedOutAt !== null &&
        (policy?.lockoutDurationMs == null || now.getTime() < lockedOutAt.getTime() + policy.lockoutDurationMs);

  const mustChange = pwdLastSetRaw === 0n && !neverExpires;
  const passwordExpired =
    !mustChange &&
    (computed !== null
      ? (computed & userAccountControl.passwordExpired) !== 0
      : !neverExpires &&
        passwordLastSet !== null &&
        policy?.maxPasswordAgeMs != null &&
        now.getTime() >= passwordLastSet.getTime() + policy.maxPasswordAgeMs);

  const conditions: AccountState[] = [];
  if (uac & userAccountControl.accountDisabled) conditions.push('disabled');
  if (locked) conditions.push('locked');
  if (accountExpires && accountExpires.getTime() <= now.getTime()) conditions.push('expired');
  if (mustChange) conditions.push('mustChangePassword');
  if (passwordExpired) conditions.push('passwordExpired');
  return { state: conditions[0] ?? 'ok', conditions, accountExpires, passwordLastSet, lockedOutAt };
}

/** The outcome of a bind with a person's password, in the vocabulary of the sign-in flow. */
export type BindOutcome = AccountState | 'invalidCredentials' | 'notPermitted';

/**
 * AD puts a Win32 error in the diagnostic message of a failed bind ("… data 52e, v1db1").
 * 525 (no such user) folds into invalidCredentials so that unknown users and wrong passwords
 * cannot be told apart.
 */
export function bindOutcomeFromDiagnostic(message: string): { outcome: BindOutcome; subCode: string | null } {
  const subCode = /\bdata ([0-9a-f]{3,8})\b/i.exec(message)?.[1]?.toLowerCase() ?? null;
  const outcome: BindOutcome = (() => {
    switch (subCode) {
      case '533':
        return 'disabled';
      case '775':
        return 'locked';
      case '701':
        return 'expired';
      case '773':
        return 'mustChangePassword';
      case '532':
        return 'passwordExpired';
      case '530':
      case '531':
        return 'notPermitted';
      default:
        return 'invalidCredentials';
    }
  })();
  return { outcome, subCode };
}
