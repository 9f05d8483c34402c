/**
 * How the engine fails: an operation throws an LdapFailure (or a store/DN error) inside, and its
 * edge turns whatever was thrown into the LdapResult AD would send, with AD's own message texts.
 * One place, so every operation answers a given failure the same way.
 */
import { isAppError } from '#src/shared/errors.ts';
import { ResultCode, type LdapResult, type ResultCodeValue } from '../backend.ts';
import { DnSyntaxError } from './dn.ts';

/** A failed operation with its LDAP result; thrown inside the engine, returned at its edge. */
export class LdapFailure extends Error {
  constructor(
    readonly resultCode: ResultCodeValue,
    message: string,
    readonly matchedDN?: string,
  ) {
    super(message);
  }
}

export const bindFailureText = (sub: string): string => `80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data ${sub}, v1db1`;
export const notBoundText =
  '000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563';
export const insufficientText = '00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0';
export const willNotPerform = (what: string): string => `0000209A: SvcErr: DSID-031A1256, problem 5003 (WILL_NOT_PERFORM): ${what}`;
export const passwordRestriction = (what: string): string => `0000052D: Constraint violation - check_password_restrictions: ${what}`;
export const wrongOldPassword = '00000056: AtrErr: DSID-03190F80, #1: 0: 00000056: unicodePwd: the old password is not correct';

function storageConflict(error: unknown): boolean {
  return isAppError(error, 'storage.conflict');
}

export function toResult(error: unknown): LdapResult {
  if (error instanceof LdapFailure) {
    return { resultCode: error.resultCode, diagnosticMessage: error.message, ...(error.matchedDN !== undefined ? { matchedDN: error.matchedDN } : {}) };
  }
  if (error instanceof DnSyntaxError) return { resultCode: ResultCode.invalidDNSyntax, diagnosticMessage: error.message };
  if (isAppError(error, 'storage.unavailable')) return { resultCode: ResultCode.unavailable, diagnosticMessage: 'the directory store is unavailable' };
  if (storageConflict(error)) return { resultCode: ResultCode.entryAlreadyExists, diagnosticMessage: '00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS), data 0' };
  // Internals stay out of the wire message.
  return { resultCode: ResultCode.other, diagnosticMessage: 'internal error' };
}
