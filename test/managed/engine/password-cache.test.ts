/**
 * The cache of verified passwords: a repeat bind with the right password skips the hash, everything
 * else (wrong passwords, changed passwords, expired entries, locked accounts) still pays for it, and
 * every account-state check still runs on a hit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dateToFiletime } from '#src/directory/ad-codec.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';
import { createDirectoryEngine, type DirectoryEngineOptions } from '#src/directory/managed/engine/engine.ts';
import { createMemoryDirectoryStore } from '#src/directory/managed/engine/memory-store.ts';
import { verifyPassword } from '#src/directory/managed/engine/password.ts';
import type { DirectoryPolicy } from '#src/directory/managed/engine/policy.ts';
import { createVerifiedPasswordCache, defaultVerifiedPasswordCache } from '#src/directory/managed/engine/verified-passwords.ts';
import { ADMIN_DN, DOMAIN_SID, addUser, cheapHasher, bindAs, createHarness, search, session, subCode, values, type Harness } from './helpers.ts';

const PASSWORD = 'Right-Pa55word!';
const minute = 60_000;
const day = 24 * 60 * minute;

/** The real hash comparison, counted. */
function countingVerifier(): { verify: NonNullable<DirectoryEngineOptions['verifyPassword']>; readonly calls: number } {
  let calls = 0;
  return {
    verify: (password, hash) => {
      calls += 1;
      return verifyPassword(password, hash);
    },
    get calls() {
      return calls;
    },
  };
}

async function harness(options: { policy?: Partial<DirectoryPolicy>; engine?: Partial<DirectoryEngineOptions> } = {}) {
  const counter = countingVerifier();
  const h = await createHarness({ ...(options.policy ? { policy: options.policy } : {}), engine: { verifyPassword: counter.verify, ...options.engine } });
  return { h, counter };
}

async function setAttribute(h: Harness, dn: string, type: string, value: string): Promise<void> {
  const result = await h.engine.modify(h.admin, dn, [{ operation: 'replace', type, values: [Buffer.from(value)] }]);
  assert.equal(result.resultCode, ResultCode.success, JSON.stringify(result));
}

async function read(h: Harness, dn: string, attribute: string): Promise<string[]> {
  return values((await search(h.engine, h.admin, { baseObject: dn, scope: 'base', attributes: [attribute] })).entries[0], attribute);
}

/** Binds and returns the sub-code (null on success) and how many hash comparisons the bind ran. */
async function attempt(h: Harness, counter: { calls: number }, name: string, password: string): Promise<{ code: number; sub: string | null; hashes: number }> {
  const before = counter.calls;
  const { result } = await bindAs(h.engine, name, password);
  return { code: result.resultCode, sub: subCode(result), hashes: counter.calls - before };
}

void describe('verified-password cache in binds', () => {
  void it('a repeat bind with the right password skips the hash; the first one runs it', async () => {
    const { h, counter } = await harness();
    const dn = await addUser(h, 'Alice', { password: PASSWORD });
    assert.deepEqual(await attempt(h, counter, dn, PASSWORD), { code: ResultCode.success, sub: null, hashes: 1 });
    for (const name of [dn, 'alice@corp.example.test', 'CORP\\alice']) {
      assert.deepEqual(await attempt(h, counter, name, PASSWORD), { code: ResultCode.success, sub: null, hashes: 0 }, name);
    }
  });

  void it('a wrong password after a cached right one still runs the hash, fails with 52e and counts', async () => {
    const { h, counter } = await harness();
    const dn = await addUser(h, 'Bob', { password: PASSWORD });
    await attempt(h, counter, dn, PASSWORD);
    for (const wrong of ['wrong', `${PASSWORD} `, PASSWORD.toLowerCase(), PASSWORD.slice(0, -1)]) {
      assert.deepEqual(await attempt(h, counter, dn, wrong), { code: ResultCode.invalidCredentials, sub: '52e', hashes: 1 }, JSON.stringify(wrong));
      await setAttribute(h, dn, 'lockoutTime', '0'); // keep the count under the threshold of 3
    }
    await attempt(h, counter, dn, 'wrong-again');
    assert.deepEqual(await read(h, dn, 'badPwdCount'), ['1']);
    // The failures were not remembered: the same wrong password pays again.
    assert.deepEqual(await attempt(h, counter, dn, 'wrong-again'), { code: ResultCode.invalidCredentials, sub: '52e', hashes: 1 });
    assert.deepEqual(await attempt(h, counter, dn, PASSWORD), { code: ResultCode.success, sub: null, hashes: 0 });
    assert.deepEqual(await read(h, dn, 'badPwdCount'), ['0'], 'a good bind from the cache resets the count as any good bind does');
  });

  void it('a changed or reset password misses: the old one is refused (after the hash), the new one verified once', async () => {
    const { h, counter } = await harness({ policy: { pwdHistoryLength: 0 } });
    const dn = await addUser(h, 'Carol', { password: 'First-Pa55word' });
    const { session: s } = await bindAs(h.engine, dn, 'First-Pa55word');
    assert.equal((await attempt(h, counter, dn, 'First-Pa55word')).hashes, 0, 'cached');

    // The user's own change (RFC 3062).
    assert.equal((await h.engine.passwordModify(s, { oldPassword: 'First-Pa55word', newPassword: 'Second-Pa55word' })).result.resultCode, ResultCode.success);
    assert.deepEqual(await attempt(h, counter, dn, 'First-Pa55word'), { code: ResultCode.invalidCredentials, sub: '52e', hashes: 1 });
    assert.deepEqual(await attempt(h, counter, dn, 'Second-Pa55word'), { code: ResultCode.success, sub: null, hashes: 1 });
    assert.deepEqual(await attempt(h, counter, dn, 'Second-Pa55word'), { code: ResultCode.success, sub: null, hashes: 0 });

    // An administrator's reset (userPassword, as unicodePwd).
    await setAttribute(h, dn, 'userPassword', 'Third-Pa55word');
    assert.deepEqual(await attempt(h, counter, dn, 'Second-Pa55word'), { code: ResultCode.invalidCredentials, sub: '52e', hashes: 1 });
    assert.deepEqual(await attempt(h, counter, dn, 'Third-Pa55word'), { code: ResultCode.success, sub: null, hashes: 1 });

    // A reset to the very same password gets a new salt, hence a new hash: it misses too.
    await setAttribute(h, dn, 'userPassword', 'Third-Pa55word');
    assert.deepEqual(await attempt(h, counter, dn, 'Third-Pa55word'), { code: ResultCode.success, sub: null, hashes: 1 });
  });

  void it('a password changed through another engine on the same store misses too (the key holds the stored hash)', async () => {
    const { h, counter } = await harness();
    const dn = await addUser(h, 'Dora', { password: 'First-Pa55word' });
    await attempt(h, counter, dn, 'First-Pa55word');
    assert.equal((await attempt(h, counter, dn, 'First-Pa55word')).hashes, 0);
    const other = createDirectoryEngine({
      store: h.store,
      domain: { dnsName: 'corp.example.test', netbiosName: 'CORP', domainSid: DOMAIN_SID },
      clock: () => h.clock.now,
      passwordHasher: cheapHasher(),
    });
    const admin = session(ADMIN_DN);
    const reset = await other.passwordModify(admin, { userIdentity: dn, newPassword: 'Other-Pa55word' });
    assert.equal(reset.result.resultCode, ResultCode.success);
    assert.deepEqual(await attempt(h, counter, dn, 'First-Pa55word'), { code: ResultCode.invalidCredentials, sub: '52e', hashes: 1 });
    assert.deepEqual(await attempt(h, counter, dn, 'Other-Pa55word'), { code: ResultCode.success, sub: null, hashes: 1 });
  });

  void it('an entry lasts the TTL from its verification (default 5 minutes), then the hash runs again', async () => {
    const { h, counter } = await harness();
    const dn = await addUser(h, 'Eve', { password: PASSWORD });
    assert.equal((await attempt(h, counter, dn, PASSWORD)).hashes, 1);
    h.clock.advance(defaultVerifiedPasswordCache.ttlMs - 1);
    assert.equal((await attempt(h, counter, dn, PASSWORD)).hashes, 0, 'just inside the TTL');
    h.clock.advance(1);
    assert.deepEqual(await attempt(h, counter, dn, PASSWORD), { code: ResultCode.success, sub: null, hashes: 1 }, 'expired: a hit does not extend it');
    assert.equal((await attempt(h, counter, dn, PASSWORD)).hashes, 0, 'remembered again from the new verification');

    const short = await harness({ engine: { passwordCache: { ttlMs: 10_000 } } });
    const shortDn = await addUser(short.h, 'Eve', { password: PASSWORD });
    await attempt(short.h, short.counter, shortDn, PASSWORD);
    short.h.clock.advance(9_999);
    assert.equal((await attempt(short.h, short.counter, shortDn, PASSWORD)).hashes, 0);
    short.h.clock.advance(1);
    assert.equal((await attempt(short.h, short.counter, shortDn, PASSWORD)).hashes, 1);
  });

  void it('a locked-out account is refused with 775 even with a cached password, and pays the hash (no timing tell)', async () => {
    // A lockout shorter than the TTL, so that the entry remembered before it is still there after it.
    const { h, counter } = await harness({ policy: { lockoutThreshold: 3, lockoutDurationMs: 2 * minute, lockoutObservationWindowMs: minute } });
    const dn = await addUser(h, 'Locky', { password: PASSWORD });
    await attempt(h, counter, dn, PASSWORD);
    assert.equal((await attempt(h, counter, dn, PASSWORD)).hashes, 0, 'cached');
    for (let i = 1; i <= 3; i += 1) assert.equal((await attempt(h, counter, dn, `wrong-${i}`)).sub, '52e');
    assert.deepEqual(await attempt(h, counter, dn, PASSWORD), { code: ResultCode.invalidCredentials, sub: '775', hashes: 1 });
    assert.deepEqual(await attempt(h, counter, dn, 'wrong-4'), { code: ResultCode.invalidCredentials, sub: '775', hashes: 1 });
    // A password change with the old password is refused the same way.
    const change = await h.engine.passwordModify(session(), { userIdentity: dn, oldPassword: PASSWORD, newPassword: 'Next-Pa55word' });
    assert.equal(change.result.resultCode, ResultCode.constraintViolation);
    assert.match(change.result.diagnosticMessage ?? '', /^00000775/);
    h.clock.advance(2 * minute + 1);
    assert.deepEqual(await attempt(h, counter, dn, PASSWORD), { code: ResultCode.success, sub: null, hashes: 0 }, 'unlocked; still within the TTL');
    assert.deepEqual(await read(h, dn, 'lockoutTime'), ['0']);
  });

  void it('disabled, expired, must-change and expired-password accounts are refused on a cache hit with their sub-codes', async () => {
    const { h, counter } = await harness({ policy: { lockoutThreshold: 0 } });
    const dn = await addUser(h, 'State', { password: PASSWORD });
    await attempt(h, counter, dn, PASSWORD);
    const hit = async (sub: string | null) => {
      const outcome = await attempt(h, counter, dn, PASSWORD);
      assert.deepEqual(outcome, { code: sub === null ? ResultCode.success : ResultCode.invalidCredentials, sub, hashes: 0 }, `expected ${sub ?? 'success'}`);
    };
    const wrong = async () => assert.deepEqual(await attempt(h, counter, dn, 'wrong'), { code: ResultCode.invalidCredentials, sub: '52e', hashes: 1 });

    await setAttribute(h, dn, 'userAccountControl', '514');
    await hit('533');
    await wrong();
    await setAttribute(h, dn, 'userAccountControl', '512');
    await hit(null);

    await setAttribute(h, dn, 'accountExpires', dateToFiletime(new Date(h.clock.now.getTime() - day)).toString());
    await hit('701');
    await wrong();
    await setAttribute(h, dn, 'accountExpires', '0');

    await setAttribute(h, dn, 'pwdLastSet', '0');
    await hit('773');
    await wrong();
    await setAttribute(h, dn, 'pwdLastSet', '-1');
    await hit(null);

    // maxPwdAge (42 days by default) passes; stay within the TTL by re-verifying just before.
    h.clock.advance(43 * day);
    const expired = await attempt(h, counter, dn, PASSWORD);
    assert.deepEqual(expired, { code: ResultCode.invalidCredentials, sub: '532', hashes: 1 }, 'the TTL passed too: verified again, then refused');
    await hit('532');
    await wrong();
  });

  void it('a deleted and re-created user does not inherit the cached password', async () => {
    const { h, counter } = await harness();
    const dn = await addUser(h, 'Gone', { password: PASSWORD });
    await attempt(h, counter, dn, PASSWORD);
    assert.equal((await h.engine.delete(h.admin, dn)).resultCode, ResultCode.success);
    assert.deepEqual(await attempt(h, counter, dn, PASSWORD), { code: ResultCode.invalidCredentials, sub: '52e', hashes: 1 }, 'unknown name: the dummy hash is verified');
    await addUser(h, 'Gone', { password: PASSWORD });
    assert.deepEqual(await attempt(h, counter, dn, PASSWORD), { code: ResultCode.success, sub: null, hashes: 1 });
  });

  void it('passwordCache with ttlMs 0 or maxEntries 0 turns it off: every bind runs the hash', async () => {
    for (const passwordCache of [{ ttlMs: 0 }, { maxEntries: 0 }]) {
      const { h, counter } = await harness({ engine: { passwordCache } });
      const dn = await addUser(h, 'Nocache', { password: PASSWORD });
      for (let i = 0; i < 3; i += 1) assert.deepEqual(await attempt(h, counter, dn, PASSWORD), { code: ResultCode.success, sub: null, hashes: 1 }, JSON.stringify(passwordCache));
    }
  });

  void it('unknown users still cost a dummy verification every time', async () => {
    const { h, counter } = await harness();
    for (let i = 0; i < 3; i += 1) assert.deepEqual(await attempt(h, counter, 'nobody@corp.example.test', PASSWORD), { code: ResultCode.invalidCredentials, sub: '52e', hashes: 1 });
  });
});

void describe('verified-password cache (unit)', () => {
  const H1 = 'scrypt$16$1$1$c2FsdA$aGFzaDE';
  const H2 = 'scrypt$16$1$1$c2FsdA$aGFzaDI';

  void it('remembers per (stored hash, password); nothing else matches', () => {
    let now = 0;
    const cache = createVerifiedPasswordCache({ now: () => now });
    cache.remember('g1', H1, 'pw');
    assert.equal(cache.has(H1, 'pw'), true);
    assert.equal(cache.has(H2, 'pw'), false);
    assert.equal(cache.has(H1, 'pw2'), false);
    assert.equal(cache.has(`${H1}\0pw`, ''), false, 'the NUL separator: the hash never contains one');
    assert.equal(cache.has(H1, 'PW'), false);
    now += defaultVerifiedPasswordCache.ttlMs;
    assert.equal(cache.has(H1, 'pw'), false);
    assert.equal(cache.size, 0, 'an expired entry found is dropped');
  });

  void it('keeps at most maxEntries, least recently used out first', () => {
    const cache = createVerifiedPasswordCache({ maxEntries: 3, now: () => 0 });
    for (const pw of ['a', 'b', 'c']) cache.remember('g', H1, pw);
    assert.equal(cache.has(H1, 'a'), true); // a is now the most recent
    cache.remember('g', H1, 'd');
    assert.equal(cache.size, 3);
    assert.equal(cache.has(H1, 'b'), false, 'b was the least recently used');
    assert.deepEqual(['a', 'c', 'd'].map((pw) => cache.has(H1, pw)), [true, true, true]);
  });

  void it('forget(guid) drops that entry\'s passwords only; a clock going back expires', () => {
    let now = 1_000_000;
    const cache = createVerifiedPasswordCache({ now: () => now });
    cache.remember('g1', H1, 'one');
    cache.remember('g1', H1, 'uno');
    cache.remember('g2', H2, 'two');
    cache.forget('g1');
    assert.equal(cache.has(H1, 'one'), false);
    assert.equal(cache.has(H1, 'uno'), false);
    assert.equal(cache.has(H2, 'two'), true);
    assert.equal(cache.size, 1);
    now -= 1;
    assert.equal(cache.has(H2, 'two'), false);
  });

  void it('two caches have different keys (per-instance random key)', () => {
    const a = createVerifiedPasswordCache({ now: () => 0 });
    const b = createVerifiedPasswordCache({ now: () => 0 });
    a.remember('g', H1, 'pw');
    assert.equal(b.has(H1, 'pw'), false);
  });
});

void describe('engine without the harness clock', () => {
  void it('works with the default options and the real clock', async () => {
    const counter = countingVerifier();
    const engine = createDirectoryEngine({
      store: createMemoryDirectoryStore(),
      domain: { dnsName: 'corp.example.test', netbiosName: 'CORP', domainSid: DOMAIN_SID },
      passwordHasher: cheapHasher(),
      verifyPassword: counter.verify,
    });
    await engine.bootstrap({ administratorPassword: 'Admin-Pa55word!' });
    for (let i = 0; i < 3; i += 1) assert.equal((await engine.bind(session(), ADMIN_DN, Buffer.from('Admin-Pa55word!'))).result.resultCode, ResultCode.success);
    assert.equal(counter.calls, 1);
  });
});
