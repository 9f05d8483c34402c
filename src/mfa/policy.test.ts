import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MFA_POLICY, decideSecondStep, meetsRequirement, mfaPolicySchema, strongest, type MfaPolicy, type SignInContext } from './policy.ts';
import { addressClass, createRememberedDeviceSigner } from './remembered-device.ts';

const policy = (changes: Partial<MfaPolicy>): MfaPolicy => ({ ...DEFAULT_MFA_POLICY, ...changes });
const context = (changes: Partial<SignInContext> = {}): SignInContext => ({ hasFactor: true, remembered: false, force: false, demanded: false, ...changes });

describe('the MFA policy', () => {
  it('is off by default, so that an upgrade changes no sign-in', () => {
    assert.equal(DEFAULT_MFA_POLICY.mode, 'never');
    assert.deepEqual(decideSecondStep(DEFAULT_MFA_POLICY, context()), { kind: 'none', reason: 'mode_never' });
  });

  it('always: verify, whatever the browser', () => {
    assert.equal(decideSecondStep(policy({ mode: 'always' }), context({ remembered: true })).kind, 'verify');
  });

  it('context-aware: a remembered browser skips MFA, unless the service provider forces a fresh sign-in', () => {
    const p = policy({ mode: 'context-aware' });
    assert.equal(decideSecondStep(p, context({ remembered: true })).kind, 'none');
    assert.equal(decideSecondStep(p, context({ remembered: false })).kind, 'verify');
    assert.equal(decideSecondStep(p, context({ remembered: true, force: true })).kind, 'verify');
  });

  it('without a device: register at sign-in, block, or allow (but not for a target that demands MFA)', () => {
    const none = context({ hasFactor: false });
    assert.equal(decideSecondStep(policy({ mode: 'always', withoutDevice: 'register-at-sign-in' }), none).kind, 'enrol');
    assert.equal(decideSecondStep(policy({ mode: 'always', withoutDevice: 'block' }), none).kind, 'block');
    assert.equal(decideSecondStep(policy({ mode: 'always', withoutDevice: 'allow' }), none).kind, 'none');
    assert.equal(decideSecondStep(policy({ mode: 'always', withoutDevice: 'allow' }), { ...none, demanded: true }).kind, 'enrol');
    assert.equal(decideSecondStep(policy({ mode: 'never' }), { ...none, demanded: true }).kind, 'enrol');
  });

  it('meets a requirement: mfa by any second factor, phishing-resistant only by a security key or passkey', () => {
    assert.equal(meetsRequirement(['pwd'], undefined), true);
    assert.equal(meetsRequirement(['pwd'], 'mfa'), false);
    assert.equal(meetsRequirement(['pwd', 'otp', 'mfa'], 'mfa'), true);
    assert.equal(meetsRequirement(['pwd', 'otp', 'mfa'], 'phishing-resistant'), false);
    assert.equal(meetsRequirement(['pwd', 'hwk', 'mfa'], 'phishing-resistant'), true);
    assert.equal(strongest([undefined, 'mfa', 'phishing-resistant']), 'phishing-resistant');
    assert.equal(strongest([undefined, undefined]), undefined);
  });

  it('refuses an invalid policy with messages naming the field', () => {
    const result = mfaPolicySchema.safeParse({ ...DEFAULT_MFA_POLICY, mode: 'sometimes', factors: [], rememberDeviceDays: 0 });
    assert.equal(result.success, false);
    const text = result.error?.issues.map((i) => i.message).join('; ') ?? '';
    assert.match(text, /mode: one of always, context-aware, never/);
    assert.match(text, /factors: at least one/);
    assert.match(text, /rememberDeviceDays: 1 to 365/);
  });
});

describe('the remembered-device cookie', () => {
  const signer = createRememberedDeviceSigner(Buffer.alloc(32, 7));
  const now = new Date('2026-01-01T00:00:00Z');
  const who = { userGuid: 'AAAA-1', address: '192.0.2.10', userAgent: 'Chrome', now };
  const { value, maxAgeSeconds } = signer.issue({ ...who, days: 30 });

  it('remembers the browser for the person, from the same address class, for the configured days', () => {
    assert.equal(maxAgeSeconds, 30 * 86_400);
    assert.match(value, /^[\w-]+$/, 'a cookie-safe value');
    assert.equal(signer.verify(value, who), true);
    assert.equal(signer.verify(value, { ...who, userGuid: 'aaaa-1', address: '192.0.2.200' }), true, 'same /24, GUID in any case');
  });

  it('forgets on another person, network, browser, after expiry, or when altered', () => {
    assert.equal(signer.verify(value, { ...who, userGuid: 'BBBB-2' }), false);
    assert.equal(signer.verify(value, { ...who, address: '198.51.100.10' }), false);
    assert.equal(signer.verify(value, { ...who, userAgent: 'Firefox' }), false);
    assert.equal(signer.verify(value, { ...who, now: new Date(now.getTime() + 31 * 86_400_000) }), false);
    assert.equal(signer.verify(`${value.slice(0, 10)}A${value.slice(11)}`, who), false);
    assert.equal(createRememberedDeviceSigner(Buffer.alloc(32, 8)).verify(value, who), false, 'another instance key');
    assert.equal(signer.verify(undefined, who), false);
  });

  it('classes addresses by IPv4 /24 and IPv6 /48', () => {
    assert.equal(addressClass('::ffff:192.0.2.9'), '192.0.2.0/24');
    assert.equal(addressClass('2001:db8:1234:5::1'), '2001:db8:1234::/48');
    assert.equal(addressClass('2001:db8:1234::1'), addressClass('2001:0db8:1234:ffff::2'));
    assert.equal(addressClass(null), '-');
  });
});
