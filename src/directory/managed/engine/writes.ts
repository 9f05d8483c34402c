/**
 * What add and modify share: which attributes the directory owns, decoding written values by
 * their syntax, value equality, member DNs to GUIDs, the uniqueness of sAMAccountName and
 * userPrincipalName, and new GUIDs, SIDs and generated account names.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { ResultCode } from '../backend.ts';
import { currentPolicy, entryByDn, type EngineContext } from './context.ts';
import { formatDn, parseDn, tryNormalizeDn } from './dn.ts';
import { LdapFailure, willNotPerform } from './results.ts';
import { firstUserRid, type AttributeType } from './schema.ts';
import { indexKey, type AttributeMap, type AttributeValue, type DirectoryReads, type DirectoryWrites } from './store.ts';
import { controlCharacters, first, toBuffer } from './values.ts';

const samForbidden = /["/\\[\]:;|=,+*?<>@]/;
export const systemAttributesOnWrite = new Set(['objectguid', 'objectsid', 'usncreated', 'usnchanged', 'whencreated', 'whenchanged', 'distinguishedname', 'memberof', 'samaccounttype', 'objectcategory', 'badpwdcount', 'badpasswordtime', 'name', 'instancetype', 'isdeleted']);

function validateSam(value: string, user: boolean): void {
  if (value.length === 0 || samForbidden.test(value) || controlCharacters.test(value) || value.endsWith('.') || (user && value.length > 20) || value.length > 256) {
    throw new LdapFailure(ResultCode.constraintViolation, `0000052D: sAMAccountName ${JSON.stringify(value)} is not valid`);
  }
}

/** Text values of a write, checked against the syntax. */
export function decodeValues(type: AttributeType, values: Buffer[]): AttributeValue[] {
  return values.map((value) => {
    switch (type.syntax) {
      case 'binary':
      case 'guid':
      case 'sid':
        return Buffer.from(value);
      case 'int':
      case 'int64': {
        const text = value.toString('utf8').trim();
        if (!/^-?\d+$/.test(text)) throw new LdapFailure(ResultCode.invalidAttributeSyntax, `00000057: ${type.name}: ${JSON.stringify(text)} is not an integer`);
        const n = BigInt(text);
        if (type.syntax === 'int' && (n < -2147483648n || n > 4294967295n)) throw new LdapFailure(ResultCode.invalidAttributeSyntax, `00000057: ${type.name} is out of range`);
        // 32-bit values are stored signed, as AD returns them (groupType -2147483646).
        return type.syntax === 'int' ? String(Number(n) | 0) : n.toString();
      }
      case 'bool': {
        const text = value.toString('utf8').toUpperCase();
        if (text !== 'TRUE' && text !== 'FALSE') throw new LdapFailure(ResultCode.invalidAttributeSyntax, `00000057: ${type.name} must be TRUE or FALSE`);
        return text;
      }
      case 'dn': {
        const text = value.toString('utf8');
        if (tryNormalizeDn(text) === null) throw new LdapFailure(ResultCode.invalidAttributeSyntax, `00000057: ${type.name}: not a DN`);
        return formatDn(parseDn(text));
      }
      case 'string':
      case 'time':
      case 'password':
        return value.toString('utf8');
    }
  });
}

export function sameValue(type: AttributeType, a: AttributeValue, b: AttributeValue): boolean {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return toBuffer(a).equals(toBuffer(b));
  if (type.syntax === 'dn') return tryNormalizeDn(a) === tryNormalizeDn(b);
  return a.toLowerCase() === b.toLowerCase();
}

export async function guidsOfDns(ctx: EngineContext, dns: AttributeValue[], reads: DirectoryReads): Promise<string[]> {
  const guids: string[] = [];
  for (const dn of dns) {
    const entry = await entryByDn(ctx, dn.toString(), reads);
    if (!entry) throw new LdapFailure(ResultCode.noSuchObject, `0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0, best match of: '${dn.toString()}'`);
    guids.push(entry.guid);
  }
  return guids;
}

export async function checkUnique(tx: DirectoryReads, attributes: AttributeMap, self: string | null, user: boolean): Promise<void> {
  const sam = first(attributes, 'sAMAccountName');
  if (sam !== undefined) {
    validateSam(sam, user);
    const taken = (await tx.lookup('sAMAccountName', indexKey('sAMAccountName', sam))).some((e) => e.guid !== self);
    if (taken) throw new LdapFailure(ResultCode.entryAlreadyExists, `00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS): sAMAccountName ${sam} is taken`);
  }
  const upn = first(attributes, 'userPrincipalName');
  if (upn !== undefined) {
    const taken = (await tx.lookup('userPrincipalName', indexKey('userPrincipalName', upn))).some((e) => e.guid !== self);
    if (taken) throw new LdapFailure(ResultCode.constraintViolation, `0000217B: userPrincipalName ${upn} is taken`);
  }
}

export async function allocateSid(ctx: EngineContext, tx: DirectoryWrites): Promise<string> {
  const { domainSid } = await currentPolicy(ctx, tx);
  if (domainSid === null) throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('the domain is not provisioned'));
  const rid = firstUserRid - 1 + (await tx.nextCounter('rid'));
  return `${domainSid}-${rid}`;
}

export function newGuid(): string {
  return randomUUID().replaceAll('-', '');
}

export function generatedSam(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const part = (n: number): string => Array.from({ length: n }, () => chars[randomInt(chars.length)]).join('');
  return `$${part(6)}-${part(12)}`;
}
