/**
 * The server against clients that misbehave or are merely slow, spoken to over raw sockets with
 * our own codec so every byte and every answer is visible: malformed and oversized input, busy,
 * abandon, time limits, back-pressure, idle and connection limits, pipelining.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ResultCode, oids } from '../../../src/directory/managed/backend.ts';
import type { Filter } from '../../../src/directory/managed/backend.ts';
import { decodePasswordModifyResponseValue, encodeMessage, encodePasswordModifyRequestValue } from '../../../src/directory/managed/protocol/index.ts';
import type { LdapMessage, ProtocolOp } from '../../../src/directory/managed/protocol/index.ts';
import { aliceDn, alicePassword, baseDn, bigBase, slowBase } from './stub-backend.ts';
import { RawClient, makeCertificate, startServer } from './support.ts';
import type { Harness, TestCertificate } from './support.ts';

const any: Filter = { type: 'present', attribute: 'objectClass' };
const msg = (messageId: number, protocolOp: ProtocolOp, controls: LdapMessage['controls'] = []): Buffer => encodeMessage({ messageId, protocolOp, controls });
const bind = (id: number, password = alicePassword): Buffer => msg(id, { op: 'bindRequest', version: 3, name: aliceDn, authentication: { method: 'simple', password: Buffer.from(password) } });
const search = (id: number, baseObject: string, scope: 'base' | 'one' | 'sub' = 'sub', timeLimit = 0): Buffer =>
  msg(id, { op: 'searchRequest', baseObject, scope, derefAliases: 0, sizeLimit: 0, timeLimit, typesOnly: false, filter: any, attributes: [] });
const rootDse = (id: number): Buffer => search(id, '', 'base');

function resultCode(message: LdapMessage | undefined): number | undefined {
  const op = message?.protocolOp;
  return op && 'resultCode' in op ? op.resultCode : undefined;
}

function isNotice(message: LdapMessage | undefined, code: number): boolean {
  return message?.messageId === 0 && message.protocolOp.op === 'extendedResponse' && message.protocolOp.responseName === oids.noticeOfDisconnection && message.protocolOp.resultCode === code;
}

async function boundClient(h: Harness): Promise<RawClient> {
  const client = await RawClient.connect(h.port);
  client.send(bind(1));
  await client.until(() => client.response(1) !== undefined);
  assert.equal(resultCode(client.response(1)), ResultCode.success);
  return client;
}

let certificate: TestCertificate;
let h: Harness;
const opened: RawClient[] = [];
const connect = async (harness: Harness = h): Promise<RawClient> => {
  const client = await RawClient.connect(harness.port);
  opened.push(client);
  return client;
};

before(async () => {
  certificate = makeCertificate();
  h = await startServer(certificate, { allowPlainLdap: true, limits: { maxMessageBytes: 64 * 1024, maxPendingPerConnection: 3 } });
});

after(async () => {
  for (const client of opened) client.close();
  await h.server.close();
  certificate.cleanup();
});

describe('LDAP server robustness', { timeout: 60_000 }, () => {
  it('answers pipelined requests in order: the bind completes before the search after it runs', async () => {
    const client = await connect();
    client.send(Buffer.concat([bind(1), search(2, `CN=Users,${baseDn}`, 'one'), msg(3, { op: 'extendedRequest', requestName: oids.whoAmI })]));
    await client.until(() => client.response(2) !== undefined && client.response(3) !== undefined);
    assert.equal(resultCode(client.response(2)), ResultCode.success);
    assert.equal(client.messages.filter((m) => m.messageId === 2 && m.protocolOp.op === 'searchResultEntry').length, 13);
    const whoami = client.response(3)?.protocolOp;
    assert.ok(whoami?.op === 'extendedResponse');
    assert.equal(whoami.responseValue?.toString(), `dn:${aliceDn}`);
  });

  it('a malformed message gets a Notice of Disconnection and a close; other connections carry on', async () => {
    const bystander = await boundClient(h);
    opened.push(bystander);
    const bad = await connect();
    // A SEQUENCE whose messageID claims more bytes than its container holds.
    bad.send(Buffer.from([0x30, 0x05, 0x02, 0x09, 0x01, 0x42, 0x00]));
    await bad.until(() => bad.closed);
    assert.ok(isNotice(bad.messages[0], ResultCode.protocolError), JSON.stringify(bad.messages));
    bystander.send(search(2, `CN=Users,${baseDn}`, 'one'));
    await bystander.until(() => bystander.response(2) !== undefined);
    assert.equal(resultCode(bystander.response(2)), ResultCode.success);
    assert.ok(h.logs.some((line) => line.level === 'warn' && line.details['reason'] === 'ber.truncated'));
  });

  it('an oversized message is refused from its header alone', async () => {
    const client = await connect();
    // Declares 1 MiB against a 64 KiB limit, and sends nothing more.
    client.send(Buffer.from([0x30, 0x83, 0x10, 0x00, 0x00, 0x02, 0x01, 0x01]));
    await client.until(() => client.closed, 3000);
    assert.ok(isNotice(client.messages[0], ResultCode.protocolError));
    const diagnostic = client.messages[0]?.protocolOp;
    assert.ok(diagnostic && 'diagnosticMessage' in diagnostic && /exceeds/.test(diagnostic.diagnosticMessage ?? ''));
  });

  it('a client that sends responses, or messageID 0, is disconnected', async () => {
    const client = await connect();
    client.send(msg(5, { op: 'delResponse', resultCode: 0 }));
    await client.until(() => client.closed);
    assert.ok(isNotice(client.messages[0], ResultCode.protocolError));
    const zero = await connect();
    zero.send(rootDse(0));
    await zero.until(() => zero.closed);
    assert.ok(isNotice(zero.messages[0], ResultCode.protocolError));
  });

  it('Abandon aborts the backend\'s search and suppresses its answer', async () => {
    const client = await boundClient(h);
    opened.push(client);
    const abortedBefore = h.backend.seen.slowAborted;
    client.send(search(2, slowBase));
    await client.until(() => client.messages.some((m) => m.messageId === 2 && m.protocolOp.op === 'searchResultEntry'));
    client.send(msg(3, { op: 'abandonRequest', messageId: 2 }));
    await client.until(() => h.backend.seen.slowAborted === abortedBefore + 1);
    client.send(rootDse(4));
    await client.until(() => client.response(4) !== undefined);
    assert.equal(client.response(2), undefined, 'an abandoned search must not be answered');
    assert.equal(client.response(3), undefined, 'abandon has no response');
  });

  it('too many outstanding operations are answered busy (51); StartTLS is refused meanwhile', async () => {
    const client = await boundClient(h);
    opened.push(client);
    client.send(Buffer.concat([search(2, slowBase), search(3, slowBase), search(4, slowBase), search(5, slowBase)]));
    await client.until(() => client.response(5) !== undefined);
    assert.equal(resultCode(client.response(5)), ResultCode.busy);
    client.send(msg(6, { op: 'abandonRequest', messageId: 4 }));
    await client.until(() => h.backend.seen.slowAborted > 0);
    client.send(msg(7, { op: 'extendedRequest', requestName: oids.startTls }));
    await client.until(() => client.response(7) !== undefined);
    assert.equal(resultCode(client.response(7)), ResultCode.operationsError);
    client.send(Buffer.concat([msg(8, { op: 'abandonRequest', messageId: 2 }), msg(9, { op: 'abandonRequest', messageId: 3 }), rootDse(10)]));
    await client.until(() => client.response(10) !== undefined);
    assert.equal(resultCode(client.response(10)), ResultCode.success);
  });

  it('a search past its time limit ends with timeLimitExceeded (3)', async () => {
    const client = await boundClient(h);
    opened.push(client);
    const started = Date.now();
    client.send(search(2, slowBase, 'sub', 1));
    await client.until(() => client.response(2) !== undefined, 4000);
    assert.equal(resultCode(client.response(2)), ResultCode.timeLimitExceeded);
    assert.ok(Date.now() - started < 3000);
  });

  it('critical controls the operation cannot honour, and unknown extended operations, are answered, not fatal', async () => {
    const client = await boundClient(h);
    opened.push(client);
    client.send(msg(2, { op: 'delRequest', entry: `CN=Nobody,${baseDn}` }, [{ oid: '1.2.840.113556.1.4.805', critical: true }]));
    client.send(msg(3, { op: 'extendedRequest', requestName: '1.2.3.4' }));
    client.send(msg(4, { op: 'bindRequest', version: 2, name: aliceDn, authentication: { method: 'simple', password: Buffer.from(alicePassword) } }));
    client.send(msg(5, { op: 'bindRequest', version: 3, name: '', authentication: { method: 'sasl', mechanism: 'GSSAPI' } }));
    await client.until(() => [2, 3, 4, 5].every((id) => client.response(id) !== undefined));
    assert.equal(resultCode(client.response(2)), ResultCode.unavailableCriticalExtension);
    assert.equal(resultCode(client.response(3)), ResultCode.protocolError);
    assert.equal(resultCode(client.response(4)), ResultCode.protocolError);
    assert.equal(resultCode(client.response(5)), ResultCode.authMethodNotSupported);
    assert.equal(client.closed, false);
  });

  it('Password Modify answers the generated password in its RFC 3062 value', async () => {
    const client = await boundClient(h);
    opened.push(client);
    client.send(msg(2, { op: 'extendedRequest', requestName: oids.passwordModify, requestValue: encodePasswordModifyRequestValue({}) }));
    await client.until(() => client.response(2) !== undefined);
    const op = client.response(2)?.protocolOp;
    assert.ok(op?.op === 'extendedResponse' && op.responseValue);
    assert.deepEqual(decodePasswordModifyResponseValue(op.responseValue), { genPassword: 'Generated-Pa55' });
    h.backend.password = alicePassword;
  });

  it('unbind closes the connection', async () => {
    const client = await boundClient(h);
    client.send(msg(2, { op: 'unbindRequest' }));
    await client.until(() => client.closed);
  });

  it('a client that stops reading blocks only itself, and the server stops producing for it', async () => {
    const slow = await boundClient(h);
    opened.push(slow);
    slow.socket.pause();
    slow.send(search(2, bigBase));
    const waitStable = async (): Promise<number> => {
      let last = -1;
      for (let i = 0; i < 50; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (h.backend.seen.bigEntriesProduced === last && last > 0) return last;
        last = h.backend.seen.bigEntriesProduced;
      }
      return last;
    };
    const producedWhileBlocked = await waitStable();
    console.log(`# entries produced for a client that reads nothing: ${producedWhileBlocked}`);
    // 100,000 entries of ~1 KiB would be ~100 MiB; only what fits in the socket buffers was made.
    assert.ok(producedWhileBlocked < 40_000, `produced ${producedWhileBlocked} entries for a client that reads nothing`);
    const memory = process.memoryUsage();
    assert.ok(memory.heapUsed + memory.arrayBuffers < 512 * 1024 * 1024);

    const other = await boundClient(h);
    opened.push(other);
    const started = Date.now();
    other.send(search(2, `CN=Users,${baseDn}`, 'one'));
    await other.until(() => other.response(2) !== undefined, 2000);
    assert.ok(Date.now() - started < 2000);
    assert.equal(h.backend.seen.bigEntriesProduced, producedWhileBlocked, 'nothing more was produced for the blocked client');

    // Reading again lets the search go on; closing the connection aborts it in the backend.
    slow.socket.resume();
    await slow.until(() => h.backend.seen.bigEntriesProduced > producedWhileBlocked + 2000, 5000);
    slow.close();
    const producedAtClose = await waitStable();
    assert.ok(producedAtClose < 100_000, 'the backend kept producing for a closed connection');
    assert.equal(slow.response(2), undefined);
  });
});

describe('LDAP server limits', { timeout: 30_000 }, () => {
  it('closes idle connections', async () => {
    const idle = await startServer(null, { limits: { idleTimeoutMs: 300 } });
    try {
      const client = await connect(idle);
      const started = Date.now();
      await client.until(() => client.closed, 3000);
      assert.ok(Date.now() - started >= 250);
    } finally {
      await idle.server.close();
    }
  });

  it('enforces maxConnections and accepts again once a connection is gone', async () => {
    const small = await startServer(null, { limits: { maxConnections: 2 } });
    try {
      const first = await connect(small);
      const second = await connect(small);
      first.send(rootDse(1));
      second.send(rootDse(1));
      await first.until(() => first.response(1) !== undefined);
      await second.until(() => second.response(1) !== undefined);
      const third = await connect(small);
      await third.until(() => third.closed, 3000);
      first.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const fourth = await connect(small);
      fourth.send(rootDse(1));
      await fourth.until(() => fourth.response(1) !== undefined);
      assert.equal(resultCode(fourth.response(1)), ResultCode.success);
    } finally {
      await small.server.close();
    }
  });

  it('StartTLS without a certificate is answered unavailable; bytes after StartTLS end the connection', async () => {
    const plain = await startServer(null);
    try {
      const client = await connect(plain);
      client.send(msg(1, { op: 'extendedRequest', requestName: oids.startTls }));
      await client.until(() => client.response(1) !== undefined);
      assert.equal(resultCode(client.response(1)), ResultCode.unavailable);
    } finally {
      await plain.server.close();
    }
    const eager = await connect(h);
    eager.send(Buffer.concat([msg(1, { op: 'extendedRequest', requestName: oids.startTls }), rootDse(2)]));
    await eager.until(() => eager.closed);
    assert.ok(isNotice(eager.messages[0], ResultCode.protocolError));
  });

  it('close() sends a Notice of Disconnection to connected clients', async () => {
    const server = await startServer(null);
    const client = await connect(server);
    client.send(rootDse(1));
    await client.until(() => client.response(1) !== undefined);
    await server.server.close();
    await client.until(() => client.closed, 3000);
    assert.ok(isNotice(client.messages.at(-1), ResultCode.unavailable));
  });
});
