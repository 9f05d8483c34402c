/**
 * The MFA use cases: the policy (audited), the decision after a good password, TOTP enrolment
 * and verification (replay refused in the store), one-time recovery codes, a RADIUS one-time code
 * when the composition root provides a verifier, device management — every change audited,
 * never with a secret or a code in it.
 *
 * Wrong codes are throttled per account like wrong passwords (its own counter, `mfa:<guid>`); the
 * throttle never reaches the directory, so guessing codes cannot lock an AD account.
 */
import QRCode from 'qrcode';
import type { AuditLog } from '#src/audit/index.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { AppError } from '#src/shared/errors.ts';
import type { DeviceType, FactorType, MfaDevice, MfaStore } from './mfa-store.ts';
import { DEFAULT_MFA_POLICY, MAX_DEVICES_PER_USER, decideSecondStep, factorAllowed, meetsRequirement, mfaPolicySchema, strongest, type MfaPolicy, type Requirement } from './policy.ts';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode } from './recovery-codes.ts';
import type { RememberedDeviceSigner } from './remembered-device.ts';
import { matchTotp, newTotpSecret, normaliseTotpCode, totpUri } from './totp.ts';

export const MFA_POLICY_SETTING = 'mfa.policy';

/** The sign-in throttle's shape (src/auth/throttle.ts), a separate instance for codes. */
export interface CodeThrottle {
  check(subject: string, address: string | null, now: Date): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number }>;
  recordFailure(subject: string, address: string | null, now: Date, details?: { label?: string }): Promise<void>;
  recordSuccess(subject: string, address: string | null): Promise<void>;
}

/** A RADIUS server checking one-time codes (src/mfa/radius/ provides one; the composition root wires it). */
export type RadiusOutcome = { kind: 'accept' } | { kind: 'reject'; reason?: string } | { kind: 'challenge'; message: string; state: Buffer } | { kind: 'unavailable'; error: string };
export interface RadiusCodeVerifier {
  verify(input: { username: string; code: string; state?: Buffer }): Promise<RadiusOutcome>;
}

export interface MfaServiceDeps {
  store: MfaStore;
  settings: SettingsStore;
  audit: AuditLog;
  throttle: CodeThrottle;
  /** HMAC key of the recovery-code hashes (derived from the instance key). */
  recoveryKey: Uint8Array;
  remembered: RememberedDeviceSigner;
  /** The issuer name authenticator apps show. */
  issuer: string;
  radius?: (() => RadiusCodeVerifier | null) | undefined;
  clock?: () => Date;
}

export type CodeKind = 'totp' | 'recovery' | 'radius';

export type VerifyResult =
  | { ok: true; amr: string[]; deviceId: string | null }
  | { ok: false; code: 'mfa.invalid_code' | 'mfa.throttled' | 'mfa.unavailable' | 'mfa.factor_not_allowed'; message: string; retryAfterSeconds: number | null }
  | { ok: 'challenge'; message: string; state: Buffer };

export interface TotpEnrolment {
  deviceId: string;
  /** Base32; shown once, on the enrolment page only. */
  secret: string;
  uri: string;
  /** The QR code of `uri`, as inline SVG markup. */
  qrSvg: string;
}

export interface DeviceView {
  id: string;
  type: DeviceType;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface UserFactors {
  devices: DeviceView[];
  totp: boolean;
  webauthn: boolean;
  radius: boolean;
  recoveryCodes: number;
}

const ENROLMENT_TTL_MS = 15 * 60_000;
const MAX_NAME = 64;

export const MFA_MESSAGES = {
  invalid: 'That code is not valid. Check the time on your device and enter the current code.',
  throttled: (seconds: number) => `Too many wrong codes. Try again in ${seconds < 90 ? `${Math.max(1, seconds)} seconds` : `${Math.ceil(seconds / 60)} minutes`}.`,
  limit: `You already have ${MAX_DEVICES_PER_USER} MFA devices, the most allowed. Remove one before you register another.`,
} as const;

export const mfaSubject = (userGuid: string): string => `mfa:${userGuid.toLowerCase()}`;

export function deviceView(device: MfaDevice): DeviceView {
  return { id: device.id, type: device.type, name: device.name, createdAt: device.createdAt.toISOString(), lastUsedAt: device.lastUsedAt?.toISOString() ?? null };
}

export function createMfaService(deps: MfaServiceDeps) {
  const { store, settings, audit, throttle, clock = () => new Date() } = deps;

  async function policy(): Promise<MfaPolicy> {
    const stored = await settings.get(MFA_POLICY_SETTING);
    if (stored === undefined) return DEFAULT_MFA_POLICY;
    const parsed = mfaPolicySchema.safeParse(stored);
    // A stored policy that no longer parses must not switch MFA off silently.
    if (!parsed.success) throw new AppError('mfa.policy_invalid', 'the stored MFA policy is invalid; set it again', { status: 500 });
    return parsed.data;
  }

  async function factorsOf(userGuid: string, current?: MfaPolicy): Promise<UserFactors> {
    const p = current ?? (await policy());
    const devices = (await store.listDevices(userGuid)).filter((d) => d.confirmed);
    const allowed = devices.filter((d) => factorAllowed(p, d.type));
    return {
      devices: devices.map(deviceView),
      totp: allowed.some((d) => d.type === 'totp'),
      webauthn: allowed.some((d) => d.type === 'webauthn'),
      radius: factorAllowed(p, 'radius') && (deps.radius?.() ?? null) !== null,
      recoveryCodes: await store.unusedRecoveryCodes(userGuid),
    };
  }

  async function throttled(userGuid: string, address: string | null, now: Date): Promise<VerifyResult | null> {
    const gate = await throttle.check(mfaSubject(userGuid), address, now);
    if (gate.allowed) return null;
    const seconds = Math.ceil(gate.retryAfterMs / 1000);
    return { ok: false, code: 'mfa.throttled', message: MFA_MESSAGES.throttled(seconds), retryAfterSeconds: seconds };
  }

  async function wrongCode(userGuid: string, label: string, address: string | null, now: Date, kind: CodeKind, reason: string): Promise<VerifyResult> {
    await throttle.recordFailure(mfaSubject(userGuid), address, now, { label: `MFA: ${label}` });
    await audit.record({ actor: userGuid, action: 'mfa.device.verified', target: label, outcome: 'failure', errorCode: 'mfa.invalid_code', details: { kind, reason, clientAddress: address } });
    return { ok: false, code: 'mfa.invalid_code', message: MFA_MESSAGES.invalid, retryAfterSeconds: null };
  }

  async function verifiedCode(userGuid: string, label: string, address: string | null, kind: CodeKind, deviceId: string | null, amr: string[]): Promise<VerifyResult> {
    await throttle.recordSuccess(mfaSubject(userGuid), address);
    await audit.record({ actor: userGuid, action: kind === 'recovery' ? 'mfa.recovery_code.used' : 'mfa.device.verified', target: label, outcome: 'success', details: { kind, deviceId, clientAddress: address } });
    return { ok: true, amr, deviceId };
  }

  /** Checks a TOTP code against each of the user's confirmed TOTP devices; the matching step is claimed once. */
  async function checkTotp(userGuid: string, code: string, now: Date, devices: MfaDevice[]): Promise<string | null> {
    for (const device of devices) {
      const secret = await store.totpSecret(device.id);
      if (secret === undefined) continue;
      const step = matchTotp(secret, code, now);
      if (step !== null && (await store.claimTotpStep(device.id, step, now))) return device.id;
    }
    return null;
  }

  return {
    policy,

    async setPolicy(input: unknown, actor: string): Promise<MfaPolicy> {
      const parsed = mfaPolicySchema.safeParse(input);
      if (!parsed.success) {
        const message = parsed.error.issues.map((issue) => (issue.path.length > 0 && !issue.message.includes(':') ? `${issue.path.join('.')}: ${issue.message}` : issue.message)).join('; ');
        await audit.record({ actor, action: 'mfa.policy.updated', outcome: 'failure', errorCode: 'mfa.policy_invalid', details: { reason: message } });
        throw new AppError('mfa.policy_invalid', message, { status: 400 });
      }
      const before = await policy();
      await settings.set(MFA_POLICY_SETTING, parsed.data, clock());
      await audit.record({ actor, action: 'mfa.policy.updated', outcome: 'success', details: { before, after: parsed.data } });
      return parsed.data;
    },

    factorsOf,

    /** The sign-in gate (auth's SecondStepGate). */
    async secondStep(input: { userGuid: string; clientAddress: string | null; userAgent: string | null; rememberedDevice: string | undefined; force: boolean }) {
      const p = await policy();
      if (p.mode === 'never') return 'none' as const;
      const factors = await factorsOf(input.userGuid, p);
      const remembered = deps.remembered.verify(input.rememberedDevice, { userGuid: input.userGuid, address: input.clientAddress, userAgent: input.userAgent, now: clock() });
      const decision = decideSecondStep(p, { hasFactor: factors.totp || factors.webauthn || factors.radius, remembered, force: input.force, demanded: false });
      return decision.kind;
    },

    /**
     * Whether the person can complete a second factor now: a usable factor (or recovery codes), or
     * none yet but the policy lets them register an authenticator app or passkey at this point
     * (not `withoutDevice: block`). An SP asking for MFA steps up when so, else hears NoAuthnContext.
     */
    async canCompleteMfa(userGuid: string): Promise<boolean> {
      const p = await policy();
      const factors = await factorsOf(userGuid, p);
      if (factors.totp || factors.webauthn || factors.radius || factors.recoveryCodes > 0) return true;
      return p.withoutDevice !== 'block' && (factorAllowed(p, 'totp') || factorAllowed(p, 'webauthn'));
    },

    /** What a session with these methods lacks for a target (application, permission set), or null. */
    async stepUp(amr: readonly string[], target: { applicationId?: string; permissionSetId?: string }): Promise<Requirement | null> {
      const p = await policy();
      const required = strongest([target.applicationId === undefined ? undefined : p.applications[target.applicationId], target.permissionSetId === undefined ? undefined : p.permissionSets[target.permissionSetId]]);
      return required === undefined || meetsRequirement(amr, required) ? null : required;
    },

    /** Starts registering an authenticator app: a new secret, shown once. Replaces an unfinished enrolment of the same person. */
    async beginTotpEnrolment(userGuid: string, account: string, name: string): Promise<TotpEnrolment> {
      const p = await policy();
      if (!factorAllowed(p, 'totp')) throw new AppError('mfa.factor_not_allowed', 'authenticator apps are not allowed by the MFA policy', { status: 403 });
      const now = clock();
      const secret = newTotpSecret();
      const device = await store.addDevice({ userGuid, type: 'totp', name: cleanName(name, 'Authenticator app'), totpSecret: secret, confirmed: false }, now, { maxDevices: MAX_DEVICES_PER_USER, staleBefore: now });
      if (device === false) {
        await audit.record({ actor: userGuid, action: 'mfa.device.registered', target: account, outcome: 'failure', errorCode: 'mfa.device_limit', details: { type: 'totp' } });
        throw new AppError('mfa.device_limit', MFA_MESSAGES.limit, { status: 409 });
      }
      const uri = totpUri(secret, account, deps.issuer);
      return { deviceId: device.id, secret, uri, qrSvg: await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }) };
    },

    /**
     * Confirms an enrolment with a first code (which is then used up). Returns new recovery
     * codes when the person had none left (shown once), or null.
     */
    async confirmTotpEnrolment(userGuid: string, account: string, deviceId: string, code: string, address: string | null, name = ''): Promise<{ ok: true; recoveryCodes: string[] | null } | Exclude<VerifyResult, { ok: true } | { ok: 'challenge' }>> {
      const now = clock();
      const stop = await throttled(userGuid, address, now);
      if (stop !== null && stop.ok === false) return stop;
      const device = await store.getDevice(deviceId);
      if (device === undefined || device.userGuid !== userGuid.toLowerCase() || device.type !== 'totp' || device.confirmed || now.getTime() - device.createdAt.getTime() > ENROLMENT_TTL_MS) {
        throw new AppError('mfa.device_not_found', 'this registration expired or was already finished: start again', { status: 404 });
      }
      const secret = await store.totpSecret(deviceId);
      const step = secret === undefined || normaliseTotpCode(code) === null ? null : matchTotp(secret, code, now);
      if (step === null || !(await store.claimTotpStep(deviceId, step, now))) {
        const result = await wrongCode(userGuid, account, address, now, 'totp', 'enrolment');
        if (result.ok === false) return result;
      }
      await store.confirmDevice(deviceId, now, name.trim() === '' ? undefined : cleanName(name, device.name));
      await throttle.recordSuccess(mfaSubject(userGuid), address);
      await audit.record({ actor: userGuid, action: 'mfa.device.registered', target: account, outcome: 'success', details: { type: 'totp', deviceId } });
      const recoveryCodes = (await store.unusedRecoveryCodes(userGuid)) === 0 ? await this.regenerateRecoveryCodes(userGuid, account, userGuid) : null;
      return { ok: true, recoveryCodes };
    },

    /** Checks a one-time code: an authenticator app's, a recovery code, or one the RADIUS server checks. */
    async verifyCode(input: { userGuid: string; account: string; kind: CodeKind; code: string; address: string | null; radiusState?: Buffer }): Promise<VerifyResult> {
      const { userGuid, account, kind, code, address } = input;
      const now = clock();
      const p = await policy();
      if (kind !== 'recovery' && !factorAllowed(p, kind)) return { ok: false, code: 'mfa.factor_not_allowed', message: 'This kind of code is not allowed by your organisation.', retryAfterSeconds: null };
      const stop = await throttled(userGuid, address, now);
      if (stop !== null) return stop;
      switch (kind) {
        case 'totp': {
          const devices = (await store.listDevices(userGuid)).filter((d) => d.confirmed && d.type === 'totp');
          const deviceId = normaliseTotpCode(code) === null ? null : await checkTotp(userGuid, code, now, devices);
          return deviceId === null ? wrongCode(userGuid, account, address, now, kind, 'no device matched, or the code was used') : verifiedCode(userGuid, account, address, kind, deviceId, ['pwd', 'otp', 'mfa']);
        }
        case 'recovery': {
          const normalised = normaliseRecoveryCode(code);
          const ok = normalised !== null && (await store.consumeRecoveryCode(userGuid, hashRecoveryCode(deps.recoveryKey, normalised), now));
          return ok ? verifiedCode(userGuid, account, address, kind, null, ['pwd', 'kba', 'mfa']) : wrongCode(userGuid, account, address, now, kind, 'unknown or used recovery code');
        }
        case 'radius': {
          const verifier = deps.radius?.() ?? null;
          if (verifier === null) return { ok: false, code: 'mfa.factor_not_allowed', message: 'RADIUS codes are not configured.', retryAfterSeconds: null };
          if (code.length === 0 || code.length > 128) return wrongCode(userGuid, account, address, now, kind, 'empty or too long');
          const outcome = await verifier.verify({ username: account, code, ...(input.radiusState ? { state: input.radiusState } : {}) });
          switch (outcome.kind) {
            case 'accept':
              return verifiedCode(userGuid, account, address, kind, null, ['pwd', 'otp', 'mfa']);
            case 'reject':
              return wrongCode(userGuid, account, address, now, kind, outcome.reason ?? 'rejected by the RADIUS server');
            case 'challenge':
              return { ok: 'challenge', message: outcome.message, state: outcome.state };
            case 'unavailable':
              await audit.record({ actor: userGuid, action: 'mfa.device.verified', target: account, outcome: 'failure', errorCode: 'mfa.unavailable', details: { kind, reason: outcome.error } });
              return { ok: false, code: 'mfa.unavailable', message: 'The RADIUS server cannot be reached. Try again in a few minutes.', retryAfterSeconds: null };
          }
        }
      }
    },

    /** A remembered-device cookie after a second step in context-aware mode; null in other modes. */
    async rememberBrowser(input: { userGuid: string; address: string | null; userAgent: string | null }): Promise<{ value: string; maxAgeSeconds: number } | null> {
      const p = await policy();
      if (p.mode !== 'context-aware') return null;
      return deps.remembered.issue({ ...input, now: clock(), days: p.rememberDeviceDays });
    },

    /** New recovery codes (the old ones stop working); the plaintext is returned once. */
    async regenerateRecoveryCodes(userGuid: string, account: string, actor: string): Promise<string[]> {
      const codes = newRecoveryCodes();
      await store.replaceRecoveryCodes(userGuid, codes.map((c) => hashRecoveryCode(deps.recoveryKey, c)), clock());
      await audit.record({ actor, action: 'mfa.recovery_codes.generated', target: account, outcome: 'success', details: { userGuid, count: codes.length } });
      return codes;
    },

    async listDevices(userGuid: string): Promise<DeviceView[]> {
      return (await store.listDevices(userGuid)).filter((d) => d.confirmed).map(deviceView);
    },

    /** Renames a device (self-service or the help desk); the name is cleaned as at registration. */
    async renameDevice(userGuid: string, deviceId: string, name: string, actor: string): Promise<DeviceView> {
      const cleaned = cleanName(name, '');
      if (cleaned === '') {
        await audit.record({ actor, action: 'mfa.device.renamed', target: userGuid, outcome: 'failure', errorCode: 'mfa.invalid_name', details: { deviceId } });
        throw new AppError('mfa.invalid_name', `name: 1 to ${MAX_NAME} characters`, { status: 400 });
      }
      const before = await store.getDevice(deviceId);
      const renamed = before !== undefined && before.userGuid === userGuid.toLowerCase() && (await store.renameDevice(userGuid, deviceId, cleaned));
      await audit.record({ actor, action: 'mfa.device.renamed', target: userGuid, outcome: renamed ? 'success' : 'failure', ...(renamed ? {} : { errorCode: 'mfa.device_not_found' }), details: { deviceId, ...(renamed ? { before: before.name, after: cleaned } : {}) } });
      if (!renamed) throw new AppError('mfa.device_not_found', `the user has no MFA device ${deviceId}`, { status: 404 });
      const device = await store.getDevice(deviceId);
      if (device === undefined) throw new AppError('mfa.device_not_found', `the user has no MFA device ${deviceId}`, { status: 404 });
      return deviceView(device);
    },

    async removeDevice(userGuid: string, deviceId: string, actor: string): Promise<void> {
      const removed = await store.removeDevice(userGuid, deviceId);
      await audit.record({ actor, action: 'mfa.device.removed', target: userGuid, outcome: removed ? 'success' : 'failure', ...(removed ? {} : { errorCode: 'mfa.device_not_found' }), details: { deviceId } });
      if (!removed) throw new AppError('mfa.device_not_found', `the user has no MFA device ${deviceId}`, { status: 404 });
    },

    /** Removes every device and recovery code (the help desk's answer to a lost phone). */
    async resetDevices(userGuid: string, actor: string): Promise<number> {
      const removed = await store.removeAll(userGuid);
      await audit.record({ actor, action: 'mfa.devices.reset', target: userGuid, outcome: 'success', details: { devices: removed } });
      return removed;
    },
  };
}

export type MfaService = ReturnType<typeof createMfaService>;
export type { FactorType };

function cleanName(name: string, fallback: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const cleaned = name.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_NAME);
  return cleaned === '' ? fallback : cleaned;
}
