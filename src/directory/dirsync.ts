/**
 * The value of AD's DirSync control (LDAP_SERVER_DIRSYNC_OID, 1.2.840.113556.1.4.841), encoded
 * and decoded here: a small, strict BER subset, pure (no ldapts), so it can be tested byte by byte.
 *
 *   request:  SEQUENCE { flags INTEGER, maxBytes INTEGER, cookie OCTET STRING }
 *   response: SEQUENCE { moreResults INTEGER, unused INTEGER, cookie OCTET STRING }
 *
 * ([MS-ADTS] 3.1.1.3.4.1.3.) The cookie is opaque: it is stored as it came and sent back as is.
 */
export const DIRSYNC_OID = '1.2.840.113556.1.4.841';

/** Request flags ([MS-ADTS] 3.1.1.3.4.1.3). */
export const dirSyncFlags = {
  /** Return only what the caller may read instead of requiring Replicating Directory Changes. */
  objectSecurity: 0x1,
  /** Parents before children. */
  ancestorsFirstOrder: 0x800,
  /** No secret attributes (passwords). */
  publicDataOnly: 0x2000,
  /** Linked attributes (member) as the values added and removed, not the whole value list. */
  incrementalValues: 0x80000000,
} as const;

export interface DirSyncRequest {
  flags: number;
  /** Upper bound of the answer's size; 0 lets the server choose. */
  maxBytes: number;
  /** Empty on the first call: everything, then a cookie to continue from. */
  cookie: Buffer;
}

export interface DirSyncResponse {
  /** More changes wait: search again with `cookie` at once. */
  moreResults: boolean;
  cookie: Buffer;
}

export class DirSyncCodecError extends Error {
  override readonly name = 'DirSyncCodecError';
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OCTET_STRING = 0x04;

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

/** A 32-bit value as a minimal two's-complement INTEGER; the flags are AD's int32 (0x80000000 is negative). */
function encodeInt32(value: number): Buffer {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) throw new DirSyncCodecError(`not a 32-bit integer: ${value}`);
  const signed = value | 0; // the same 32 bits, read as AD's signed int
  const full = Buffer.alloc(4);
  full.writeInt32BE(signed);
  let start = 0;
  // Drop leading bytes that only repeat the sign (BER wants the shortest form).
  while (start < 3 && ((full[start] === 0x00 && ((full[start + 1] as number) & 0x80) === 0) || (full[start] === 0xff && ((full[start + 1] as number) & 0x80) !== 0))) start += 1;
  return tlv(INTEGER, full.subarray(start));
}

export function encodeDirSyncRequest(request: DirSyncRequest): Buffer {
  return tlv(SEQUENCE, Buffer.concat([encodeInt32(request.flags), encodeInt32(request.maxBytes), tlv(OCTET_STRING, request.cookie)]));
}

/** A reader over one BER buffer; every read checks bounds and tags. */
class Reader {
  constructor(
    private readonly bytes: Buffer,
    private offset = 0,
    private readonly end = bytes.length,
  ) {}

  get done(): boolean {
    return this.offset >= this.end;
  }

  /** The next element's tag and content, the offset moved past it. */
  element(expected: number, what: string): Buffer {
    if (this.offset >= this.end) throw new DirSyncCodecError(`${what}: the value ends early`);
    const tag = this.bytes[this.offset] as number;
    if (tag !== expected) throw new DirSyncCodecError(`${what}: tag 0x${tag.toString(16)}, expected 0x${expected.toString(16)}`);
    let at = this.offset + 1;
    if (at >= this.end) throw new DirSyncCodecError(`${what}: no length`);
    let length = this.bytes[at] as number;
    at += 1;
    if (length === 0x80) throw new DirSyncCodecError(`${what}: indefinite length`);
    if (length > 0x80) {
      const count = length & 0x7f;
      if (count > 4 || at + count > this.end) throw new DirSyncCodecError(`${what}: bad length`);
      length = 0;
      for (let i = 0; i < count; i += 1) length = length * 256 + (this.bytes[at + i] as number);
      at += count;
    }
    if (at + length > this.end) throw new DirSyncCodecError(`${what}: ${length} bytes announced, ${this.end - at} present`);
    this.offset = at + length;
    return this.bytes.subarray(at, at + length);
  }

  sequence(what: string): Reader {
    const content = this.element(SEQUENCE, what);
    return new Reader(content);
  }

  int(what: string): number {
    const content = this.element(INTEGER, what);
    // Up to 5 bytes: a positive 32-bit value may carry a leading 0x00.
    if (content.length === 0 || content.length > 5) throw new DirSyncCodecError(`${what}: ${content.length}-byte integer`);
    let value = 0;
    for (const byte of content) value = value * 256 + byte;
    if (((content[0] as number) & 0x80) !== 0) value -= 2 ** (8 * content.length);
    if (value < -0x80000000 || value > 0xffffffff) throw new DirSyncCodecError(`${what}: ${value} is not a 32-bit value`);
    return value;
  }

  octets(what: string): Buffer {
    return Buffer.from(this.element(OCTET_STRING, what));
  }
}

/** The server's answer in the SearchResultDone's control; throws DirSyncCodecError on anything else. */
export function decodeDirSyncResponse(value: Buffer): DirSyncResponse {
  const outer = new Reader(value);
  const body = outer.sequence('DirSync response');
  if (!outer.done) throw new DirSyncCodecError('DirSync response: bytes after the sequence');
  const moreResults = body.int('moreResults');
  body.int('unused');
  const cookie = body.octets('cookie');
  if (!body.done) throw new DirSyncCodecError('DirSync response: extra elements');
  return { moreResults: moreResults !== 0, cookie };
}

/** The request's value back (what a server or a test sees). */
export function decodeDirSyncRequest(value: Buffer): DirSyncRequest {
  const outer = new Reader(value);
  const body = outer.sequence('DirSync request');
  if (!outer.done) throw new DirSyncCodecError('DirSync request: bytes after the sequence');
  const flags = body.int('flags') >>> 0; // as the unsigned bit set of dirSyncFlags
  const maxBytes = body.int('maxBytes');
  const cookie = body.octets('cookie');
  if (!body.done) throw new DirSyncCodecError('DirSync request: extra elements');
  return { flags, maxBytes, cookie };
}
