/**
 * Issue 21: the managed directory's password hashes. Argon2id at OWASP's parameters for new
 * passwords, scrypt hashes still verifying and re-hashed at the next successful bind (audited
 * once), unknown names paying an Argon2id dummy verification, the configuration refusing weaker
 * parameters, and the bound on concurrent verifications holding under a burst of wrong binds.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseOptions } from '@node-rs/argon2';
import { loadConfig } from '#src/config/load-config.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';
import type { DirectoryAuditEvent } from '#src/directory/managed/engine/engine.ts';
import {
  createConcurrencyGate,
  createPasswordHasher,
  hashPassword,
  hashPasswordScrypt,
  needsRehash,
  owaspArgon2Parameters,
  verifyPassword,
  type PasswordHasher,
} from '#src/directory/managed/engine/password.ts';
import type { DirectoryPolicy } from '#src/directory/managed/engine/policy.ts';
import { isAppError } from '#src/shared/errors.ts';
import { USERS, addUser, bindAs, cheapHasher, createHarness, subCode, type Harness } from './helpers.ts';

const PASSWORD = 'Right-Pa55word!';
const cheapScrypt = { N: 16, r: 1, p: 1 };

async function storedHash(h: Harness, dn: string): Promise<string> {
  const entry = await h.store.getByNdn(dn.toLowerCase());
  assert.ok(entry, dn);
  const credentials = await h.store.getCredentials(entry.guid);
  assert.ok(credentials?.hash);
  return credentials.hash;
}

/** Puts a pre-issue-21 scrypt hash of `password` on the account, as an old database would have it. */
async function giveScryptHash(h: Harness, dn: string, password: string): Promise<string> {
  const entry = await h.store.getByNdn(dn.toLowerCase());
  assert.ok(entry);
  const hash = await hashPasswordScrypt(password, cheapScrypt);
  await h.store.transaction(async (tx) => {
    const current = await tx.getCredentials(entry.guid);
    await tx.setCredentials(entry.guid, { hash, history: current?.history ?? [] });
  });
  return hash;
}

void describe('Argon2id hashing (unit)', () => {
  void it('hashes with Argon2id at OWASP parameters by default, as a PHC string carrying them, with a fresh salt', async () => {
    const a = await hashPassword(PASSWORD);
    const b = await hashPassword(PASSWORD);
    assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.notEqual(a, b, 'a fresh salt each time');
    assert.deepEqual(owaspArgon2Parameters, { memoryKiB: 19456, timeCost: 2, parallelism: 1 });
    assert.equal(await verifyPassword(PASSWORD, a), true);
    assert.equal(await verifyPassword('right-Pa55word!', a), false);
    assert.equal(await verifyPassword('', a), false);
  });

  void it('a password with NUL bytes appended is wrong, with Argon2id as with scrypt', async () => {
    const argon = await hashPassword(PASSWORD, { memoryKiB: 64, timeCost: 1, parallelism: 1 });
    const scrypt = await hashPasswordScrypt(PASSWORD, cheapScrypt);
    for (const stored of [argon, scrypt]) {
      assert.equal(await verifyPassword(PASSWORD, stored), true);
      for (const padded of [`${PASSWORD}\0`, `${PASSWORD}\0\0`]) assert.equal(await verifyPassword(padded, stored), false, stored.slice(0, 8));
    }
  });

  void it('scrypt hashes still verify; malformed or unknown hashes never do', async () => {
    const scrypt = await hashPasswordScrypt(PASSWORD, cheapScrypt);
    assert.match(scrypt, /^scrypt\$16\$1\$1\$/);
    assert.equal(await verifyPassword(PASSWORD, scrypt), true);
    assert.equal(await verifyPassword('Wrong-Pa55word!', scrypt), false);
    for (const junk of ['', 'scrypt$16$1$1', '$argon2id$v=19$m=64,t=1,p=1$junk', '$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA', 'plain']) {
      assert.equal(await verifyPassword(PASSWORD, junk), false, junk);
    }
  });

  void it('needsRehash: scrypt and Argon2id below the configured parameters need it; at or above do not', async () => {
    const at = await hashPassword(PASSWORD, { memoryKiB: 256, timeCost: 2, parallelism: 1 });
    const target = { memoryKiB: 256, timeCost: 2, parallelism: 1 };
    assert.equal(needsRehash(at, target), false);
    assert.equal(needsRehash(at, { ...target, memoryKiB: 128 }), false, 'stronger than configured is kept');
    assert.equal(needsRehash(at, { ...target, memoryKiB: 512 }), true);
    assert.equal(needsRehash(at, { ...target, timeCost: 3 }), true);
    assert.equal(needsRehash(await hashPasswordScrypt(PASSWORD, cheapScrypt), target), true);
    assert.equal(needsRehash('garbage', target), true);
  });

  void it('the gate runs at most `limit` tasks at once and the rest in arrival order', async () => {
    const gate = createConcurrencyGate(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const task = (i: number) => async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 2));
      running -= 1;
      order.push(i);
      if (i === 3) throw new Error('task 3 fails');
      return i;
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => gate.run(task(i))));
    assert.equal(peak, 2);
    assert.equal(gate.peak, 2);
    assert.equal(gate.active, 0);
    assert.equal(gate.queued, 0);
    assert.equal(results[3]?.status, 'rejected', 'a failing task releases its slot too');
    assert.deepEqual(results.filter((r) => r.status === 'fulfilled').map((r) => r.value), [0, 1, 2, 4, 5, 6, 7, 8, 9]);
    assert.throws(() => createConcurrencyGate(0), RangeError);
  });
});

void describe('managed directory configuration: passwordHashing', () => {
  async function load(yaml: string) {
    const dir = await mkdtemp(join(tmpdir(), 'portico-argon2-'));
    try {
      const file = join(dir, 'portico.yaml');
      await writeFile(file, yaml);
      return loadConfig({ file, env: {}, cwd: dir });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  void it('defaults to OWASP parameters and accepts stronger ones', async () => {
    assert.deepEqual((await load('{}\n')).managedDirectory.passwordHashing, { memoryKiB: 19456, timeCost: 2, parallelism: 1 });
    assert.deepEqual((await load('managedDirectory:\n  passwordHashing:\n    memoryKiB: 47104\n    timeCost: 3\n    maxConcurrentVerifications: 4\n')).managedDirectory.passwordHashing, {
      memoryKiB: 47104,
      timeCost: 3,
      parallelism: 1,
      maxConcurrentVerifications: 4,
    });
  });

  void it('refuses weaker parameters with a config error naming the setting', async () => {
    for (const [yaml, path] of [
      ['memoryKiB: 16384', 'managedDirectory.passwordHashing.memoryKiB'],
      ['timeCost: 1', 'managedDirectory.passwordHashing.timeCost'],
      ['parallelism: 0', 'managedDirectory.passwordHashing.parallelism'],
      ['memoryKiB: 4194304', 'managedDirectory.passwordHashing.memoryKiB'],
      ['maxConcurrentVerifications: 0', 'managedDirectory.passwordHashing.maxConcurrentVerifications'],
    ] as const) {
      await assert.rejects(
        load(`managedDirectory:\n  passwordHashing:\n    ${yaml}\n`),
        (error: unknown) => {
          assert.ok(isAppError(error, 'config.invalid'), String(error));
          assert.ok(error.message.includes(path) || JSON.stringify(error.details).includes(path.split('.').pop() as string), `${yaml}: ${error.message}`);
          return true;
        },
        yaml,
      );
    }
    await assert.rejects(load('managedDirectory:\n  passwordHashing:\n    memoryKiB: 16384\n'), /OWASP/);
  });
});

void describe('engine: Argon2id for new passwords, scrypt upgraded at the next successful bind', () => {
  async function auditedHarness(options: { hasher?: PasswordHasher; policy?: Partial<DirectoryPolicy> } = {}) {
    const events: DirectoryAuditEvent[] = [];
    const h = await createHarness({
      ...(options.policy ? { policy: options.policy } : {}),
      engine: {
        passwordHasher: options.hasher ?? cheapHasher(),
        audit: (event) => {
          events.push(event);
          return Promise.resolve();
        },
      },
    });
    return { h, events };
  }

  void it('a new password is stored as Argon2id at the hasher parameters', async () => {
    const { h } = await auditedHarness();
    const dn = await addUser(h, 'Fresh', { password: PASSWORD });
    const hash = await storedHash(h, dn);
    assert.equal(parseOptions(hash).memoryCost, 64);
    assert.match(hash, /^\$argon2id\$/);
  });

  void it('a scrypt hash verifies, is replaced by Argon2id on the first successful bind, and that is audited once', async () => {
    const { h, events } = await auditedHarness();
    const dn = await addUser(h, 'Legacy', { password: PASSWORD });
    const legacy = await giveScryptHash(h, dn, PASSWORD);

    assert.equal(subCode((await bindAs(h.engine, dn, 'Wrong-Pa55word!')).result), '52e');
    assert.equal(await storedHash(h, dn), legacy, 'a wrong password upgrades nothing');
    assert.equal(events.length, 0);

    assert.equal((await bindAs(h.engine, dn, PASSWORD)).result.resultCode, ResultCode.success);
    const upgraded = await storedHash(h, dn);
    assert.match(upgraded, /^\$argon2id\$v=19\$m=64,t=1,p=1\$/);
    assert.equal(events.length, 1);
    const [event] = events;
    assert.equal(event?.action, 'directory.password.rehashed');
    assert.equal(event?.target, (await h.store.getByNdn(dn.toLowerCase()))?.guid);
    assert.equal(event?.details.from, 'scrypt');
    assert.equal(event?.details.to, 'argon2id');
    assert.ok(!JSON.stringify(event).includes(PASSWORD) && !JSON.stringify(event).includes(legacy) && !JSON.stringify(event).includes(upgraded), 'no secret in the audit event');

    for (let i = 0; i < 3; i += 1) assert.equal((await bindAs(h.engine, dn, PASSWORD)).result.resultCode, ResultCode.success);
    assert.equal(await storedHash(h, dn), upgraded, 'upgraded once');
    assert.equal(events.length, 1, 'audited once');
    assert.equal(subCode((await bindAs(h.engine, dn, `${PASSWORD}\0`)).result), '52e');
  });

  void it('concurrent first binds of a scrypt account upgrade it once', async () => {
    const { h, events } = await auditedHarness();
    const dn = await addUser(h, 'Racer', { password: PASSWORD });
    await giveScryptHash(h, dn, PASSWORD);
    const results = await Promise.all(Array.from({ length: 6 }, () => bindAs(h.engine, dn, PASSWORD)));
    assert.ok(results.every((r) => r.result.resultCode === ResultCode.success));
    assert.match(await storedHash(h, dn), /^\$argon2id\$/);
    assert.equal(events.length, 1);
  });

  void it('a failed bind of a scrypt account (disabled) upgrades nothing; the password history keeps scrypt hashes working', async () => {
    const { h, events } = await auditedHarness({ policy: { pwdHistoryLength: 3 } });
    const dn = await addUser(h, 'Hist', { password: PASSWORD });
    const legacy = await giveScryptHash(h, dn, PASSWORD);
    const disable = (uac: string) => h.engine.modify(h.admin, dn, [{ operation: 'replace', type: 'userAccountControl', values: [Buffer.from(uac)] }]);
    assert.equal((await disable('514')).resultCode, ResultCode.success);
    assert.equal(subCode((await bindAs(h.engine, dn, PASSWORD)).result), '533');
    assert.equal(await storedHash(h, dn), legacy);
    assert.equal(events.length, 0);
    assert.equal((await disable('512')).resultCode, ResultCode.success);
    // The scrypt hash goes to the history at a reset: reusing that password is still refused.
    const reset = await h.engine.modify(h.admin, dn, [{ operation: 'replace', type: 'unicodePwd', values: [Buffer.from(`"Other-Pa55word!"`, 'utf16le')] }]);
    assert.equal(reset.resultCode, ResultCode.success, JSON.stringify(reset));
    const reuse = await h.engine.modify(h.admin, dn, [{ operation: 'replace', type: 'unicodePwd', values: [Buffer.from(`"${PASSWORD}"`, 'utf16le')] }]);
    assert.equal(reuse.resultCode, ResultCode.constraintViolation, 'history holds the scrypt hash and it still verifies');
    assert.match(reuse.diagnosticMessage ?? '', /password history/);
  });

  void it('Argon2id below newly raised parameters is upgraded too', async () => {
    const weak = await auditedHarness();
    const dn = await addUser(weak.h, 'Raise', { password: PASSWORD });
    const stronger = createPasswordHasher({ argon2: { memoryKiB: 128, timeCost: 2, parallelism: 1 } });
    const { h, events } = await auditedHarness({ hasher: stronger });
    // Same store content: copy the weak hash onto an account of the stronger engine.
    const dn2 = await addUser(h, 'Raise', { password: PASSWORD });
    const entry = await h.store.getByNdn(dn2.toLowerCase());
    const weakHash = await storedHash(weak.h, dn);
    await h.store.transaction((tx) => tx.setCredentials(entry?.guid as string, { hash: weakHash, history: [] }));
    assert.equal((await bindAs(h.engine, dn2, PASSWORD)).result.resultCode, ResultCode.success);
    assert.match(await storedHash(h, dn2), /^\$argon2id\$v=19\$m=128,t=2,p=1\$/);
    assert.equal(events[0]?.details.from, 'argon2id');
  });

  void it('an unknown name pays an Argon2id verification at the configured parameters', async () => {
    const hasher = cheapHasher();
    const seen: string[] = [];
    const h = await createHarness({
      engine: {
        passwordHasher: hasher,
        verifyPassword: (password, hash) => {
          seen.push(hash);
          return hasher.verify(password, hash);
        },
      },
    });
    seen.length = 0;
    const { result } = await bindAs(h.engine, `CN=Nobody,${USERS}`, PASSWORD);
    assert.equal(subCode(result), '52e');
    assert.equal(seen.length, 1);
    assert.match(seen[0] as string, /^\$argon2id\$v=19\$m=64,t=1,p=1\$/);
    assert.equal(seen[0], await hasher.dummyHash(), 'the same dummy hash each time (built once)');
  });
});

void describe('engine: a burst of wrong binds at OWASP parameters queues behind the bound', () => {
  void it('200 concurrent wrong binds: never more verifications at once than the bound, memory bounded', async (t) => {
    const limit = 2;
    const hasher = createPasswordHasher({ maxConcurrent: limit });
    const h = await createHarness({ policy: { lockoutThreshold: 0 }, engine: { passwordHasher: hasher, passwordCache: { maxEntries: 0 } } });
    const users = await Promise.all(Array.from({ length: 20 }, (_, i) => addUser(h, `Spray${i}`, { password: PASSWORD })));
    await hasher.dummyHash();
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    let maxQueued = 0;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      maxQueued = Math.max(maxQueued, hasher.gate.queued);
    }, 5);
    const peakBefore = hasher.gate.peak;
    const started = performance.now();
    // Half wrong passwords for real accounts, half unknown names: both pay one verification.
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => bindAs(h.engine, i % 2 === 0 ? (users[i % users.length] as string) : `nobody${i}@corp.example.test`, `Spray-${i}-Guess!`)),
    );
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    assert.ok(results.every((r) => subCode(r.result) === '52e'));
    assert.ok(peakBefore <= limit);
    assert.equal(hasher.gate.peak, limit, 'the bound was reached and never passed');
    assert.ok(maxQueued > 100, `the burst queued (${maxQueued} waiting at most)`);
    const growthMiB = (rssPeak - rssBefore) / 2 ** 20;
    t.diagnostic(`200 wrong binds in ${seconds.toFixed(2)} s (${(200 / seconds).toFixed(0)}/s), peak ${hasher.gate.peak} verifications at once (bound ${limit}), up to ${maxQueued} queued, RSS ${(rssBefore / 2 ** 20).toFixed(0)} → peak ${(rssPeak / 2 ** 20).toFixed(0)} MiB (+${growthMiB.toFixed(0)})`);
    // 19 MiB per verification in flight: the bound's worth plus allocator slack, not 200 × 19 MiB.
    assert.ok(growthMiB < limit * 19 + 64, `RSS grew by ${growthMiB.toFixed(0)} MiB`);
  });
});
