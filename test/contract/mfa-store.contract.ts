/**
 * The behaviour every MfaStore must have (src/mfa/mfa-store.ts): devices per objectGUID with the
 * 8-device limit, TOTP steps claimed once (also by two instances at once), recovery codes used
 * once, removal and reset.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MfaStore } from '#src/mfa/mfa-store.ts';

export interface MfaStoreHarness {
  store: MfaStore;
  /** The same storage through its own connections: another instance. */
  other: () => Promise<{ store: MfaStore; dispose: () => Promise<void> }>;
  dumpStorage(): Promise<string>;
  dispose(): Promise<void>;
}

const GUID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const T0 = new Date('2026-05-06T07:08:09.010Z');
const limits = { maxDevices: 8, staleBefore: new Date(0) };

export function mfaStoreContract(factory: () => Promise<MfaStoreHarness>): void {
  async function withStore(run: (harness: MfaStoreHarness) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness);
    } finally {
      await harness.dispose();
    }
  }

  void describe('MfaStore contract', () => {
    void it('keeps devices per objectGUID (any case), seals the TOTP secret, and confirms with a name', () =>
      withStore(async (harness) => {
        const { store } = harness;
        const added = await store.addDevice({ userGuid: GUID.toUpperCase(), type: 'totp', name: 'App', totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', confirmed: false }, T0, limits);
        assert.ok(added);
        assert.equal(added.confirmed, false);
        assert.equal(await store.totpSecret(added.id), 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
        assert.ok(!(await harness.dumpStorage()).includes('JBSWY3DPEHPK3PXP'), 'the secret is sealed at rest');
        assert.equal(await store.confirmDevice(added.id, T0, 'Phone'), true);
        assert.equal(await store.confirmDevice(added.id, T0), false);
        const [listed] = await store.listDevices(GUID);
        assert.equal(listed?.name, 'Phone');
        assert.equal(listed?.confirmed, true);
        assert.deepEqual(await store.listDevices('00000000-0000-0000-0000-000000000000'), []);
      }));

    void it('refuses a ninth device, and drops stale unconfirmed ones first', () =>
      withStore(async ({ store }) => {
        for (let i = 0; i < 8; i++) assert.ok(await store.addDevice({ userGuid: GUID, type: 'totp', name: `d${i}`, totpSecret: 'JBSWY3DPEHPK3PXP', confirmed: i > 0 }, new Date(T0.getTime() + i), limits));
        assert.equal(await store.addDevice({ userGuid: GUID, type: 'totp', name: 'ninth', totpSecret: 'JBSWY3DPEHPK3PXP', confirmed: true }, T0, limits), false);
        // The unconfirmed d0 is older than staleBefore: it gives its place.
        assert.ok(await store.addDevice({ userGuid: GUID, type: 'totp', name: 'ninth', totpSecret: 'JBSWY3DPEHPK3PXP', confirmed: true }, T0, { maxDevices: 8, staleBefore: new Date(T0.getTime() + 1) }));
        assert.equal((await store.listDevices(GUID)).length, 8);
      }));

    void it('keeps the limit when registrations of one person race on two instances', () =>
      withStore(async ({ store, other }) => {
        const second = await other();
        try {
          // Two rounds: from none, and from seven (one place left).
          const race = (n: number, tag: string) =>
            Promise.all(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? store : second.store).addDevice({ userGuid: GUID, type: 'webauthn', name: `${tag}${i}`, confirmed: true, credential: { id: `${tag}-cred-${i}`, publicKey: 'AA', counter: 0, transports: [], backupEligible: false, backedUp: false, userVerified: true } }, T0, limits)));
          const first = await race(12, 'a');
          assert.equal(first.filter(Boolean).length, 8, 'eight of twelve parallel registrations succeed');
          assert.equal((await store.listDevices(GUID)).length, 8);
          const [one] = await store.listDevices(GUID);
          assert.ok(one);
          assert.equal(await store.removeDevice(GUID, one.id), true);
          const again = await race(10, 'b');
          assert.equal(again.filter(Boolean).length, 1, 'one place left: one of ten wins');
          assert.equal((await second.store.listDevices(GUID)).length, 8);
        } finally {
          await second.dispose();
        }
      }));

    void it('claims each TOTP step once, and never an older step after a newer one', () =>
      withStore(async ({ store }) => {
        const device = await store.addDevice({ userGuid: GUID, type: 'totp', name: 'App', totpSecret: 'JBSWY3DPEHPK3PXP', confirmed: true }, T0, limits);
        assert.ok(device);
        assert.equal(await store.claimTotpStep(device.id, 1000, T0), true);
        assert.equal(await store.claimTotpStep(device.id, 1000, T0), false);
        assert.equal(await store.claimTotpStep(device.id, 999, T0), false);
        assert.equal(await store.claimTotpStep(device.id, 1001, T0), true);
        assert.equal((await store.getDevice(device.id))?.lastUsedAt?.toISOString(), T0.toISOString());
      }));

    void it('lets one of two instances claiming the same step at once win', () =>
      withStore(async ({ store, other }) => {
        const device = await store.addDevice({ userGuid: GUID, type: 'totp', name: 'App', totpSecret: 'JBSWY3DPEHPK3PXP', confirmed: true }, T0, limits);
        assert.ok(device);
        const second = await other();
        try {
          const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? store : second.store).claimTotpStep(device.id, 5000, T0)));
          assert.equal(results.filter(Boolean).length, 1);
        } finally {
          await second.dispose();
        }
      }));

    void it('renames a confirmed device of its owner only', () =>
      withStore(async ({ store }) => {
        const device = await store.addDevice({ userGuid: GUID, type: 'totp', name: 'App', totpSecret: 'JBSWY3DPEHPK3PXP', confirmed: true }, T0, limits);
        const pending = await store.addDevice({ userGuid: GUID, type: 'totp', name: 'Pending', totpSecret: 'JBSWY3DPEHPK3PXP', confirmed: false }, T0, limits);
        assert.ok(device && pending);
        assert.equal(await store.renameDevice(GUID.toUpperCase(), device.id, 'Work phone'), true);
        assert.equal((await store.getDevice(device.id))?.name, 'Work phone');
        assert.equal(await store.renameDevice('00000000-0000-0000-0000-000000000000', device.id, 'Stolen'), false);
        assert.equal(await store.renameDevice(GUID, pending.id, 'Early'), false, 'an unfinished enrolment is not renamed');
        assert.equal(await store.renameDevice(GUID, 'no-such-device', 'X'), false);
        assert.equal((await store.getDevice(device.id))?.name, 'Work phone');
      }));

    void it('uses a recovery code once, replaces the set, and resets everything', () =>
      withStore(async ({ store }) => {
        await store.replaceRecoveryCodes(GUID, ['h1', 'h2'], T0);
        assert.equal(await store.unusedRecoveryCodes(GUID), 2);
        assert.equal(await store.consumeRecoveryCode(GUID, 'h1', T0), true);
        assert.equal(await store.consumeRecoveryCode(GUID, 'h1', T0), false);
        assert.equal(await store.consumeRecoveryCode('00000000-0000-0000-0000-000000000000', 'h2', T0), false);
        assert.equal(await store.unusedRecoveryCodes(GUID), 1);
        await store.replaceRecoveryCodes(GUID, ['h3'], T0);
        assert.equal(await store.consumeRecoveryCode(GUID, 'h2', T0), false);
        assert.equal(await store.unusedRecoveryCodes(GUID), 1);

        const a = await store.addDevice({ userGuid: GUID, type: 'totp', name: 'a', totpSecret: 'JBSWY3DPEHPK3PXP', confirmed: true }, T0, limits);
        const b = await store.addDevice({
          userGuid: GUID, type: 'webauthn', name: 'key', confirmed: true,
          credential: { id: 'cred-1', publicKey: 'pk', counter: 1, transports: ['usb'], backupEligible: false, backedUp: false, userVerified: true },
        }, T0, limits);
        assert.ok(a && b);
        assert.equal((await store.findByCredentialId('cred-1'))?.id, b.id);
        await store.recordWebAuthnUse(b.id, 7, false, T0);
        assert.equal((await store.getDevice(b.id))?.credential?.counter, 7);
        assert.equal(await store.removeDevice('00000000-0000-0000-0000-000000000000', a.id), false, 'another user cannot remove it');
        assert.equal(await store.removeDevice(GUID, a.id), true);
        assert.equal(await store.removeAll(GUID), 1);
        assert.equal(await store.unusedRecoveryCodes(GUID), 0);
        assert.deepEqual(await store.listDevices(GUID), []);
      }));
  });
}
