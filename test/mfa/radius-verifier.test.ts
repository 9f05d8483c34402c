/**
 * The RADIUS client's own logic against scripted stand-in servers on loopback: what it sends,
 * failover and its order, retransmission, reply matching, secrets and what reaches the logs.
 * The real peer (FreeRADIUS) is test/mfa/radius.integration.test.ts.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRadiusVerifier, type RadiusConfig, type RadiusLogger } from '#src/mfa/radius/index.ts';
import { encodeAccessReply, RadiusAttribute, RadiusCode } from '#src/mfa/radius/packet.ts';
import { isAppError } from '#src/shared/errors.ts';
import { closedUdpPort, startRadiusStandIn, type RadiusStandIn } from '../support/radius-stand-in.ts';

const SECRET = 'unit-test-shared-secret';
let dir: string;
let secretFile: string;
const standIns: RadiusStandIn[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-radius-unit-'));
  secretFile = join(dir, 'secret');
  await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
});
after(async () => {
  await Promise.all(standIns.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function standIn(...args: Parameters<typeof startRadiusStandIn>): Promise<RadiusStandIn> {
  const s = await startRadiusStandIn(...args);
  standIns.push(s);
  return s;
}

function config(ports: number[], overrides: Partial<RadiusConfig> = {}): RadiusConfig {
  return {
    servers: ports.map((port) => ({ host: '127.0.0.1', port })),
    secretFile,
    timeoutMs: 150,
    retries: 1,
    nasIdentifier: 'portico-test',
    requireMessageAuthenticator: false,
    ...overrides,
  };
}

function recordingLogger(): RadiusLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (details, message) => lines.push(JSON.stringify({ level: 'debug', message, ...details })),
    warn: (details, message) => lines.push(JSON.stringify({ level: 'warn', message, ...details })),
  };
}

const codeChecker = (codes: Record<string, string>) => (request: { userName: string; password: string }) =>
  codes[request.userName] === request.password ? ({ code: 'accept' } as const) : ({ code: 'reject', replyMessage: 'Wrong code' } as const);

void describe('RADIUS verifier: answers', () => {
  void it('sends User-Name, the code as hidden User-Password, NAS-Identifier and a valid Message-Authenticator; Accept → accept', async () => {
    const server = await standIn({ secret: SECRET, handle: codeChecker({ alice: '123456' }) });
    const verifier = createRadiusVerifier(config([server.port]));
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '123456' }), { kind: 'accept' });
    const [request] = server.requests;
    assert.ok(request);
    assert.equal(request.userName, 'alice');
    assert.equal(request.password, '123456');
    assert.equal(request.nasIdentifier, 'portico-test');
    assert.equal(request.messageAuthenticatorValid, true);
    assert.equal(request.attributeTypes[0], RadiusAttribute.MessageAuthenticator);
    assert.equal(request.state, undefined);
  });

  void it('Reject → reject with the Reply-Message as reason, and a Reject is final: the next server is not asked', async () => {
    const first = await standIn({ secret: SECRET, handle: codeChecker({ alice: '123456' }) });
    const second = await standIn({ secret: SECRET, handle: () => ({ code: 'accept' }) });
    const verifier = createRadiusVerifier(config([first.port, second.port]));
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '000000' }), { kind: 'reject', reason: 'Wrong code' });
    assert.equal(second.requests.length, 0);
    const bare = await standIn({ secret: SECRET, handle: () => ({ code: 'reject' }) });
    assert.deepEqual(await createRadiusVerifier(config([bare.port])).verify({ username: 'alice', code: '1' }), { kind: 'reject' });
  });

  void it('Challenge → challenge with its message; the answer carries the server\'s State back to that server first', async () => {
    const handle = (request: { state: Buffer | undefined; password: string }) => {
      if (request.state === undefined) return { code: 'challenge', replyMessage: 'Enter the second code', state: Buffer.from('srv-state-1') } as const;
      return request.state.toString() === 'srv-state-1' && request.password === '222222' ? ({ code: 'accept' } as const) : ({ code: 'reject' } as const);
    };
    const dead = await closedUdpPort();
    const issuer = await standIn({ secret: SECRET, handle });
    const verifier = createRadiusVerifier(config([dead, issuer.port]));
    const first = await verifier.verify({ username: 'carol', code: '111111' });
    assert.equal(first.kind, 'challenge');
    if (first.kind !== 'challenge') return;
    assert.equal(first.message, 'Enter the second code');
    const before = issuer.requests.length;
    assert.deepEqual(await verifier.verify({ username: 'carol', code: '222222', state: first.state }), { kind: 'accept' });
    // Straight to the issuer: the dead first server is not tried before it.
    assert.equal(issuer.requests.length, before + 1);
    assert.equal(issuer.requests.at(-1)?.state?.toString(), 'srv-state-1');
    assert.equal(issuer.requests.at(-1)?.messageAuthenticatorValid, true);
  });

  void it('refuses a state it did not hand out, and empty or over-long codes, without sending anything', async () => {
    const server = await standIn({ secret: SECRET, handle: () => ({ code: 'accept' }) });
    const verifier = createRadiusVerifier(config([server.port]));
    assert.deepEqual(await verifier.verify({ username: 'carol', code: '1', state: Buffer.from('forged') }), { kind: 'unavailable', error: 'radius_invalid_input' });
    assert.deepEqual(await verifier.verify({ username: 'carol', code: '1', state: Buffer.from([1, 9, 1]) }), { kind: 'unavailable', error: 'radius_invalid_input' });
    assert.deepEqual(await verifier.verify({ username: 'carol', code: '' }), { kind: 'reject', reason: 'no code was entered' });
    assert.deepEqual(await verifier.verify({ username: 'carol', code: 'x'.repeat(129) }), { kind: 'reject', reason: 'the code is too long' });
    assert.deepEqual(await verifier.verify({ username: '', code: '1' }), { kind: 'unavailable', error: 'radius_invalid_input' });
    assert.equal(server.requests.length, 0);
  });
});

void describe('RADIUS verifier: failover, retransmission, timeouts', () => {
  void it('fails over at once from a server nobody listens on (ICMP port unreachable), without waiting for the timeout', async () => {
    const dead = await closedUdpPort();
    const live = await standIn({ secret: SECRET, handle: codeChecker({ alice: '123456' }) });
    const logger = recordingLogger();
    const verifier = createRadiusVerifier(config([dead, live.port], { timeoutMs: 5000 }), { logger });
    const started = performance.now();
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '123456' }), { kind: 'accept' });
    assert.ok(performance.now() - started < 1000, 'no timeout was waited for');
    assert.ok(logger.lines.some((line) => line.includes('radius_unreachable') && line.includes(`127.0.0.1:${dead}`)));
  });

  void it('retransmits the identical packet to a silent server, then moves on; the total wait is bounded', async () => {
    const silent = await standIn({ secret: SECRET, handle: () => 'drop' });
    const live = await standIn({ secret: SECRET, handle: () => ({ code: 'accept' }) });
    const verifier = createRadiusVerifier(config([silent.port, live.port], { timeoutMs: 100, retries: 2 }));
    const started = performance.now();
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '1' }), { kind: 'accept' });
    const elapsed = performance.now() - started;
    assert.equal(silent.requests.length, 3);
    // RFC 5080 §2.2.1: a retransmission is the same packet (same Identifier and Request Authenticator).
    assert.deepEqual(silent.requests[1]?.raw, silent.requests[0]?.raw);
    assert.deepEqual(silent.requests[2]?.raw, silent.requests[0]?.raw);
    // A new server gets a new request (its own Identifier/Authenticator pair).
    assert.notDeepEqual(live.requests[0]?.authenticator, silent.requests[0]?.authenticator);
    assert.ok(elapsed >= 300 && elapsed < 1000, `waited ${elapsed} ms`);
  });

  void it('takes an answer to a retransmission', async () => {
    const flaky = await standIn({ secret: SECRET, handle: (_request, index) => (index === 0 ? 'drop' : { code: 'accept' }) });
    const verifier = createRadiusVerifier(config([flaky.port], { timeoutMs: 100, retries: 1 }));
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '1' }), { kind: 'accept' });
    assert.equal(flaky.requests.length, 2);
  });

  void it('gives up after servers × (retries + 1) × timeout with radius_timeout when nobody answers', async () => {
    const a = await standIn({ secret: SECRET, handle: () => 'drop' });
    const b = await standIn({ secret: SECRET, handle: () => 'drop' });
    const logger = recordingLogger();
    const verifier = createRadiusVerifier(config([a.port, b.port], { timeoutMs: 100, retries: 1 }), { logger });
    const started = performance.now();
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '1' }), { kind: 'unavailable', error: 'radius_timeout' });
    const elapsed = performance.now() - started;
    // 2 servers × 2 transmissions × 100 ms, with slack for a busy machine.
    assert.ok(elapsed >= 400 && elapsed < 1200, `waited ${elapsed} ms`);
    assert.equal(a.requests.length + b.requests.length, 4);
    assert.equal(logger.lines.filter((line) => line.includes('radius_timeout')).length, 2);
  });

  void it('reports an unresolvable host name and still tries the next server', async () => {
    const live = await standIn({ secret: SECRET, handle: () => ({ code: 'accept' }) });
    const logger = recordingLogger();
    const verifier = createRadiusVerifier(
      { ...config([live.port]), servers: [{ host: 'no-such-host.invalid', port: 1812 }, { host: '127.0.0.1', port: live.port }] },
      { logger },
    );
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '1' }), { kind: 'accept' });
    assert.ok(logger.lines.some((line) => line.includes('radius_unresolvable')));
  });
});

void describe('RADIUS verifier: replies that must not count', () => {
  void it('a server with another shared secret: radius_bad_authenticator, never an accept, no retransmission', async () => {
    const wrong = await standIn({ secret: SECRET, replySecret: 'another-secret', handle: () => ({ code: 'accept' }) });
    const logger = recordingLogger();
    const verifier = createRadiusVerifier(config([wrong.port], { timeoutMs: 100, retries: 3 }), { logger });
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '123456' }), { kind: 'unavailable', error: 'radius_bad_authenticator' });
    assert.equal(wrong.requests.length, 1);
    assert.ok(logger.lines.some((line) => line.includes('radius_bad_authenticator') && line.includes('shared secret')));
  });

  void it('a wrong-secret server first, a right one second: the second one decides', async () => {
    const wrong = await standIn({ secret: SECRET, replySecret: 'another-secret', handle: () => ({ code: 'accept' }) });
    const right = await standIn({ secret: SECRET, handle: () => ({ code: 'reject' }) });
    const verifier = createRadiusVerifier(config([wrong.port, right.port], { timeoutMs: 100 }));
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '1' }), { kind: 'reject' });
  });

  void it('ignores replies from another port and with another Identifier, then takes the real one', async () => {
    const spoofer = createSocket('udp4');
    await new Promise<void>((resolve) => spoofer.bind(0, '127.0.0.1', resolve));
    const server = await standIn({
      secret: SECRET,
      handle: (request) => {
        const forged = encodeAccessReply({ code: RadiusCode.AccessAccept, identifier: request.identifier, requestAuthenticator: request.authenticator, secret: Buffer.from(SECRET), messageAuthenticator: true });
        // A correctly signed Accept, but from another port: must be ignored.
        spoofer.send(forged, request.from.port, request.from.address);
        // From the right port, but answering another Identifier.
        const otherId = encodeAccessReply({ code: RadiusCode.AccessAccept, identifier: (request.identifier + 1) % 256, requestAuthenticator: request.authenticator, secret: Buffer.from(SECRET), messageAuthenticator: true });
        server.socket.send(otherId, request.from.port, request.from.address);
        return { code: 'reject', replyMessage: 'the real answer' };
      },
    });
    try {
      const verifier = createRadiusVerifier(config([server.port]));
      assert.deepEqual(await verifier.verify({ username: 'alice', code: '1' }), { kind: 'reject', reason: 'the real answer' });
    } finally {
      spoofer.close();
    }
  });

  void it('a malformed reply is discarded and reported with its code', async () => {
    const short = await standIn({ secret: SECRET, handle: (request) => ({ raw: Buffer.from([2, request.identifier, 0, 19, ...Buffer.alloc(15)]) }) });
    const truncated = await standIn({ secret: SECRET, handle: (request) => ({ raw: Buffer.from([2, request.identifier, 0, 30, ...Buffer.alloc(16)]) }) });
    const options = { timeoutMs: 100, retries: 0 };
    assert.deepEqual(await createRadiusVerifier(config([short.port], options)).verify({ username: 'alice', code: '1' }), { kind: 'unavailable', error: 'radius_packet_too_short' });
    assert.deepEqual(await createRadiusVerifier(config([truncated.port], options)).verify({ username: 'alice', code: '1' }), { kind: 'unavailable', error: 'radius_length_mismatch' });
  });

  void it('requireMessageAuthenticator refuses replies without one; replies with one are checked either way', async () => {
    const withoutMa = await standIn({ secret: SECRET, handle: () => ({ code: 'accept', messageAuthenticator: false }) });
    const strict = createRadiusVerifier(config([withoutMa.port], { timeoutMs: 100, requireMessageAuthenticator: true }));
    assert.deepEqual(await strict.verify({ username: 'alice', code: '1' }), { kind: 'unavailable', error: 'radius_missing_message_authenticator' });
    const lenient = createRadiusVerifier(config([withoutMa.port], { timeoutMs: 100 }));
    assert.deepEqual(await lenient.verify({ username: 'alice', code: '1' }), { kind: 'accept' });
  });
});

void describe('RADIUS verifier: the shared secret file', () => {
  void it('refuses to start without a readable, non-empty secret file (config.invalid, path named, no content)', async () => {
    const missing = join(dir, 'missing');
    assert.throws(
      () => createRadiusVerifier(config([1812], { secretFile: missing })),
      (error: unknown) => isAppError(error, 'config.invalid') && error.message.includes('ENOENT') && error.message.includes(missing),
    );
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    assert.throws(() => createRadiusVerifier(config([1812], { secretFile: empty })), /the file is empty/);
  });

  void it('drops one trailing newline, and picks up a rotated secret without a restart', async () => {
    const file = join(dir, 'rotating');
    await writeFile(file, 'first-secret\r\n');
    const server = await standIn({ secret: 'first-secret', handle: (request) => (request.messageAuthenticatorValid ? { code: 'accept' } : 'drop') });
    const verifier = createRadiusVerifier(config([server.port], { secretFile: file, timeoutMs: 100, retries: 0 }));
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '1' }), { kind: 'accept' });
    await writeFile(file, 'second-secret');
    // The stand-in still has the first secret: it now drops our requests, as FreeRADIUS does.
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '1' }), { kind: 'unavailable', error: 'radius_timeout' });
    await unlink(file);
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '1' }), { kind: 'unavailable', error: 'radius_secret_unreadable' });
  });

  void it('logs neither the secret, nor the code, nor the challenge state', async () => {
    const logger = recordingLogger();
    const wrong = await standIn({ secret: SECRET, replySecret: 'x', handle: () => ({ code: 'accept' }) });
    const challenger = await standIn({ secret: SECRET, handle: () => ({ code: 'challenge', replyMessage: 'more', state: Buffer.from('STATE-VALUE') }) });
    const verifier = createRadiusVerifier(config([wrong.port, challenger.port], { timeoutMs: 100 }), { logger });
    const outcome = await verifier.verify({ username: 'alice', code: '987654' });
    assert.equal(outcome.kind, 'challenge');
    const text = logger.lines.join('\n');
    assert.ok(logger.lines.length >= 2, text);
    for (const secretish of [SECRET, '987654', 'STATE-VALUE', Buffer.from('STATE-VALUE').toString('hex'), Buffer.from('STATE-VALUE').toString('base64')]) {
      assert.ok(!text.includes(secretish), `the logs contain ${secretish}`);
    }
  });
});
