/**
 * The domain's password and lockout policy, as the engine configures it and as AD stores it on
 * the domain object (intervals as negative counts of 100 ns; "forever" as the most negative
 * 64-bit value). The domain object is the source of truth once provisioned, so an administrator
 * changing lockoutThreshold over LDAP changes the policy.
 */
import { policyIntervalMs } from '#src/directory/ad-codec.ts';
import type { AttributeMap } from './store.ts';

export interface DirectoryPolicy {
  minPwdLength: number;
  /** pwdProperties bit 1: three of four character categories, not containing the account name. */
  complexity: boolean;
  pwdHistoryLength: number;
  /** null: passwords never expire. */
  maxPwdAgeMs: number | null;
  /** A user may change their own password again only after this long (admins are exempt). */
  minPwdAgeMs: number;
  /** Wrong passwords before lockout; 0 disables lockout. */
  lockoutThreshold: number;
  /** null: locked until an administrator writes lockoutTime=0. */
  lockoutDurationMs: number | null;
  /** badPwdCount restarts from 1 when the previous bad password is older than this. */
  lockoutObservationWindowMs: number;
}

const minute = 60_000;
const day = 24 * 60 * minute;

/** AD's defaults, except lockout: AD ships with lockout off, the managed directory locks after 5. */
export const defaultPolicy: DirectoryPolicy = {
  minPwdLength: 7,
  complexity: true,
  pwdHistoryLength: 24,
  maxPwdAgeMs: 42 * day,
  minPwdAgeMs: 0,
  lockoutThreshold: 5,
  lockoutDurationMs: 30 * minute,
  lockoutObservationWindowMs: 30 * minute,
};

const forever = '-9223372036854775808';

function interval(ms: number | null): string {
  if (ms === null) return forever;
  return ms === 0 ? '0' : (-(BigInt(Math.round(ms)) * 10_000n)).toString();
}

/** The policy attributes of the domain object. */
export function policyAttributes(policy: DirectoryPolicy): AttributeMap {
  return {
    minPwdLength: [String(policy.minPwdLength)],
    pwdProperties: [policy.complexity ? '1' : '0'],
    pwdHistoryLength: [String(policy.pwdHistoryLength)],
    maxPwdAge: [interval(policy.maxPwdAgeMs)],
    minPwdAge: [interval(policy.minPwdAgeMs)],
    lockoutThreshold: [String(policy.lockoutThreshold)],
    lockoutDuration: [interval(policy.lockoutDurationMs)],
    lockOutObservationWindow: [interval(policy.lockoutObservationWindowMs)],
  };
}

export function policyFromAttributes(attributes: AttributeMap, fallback: DirectoryPolicy): DirectoryPolicy {
  const text = (name: string): string | undefined => {
    const value = attributes[name]?.[0];
    return value === undefined ? undefined : value.toString();
  };
  const int = (name: string, otherwise: number): number => {
    const value = Number(text(name));
    return Number.isFinite(value) ? value : otherwise;
  };
  const raw = (name: string): string | undefined => {
    const value = text(name);
    return value !== undefined && /^-?\d+$/.test(value) ? value : undefined;
  };
  const lockoutDuration = raw('lockoutDuration');
  const maxAge = raw('maxPwdAge');
  const window = raw('lockOutObservationWindow');
  const minAge = raw('minPwdAge');
  return {
    minPwdLength: int('minPwdLength', fallback.minPwdLength),
    complexity: (int('pwdProperties', fallback.complexity ? 1 : 0) & 1) === 1,
    pwdHistoryLength: int('pwdHistoryLength', fallback.pwdHistoryLength),
    maxPwdAgeMs: maxAge === undefined ? fallback.maxPwdAgeMs : policyIntervalMs(maxAge),
    minPwdAgeMs: minAge === undefined ? fallback.minPwdAgeMs : (policyIntervalMs(minAge) ?? 0),
    lockoutThreshold: int('lockoutThreshold', fallback.lockoutThreshold),
    lockoutDurationMs: lockoutDuration === undefined ? fallback.lockoutDurationMs : policyIntervalMs(lockoutDuration),
    lockoutObservationWindowMs: window === undefined ? fallback.lockoutObservationWindowMs : (policyIntervalMs(window) ?? 0),
  };
}
