/**
 * The simple bind: AD's answers and sub-codes (52e wrong, 775 locked, 533 disabled, 701 expired
 * account, 773 must change, 532 expired password), TLS required, lockout accounting and the hash
 * upgrade through accounts.ts.
 */
import { filetimeNever, filetimeToDate } from '#src/directory/ad-codec.ts';
import { ResultCode, type LdapResult, type Session } from '../../backend.ts';
import { passwordExpired, recordGoodPassword, upgradeHash, verifyAccountPassword } from '../accounts.ts';
import type { EngineContext } from '../context.ts';
import { bindFailureText, toResult } from '../results.ts';
import { uacFlags } from '../schema.ts';
import { bigint, int } from '../values.ts';

export async function bind(ctx: EngineContext, session: Session, name: string, password: Buffer): Promise<{ result: LdapResult; boundDn?: string | null }> {
  const invalid = (sub: string): { result: LdapResult; boundDn: null } => ({
    result: { resultCode: ResultCode.invalidCredentials, diagnosticMessage: bindFailureText(sub) },
    boundDn: null,
  });
  try {
    if (name === '' && password.length === 0) return { result: { resultCode: ResultCode.success }, boundDn: null };
    // Windows treats a name with an empty password as an anonymous bind; we refuse it instead.
    if (name === '' || password.length === 0) return invalid('52e');
    if (ctx.requireSecure && !session.secure) {
      return { result: { resultCode: ResultCode.strongerAuthRequired, diagnosticMessage: 'BindSimple: Transport encryption required.' }, boundDn: null };
    }
    const verification = await verifyAccountPassword(ctx, name, password.toString('utf8'));
    if (!verification.ok) return invalid(verification.sub);
    const { entry, policy } = verification;
    const now = ctx.clock();
    const uac = int(entry.attributes, 'userAccountControl');
    if (uac & uacFlags.accountDisable) return invalid('533');
    const expires = bigint(entry.attributes, 'accountExpires');
    if (expires !== 0n && expires !== filetimeNever && filetimeToDate(expires).getTime() <= now.getTime()) return invalid('701');
    if (!(uac & uacFlags.dontExpirePassword)) {
      if (bigint(entry.attributes, 'pwdLastSet') === 0n) return invalid('773');
      if (passwordExpired(entry.attributes, policy, now)) return invalid('532');
    }
    await recordGoodPassword(ctx, entry);
    await upgradeHash(ctx, entry, verification.hash, password.toString('utf8'));
    return { result: { resultCode: ResultCode.success }, boundDn: entry.dn };
  } catch (error) {
    return { result: toResult(error), boundDn: null };
  }
}
