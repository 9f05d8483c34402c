/**
 * The compare operation: an attribute value tested against an entry's view, with the same
 * matching rules a search filter uses (DN values by their normal form); passwords never compare.
 */
import { ResultCode, type LdapResult, type Session } from '../../backend.ts';
import { currentPolicy, entryByDn, type EngineContext } from '../context.ts';
import { tryNormalizeDn } from '../dn.ts';
import { compileFilter } from '../filter.ts';
import { requireBound, resolverFor } from '../membership.ts';
import { insufficientText, LdapFailure, toResult } from '../results.ts';
import { attributeType } from '../schema.ts';
import { linksOf, viewOf } from '../views.ts';

export async function compare(ctx: EngineContext, session: Session, dn: string, attribute: string, value: Buffer): Promise<LdapResult> {
  try {
    requireBound(session);
    const entry = await entryByDn(ctx, dn);
    if (!entry) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0');
    const type = attributeType(attribute.split(';')[0] ?? '');
    if (!type) throw new LdapFailure(ResultCode.undefinedAttributeType, `${attribute} is not an attribute of this directory`);
    if (type.syntax === 'password') throw new LdapFailure(ResultCode.insufficientAccessRights, insufficientText);
    const { policy } = await currentPolicy(ctx);
    const links = type.name === 'member' || type.name === 'memberOf' ? await linksOf(ctx, entry) : undefined;
    const view = viewOf(ctx, entry, { policy, now: ctx.clock(), ...(links ? { links } : {}) });
    if (view.values(type).length === 0) throw new LdapFailure(ResultCode.noSuchAttribute, `${type.name} has no value`);
    const compiled = await compileFilter({ type: 'equality', attribute: type.name, value }, resolverFor(ctx));
    const matches = type.name === 'member' || type.name === 'memberOf' ? view.values(type).some((v) => tryNormalizeDn(v.toString()) === tryNormalizeDn(value.toString('utf8'))) : compiled.test(view) === true;
    return { resultCode: matches ? ResultCode.compareTrue : ResultCode.compareFalse };
  } catch (error) {
    return toResult(error);
  }
}
