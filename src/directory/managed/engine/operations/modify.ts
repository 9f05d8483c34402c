/**
 * The modify operation: administrators change any writable attribute (with the rules of
 * pwdLastSet, lockoutTime, userAccountControl, groupType, primaryGroupID and member), and a user
 * may change their own password by the delete-old/add-new pair AD defines. On a tombstone, only
 * AD's undelete is accepted (administrators): delete isDeleted, replace distinguishedName.
 */
import { ResultCode, type LdapResult, type Modification, type Session } from '../../backend.ts';
import { currentPolicy, entryByDn, matchedDnOf, type EngineContext } from '../context.ts';
import { tryNormalizeDn } from '../dn.ts';
import { isAdministrator, requireAdmin, requireBound } from '../membership.ts';
import { insufficientText, LdapFailure, toResult, willNotPerform } from '../results.ts';
import { attributeType, isValidGroupType, samAccountTypeForGroup, structuralClass, uacFlags, type AttributeType } from '../schema.ts';
import { indexKey, type AttributeMap, type AttributeValue, type Credentials, type StoredEntry } from '../store.ts';
import { classesOf, filetime, first, generalizedTime, isGroup, isUser } from '../values.ts';
import { checkUnique, decodeValues, guidsOfDns, sameValue, systemAttributesOnWrite } from '../writes.ts';
import { isTombstone, reanimate } from '../tombstones.ts';
import { changePassword, checkNewPassword, newCredentials, passwordValue, requireSecurePasswordWrite } from './password.ts';

function isPasswordChangePair(changes: Modification[]): boolean {
  if (changes.length !== 2) return false;
  const [a, b] = changes as [Modification, Modification];
  const pwd = (m: Modification): boolean => attributeType(m.type.split(';')[0] ?? '')?.syntax === 'password';
  return pwd(a) && pwd(b) && a.operation === 'delete' && b.operation === 'add' && a.values.length === 1 && b.values.length === 1;
}

/** AD's undelete: [delete isDeleted, replace distinguishedName: <where it comes back>], in either order. */
async function undelete(ctx: EngineContext, session: Session, target: StoredEntry, changes: Modification[]): Promise<LdapResult> {
  await requireAdmin(ctx, session);
  const named = (name: string): Modification | undefined => changes.find((c) => c.type.split(';')[0]?.toLowerCase() === name);
  const isDeleted = named('isdeleted');
  const newDn = named('distinguishedname');
  if (changes.length !== 2 || isDeleted?.operation !== 'delete' || newDn?.operation !== 'replace' || newDn.values.length !== 1) {
    throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('a deleted object only accepts a restore: delete isDeleted and replace distinguishedName'));
  }
  return ctx.serialisedWrite(async (tx, usn) => {
    const [entry] = await tx.getByGuids([target.guid]);
    if (!entry || !isTombstone(entry)) throw new LdapFailure(ResultCode.noSuchObject, 'the deleted object is gone (restored or purged)');
    await reanimate(ctx, tx, entry, (newDn.values[0] as Buffer).toString('utf8'), usn);
    return { resultCode: ResultCode.success } satisfies LdapResult;
  });
}

export async function modify(ctx: EngineContext, session: Session, dn: string, changes: Modification[]): Promise<LdapResult> {
  try {
    requireBound(session);
    const target = await entryByDn(ctx, dn, ctx.store, true);
    if (target && isTombstone(target)) return await undelete(ctx, session, target, changes);
    if (!target) {
      const ndn = tryNormalizeDn(dn);
      if (ndn === null) throw new LdapFailure(ResultCode.invalidDNSyntax, 'invalid DN');
      throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0', (await matchedDnOf(ctx, ndn)) ?? '');
    }
    const admin = await isAdministrator(ctx, session);
    const self = session.boundDn !== null && tryNormalizeDn(session.boundDn) === target.ndn;
    const changePair = isPasswordChangePair(changes);
    if (!admin && !(self && changePair)) throw new LdapFailure(ResultCode.insufficientAccessRights, insufficientText);

    if (changePair) {
      requireSecurePasswordWrite(ctx, session);
      const [del, addition] = changes as [Modification, Modification];
      const oldPassword = passwordValue(attributeType(del.type) as AttributeType, del.values[0] as Buffer);
      const newPassword = passwordValue(attributeType(addition.type) as AttributeType, addition.values[0] as Buffer);
      await changePassword(ctx, target, oldPassword, newPassword, admin !== null);
      return { resultCode: ResultCode.success };
    }

    return await ctx.serialisedWrite(async (tx, usn) => {
      const [entry] = await tx.getByGuids([target.guid]);
      if (!entry) throw new LdapFailure(ResultCode.noSuchObject, 'the entry was removed');
      const { policy } = await currentPolicy(ctx, tx);
      const def = structuralClass(classesOf(entry));
      const attributes: AttributeMap = { ...entry.attributes };
      const user = isUser(entry);
      const group = isGroup(entry);
      let memberGuids: Set<string> | null = null;
      const linkChanges: { add: string[]; remove: string[] } = { add: [], remove: [] };
      let newPassword: string | null = null;
      const now = ctx.clock();

      const currentMembers = async (): Promise<Set<string>> => {
        memberGuids ??= new Set((await tx.linksOfGroups([entry.guid])).map((l) => l.member));
        return memberGuids;
      };

      for (const change of changes) {
        const type = attributeType(change.type.split(';')[0] ?? '');
        if (!type) throw new LdapFailure(ResultCode.undefinedAttributeType, `00000057: ${change.type} is not an attribute of this directory`);
        const name = type.name;
        const lower = name.toLowerCase();
        if (type.owner === 'system' || type.owner === 'constructed' || systemAttributesOnWrite.has(lower)) {
          throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform(`${name} is owned by the directory`));
        }
        if (def && lower === def.rdnType) throw new LdapFailure(ResultCode.notAllowedOnRDN, `00002016: ${name} names the entry: use modifyDN`);
        if (lower === 'objectclass') throw new LdapFailure(ResultCode.objectClassViolation, '0000207D: objectClass cannot change');
        if (type.syntax === 'password') {
          if (!user) throw new LdapFailure(ResultCode.objectClassViolation, 'only users have passwords');
          requireSecurePasswordWrite(ctx, session);
          if (change.operation !== 'replace' || change.values.length !== 1) {
            throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('set a password with replace, or change it with delete old + add new'));
          }
          newPassword = passwordValue(type, change.values[0] as Buffer);
          continue;
        }
        if (name === 'member') {
          if (!group) throw new LdapFailure(ResultCode.objectClassViolation, 'member is an attribute of groups');
          const members = await currentMembers();
          const guids = await guidsOfDns(ctx, decodeValues(type, change.values), tx);
          if (change.operation === 'add') {
            for (const guid of guids) {
              if (members.has(guid)) throw new LdapFailure(ResultCode.entryAlreadyExists, '00000562: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS): already a member');
              members.add(guid);
              linkChanges.add.push(guid);
            }
          } else if (change.operation === 'delete' && guids.length > 0) {
            for (const guid of guids) {
              if (!members.has(guid)) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('00000561: not a member'));
              members.delete(guid);
              linkChanges.remove.push(guid);
            }
          } else {
            const wanted = new Set(guids);
            for (const guid of members) if (!wanted.has(guid)) linkChanges.remove.push(guid);
            for (const guid of wanted) if (!members.has(guid)) linkChanges.add.push(guid);
            memberGuids = wanted;
          }
          continue;
        }
        const decoded = decodeValues(type, change.values);
        const existing = attributes[name] ?? [];
        let next: AttributeValue[];
        switch (change.operation) {
          case 'add':
            for (const value of decoded) {
              if (existing.some((v) => sameValue(type, v, value))) throw new LdapFailure(ResultCode.attributeOrValueExists, `00002083: AtrErr: ${name}: the value exists`);
            }
            next = [...existing, ...decoded];
            break;
          case 'delete':
            if (existing.length === 0) throw new LdapFailure(ResultCode.noSuchAttribute, `00002080: AtrErr: ${name} has no value`);
            if (decoded.length === 0) next = [];
            else {
              for (const value of decoded) {
                if (!existing.some((v) => sameValue(type, v, value))) throw new LdapFailure(ResultCode.noSuchAttribute, `${name}: no such value`);
              }
              next = existing.filter((v) => !decoded.some((d) => sameValue(type, v, d)));
            }
            break;
          case 'replace':
            next = decoded;
            break;
        }
        if (type.single && next.length > 1) throw new LdapFailure(ResultCode.constraintViolation, `${name} is single-valued`);
        // Attributes with rules of their own.
        if (name === 'pwdLastSet') {
          if (!user) throw new LdapFailure(ResultCode.objectClassViolation, 'pwdLastSet is an attribute of users');
          const value = next[0]?.toString();
          if (next.length !== 1 || (value !== '0' && value !== '-1')) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('pwdLastSet accepts 0 or -1 only'));
          next = [value === '0' ? '0' : filetime(now)];
        } else if (name === 'lockoutTime') {
          if (next.length !== 1 || next[0]?.toString() !== '0') throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('lockoutTime accepts 0 only (unlock)'));
          attributes.badPwdCount = ['0'];
        } else if (name === 'userAccountControl') {
          if (!user || next.length !== 1) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('userAccountControl is required on users only'));
          const uac = Number(next[0]);
          next = [String((uac & ~(uacFlags.lockout | uacFlags.passwordExpired)) | uacFlags.normalAccount)];
        } else if (name === 'groupType') {
          const value = Number(next[0]);
          if (!group || next.length !== 1 || !isValidGroupType(value)) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('groupType must name one scope'));
          attributes.sAMAccountType = [String(samAccountTypeForGroup(value))];
        } else if (name === 'primaryGroupID') {
          if (!user || next.length !== 1) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('primaryGroupID is required on users'));
          const { domainSid } = await currentPolicy(ctx, tx);
          const primary = (await tx.lookup('objectSid', indexKey('objectSid', `${domainSid ?? ''}-${next[0]?.toString() ?? ''}`)))[0];
          const direct = primary ? (await tx.linksOfMembers([entry.guid])).some((l) => l.group === primary.guid) : false;
          if (!primary || !isGroup(primary) || !direct) {
            throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('the primary group must be a group the user is a member of'));
          }
        } else if ((name === 'sAMAccountName' || name === 'userPrincipalName') && !(user || group)) {
          throw new LdapFailure(ResultCode.objectClassViolation, `${name} is an attribute of users and groups`);
        } else if (name === 'sAMAccountName' && next.length === 0) {
          throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('sAMAccountName is required'));
        }
        if (next.length === 0) delete attributes[name];
        else attributes[name] = next;
      }

      await checkUnique(tx, attributes, entry.guid, user);
      attributes.whenChanged = [generalizedTime(now)];
      let credentials: Credentials | undefined;
      if (newPassword !== null) {
        const previous = await tx.getCredentials(entry.guid);
        await checkNewPassword(ctx, { ...entry, attributes }, newPassword, previous, policy);
        credentials = newCredentials(await ctx.hasher.hash(newPassword), previous, policy);
        // An admin reset may ask for "must change" with pwdLastSet=0 in the same request.
        const explicitZero = changes.some((c) => c.type.toLowerCase() === 'pwdlastset') && first(attributes, 'pwdLastSet') === '0';
        if (!explicitZero) attributes.pwdLastSet = [filetime(now)];
      }
      await tx.update({ ...entry, attributes, usnChanged: usn });
      if (linkChanges.remove.length > 0) await tx.removeLinks(linkChanges.remove.map((member) => ({ group: entry.guid, member })));
      if (linkChanges.add.length > 0) await tx.addLinks(linkChanges.add.map((member) => ({ group: entry.guid, member })));
      if (credentials) {
        await tx.setCredentials(entry.guid, credentials);
        // The old hash no longer matches anything; this only frees its cache entries sooner.
        ctx.verifiedPasswords.forget(entry.guid);
      }
      return { resultCode: ResultCode.success } satisfies LdapResult;
    });
  } catch (error) {
    return toResult(error);
  }
}
