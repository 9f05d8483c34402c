/**
 * Tombstones, as AD keeps them: a delete moves the entry under CN=Deleted Objects with
 * isDeleted=TRUE and most attributes stripped (objectGUID, objectSid, uSN* kept; uSNChanged
 * bumped), so a reader tracking changes (the AD sync) sees the deletion with the Show Deleted
 * control (1.2.840.113556.1.4.417). Tombstones older than the retention period
 * (tombstoneLifetime, AD's default 180 days) are purged.
 *
 * Who sees them: administrators (Domain Admins, BUILTIN\Administrators) and the accounts named in
 * the engine's `deletedObjectReaders` (Portico's own service account, which the sync binds as). For
 * anyone else the control is ignored and tombstones stay invisible, as AD does for accounts without
 * rights on CN=Deleted Objects. Without the control nobody sees them, nor can bind as, modify,
 * delete, move or add under them.
 *
 * Restore ("undelete") is AD's modify on the tombstone: delete isDeleted, replace
 * distinguishedName with the DN to come back at. The entry comes back with the same objectGUID
 * and objectSid. Unlike an AD tombstone without the Recycle Bin, the stripped attributes, the
 * password and the memberships are kept aside (never readable over LDAP) and given back, as the
 * Recycle Bin does: a restored user signs in as before and is in their groups again.
 */
import { guidToString } from '#src/directory/ad-codec.ts';
import { ResultCode, type Session } from '../backend.ts';
import { categoryDn, namingContextOf, type EngineContext } from './context.ts';
export { defaultTombstoneLifetimeDays } from './context.ts';
import { formatRdn, normalizeDn, normalizeRdn, parentNdn, parseDn, type Rdn } from './dn.ts';
import { isAdministrator } from './membership.ts';
import { LdapFailure, willNotPerform } from './results.ts';
import { attributeType, objectClassDef, structuralClass, type AttributeType, type ObjectClassDef } from './schema.ts';
import { decodeAttributes, encodeAttributes, type AttributeMap, type DirectoryWrites, type MembershipLink, type StoredEntry } from './store.ts';
import { classesOf, first, generalizedTime } from './values.ts';
import { checkUnique, newGuid } from './writes.ts';

/** LDAP_SERVER_SHOW_DELETED_OID. */
export const showDeletedOid = '1.2.840.113556.1.4.417';
/**
 * Where a tombstone keeps what a restore gives back. Not an attribute type of the schema, so no
 * search returns it, no filter tests it and no write can set it.
 */
const keptAside = 'portico-keptForRestore';

interface KeptAside {
  dn: string;
  deletedAt: number;
  attributes: string;
  links: MembershipLink[];
}

export function isTombstone(entry: Pick<StoredEntry, 'attributes'>): boolean {
  return first(entry.attributes, 'isDeleted') === 'TRUE';
}

export function deletedObjectsDn(ctx: EngineContext): string {
  return `CN=Deleted Objects,${ctx.baseDn}`;
}

/** Whether a search with the Show Deleted control shows this session tombstones. */
export async function mayListDeleted(ctx: EngineContext, session: Session): Promise<boolean> {
  if (session.boundDn === null) return false;
  if (await isAdministrator(ctx, session)) return true;
  if (ctx.deletedObjectReaders.size === 0) return false;
  const bound = await ctx.store.getByNdn(normalizeDn(session.boundDn));
  const sam = bound && !isTombstone(bound) ? first(bound.attributes, 'sAMAccountName')?.toLowerCase() : undefined;
  return sam !== undefined && ctx.deletedObjectReaders.has(sam);
}

/** CN=Deleted Objects, created at the first delete of a directory provisioned before tombstones. */
async function deletedObjects(ctx: EngineContext, tx: DirectoryWrites): Promise<StoredEntry> {
  const dn = deletedObjectsDn(ctx);
  const ndn = normalizeDn(dn);
  const found = await tx.getByNdn(ndn);
  if (found) return found;
  const def = objectClassDef('container') as ObjectClassDef;
  const usn = await tx.nextCounter('usn');
  const stamp = generalizedTime(ctx.clock());
  const entry: StoredEntry = {
    guid: newGuid(),
    dn,
    ndn,
    parentNdn: ctx.baseNdn,
    sid: null,
    usnCreated: usn,
    usnChanged: usn,
    // As in AD, the container is itself deleted: only Show Deleted shows it.
    attributes: {
      objectClass: [...def.chain],
      cn: ['Deleted Objects'],
      name: ['Deleted Objects'],
      objectCategory: [categoryDn(ctx, def)],
      instanceType: ['4'],
      isDeleted: ['TRUE'],
      isCriticalSystemObject: ['TRUE'],
      showInAdvancedViewOnly: ['TRUE'],
      whenCreated: [stamp],
      whenChanged: [stamp],
    },
  };
  await tx.insert(entry);
  return entry;
}


/** Turns a leaf entry into its tombstone (the caller checked it may be deleted). */
export async function tombstone(ctx: EngineContext, tx: DirectoryWrites, entry: StoredEntry, usn: number): Promise<void> {
  const container = await deletedObjects(ctx, tx);
  const links = [...(await tx.linksOfGroups([entry.guid])), ...(await tx.linksOfMembers([entry.guid]))];
  if (links.length > 0) await tx.removeLinks(links);
  const ava = parseDn(entry.dn)[0]?.[0] ?? { type: 'CN', value: entry.guid };
  const rdnType = attributeType(ava.type)?.name ?? 'cn';
  // AD's tombstone RDN: the old value, a line feed, DEL:<objectGUID> (unique, so never a clash).
  const rdn: Rdn = [{ type: ava.type.toUpperCase(), value: `${ava.value}\nDEL:${guidToString(Buffer.from(entry.guid, 'hex'))}` }];
  const parent = entry.parentNdn === null ? undefined : await tx.getByNdn(entry.parentNdn);
  const now = ctx.clock();
  const kept: KeptAside = { dn: entry.dn, deletedAt: now.getTime(), attributes: encodeAttributes(entry.attributes), links };
  const attributes: AttributeMap = {
    objectClass: entry.attributes.objectClass ?? [],
    [rdnType]: [rdn[0]?.value ?? ''],
    name: [rdn[0]?.value ?? ''],
    isDeleted: ['TRUE'],
    ...(parent ? { lastKnownParent: [parent.dn] } : {}),
    instanceType: entry.attributes.instanceType ?? ['4'],
    whenCreated: entry.attributes.whenCreated ?? [],
    whenChanged: [generalizedTime(now)],
    [keptAside]: [JSON.stringify(kept)],
  };
  await tx.update({ ...entry, dn: `${formatRdn(rdn)},${container.dn}`, ndn: `${normalizeRdn(rdn)},${container.ndn}`, parentNdn: container.ndn, usnChanged: usn, attributes });
}

/**
 * Brings a tombstone back at `targetDn` with its objectGUID, objectSid, attributes, password and
 * the memberships whose other end still exists. The parent must exist (restore parents first, as
 * in AD); sAMAccountName and userPrincipalName must still be free.
 */
export async function reanimate(ctx: EngineContext, tx: DirectoryWrites, entry: StoredEntry, targetDn: string, usn: number): Promise<void> {
  const raw = entry.attributes[keptAside]?.[0];
  if (raw === undefined) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('this object cannot be restored'));
  const kept = JSON.parse(raw.toString()) as KeptAside;
  let rdns: Rdn[];
  let ndn: string;
  try {
    rdns = parseDn(targetDn);
    ndn = normalizeDn(targetDn);
  } catch {
    throw new LdapFailure(ResultCode.invalidDNSyntax, '0000208F: NameErr: the restore target is not a DN');
  }
  const attributes = decodeAttributes(kept.attributes);
  const def = structuralClass(classesOf({ ...entry, attributes }));
  const rdn = rdns[0];
  const ava = rdn?.[0];
  if (!def || !rdn || rdn.length !== 1 || !ava || ava.type.toLowerCase() !== def.rdnType) {
    throw new LdapFailure(ResultCode.namingViolation, `00002099: NameErr: this entry is named by ${def?.rdnType.toUpperCase() ?? 'CN'}`);
  }
  const parent = parentNdn(ndn);
  const parentEntry = parent === null ? undefined : await tx.getByNdn(parent);
  if (!parentEntry || isTombstone(parentEntry)) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: the parent of the restore target does not exist (restore it first)');
  if (namingContextOf(ctx, ndn) !== ctx.baseNdn) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('objects are restored in the domain partition only'));
  const parentClasses = classesOf(parentEntry);
  if (parentClasses.includes('user') || parentClasses.includes('group')) throw new LdapFailure(ResultCode.namingViolation, '00002099: users and groups cannot hold entries');
  if (await tx.getByNdn(ndn)) throw new LdapFailure(ResultCode.entryAlreadyExists, '00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS), data 0');
  const isUserClass = def.name === 'user';
  if (isUserClass || def.name === 'group') await checkUnique(tx, attributes, entry.guid, isUserClass);
  attributes[(attributeType(def.rdnType) as AttributeType).name] = [ava.value];
  attributes.name = [ava.value];
  attributes.whenChanged = [generalizedTime(ctx.clock())];
  await tx.update({ ...entry, dn: `${formatRdn(rdn)},${parentEntry.dn}`, ndn, parentNdn: parentEntry.ndn, usnChanged: usn, attributes });
  const others = [...new Set(kept.links.map((l) => (l.group === entry.guid ? l.member : l.group)))];
  const live = new Set((await tx.getByGuids(others)).filter((e) => !isTombstone(e)).map((e) => e.guid));
  const links = kept.links.filter((l) => live.has(l.group === entry.guid ? l.member : l.group));
  if (links.length > 0) await tx.addLinks(links);
}

/** Removes tombstones older than the retention period; returns how many. */
export async function purgeTombstones(ctx: EngineContext): Promise<number> {
  const containerNdn = normalizeDn(deletedObjectsDn(ctx));
  const cutoff = ctx.clock().getTime() - ctx.tombstoneLifetimeMs;
  let purged = 0;
  for (let cursor = 0; ; ) {
    const batch = await ctx.store.scan({ parent: containerNdn, afterUsn: cursor, limit: 500 });
    const expired = batch.filter((e) => {
      const raw = e.attributes[keptAside]?.[0];
      return raw !== undefined && (JSON.parse(raw.toString()) as KeptAside).deletedAt <= cutoff;
    });
    if (expired.length > 0) {
      await ctx.store.transaction(async (tx) => {
        for (const e of expired) {
          // Re-read inside the transaction: a restore may have taken it meanwhile.
          const [current] = await tx.getByGuids([e.guid]);
          if (current && isTombstone(current) && current.parentNdn === containerNdn) {
            await tx.remove(current.guid);
            purged += 1;
          }
        }
      });
    }
    if (batch.length < 500) break;
    cursor = (batch[batch.length - 1] as StoredEntry).usnCreated;
  }
  return purged;
}
