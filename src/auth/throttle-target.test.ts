import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accountSubject, createSignInThrottle, nameSubject } from '#src/auth/throttle.ts';
import type { ResolvedAccount } from '#src/directory/types.ts';
import { throttleTarget } from './throttle-target.ts';

const tara: ResolvedAccount = {
  guid: '6F9619FF-8B86-D011-B42D-00C04FC964FF',
  dn: 'CN=Tara Lock,OU=Engineering,DC=corp,DC=example,DC=test',
  samAccountName: 'tlock2',
  userPrincipalName: 'tara.lock@corp.example.test',
  domain: 'corp.example.test',
  lockoutThreshold: 5,
  serviceAccount: false,
};

describe('what a failed attempt counts against', () => {
  it('the account, whatever the spelling, labelled by its UPN, one below its lockout threshold', () => {
    for (const spelling of ['tara.lock@corp.example.test', 'CORP\\tlock2', 'tlock2', tara.dn]) {
      assert.deepEqual(throttleTarget(spelling, tara), {
        subject: 'account:6f9619ff-8b86-d011-b42d-00c04fc964ff',
        maxFailures: 4,
        details: { label: 'tara.lock@corp.example.test', maxFailures: 4 },
      });
    }
    assert.equal(throttleTarget('tlock2', tara).subject, accountSubject(tara.guid));
  });

  it("a fine-grained policy's threshold, never below one; none when the account never locks", () => {
    assert.equal(throttleTarget('tlock2', { ...tara, lockoutThreshold: 3 }).maxFailures, 2);
    assert.equal(throttleTarget('tlock2', { ...tara, lockoutThreshold: 1 }).maxFailures, 1);
    assert.equal(throttleTarget('tlock2', { ...tara, lockoutThreshold: 0 }).maxFailures, undefined);
    assert.equal(throttleTarget('tlock2', { ...tara, lockoutThreshold: null }).maxFailures, undefined);
  });

  it('the account the directory checked when it differs from the cached one, and the spelling for nobody', () => {
    assert.equal(throttleTarget('tlock2', tara, 'AAAAAAAA-8B86-D011-B42D-00C04FC964FF').subject, 'account:aaaaaaaa-8b86-d011-b42d-00c04fc964ff');
    assert.deepEqual(throttleTarget(' Nobody@Corp.Example.Test ', null), { subject: nameSubject('nobody@corp.example.test'), maxFailures: undefined, details: { label: 'Nobody@Corp.Example.Test' } });
    assert.equal(throttleTarget('nobody', null, 'AAAAAAAA-8B86-D011-B42D-00C04FC964FF').subject, 'account:aaaaaaaa-8b86-d011-b42d-00c04fc964ff');
  });

  it("the throttle applies an account's own lower limit, never a higher one", async () => {
    const throttle = createSignInThrottle({ perUsername: { maxFailures: 4, windowMs: 60_000 }, perAddress: { maxFailures: 100, windowMs: 60_000 } });
    const now = new Date();
    const subject = accountSubject(tara.guid);
    for (let i = 0; i < 2; i++) await throttle.recordFailure(subject, '198.51.100.1', now, { label: 'tara', maxFailures: 2 });
    assert.equal((await throttle.check(subject, '198.51.100.2', now, 2)).allowed, false);
    assert.equal((await throttle.check(subject, '198.51.100.2', now)).allowed, true, 'the configured limit alone is 4');
    const other = accountSubject('00000000-0000-0000-0000-000000000001');
    for (let i = 0; i < 4; i++) await throttle.recordFailure(other, '198.51.100.3', now, { maxFailures: 9 });
    assert.equal((await throttle.check(other, '198.51.100.3', now, 9)).allowed, false, 'a higher own limit does not raise the configured one');
  });
});
