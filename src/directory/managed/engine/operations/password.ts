/**
 * Password writes: the policy and history checks every write of a password passes, a change by
 * someone who knows the old password (lockout accounting, minimum age), an administrator's reset,
 * and the RFC 3062 password-modify extended operation. add and modify call in here for the
 * password parts of their requests.
 */
import { filetimeToDate } from '#src/directory/ad-codec.ts';
import { ResultCode, type LdapResult, type PasswordModifyRequest, type Session } from '../../backend.ts';
import { fakeVerify, resolveAccountName, verifyAccountPassword } from '../accounts.ts';
import { currentPolicy, entryByDn, type EngineContext } from '../context.ts';
import { tryNormalizeDn } from '../dn.ts';
import { isAdministrator } from '../membership.ts';
import { decodeUnicodePwd, generatePassword, passwordProblem } from '../password.ts';
import type { DirectoryPolicy } from '../policy.ts';
import { insufficientText, LdapFailure, passwordRestriction, toResult, willNotPerform, wrongOldPassword } from '../results.ts';
import type { AttributeType } from '../schema.ts';
import type { Credentials, StoredEntry } from '../store.ts';
import { bigint, filetime, first, generalizedTime, isUser } from '../values.ts';

export async function checkNewPassword(ctx: EngineContext, entry: StoredEntry, password: string, credentials: Credentials | undefined, policy: DirectoryPolicy): Promise<void> {
  const problem = passwordProblem(password, { minLength: policy.minPwdLength, complexity: policy.complexity }, first(entry.attributes, 'sAMAccountName') ?? null);
  if (problem) throw new LdapFailure(ResultCode.constraintViolation, passwordRestriction(problem));
  if (policy.pwdHistoryLength > 0 && credentials?.hash) {
    const previous = [credentials.hash, ...credentials.history].slice(0, policy.pwdHistoryLength);
    const reused = await Promise.all(previous.map((hash) => ctx.verify(password, hash)));
    if (reused.some(Boolean)) throw new LdapFailure(ResultCode.constraintViolation, passwordRestriction('the password was used before (password history)'));
  }
}

export function newCredentials(hash: string, previous: Credentials | undefined, policy: DirectoryPolicy): Credentials {
  const history = previous?.hash ? [previous.hash, ...previous.history] : [...(previous?.history ?? [])];
  return { hash, history: history.slice(0, Math.max(policy.pwdHistoryLength - 1, 0)) };
}

export function requireSecurePasswordWrite(ctx: EngineContext, session: Session): void {
  if (ctx.requireSecure && !session.secure) {
    throw new LdapFailure(ResultCode.unwillingToPerform, '0000001F: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0: password changes need a TLS connection');
  }
}

/** The password a unicodePwd (quoted UTF-16LE) or userPassword (UTF-8) value carries. */
export function passwordValue(type: AttributeType, value: Buffer): string {
  if (type.name === 'unicodePwd') {
    const decoded = decodeUnicodePwd(value);
    if (decoded === null) throw new LdapFailure(ResultCode.constraintViolation, '00000057: unicodePwd must be the quoted password in UTF-16LE');
    return decoded;
  }
  return value.toString('utf8');
}

/** A change (the old password is known): lockout accounting on a wrong old password, minimum age for users. */
export async function changePassword(ctx: EngineContext, target: StoredEntry, oldPassword: string, newPassword: string, byAdmin: boolean): Promise<void> {
  const verification = await verifyAccountPassword(ctx, '', oldPassword, target);
  if (!verification.ok) {
    if (verification.sub === '775') throw new LdapFailure(ResultCode.constraintViolation, '00000775: the account is locked out');
    throw new LdapFailure(ResultCode.constraintViolation, wrongOldPassword);
  }
  await ctx.serialisedWrite(async (tx, usn) => {
    const [entry] = await tx.getByGuids([target.guid]);
    if (!entry) throw new LdapFailure(ResultCode.noSuchObject, 'the entry was removed');
    const { policy } = await currentPolicy(ctx, tx);
    const now = ctx.clock();
    const lastSet = bigint(entry.attributes, 'pwdLastSet');
    if (!byAdmin && policy.minPwdAgeMs > 0 && lastSet > 0n && now.getTime() < filetimeToDate(lastSet).getTime() + policy.minPwdAgeMs) {
      throw new LdapFailure(ResultCode.constraintViolation, passwordRestriction('the password was changed too recently (minimum password age)'));
    }
    const previous = await tx.getCredentials(entry.guid);
    await checkNewPassword(ctx, entry, newPassword, previous, policy);
    const credentials = newCredentials(await ctx.hasher.hash(newPassword), previous, policy);
    const attributes = { ...entry.attributes, pwdLastSet: [filetime(now)], whenChanged: [generalizedTime(now)], badPwdCount: ['0'] };
    await tx.update({ ...entry, attributes, usnChanged: usn });
    await tx.setCredentials(entry.guid, credentials);
    ctx.verifiedPasswords.forget(entry.guid);
  });
}

/** An administrator's reset: no old password, no minimum age. */
async function resetPassword(ctx: EngineContext, target: StoredEntry, newPassword: string): Promise<void> {
  await ctx.serialisedWrite(async (tx, usn) => {
    const [entry] = await tx.getByGuids([target.guid]);
    if (!entry) throw new LdapFailure(ResultCode.noSuchObject, 'the entry was removed');
    const { policy } = await currentPolicy(ctx, tx);
    const previous = await tx.getCredentials(entry.guid);
    await checkNewPassword(ctx, entry, newPassword, previous, policy);
    const credentials = newCredentials(await ctx.hasher.hash(newPassword), previous, policy);
    const now = ctx.clock();
    await tx.update({ ...entry, attributes: { ...entry.attributes, pwdLastSet: [filetime(now)], whenChanged: [generalizedTime(now)] }, usnChanged: usn });
    await tx.setCredentials(entry.guid, credentials);
    ctx.verifiedPasswords.forget(entry.guid);
  });
}

/** The RFC 3062 password-modify extended operation. */
export async function passwordModify(ctx: EngineContext, session: Session, request: PasswordModifyRequest): Promise<{ result: LdapResult; genPassword?: string }> {
  try {
    if (ctx.requireSecure && !session.secure) throw new LdapFailure(ResultCode.confidentialityRequired, 'password changes need a TLS connection');
    const admin = await isAdministrator(ctx, session);
    let target: StoredEntry | undefined;
    if (request.userIdentity !== undefined && request.userIdentity !== '') {
      target = await resolveAccountName(ctx, request.userIdentity);
      if (!target) {
        // Unknown and wrong are indistinguishable to someone without rights.
        if (!admin) {
          await fakeVerify(ctx, request.oldPassword ?? '');
          throw new LdapFailure(ResultCode.constraintViolation, wrongOldPassword);
        }
        throw new LdapFailure(ResultCode.noSuchObject, 'no such user');
      }
    } else {
      if (session.boundDn === null) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('bind first or name the user'));
      target = await entryByDn(ctx, session.boundDn);
      if (!target || !isUser(target)) throw new LdapFailure(ResultCode.noSuchObject, 'the bound entry is not a user');
    }
    const self = session.boundDn !== null && tryNormalizeDn(session.boundDn) === target.ndn;
    const generated = request.newPassword === undefined ? generatePassword() : null;
    const newPassword = request.newPassword ?? (generated as string);
    if (admin && request.oldPassword === undefined) {
      // An administrator's reset.
      await resetPassword(ctx, target, newPassword);
    } else {
      // A change by the user (bound or not: "must change password" users cannot bind) or an admin who knows the old one.
      if (request.oldPassword === undefined) {
        throw new LdapFailure(self ? ResultCode.unwillingToPerform : ResultCode.insufficientAccessRights, self ? willNotPerform('the old password is required') : insufficientText);
      }
      await changePassword(ctx, target, request.oldPassword, newPassword, admin !== null);
    }
    return generated === null ? { result: { resultCode: ResultCode.success } } : { result: { resultCode: ResultCode.success }, genPassword: generated };
  } catch (error) {
    return { result: toResult(error) };
  }
}
