/**
 * Changing one's own password where Portico owns the directory (the managed directory): the way
 * out for a person told "your password has expired" or "you must change your password", who
 * cannot bind until they do. RFC 3062 Password Modify with the old password, as the user, on
 * the engine in-process. A connected AD is never written to: its users change passwords in AD.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { SignInThrottle } from '#src/auth/throttle.ts';
import type { DirectoryBackend } from '#src/directory/managed/backend.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';

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
  throttle: SignInThrottle;
  audit: AuditLog;
  clock?: () => Date;
}): PasswordChangeService {
  const clock = deps.clock ?? (() => new Date());
  let sequence = 0;

  async function done(request: PasswordChangeRequest, result: PasswordChangeResult, details: Record<string, unknown> = {}): Promise<PasswordChangeResult> {
    await deps.audit.record({
      actor: 'anonymous',
      action: 'auth.password_change',
      target: request.username.slice(0, 256),
      outcome: result.ok ? 'success' : 'failure',
      errorCode: result.ok ? null : result.code,
      details: { clientAddress: request.clientAddress, ...details },
    });
    return result;
  }
  const failure = (code: PasswordChangeFailureCode, message: string, retryAfterSeconds: number | null = null): PasswordChangeResult => ({ ok: false, code, message, retryAfterSeconds });

  return {
    async change(request) {
      const username = request.username.trim();
      if (!username || !request.oldPassword || !request.newPassword || username.length > 256 || request.newPassword.length > 256 || request.oldPassword.length > 1024) {
        return done(request, failure('auth.invalid_request', 'Enter your user name, your current password and a new password.'));
      }
      const now = clock();
      const gate = await deps.throttle.check(username, request.clientAddress, now);
      if (!gate.allowed) {
        const seconds = Math.ceil(gate.retryAfterMs / 1000);
        return done(request, failure('auth.throttled', `Too many failed attempts. Try again in ${Math.ceil(seconds / 60)} minutes.`, seconds));
      }
      const session = { id: `password-change-${++sequence}`, boundDn: null, secure: true, remoteAddress: request.clientAddress ?? 'portico' };
      const { result } = await deps.engine.passwordModify(session, { userIdentity: username, oldPassword: request.oldPassword, newPassword: request.newPassword });
      if (result.resultCode === ResultCode.success) {
        await deps.throttle.recordSuccess(username, request.clientAddress);
        return done(request, { ok: true });
      }
      const diagnostic = result.diagnosticMessage ?? '';
      if (diagnostic.startsWith('00000775')) return done(request, failure('auth.account_locked', 'Your account is locked after too many failed attempts. Try again later, or ask your administrator to unlock it.'));
      if (diagnostic.startsWith('0000052D')) {
        // The policy's own words: length, complexity, history or minimum age.
        const rule = diagnostic.replace(/^0000052D: Constraint violation - check_password_restrictions: /, '');
        return done(request, failure('auth.password_rejected', `The new password does not meet the password policy: ${rule}.`), { rule });
      }
      await deps.throttle.recordFailure(username, request.clientAddress, now);
      return done(request, failure('auth.invalid_credentials', 'The user name or current password is incorrect.'), { resultCode: result.resultCode });
    },
  };
}
