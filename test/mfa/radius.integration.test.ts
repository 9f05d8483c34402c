/**
 * RADIUS MFA against a real FreeRADIUS 3.2 (Debian `freeradius`), started here on loopback with
 * its own minimal configuration (test/support/freeradius.ts): accept, reject, a challenge, a
 * dead or silent first server (failover), a wrong shared secret (no sign-in, a clear error), and
 * the time bound.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRadiusVerifier, type RadiusConfig, type RadiusLogger } from '#src/mfa/radius/index.ts';
import { startFreeRadius, type FreeRadius } from '../support/freeradius.ts';
import { closedUdpPort } from '../support/radius-stand-in.ts';

let radius: FreeRadius;
let dir: string;
let secretFile: string;
let wrongSecretFile: string;
let blackHole: Socket;

before(async () => {
  const secret = randomBytes(18).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x');
  radius = await startFreeRadius({ secret });
  dir = await mkdtemp(join(tmpdir(), 'portico-radius-it-'));
  secretFile = join(dir, 'secret');
  await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  wrongSecretFile = join(dir, 'wrong-secret');
  await writeFile(wrongSecretFile, 'not-the-shared-secret\n', { mode: 0o600 });
  // A server that is up but never answers (host filtered, process hung).
  blackHole = createSocket('udp4');
  await new Promise<void>((resolve) => blackHole.bind(0, '127.0.0.1', resolve));
});

after(async () => {
  blackHole.close();
  await radius.stop();
  await rm(dir, { recursive: true, force: true });
});

function config(ports: number[], overrides: Partial<RadiusConfig> = {}): RadiusConfig {
  return {
    servers: ports.map((port) => ({ host: '127.0.0.1', port })),
    secretFile,
    timeoutMs: 500,
    retries: 1,
    nasIdentifier: 'portico-integration',
    requireMessageAuthenticator: false,
    ...overrides,
  };
}

function recordingLogger(): RadiusLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, debug: (d, m) => lines.push(JSON.stringify({ m, ...d })), warn: (d, m) => lines.push(JSON.stringify({ m, ...d })) };
}

void describe('RADIUS MFA against FreeRADIUS', () => {
  void it('accepts a right code, with Message-Authenticator required by the server for our client', async () => {
    const verifier = createRadiusVerifier(config(radius.ports));
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '123456' }), { kind: 'accept' });
    assert.deepEqual(await verifier.verify({ username: 'bob', code: '654321' }), { kind: 'accept' });
    // FreeRADIUS saw our NAS-Identifier and a verified Message-Authenticator (it drops requests otherwise).
    assert.match(radius.output(), /NAS-Identifier = "portico-integration"/);
  });

  void it('rejects a wrong code and an unknown user, with the server\'s Reply-Message', async () => {
    const verifier = createRadiusVerifier(config(radius.ports));
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '654321' }), { kind: 'reject', reason: 'Wrong code' });
    assert.deepEqual(await verifier.verify({ username: 'nobody', code: '123456' }), { kind: 'reject', reason: 'Wrong code' });
    // One user's code is not another's.
    assert.deepEqual(await verifier.verify({ username: 'bob', code: '123456' }), { kind: 'reject', reason: 'Wrong code' });
  });

  void it('follows an Access-Challenge: message and state out, the answer with the state accepted, a wrong answer rejected', async () => {
    const verifier = createRadiusVerifier(config(radius.ports));
    const challenge = await verifier.verify({ username: 'carol', code: '111111' });
    assert.equal(challenge.kind, 'challenge');
    if (challenge.kind !== 'challenge') return;
    assert.equal(challenge.message, 'Enter the second code');
    assert.deepEqual(await verifier.verify({ username: 'carol', code: '222222', state: challenge.state }), { kind: 'accept' });
    assert.deepEqual(await verifier.verify({ username: 'carol', code: '999999', state: challenge.state }), { kind: 'reject', reason: 'Wrong code' });
    // Without the state, the second code is no good.
    assert.deepEqual(await verifier.verify({ username: 'carol', code: '222222' }), { kind: 'reject', reason: 'Wrong code' });
  });

  void it('sends the answer to a challenge back to the server that asked, past a dead first server', async () => {
    const dead = await closedUdpPort();
    const logger = recordingLogger();
    const verifier = createRadiusVerifier(config([dead, ...radius.ports], { timeoutMs: 3000 }), { logger });
    const challenge = await verifier.verify({ username: 'carol', code: '111111' });
    assert.equal(challenge.kind, 'challenge');
    if (challenge.kind !== 'challenge') return;
    const unreachableBefore = logger.lines.filter((line) => line.includes('radius_unreachable')).length;
    assert.deepEqual(await verifier.verify({ username: 'carol', code: '222222', state: challenge.state }), { kind: 'accept' });
    // FreeRADIUS was asked first: the dead server was not tried again.
    assert.equal(logger.lines.filter((line) => line.includes('radius_unreachable')).length, unreachableBefore);
  });

  void it('fails over from a dead first server (nothing listening) to FreeRADIUS at once', async () => {
    const dead = await closedUdpPort();
    const logger = recordingLogger();
    const verifier = createRadiusVerifier(config([dead, ...radius.ports], { timeoutMs: 3000 }), { logger });
    const started = performance.now();
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '123456' }), { kind: 'accept' });
    assert.ok(performance.now() - started < 1500, 'the dead server cost no timeout');
    assert.ok(logger.lines.some((line) => line.includes('radius_unreachable')));
  });

  void it('fails over from a silent first server after its timeout and retries', async () => {
    const verifier = createRadiusVerifier(config([blackHole.address().port, ...radius.ports], { timeoutMs: 300, retries: 1 }));
    const started = performance.now();
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '123456' }), { kind: 'accept' });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 600 && elapsed < 2000, `took ${elapsed} ms`);
  });

  void it('a wrong shared secret never signs in: FreeRADIUS drops the request, we answer unavailable with a hint at the secret', async () => {
    const logger = recordingLogger();
    const verifier = createRadiusVerifier(config(radius.ports, { secretFile: wrongSecretFile, timeoutMs: 300, retries: 1 }), { logger });
    const outcome = await verifier.verify({ username: 'alice', code: '123456' });
    assert.deepEqual(outcome, { kind: 'unavailable', error: 'radius_timeout' });
    // Why it was silent, in FreeRADIUS's own words.
    assert.match(radius.output(), /invalid Message-Authenticator!\s+\(Shared secret is incorrect\.\)/);
    assert.ok(logger.lines.some((line) => line.includes('radius_timeout') && line.includes('shared secret')), logger.lines.join('\n'));
    assert.ok(!logger.lines.join('\n').includes('not-the-shared-secret'));
  });

  void it('stays within servers × (retries + 1) × timeout when nobody answers usefully', async () => {
    const dead = await closedUdpPort();
    const verifier = createRadiusVerifier(config([blackHole.address().port, dead, ...radius.ports], { secretFile: wrongSecretFile, timeoutMs: 200, retries: 2 }));
    const started = performance.now();
    assert.deepEqual(await verifier.verify({ username: 'alice', code: '123456' }), { kind: 'unavailable', error: 'radius_timeout' });
    const elapsed = performance.now() - started;
    // Two silent servers × 3 transmissions × 200 ms = 1.2 s (the dead one costs nothing); the bound
    // for three servers is 1.8 s, plus slack for a busy machine.
    assert.ok(elapsed >= 1200 && elapsed < 1800 + 400, `took ${elapsed} ms`);
  });

  void it('shows whether this FreeRADIUS signs its replies with a Message-Authenticator (requireMessageAuthenticator)', async () => {
    const strict = createRadiusVerifier(config(radius.ports, { requireMessageAuthenticator: true, retries: 0, timeoutMs: 300 }));
    const outcome = await strict.verify({ username: 'alice', code: '123456' });
    // FreeRADIUS 3.2.1 (Debian 12) adds none to a PAP Accept: strict mode refuses it, never accepts it.
    assert.deepEqual(outcome, { kind: 'unavailable', error: 'radius_missing_message_authenticator' });
  });
});
