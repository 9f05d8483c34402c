/**
 * The RADIUS packet codec Portico needs as a client (RFC 2865, with RFC 3579's
 * Message-Authenticator): it builds Access-Requests and reads, checks and parses their
 * replies. Pure: bytes in, bytes or values out, no sockets, no clock (the request authenticator's
 * randomness is a parameter, so tests can replay RFC vectors).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const RadiusCode = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccessChallenge: 11,
} as const;
export type RadiusCode = (typeof RadiusCode)[keyof typeof RadiusCode];

export const RadiusAttribute = {
  UserName: 1,
  UserPassword: 2,
  NasIpAddress: 4,
  ReplyMessage: 18,
  State: 24,
  NasIdentifier: 32,
  MessageAuthenticator: 80,
} as const;

/** RFC 2865 §3: a packet is 20 to 4096 octets. */
export const MIN_PACKET_LENGTH = 20;
export const MAX_PACKET_LENGTH = 4096;
/** RFC 2865 §5.2: the hidden password is at most 128 octets. */
export const MAX_PASSWORD_LENGTH = 128;
/** An attribute's value is at most 253 octets (its length octet counts type and length too). */
export const MAX_ATTRIBUTE_VALUE_LENGTH = 253;
const AUTHENTICATOR_LENGTH = 16;
const HEADER_LENGTH = 20;

/**
 * Stable codes for everything that can be wrong with a packet or its building. The client turns
 * them into `unavailable` outcomes; the integration test and the logs name them.
 */
export type RadiusPacketErrorCode =
  | 'radius_packet_too_short'
  | 'radius_packet_too_long'
  | 'radius_length_mismatch'
  | 'radius_attribute_malformed'
  | 'radius_unexpected_code'
  | 'radius_bad_authenticator'
  | 'radius_bad_message_authenticator'
  | 'radius_missing_message_authenticator'
  | 'radius_invalid_request';

export class RadiusPacketError extends Error {
  readonly code: RadiusPacketErrorCode;
  constructor(code: RadiusPacketErrorCode, message: string) {
    super(message);
    this.name = 'RadiusPacketError';
    this.code = code;
  }
}

export interface RadiusAttributeValue {
  type: number;
  value: Buffer;
}

export interface RadiusPacket {
  code: number;
  identifier: number;
  authenticator: Buffer;
  /** In the order they came, repeats kept (Reply-Message may be split over several). */
  attributes: RadiusAttributeValue[];
}

export interface AccessRequestInput {
  identifier: number;
  /** 16 random octets (RFC 2865 §3: unpredictable and unique over the secret's lifetime). */
  requestAuthenticator: Buffer;
  secret: Buffer;
  userName: string;
  password: string;
  nasIdentifier: string;
  /** The State of an Access-Challenge being answered, echoed unchanged. */
  state?: Buffer | undefined;
}

/**
 * An Access-Request with User-Name, User-Password (hidden as in RFC 2865 §5.2), NAS-Identifier,
 * State when answering a challenge, and Message-Authenticator first (RFC 3579 §3.2; placing it
 * first is the Blast-RADIUS advice, and harmless to older servers).
 */
export function encodeAccessRequest(input: AccessRequestInput): Buffer {
  if (!Number.isInteger(input.identifier) || input.identifier < 0 || input.identifier > 255) {
    throw new RadiusPacketError('radius_invalid_request', 'the identifier must be 0–255');
  }
  if (input.requestAuthenticator.length !== AUTHENTICATOR_LENGTH) {
    throw new RadiusPacketError('radius_invalid_request', 'the request authenticator must be 16 octets');
  }
  if (input.secret.length === 0) throw new RadiusPacketError('radius_invalid_request', 'the shared secret is empty');
  const userName = Buffer.from(input.userName, 'utf8');
  if (userName.length === 0) throw new RadiusPacketError('radius_invalid_request', 'the user name is empty');
  const nasIdentifier = Buffer.from(input.nasIdentifier, 'utf8');
  if (nasIdentifier.length === 0) throw new RadiusPacketError('radius_invalid_request', 'the NAS-Identifier is empty');
  if (input.state !== undefined && input.state.length === 0) throw new RadiusPacketError('radius_invalid_request', 'the State is empty');

  const attributes: RadiusAttributeValue[] = [
    { type: RadiusAttribute.MessageAuthenticator, value: Buffer.alloc(AUTHENTICATOR_LENGTH) },
    { type: RadiusAttribute.UserName, value: userName },
    { type: RadiusAttribute.UserPassword, value: hidePassword(input.password, input.secret, input.requestAuthenticator) },
    { type: RadiusAttribute.NasIdentifier, value: nasIdentifier },
  ];
  if (input.state !== undefined) attributes.push({ type: RadiusAttribute.State, value: input.state });

  const packet = encodePacket({ code: RadiusCode.AccessRequest, identifier: input.identifier, authenticator: input.requestAuthenticator, attributes });
  // The HMAC covers the packet with its own value zeroed, as encoded above (RFC 3579 §3.2).
  const offset = attributeValueOffset(packet, RadiusAttribute.MessageAuthenticator);
  hmacMd5(input.secret, packet).copy(packet, offset);
  return packet;
}

/** Header and attributes to bytes, with every length checked. */
export function encodePacket(packet: RadiusPacket): Buffer {
  if (packet.authenticator.length !== AUTHENTICATOR_LENGTH) {
    throw new RadiusPacketError('radius_invalid_request', 'the authenticator must be 16 octets');
  }
  const parts: Buffer[] = [];
  for (const { type, value } of packet.attributes) {
    if (!Number.isInteger(type) || type < 1 || type > 255) throw new RadiusPacketError('radius_invalid_request', `attribute type ${type} is not 1–255`);
    if (value.length > MAX_ATTRIBUTE_VALUE_LENGTH) {
      throw new RadiusPacketError('radius_invalid_request', `attribute ${type} is longer than ${MAX_ATTRIBUTE_VALUE_LENGTH} octets`);
    }
    parts.push(Buffer.from([type, value.length + 2]), value);
  }
  const body = Buffer.concat(parts);
  const length = HEADER_LENGTH + body.length;
  if (length > MAX_PACKET_LENGTH) throw new RadiusPacketError('radius_invalid_request', `the packet would be ${length} octets, over ${MAX_PACKET_LENGTH}`);
  const header = Buffer.alloc(4);
  header.writeUInt8(packet.code, 0);
  header.writeUInt8(packet.identifier, 1);
  header.writeUInt16BE(length, 2);
  return Buffer.concat([header, packet.authenticator, body]);
}

/**
 * Strict parsing of one datagram: RFC 2865 §3 lengths (octets past Length are padding and
 * ignored; fewer than Length is an error), attribute lengths that add up exactly.
 */
export function decodePacket(datagram: Buffer): RadiusPacket {
  if (datagram.length < HEADER_LENGTH) {
    throw new RadiusPacketError('radius_packet_too_short', `a packet has at least ${HEADER_LENGTH} octets, got ${datagram.length}`);
  }
  const length = datagram.readUInt16BE(2);
  if (length < HEADER_LENGTH) throw new RadiusPacketError('radius_length_mismatch', `the Length field says ${length}, under ${HEADER_LENGTH}`);
  if (length > MAX_PACKET_LENGTH) throw new RadiusPacketError('radius_packet_too_long', `the Length field says ${length}, over ${MAX_PACKET_LENGTH}`);
  if (length > datagram.length) {
    throw new RadiusPacketError('radius_length_mismatch', `the Length field says ${length} but the datagram has ${datagram.length} octets`);
  }
  const attributes: RadiusAttributeValue[] = [];
  let offset = HEADER_LENGTH;
  while (offset < length) {
    if (offset + 2 > length) throw new RadiusPacketError('radius_attribute_malformed', `a truncated attribute header at octet ${offset}`);
    const type = datagram.readUInt8(offset);
    const attributeLength = datagram.readUInt8(offset + 1);
    if (attributeLength < 2) throw new RadiusPacketError('radius_attribute_malformed', `attribute ${type} at octet ${offset} has length ${attributeLength}`);
    if (offset + attributeLength > length) {
      throw new RadiusPacketError('radius_attribute_malformed', `attribute ${type} at octet ${offset} runs past the packet's end`);
    }
    if (type === 0) throw new RadiusPacketError('radius_attribute_malformed', `attribute type 0 at octet ${offset}`);
    attributes.push({ type, value: Buffer.from(datagram.subarray(offset + 2, offset + attributeLength)) });
    offset += attributeLength;
  }
  return {
    code: datagram.readUInt8(0),
    identifier: datagram.readUInt8(1),
    authenticator: Buffer.from(datagram.subarray(4, HEADER_LENGTH)),
    attributes,
  };
}

/** RFC 2865 §5.2: the password padded to 16-octet blocks, each XORed with MD5(secret + previous). */
export function hidePassword(password: string, secret: Buffer, requestAuthenticator: Buffer): Buffer {
  const plain = Buffer.from(password, 'utf8');
  if (plain.length === 0) throw new RadiusPacketError('radius_invalid_request', 'the password is empty');
  if (plain.length > MAX_PASSWORD_LENGTH) throw new RadiusPacketError('radius_invalid_request', `the password is longer than ${MAX_PASSWORD_LENGTH} octets`);
  const padded = Buffer.alloc(Math.ceil(plain.length / 16) * 16);
  plain.copy(padded);
  const hidden = Buffer.alloc(padded.length);
  let previous = requestAuthenticator;
  for (let block = 0; block < padded.length; block += 16) {
    const mask = md5(secret, previous);
    for (let i = 0; i < 16; i++) hidden[block + i] = padded[block + i]! ^ mask[i]!;
    previous = hidden.subarray(block, block + 16);
  }
  return hidden;
}

/** The inverse of hidePassword, for tests and the fake server: trailing NULs dropped. */
export function revealPassword(hidden: Buffer, secret: Buffer, requestAuthenticator: Buffer): Buffer {
  if (hidden.length === 0 || hidden.length % 16 !== 0 || hidden.length > MAX_PASSWORD_LENGTH) {
    throw new RadiusPacketError('radius_attribute_malformed', 'a User-Password is 16 to 128 octets in 16-octet blocks');
  }
  const plain = Buffer.alloc(hidden.length);
  let previous = requestAuthenticator;
  for (let block = 0; block < hidden.length; block += 16) {
    const mask = md5(secret, previous);
    for (let i = 0; i < 16; i++) plain[block + i] = hidden[block + i]! ^ mask[i]!;
    previous = hidden.subarray(block, block + 16);
  }
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  return plain.subarray(0, end);
}

/** RFC 2865 §3: MD5(Code + Identifier + Length + Request Authenticator + Attributes + Secret). */
export function responseAuthenticator(response: Buffer, requestAuthenticator: Buffer, secret: Buffer): Buffer {
  const length = response.readUInt16BE(2);
  return md5(response.subarray(0, 4), requestAuthenticator, response.subarray(HEADER_LENGTH, length), secret);
}

export type RadiusReply =
  | { code: typeof RadiusCode.AccessAccept; identifier: number; replyMessage: string | undefined }
  | { code: typeof RadiusCode.AccessReject; identifier: number; replyMessage: string | undefined }
  | { code: typeof RadiusCode.AccessChallenge; identifier: number; replyMessage: string | undefined; state: Buffer | undefined };

export interface ReplyCheck {
  /** The Request Authenticator of the Access-Request this answers. */
  requestAuthenticator: Buffer;
  secret: Buffer;
  /**
   * Refuse a reply without Message-Authenticator (the Blast-RADIUS defence). Servers from before
   * 2024 (FreeRADIUS < 3.2.5) only add it to EAP replies, hence optional.
   */
  requireMessageAuthenticator: boolean;
}

/**
 * Checks a reply to one of our Access-Requests and reads what Portico uses from it. The
 * Response Authenticator is checked first (a wrong shared secret shows here), then the
 * Message-Authenticator when present (or required). Identifier matching is the caller's.
 */
export function decodeAccessReply(datagram: Buffer, check: ReplyCheck): RadiusReply {
  const packet = decodePacket(datagram);
  const raw = datagram.subarray(0, datagram.readUInt16BE(2));
  if (packet.code !== RadiusCode.AccessAccept && packet.code !== RadiusCode.AccessReject && packet.code !== RadiusCode.AccessChallenge) {
    throw new RadiusPacketError('radius_unexpected_code', `code ${packet.code} does not answer an Access-Request`);
  }
  const expected = responseAuthenticator(raw, check.requestAuthenticator, check.secret);
  if (!timingSafeEqual(expected, packet.authenticator)) {
    throw new RadiusPacketError('radius_bad_authenticator', 'the Response Authenticator does not match: the shared secret differs or the reply is forged');
  }
  const messageAuthenticators = packet.attributes.filter((a) => a.type === RadiusAttribute.MessageAuthenticator);
  if (messageAuthenticators.length > 1) throw new RadiusPacketError('radius_bad_message_authenticator', 'more than one Message-Authenticator');
  const messageAuthenticator = messageAuthenticators[0];
  if (messageAuthenticator === undefined) {
    if (check.requireMessageAuthenticator) throw new RadiusPacketError('radius_missing_message_authenticator', 'the reply has no Message-Authenticator');
  } else {
    if (messageAuthenticator.value.length !== AUTHENTICATOR_LENGTH) {
      throw new RadiusPacketError('radius_bad_message_authenticator', 'a Message-Authenticator is 16 octets');
    }
    // RFC 3579 §3.2: HMAC over the reply with the Request Authenticator in place and this attribute zeroed.
    const copy = Buffer.from(raw);
    check.requestAuthenticator.copy(copy, 4);
    const offset = attributeValueOffset(copy, RadiusAttribute.MessageAuthenticator);
    copy.fill(0, offset, offset + AUTHENTICATOR_LENGTH);
    if (!timingSafeEqual(hmacMd5(check.secret, copy), messageAuthenticator.value)) {
      throw new RadiusPacketError('radius_bad_message_authenticator', 'the Message-Authenticator does not match');
    }
  }
  const replyMessages = packet.attributes.filter((a) => a.type === RadiusAttribute.ReplyMessage).map((a) => a.value);
  // Several Reply-Messages are shown in order (RFC 2865 §5.18); servers send one line each.
  const replyMessage = replyMessages.length === 0 ? undefined : replyMessages.map((value) => value.toString('utf8')).join('\n');
  if (packet.code === RadiusCode.AccessChallenge) {
    const states = packet.attributes.filter((a) => a.type === RadiusAttribute.State);
    if (states.length > 1) throw new RadiusPacketError('radius_attribute_malformed', 'more than one State in an Access-Challenge');
    return { code: packet.code, identifier: packet.identifier, replyMessage, state: states[0]?.value };
  }
  return { code: packet.code, identifier: packet.identifier, replyMessage };
}

export interface AccessReplyInput {
  code: typeof RadiusCode.AccessAccept | typeof RadiusCode.AccessReject | typeof RadiusCode.AccessChallenge;
  identifier: number;
  requestAuthenticator: Buffer;
  secret: Buffer;
  replyMessage?: string | undefined;
  state?: Buffer | undefined;
  /** Add a Message-Authenticator (first, as RFC 3579 and the Blast-RADIUS advice put it). */
  messageAuthenticator: boolean;
}

/**
 * A server's reply, as RFC 2865 §3 and RFC 3579 §3.2 build it. Portico is no RADIUS server: this
 * is the mirror image of decodeAccessReply, for the tests' stand-in servers and the benchmark.
 */
export function encodeAccessReply(input: AccessReplyInput): Buffer {
  const attributes: RadiusAttributeValue[] = [];
  if (input.messageAuthenticator) attributes.push({ type: RadiusAttribute.MessageAuthenticator, value: Buffer.alloc(AUTHENTICATOR_LENGTH) });
  if (input.replyMessage !== undefined) attributes.push({ type: RadiusAttribute.ReplyMessage, value: Buffer.from(input.replyMessage, 'utf8') });
  if (input.state !== undefined) attributes.push({ type: RadiusAttribute.State, value: input.state });
  const packet = encodePacket({ code: input.code, identifier: input.identifier, authenticator: input.requestAuthenticator, attributes });
  if (input.messageAuthenticator) {
    hmacMd5(input.secret, packet).copy(packet, attributeValueOffset(packet, RadiusAttribute.MessageAuthenticator));
  }
  responseAuthenticator(packet, input.requestAuthenticator, input.secret).copy(packet, 4);
  return packet;
}

/** Where the value of the first attribute of this type starts in an encoded packet. */
function attributeValueOffset(packet: Buffer, type: number): number {
  const length = packet.readUInt16BE(2);
  let offset = HEADER_LENGTH;
  while (offset + 2 <= length) {
    if (packet.readUInt8(offset) === type) return offset + 2;
    offset += packet.readUInt8(offset + 1);
  }
  throw new RadiusPacketError('radius_attribute_malformed', `no attribute ${type}`);
}

function md5(...parts: Buffer[]): Buffer {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

export function hmacMd5(key: Buffer, data: Buffer): Buffer {
  return createHmac('md5', key).update(data).digest();
}
