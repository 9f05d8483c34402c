/**
 * The DirSync control value, byte by byte: the request as AD expects it (flags as a signed int32),
 * the response as a DC sends it, long cookies (long-form lengths), and malformed answers refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerReader, BerWriter } from 'ldapts';
import { DirSyncControl } from './dirsync-control.ts';
import { decodeDirSyncRequest, decodeDirSyncResponse, DirSyncCodecError, dirSyncFlags, encodeDirSyncRequest } from './dirsync.ts';

const hex = (b: Buffer) => b.toString('hex');

void describe('DirSync request value', () => {
  void it('encodes flags, maxBytes and an empty cookie as AD expects (INCREMENTAL_VALUES is a negative int32)', () => {
    const value = encodeDirSyncRequest({ flags: dirSyncFlags.incrementalValues, maxBytes: 1_048_576, cookie: Buffer.alloc(0) });
    // 30 0d | 02 04 80000000 | 02 03 100000 | 04 00
    assert.equal(hex(value), '300d' + '020480000000' + '0203100000' + '0400');
  });

  void it('uses the shortest integer forms and keeps a positive value positive', () => {
    assert.equal(hex(encodeDirSyncRequest({ flags: 0, maxBytes: 0, cookie: Buffer.alloc(0) })), '3008020100020100' + '0400');
    // 0x80 needs a leading zero byte, or it would read as -128.
    assert.equal(hex(encodeDirSyncRequest({ flags: 0x800, maxBytes: 0x80, cookie: Buffer.from([1, 2]) })), '300c' + '02020800' + '02020080' + '04020102');
  });

  void it('round-trips, with a cookie long enough for a long-form length', () => {
    const cookie = Buffer.alloc(300, 0xab);
    const request = { flags: (dirSyncFlags.incrementalValues | dirSyncFlags.objectSecurity) >>> 0, maxBytes: 65_536, cookie };
    const value = encodeDirSyncRequest(request);
    assert.equal(hex(value.subarray(0, 4)), '3082013b', 'the sequence length takes two bytes');
    assert.deepEqual(decodeDirSyncRequest(value), request);
  });

  void it('refuses values that are no 32-bit integers', () => {
    assert.throws(() => encodeDirSyncRequest({ flags: 2 ** 32, maxBytes: 0, cookie: Buffer.alloc(0) }), DirSyncCodecError);
    assert.throws(() => encodeDirSyncRequest({ flags: 1.5, maxBytes: 0, cookie: Buffer.alloc(0) }), DirSyncCodecError);
  });
});

void describe('DirSync response value', () => {
  void it('decodes "more data" and the cookie', () => {
    const cookie = Buffer.from('4d53445303000000', 'hex');
    const value = Buffer.from('3010' + '020101' + '020100' + '0408' + hex(cookie), 'hex');
    assert.deepEqual(decodeDirSyncResponse(value), { moreResults: true, cookie });
    const done = Buffer.from('3008' + '020100' + '020100' + '0400', 'hex');
    assert.deepEqual(decodeDirSyncResponse(done), { moreResults: false, cookie: Buffer.alloc(0) });
  });

  void it('reads a response written by another BER writer (ldapts) with a long cookie', () => {
    const cookie = Buffer.alloc(200, 7);
    const writer = new BerWriter();
    writer.startSequence();
    writer.writeInt(0);
    writer.writeInt(0);
    writer.writeBuffer(cookie, 0x04);
    writer.endSequence();
    assert.deepEqual(decodeDirSyncResponse(writer.buffer), { moreResults: false, cookie });
  });

  void it('refuses truncated, mistagged, indefinite-length and trailing-garbage answers', () => {
    const good = '3008020100020100' + '0400';
    for (const bad of [
      '',
      '3008020100020100', // cookie missing (length says 8, 6 present)
      '3106020100020100' + '0400', // SET, not SEQUENCE
      '3080020100020100040000 00'.replace(/ /g, ''), // indefinite length
      '3008020100020100' + '0401', // cookie longer than the value
      good + '00', // bytes after the sequence
      '300b020100020100' + '0400' + '020100', // an extra element
      '3009' + '0206000000000001' + '020100', // a 6-byte integer
    ]) {
      assert.throws(() => decodeDirSyncResponse(Buffer.from(bad, 'hex')), DirSyncCodecError, bad);
    }
  });
});

void describe('DirSync control on ldapts', () => {
  void it('writes the OID, criticality and the encoded value, and takes the answer into the same object', () => {
    const control = new DirSyncControl({ flags: dirSyncFlags.incrementalValues, maxBytes: 0, cookie: Buffer.from('c0ffee', 'hex') });
    const writer = new BerWriter();
    control.write(writer);
    const reader = new BerReader(writer.buffer);
    reader.readSequence();
    assert.equal(reader.readString(), '1.2.840.113556.1.4.841');
    assert.equal(reader.readBoolean(), true, 'critical: a DC without DirSync must refuse, not ignore it');
    const value = reader.readString(0x04, true);
    assert.ok(value);
    assert.deepEqual(decodeDirSyncRequest(value), { flags: dirSyncFlags.incrementalValues, maxBytes: 0, cookie: Buffer.from('c0ffee', 'hex') });

    control.parse(new BerReader(Buffer.from('300a' + '020101' + '020100' + '0402beef', 'hex')));
    assert.deepEqual(control.response, { moreResults: true, cookie: Buffer.from('beef', 'hex') });
    const broken = new DirSyncControl({ flags: 0, maxBytes: 0, cookie: Buffer.alloc(0) });
    broken.parse(new BerReader(Buffer.from('0400', 'hex')));
    assert.equal(broken.response, null);
    assert.ok(broken.responseError instanceof DirSyncCodecError);
  });
});
