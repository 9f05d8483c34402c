/**
 * The MFA use cases over an in-memory store (the SQL stores pass the same contract:
 * test/contract/mfa-store.contract.ts), the real throttle on its memory store, and a fake RADIUS
 * verifier (the real client is src/mfa/radius/, tested against FreeRADIUS).
 */
/* eslint-disable @typescript-eslint/require-await -- in-memory fakes of async ports: nothing to await */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { AuditEvent, AuditLog } from '#src/audit/index.ts';
import { createSignInThrottle, createMemoryThrottleStore } from '#src/auth/throttle.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { isAppError } from '#src/shared/errors.ts';
import { createMfaService, MFA_MESSAGES, type RadiusCodeVerifier, type RadiusOutcome } from './mfa-service.ts';
import type { MfaDevice, MfaStore } from './mfa-store.ts';
import { createRememberedDeviceSigner } from './remembered-device.ts';
import { totpCode } from './totp.ts';

function memoryStore(): MfaStore {
  const devices = new Map<string, MfaDevice & { secret?: string; lastStep: number | null }>();
  const codes = new Map<string, { used: boolean }>();
  const key = (guid: string, hash: string) => `${guid.toLowerCase()}|${hash}`;
  const view = ({ secret: _s, lastStep: _l, ...device }: MfaDevice & { secret?: string; lastStep: number | null }): MfaDevice => ({ ...device });
  return {
    listDevices: async (guid) => [...devices.values()].filter((d) => d.userGuid === guid.toLowerCase()).map(view),
    getDevice: async (id) => { const d = devices.get(id); return d && view(d); },
    findByCredentialId: async (id) => { const d = [...devices.values()].find((x) => x.credential?.id === id); return d && view(d); },
    async addDevice(device, at, { maxDevices, staleBefore }) {
      const guid = device.userGuid.toLowerCase();
      for (const [id, d] of devices) if (d.userGuid === guid && !d.confirmed && d.createdAt < staleBefore) devices.delete(id);
      if ([...devices.values()].filter((d) => d.userGuid === guid).length >= maxDevices) return false;
      const id = randomUUID();
      const row = { id, userGuid: guid, type: device.type, name: device.name, confirmed: device.confirmed, createdAt: at, lastUsedAt: null, credential: device.credential ?? null, lastStep: null, ...(device.totpSecret ? { secret: device.totpSecret } : {}) };
      devices.set(id, row);
      return view(row);
    },
    async confirmDevice(id, _at, name) { const d = devices.get(id); if (!d || d.confirmed) return false; d.confirmed = true; if (name) d.name = name; return true; },
    totpSecret: async (id) => devices.get(id)?.secret,
    async claimTotpStep(id, step, at) { const d = devices.get(id); if (!d || (d.lastStep !== null && d.lastStep >= step)) return false; d.lastStep = step; d.lastUsedAt = at; return true; },
    async recordWebAuthnUse() {},
    async markUsed() {},
    async renameDevice(guid, id, name) { const d = devices.get(id); if (!d || d.userGuid !== guid.toLowerCase() || !d.confirmed) return false; d.name = name; return true; },
    removeDevice: async (guid, id) => devices.get(id)?.userGuid === guid.toLowerCase() && devices.delete(id),
    async removeAll(guid) { let n = 0; for (const [id, d] of devices) if (d.userGuid === guid.toLowerCase()) { devices.delete(id); n++; } for (const k of codes.keys()) if (k.startsWith(`${guid.toLowerCase()}|`)) codes.delete(k); return n; },
    async replaceRecoveryCodes(guid, hashes) { for (const k of codes.keys()) if (k.startsWith(`${guid.toLowerCase()}|`)) codes.delete(k); for (const h of hashes) codes.set(key(guid, h), { used: false }); },
    async consumeRecoveryCode(guid, hash) { const c = codes.get(key(guid, hash)); if (!c || c.used) return false; c.used = true; return true; },
    unusedRecoveryCodes: async (guid) => [...codes.entries()].filter(([k, c]) => k.startsWith(`${guid.toLowerCase()}|`) && !c.used).length,
  };
}

function setup(options: { radius?: RadiusCodeVerifier } = {}) {
  let now = new Date('2026-03-01T10:00:05Z');
  const values = new Map<string, unknown>();
  const settings: SettingsStore = { get: async (n) => values.get(n), set: async (n, v) => void values.set(n, v), remove: async (n) => values.delete(n) };
  const events: AuditEvent[] = [];
  const audit = { record: async (event: AuditEvent) => void events.push(event) } as unknown as AuditLog;
  const throttle = createSignInThrottle({ perUsername: { maxFailures: 3, windowMs: 15 * 60_000 }, perAddress: { maxFailures: 100, windowMs: 15 * 60_000 }, store: createMemoryThrottleStore() });
  const mfa = createMfaService({
    store: memoryStore(),
    settings,
    audit,
    throttle,
    recoveryKey: Buffer.alloc(32, 1),
    remembered: createRememberedDeviceSigner(Buffer.alloc(32, 2)),
    issuer: 'Portico',
    radius: options.radius ? () => options.radius ?? null : undefined,
    clock: () => now,
  });
  return { mfa, events, advance: (ms: number) => (now = new Date(now.getTime() + ms)), now: () => now };
}

const GUID = '11111111-2222-3333-4444-555555555555';
const ACCOUNT = 'alice@corp.example.test';

async function enrolled(env: ReturnType<typeof setup>): Promise<{ secret: string; recoveryCodes: string[] }> {
  const enrolment = await env.mfa.beginTotpEnrolment(GUID, ACCOUNT, 'Phone');
  assert.match(enrolment.qrSvg, /^<svg/);
  const result = await env.mfa.confirmTotpEnrolment(GUID, ACCOUNT, enrolment.deviceId, totpCode(enrolment.secret, env.now()), null, 'My phone');
  assert.equal(result.ok, true);
  return { secret: enrolment.secret, recoveryCodes: (result.ok && result.recoveryCodes) || [] };
}

describe('the MFA service', () => {
  it('refuses a replayed TOTP code and an older one, accepts the next', async () => {
    const env = setup();
    const { secret } = await enrolled(env);
    // The enrolment's code is used up.
    const verify = (code: string) => env.mfa.verifyCode({ userGuid: GUID, account: ACCOUNT, kind: 'totp', code, address: '192.0.2.1' });
    assert.equal((await verify(totpCode(secret, env.now()))).ok, false);
    env.advance(30_000);
    const next = totpCode(secret, env.now());
    assert.deepEqual(await verify(next), { ok: true, amr: ['pwd', 'otp', 'mfa'], deviceId: (await env.mfa.listDevices(GUID))[0]?.id ?? null });
    assert.equal((await verify(next)).ok, false, 'replay within its window');
    assert.equal((await verify(totpCode(secret, new Date(env.now().getTime() - 30_000)))).ok, false, 'an older step after a newer one');
  });

  it('limits a person to 8 devices with a clear message, audited', async () => {
    const env = setup();
    for (let i = 0; i < 8; i++) {
      const e = await env.mfa.beginTotpEnrolment(GUID, ACCOUNT, `d${i}`);
      assert.ok((await env.mfa.confirmTotpEnrolment(GUID, ACCOUNT, e.deviceId, totpCode(e.secret, env.now()), null)).ok);
    }
    await assert.rejects(env.mfa.beginTotpEnrolment(GUID, ACCOUNT, 'ninth'), (error) => isAppError(error, 'mfa.device_limit') && error.message === MFA_MESSAGES.limit && error.status === 409);
    assert.match(MFA_MESSAGES.limit, /8 MFA devices/);
    assert.ok(env.events.some((e) => e.action === 'mfa.device.registered' && e.outcome === 'failure' && e.errorCode === 'mfa.device_limit'));
    // Removing one makes room.
    const [first] = await env.mfa.listDevices(GUID);
    await env.mfa.removeDevice(GUID, first?.id ?? '', 'admin');
    assert.ok(await env.mfa.beginTotpEnrolment(GUID, ACCOUNT, 'ninth'));
  });

  it('throttles wrong codes per account (a wrong code counts), even the right code while throttled', async () => {
    const env = setup();
    const { secret } = await enrolled(env);
    for (let i = 0; i < 3; i++) assert.equal((await env.mfa.verifyCode({ userGuid: GUID, account: ACCOUNT, kind: 'totp', code: '000000', address: null })).ok, false);
    env.advance(30_000);
    const throttled = await env.mfa.verifyCode({ userGuid: GUID, account: ACCOUNT, kind: 'totp', code: totpCode(secret, env.now()), address: null });
    assert.equal(throttled.ok, false);
    assert.equal(throttled.ok === false && throttled.code, 'mfa.throttled');
    // Another person is not affected.
    const other = await env.mfa.verifyCode({ userGuid: '99999999-2222-3333-4444-555555555555', account: 'bob', kind: 'recovery', code: 'aaaaa-bbbbb', address: null });
    assert.equal(other.ok === false && other.code, 'mfa.invalid_code');
  });

  it('accepts a recovery code once, in any case and with or without its dash; audits without the code', async () => {
    const env = setup();
    const { recoveryCodes } = await enrolled(env);
    assert.equal(recoveryCodes.length, 10);
    const code = recoveryCodes[3] ?? '';
    const use = (c: string) => env.mfa.verifyCode({ userGuid: GUID, account: ACCOUNT, kind: 'recovery', code: c, address: null });
    assert.equal((await use(code.replace('-', '').toUpperCase())).ok, true);
    assert.equal((await use(code)).ok, false);
    assert.equal((await env.mfa.factorsOf(GUID)).recoveryCodes, 9);
    const audited = JSON.stringify(env.events);
    for (const c of recoveryCodes) assert.ok(!audited.includes(c) && !audited.includes(c.replace('-', '')), 'no recovery code in the audit log');
  });

  it('decides the second step from the stored policy and the remembered-device cookie', async () => {
    const env = setup();
    const gate = (rememberedDevice?: string, force = false) => env.mfa.secondStep({ userGuid: GUID, clientAddress: '192.0.2.1', userAgent: 'UA', rememberedDevice, force });
    assert.equal(await gate(), 'none');
    await env.mfa.setPolicy({ ...(await env.mfa.policy()), mode: 'always', withoutDevice: 'block' }, 'admin');
    assert.equal(await gate(), 'block');
    await enrolled(env);
    assert.equal(await gate(), 'verify');
    await env.mfa.setPolicy({ ...(await env.mfa.policy()), mode: 'context-aware' }, 'admin');
    const cookie = await env.mfa.rememberBrowser({ userGuid: GUID, address: '192.0.2.1', userAgent: 'UA' });
    assert.ok(cookie);
    assert.equal(await gate(cookie.value), 'none');
    assert.equal(await gate(cookie.value, true), 'verify', 'ForceAuthn');
    await assert.rejects(env.mfa.setPolicy({ mode: 'sometimes' }, 'admin'), (error) => isAppError(error, 'mfa.policy_invalid') && error.status === 400);
    assert.deepEqual(env.events.filter((e) => e.action === 'mfa.policy.updated').map((e) => e.outcome), ['success', 'success', 'failure']);
  });

  it('asks a RADIUS verifier for a code when the policy allows it: accept, reject (counted), challenge, unavailable', async () => {
    const outcomes: RadiusOutcome[] = [{ kind: 'accept' }, { kind: 'reject', reason: 'bad code' }, { kind: 'challenge', message: 'Enter the SMS code', state: Buffer.from('s1') }, { kind: 'unavailable', error: 'timeout' }];
    const seen: Array<{ username: string; code: string; state?: Buffer }> = [];
    const env = setup({ radius: { verify: async (input) => (seen.push(input), outcomes.shift() ?? { kind: 'reject' }) } });
    const radius = (code: string, radiusState?: Buffer) => env.mfa.verifyCode({ userGuid: GUID, account: ACCOUNT, kind: 'radius', code, address: null, ...(radiusState ? { radiusState } : {}) });
    assert.equal((await radius('123456')).ok === false && 'not allowed', 'not allowed', 'radius is not in the default factors');
    await env.mfa.setPolicy({ ...(await env.mfa.policy()), mode: 'always', factors: ['radius'] }, 'admin');
    assert.equal((await env.mfa.factorsOf(GUID)).radius, true);
    assert.equal(await env.mfa.secondStep({ userGuid: GUID, clientAddress: null, userAgent: null, rememberedDevice: undefined, force: false }), 'verify', 'RADIUS counts as a factor');
    assert.deepEqual(await radius('123456'), { ok: true, amr: ['pwd', 'otp', 'mfa'], deviceId: null });
    const rejected = await radius('654321');
    assert.equal(rejected.ok === false && rejected.code, 'mfa.invalid_code');
    const challenge = await radius('111111');
    assert.equal(challenge.ok, 'challenge');
    assert.equal(challenge.ok === 'challenge' && challenge.message, 'Enter the SMS code');
    await radius('222222', Buffer.from('s1'));
    assert.equal(seen[3]?.state?.toString(), 's1', 'the challenge state goes back to the server');
    assert.deepEqual(seen.map((s) => s.username), [ACCOUNT, ACCOUNT, ACCOUNT, ACCOUNT]);
  });

  it('resets a lost phone: devices and recovery codes gone, audited', async () => {
    const env = setup();
    await enrolled(env);
    assert.equal(await env.mfa.resetDevices(GUID, 'helpdesk'), 1);
    assert.deepEqual(await env.mfa.factorsOf(GUID), { devices: [], totp: false, webauthn: false, radius: false, recoveryCodes: 0 });
    assert.ok(env.events.some((e) => e.action === 'mfa.devices.reset' && e.actor === 'helpdesk'));
    await assert.rejects(env.mfa.removeDevice(GUID, 'nope', 'helpdesk'), (error) => isAppError(error, 'mfa.device_not_found'));
  });

  it('renames a device of the person only, with the name cleaned, audited before and after', async () => {
    const env = setup();
    await enrolled(env);
    const [device] = await env.mfa.listDevices(GUID);
    assert.ok(device);
    const renamed = await env.mfa.renameDevice(GUID.toUpperCase(), device.id, '  Old\u0007 phone  ', 'helpdesk');
    assert.equal(renamed.name, 'Old phone');
    assert.equal((await env.mfa.listDevices(GUID))[0]?.name, 'Old phone');
    const event = env.events.find((e) => e.action === 'mfa.device.renamed' && e.outcome === 'success');
    assert.deepEqual(event?.details, { deviceId: device.id, before: 'My phone', after: 'Old phone' });
    assert.equal(event?.actor, 'helpdesk');
    await assert.rejects(env.mfa.renameDevice(GUID, device.id, ' \t ', 'helpdesk'), (error) => isAppError(error, 'mfa.invalid_name'));
    await assert.rejects(env.mfa.renameDevice('99999999-2222-3333-4444-555555555555', device.id, 'Mine now', 'mallory'), (error) => isAppError(error, 'mfa.device_not_found'));
    assert.equal((await env.mfa.listDevices(GUID))[0]?.name, 'Old phone');
    assert.equal(env.events.filter((e) => e.action === 'mfa.device.renamed' && e.outcome === 'failure').length, 2);
  });
});
