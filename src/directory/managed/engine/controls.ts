/**
 * The paged-results control value (RFC 2696): realSearchControlValue ::= SEQUENCE { size INTEGER,
 * cookie OCTET STRING }. Control values are opaque bytes at the backend seam, so the engine
 * reads and writes this one itself.
 */

function readLength(buffer: Buffer, offset: number): { length: number; next: number } {
  const first = buffer[offset];
  if (first === undefined) throw new RangeError('truncated BER length');
  if (first < 0x80) return { length: first, next: offset + 1 };
  const count = first & 0x7f;
  if (count === 0 || count > 4 || offset + 1 + count > buffer.length) throw new RangeError('unsupported BER length');
  let length = 0;
  for (let i = 0; i < count; i += 1) length = length * 256 + (buffer[offset + 1 + i] as number);
  return { length, next: offset + 1 + count };
}

function readTlv(buffer: Buffer, offset: number, tag: number): { value: Buffer; next: number } {
  if (buffer[offset] !== tag) throw new RangeError(`expected BER tag 0x${tag.toString(16)}`);
  const { length, next } = readLength(buffer, offset + 1);
  if (next + length > buffer.length) throw new RangeError('truncated BER value');
  return { value: buffer.subarray(next, next + length), next: next + length };
}

export function decodePagedResults(value: Buffer): { size: number; cookie: Buffer } {
  const sequence = readTlv(value, 0, 0x30).value;
  const size = readTlv(sequence, 0, 0x02);
  if (size.value.length === 0 || size.value.length > 4) throw new RangeError('invalid page size');
  const sizeValue = size.value.readIntBE(0, size.value.length);
  const cookie = readTlv(sequence, size.next, 0x04).value;
  return { size: sizeValue, cookie: Buffer.from(cookie) };
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value]);
}

function encodeInteger(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    bytes.unshift(rest & 0xff);
    rest >>= 8;
  } while (rest !== 0 && rest !== -1);
  // Keep the sign: a leading 1 bit on a positive number needs a 0x00 byte.
  if (value >= 0 && ((bytes[0] as number) & 0x80) !== 0) bytes.unshift(0);
  if (value < 0 && ((bytes[0] as number) & 0x80) === 0) bytes.unshift(0xff);
  return Buffer.from(bytes);
}

export function encodePagedResults(size: number, cookie: Buffer): Buffer {
  return tlv(0x30, Buffer.concat([tlv(0x02, encodeInteger(size)), tlv(0x04, cookie)]));
}
