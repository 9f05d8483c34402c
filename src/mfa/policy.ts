/**
 * The MFA policy (kept in the settings store as `mfa.policy`) and the decisions it makes. Pure.
 *
 * - mode: `always` (every sign-in), `context-aware` (only when the browser is not remembered for
 *   the person, or the sign-in comes from another address class), `never`.
 * - withoutDevice: what happens to a person with no device when MFA is asked for:
 *   `register-at-sign-in` (enrol now, then continue), `block` (no sign-in), `allow` (password only).
 * - factors: the factor types people may use.
 * - applications / permissionSets: targets that require MFA (`mfa`) or a phishing-resistant factor
 *   (`phishing-resistant`: WebAuthn) whatever the mode: opening one with a weaker session asks again.
 */
import { z } from 'zod';
import type { FactorType } from './mfa-store.ts';

export const MFA_MODES = ['always', 'context-aware', 'never'] as const;
export const WITHOUT_DEVICE = ['register-at-sign-in', 'block', 'allow'] as const;
export const FACTOR_TYPES = ['totp', 'webauthn', 'radius'] as const satisfies readonly FactorType[];
export const REQUIREMENTS = ['mfa', 'phishing-resistant'] as const;
export type Requirement = (typeof REQUIREMENTS)[number];

/** Identity Center's limit. */
export const MAX_DEVICES_PER_USER = 8;

export const mfaPolicySchema = z
  .object({
    mode: z.enum(MFA_MODES, { error: `mode: one of ${MFA_MODES.join(', ')}` }),
    withoutDevice: z.enum(WITHOUT_DEVICE, { error: `withoutDevice: one of ${WITHOUT_DEVICE.join(', ')}` }),
    factors: z.array(z.enum(FACTOR_TYPES, { error: `factors: each one of ${FACTOR_TYPES.join(', ')}` })).min(1, 'factors: at least one'),
    rememberDeviceDays: z.number().int().min(1, 'rememberDeviceDays: 1 to 365').max(365, 'rememberDeviceDays: 1 to 365'),
    applications: z.record(z.string().min(1).max(200), z.enum(REQUIREMENTS)),
    permissionSets: z.record(z.string().min(1).max(200), z.enum(REQUIREMENTS)),
  })
  .strict();

export type MfaPolicy = z.infer<typeof mfaPolicySchema>;

/** MFA off until an administrator turns it on: existing sign-ins keep working after an upgrade. */
export const DEFAULT_MFA_POLICY: MfaPolicy = {
  mode: 'never',
  withoutDevice: 'register-at-sign-in',
  factors: ['totp', 'webauthn'],
  rememberDeviceDays: 30,
  applications: {},
  permissionSets: {},
};

export type SecondStep =
  | { kind: 'none'; reason: 'mode_never' | 'remembered' | 'no_device_allowed' }
  | { kind: 'verify' }
  | { kind: 'enrol' }
  | { kind: 'block' };

export interface SignInContext {
  /** Usable devices (confirmed, of an allowed type); RADIUS counts as one when it is allowed and configured. */
  hasFactor: boolean;
  /** The browser carries a valid remembered-device cookie for this person and address class. */
  remembered: boolean;
  /** The service provider asked for a fresh authentication (ForceAuthn, prompt=login). */
  force: boolean;
  /** Something the person is opening demands MFA whatever the mode. */
  demanded: boolean;
}

/** What the sign-in asks after a good password. */
export function decideSecondStep(policy: MfaPolicy, context: SignInContext): SecondStep {
  const asked = context.demanded || policy.mode === 'always' || (policy.mode === 'context-aware' && (context.force || !context.remembered));
  if (!asked) return { kind: 'none', reason: policy.mode === 'never' ? 'mode_never' : 'remembered' };
  if (context.hasFactor) return { kind: 'verify' };
  if (policy.withoutDevice === 'register-at-sign-in') return { kind: 'enrol' };
  if (policy.withoutDevice === 'block') return { kind: 'block' };
  // 'allow' lets a person without a device in; a target that demands MFA still cannot be opened.
  return context.demanded ? { kind: 'enrol' } : { kind: 'none', reason: 'no_device_allowed' };
}

/** Authentication methods references (RFC 8176) a session holds. */
export type Amr = 'pwd' | 'otp' | 'hwk' | 'swk' | 'user' | 'mfa' | 'kba';

/** Whether a session's methods meet a target's requirement. */
export function meetsRequirement(amr: readonly string[], requirement: Requirement | undefined): boolean {
  if (requirement === undefined) return true;
  if (!amr.includes('mfa')) return false;
  return requirement === 'mfa' || amr.includes('hwk') || amr.includes('swk');
}

/** The strongest requirement of a set of targets. */
export function strongest(requirements: ReadonlyArray<Requirement | undefined>): Requirement | undefined {
  if (requirements.includes('phishing-resistant')) return 'phishing-resistant';
  return requirements.includes('mfa') ? 'mfa' : undefined;
}

export function factorAllowed(policy: MfaPolicy, factor: FactorType): boolean {
  return policy.factors.includes(factor);
}
