import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  accountExpiryFrom,
  bindOutcomeFromDiagnostic,
  dateToFiletime,
  decodeAccountState,
  decodeGroupType,
  filetimeToDate,
  guidToBytes,
  guidToString,
  policyIntervalMs,
  sidToBytes,
  sidToString,
} from './ad-codec.ts';

const now = new Date('2026-11-26T12:00:00Z');
const ft = (date: string): string => dateToFiletime(new Date(date)).toString();

describe('objectGUID and objectSid', () => {
  it('swaps the byte order of the first three GUID fields', () => {
    const bytes = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    assert.equal(guidToString(bytes), '33221100-5544-7766-8899-aabbccddeeff');
    assert.deepEqual(guidToBytes('33221100-5544-7766-8899-aabbccddeeff'), bytes);
  });

  it('rejects GUIDs of the wrong length', () => {
    assert.throws(() => guidToString(Buffer.alloc(15)), RangeError);
    assert.throws(() => guidToBytes('not-a-guid'), RangeError);
  });

  it('decodes a domain SID and round-trips it', () => {
    const sid = 'S-1-5-21-3623811015-3361044348-30300820-1013';
    const bytes = sidToBytes(sid);
    assert.equal(bytes.readUInt8(1), 5);
    assert.equal(sidToString(bytes), sid);
    assert.equal(sidToString(sidToBytes('S-1-5-32-544')), 'S-1-5-32-544');
  });

  it('refuses a truncated SID', () => {
    assert.throws(() => sidToString(sidToBytes('S-1-5-21-1-2-3').subarray(0, 12)), RangeError);
  });
});

describe('FILETIME and policy intervals', () => {
  it('treats 0 and 0x7FFFFFFFFFFFFFFF as never expiring', () => {
    assert.equal(accountExpiryFrom('0'), null);
    assert.equal(accountExpiryFrom('9223372036854775807'), null);
    assert.equal(accountExpiryFrom(ft('2027-01-01T00:00:00Z'))?.toISOString(), '2027-01-01T00:00:00.000Z');
  });

  it('converts FILETIME both ways', () => {
    assert.equal(filetimeToDate(116444736000000000n).toISOString(), '1970-01-01T00:00:00.000Z');
  });

  it('reads negative policy intervals and the "forever" value', () => {
    assert.equal(policyIntervalMs('-18000000000'), 30 * 60 * 1000);
    assert.equal(policyIntervalMs('-9223372036854775808'), null);
    assert.equal(policyIntervalMs('0'), null);
  });
});

describe('account state from attributes', () => {
  const policy = { lockoutDurationMs: 30 * 60 * 1000, maxPasswordAgeMs: 42 * 86_400_000 };
  const healthy = { userAccountControl: '512', pwdLastSet: ft('2026-11-01T00:00:00Z'), accountExpires: '0', lockoutTime: '0' };

  it('is ok for a normal account', () => {
    assert.equal(decodeAccountState(healthy, policy, now).state, 'ok');
  });

  it('sees a disabled account', () => {
    assert.equal(decodeAccountState({ ...healthy, userAccountControl: '514' }, policy, now).state, 'disabled');
  });

  it('sees a lockout only while the lockout duration runs', () => {
    const recent = decodeAccountState({ ...healthy, lockoutTime: ft('2026-11-26T11:50:00Z') }, policy, now);
    assert.equal(recent.state, 'locked');
    const old = decodeAccountState({ ...healthy, lockoutTime: ft('2026-11-26T10:00:00Z') }, policy, now);
    assert.equal(old.state, 'ok');
    const forever = decodeAccountState({ ...healthy, lockoutTime: ft('2026-01-01T00:00:00Z') }, { ...policy, lockoutDurationMs: null }, now);
    assert.equal(forever.state, 'locked');
  });

  it('prefers msDS-User-Account-Control-Computed when the server has it', () => {
    const computed = decodeAccountState({ ...healthy, 'msDS-User-Account-Control-Computed': String(0x10) }, policy, now);
    assert.equal(computed.state, 'locked');
    const expired = decodeAccountState({ ...healthy, 'msDS-User-Account-Control-Computed': String(0x800000) }, policy, now);
    assert.equal(expired.state, 'passwordExpired');
  });

  it('sees an expired account', () => {
    assert.equal(decodeAccountState({ ...healthy, accountExpires: ft('2026-11-01T00:00:00Z') }, policy, now).state, 'expired');
  });

  it('sees pwdLastSet = 0 as must change, unless the password never expires', () => {
    assert.equal(decodeAccountState({ ...healthy, pwdLastSet: '0' }, policy, now).state, 'mustChangePassword');
    assert.equal(decodeAccountState({ ...healthy, pwdLastSet: '0', userAccountControl: String(512 | 0x10000) }, policy, now).state, 'ok');
  });

  it('computes password expiry from maxPwdAge', () => {
    const old = { ...healthy, pwdLastSet: ft('2026-09-01T00:00:00Z') };
    assert.equal(decodeAccountState(old, policy, now).state, 'passwordExpired');
    assert.equal(decodeAccountState({ ...old, userAccountControl: String(512 | 0x10000) }, policy, now).state, 'ok');
    assert.equal(decodeAccountState(old, { ...policy, maxPasswordAgeMs: null }, now).state, 'ok');
  });

  it('lists every condition, the first being the state', () => {
    const report = decodeAccountState({ ...healthy, userAccountControl: '514', accountExpires: ft('2026-01-01T00:00:00Z') }, policy, now);
    assert.deepEqual(report.conditions, ['disabled', 'expired']);
  });
});

describe('bind sub-codes', () => {
  const message = (code: string): string => `80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data ${code}, v1db1`;
  const cases: Array<[string, string]> = [
    ['52e', 'invalidCredentials'],
    ['525', 'invalidCredentials'],
    ['530', 'notPermitted'],
    ['531', 'notPermitted'],
    ['532', 'passwordExpired'],
    ['533', 'disabled'],
    ['701', 'expired'],
    ['773', 'mustChangePassword'],
    ['775', 'locked'],
  ];
  for (const [code, outcome] of cases) {
    it(`maps data ${code} to ${outcome}`, () => {
      assert.deepEqual(bindOutcomeFromDiagnostic(message(code)), { outcome, subCode: code });
    });
  }

  it('treats a message without a sub-code as invalid credentials', () => {
    assert.deepEqual(bindOutcomeFromDiagnostic('Invalid credentials'), { outcome: 'invalidCredentials', subCode: null });
  });
});

describe('groupType', () => {
  it('decodes security and distribution groups and their scope', () => {
    assert.deepEqual(decodeGroupType('-2147483646'), { kind: 'security', scope: 'global' });
    assert.deepEqual(decodeGroupType('-2147483640'), { kind: 'security', scope: 'universal' });
    assert.deepEqual(decodeGroupType('-2147483644'), { kind: 'security', scope: 'domainLocal' });
    assert.deepEqual(decodeGroupType('2'), { kind: 'distribution', scope: 'global' });
  });
});
