/**
 * The delete operation: administrators only, leaves only, never a critical system object or a
 * naming-context root. The entry becomes a tombstone under CN=Deleted Objects (tombstones.ts),
 * its links dropped, with a new uSNChanged so that change tracking sees the deletion.
 */
import { ResultCode, type LdapResult, type Session } from '../../backend.ts';
import { matchedDnOf, type EngineContext } from '../context.ts';
import { normalizeDn } from '../dn.ts';
import { requireAdmin } from '../membership.ts';
import { LdapFailure, toResult, willNotPerform } from '../results.ts';
import { isTombstone, tombstone } from '../tombstones.ts';
import { first } from '../values.ts';

export async function remove(ctx: EngineContext, session: Session, dn: string): Promise<LdapResult> {
  try {
    await requireAdmin(ctx, session);
    const ndn = normalizeDn(dn);
    return await ctx.serialisedWrite(async (tx, usn) => {
      const entry = await tx.getByNdn(ndn);
      if (!entry || isTombstone(entry)) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0', (await matchedDnOf(ctx, ndn, tx)) ?? '');
      if (first(entry.attributes, 'isCriticalSystemObject') === 'TRUE' || ctx.namingContexts.includes(entry.ndn)) {
        throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('critical system objects cannot be deleted'));
      }
      if (await tx.hasChildren(ndn)) throw new LdapFailure(ResultCode.notAllowedOnNonLeaf, '00002015: UpdErr: DSID-031A1236, problem 6003 (CANT_ON_NON_LEAF), data 0');
      await tombstone(ctx, tx, entry, usn);
      ctx.verifiedPasswords.forget(entry.guid);
      return { resultCode: ResultCode.success } satisfies LdapResult;
    });
  } catch (error) {
    return toResult(error);
  }
}
