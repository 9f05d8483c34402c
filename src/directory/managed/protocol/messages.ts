/**
 * LDAPMessage (RFC 4511 §4.1.1) and every operation Portico's server speaks, decoded into plain
 * objects shaped like backend.ts and encoded back. Both directions cover requests and responses,
 * so tests can round-trip everything and a test client can read what the server writes; the
 * server itself refuses response operations coming from a client.
 */
import type { AddRequest, Control, Modification, ModifyDnRequest, PartialAttribute, SearchRequest, SearchScope } from '../backend.ts';
import { BerReader, Tag, boolean, constructed, enumerated, integer, nullValue, octetString, readHeader } from './ber.ts';
import { ProtocolError } from './errors.ts';
import { defaultMaxFilterDepth, encodeFilter, readFilter } from './filter.ts';

/** RFC 4511 maxInt. */
export const maxInt = 2_147_483_647;
export const defaultMaxMessageBytes = 1024 * 1024;

/** An LDAPResult as it travels: any result code a peer may send, not only the ones Portico uses. */
export interface WireResult {
  resultCode: number;
  matchedDN?: string;
  diagnosticMessage?: string;
  referral?: string[];
}

export interface BindRequestOp {
  op: 'bindRequest';
  version: number;
  name: string;
  authentication: { method: 'simple'; password: Buffer } | { method: 'sasl'; mechanism: string; credentials?: Buffer };
}
export interface BindResponseOp extends WireResult {
  op: 'bindResponse';
  serverSaslCreds?: Buffer;
}
export interface UnbindRequestOp {
  op: 'unbindRequest';
}
export interface SearchRequestOp extends SearchRequest {
  op: 'searchRequest';
}
export interface SearchResultEntryOp {
  op: 'searchResultEntry';
  objectName: string;
  attributes: PartialAttribute[];
}
export interface SearchResultReferenceOp {
  op: 'searchResultReference';
  uris: string[];
}
export interface ModifyRequestOp {
  op: 'modifyRequest';
  object: string;
  changes: Modification[];
}
export interface AddRequestOp extends AddRequest {
  op: 'addRequest';
}
export interface DelRequestOp {
  op: 'delRequest';
  entry: string;
}
export interface ModifyDnRequestOp extends ModifyDnRequest {
  op: 'modifyDnRequest';
}
export interface CompareRequestOp {
  op: 'compareRequest';
  entry: string;
  attribute: string;
  value: Buffer;
}
export interface AbandonRequestOp {
  op: 'abandonRequest';
  messageId: number;
}
export interface ExtendedRequestOp {
  op: 'extendedRequest';
  requestName: string;
  requestValue?: Buffer;
}
export interface ExtendedResponseOp extends WireResult {
  op: 'extendedResponse';
  responseName?: string;
  responseValue?: Buffer;
}
export interface ResultOp extends WireResult {
  op: 'searchResultDone' | 'modifyResponse' | 'addResponse' | 'delResponse' | 'modifyDnResponse' | 'compareResponse';
}

export type RequestOp =
  | BindRequestOp
  | UnbindRequestOp
  | SearchRequestOp
  | ModifyRequestOp
  | AddRequestOp
  | DelRequestOp
  | ModifyDnRequestOp
  | CompareRequestOp
  | AbandonRequestOp
  | ExtendedRequestOp;
export type ResponseOp = BindResponseOp | SearchResultEntryOp | SearchResultReferenceOp | ExtendedResponseOp | ResultOp;
export type ProtocolOp = RequestOp | ResponseOp;

export interface LdapMessage<Op extends ProtocolOp = ProtocolOp> {
  messageId: number;
  protocolOp: Op;
  controls: Control[];
}

export interface DecodeOptions {
  /** Largest whole LDAPMessage accepted, in bytes (default 1 MiB). */
  maxMessageBytes?: number;
  /** Deepest filter nesting accepted (default 64). */
  maxFilterDepth?: number;
}

/** Returned by decodeMessage while the buffer does not yet hold one whole message. */
export const needMoreData: unique symbol = Symbol('needMoreData');
export type NeedMoreData = typeof needMoreData;

export interface DecodedMessage {
  message: LdapMessage;
  bytesConsumed: number;
}

const OpTag = {
  bindRequest: 0x60,
  bindResponse: 0x61,
  unbindRequest: 0x42,
  searchRequest: 0x63,
  searchResultEntry: 0x64,
  searchResultDone: 0x65,
  modifyRequest: 0x66,
  modifyResponse: 0x67,
  addRequest: 0x68,
  addResponse: 0x69,
  delRequest: 0x4a,
  delResponse: 0x6b,
  modifyDnRequest: 0x6c,
  modifyDnResponse: 0x6d,
  compareRequest: 0x6e,
  compareResponse: 0x6f,
  abandonRequest: 0x50,
  searchResultReference: 0x73,
  extendedRequest: 0x77,
  extendedResponse: 0x78,
} as const;

const controlsTag = 0xa0;
const referralTag = 0xa3;
const scopes: readonly SearchScope[] = ['base', 'one', 'sub'];
const modifyOperations: ReadonlyArray<Modification['operation']> = ['add', 'delete', 'replace'];

/**
 * Decodes the first LDAPMessage in `buf` (stream framing). Returns `needMoreData` while the
 * message is incomplete; throws ProtocolError as soon as the bytes present prove it can never be
 * valid — including a declared size above the limit, before those bytes arrive.
 */
export function decodeMessage(buf: Buffer, options: DecodeOptions = {}): DecodedMessage | NeedMoreData {
  const maxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes;
  if (buf.length > 0 && buf[0] !== Tag.sequence) throw new ProtocolError('ldap.not_a_message', 'an LDAPMessage starts with a SEQUENCE');
  const header = readHeader(buf, 0);
  if (!header) return needMoreData;
  const total = header.headerLength + header.length;
  if (total > maxMessageBytes) throw new ProtocolError('ldap.message_too_large', `message of ${total} bytes exceeds ${maxMessageBytes}`);
  if (buf.length < total) return needMoreData;
  const reader = new BerReader(buf, header.headerLength, total);
  const message = readMessageBody(reader, options.maxFilterDepth ?? defaultMaxFilterDepth);
  return { message, bytesConsumed: total };
}

function readMessageBody(reader: BerReader, maxFilterDepth: number): LdapMessage {
  const messageId = reader.integer();
  if (messageId < 0 || messageId > maxInt) throw new ProtocolError('ldap.invalid_message_id', `messageID ${messageId} out of range`);
  const protocolOp = readProtocolOp(reader, maxFilterDepth);
  const controls = reader.peekTag() === controlsTag ? readControls(reader.sequence(controlsTag)) : [];
  // Anything after the controls is an extension we do not know (EXTENSIBILITY IMPLIED): ignore it.
  return { messageId, protocolOp, controls };
}

function readControls(reader: BerReader): Control[] {
  const controls: Control[] = [];
  while (reader.hasMore()) {
    const control = reader.sequence();
    const oid = control.string();
    const critical = control.peekTag() === Tag.boolean ? control.boolean() : false;
    const value = control.peekTag() === Tag.octetString ? control.octets() : undefined;
    controls.push({ oid, critical, ...(value && { value }) });
  }
  return controls;
}

function readEnum<T>(reader: BerReader, values: readonly T[], what: string): T {
  const index = reader.enumerated();
  const value = values[index];
  if (value === undefined) throw new ProtocolError('ldap.invalid_enum', `unknown ${what} ${index}`);
  return value;
}

function readNonNegative(reader: BerReader, what: string): number {
  const value = reader.integer();
  if (value < 0 || value > maxInt) throw new ProtocolError('ldap.invalid_value', `${what} out of range`);
  return value;
}

function readPartialAttribute(reader: BerReader): { type: string; values: Buffer[] } {
  const attribute = reader.sequence();
  const type = attribute.string();
  const set = attribute.sequence(Tag.set);
  const values: Buffer[] = [];
  while (set.hasMore()) values.push(set.octets());
  return { type, values };
}

function readAttributeList(reader: BerReader): Array<{ type: string; values: Buffer[] }> {
  const attributes: Array<{ type: string; values: Buffer[] }> = [];
  while (reader.hasMore()) attributes.push(readPartialAttribute(reader));
  return attributes;
}

function readResult(reader: BerReader): WireResult {
  const resultCode = reader.enumerated();
  const matchedDN = reader.string();
  const diagnosticMessage = reader.string();
  const result: WireResult = { resultCode, matchedDN, diagnosticMessage };
  if (reader.peekTag() === referralTag) {
    const list = reader.sequence(referralTag);
    result.referral = [];
    while (list.hasMore()) result.referral.push(list.string());
  }
  return result;
}

function readProtocolOp(reader: BerReader, maxFilterDepth: number): ProtocolOp {
  const tag = reader.peekTag();
  switch (tag) {
    case OpTag.bindRequest: {
      const op = reader.sequence(tag);
      const version = op.integer();
      const name = op.string();
      const authTag = op.peekTag();
      if (authTag === 0x80) return { op: 'bindRequest', version, name, authentication: { method: 'simple', password: op.octets(0x80) } };
      if (authTag === 0xa3) {
        const sasl = op.sequence(0xa3);
        const mechanism = sasl.string();
        const credentials = sasl.peekTag() === Tag.octetString ? sasl.octets() : undefined;
        return { op: 'bindRequest', version, name, authentication: { method: 'sasl', mechanism, ...(credentials && { credentials }) } };
      }
      throw new ProtocolError('ldap.invalid_value', 'unknown bind authentication choice');
    }
    case OpTag.bindResponse: {
      const op = reader.sequence(tag);
      const result = readResult(op);
      const serverSaslCreds = op.peekTag() === 0x87 ? op.octets(0x87) : undefined;
      return { op: 'bindResponse', ...result, ...(serverSaslCreds && { serverSaslCreds }) };
    }
    case OpTag.unbindRequest:
      reader.null(tag);
      return { op: 'unbindRequest' };
    case OpTag.searchRequest: {
      const op = reader.sequence(tag);
      const baseObject = op.string();
      const scope = readEnum(op, scopes, 'scope');
      const derefAliases = readEnum(op, [0, 1, 2, 3], 'derefAliases');
      const sizeLimit = readNonNegative(op, 'sizeLimit');
      const timeLimit = readNonNegative(op, 'timeLimit');
      const typesOnly = op.boolean();
      const filter = readFilter(op, maxFilterDepth);
      const list = op.sequence();
      const attributes: string[] = [];
      while (list.hasMore()) attributes.push(list.string());
      return { op: 'searchRequest', baseObject, scope, derefAliases, sizeLimit, timeLimit, typesOnly, filter, attributes };
    }
    case OpTag.searchResultEntry: {
      const op = reader.sequence(tag);
      const objectName = op.string();
      return { op: 'searchResultEntry', objectName, attributes: readAttributeList(op.sequence()) };
    }
    case OpTag.searchResultReference: {
      const op = reader.sequence(tag);
      const uris: string[] = [];
      while (op.hasMore()) uris.push(op.string());
      return { op: 'searchResultReference', uris };
    }
    case OpTag.modifyRequest: {
      const op = reader.sequence(tag);
      const object = op.string();
      const list = op.sequence();
      const changes: Modification[] = [];
      while (list.hasMore()) {
        const change = list.sequence();
        const operation = readEnum(change, modifyOperations, 'modify operation');
        const modification = readPartialAttribute(change);
        changes.push({ operation, type: modification.type, values: modification.values });
      }
      return { op: 'modifyRequest', object, changes };
    }
    case OpTag.addRequest: {
      const op = reader.sequence(tag);
      const entry = op.string();
      return { op: 'addRequest', entry, attributes: readAttributeList(op.sequence()) };
    }
    case OpTag.delRequest:
      return { op: 'delRequest', entry: reader.string(tag) };
    case OpTag.modifyDnRequest: {
      const op = reader.sequence(tag);
      const entry = op.string();
      const newRdn = op.string();
      const deleteOldRdn = op.boolean();
      const newSuperior = op.peekTag() === 0x80 ? op.string(0x80) : undefined;
      return { op: 'modifyDnRequest', entry, newRdn, deleteOldRdn, ...(newSuperior !== undefined && { newSuperior }) };
    }
    case OpTag.compareRequest: {
      const op = reader.sequence(tag);
      const entry = op.string();
      const ava = op.sequence();
      return { op: 'compareRequest', entry, attribute: ava.string(), value: ava.octets() };
    }
    case OpTag.abandonRequest: {
      const messageId = reader.integer(tag);
      if (messageId < 0 || messageId > maxInt) throw new ProtocolError('ldap.invalid_message_id', 'abandoned messageID out of range');
      return { op: 'abandonRequest', messageId };
    }
    case OpTag.extendedRequest: {
      const op = reader.sequence(tag);
      const requestName = op.string(0x80);
      const requestValue = op.peekTag() === 0x81 ? op.octets(0x81) : undefined;
      return { op: 'extendedRequest', requestName, ...(requestValue && { requestValue }) };
    }
    case OpTag.extendedResponse: {
      const op = reader.sequence(tag);
      const result = readResult(op);
      const responseName = op.peekTag() === 0x8a ? op.string(0x8a) : undefined;
      const responseValue = op.peekTag() === 0x8b ? op.octets(0x8b) : undefined;
      return { op: 'extendedResponse', ...result, ...(responseName !== undefined && { responseName }), ...(responseValue && { responseValue }) };
    }
    case OpTag.searchResultDone:
    case OpTag.modifyResponse:
    case OpTag.addResponse:
    case OpTag.delResponse:
    case OpTag.modifyDnResponse:
    case OpTag.compareResponse:
      return { op: resultOpByTag[tag], ...readResult(reader.sequence(tag)) };
    default:
      throw new ProtocolError('ldap.unknown_operation', tag === undefined ? 'missing protocolOp' : `unknown protocolOp tag 0x${tag.toString(16)}`);
  }
}

const resultOpByTag = {
  [OpTag.searchResultDone]: 'searchResultDone',
  [OpTag.modifyResponse]: 'modifyResponse',
  [OpTag.addResponse]: 'addResponse',
  [OpTag.delResponse]: 'delResponse',
  [OpTag.modifyDnResponse]: 'modifyDnResponse',
  [OpTag.compareResponse]: 'compareResponse',
} as const;

// ---- encoding ----

function encodeResult(result: WireResult): Buffer[] {
  return [
    enumerated(result.resultCode),
    octetString(result.matchedDN ?? ''),
    octetString(result.diagnosticMessage ?? ''),
    ...(result.referral && result.referral.length > 0 ? [constructed(referralTag, result.referral.map((uri) => octetString(uri)))] : []),
  ];
}

function encodeAttributeList(attributes: ReadonlyArray<{ type: string; values: Buffer[] }>): Buffer {
  return constructed(
    Tag.sequence,
    attributes.map((attribute) => constructed(Tag.sequence, [octetString(attribute.type), constructed(Tag.set, attribute.values.map((value) => octetString(value)))])),
  );
}

export function encodeControls(controls: readonly Control[]): Buffer {
  return constructed(
    controlsTag,
    controls.map((control) =>
      constructed(Tag.sequence, [
        octetString(control.oid),
        // DEFAULT FALSE: omit when false.
        ...(control.critical ? [boolean(true)] : []),
        ...(control.value ? [octetString(control.value)] : []),
      ]),
    ),
  );
}

export function encodeProtocolOp(op: ProtocolOp): Buffer {
  switch (op.op) {
    case 'bindRequest': {
      const auth =
        op.authentication.method === 'simple'
          ? octetString(op.authentication.password, 0x80)
          : constructed(0xa3, [octetString(op.authentication.mechanism), ...(op.authentication.credentials ? [octetString(op.authentication.credentials)] : [])]);
      return constructed(OpTag.bindRequest, [integer(op.version), octetString(op.name), auth]);
    }
    case 'bindResponse':
      return constructed(OpTag.bindResponse, [...encodeResult(op), ...(op.serverSaslCreds ? [octetString(op.serverSaslCreds, 0x87)] : [])]);
    case 'unbindRequest':
      return nullValue(OpTag.unbindRequest);
    case 'searchRequest':
      return constructed(OpTag.searchRequest, [
        octetString(op.baseObject),
        enumerated(scopes.indexOf(op.scope)),
        enumerated(op.derefAliases),
        integer(op.sizeLimit),
        integer(op.timeLimit),
        boolean(op.typesOnly),
        encodeFilter(op.filter),
        constructed(Tag.sequence, op.attributes.map((attribute) => octetString(attribute))),
      ]);
    case 'searchResultEntry':
      return constructed(OpTag.searchResultEntry, [octetString(op.objectName), encodeAttributeList(op.attributes)]);
    case 'searchResultReference':
      return constructed(OpTag.searchResultReference, op.uris.map((uri) => octetString(uri)));
    case 'modifyRequest':
      return constructed(OpTag.modifyRequest, [
        octetString(op.object),
        constructed(
          Tag.sequence,
          op.changes.map((change) =>
            constructed(Tag.sequence, [
              enumerated(modifyOperations.indexOf(change.operation)),
              constructed(Tag.sequence, [octetString(change.type), constructed(Tag.set, change.values.map((value) => octetString(value)))]),
            ]),
          ),
        ),
      ]);
    case 'addRequest':
      return constructed(OpTag.addRequest, [octetString(op.entry), encodeAttributeList(op.attributes)]);
    case 'delRequest':
      return octetString(op.entry, OpTag.delRequest);
    case 'modifyDnRequest':
      return constructed(OpTag.modifyDnRequest, [
        octetString(op.entry),
        octetString(op.newRdn),
        boolean(op.deleteOldRdn),
        ...(op.newSuperior !== undefined ? [octetString(op.newSuperior, 0x80)] : []),
      ]);
    case 'compareRequest':
      return constructed(OpTag.compareRequest, [octetString(op.entry), constructed(Tag.sequence, [octetString(op.attribute), octetString(op.value)])]);
    case 'abandonRequest':
      return integer(op.messageId, OpTag.abandonRequest);
    case 'extendedRequest':
      return constructed(OpTag.extendedRequest, [octetString(op.requestName, 0x80), ...(op.requestValue ? [octetString(op.requestValue, 0x81)] : [])]);
    case 'extendedResponse':
      return constructed(OpTag.extendedResponse, [
        ...encodeResult(op),
        ...(op.responseName !== undefined ? [octetString(op.responseName, 0x8a)] : []),
        ...(op.responseValue ? [octetString(op.responseValue, 0x8b)] : []),
      ]);
    case 'searchResultDone':
    case 'modifyResponse':
    case 'addResponse':
    case 'delResponse':
    case 'modifyDnResponse':
    case 'compareResponse':
      return constructed(OpTag[op.op], encodeResult(op));
  }
}

export function encodeMessage(message: { messageId: number; protocolOp: ProtocolOp; controls?: readonly Control[] }): Buffer {
  const controls = message.controls ?? [];
  return constructed(Tag.sequence, [integer(message.messageId), encodeProtocolOp(message.protocolOp), ...(controls.length > 0 ? [encodeControls(controls)] : [])]);
}

// ---- response helpers the server uses ----

export function encodeBindResponse(messageId: number, result: WireResult, controls?: readonly Control[]): Buffer {
  return encodeMessage({ messageId, protocolOp: { op: 'bindResponse', ...result }, ...(controls && { controls }) });
}

export function encodeSearchResultEntry(messageId: number, entry: { objectName: string; attributes: PartialAttribute[] }, controls?: readonly Control[]): Buffer {
  return encodeMessage({ messageId, protocolOp: { op: 'searchResultEntry', objectName: entry.objectName, attributes: entry.attributes }, ...(controls && { controls }) });
}

export function encodeSearchResultReference(messageId: number, uris: string[]): Buffer {
  return encodeMessage({ messageId, protocolOp: { op: 'searchResultReference', uris } });
}

export function encodeResultResponse(messageId: number, op: ResultOp['op'], result: WireResult, controls?: readonly Control[]): Buffer {
  return encodeMessage({ messageId, protocolOp: { op, ...result }, ...(controls && { controls }) });
}

export const encodeSearchResultDone = (messageId: number, result: WireResult, controls?: readonly Control[]): Buffer =>
  encodeResultResponse(messageId, 'searchResultDone', result, controls);
export const encodeModifyResponse = (messageId: number, result: WireResult): Buffer => encodeResultResponse(messageId, 'modifyResponse', result);
export const encodeAddResponse = (messageId: number, result: WireResult): Buffer => encodeResultResponse(messageId, 'addResponse', result);
export const encodeDelResponse = (messageId: number, result: WireResult): Buffer => encodeResultResponse(messageId, 'delResponse', result);
export const encodeModifyDnResponse = (messageId: number, result: WireResult): Buffer => encodeResultResponse(messageId, 'modifyDnResponse', result);
export const encodeCompareResponse = (messageId: number, result: WireResult): Buffer => encodeResultResponse(messageId, 'compareResponse', result);

export function encodeExtendedResponse(
  messageId: number,
  result: WireResult,
  extension: { responseName?: string; responseValue?: Buffer } = {},
  controls?: readonly Control[],
): Buffer {
  return encodeMessage({ messageId, protocolOp: { op: 'extendedResponse', ...result, ...extension }, ...(controls && { controls }) });
}

/** RFC 4511 §4.4.1: unsolicited, messageID 0, sent just before the server closes the connection. */
export function encodeNoticeOfDisconnection(resultCode: number, diagnosticMessage: string): Buffer {
  return encodeExtendedResponse(0, { resultCode, diagnosticMessage }, { responseName: '1.3.6.1.4.1.1466.20036' });
}
