/**
 * What the sign-in and password-change flows count a failed attempt against (issue 12): the
 * directory account a spelling resolved to, whatever the spelling, so that switching between
 * `alice`, `CORP\alice`, `ALICE@corp.example.test` or her DN cannot sidestep the per-account
 * limit; a spelling that designates no account is counted as that spelling. The limit stays
 * strictly below the lockout threshold that applies to the account (its fine-grained password
 * policy's where the directory exposes it), so Portico cannot be used to lock AD accounts.
 */
import { accountSubject, nameSubject, type ThrottleFailureDetails } from './throttle.ts';
import type { ResolvedAccount } from '#src/directory/types.ts';

export interface ThrottleTarget {
  subject: string;
  /** The account's own limit (threshold − 1) when it has one; the throttle keeps the lower of it and its configured limit. */
  maxFailures: number | undefined;
  details: ThrottleFailureDetails;
}

export function throttleTarget(spelling: string, account: ResolvedAccount | null, guid: string | undefined = account?.guid): ThrottleTarget {
  const threshold = account?.lockoutThreshold ?? null;
  const maxFailures = threshold !== null && threshold > 0 ? Math.max(1, threshold - 1) : undefined;
  const label = account?.userPrincipalName ?? (account ? `${account.samAccountName}@${account.domain}` : spelling.trim());
  return {
    subject: guid ? accountSubject(guid) : nameSubject(spelling),
    maxFailures,
    details: { label, ...(maxFailures !== undefined ? { maxFailures } : {}) },
  };
}

/**
 * Why a sign-in or password change naming the directory service account is refused before any
 * bind (for the audit; the person is answered as for a wrong password): Portico's own identity
 * never signs in as a user, or wrong passwords would lock it and take sign-in down for everyone.
 */
export function serviceAccountRefusal(account: ResolvedAccount): Record<string, unknown> {
  return { reason: 'the name designates the directory service account; refused before any bind', serviceAccount: account.guid };
}
