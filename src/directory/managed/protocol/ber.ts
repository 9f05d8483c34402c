/**
 * The subset of BER that LDAP uses (RFC 4511 §5.1): single-byte tags, definite lengths only,
 * primitive or constructed. Reading never copies or allocates by a declared length: every
 * length is checked against the bytes actually present before anything is sliced, so a hostile
 * "4 GiB follows" header costs nothing.
 */
import { ProtocolError } from './errors.ts';

/** Universal tags LDAP uses. */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  octetString: 0x04,
  null: 0x05,
  enumerated: 0x0a,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Six bytes is the most Buffer.readIntBE reads exactly; LDAP's largest integer (maxInt) needs four. */
export const maxIntegerBytes = 6;
/** Four length octets describe 4 GiB, far beyond any message we accept; more is hostile. */
const maxLengthOctets = 4;

export interface BerHeader {
  tag: number;
  /** Bytes taken by the tag and the length octets. */
  headerLength: number;
  /** Declared content length; not yet checked against the bytes present. */
  length: number;
}

/**
 * Reads a tag and a definite length at `offset`. Returns null when the header itself is not
 * complete yet (stream framing); throws for headers that can never become valid.
 */
export function readHeader(buf: Buffer, offset: number, end: number = buf.length): BerHeader | null {
  if (offset >= end) return null;
  const tag = buf[offset] as number;
  // High-tag-number form (tag number 31) never appears in LDAP; refusing it keeps tags one byte.
  if ((tag & 0x1f) === 0x1f) throw new ProtocolError('ber.unsupported_tag', `multi-byte tag 0x${tag.toString(16)}`);
  if (offset + 1 >= end) return null;
  const first = buf[offset + 1] as number;
  if (first < 0x80) return { tag, headerLength: 2, length: first };
  if (first === 0x80) throw new ProtocolError('ber.indefinite_length', 'indefinite lengths are not allowed in LDAP');
  const count = first & 0x7f;
  if (count > maxLengthOctets) throw new ProtocolError('ber.length_too_long', `length in ${count} octets`);
  if (offset + 2 + count > end) return null;
  let length = 0;
  for (let i = 0; i < count; i += 1) length = length * 256 + (buf[offset + 2 + i] as number);
  return { tag, headerLength: 2 + count, length };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A cursor over one constructed value's contents. Sub-readers share the buffer (no copies);
 * values handed out to callers are copied so they do not pin the connection's read buffer.
 */
export class BerReader {
  private offset: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end: number = buf.length,
  ) {
    this.offset = start;
  }

  hasMore(): boolean {
    return this.offset < this.end;
  }

  /** The next element's tag, or undefined at the end. */
  peekTag(): number | undefined {
    return this.offset < this.end ? this.buf[this.offset] : undefined;
  }

  /** Reads one whole element; its content must lie inside this reader. */
  element(expectedTag?: number): { tag: number; start: number; end: number } {
    const header = readHeader(this.buf, this.offset, this.end);
    if (!header) throw new ProtocolError('ber.truncated', 'element header runs past its container');
    const start = this.offset + header.headerLength;
    if (header.length > this.end - start) throw new ProtocolError('ber.truncated', 'element length runs past its container');
    if (expectedTag !== undefined && header.tag !== expectedTag) {
      throw new ProtocolError('ber.unexpected_tag', `expected tag 0x${expectedTag.toString(16)}, got 0x${header.tag.toString(16)}`);
    }
    this.offset = start + header.length;
    return { tag: header.tag, start, end: start + header.length };
  }

  /** A reader over the next element's contents (SEQUENCE, SET or any constructed tag). */
  sequence(tag: number = Tag.sequence): BerReader {
    const { start, end } = this.element(tag);
    return new BerReader(this.buf, start, end);
  }

  integer(tag: number = Tag.integer): number {
    const { start, end } = this.element(tag);
    return this.integerContent(start, end);
  }

  enumerated(): number {
    return this.integer(Tag.enumerated);
  }

  boolean(tag: number = Tag.boolean): boolean {
    const { start, end } = this.element(tag);
    if (end - start !== 1) throw new ProtocolError('ber.invalid_boolean', 'a BOOLEAN has exactly one content octet');
    // BER: any non-zero octet is TRUE.
    return this.buf[start] !== 0;
  }

  null(tag: number = Tag.null): void {
    const { start, end } = this.element(tag);
    if (end !== start) throw new ProtocolError('ber.invalid_null', 'a NULL has no content');
  }

  /** An OCTET STRING (or an implicitly tagged one) as a copy of its bytes. */
  octets(tag: number = Tag.octetString): Buffer {
    const { start, end } = this.element(tag);
    return Buffer.from(this.buf.subarray(start, end));
  }

  /** An LDAPString: UTF-8 by definition (RFC 4511 §4.1.2); malformed UTF-8 is a protocol error. */
  string(tag: number = Tag.octetString): string {
    const { start, end } = this.element(tag);
    return decodeUtf8(this.buf.subarray(start, end));
  }

  private integerContent(start: number, end: number): number {
    const length = end - start;
    if (length === 0) throw new ProtocolError('ber.invalid_integer', 'an INTEGER has at least one content octet');
    if (length > maxIntegerBytes) throw new ProtocolError('ber.integer_too_large', `INTEGER of ${length} octets`);
    return this.buf.readIntBE(start, length);
  }
}

export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ProtocolError('ber.invalid_utf8', 'an LDAPString is not valid UTF-8');
  }
}

// ---- writing: small pure helpers that build each element from its already-encoded parts ----

export function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function constructed(tag: number, parts: readonly Buffer[]): Buffer {
  return tlv(tag, Buffer.concat(parts));
}

/** Minimal two's-complement encoding of a safe integer. */
export function integer(value: number, tag: number = Tag.integer): Buffer {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
  const octets: number[] = [];
  let rest = value;
  do {
    octets.unshift(((rest % 256) + 256) % 256);
    rest = Math.floor(rest / 256);
  } while (!(rest === 0 && ((octets[0] as number) & 0x80) === 0) && !(rest === -1 && ((octets[0] as number) & 0x80) !== 0));
  return tlv(tag, Buffer.from(octets));
}

export function enumerated(value: number): Buffer {
  return integer(value, Tag.enumerated);
}

export function boolean(value: boolean, tag: number = Tag.boolean): Buffer {
  return tlv(tag, Buffer.from([value ? 0xff : 0x00]));
}

export function octetString(value: Buffer | string, tag: number = Tag.octetString): Buffer {
  return tlv(tag, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
}

export function nullValue(tag: number = Tag.null): Buffer {
  return Buffer.from([tag, 0]);
}
