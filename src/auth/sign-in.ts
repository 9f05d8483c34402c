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
}

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
  | 'auth.invalid_request';

export type SignInResult =
  | { ok: true; token: string; session: Session; user: IdentityUser }
  | { ok: false; code: SignInFailureCode; message: string; retryAfterSeconds: number | null };

export interface SignInService {
  signIn(request: SignInRequest): Promise<SignInResult>;
}
