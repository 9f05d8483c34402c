/**
 * The sign-in contract between the HTTP face (page and JSON API) and the flow behind it
 * (throttle → bind → mappings → upsert → groups → session, see sign-in-flow.ts).
 */
import type { IdentityUser } from '#src/identity-store/user.ts';
import type { Session } from '#src/sessions/session-store.ts';

export interface SignInRequest {
  /** UPN, DOMAIN\name or sAMAccountName. */
  username: string;
  password: string;
  clientAddress: string | null;
  userAgent: string | null;
  /** The browser's remembered-device cookie (context-aware MFA), when it sent one. */
  rememberedDevice?: string | undefined;
  /** A fresh authentication was asked for (ForceAuthn, prompt=login): no remembered device counts. */
  force?: boolean;
}

/**
 * The second step after a good password (implemented by src/mfa/): nothing, verify a factor,
 * register one first, or no sign-in at all (the policy blocks people without a device).
 */
export type SecondStepGate = (input: {
  userGuid: string;
  clientAddress: string | null;
  userAgent: string | null;
  rememberedDevice: string | undefined;
  force: boolean;
}) => Promise<'none' | 'verify' | 'enrol' | 'block'>;

/** Stable reasons, each with a message the person can act on (see signInMessages). */
export type SignInFailureCode =
  | 'auth.invalid_credentials'
  | 'auth.account_disabled'
  | 'auth.account_locked'
  | 'auth.account_expired'
  | 'auth.password_expired'
  | 'auth.password_must_change'
  | 'auth.not_permitted'
  | 'auth.throttled'
  | 'auth.directory_unavailable'
  | 'auth.directory_refused'
  | 'directory.trust_unavailable'
  | 'identity.mapping_value_missing'
  | 'identity.email_conflict'
  | 'auth.invalid_request'
  | 'mfa.blocked'
  | 'mfa.unavailable';

export type SignInResult =
  | { ok: true; token: string; session: Session; user: IdentityUser; /** What the person must still do before the session counts (absent: nothing). */ secondStep?: 'verify' | 'enrol' | null }
  | { ok: false; code: SignInFailureCode; message: string; retryAfterSeconds: number | null };

export interface SignInService {
  signIn(request: SignInRequest): Promise<SignInResult>;
}
