/**
 * Issue 12: until a connection binds it gets a small message cap and a short idle timeout; once
 * bound, the ordinary limits apply (and a failed rebind brings the small ones back). Warnings any
 * client can provoke are rate-limited: a few lines, then one summary per interval.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResultCode, oids } from '../../../src/directory/managed/backend.ts';
import { encodeMessage } from '../../../src/directory/managed/protocol/index.ts';
import type { LdapMessage, ProtocolOp } from '../../../src/directory/managed/protocol/index.ts';
import { aliceDn, alicePassword } from './stub-backend.ts';
import { RawClient, startServer } from './support.ts';
import type { Harness } from './support.ts';
import type { LdapServerLimits } from '../../../src/directory/managed/server/index.ts';

const msg = (messageId: number, protocolOp: ProtocolOp): Buffer => encodeMessage({ messageId, protocolOp, controls: [] });
const bind = (id: number, password = alicePassword): Buffer => msg(id, { op: 'bindRequest', version: 3, name: aliceDn, authentication: { method: 'simple', password: Buffer.from(password) } });
/** A rootDSE read made large by a long attribute list (anonymous clients may read the rootDSE). */
const bigRootDse = (id: number, bytes: number): Buffer =>
  msg(id, { op: 'searchRequest', baseObject: '', scope: 'base', derefAliases: 0, sizeLimit: 0, timeLimit: 0, typesOnly: false, filter: { type: 'present', attribute: 'objectClass' }, attributes: Array.from({ length: Math.ceil(bytes / 1000) }, (_, i) => `x${i}`.padEnd(998, 'x')) });

function resultCode(message: LdapMessage | undefined): number | undefined {
  const op = message?.protocolOp;
  return op && 'resultCode' in op ? op.resultCode : undefined;
}

const isNotice = (message: LdapMessage | undefined): boolean => message?.messageId === 0 && message.protocolOp.op === 'extendedResponse' && message.protocolOp.responseName === oids.noticeOfDisconnection;

async function withServer(limits: Partial<LdapServerLimits>, work: (h: Harness, clients: RawClient[]) => Promise<void>): Promise<void> {
  const h = await startServer(null, { allowPlainLdap: true, limits });
  const clients: RawClient[] = [];
  try {
    await work(h, clients);
  } finally {
    for (const client of clients) client.close();
    await h.server.close();
  }
}

async function connect(h: Harness, clients: RawClient[]): Promise<RawClient> {
  const client = await RawClient.connect(h.port);
  clients.push(client);
  return client;
}

describe('limits for connections that have not bound', { timeout: 30_000 }, () => {
  it('an unbound connection is closed after the short idle timeout; a bound one keeps the ordinary one', async () => {
    await withServer({ idleTimeoutMs: 5000, unauthenticatedIdleTimeoutMs: 300 }, async (h, clients) => {
      const anonymous = await connect(h, clients);
      const bound = await connect(h, clients);
      bound.send(bind(1));
      await bound.until(() => bound.response(1) !== undefined);
      assert.equal(resultCode(bound.response(1)), ResultCode.success);
      const started = Date.now();
      await anonymous.until(() => anonymous.closed, 3000);
      assert.ok(Date.now() - started < 2000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(bound.closed, false, 'the bound connection is still open after 1 s idle');
    });
  });

  it('a failed rebind brings the unauthenticated idle timeout back', async () => {
    await withServer({ idleTimeoutMs: 5000, unauthenticatedIdleTimeoutMs: 300 }, async (h, clients) => {
      const client = await connect(h, clients);
      client.send(bind(1));
      await client.until(() => client.response(1) !== undefined);
      client.send(bind(2, 'Wrong-Password-1!'));
      await client.until(() => client.response(2) !== undefined);
      assert.equal(resultCode(client.response(2)), ResultCode.invalidCredentials);
      await client.until(() => client.closed, 3000);
    });
  });

  it('an unbound connection may not send a message above the small cap; once bound it may', async () => {
    await withServer({ maxMessageBytes: 1024 * 1024, unauthenticatedMaxMessageBytes: 64 * 1024 }, async (h, clients) => {
      const anonymous = await connect(h, clients);
      anonymous.send(bigRootDse(1, 100 * 1024));
      await anonymous.until(() => anonymous.closed, 3000);
      assert.ok(isNotice(anonymous.messages[0]), 'a Notice of Disconnection tells the client why');
      assert.equal(resultCode(anonymous.messages[0]), ResultCode.protocolError);

      const small = await connect(h, clients);
      small.send(bigRootDse(1, 30 * 1024));
      await small.until(() => small.response(1) !== undefined);
      assert.equal(resultCode(small.response(1)), ResultCode.success);

      const bound = await connect(h, clients);
      bound.send(bind(1));
      await bound.until(() => bound.response(1) !== undefined);
      bound.send(bigRootDse(2, 100 * 1024));
      await bound.until(() => bound.response(2) !== undefined);
      assert.equal(resultCode(bound.response(2)), ResultCode.success);
      assert.equal(bound.closed, false);
    });
  });

  it('one address may hold only so many unbound connections; binding frees a place', async () => {
    await withServer({ maxUnauthenticatedPerAddress: 2 }, async (h, clients) => {
      const first = await connect(h, clients);
      await connect(h, clients);
      const third = await connect(h, clients);
      await third.until(() => third.closed, 3000);
      first.send(bind(1));
      await first.until(() => first.response(1) !== undefined);
      assert.equal(resultCode(first.response(1)), ResultCode.success);
      const fourth = await connect(h, clients);
      fourth.send(bind(1));
      await fourth.until(() => fourth.response(1) !== undefined);
      assert.equal(resultCode(fourth.response(1)), ResultCode.success, 'a place was free again once the first connection bound');
      assert.equal(h.logs.filter((line) => line.message.includes('too many unbound')).length, 1);
    });
  });

  it('malformed-message warnings: a few lines, then one summary line per interval', async () => {
    await withServer({ warningIntervalMs: 400, warningBurst: 2 }, async (h, clients) => {
      for (let i = 0; i < 10; i += 1) {
        const client = await connect(h, clients);
        client.send(Buffer.from('not ldap'));
        await client.until(() => client.closed, 3000);
      }
      const warnings = (): typeof h.logs => h.logs.filter((line) => line.level === 'warn');
      assert.equal(warnings().length, 2, 'only the burst is logged one by one');
      await new Promise((resolve) => setTimeout(resolve, 600));
      const summary = warnings().filter((line) => line.details.suppressed !== undefined);
      assert.equal(summary.length, 1);
      assert.equal(summary[0]?.details.suppressed, 8);
      assert.equal(warnings().length, 3);
    });
  });
});
