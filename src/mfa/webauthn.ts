/**
 * Passkeys and security keys (WebAuthn) with @simplewebauthn/server: user verification preferred,
 * attestation none, discoverable credentials allowed; the signature counter must grow (when the
 * authenticator keeps one) and a credential's backup eligibility must not change after
 * registration — either one failing means a cloned or swapped authenticator, and is refused.
 *
 * Challenges travel in a signed ticket (HMAC under a key derived from the instance key) bound to
 * the session and the ceremony, with a 5-minute expiry: any instance can check it, no state kept.
 * A sign-in ceremony replaces the session it is bound to, so its ticket cannot be used again.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AuditLog } from '#src/audit/index.ts';
import { AppError } from '#src/shared/errors.ts';
import type { MfaDevice, MfaStore } from './mfa-store.ts';
import { MAX_DEVICES_PER_USER, factorAllowed, type MfaPolicy } from './policy.ts';
import { MFA_MESSAGES, mfaSubject, type CodeThrottle } from './mfa-service.ts';

const TICKET_TTL_MS = 5 * 60_000;
const MAC_LENGTH = 43;

export interface WebAuthnDeps {
  store: MfaStore;
  audit: AuditLog;
  throttle: CodeThrottle;
  policy: () => Promise<MfaPolicy>;
  ticketKey: Uint8Array;
  rpName: string;
  clock?: () => Date;
}

/** Where the ceremony happens: the RP ID is the host name, the origin the page's. */
export interface RelyingParty {
  rpId: string;
  origin: string;
}

interface Ticket {
  c: string;
  s: string;
  p: 'register' | 'authenticate';
  e: number;
}

/** RFC 8176: a synced passkey is a software-secured key, a device-bound one hardware-secured. */
const amrOf = (device: MfaDevice): string => (device.credential?.backupEligible ? 'swk' : 'hwk');

export function createWebAuthnFactor(deps: WebAuthnDeps) {
  const { store, audit, throttle, clock = () => new Date() } = deps;
  const sign = (payload: string) => createHmac('sha256', deps.ticketKey).update(payload).digest('base64url');

  function issueTicket(challenge: string, sessionId: string, purpose: Ticket['p']): string {
    const payload = Buffer.from(JSON.stringify({ c: challenge, s: sessionId, p: purpose, e: clock().getTime() + TICKET_TTL_MS } satisfies Ticket)).toString('base64url');
    return `${payload}${sign(payload)}`;
  }

  function openTicket(ticket: unknown, sessionId: string, purpose: Ticket['p']): string {
    const refused = new AppError('mfa.invalid_code', 'this passkey request expired or belongs to another sign-in: try again', { status: 400 });
    if (typeof ticket !== 'string' || ticket.length <= MAC_LENGTH || ticket.length > 2048) throw refused;
    const payload = ticket.slice(0, -MAC_LENGTH);
    const given = Buffer.from(ticket.slice(-MAC_LENGTH));
    const expected = Buffer.from(sign(payload));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused;
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Ticket;
    if (parsed.s !== sessionId || parsed.p !== purpose || parsed.e < clock().getTime()) throw refused;
    return parsed.c;
  }

  async function requireAllowed(): Promise<void> {
    if (!factorAllowed(await deps.policy(), 'webauthn')) throw new AppError('mfa.factor_not_allowed', 'passkeys and security keys are not allowed by the MFA policy', { status: 403 });
  }

  const confirmedKeys = async (userGuid: string) => (await store.listDevices(userGuid)).filter((d) => d.confirmed && d.type === 'webauthn' && d.credential !== null);

  return {
    async registrationOptions(input: { userGuid: string; account: string; displayName: string | null; sessionId: string; rp: RelyingParty }) {
      await requireAllowed();
      const existing = await store.listDevices(input.userGuid);
      if (existing.filter((d) => d.confirmed).length >= MAX_DEVICES_PER_USER) throw new AppError('mfa.device_limit', MFA_MESSAGES.limit, { status: 409 });
      const options = await generateRegistrationOptions({
        rpName: deps.rpName,
        rpID: input.rp.rpId,
        userName: input.account,
        userDisplayName: input.displayName ?? input.account,
        userID: new Uint8Array(Buffer.from(input.userGuid.toLowerCase(), 'utf8')),
        attestationType: 'none',
        excludeCredentials: existing.flatMap((d) => (d.credential ? [{ id: d.credential.id, transports: d.credential.transports as AuthenticatorTransport[] }] : [])),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      return { options, ticket: issueTicket(options.challenge, input.sessionId, 'register') };
    },

    async register(input: { userGuid: string; account: string; sessionId: string; rp: RelyingParty; ticket: unknown; response: unknown; name: string }): Promise<{ device: MfaDevice; amr: string }> {
      await requireAllowed();
      const challenge = openTicket(input.ticket, input.sessionId, 'register');
      let verification;
      try {
        verification = await verifyRegistrationResponse({ response: input.response as RegistrationResponseJSON, expectedChallenge: challenge, expectedOrigin: input.rp.origin, expectedRPID: input.rp.rpId, requireUserVerification: false });
      } catch (error) {
        await audit.record({ actor: input.userGuid, action: 'mfa.device.registered', target: input.account, outcome: 'failure', errorCode: 'mfa.invalid_code', details: { type: 'webauthn', reason: error instanceof Error ? error.message : String(error) } });
        throw new AppError('mfa.invalid_code', 'the passkey or security key could not be registered: try again', { status: 400 });
      }
      if (!verification.verified) throw new AppError('mfa.invalid_code', 'the passkey or security key could not be registered: try again', { status: 400 });
      const info = verification.registrationInfo;
      const now = clock();
      const device = await store.addDevice(
        {
          userGuid: input.userGuid,
          type: 'webauthn',
          name: input.name.trim().slice(0, 64) || (info.credentialDeviceType === 'multiDevice' ? 'Passkey' : 'Security key'),
          confirmed: true,
          credential: {
            id: info.credential.id,
            publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
            counter: info.credential.counter,
            transports: info.credential.transports ?? [],
            backupEligible: info.credentialDeviceType === 'multiDevice',
            backedUp: info.credentialBackedUp,
            userVerified: info.userVerified,
          },
        },
        now,
        { maxDevices: MAX_DEVICES_PER_USER, staleBefore: new Date(now.getTime() - 15 * 60_000) },
      );
      if (device === false) throw new AppError('mfa.device_limit', MFA_MESSAGES.limit, { status: 409 });
      await audit.record({ actor: input.userGuid, action: 'mfa.device.registered', target: input.account, outcome: 'success', details: { type: 'webauthn', deviceId: device.id, backupEligible: info.credentialDeviceType === 'multiDevice', userVerified: info.userVerified } });
      return { device, amr: amrOf(device) };
    },

    async authenticationOptions(input: { userGuid: string; sessionId: string; rp: RelyingParty }) {
      await requireAllowed();
      const keys = await confirmedKeys(input.userGuid);
      const options = await generateAuthenticationOptions({
        rpID: input.rp.rpId,
        allowCredentials: keys.flatMap((d) => (d.credential ? [{ id: d.credential.id, transports: d.credential.transports as AuthenticatorTransport[] }] : [])),
        userVerification: 'preferred',
      });
      return { options, ticket: issueTicket(options.challenge, input.sessionId, 'authenticate') };
    },

    /** Verifies an assertion; a failure counts against the account's code throttle like a wrong code. */
    async authenticate(input: { userGuid: string; account: string; sessionId: string; rp: RelyingParty; ticket: unknown; response: unknown; address: string | null }): Promise<{ ok: true; amr: string[] } | { ok: false; code: 'mfa.invalid_code' | 'mfa.throttled'; message: string }> {
      await requireAllowed();
      const now = clock();
      const gate = await throttle.check(mfaSubject(input.userGuid), input.address, now);
      if (!gate.allowed) return { ok: false, code: 'mfa.throttled', message: MFA_MESSAGES.throttled(Math.ceil(gate.retryAfterMs / 1000)) };
      const challenge = openTicket(input.ticket, input.sessionId, 'authenticate');
      const response = input.response as AuthenticationResponseJSON;
      const device = typeof response?.id === 'string' ? await store.findByCredentialId(response.id) : undefined;
      const fail = async (reason: string) => {
        await throttle.recordFailure(mfaSubject(input.userGuid), input.address, now, { label: `MFA: ${input.account}` });
        await audit.record({ actor: input.userGuid, action: 'mfa.device.verified', target: input.account, outcome: 'failure', errorCode: 'mfa.invalid_code', details: { kind: 'webauthn', reason, deviceId: device?.id ?? null } });
        return { ok: false as const, code: 'mfa.invalid_code' as const, message: 'That passkey or security key was not accepted.' };
      };
      if (device === undefined || device.credential === null || device.userGuid !== input.userGuid.toLowerCase() || !device.confirmed) return fail('unknown credential, or another user’s');
      let verification;
      try {
        verification = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: input.rp.origin,
          expectedRPID: input.rp.rpId,
          credential: { id: device.credential.id, publicKey: new Uint8Array(Buffer.from(device.credential.publicKey, 'base64url')), counter: device.credential.counter, transports: device.credential.transports },
          requireUserVerification: false,
        });
      } catch (error) {
        // The library refuses a counter that did not grow (a cloned authenticator) here too.
        return fail(error instanceof Error ? error.message : String(error));
      }
      if (!verification.verified) return fail('signature not verified');
      const info = verification.authenticationInfo;
      if ((info.credentialDeviceType === 'multiDevice') !== device.credential.backupEligible) return fail('backup eligibility changed since registration');
      await store.recordWebAuthnUse(device.id, info.newCounter, info.credentialBackedUp, now);
      await throttle.recordSuccess(mfaSubject(input.userGuid), input.address);
      await audit.record({ actor: input.userGuid, action: 'mfa.device.verified', target: input.account, outcome: 'success', details: { kind: 'webauthn', deviceId: device.id, userVerified: info.userVerified, clientAddress: input.address } });
      return { ok: true, amr: ['pwd', amrOf(device), 'mfa'] };
    },
  };
}

export type WebAuthnFactor = ReturnType<typeof createWebAuthnFactor>;
