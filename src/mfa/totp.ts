/**
 * TOTP as authenticator apps expect it (RFC 6238): SHA-1, 6 digits, 30-second steps, one step of
 * drift either way. Pure: which time step a code matches; whether that step was already used is
 * the store's (claimTotpStep), so that replay is refused across instances.
 */
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps of clock drift accepted either side of now. */
export const TOTP_WINDOW = 1;

/** A new random 160-bit secret (RFC 4226's recommended length), base32. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totp(secret: string, label = 'user', issuer = 'Portico'): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(secret) });
}

/** The otpauth:// URI an authenticator app reads from the QR code. */
export function totpUri(secret: string, account: string, issuer: string): string {
  return totp(secret, account, issuer).toString();
}

export function totpStep(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

/** Normalises what a person typed (spaces and dashes allowed); null when it cannot be a code. */
export function normaliseTotpCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(code) ? code : null;
}

/** The time step `code` belongs to, within the drift window around `at`; null when it matches none. */
export function matchTotp(secret: string, code: string, at: Date): number | null {
  const normalised = normaliseTotpCode(code);
  if (normalised === null) return null;
  const delta = totp(secret).validate({ token: normalised, timestamp: at.getTime(), window: TOTP_WINDOW });
  return delta === null ? null : totpStep(at) + delta;
}

/** The code for a time (tests and tools). */
export function totpCode(secret: string, at: Date): string {
  return totp(secret).generate({ timestamp: at.getTime() });
}
