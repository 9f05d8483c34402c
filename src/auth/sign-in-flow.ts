/**
 * Sign-in with AD credentials (the sign-in domain's use case):
 * resolve the name to its account (cached) → throttle that account → one bind as the user, then
 * the user's own entry and tokenGroups read on that connection → attribute mappings
 * (provisioning/jit.ts) → transitive groups (SIDs named from the connector's group cache) → in one
 * transaction: JIT-provision the identity-store record, open the session, audit.
 * A failure at any step leaves the previous record as it was.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { SecondStepGate, SignInFailureCode, SignInRequest, SignInResult, SignInService } from './sign-in.ts';
import type { SignInThrottle } from './throttle.ts';
import type { FailureFloor } from './failure-floor.ts';
import type { AuthenticationResult, DirectoryConnector, DirectoryUser, ResolvedAccount, TransitiveGroups } from '#src/directory/types.ts';
import { referencedAttributes, type MappingTable } from '#src/identity-store/mappings.ts';
import type { IdentityUserWriter, ProvisionedUser } from '#src/identity-store/user.ts';
import { mapDirectoryUser, provisionUser } from '#src/provisioning/jit.ts';
import type { Session, SessionStore } from '#src/sessions/index.ts';
import { prepareSession } from '#src/sessions/index.ts';
import { AppError, isAppError, type ErrorCode } from '#src/shared/errors.ts';
import { serviceAccountRefusal, throttleTarget } from './throttle-target.ts';

/** What the flow writes atomically. */
export interface SignInTransaction {
  users: IdentityUserWriter;
  sessions: SessionStore;
  audit: AuditLog;
}

export type TransactionRunner = <T>(work: (tx: SignInTransaction) => Promise<T>) => Promise<T>;


export interface SignInFlowDependencies {
  /** The identity source's connector, or null while it is not connected. */
  directory: () => DirectoryConnector | null;
  /** Why the configured directory was refused at connect time (failed validation); null otherwise. */
  refusedBecause?: () => string | null;
  /** How this directory tells people to change a password (the managed directory offers a page). */
  passwordChange: 'portico' | 'active-directory';
  mappings: () => Promise<MappingTable>;
  throttle: SignInThrottle;
  transaction: TransactionRunner;
  audit: AuditLog;
  sessionDurationMs: () => number;
  clock?: () => Date;
  onError?: (error: unknown) => void;
  /** Holds failures to the usual wrong-password time, so that timing does not tell which names exist. */
  failureFloor?: FailureFloor | null;
  /** Multi-factor authentication after the password; absent: a password session. */
  secondStep?: SecondStepGate | null;
}

const maxUsernameLength = 256;
const maxPasswordLength = 1024;

export function signInMessage(code: SignInFailureCode, passwordChange: 'portico' | 'active-directory', retryAfterSeconds: number | null = null): string {
  const changeIt = passwordChange === 'portico' ? 'Change it on the password page, then sign in again.' : 'Change it in Active Directory (for example from a domain-joined computer), then sign in again.';
  switch (code) {
    case 'auth.invalid_credentials':
      return 'The username or password is incorrect.';
    case 'auth.account_disabled':
      return 'Your account is disabled. Contact your administrator.';
    case 'auth.account_locked':
      return 'Your account is locked after too many failed sign-ins. Try again later, or ask your administrator to unlock it.';
    case 'auth.account_expired':
      return 'Your account has expired. Contact your administrator.';
    case 'auth.password_expired':
      return `Your password has expired. ${changeIt}`;
    case 'auth.password_must_change':
      return `You must change your password before you sign in. ${changeIt}`;
    case 'auth.not_permitted':
      return 'Your account may not sign in at this time or from here (an Active Directory logon restriction). Contact your administrator.';
    case 'auth.throttled':
      return `Too many failed sign-ins. Try again in ${formatWait(retryAfterSeconds ?? 60)}.`;
    case 'auth.directory_unavailable':
      return 'The directory cannot be reached right now. Try again in a few minutes.';
    case 'auth.directory_refused':
      return "Sign-in is unavailable: the directory was refused by Portico's configuration (it failed validation). Contact your administrator.";
    case 'directory.trust_unavailable':
      return "Your organisation's directory cannot be reached right now. Try again in a few minutes.";
    case 'identity.mapping_value_missing':
      return 'Your account is missing information Portico needs to sign you in. Contact your administrator.';
    case 'identity.email_conflict':
      return 'Your email address is already used by another account. Contact your administrator.';
    case 'auth.invalid_request':
      return 'Enter your username and password.';
    case 'mfa.blocked':
      return 'Your organisation requires multi-factor authentication, and no MFA device is registered for your account. Ask your administrator to register one.';
    case 'mfa.unavailable':
      return 'Multi-factor authentication is unavailable right now. Try again in a few minutes.';
  }
}

function formatWait(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.ceil(seconds))} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

const bindFailures: Record<string, SignInFailureCode> = {
  invalidCredentials: 'auth.invalid_credentials',
  disabled: 'auth.account_disabled',
  locked: 'auth.account_locked',
  expired: 'auth.account_expired',
  passwordExpired: 'auth.password_expired',
  mustChangePassword: 'auth.password_must_change',
  notPermitted: 'auth.not_permitted',
};

export function createSignInFlow(deps: SignInFlowDependencies): SignInService {
  const clock = deps.clock ?? (() => new Date());

  async function fail(
    request: SignInRequest,
    code: SignInFailureCode,
    details: Record<string, unknown> = {},
    retryAfterSeconds: number | null = null,
  ): Promise<SignInResult> {
    await deps.audit.record({
      actor: typeof details.guid === 'string' ? details.guid : 'anonymous',
      action: 'auth.user.signed_in',
      target: request.username.slice(0, maxUsernameLength),
      outcome: 'failure',
      errorCode: code,
      details: { clientAddress: request.clientAddress, ...details },
    });
    await deps.failureFloor?.hold(request, { code, source: details.controller });
    return { ok: false, code, message: signInMessage(code, deps.passwordChange, retryAfterSeconds), retryAfterSeconds };
  }

  async function signIn(request: SignInRequest): Promise<SignInResult> {
    deps.failureFloor?.begin(request);
    const username = request.username.trim();
    if (username.length === 0 || username.length > maxUsernameLength || request.password.length === 0 || request.password.length > maxPasswordLength) {
      return fail(request, username.length === 0 || request.password.length === 0 ? 'auth.invalid_request' : 'auth.invalid_credentials');
    }
    const address = request.clientAddress;
    const now = clock();
    const directory = deps.directory();
    if (directory === null) {
      const refused = deps.refusedBecause?.() ?? null;
      return refused === null ? fail(request, 'auth.directory_unavailable', { reason: 'the identity source is not connected' }) : fail(request, 'auth.directory_refused', { reason: refused });
    }

    // Failures count against the account whatever spelling reached it (a repeat name costs no round trip).
    let account: ResolvedAccount | null;
    try {
      account = await directory.resolveAccount(username);
    } catch (error) {
      return fail(request, directoryFailure(error), { reason: reasonOf(error) });
    }
    if (account?.serviceAccount) return fail(request, 'auth.invalid_credentials', serviceAccountRefusal(account));
    const target = throttleTarget(username, account);
    const gate = await deps.throttle.check(target.subject, address, now, target.maxFailures);
    if (!gate.allowed) {
      // Never reaches the directory: Portico cannot be used to lock AD accounts.
      return fail(request, 'auth.throttled', { scope: gate.scope, subject: target.subject }, Math.ceil(gate.retryAfterMs / 1000));
    }

    const mappings = await deps.mappings();
    // The admitted attempt holds a throttle slot until it is settled (a failure, a success), or
    // released: parallel attempts cannot put more wrong passwords in flight than the limit.
    let settled = false;
    let user: DirectoryUser;
    try {
      let result: AuthenticationResult;
      try {
        result = await directory.authenticate(username, request.password, { attributes: referencedAttributes(mappings), account });
      } catch (error) {
        return await fail(request, directoryFailure(error), { reason: reasonOf(error) });
      }
      if (result.outcome !== 'ok') {
        // Counted against the account the directory checked the password of (the entry read alongside).
        const counted = throttleTarget(username, account, result.guid ?? account?.guid);
        if (result.outcome === 'invalidCredentials') {
          await deps.throttle.recordFailure(counted.subject, address, now, counted.details);
          settled = counted.subject === target.subject;
        }
        return await fail(request, bindFailures[result.outcome] ?? 'auth.invalid_credentials', { subCode: result.subCode, controller: result.controller, subject: counted.subject });
      }
      user = result.user;
      // The bind is the authority, but an account AD reports unusable is not let in either.
      if (user.account.state !== 'ok') {
        return await fail(request, bindFailures[user.account.state] ?? 'auth.not_permitted', { guid: user.guid, from: 'attributes' });
      }
      const succeeded = throttleTarget(username, account, user.guid).subject;
      await deps.throttle.recordSuccess(succeeded, address);
      settled = succeeded === target.subject;
    } finally {
      if (!settled) await deps.throttle.release(target.subject, now);
    }

    let groups: TransitiveGroups;
    let provisioned: ProvisionedUser;
    try {
      provisioned = mapDirectoryUser(mappings, user);
      groups = await directory.groupsOf(user);
    } catch (error) {
      const code: SignInFailureCode = isAppError(error, 'identity.mapping_value_missing') ? 'identity.mapping_value_missing' : directoryFailure(error);
      return fail(request, code, { guid: user.guid, reason: reasonOf(error), ...(isAppError(error) ? error.details : {}) });
    }

    let secondStep: 'verify' | 'enrol' | null = null;
    if (deps.secondStep) {
      let step: Awaited<ReturnType<SecondStepGate>>;
      try {
        step = await deps.secondStep({ userGuid: user.guid, clientAddress: request.clientAddress, userAgent: request.userAgent, rememberedDevice: request.rememberedDevice, force: request.force ?? false });
      } catch (error) {
        deps.onError?.(error);
        return fail(request, 'mfa.unavailable', { guid: user.guid, reason: reasonOf(error) });
      }
      if (step === 'block') return fail(request, 'mfa.blocked', { guid: user.guid });
      secondStep = step === 'none' ? null : step;
    }

    try {
      const { upsert, session, token } = await deps.transaction(async (tx) => {
        const at = clock();
        const upsert = await provisionUser(tx, provisioned, at);
        const prepared = prepareSession(
          {
            userId: upsert.user.userId,
            userGuid: user.guid,
            data: {
              userName: upsert.user.userName,
              displayName: upsert.user.displayName,
              groups: groups.groups.map((g) => ({ guid: g.guid, qualifiedName: g.qualifiedName })),
              groupsTruncated: groups.truncated,
              clientAddress: request.clientAddress,
              userAgent: request.userAgent?.slice(0, 512) ?? null,
              authn: { amr: ['pwd'], passwordAt: at.toISOString(), mfaAt: null, pending: secondStep },
            },
          },
          at,
          deps.sessionDurationMs(),
        );
        const session = await tx.sessions.create(prepared.session, at);
        await tx.audit.record({
          actor: user.guid,
          action: 'auth.user.signed_in',
          target: upsert.user.userName,
          outcome: 'success',
          details: { userId: upsert.user.userId, clientAddress: request.clientAddress, groups: groups.groups.length, groupsTruncated: groups.truncated, sessionId: session.id, secondStep },
        });
        return { upsert, session, token: prepared.token };
      });
      return { ok: true, token, session: session satisfies Session, user: upsert.user, secondStep };
    } catch (error) {
      if (isAppError(error, 'identity.email_conflict')) {
        return fail(request, 'identity.email_conflict', { guid: user.guid, ...error.details });
      }
      deps.onError?.(error);
      throw error;
    }
  }

  return { signIn };
}

const unavailableCodes: ReadonlySet<ErrorCode> = new Set(['directory.unreachable', 'directory.timeout', 'directory.tls_failed', 'directory.service_account_rejected', 'directory.protocol_error']);

function directoryFailure(error: unknown): SignInFailureCode {
  if (isAppError(error, 'directory.trust_unavailable')) return 'directory.trust_unavailable';
  if (isAppError(error) && unavailableCodes.has(error.code)) return 'auth.directory_unavailable';
  if (isAppError(error, 'directory.ambiguous_user')) return 'auth.invalid_credentials';
  if (error instanceof AppError) return 'auth.directory_unavailable';
  throw error;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
