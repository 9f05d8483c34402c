/**
 * Where the sign-in flow and the managed password change meet the failure floor (unit tests with
 * a fake directory and a recording floor): every failure is held, with the controller that
 * answered as its source; throttled refusals are not; a successful password change is not.
 * The timing itself, against the Samba DC, is in failure-timing.samba.integration.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent, AuditEventInput, AuditLog } from '#src/audit/index.ts';
import type { FailureFloor, FailureOutcome } from '#src/auth/failure-floor.ts';
import { createSignInThrottle } from '#src/auth/throttle.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';
import type { AuthenticationResult, DirectoryConnector } from '#src/directory/types.ts';
import { defaultMappings } from '#src/identity-store/mappings.ts';
import { createManagedPasswordChange } from '#src/auth/password-change.ts';
import { createSignInFlow } from '#src/auth/sign-in-flow.ts';

const DC = 'ldaps://dc1.corp.example.test:636';

/** A floor that records what it was asked, in order. */
function recordingFloor(): FailureFloor & { log: Array<{ event: 'begin' | 'hold'; request: object; outcome?: FailureOutcome }> } {
  const log: Array<{ event: 'begin' | 'hold'; request: object; outcome?: FailureOutcome }> = [];
  return {
    log,
    begin: (request) => void log.push({ event: 'begin', request }),
    hold: (request, outcome) => {
      log.push({ event: 'hold', request, outcome });
      return Promise.resolve();
    },
    floorMs: () => 0,
    pending: () => 0,
  };
}

const audit: AuditLog = {
  record: (event: AuditEventInput) => Promise.resolve({ ...event, id: 1, at: new Date() } as unknown as AuditEvent),
  list: () => Promise.resolve([]),
};

const throttle = () => createSignInThrottle({ perUsername: { maxFailures: 2, windowMs: 60_000 }, perAddress: { maxFailures: 100, windowMs: 60_000 } });

function flow(floor: FailureFloor, authenticate: () => Promise<AuthenticationResult>, connected = true) {
  // Every name designates no account: the throttle counts it as typed.
  const directory = { authenticate, resolveAccount: () => Promise.resolve(null) } as unknown as DirectoryConnector;
  return createSignInFlow({
    directory: () => (connected ? directory : null),
    passwordChange: 'active-directory',
    mappings: () => Promise.resolve({ ...defaultMappings }),
    throttle: throttle(),
    transaction: () => Promise.reject(new Error('no transaction expected')),
    audit,
    sessionDurationMs: () => 3_600_000,
    failureFloor: floor,
  });
}

const request = (username: string) => ({ username, password: 'Wrong-Password-1!', clientAddress: '192.0.2.7', userAgent: null });

void describe('the failure floor in the sign-in flow and the password change', () => {
  void it('sign-in: a wrong password is held with the controller that answered; the request object is the one begun', async () => {
    const floor = recordingFloor();
    const signIn = flow(floor, () => Promise.resolve({ outcome: 'invalidCredentials', subCode: '52e', controller: DC }));
    const r = request('alice@corp.example.test');
    const result = await signIn.signIn(r);
    assert.equal(result.ok, false);
    assert.deepEqual(
      floor.log.map((e) => [e.event, e.request === r, e.outcome]),
      [
        ['begin', true, undefined],
        ['hold', true, { code: 'auth.invalid_credentials', source: DC }],
      ],
    );
  });

  void it('sign-in: failures that reach no controller are held too (no source); throttled refusals are not held', async () => {
    const floor = recordingFloor();
    const signIn = flow(floor, () => Promise.resolve({ outcome: 'invalidCredentials', subCode: null, controller: null }));
    await signIn.signIn(request('x'));
    await signIn.signIn(request('x'));
    const throttled = await signIn.signIn(request('x'));
    assert.equal(throttled.ok ? null : throttled.code, 'auth.throttled');
    await flow(floor, () => Promise.reject(new Error('not called')), false).signIn(request('y'));
    const holds = floor.log.filter((e) => e.event === 'hold').map((e) => e.outcome);
    assert.deepEqual(holds, [
      { code: 'auth.invalid_credentials', source: null },
      { code: 'auth.invalid_credentials', source: null },
      // The floor itself lets throttled refusals through at once (test/auth/failure-floor.test.ts).
      { code: 'auth.throttled', source: undefined },
      { code: 'auth.directory_unavailable', source: undefined },
    ]);
  });

  void it('password change: failures are held with the engine as their source; a success is not held', async () => {
    const floor = recordingFloor();
    let ok = false;
    const change = createManagedPasswordChange({
      engine: { passwordModify: () => Promise.resolve({ result: ok ? { resultCode: ResultCode.success } : { resultCode: ResultCode.invalidCredentials, diagnosticMessage: '8009030C: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1' } }) },
      resolveAccount: () => Promise.resolve(null),
      throttle: throttle(),
      audit,
      failureFloor: floor,
    });
    const wrong = { username: 'alice@portico.test', oldPassword: 'Wrong-1!', newPassword: 'Newer-Password-2026!', clientAddress: '192.0.2.7' };
    assert.equal((await change.change(wrong)).ok, false);
    ok = true;
    const right = { ...wrong, oldPassword: 'Right-1!' };
    assert.equal((await change.change(right)).ok, true);
    assert.deepEqual(
      floor.log.map((e) => [e.event, e.request === wrong ? 'wrong' : 'right', e.outcome]),
      [
        ['begin', 'wrong', undefined],
        ['hold', 'wrong', { code: 'auth.invalid_credentials', source: 'managed-password-change' }],
        ['begin', 'right', undefined],
      ],
    );
  });
});
