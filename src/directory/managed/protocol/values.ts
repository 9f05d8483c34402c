/**
 * BER values carried inside controls and extended operations: the paged-results control
 * (RFC 2696, AD's 1.2.840.113556.1.4.319) and Password Modify (RFC 3062). Decoders take an
 * untrusted buffer and throw only ProtocolError.
 */
import type { PasswordModifyRequest } from '../backend.ts';
import { BerReader, Tag, constructed, decodeUtf8, integer, octetString, readHeader } from './ber.ts';
import { ProtocolError } from './errors.ts';
import { maxInt } from './messages.ts';

export interface PagedResultsValue {
  /** Requested page size (request) or estimated total, 0 when unknown (response). */
  size: number;
  /** Opaque; empty on the first request and on the last page. */
  cookie: Buffer;
}

/** The whole buffer must be exactly one SEQUENCE: trailing bytes mean the value is not ours. */
function outerSequence(value: Buffer, what: string): BerReader {
  const header = readHeader(value, 0);
  if (!header || header.headerLength + header.length !== value.length) throw new ProtocolError('ldap.invalid_value', `malformed ${what} value`);
  return new BerReader(value).sequence();
}

export function encodePagedResultsValue(value: PagedResultsValue): Buffer {
  return constructed(Tag.sequence, [integer(value.size), octetString(value.cookie)]);
}

export function decodePagedResultsValue(value: Buffer): PagedResultsValue {
  const reader = outerSequence(value, 'paged results');
  const size = reader.integer();
  if (size < 0 || size > maxInt) throw new ProtocolError('ldap.invalid_value', 'paged results size out of range');
  return { size, cookie: reader.octets() };
}

const PasswdTag = { userIdentity: 0x80, oldPasswd: 0x81, newPasswd: 0x82, genPasswd: 0x80 } as const;

/**
 * RFC 3062 fields are OCTET STRINGs; the backend takes strings, so they are read as UTF-8 (a
 * password that is not UTF-8 could never match what a person types anyway).
 */
export function decodePasswordModifyRequestValue(value: Buffer | undefined): PasswordModifyRequest {
  // The value itself is optional: an absent value asks to generate a password for the bound user.
  if (value === undefined || value.length === 0) return {};
  const reader = outerSequence(value, 'password modify');
  const request: PasswordModifyRequest = {};
  if (reader.peekTag() === PasswdTag.userIdentity) request.userIdentity = reader.string(PasswdTag.userIdentity);
  if (reader.peekTag() === PasswdTag.oldPasswd) request.oldPassword = reader.string(PasswdTag.oldPasswd);
  if (reader.peekTag() === PasswdTag.newPasswd) request.newPassword = reader.string(PasswdTag.newPasswd);
  if (reader.hasMore()) throw new ProtocolError('ldap.invalid_value', 'unexpected element in password modify value');
  return request;
}

export function encodePasswordModifyRequestValue(request: PasswordModifyRequest): Buffer {
  return constructed(Tag.sequence, [
    ...(request.userIdentity !== undefined ? [octetString(request.userIdentity, PasswdTag.userIdentity)] : []),
    ...(request.oldPassword !== undefined ? [octetString(request.oldPassword, PasswdTag.oldPasswd)] : []),
    ...(request.newPassword !== undefined ? [octetString(request.newPassword, PasswdTag.newPasswd)] : []),
  ]);
}

export function encodePasswordModifyResponseValue(genPassword: string): Buffer {
  return constructed(Tag.sequence, [octetString(genPassword, PasswdTag.genPasswd)]);
}

export function decodePasswordModifyResponseValue(value: Buffer): { genPassword?: string } {
  const reader = outerSequence(value, 'password modify response');
  if (reader.peekTag() !== PasswdTag.genPasswd) return {};
  const { start, end } = reader.element(PasswdTag.genPasswd);
  return { genPassword: decodeUtf8(value.subarray(start, end)) };
}
