/** Binds with AD's sub-codes, lockout with a frozen clock, and the password policy on set and change. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dateToFiletime } from '#src/directory/ad-codec.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';
import { createPasswordHasher, encodeUnicodePwd, hashPasswordScrypt, verifyPassword } from '#src/directory/managed/engine/password.ts';
import { ADMIN_DN, BASE, USERS, addUser, bindAs, createHarness, search, session, subCode, values, type Harness } from './helpers.ts';

const PASSWORD = 'Right-Pa55word!';
const minute = 60_000;
const day = 24 * 60 * minute;

async function setAttribute(h: Harness, dn: string, type: string, value: string): Promise<void> {
  const result = await h.engine.modify(h.admin, dn, [{ operation: 'replace', type, values: [Buffer.from(value)] }]);
  assert.equal(result.resultCode, ResultCode.success, JSON.stringify(result));
}

async function read(h: Harness, dn: string, attribute: string): Promise<string[]> {
  return values((await search(h.engine, h.admin, { baseObject: dn, scope: 'base', attributes: [attribute] })).entries[0], attribute);
}

void describe('engine bind: names', () => {
  void it('accepts the DN, the UPN, the implicit UPN and DOMAIN\\sAMAccountName; not a bare sAMAccountName', async () => {
    const h = await createHarness();
    const dn = await addUser(h, 'Alice', { password: PASSWORD, extra: { userPrincipalName: 'alice.smith@corp.example.test' } });
    for (const name of [dn, dn.toUpperCase(), 'alice.smith@corp.example.test', 'ALICE.SMITH@CORP.EXAMPLE.TEST', 'alice@corp.example.test', 'CORP\\alice', 'corp\\ALICE']) {
      const { result, session: s } = await bindAs(h.engine, name, PASSWORD);
      assert.equal(result.resultCode, ResultCode.success, name);
      assert.equal(s.boundDn, dn, name);
    }
    for (const name of ['alice', 'OTHER\\alice', 'alice@other.example']) {
      const { result } = await bindAs(h.engine, name, PASSWORD);
      assert.equal(result.resultCode, ResultCode.invalidCredentials, name);
      assert.equal(subCode(result), '52e', name);
    }
  });

  void it('a password with NUL bytes appended is wrong, with an Argon2id hash and with a scrypt one (scrypt alone would accept it)', async () => {
    const h = await createHarness({ policy: { lockoutThreshold: 0 } });
    const dn = await addUser(h, 'Nul', { password: PASSWORD });
    const padded = async (): Promise<void> => {
      for (const password of [`${PASSWORD}\0`, `${PASSWORD}\0\0`]) {
        const { result } = await bindAs(h.engine, dn, password);
        assert.equal(result.resultCode, ResultCode.invalidCredentials);
        assert.equal(subCode(result), '52e');
      }
    };
    await padded();
    // The same account with a hash from before Argon2id.
    const entry = await h.store.getByNdn(dn.toLowerCase());
    const scrypt = await hashPasswordScrypt(PASSWORD, { N: 16, r: 1, p: 1 });
    await h.store.transaction((tx) => tx.setCredentials(entry?.guid as string, { hash: scrypt, history: [] }));
    await padded();
    assert.equal((await bindAs(h.engine, dn, PASSWORD)).result.resultCode, ResultCode.success);
    await padded();
  });

  void it('anonymous only with an empty name and password; a name without a password never succeeds', async () => {
    const h = await createHarness();
    const anonymous = await bindAs(h.engine, '', '');
    assert.equal(anonymous.result.resultCode, ResultCode.success);
    assert.equal(anonymous.session.boundDn, null);
    for (const [name, password] of [[ADMIN_DN, ''], ['', 'x']] as const) {
      const { result, session: s } = await bindAs(h.engine, name, password);
      assert.equal(result.resultCode, ResultCode.invalidCredentials);
      assert.equal(result.diagnosticMessage, '80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1');
      assert.equal(s.boundDn, null);
    }
  });

  void it('refuses simple binds without TLS (strongerAuthRequired)', async () => {
    const h = await createHarness();
    const plain = session(null, false);
    const { result } = await h.engine.bind(plain, ADMIN_DN, Buffer.from('Admin-Pa55word!'));
    assert.equal(result.resultCode, ResultCode.strongerAuthRequired);
  });
});

void describe('engine bind: sub-codes per account state (Samba 4.17 table)', () => {
  void it('ok, wrong, unknown, disabled, expired, must change, password expired', async () => {
    const h = await createHarness({ policy: { lockoutThreshold: 0 } });
    const dn = await addUser(h, 'State', { password: PASSWORD });
    const expect = async (password: string, code: number, sub: string | null, name = dn) => {
      const { result } = await bindAs(h.engine, name, password);
      assert.equal(result.resultCode, code, `${password}: ${JSON.stringify(result)}`);
      assert.equal(subCode(result), sub);
    };
    await expect(PASSWORD, ResultCode.success, null);
    await expect('wrong', ResultCode.invalidCredentials, '52e');
    await expect(PASSWORD, ResultCode.invalidCredentials, '52e', `CN=Nobody,${USERS}`);
    await expect(PASSWORD, ResultCode.invalidCredentials, '52e', 'nobody@corp.example.test');

    await setAttribute(h, dn, 'userAccountControl', '514');
    await expect(PASSWORD, ResultCode.invalidCredentials, '533');
    await expect('wrong', ResultCode.invalidCredentials, '52e');
    await setAttribute(h, dn, 'userAccountControl', '512');

    await setAttribute(h, dn, 'accountExpires', dateToFiletime(new Date(h.clock.now.getTime() - day)).toString());
    await expect(PASSWORD, ResultCode.invalidCredentials, '701');
    await expect('wrong', ResultCode.invalidCredentials, '52e');
    await setAttribute(h, dn, 'accountExpires', '0');

    await setAttribute(h, dn, 'pwdLastSet', '0');
    await expect(PASSWORD, ResultCode.invalidCredentials, '773');
    await expect('wrong', ResultCode.invalidCredentials, '52e');
    assert.deepEqual(await read(h, dn, 'msDS-User-Account-Control-Computed'), [String(0x800000)]);
    await setAttribute(h, dn, 'pwdLastSet', '-1');
    await expect(PASSWORD, ResultCode.success, null);

    h.clock.advance(43 * day);
    await expect(PASSWORD, ResultCode.invalidCredentials, '532');
    await expect('wrong', ResultCode.invalidCredentials, '52e');
    assert.deepEqual(await read(h, dn, 'msDS-User-Account-Control-Computed'), [String(0x800000)]);
    await setAttribute(h, dn, 'userAccountControl', String(0x200 | 0x10000));
    await expect(PASSWORD, ResultCode.success, null);
  });
});

void describe('engine bind: lockout', () => {
  void it('three wrong passwords answer 52e, the fourth attempt 775, even with the right password', async () => {
    const h = await createHarness({ policy: { lockoutThreshold: 3, lockoutDurationMs: 30 * minute, lockoutObservationWindowMs: 10 * minute } });
    const dn = await addUser(h, 'Locky', { password: PASSWORD });
    for (let i = 1; i <= 3; i += 1) {
      const { result } = await bindAs(h.engine, dn, `wrong-${i}`);
      assert.equal(subCode(result), '52e', `attempt ${i}`);
    }
    assert.equal(subCode((await bindAs(h.engine, dn, 'wrong-4')).result), '775');
    assert.equal(subCode((await bindAs(h.engine, dn, PASSWORD)).result), '775');
    assert.deepEqual(await read(h, dn, 'msDS-User-Account-Control-Computed'), ['16']);
    assert.notDeepEqual(await read(h, dn, 'lockoutTime'), ['0']);

    // The lockout lasts lockoutDuration, then the right password works and resets the counters.
    h.clock.advance(29 * minute);
    assert.equal(subCode((await bindAs(h.engine, dn, PASSWORD)).result), '775');
    h.clock.advance(2 * minute);
    assert.equal((await bindAs(h.engine, dn, PASSWORD)).result.resultCode, ResultCode.success);
    assert.deepEqual(await read(h, dn, 'badPwdCount'), ['0']);
    assert.deepEqual(await read(h, dn, 'lockoutTime'), ['0']);
    assert.deepEqual(await read(h, dn, 'msDS-User-Account-Control-Computed'), ['0']);
  });

  void it('the built-in Administrator (RID 500) is not locked out by default: wrong passwords still fail, count and cost the full verification', async () => {
    let verifications = 0;
    const h = await createHarness({
      policy: { lockoutThreshold: 3, lockoutDurationMs: null },
      engine: {
        verifyPassword: (password, hash) => {
          verifications += 1;
          return verifyPassword(password, hash);
        },
      },
    });
    const before = verifications;
    for (let i = 1; i <= 20; i += 1) {
      const { result } = await bindAs(h.engine, ADMIN_DN, `wrong-${i}`);
      assert.equal(subCode(result), '52e', `attempt ${i}`);
    }
    assert.equal(verifications - before, 20, 'every wrong password went through the hash');
    assert.deepEqual(await read(h, ADMIN_DN, 'badPwdCount'), ['20']);
    assert.deepEqual(await read(h, ADMIN_DN, 'lockoutTime'), ['0']);
    assert.deepEqual(await read(h, ADMIN_DN, 'msDS-User-Account-Control-Computed'), ['0']);
    assert.equal((await bindAs(h.engine, ADMIN_DN, 'Admin-Pa55word!')).result.resultCode, ResultCode.success);
    // Any other account still locks at the threshold.
    const dn = await addUser(h, 'Other', { password: PASSWORD });
    for (let i = 1; i <= 3; i += 1) await bindAs(h.engine, dn, `wrong-${i}`);
    assert.equal(subCode((await bindAs(h.engine, dn, PASSWORD)).result), '775');
  });

  void it('lockOutAdministrator: true locks the Administrator like any account', async () => {
    const h = await createHarness({ policy: { lockoutThreshold: 3, lockoutDurationMs: null }, engine: { lockOutAdministrator: true } });
    for (let i = 1; i <= 3; i += 1) await bindAs(h.engine, ADMIN_DN, `wrong-${i}`);
    assert.equal(subCode((await bindAs(h.engine, ADMIN_DN, 'Admin-Pa55word!')).result), '775');
  });

  void it('badPwdCount restarts after the observation window; a good bind resets it', async () => {
    const h = await createHarness({ policy: { lockoutThreshold: 3, lockoutObservationWindowMs: 10 * minute } });
    const dn = await addUser(h, 'Window', { password: PASSWORD });
    await bindAs(h.engine, dn, 'wrong');
    await bindAs(h.engine, dn, 'wrong');
    assert.deepEqual(await read(h, dn, 'badPwdCount'), ['2']);
    h.clock.advance(11 * minute);
    await bindAs(h.engine, dn, 'wrong');
    assert.deepEqual(await read(h, dn, 'badPwdCount'), ['1']);
    await bindAs(h.engine, dn, 'wrong');
    assert.equal((await bindAs(h.engine, dn, PASSWORD)).result.resultCode, ResultCode.success);
    assert.deepEqual(await read(h, dn, 'badPwdCount'), ['0']);
    await bindAs(h.engine, dn, 'wrong');
    await bindAs(h.engine, dn, 'wrong');
    assert.equal((await bindAs(h.engine, dn, PASSWORD)).result.resultCode, ResultCode.success, 'not locked: the count was reset');
  });

  void it('an administrator unlocks by writing lockoutTime=0; other values are refused', async () => {
    const h = await createHarness({ policy: { lockoutThreshold: 2, lockoutDurationMs: null } });
    const dn = await addUser(h, 'Stuck', { password: PASSWORD });
    await bindAs(h.engine, dn, 'wrong');
    await bindAs(h.engine, dn, 'wrong');
    h.clock.advance(7 * day);
    assert.equal(subCode((await bindAs(h.engine, dn, PASSWORD)).result), '775', 'locked until an administrator unlocks');
    const refused = await h.engine.modify(h.admin, dn, [{ operation: 'replace', type: 'lockoutTime', values: [Buffer.from('5')] }]);
    assert.equal(refused.resultCode, ResultCode.unwillingToPerform);
    await setAttribute(h, dn, 'lockoutTime', '0');
    assert.deepEqual(await read(h, dn, 'badPwdCount'), ['0']);
    assert.equal((await bindAs(h.engine, dn, PASSWORD)).result.resultCode, ResultCode.success);
  });

  void it('the policy lives on the domain object: an administrator can change the threshold over LDAP', async () => {
    const h = await createHarness({ policy: { lockoutThreshold: 0 } });
    const dn = await addUser(h, 'Policy', { password: PASSWORD });
    for (let i = 0; i < 5; i += 1) await bindAs(h.engine, dn, 'wrong');
    assert.equal((await bindAs(h.engine, dn, PASSWORD)).result.resultCode, ResultCode.success, 'threshold 0 never locks');
    await setAttribute(h, BASE, 'lockoutThreshold', '1');
    await bindAs(h.engine, dn, 'wrong');
    assert.equal(subCode((await bindAs(h.engine, dn, PASSWORD)).result), '775');
  });

  void it('unknown users cost about what wrong passwords cost (a dummy hash is verified)', async () => {
    // At the production parameters the hash dominates a bind, as it does in production: a cheap
    // test hash would let the wrong password's bookkeeping writes decide the comparison.
    const h = await createHarness({ engine: { passwordHasher: createPasswordHasher() } });
    const dn = await addUser(h, 'Timing', { password: PASSWORD });
    await bindAs(h.engine, `CN=Nobody,${USERS}`, 'warm-up');
    const time = async (name: string) => {
      const started = performance.now();
      for (let i = 0; i < 5; i += 1) await bindAs(h.engine, name, 'wrong');
      return performance.now() - started;
    };
    const unknown = await time(`CN=Nobody,${USERS}`);
    const wrong = await time(dn);
    assert.ok(unknown > wrong * 0.3 && unknown < wrong * 3, `unknown ${unknown.toFixed(1)} ms vs wrong ${wrong.toFixed(1)} ms`);
  });
});

void describe('engine passwords: policy on set and change', () => {
  const unicode = (password: string) => [encodeUnicodePwd(password)];

  void it('an administrator sets unicodePwd (quoted UTF-16LE) or userPassword; length, complexity and account name are checked', async () => {
    const h = await createHarness();
    const dn = await addUser(h, 'Paula');
    const set = (type: string, v: Buffer[]) => h.engine.modify(h.admin, dn, [{ operation: 'replace', type, values: v }]);
    assert.equal((await set('unicodePwd', unicode('Sh0rt!'))).resultCode, ResultCode.constraintViolation);
    assert.equal((await set('unicodePwd', unicode('alllowercase1'))).resultCode, ResultCode.constraintViolation);
    assert.equal((await set('unicodePwd', unicode('Paula-1234'))).resultCode, ResultCode.constraintViolation, 'contains the account name');
    assert.equal((await set('unicodePwd', [Buffer.from('Not-Quoted-1')])).resultCode, ResultCode.constraintViolation);
    assert.equal((await set('unicodePwd', unicode('Good-Pa55word'))).resultCode, ResultCode.success);
    await setAttribute(h, dn, 'userAccountControl', '512');
    assert.equal((await bindAs(h.engine, dn, 'Good-Pa55word')).result.resultCode, ResultCode.success);
    assert.equal((await set('userPassword', [Buffer.from('Other-Pa55word')])).resultCode, ResultCode.success);
    assert.equal((await bindAs(h.engine, dn, 'Other-Pa55word')).result.resultCode, ResultCode.success);
    const insecure = await h.engine.modify({ ...h.admin, secure: false }, dn, [{ operation: 'replace', type: 'unicodePwd', values: unicode('Third-Pa55word') }]);
    assert.equal(insecure.resultCode, ResultCode.unwillingToPerform);
  });

  void it('a user changes their own password with delete old + add new; history refuses reuse', async () => {
    const h = await createHarness({ policy: { pwdHistoryLength: 3 } });
    const dn = await addUser(h, 'Hugo', { password: 'First-Pa55word' });
    const { session: s } = await bindAs(h.engine, dn, 'First-Pa55word');
    const change = (old: string, next: string) =>
      h.engine.modify(s, dn, [
        { operation: 'delete', type: 'unicodePwd', values: unicode(old) },
        { operation: 'add', type: 'unicodePwd', values: unicode(next) },
      ]);
    const wrongOld = await change('Not-The-Old-1', 'Second-Pa55word');
    assert.equal(wrongOld.resultCode, ResultCode.constraintViolation);
    assert.match(wrongOld.diagnosticMessage ?? '', /^00000056/);
    assert.equal((await change('First-Pa55word', 'First-Pa55word')).resultCode, ResultCode.constraintViolation, 'the current password is in the history');
    assert.equal((await change('First-Pa55word', 'Second-Pa55word')).resultCode, ResultCode.success);
    assert.equal((await change('Second-Pa55word', 'Third-Pa55word')).resultCode, ResultCode.success);
    assert.equal((await change('Third-Pa55word', 'First-Pa55word')).resultCode, ResultCode.constraintViolation, 'history of 3');
    assert.equal((await change('Third-Pa55word', 'Fourth-Pa55word')).resultCode, ResultCode.success);
    assert.equal((await change('Fourth-Pa55word', 'First-Pa55word')).resultCode, ResultCode.success, 'out of the history now');
    // Replacing is an administrator's reset: refused to the user.
    const reset = await h.engine.modify(s, dn, [{ operation: 'replace', type: 'unicodePwd', values: unicode('Fifth-Pa55word') }]);
    assert.equal(reset.resultCode, ResultCode.insufficientAccessRights);
  });

  void it('passwordModify (RFC 3062): self change, unbound change for "must change", admin reset with a generated password', async () => {
    const h = await createHarness();
    const dn = await addUser(h, 'Mona', { password: 'Start-Pw-0001' });
    const { session: s } = await bindAs(h.engine, dn, 'Start-Pw-0001');
    assert.equal((await h.engine.passwordModify(s, { oldPassword: 'Start-Pw-0001', newPassword: 'Next-Pw-0022' })).result.resultCode, ResultCode.success);
    assert.equal((await h.engine.passwordModify(s, { newPassword: 'Next-Pw-0033' })).result.resultCode, ResultCode.unwillingToPerform);
    assert.equal((await bindAs(h.engine, 'mona@corp.example.test', 'Next-Pw-0022')).result.resultCode, ResultCode.success);

    await setAttribute(h, dn, 'pwdLastSet', '0');
    assert.equal(subCode((await bindAs(h.engine, dn, 'Next-Pw-0022')).result), '773');
    const unbound = await h.engine.passwordModify(session(), { userIdentity: 'CORP\\mona', oldPassword: 'Next-Pw-0022', newPassword: 'Fresh-Pw-0044' });
    assert.equal(unbound.result.resultCode, ResultCode.success);
    assert.equal((await bindAs(h.engine, dn, 'Fresh-Pw-0044')).result.resultCode, ResultCode.success);
    const wrong = await h.engine.passwordModify(session(), { userIdentity: 'CORP\\mona', oldPassword: 'nope', newPassword: 'Fresh-Pw-0055' });
    assert.equal(wrong.result.resultCode, ResultCode.constraintViolation);

    const reset = await h.engine.passwordModify(h.admin, { userIdentity: dn });
    assert.equal(reset.result.resultCode, ResultCode.success);
    assert.ok(reset.genPassword && reset.genPassword.length >= 16);
    assert.equal((await bindAs(h.engine, dn, reset.genPassword)).result.resultCode, ResultCode.success);
    const other = await addUser(h, 'Other', { password: 'Start-Pw-0002' });
    assert.equal((await h.engine.passwordModify(s, { userIdentity: other, newPassword: 'Stolen-Pa55word' })).result.resultCode, ResultCode.insufficientAccessRights);
  });

  void it('the minimum password age applies to users, not to administrators', async () => {
    const h = await createHarness({ policy: { minPwdAgeMs: day } });
    const dn = await addUser(h, 'Min', { password: 'Begin-Pw-11' });
    const { session: s } = await bindAs(h.engine, dn, 'Begin-Pw-11');
    assert.equal((await h.engine.passwordModify(s, { oldPassword: 'Begin-Pw-11', newPassword: 'Later-Pw-222' })).result.resultCode, ResultCode.constraintViolation);
    h.clock.advance(day + 1);
    assert.equal((await h.engine.passwordModify(s, { oldPassword: 'Begin-Pw-11', newPassword: 'Later-Pw-222' })).result.resultCode, ResultCode.success);
    assert.equal((await h.engine.passwordModify(h.admin, { userIdentity: dn, newPassword: 'Reset-Pw-333' })).result.resultCode, ResultCode.success);
  });
});
