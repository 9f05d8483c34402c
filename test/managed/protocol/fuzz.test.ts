/**
 * Hostile input against the decoder, with a fixed seed so a failure reproduces: whatever the
 * bytes, decodeMessage returns a message or needMoreData or throws ProtocolError — never another
 * error, never a hang, never an allocation sized by a length the attacker declared.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BindRequest, ExtendedRequest, FilterParser, ModifyRequest, SearchRequest, Change, Attribute } from 'ldapts';
import { oids } from '../../../src/directory/managed/backend.ts';
import type { Filter } from '../../../src/directory/managed/backend.ts';
import { ProtocolError, decodeMessage, decodePagedResultsValue, decodePasswordModifyRequestValue, encodeMessage, encodePagedResultsValue, encodePasswordModifyRequestValue, needMoreData } from '../../../src/directory/managed/protocol/index.ts';
import type { DecodeOptions } from '../../../src/directory/managed/protocol/index.ts';

/** mulberry32: tiny, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = 'message' | 'needMoreData' | 'protocolError';

function outcome(bytes: Buffer, options?: DecodeOptions): Outcome {
  try {
    return decodeMessage(bytes, options) === needMoreData ? 'needMoreData' : 'message';
  } catch (error) {
    if (error instanceof ProtocolError) return 'protocolError';
    throw new Error(`decoder threw a non-protocol error for ${bytes.subarray(0, 64).toString('hex')}: ${String(error)}`, { cause: error });
  }
}

function valueOutcome(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
  }
}

const b = (text: string): Buffer => Buffer.from(text);

/** Valid messages of every shape, from our encoder and from ldapts. */
const corpus: Buffer[] = [
  new BindRequest({ messageId: 1, dn: 'CN=Alice,DC=corp,DC=example,DC=test', password: 'secret' }).write(),
  new BindRequest({ messageId: 2, mechanism: 'EXTERNAL' }).write(),
  new SearchRequest({
    messageId: 3,
    baseDN: 'DC=corp',
    scope: 'sub',
    filter: FilterParser.parseString('(&(objectClass=user)(|(cn=a*b*c)(mail=*))(!(x>=1))(member:1.2.840.113556.1.4.1941:=CN=G)(ou:dn:=S)(cn~=b)(y<=2))'),
    attributes: ['cn', 'member;range=0-*'],
  }).write(),
  new ModifyRequest({ messageId: 4, dn: 'CN=a', changes: [new Change({ operation: 'replace', modification: new Attribute({ type: 'mail', values: ['a@b'] }) })] }).write(),
  new ExtendedRequest({ messageId: 5, oid: oids.passwordModify, value: encodePasswordModifyRequestValue({ userIdentity: 'u', oldPassword: 'o', newPassword: 'n' }) }).write(),
  encodeMessage({ messageId: 6, protocolOp: { op: 'addRequest', entry: 'CN=b', attributes: [{ type: 'cn', values: [b('b')] }] } }),
  encodeMessage({ messageId: 7, protocolOp: { op: 'modifyDnRequest', entry: 'CN=b', newRdn: 'CN=c', deleteOldRdn: true, newSuperior: 'OU=x' } }),
  encodeMessage({ messageId: 8, protocolOp: { op: 'compareRequest', entry: 'CN=b', attribute: 'cn', value: b('b') } }),
  encodeMessage({ messageId: 9, protocolOp: { op: 'abandonRequest', messageId: 3 } }),
  encodeMessage({ messageId: 10, protocolOp: { op: 'delRequest', entry: 'CN=b' }, controls: [{ oid: oids.pagedResults, critical: true, value: encodePagedResultsValue({ size: 5, cookie: b('k') }) }] }),
  encodeMessage({ messageId: 11, protocolOp: { op: 'unbindRequest' } }),
  encodeMessage({ messageId: 12, protocolOp: { op: 'searchResultEntry', objectName: 'CN=a', attributes: [{ type: 'cn', values: [b('a')] }] } }),
  encodeMessage({ messageId: 13, protocolOp: { op: 'extendedResponse', resultCode: 0, diagnosticMessage: 'x', responseName: oids.startTls, responseValue: b('v'), referral: ['ldap://x'] } }),
  encodeMessage({ messageId: 14, protocolOp: { op: 'bindResponse', resultCode: 14, serverSaslCreds: b('c') } }),
];

describe('decoder fuzzing (deterministic)', () => {
  it('the corpus itself decodes', () => {
    for (const message of corpus) assert.equal(outcome(message), 'message');
  });

  it('random bytes, plain and shaped like a message', { timeout: 5000 }, () => {
    const random = prng(0x5eed);
    const counts: Record<Outcome, number> = { message: 0, needMoreData: 0, protocolError: 0 };
    for (let i = 0; i < 30_000; i += 1) {
      const length = Math.floor(random() * 96);
      const bytes = Buffer.alloc(length);
      for (let j = 0; j < length; j += 1) bytes[j] = Math.floor(random() * 256);
      // Half the inputs get a plausible outer header so the fuzzing reaches the inner parsers.
      if (i % 2 === 0 && length > 2) {
        bytes[0] = 0x30;
        bytes[1] = length - 2;
        bytes[2] = 0x02;
      }
      counts[outcome(bytes)] += 1;
    }
    assert.ok(counts.protocolError > 0 && counts.needMoreData > 0);
  });

  it('every truncation of a valid message asks for more data', { timeout: 5000 }, () => {
    for (const message of corpus) {
      for (let end = 0; end < message.length; end += 1) assert.equal(outcome(message.subarray(0, end)), 'needMoreData');
    }
  });

  it('truncated contents re-wrapped with a consistent outer length never escape', { timeout: 5000 }, () => {
    for (const message of corpus) {
      const headerLength = message[1] === undefined || message[1] < 0x80 ? 2 : 2 + (message[1] & 0x7f);
      const content = message.subarray(headerLength);
      for (let end = 0; end < content.length; end += 1) {
        const cut = content.subarray(0, end);
        const wrapped = Buffer.concat([Buffer.from([0x30, 0x82, cut.length >> 8, cut.length & 0xff]), cut]);
        assert.notEqual(outcome(wrapped), 'needMoreData');
      }
    }
  });

  it('every single bit flip of every valid message', { timeout: 8000 }, () => {
    for (const message of corpus) {
      for (let i = 0; i < message.length; i += 1) {
        for (let bit = 0; bit < 8; bit += 1) {
          const mutated = Buffer.from(message);
          mutated[i] = (mutated[i] as number) ^ (1 << bit);
          outcome(mutated);
        }
      }
    }
  });

  it('length-field mutations at every offset', { timeout: 5000 }, () => {
    const lengths = [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x89, 0xff];
    for (const message of corpus) {
      for (let i = 0; i < message.length; i += 1) {
        for (const value of lengths) {
          const mutated = Buffer.from(message);
          mutated[i] = value;
          outcome(mutated);
          // A long-form length that claims the maximum in the middle of the message.
          const huge = Buffer.concat([message.subarray(0, i), Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]), message.subarray(i + 1)]);
          outcome(huge);
        }
      }
    }
  });

  it('extension values survive the same mutations', { timeout: 5000 }, () => {
    const values = [encodePagedResultsValue({ size: 100, cookie: b('cookie') }), encodePasswordModifyRequestValue({ userIdentity: 'u', oldPassword: 'o', newPassword: 'n' })];
    for (const value of values) {
      for (let i = 0; i <= value.length; i += 1) {
        valueOutcome(() => decodePagedResultsValue(value.subarray(0, i)));
        valueOutcome(() => decodePasswordModifyRequestValue(value.subarray(0, i)));
        for (let bit = 0; bit < 8 && i < value.length; bit += 1) {
          const mutated = Buffer.from(value);
          mutated[i] = (mutated[i] as number) ^ (1 << bit);
          valueOutcome(() => decodePagedResultsValue(mutated));
          valueOutcome(() => decodePasswordModifyRequestValue(mutated));
        }
      }
    }
  });

  it('a filter nested 10,000 levels deep is refused without exhausting the stack', { timeout: 5000 }, () => {
    for (const tag of [0xa2, 0xa0, 0xa1]) {
      // Build inside-out as a list of headers, then concatenate once: 10,000 levels is ~40 KB.
      const present = Buffer.from([0x87, 0x02, 0x63, 0x6e]);
      const headers: Buffer[] = [];
      let size = present.length;
      for (let level = 0; level < 10_000; level += 1) {
        const header = size < 0x80 ? Buffer.from([tag, size]) : size < 0x100 ? Buffer.from([tag, 0x81, size]) : size < 0x10000 ? Buffer.from([tag, 0x82, size >> 8, size & 0xff]) : Buffer.from([tag, 0x83, size >> 16, (size >> 8) & 0xff, size & 0xff]);
        headers.push(header);
        size += header.length;
      }
      const filter = Buffer.concat([...headers.reverse(), present]);
      const rest = Buffer.from([0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00]);
      const attributes = Buffer.from([0x30, 0x00]);
      const body = Buffer.concat([rest, filter, attributes]);
      const op = Buffer.concat([Buffer.from([0x63, 0x83, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
      const content = Buffer.concat([Buffer.from([0x02, 0x01, 0x01]), op]);
      const message = Buffer.concat([Buffer.from([0x30, 0x83, content.length >> 16, (content.length >> 8) & 0xff, content.length & 0xff]), content]);
      assert.throws(() => decodeMessage(message), (error: unknown) => error instanceof ProtocolError && error.reason === 'ldap.filter_too_deep');
      // A higher limit still refuses cleanly: the depth check runs before each level is entered.
      assert.throws(() => decodeMessage(message, { maxFilterDepth: 100 }), ProtocolError);
    }
  });

  it('huge declared lengths cost nothing before the bytes arrive', { timeout: 5000 }, () => {
    const before = process.memoryUsage().arrayBuffers;
    // Above the limit: refused from the header alone.
    assert.equal(outcome(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])), 'protocolError');
    // Limit lifted: still only "need more data", nothing allocated for the declared 4 GiB.
    for (let i = 0; i < 1000; i += 1) assert.equal(outcome(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xf0, 0x02, 0x01, 0x01]), { maxMessageBytes: Number.MAX_SAFE_INTEGER }), 'needMoreData');
    // Inner elements declaring 4 GiB inside a small, complete message.
    for (let i = 0; i < 1000; i += 1) assert.equal(outcome(Buffer.from([0x30, 0x0b, 0x02, 0x01, 0x01, 0x4a, 0x84, 0xff, 0xff, 0xff, 0xff, 0x41, 0x42])), 'protocolError');
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
  });

  it('a message with thousands of tiny elements decodes in linear time', { timeout: 5000 }, () => {
    const filters: Filter[] = Array.from({ length: 20_000 }, (_, i) => ({ type: 'present', attribute: `a${i}` }));
    const bytes = encodeMessage({ messageId: 1, protocolOp: { op: 'searchRequest', baseObject: '', scope: 'base', derefAliases: 0, sizeLimit: 0, timeLimit: 0, typesOnly: false, filter: { type: 'or', filters }, attributes: [] } });
    const started = performance.now();
    assert.equal(outcome(bytes), 'message');
    assert.ok(performance.now() - started < 1000);
  });
});
