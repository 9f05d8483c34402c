/**
 * The add operation: administrators only; the structural class decides the RDN, the
 * directory-owned attributes and the defaults (a user starts disabled without a password, in
 * Domain Users; a group is a global security group unless told otherwise); SIDs and GUIDs are
 * allocated in the same serialised write.
 */
import { filetimeNever } from '#src/directory/ad-codec.ts';
import { ResultCode, type AddRequest, type LdapResult, type Session } from '../../backend.ts';
import { categoryDn, currentPolicy, matchedDnOf, namingContextOf, type EngineContext } from '../context.ts';
import { formatDn, normalizeRdns, parentNdn, parseDn } from '../dn.ts';
import { requireAdmin } from '../membership.ts';
import { isTombstone } from '../tombstones.ts';
import { LdapFailure, passwordRestriction, toResult, willNotPerform } from '../results.ts';
import { attributeType, groupTypeBits, isValidGroupType, samAccountType, samAccountTypeForGroup, structuralClass, uacFlags, wellKnownRids, type AttributeType } from '../schema.ts';
import type { AttributeMap, AttributeValue, Credentials, StoredEntry } from '../store.ts';
import { classesOf, filetime, first, generalizedTime, int } from '../values.ts';
import { allocateSid, checkUnique, decodeValues, generatedSam, guidsOfDns, newGuid, systemAttributesOnWrite } from '../writes.ts';
import { checkNewPassword, passwordValue, requireSecurePasswordWrite } from './password.ts';

export async function add(ctx: EngineContext, session: Session, request: AddRequest): Promise<LdapResult> {
  try {
    await requireAdmin(ctx, session);
    const rdns = parseDn(request.entry);
    const rdn = rdns[0];
    if (!rdn || rdn.length !== 1) throw new LdapFailure(ResultCode.namingViolation, '00002099: NameErr: the RDN must be one attribute');
    const ndn = normalizeRdns(rdns);
    const parent = parentNdn(ndn) ?? '';
    const attributes: AttributeMap = {};
    let password: string | null = null;
    let members: AttributeValue[] = [];
    for (const { type: rawType, values } of request.attributes) {
      const type = attributeType(rawType.split(';')[0] ?? '');
      if (!type) throw new LdapFailure(ResultCode.undefinedAttributeType, `00000057: LdapErr: DSID-0C090D8A, comment: Error in attribute conversion operation, data 0, v4563: ${rawType}`);
      if (systemAttributesOnWrite.has(type.name.toLowerCase()) || type.owner === 'system' || type.owner === 'constructed') {
        throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform(`${type.name} is owned by the directory`));
      }
      if (type.syntax === 'password') {
        requireSecurePasswordWrite(ctx, session);
        if (values.length !== 1) throw new LdapFailure(ResultCode.constraintViolation, passwordRestriction('one password value expected'));
        password = passwordValue(type, values[0] as Buffer);
        continue;
      }
      const decoded = decodeValues(type, values);
      if (type.name === 'member') {
        members = [...members, ...decoded];
        continue;
      }
      const merged = [...(attributes[type.name] ?? []), ...decoded];
      if (type.single && merged.length > 1) throw new LdapFailure(ResultCode.constraintViolation, `${type.name} is single-valued`);
      attributes[type.name] = merged;
    }

    const def = structuralClass((attributes.objectClass ?? []).map(String));
    if (!def) throw new LdapFailure(ResultCode.objectClassViolation, '0000207D: UpdErr: DSID-031A0F6E, problem 6002 (OBJ_CLASS_VIOLATION): no known structural objectClass');
    if (!def.creatable) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform(`entries of class ${def.name} cannot be added`));
    const ava = rdn[0] as { type: string; value: string };
    if (ava.type.toLowerCase() !== def.rdnType) throw new LdapFailure(ResultCode.namingViolation, `00002099: NameErr: ${def.name} entries are named by ${def.rdnType.toUpperCase()}`);
    const rdnAttribute = attributeType(def.rdnType) as AttributeType;
    const given = attributes[rdnAttribute.name]?.[0];
    if (given !== undefined && given.toString().toLowerCase() !== ava.value.toLowerCase()) {
      throw new LdapFailure(ResultCode.namingViolation, `00002099: NameErr: ${rdnAttribute.name} does not match the RDN`);
    }
    if (members.length > 0 && def.name !== 'group') throw new LdapFailure(ResultCode.objectClassViolation, 'member is an attribute of groups');
    if (password !== null && def.name !== 'user') throw new LdapFailure(ResultCode.objectClassViolation, 'only users have passwords');

    const now = ctx.clock();
    attributes.objectClass = [...def.chain];
    attributes[rdnAttribute.name] = [ava.value];
    attributes.name = [ava.value];
    attributes.objectCategory = [categoryDn(ctx, def)];
    attributes.instanceType = ['4'];
    attributes.whenCreated = [generalizedTime(now)];
    attributes.whenChanged = [generalizedTime(now)];

    const result = await ctx.serialisedWrite(async (tx, usn) => {
      if (await tx.getByNdn(ndn)) throw new LdapFailure(ResultCode.entryAlreadyExists, '00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS), data 0');
      const parentEntry = await tx.getByNdn(parent);
      if (!parentEntry || isTombstone(parentEntry)) throw new LdapFailure(ResultCode.noSuchObject, '0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0', (await matchedDnOf(ctx, ndn, tx)) ?? '');
      const parentClasses = classesOf(parentEntry);
      if (parentClasses.includes('user') || parentClasses.includes('group')) {
        throw new LdapFailure(ResultCode.namingViolation, '00002099: NameErr: users and groups cannot hold entries');
      }
      if (namingContextOf(ctx, ndn) !== ctx.baseNdn) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('entries are added in the domain partition only'));
      const isUserClass = def.name === 'user';
      const isGroupClass = def.name === 'group';
      let sid: string | null = null;
      let credentials: Credentials | undefined;
      const { policy } = await currentPolicy(ctx, tx);
      if (isUserClass || isGroupClass) {
        attributes.sAMAccountName ??= [generatedSam()];
        await checkUnique(tx, attributes, null, isUserClass);
        sid = await allocateSid(ctx, tx);
      }
      if (isUserClass) {
        const uacGiven = attributes.userAccountControl !== undefined;
        const uac = uacGiven ? int(attributes, 'userAccountControl') : password === null ? uacFlags.normalAccount | uacFlags.accountDisable : uacFlags.normalAccount;
        attributes.userAccountControl = [String((uac & ~(uacFlags.lockout | uacFlags.passwordExpired)) | uacFlags.normalAccount)];
        attributes.sAMAccountType = [String(samAccountType.user)];
        const primary = int(attributes, 'primaryGroupID', wellKnownRids.domainUsers);
        if (primary !== wellKnownRids.domainUsers) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('a new user starts in Domain Users; change primaryGroupID afterwards'));
        attributes.primaryGroupID = [String(primary)];
        attributes.accountExpires ??= [filetimeNever.toString()];
        const pwdLastSetGiven = first(attributes, 'pwdLastSet');
        if (pwdLastSetGiven !== undefined && pwdLastSetGiven !== '0' && pwdLastSetGiven !== '-1') {
          throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('pwdLastSet accepts 0 or -1 only'));
        }
        attributes.pwdLastSet = [password !== null && pwdLastSetGiven !== '0' ? filetime(now) : '0'];
        attributes.badPwdCount = ['0'];
        attributes.badPasswordTime = ['0'];
        attributes.lockoutTime ??= ['0'];
        if (first(attributes, 'lockoutTime') !== '0') throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('lockoutTime accepts 0 only'));
        attributes.logonCount = ['0'];
        if (password !== null) {
          const candidate: StoredEntry = { guid: '', dn: '', ndn, parentNdn: parent, sid, usnCreated: 0, usnChanged: 0, attributes };
          await checkNewPassword(ctx, candidate, password, undefined, policy);
          credentials = { hash: await ctx.hasher.hash(password), history: [] };
        }
      } else if (isGroupClass) {
        const groupType = attributes.groupType ? int(attributes, 'groupType') : (groupTypeBits.security | groupTypeBits.global) | 0;
        if (!isValidGroupType(groupType) || ((groupType >>> 0) & groupTypeBits.builtinLocal) !== 0) {
          throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('groupType must have exactly one of global, domain-local or universal'));
        }
        attributes.groupType = [String(groupType | 0)];
        attributes.sAMAccountType = [String(samAccountTypeForGroup(groupType))];
      } else {
        for (const name of ['userAccountControl', 'primaryGroupID', 'groupType', 'pwdLastSet', 'lockoutTime', 'sAMAccountName', 'userPrincipalName']) {
          if (attributes[name]) throw new LdapFailure(ResultCode.objectClassViolation, `${name} is not an attribute of ${def.name}`);
        }
      }
      const guid = newGuid();
      const dn = formatDn(rdns);
      const memberGuids = await guidsOfDns(ctx, members, tx);
      await tx.insert({ guid, dn, ndn, parentNdn: parent, sid, usnCreated: usn, usnChanged: usn, attributes });
      if (memberGuids.length > 0) await tx.addLinks([...new Set(memberGuids)].map((member) => ({ group: guid, member })));
      if (credentials) await tx.setCredentials(guid, credentials);
      return { resultCode: ResultCode.success } satisfies LdapResult;
    });
    return result;
  } catch (error) {
    return toResult(error);
  }
}
