/**
 * The LDAP codec against itself (round trips of every operation) and against a real client:
 * requests serialised by ldapts's own message classes must decode to what was asked for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AbandonRequest,
  AddRequest,
  AndFilter,
  Attribute,
  BindRequest,
  Change,
  CompareRequest,
  DeleteRequest,
  EqualityFilter,
  ExtendedRequest,
  ExtensibleFilter,
  FilterParser,
  ModifyDNRequest,
  ModifyRequest,
  NotFilter,
  OrFilter,
  PagedResultsControl,
  PresenceFilter,
  SearchRequest,
  SubstringFilter,
  UnbindRequest,
} from 'ldapts';
import type { Filter } from '../../../src/directory/managed/backend.ts';
import { oids } from '../../../src/directory/managed/backend.ts';
import {
  ProtocolError,
  decodeMessage,
  decodePagedResultsValue,
  decodePasswordModifyRequestValue,
  decodePasswordModifyResponseValue,
  encodeBindResponse,
  encodeExtendedResponse,
  encodeMessage,
  encodeNoticeOfDisconnection,
  encodePagedResultsValue,
  encodePasswordModifyRequestValue,
  encodePasswordModifyResponseValue,
  encodeSearchResultDone,
  encodeSearchResultEntry,
  needMoreData,
} from '../../../src/directory/managed/protocol/index.ts';
import type { DecodedMessage, LdapMessage, ProtocolOp } from '../../../src/directory/managed/protocol/index.ts';

function decodeOne(buf: Buffer): DecodedMessage {
  const decoded = decodeMessage(buf);
  assert.notEqual(decoded, needMoreData);
  if (decoded === needMoreData) throw new Error('unreachable');
  assert.equal(decoded.bytesConsumed, buf.length);
  return decoded;
}

function roundTrip(message: LdapMessage): void {
  const bytes = encodeMessage(message);
  assert.deepEqual(decodeOne(bytes).message, message);
}

const b = (text: string): Buffer => Buffer.from(text, 'utf8');

const everyFilter: Filter = {
  type: 'and',
  filters: [
    { type: 'equality', attribute: 'objectClass', value: b('user') },
    { type: 'or', filters: [{ type: 'present', attribute: 'mail' }, { type: 'approx', attribute: 'cn', value: b('alise') }] },
    { type: 'not', filter: { type: 'greaterOrEqual', attribute: 'badPwdCount', value: b('3') } },
    { type: 'lessOrEqual', attribute: 'lastLogon', value: b('133000000000000000') },
    { type: 'substrings', attribute: 'cn', initial: b('Al'), any: [b('i'), b('c')], final: b('e') },
    { type: 'substrings', attribute: 'sn', any: [b('mid')] },
    { type: 'extensible', rule: oids.matchingRuleInChain, attribute: 'member', value: b('CN=Alice,DC=corp'), dnAttributes: false },
    { type: 'extensible', attribute: 'ou', value: b('Sales'), dnAttributes: true },
    { type: 'extensible', rule: '2.5.13.2', value: b('x'), dnAttributes: false },
    { type: 'equality', attribute: 'objectGUID', value: Buffer.from([0x00, 0xff, 0x28, 0x29, 0x5c, 0x2a]) },
    { type: 'and', filters: [] },
  ],
};

describe('LDAP codec round trips', () => {
  const cases: Array<[string, ProtocolOp]> = [
    ['simple bind', { op: 'bindRequest', version: 3, name: 'alice@corp.example.test', authentication: { method: 'simple', password: b('pässword') } }],
    ['SASL bind', { op: 'bindRequest', version: 3, name: '', authentication: { method: 'sasl', mechanism: 'GSSAPI', credentials: Buffer.from([1, 2, 3]) } }],
    ['SASL bind without credentials', { op: 'bindRequest', version: 3, name: '', authentication: { method: 'sasl', mechanism: 'EXTERNAL' } }],
    ['unbind', { op: 'unbindRequest' }],
    [
      'search with every filter type',
      { op: 'searchRequest', baseObject: 'DC=corp,DC=example,DC=test', scope: 'sub', derefAliases: 3, sizeLimit: 1000, timeLimit: 30, typesOnly: true, filter: everyFilter, attributes: ['cn', 'member;range=0-1499', '+', '*'] },
    ],
    ['rootDSE search', { op: 'searchRequest', baseObject: '', scope: 'base', derefAliases: 0, sizeLimit: 0, timeLimit: 0, typesOnly: false, filter: { type: 'present', attribute: 'objectClass' }, attributes: [] }],
    [
      'modify',
      {
        op: 'modifyRequest',
        object: 'CN=Alice,DC=corp',
        changes: [
          { operation: 'add', type: 'mail', values: [b('a@x'), b('b@x')] },
          { operation: 'delete', type: 'description', values: [] },
          { operation: 'replace', type: 'unicodePwd', values: [Buffer.from('"secret"', 'utf16le')] },
        ],
      },
    ],
    ['add', { op: 'addRequest', entry: 'CN=Bob,DC=corp', attributes: [{ type: 'objectClass', values: [b('top'), b('user')] }, { type: 'cn', values: [b('Bob')] }] }],
    ['delete', { op: 'delRequest', entry: 'CN=Bob,DC=corp' }],
    ['modify DN', { op: 'modifyDnRequest', entry: 'CN=Bob,DC=corp', newRdn: 'CN=Robert', deleteOldRdn: true, newSuperior: 'OU=People,DC=corp' }],
    ['modify DN, same parent', { op: 'modifyDnRequest', entry: 'CN=Bob,DC=corp', newRdn: 'CN=Robert', deleteOldRdn: false }],
    ['compare', { op: 'compareRequest', entry: 'CN=Bob,DC=corp', attribute: 'sAMAccountName', value: b('bob') }],
    ['abandon', { op: 'abandonRequest', messageId: 2_147_483_647 }],
    ['extended', { op: 'extendedRequest', requestName: oids.passwordModify, requestValue: encodePasswordModifyRequestValue({ newPassword: 'n' }) }],
    ['extended without value', { op: 'extendedRequest', requestName: oids.whoAmI }],
    ['bind response', { op: 'bindResponse', resultCode: 49, matchedDN: '', diagnosticMessage: '80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1' }],
    ['search entry', { op: 'searchResultEntry', objectName: 'CN=Alice,DC=corp', attributes: [{ type: 'member;range=0-*', values: [b('CN=x'), Buffer.alloc(0)] }, { type: 'cn', values: [] }] }],
    ['search reference', { op: 'searchResultReference', uris: ['ldap://other.example.test/DC=other'] }],
    ['search done with referral', { op: 'searchResultDone', resultCode: 10, matchedDN: 'DC=corp', diagnosticMessage: '', referral: ['ldap://a/', 'ldap://b/'] }],
    ['modify response', { op: 'modifyResponse', resultCode: 0, matchedDN: '', diagnosticMessage: '' }],
    ['add response', { op: 'addResponse', resultCode: 68, matchedDN: '', diagnosticMessage: 'exists' }],
    ['delete response', { op: 'delResponse', resultCode: 66, matchedDN: '', diagnosticMessage: '' }],
    ['modify DN response', { op: 'modifyDnResponse', resultCode: 0, matchedDN: '', diagnosticMessage: '' }],
    ['compare response', { op: 'compareResponse', resultCode: 6, matchedDN: '', diagnosticMessage: '' }],
    ['extended response', { op: 'extendedResponse', resultCode: 0, matchedDN: '', diagnosticMessage: '', responseName: oids.startTls, responseValue: b('v') }],
  ];
  for (const [name, protocolOp] of cases) {
    it(name, () => roundTrip({ messageId: 7, protocolOp, controls: [] }));
  }

  it('carries controls, criticality and values', () => {
    roundTrip({
      messageId: 300,
      protocolOp: { op: 'delRequest', entry: 'CN=x' },
      controls: [
        { oid: oids.pagedResults, critical: true, value: encodePagedResultsValue({ size: 500, cookie: b('c') }) },
        { oid: '1.2.840.113556.1.4.417', critical: false },
      ],
    });
  });

  it('encodes the response helpers the server uses', () => {
    const entry = decodeOne(encodeSearchResultEntry(5, { objectName: 'CN=a', attributes: [{ type: 'cn', values: [b('a')] }] })).message;
    assert.equal(entry.protocolOp.op, 'searchResultEntry');
    const done = decodeOne(encodeSearchResultDone(5, { resultCode: 0 }, [{ oid: oids.pagedResults, critical: false, value: encodePagedResultsValue({ size: 0, cookie: Buffer.alloc(0) }) }])).message;
    assert.deepEqual(done.protocolOp, { op: 'searchResultDone', resultCode: 0, matchedDN: '', diagnosticMessage: '' });
    assert.equal(done.controls[0]?.oid, oids.pagedResults);
    assert.deepEqual(decodeOne(encodeBindResponse(1, { resultCode: 0 })).message.protocolOp, { op: 'bindResponse', resultCode: 0, matchedDN: '', diagnosticMessage: '' });
    const whoami = decodeOne(encodeExtendedResponse(9, { resultCode: 0 }, { responseValue: b('dn:CN=a') })).message.protocolOp;
    assert.deepEqual(whoami, { op: 'extendedResponse', resultCode: 0, matchedDN: '', diagnosticMessage: '', responseValue: b('dn:CN=a') });
  });

  it('encodes the Notice of Disconnection with messageID 0', () => {
    const notice = decodeOne(encodeNoticeOfDisconnection(2, 'bad')).message;
    assert.equal(notice.messageId, 0);
    assert.deepEqual(notice.protocolOp, { op: 'extendedResponse', resultCode: 2, matchedDN: '', diagnosticMessage: 'bad', responseName: oids.noticeOfDisconnection });
  });

  it('uses long-form lengths for big values and frames consecutive messages', () => {
    const big: LdapMessage = { messageId: 1, protocolOp: { op: 'compareRequest', entry: 'CN=a', attribute: 'jpegPhoto', value: Buffer.alloc(70_000, 7) }, controls: [] };
    const second: LdapMessage = { messageId: 2, protocolOp: { op: 'unbindRequest' }, controls: [] };
    const stream = Buffer.concat([encodeMessage(big), encodeMessage(second)]);
    const first = decodeMessage(stream);
    assert.notEqual(first, needMoreData);
    if (first === needMoreData) return;
    assert.deepEqual(first.message, big);
    assert.deepEqual(decodeOne(stream.subarray(first.bytesConsumed)).message, second);
  });
});

describe('extension values', () => {
  it('round-trips the paged results control value', () => {
    const value = { size: 1000, cookie: Buffer.from([0, 1, 2, 255]) };
    assert.deepEqual(decodePagedResultsValue(encodePagedResultsValue(value)), value);
    assert.deepEqual(decodePagedResultsValue(encodePagedResultsValue({ size: 0, cookie: Buffer.alloc(0) })), { size: 0, cookie: Buffer.alloc(0) });
  });

  it('reads the paged results control as ldapts writes it', () => {
    const message = new DeleteRequest({ messageId: 4, dn: 'CN=x', controls: [new PagedResultsControl({ critical: true, value: { size: 250, cookie: b('next') } })] });
    const [control] = decodeOne(message.write()).message.controls;
    assert.equal(control?.oid, oids.pagedResults);
    assert.equal(control?.critical, true);
    assert.ok(control?.value);
    assert.deepEqual(decodePagedResultsValue(control.value), { size: 250, cookie: b('next') });
  });

  it('round-trips Password Modify values (RFC 3062)', () => {
    const full = { userIdentity: 'CN=Alice,DC=corp', oldPassword: 'old', newPassword: 'new' };
    assert.deepEqual(decodePasswordModifyRequestValue(encodePasswordModifyRequestValue(full)), full);
    assert.deepEqual(decodePasswordModifyRequestValue(encodePasswordModifyRequestValue({ oldPassword: 'o' })), { oldPassword: 'o' });
    assert.deepEqual(decodePasswordModifyRequestValue(undefined), {});
    assert.deepEqual(decodePasswordModifyResponseValue(encodePasswordModifyResponseValue('Gen3rated!')), { genPassword: 'Gen3rated!' });
  });

  it('refuses malformed extension values with ProtocolError', () => {
    for (const bad of [Buffer.from([0x30, 0x05, 0x02]), Buffer.from([0x04, 0x00]), Buffer.concat([encodePagedResultsValue({ size: 1, cookie: Buffer.alloc(0) }), Buffer.from([0])])]) {
      assert.throws(() => decodePagedResultsValue(bad), ProtocolError);
    }
    assert.throws(() => decodePagedResultsValue(encodeMessage({ messageId: 1, protocolOp: { op: 'unbindRequest' } })), ProtocolError);
    assert.throws(() => decodePasswordModifyRequestValue(Buffer.from([0x30, 0x03, 0x83, 0x01, 0x61])), ProtocolError);
  });
});

describe('requests written by ldapts decode to what was asked', () => {
  it('simple bind', () => {
    const { message } = decodeOne(new BindRequest({ messageId: 1, dn: 'CORP\\alice', password: 'p@ss wörd' }).write());
    assert.deepEqual(message, { messageId: 1, protocolOp: { op: 'bindRequest', version: 3, name: 'CORP\\alice', authentication: { method: 'simple', password: b('p@ss wörd') } }, controls: [] });
  });

  it('SASL bind', () => {
    const { message } = decodeOne(new BindRequest({ messageId: 2, mechanism: 'PLAIN', password: '\u0000alice\u0000pw' }).write());
    assert.equal(message.protocolOp.op, 'bindRequest');
    if (message.protocolOp.op !== 'bindRequest') return;
    assert.equal(message.protocolOp.authentication.method, 'sasl');
    assert.deepEqual(message.protocolOp.authentication, { method: 'sasl', mechanism: 'PLAIN', credentials: b('\u0000alice\u0000pw') });
  });

  it('search with a filter parsed by ldapts from text', () => {
    const filter = FilterParser.parseString('(&(objectClass=user)(|(sAMAccountName=al*ce)(mail=*))(!(cn>=m))(member:1.2.840.113556.1.4.1941:=CN=G,DC=corp)(ou:dn:=Sales)(cn~=bob)(cn<=z))');
    const request = new SearchRequest({ messageId: 3, baseDN: 'DC=corp', scope: 'one', filter, attributes: ['cn', 'mail'], sizeLimit: 10, timeLimit: 5, returnAttributeValues: true });
    const { message } = decodeOne(request.write());
    const expected: Filter = {
      type: 'and',
      filters: [
        { type: 'equality', attribute: 'objectClass', value: b('user') },
        { type: 'or', filters: [{ type: 'substrings', attribute: 'sAMAccountName', initial: b('al'), any: [], final: b('ce') }, { type: 'present', attribute: 'mail' }] },
        { type: 'not', filter: { type: 'greaterOrEqual', attribute: 'cn', value: b('m') } },
        { type: 'extensible', rule: oids.matchingRuleInChain, attribute: 'member', value: b('CN=G,DC=corp'), dnAttributes: false },
        { type: 'extensible', attribute: 'ou', value: b('Sales'), dnAttributes: true },
        { type: 'approx', attribute: 'cn', value: b('bob') },
        { type: 'lessOrEqual', attribute: 'cn', value: b('z') },
      ],
    };
    assert.deepEqual(message.protocolOp, { op: 'searchRequest', baseObject: 'DC=corp', scope: 'one', derefAliases: 0, sizeLimit: 10, timeLimit: 5, typesOnly: false, filter: expected, attributes: ['cn', 'mail'] });
  });

  it('search with filter objects built by hand and binary values', () => {
    const filter = new AndFilter({
      filters: [
        new EqualityFilter({ attribute: 'objectGUID', value: Buffer.from([0, 0x2a, 0xff]) }),
        new OrFilter({ filters: [new PresenceFilter({ attribute: 'cn' }), new NotFilter({ filter: new SubstringFilter({ attribute: 'sn', any: ['x', 'y'] }) })] }),
        new ExtensibleFilter({ rule: '2.5.13.5', value: 'v', dnAttributes: true }),
      ],
    });
    const { message } = decodeOne(new SearchRequest({ messageId: 4, baseDN: '', scope: 'base', filter, attributes: [] }).write());
    assert.equal(message.protocolOp.op, 'searchRequest');
    if (message.protocolOp.op !== 'searchRequest') return;
    assert.deepEqual(message.protocolOp.filter, {
      type: 'and',
      filters: [
        { type: 'equality', attribute: 'objectGUID', value: Buffer.from([0, 0x2a, 0xff]) },
        { type: 'or', filters: [{ type: 'present', attribute: 'cn' }, { type: 'not', filter: { type: 'substrings', attribute: 'sn', any: [b('x'), b('y')] } }] },
        { type: 'extensible', rule: '2.5.13.5', value: b('v'), dnAttributes: true },
      ],
    });
  });

  it('modify, add, delete, modify DN, compare, abandon, extended, unbind', () => {
    const modify = decodeOne(
      new ModifyRequest({
        messageId: 5,
        dn: 'CN=a,DC=corp',
        changes: [
          new Change({ operation: 'replace', modification: new Attribute({ type: 'mail', values: ['a@corp'] }) }),
          new Change({ operation: 'delete', modification: new Attribute({ type: 'description', values: [] }) }),
        ],
      }).write(),
    ).message.protocolOp;
    assert.deepEqual(modify, {
      op: 'modifyRequest',
      object: 'CN=a,DC=corp',
      changes: [
        { operation: 'replace', type: 'mail', values: [b('a@corp')] },
        { operation: 'delete', type: 'description', values: [] },
      ],
    });
    const add = decodeOne(new AddRequest({ messageId: 6, dn: 'CN=b,DC=corp', attributes: [new Attribute({ type: 'objectClass', values: ['top', 'user'] })] }).write()).message.protocolOp;
    assert.deepEqual(add, { op: 'addRequest', entry: 'CN=b,DC=corp', attributes: [{ type: 'objectClass', values: [b('top'), b('user')] }] });
    assert.deepEqual(decodeOne(new DeleteRequest({ messageId: 7, dn: 'CN=b,DC=corp' }).write()).message.protocolOp, { op: 'delRequest', entry: 'CN=b,DC=corp' });
    const modDn = decodeOne(new ModifyDNRequest({ messageId: 8, dn: 'CN=b,DC=corp', newRdn: 'CN=c', deleteOldRdn: true, newSuperior: 'OU=x,DC=corp' }).write()).message.protocolOp;
    assert.deepEqual(modDn, { op: 'modifyDnRequest', entry: 'CN=b,DC=corp', newRdn: 'CN=c', deleteOldRdn: true, newSuperior: 'OU=x,DC=corp' });
    const compare = decodeOne(new CompareRequest({ messageId: 9, dn: 'CN=b', attribute: 'cn', value: 'b' }).write()).message.protocolOp;
    assert.deepEqual(compare, { op: 'compareRequest', entry: 'CN=b', attribute: 'cn', value: b('b') });
    assert.deepEqual(decodeOne(new AbandonRequest({ messageId: 10, abandonId: 3 }).write()).message, { messageId: 10, protocolOp: { op: 'abandonRequest', messageId: 3 }, controls: [] });
    const passwd = decodeOne(new ExtendedRequest({ messageId: 11, oid: oids.passwordModify, value: encodePasswordModifyRequestValue({ oldPassword: 'a', newPassword: 'b' }) }).write()).message.protocolOp;
    assert.equal(passwd.op, 'extendedRequest');
    if (passwd.op !== 'extendedRequest') return;
    assert.equal(passwd.requestName, oids.passwordModify);
    assert.deepEqual(decodePasswordModifyRequestValue(passwd.requestValue), { oldPassword: 'a', newPassword: 'b' });
    assert.deepEqual(decodeOne(new ExtendedRequest({ messageId: 12, oid: oids.startTls }).write()).message.protocolOp, { op: 'extendedRequest', requestName: oids.startTls });
    assert.deepEqual(decodeOne(new UnbindRequest({ messageId: 13 }).write()).message.protocolOp, { op: 'unbindRequest' });
  });
});

describe('decoder refusals', () => {
  const reason = (fn: () => unknown): string => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${String(error)}`);
      assert.equal(error.code, 'directory.protocol_error');
      return error.reason;
    }
    assert.fail('no error');
  };
  const valid = encodeMessage({ messageId: 1, protocolOp: { op: 'delRequest', entry: 'CN=x' } });

  it('asks for more data while a message is incomplete, and for an empty buffer', () => {
    assert.equal(decodeMessage(Buffer.alloc(0)), needMoreData);
    for (let i = 1; i < valid.length; i += 1) assert.equal(decodeMessage(valid.subarray(0, i)), needMoreData);
  });

  it('refuses indefinite lengths, long length fields and multi-byte tags', () => {
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x80, 0x02, 0x01, 0x01, 0x42, 0x00, 0x00, 0x00]))), 'ber.indefinite_length');
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x85, 1, 0, 0, 0, 0]))), 'ber.length_too_long');
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x03, 0x1f, 0x01, 0x00]))), 'ber.unsupported_tag');
    assert.equal(reason(() => decodeMessage(Buffer.from([0x04, 0x00]))), 'ldap.not_a_message');
  });

  it('refuses an oversized message from its header, before its bytes arrive', () => {
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]))), 'ldap.message_too_large');
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x82, 0x01, 0x00]), { maxMessageBytes: 200 })), 'ldap.message_too_large');
  });

  it('refuses inner lengths that run past their container', () => {
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x05, 0x02, 0x01, 0x01, 0x4a, 0x09]))), 'ber.truncated');
  });

  it('refuses oversized integers, bad message IDs and unknown operations', () => {
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x09, 0x02, 0x07, 1, 2, 3, 4, 5, 6, 7]))), 'ber.integer_too_large');
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x05, 0x02, 0x01, 0xff, 0x42, 0x00]))), 'ldap.invalid_message_id');
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x04, 0x02, 0x00, 0x42, 0x00]))), 'ber.invalid_integer');
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x05, 0x02, 0x01, 0x01, 0x7a, 0x00]))), 'ldap.unknown_operation');
  });

  it('refuses invalid UTF-8 in an LDAPString but keeps binary values', () => {
    assert.equal(reason(() => decodeMessage(Buffer.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x4a, 0x01, 0xff]))), 'ber.invalid_utf8');
  });

  it('refuses filters nested beyond the limit, and unknown scopes', () => {
    let filter: Filter = { type: 'present', attribute: 'cn' };
    for (let i = 0; i < 10; i += 1) filter = { type: 'not', filter };
    const search = (f: Filter): Buffer =>
      encodeMessage({ messageId: 1, protocolOp: { op: 'searchRequest', baseObject: '', scope: 'base', derefAliases: 0, sizeLimit: 0, timeLimit: 0, typesOnly: false, filter: f, attributes: [] } });
    assert.equal(reason(() => decodeMessage(search(filter), { maxFilterDepth: 10 })), 'ldap.filter_too_deep');
    assert.notEqual(decodeMessage(search(filter), { maxFilterDepth: 11 }), needMoreData);
    const bytes = search({ type: 'present', attribute: 'cn' });
    // scope is the second element of the SearchRequest: 0x0a 0x01 0x00 right after baseObject (0x04 0x00).
    const scopeAt = bytes.indexOf(Buffer.from([0x04, 0x00, 0x0a, 0x01, 0x00])) + 4;
    bytes[scopeAt] = 3;
    assert.equal(reason(() => decodeMessage(bytes)), 'ldap.invalid_enum');
  });
});
