/**
 * The modify-DN operation: rename and move within a partition, descendants renamed with their
 * parent in the same transaction. Links are kept by GUID, so no member value goes stale.
 */
import { ResultCode, type LdapResult, type ModifyDnRequest, type Session } from '../../backend.ts';
import { matchedDnOf, namingContextOf, type EngineContext } from '../context.ts';
import { formatDn, formatRdn, isWithin, normalizeDn, normalizeRdn, parentNdn, parseDn, type Rdn } from '../dn.ts';
import { requireAdmin } from '../membership.ts';
import { LdapFailure, toResult, willNotPerform } from '../results.ts';
import { attributeType, structuralClass, type AttributeType } from '../schema.ts';
import type { StoredEntry } from '../store.ts';
import { isTombstone } from '../tombstones.ts';
import { classesOf, generalizedTime } from '../values.ts';

export async function modifyDn(ctx: EngineContext, session: Session, request: ModifyDnRequest): Promise<LdapResult> {
  try {
    await requireAdmin(ctx, session);
    const ndn = normalizeDn(request.entry);
    const newRdns = parseDn(request.newRdn);
    if (newRdns.length !== 1 || (newRdns[0] as Rdn).length !== 1) throw new LdapFailure(ResultCode.namingViolation, '00002099: NameErr: the new RDN must be one attribute');
    const newRdn = newRdns[0] as Rdn;
    return await ctx.serialisedWrite(async (tx, usn) => {
      const entry = await tx.getByNdn(ndn);
      if (!entry || isTombstone(entry)) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0', (await matchedDnOf(ctx, ndn, tx)) ?? '');
      if (ctx.namingContexts.includes(entry.ndn) || entry.parentNdn === null) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('naming-context roots cannot move'));
      const def = structuralClass(classesOf(entry));
      const ava = newRdn[0] as { type: string; value: string };
      if (!def || ava.type.toLowerCase() !== def.rdnType) throw new LdapFailure(ResultCode.namingViolation, `00002099: NameErr: this entry is named by ${def?.rdnType.toUpperCase() ?? 'CN'}`);
      let parentEntry: StoredEntry | undefined;
      if (request.newSuperior !== undefined && request.newSuperior !== '') {
        parentEntry = await tx.getByNdn(normalizeDn(request.newSuperior));
        if (!parentEntry) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: the new superior does not exist');
      } else {
        parentEntry = await tx.getByNdn(entry.parentNdn);
      }
      if (!parentEntry || isTombstone(parentEntry)) throw new LdapFailure(ResultCode.noSuchObject, 'the parent does not exist');
      if (isWithin(parentEntry.ndn, entry.ndn)) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('an entry cannot move below itself'));
      if (namingContextOf(ctx, parentEntry.ndn) !== namingContextOf(ctx, entry.ndn)) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('entries cannot move across partitions'));
      const parentClasses = classesOf(parentEntry);
      if (parentClasses.includes('user') || parentClasses.includes('group')) throw new LdapFailure(ResultCode.namingViolation, '00002099: users and groups cannot hold entries');
      const newNdn = `${normalizeRdn(newRdn)},${parentEntry.ndn}`;
      const newDn = `${formatRdn(newRdn)},${parentEntry.dn}`;
      if (newNdn !== entry.ndn && (await tx.getByNdn(newNdn))) throw new LdapFailure(ResultCode.entryAlreadyExists, '00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS), data 0');
      const rdnAttribute = (attributeType(def.rdnType) as AttributeType).name;
      const now = ctx.clock();
      // Descendants first (their DNs hang off the old one); links are by GUID and need nothing.
      const descendants: StoredEntry[] = [];
      for (let cursor = 0; ; ) {
        const batch = await tx.scan({ subtree: entry.ndn, afterUsn: cursor, limit: 500 });
        descendants.push(...batch.filter((e) => e.guid !== entry.guid));
        if (batch.length < 500) break;
        cursor = (batch[batch.length - 1] as StoredEntry).usnCreated;
      }
      const oldDepth = parseDn(entry.dn).length;
      await tx.update({
        ...entry,
        dn: newDn,
        ndn: newNdn,
        parentNdn: parentEntry.ndn,
        usnChanged: usn,
        attributes: { ...entry.attributes, [rdnAttribute]: [ava.value], name: [ava.value], whenChanged: [generalizedTime(now)] },
      });
      for (const descendant of descendants) {
        const rdns = parseDn(descendant.dn);
        const own = rdns.slice(0, rdns.length - oldDepth);
        const dn = [formatDn(own), newDn].join(',');
        const dNdn = normalizeDn(dn);
        await tx.update({ ...descendant, dn, ndn: dNdn, parentNdn: parentNdn(dNdn) });
      }
      return { resultCode: ResultCode.success } satisfies LdapResult;
    });
  } catch (error) {
    return toResult(error);
  }
}
