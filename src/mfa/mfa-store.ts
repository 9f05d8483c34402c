/**
 * What the MFA domain keeps (implemented in src/storage/). Devices are keyed on the user's
 * objectGUID. A TOTP secret goes in as plaintext and is sealed by the store under the instance
 * key; recovery codes arrive already hashed.
 */

export type FactorType = 'totp' | 'webauthn' | 'radius';
/** Factor types a person registers as a device (RADIUS codes come from the organisation's server). */
export type DeviceType = 'totp' | 'webauthn';

export interface WebAuthnCredential {
  /** base64url credential id. */
  id: string;
  /** base64url COSE public key. */
  publicKey: string;
  counter: number;
  transports: string[];
  backupEligible: boolean;
  backedUp: boolean;
  /** Whether the authenticator verified the user (PIN, biometrics) at registration. */
  userVerified: boolean;
}

export interface MfaDevice {
  id: string;
  userGuid: string;
  type: DeviceType;
  name: string;
  /** A TOTP device is usable once a first code confirmed it; WebAuthn ones at registration. */
  confirmed: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
  credential: WebAuthnCredential | null;
}

export interface NewMfaDevice {
  userGuid: string;
  type: DeviceType;
  name: string;
  /** TOTP: the base32 secret (sealed by the store). */
  totpSecret?: string;
  credential?: WebAuthnCredential;
  confirmed: boolean;
}

export interface MfaStore {
  listDevices(userGuid: string): Promise<MfaDevice[]>;
  getDevice(id: string): Promise<MfaDevice | undefined>;
  /** The device whose WebAuthn credential id this is. */
  findByCredentialId(credentialId: string): Promise<MfaDevice | undefined>;
  /**
   * Adds a device unless the user already has `maxDevices` (unconfirmed ones older than
   * `staleBefore` are dropped first); false when the limit is reached. Atomic: parallel
   * registrations of one person, on any instance, never pass the limit.
   */
  addDevice(device: NewMfaDevice, at: Date, limits: { maxDevices: number; staleBefore: Date }): Promise<MfaDevice | false>;
  /** Marks a device usable, optionally renaming it (the name is chosen on the enrolment form). */
  confirmDevice(id: string, at: Date, name?: string): Promise<boolean>;
  /** The TOTP secret, opened; undefined when the device has none. */
  totpSecret(id: string): Promise<string | undefined>;
  /**
   * Records a TOTP time step as used, atomically: true only when `step` is later than every step
   * accepted before for this device (a code is accepted once, and never an older one after it).
   */
  claimTotpStep(id: string, step: number, at: Date): Promise<boolean>;
  /** A WebAuthn assertion's new signature counter and the device's last use. */
  recordWebAuthnUse(id: string, counter: number, backedUp: boolean, at: Date): Promise<void>;
  markUsed(id: string, at: Date): Promise<void>;
  /** Renames a confirmed device of this user; false when there is none. */
  renameDevice(userGuid: string, id: string, name: string): Promise<boolean>;
  removeDevice(userGuid: string, id: string): Promise<boolean>;
  /** Removes every device and recovery code of the user; returns how many devices. */
  removeAll(userGuid: string): Promise<number>;
  replaceRecoveryCodes(userGuid: string, hashes: readonly string[], at: Date): Promise<void>;
  /** Marks an unused recovery code used, atomically; false when it is unknown or used. */
  consumeRecoveryCode(userGuid: string, hash: string, at: Date): Promise<boolean>;
  unusedRecoveryCodes(userGuid: string): Promise<number>;
}
