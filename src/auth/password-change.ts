/**
 * Changing one's own password where Portico owns the directory (the managed directory): the way
 * out for a person told "your password has expired" or "you must change your password", who
 * cannot bind until they do. RFC 3062 Password Modify with the old password, as the user, on
 * the engine in-process. A connected AD is never written to: its users change passwords in AD.
 * Like sign-in, the name is resolved to its account first and failures count against the account
 * whatever the spelling (UPN, DOMAIN\sam, DN …); the service account is never changed here.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { SignInThrottle } from './throttle.ts';
import type { FailureFloor } from './failure-floor.ts';
import type { DirectoryBackend } from '#src/directory/managed/backend.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';
import type { ResolvedAccount } from '#src/directory/types.ts';
import { serviceAccountRefusal, throttleTarget } from './throttle-target.ts';

export interface PasswordChangeRequest {
  username: string;
  oldPassword: string;
  newPassword: string;
  clientAddress: string | null;
}

export type PasswordChangeFailureCode = 'auth.invalid_credentials' | 'auth.account_locked' | 'auth.password_rejected' | 'auth.throttled' | 'auth.invalid_request';

export type PasswordChangeResult = { ok: true } | { ok: false; code: PasswordChangeFailureCode; message: string; retryAfterSeconds: number | null };

export interface PasswordChangeService {
  change(request: PasswordChangeRequest): Promise<PasswordChangeResult>;
}

export function createManagedPasswordChange(deps: {
  engine: Pick<DirectoryBackend, 'passwordModify'>;
  /** The directory's resolution of any spelling to its account (the connector's resolveAccount). */
  resolveAccount: (name: string) => Promise<ResolvedAccount | null>;
  throttle: SignInThrottle;
  audit: AuditLog;
  clock?: () => Date;
  /** Holds failures to the usual wrong-password time (the engine's own source), as at sign-in. */
  failureFloor?: FailureFloor | null;
}): PasswordChangeService {
  const clock = deps.clock ?? (() => new Date());
  let sequence = 0;

  async function done(request: PasswordChangeRequest, result: PasswordChangeResult, details: Record<string, unknown> = {}): Promise<PasswordChangeResult> {
    await deps.audit.record({
      actor: 'anonymous',
      action: 'auth.password.changed',
      target: request.username.slice(0, 256),
      outcome: result.ok ? 'success' : 'failure',
      errorCode: result.ok ? null : result.code,
      details: { clientAddress: request.clientAddress, ...details },
    });
    if (!result.ok) await deps.failureFloor?.hold(request, { code: result.code, source: 'managed-password-change' });
    return result;
  }
  const failure = (code: PasswordChangeFailureCode, message: string, retryAfterSeconds: number | null = null): PasswordChangeResult => ({ ok: false, code, message, retryAfterSeconds });

  return {
    async change(request) {
      deps.failureFloor?.begin(request);
      const username = request.username.trim();
      if (!username || !request.oldPassword || !request.newPassword || username.length > 256 || request.newPassword.length > 256 || request.oldPassword.length > 1024) {
        return done(request, failure('auth.invalid_request', 'Enter your user name, your current password and a new password.'));
      }
      const now = clock();
      const wrong = failure('auth.invalid_credentials', 'The user name or current password is incorrect.');
      const account = await deps.resolveAccount(username);
      if (account?.serviceAccount) {
        return done(request, wrong, serviceAccountRefusal(account));
      }
      const target = throttleTarget(username, account);
      const gate = await deps.throttle.check(target.subject, request.clientAddress, now, target.maxFailures);
      if (!gate.allowed) {
        const seconds = Math.ceil(gate.retryAfterMs / 1000);
        return done(request, failure('auth.throttled', `Too many failed attempts. Try again in ${Math.ceil(seconds / 60)} minutes.`, seconds), { subject: target.subject });
      }
      // The admitted attempt holds a throttle slot until it is settled or released (see the sign-in flow).
      let settled = false;
      try {
        const session = { id: `password-change-${++sequence}`, boundDn: null, secure: true, remoteAddress: request.clientAddress ?? 'portico' };
        // The account throttled is the account changed: it is named by its DN, not by the spelling typed.
        const userIdentity = account?.dn ?? username;
        const { result } = await deps.engine.passwordModify(session, { userIdentity, oldPassword: request.oldPassword, newPassword: request.newPassword });
        if (result.resultCode === ResultCode.success) {
          await deps.throttle.recordSuccess(target.subject, request.clientAddress);
          settled = true;
          return await done(request, { ok: true });
        }
        const diagnostic = result.diagnosticMessage ?? '';
        if (diagnostic.startsWith('00000775')) return await done(request, failure('auth.account_locked', 'Your account is locked after too many failed attempts. Try again later, or ask your administrator to unlock it.'));
        if (diagnostic.startsWith('0000052D')) {
          // The policy's own words: length, complexity, history or minimum age.
          const rule = diagnostic.replace(/^0000052D: Constraint violation - check_password_restrictions: /, '');
          return await done(request, failure('auth.password_rejected', `The new password does not meet the password policy: ${rule}.`), { rule });
        }
        await deps.throttle.recordFailure(target.subject, request.clientAddress, now, target.details);
        settled = true;
        return await done(request, wrong, { resultCode: result.resultCode, subject: target.subject });
      } finally {
        if (!settled) await deps.throttle.release(target.subject, now);
      }
    },
  };
}
