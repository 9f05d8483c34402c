/**
 * Unit tests of the sign-in flow's own logic (issue 14 item 6) with a fake directory and the real
 * throttle on its in-memory store, recording every call in order. Before these, dropping
 * `recordSuccess` or the account-state gate from the flow survived every test but the slow
 * end-to-end ones. Covered: the throttle is consulted before the bind and a refused attempt is
 * never bound; a success clears the account's failures; an account the attributes report
 * disabled or locked is refused even though its bind succeeded; every admitted attempt is
 * settled (failure, success) or released, whatever the outcome.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent, AuditEventInput, AuditLog } from '#src/audit/index.ts';
import type { AccountState } from '#src/directory/ad-codec.ts';
import type { AuthenticationResult, DirectoryConnector, DirectoryUser, ResolvedAccount } from '#src/directory/types.ts';
import { defaultMappings } from '#src/identity-store/mappings.ts';
import type { ProvisionedUser } from '#src/identity-store/user.ts';
import type { NewSession, Session } from '#src/sessions/session-store.ts';
import { AppError } from '#src/shared/errors.ts';
import { createSignInFlow, type SignInTransaction } from './sign-in-flow.ts';
import { accountSubject, createSignInThrottle, type SignInThrottle } from './throttle.ts';

const GUID = '0a1b2c3d-0000-4000-8000-000000000001';
const PASSWORD = 'Right-Password-2026!';
const ADDRESS = '192.0.2.7';
/** The fake directory fails the bind with an unreachable DC for this password. */
const UNREACHABLE = 'Unreachable-DC-1!';
/** The account's own limit is threshold − 1 = 2 failures. */
const account: ResolvedAccount = {
  guid: GUID,
  dn: 'CN=Alice,CN=Users,DC=corp,DC=example,DC=test',
  samAccountName: 'alice',
  userPrincipalName: 'alice@corp.example.test',
  domain: 'corp.example.test',
  lockoutThreshold: 3,
  serviceAccount: false,
};

function directoryUser(state: AccountState): DirectoryUser {
  return {
    guid: GUID,
    sid: 'S-1-5-21-1-2-3-1104',
    dn: account.dn,
    samAccountName: 'alice',
    userPrincipalName: 'alice@corp.example.test',
    displayName: 'Alice Example',
    givenName: 'Alice',
    surname: 'Example',
    mail: 'alice@corp.example.test',
    netbiosName: 'CORP',
    domain: 'corp.example.test',
    primaryGroupId: 513,
    account: { state, conditions: state === 'ok' ? [] : [state], accountExpires: null, passwordLastSet: null, lockedOutAt: null },
    attributes: { mail: ['alice@corp.example.test'], displayName: ['Alice Example'], givenName: ['Alice'], sn: ['Example'] },
  };
}

type Call = { call: string; subject?: string; allowed?: boolean };

/** Everything the flow touched, in order, with the real throttle behind the recording. */
function harness(options: { state?: AccountState } = {}) {
  const calls: Call[] = [];
  const real = createSignInThrottle({ perUsername: { maxFailures: 5, windowMs: 60_000 }, perAddress: { maxFailures: 100, windowMs: 60_000 }, attemptHoldMs: 60_000 });
  const throttle: SignInThrottle = {
    async check(subject, address, now, maxFailures) {
      const decision = await real.check(subject, address, now, maxFailures);
      calls.push({ call: 'throttle.check', subject, allowed: decision.allowed });
      return decision;
    },
    async recordFailure(subject, address, now, details) {
      calls.push({ call: 'throttle.recordFailure', subject });
      await real.recordFailure(subject, address, now, details);
    },
    async recordSuccess(subject, address) {
      calls.push({ call: 'throttle.recordSuccess', subject });
      await real.recordSuccess(subject, address);
    },
    async release(subject, now) {
      calls.push({ call: 'throttle.release', subject });
      await real.release(subject, now);
    },
  };
  const directory = {
    resolveAccount: () => {
      calls.push({ call: 'directory.resolveAccount' });
      return Promise.resolve(account);
    },
    authenticate: (_name: string, password: string): Promise<AuthenticationResult> => {
      calls.push({ call: 'directory.authenticate' });
      if (password === UNREACHABLE) return Promise.reject(new AppError('directory.unreachable', 'no domain controller answered'));
      if (password !== PASSWORD) return Promise.resolve({ outcome: 'invalidCredentials', subCode: '52e', controller: 'fake-dc', guid: GUID });
      return Promise.resolve({ outcome: 'ok', user: directoryUser(options.state ?? 'ok'), controller: 'fake-dc' });
    },
    groupsOf: () => {
      calls.push({ call: 'directory.groupsOf' });
      return Promise.resolve({ method: 'chain' as const, groups: [], truncated: false, warnings: [] });
    },
  } as unknown as DirectoryConnector;

  const events: AuditEventInput[] = [];
  const audit: AuditLog = {
    record: (event: AuditEventInput) => {
      events.push(event);
      return Promise.resolve({ ...event, id: events.length, at: new Date() } as unknown as AuditEvent);
    },
    list: () => Promise.resolve([]),
  };
  const tx: SignInTransaction = {
    users: {
      upsert: (user: ProvisionedUser, at: Date) => {
        calls.push({ call: 'store.upsert' });
        const stored = { ...user, userId: 'u-1', createdAt: at, provisionedAt: at };
        return Promise.resolve({ user: stored, change: 'created' as const, before: null });
      },
    } as unknown as SignInTransaction['users'],
    sessions: {
      create: (session: NewSession, at: Date): Promise<Session> => {
        calls.push({ call: 'sessions.create' });
        return Promise.resolve({ ...session, id: 's-1', createdAt: at, checkedAt: at, revokedAt: null });
      },
    } as unknown as SignInTransaction['sessions'],
    audit,
  };
  const flow = createSignInFlow({
    directory: () => directory,
    passwordChange: 'active-directory',
    mappings: () => Promise.resolve({ ...defaultMappings }),
    throttle,
    transaction: (work) => work(tx),
    audit,
    sessionDurationMs: () => 3_600_000,
  });
  const signIn = (password: string, username = 'alice@corp.example.test') => flow.signIn({ username, password, clientAddress: ADDRESS, userAgent: null });
  return { calls, events, signIn, names: () => calls.map((c) => c.call) };
}

/** Each admitted check is followed, before the next check, by exactly one settle or release of its subject. */
function assertEveryAdmittedAttemptSettled(calls: Call[]): void {
  let open: string | null = null;
  for (const c of calls) {
    if (c.call === 'throttle.check') {
      assert.equal(open, null, `an admitted attempt for ${open} was neither settled nor released before the next one`);
      if (c.allowed) open = c.subject ?? null;
    } else if (c.call === 'throttle.recordFailure' || c.call === 'throttle.recordSuccess' || c.call === 'throttle.release') {
      assert.equal(c.subject, open, `${c.call} of ${c.subject} without an open attempt for it`);
      open = null;
    }
  }
  assert.equal(open, null, `the last admitted attempt (${open}) was neither settled nor released`);
}

describe('sign-in flow (unit, fake directory)', () => {
  it('consults the throttle before the bind, and never binds an attempt the throttle refuses', async () => {
    const h = harness();
    for (let i = 0; i < 2; i += 1) assert.equal(((await h.signIn('Wrong-1!')) as { code?: string }).code, 'auth.invalid_credentials');
    const refused = await h.signIn(PASSWORD);
    assert.equal(refused.ok ? null : refused.code, 'auth.throttled');
    assert.deepEqual(h.names(), [
      'directory.resolveAccount', 'throttle.check', 'directory.authenticate', 'throttle.recordFailure',
      'directory.resolveAccount', 'throttle.check', 'directory.authenticate', 'throttle.recordFailure',
      // The third attempt (right password) is refused before any bind: the account's limit is 2.
      'directory.resolveAccount', 'throttle.check',
    ]);
    assert.equal(h.calls[1]?.subject, accountSubject(GUID));
    assertEveryAdmittedAttemptSettled(h.calls);
  });

  it('a success clears the account\'s failures (recordSuccess): the next wrong passwords start from zero', async () => {
    const h = harness();
    assert.equal((await h.signIn('Wrong-1!')).ok, false);
    const ok = await h.signIn(PASSWORD);
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.ok(h.calls.some((c) => c.call === 'throttle.recordSuccess' && c.subject === accountSubject(GUID)));
    // Without the clearing, this failure would be the second and the right password below refused.
    assert.equal((await h.signIn('Wrong-2!')).ok, false);
    const again = await h.signIn(PASSWORD);
    assert.equal(again.ok, true, JSON.stringify(again));
    assertEveryAdmittedAttemptSettled(h.calls);
  });

  it('the whole walk of a success: resolve → throttle → bind → settle → groups → record → session', async () => {
    const h = harness();
    const result = await h.signIn(PASSWORD);
    assert.equal(result.ok, true);
    assert.deepEqual(h.names(), ['directory.resolveAccount', 'throttle.check', 'directory.authenticate', 'throttle.recordSuccess', 'directory.groupsOf', 'store.upsert', 'sessions.create']);
    assert.deepEqual(
      h.events.map((e) => [e.action, e.outcome]),
      [
        ['identity.user.provisioned', 'success'],
        ['auth.user.signed_in', 'success'],
      ],
    );
  });

  for (const [state, code] of [
    ['disabled', 'auth.account_disabled'],
    ['locked', 'auth.account_locked'],
  ] as const) {
    it(`refuses an account the attributes report ${state} although its bind succeeded; no record, no session`, async () => {
      const h = harness({ state });
      const result = await h.signIn(PASSWORD);
      assert.equal(result.ok ? null : result.code, code);
      assert.ok(!h.names().includes('store.upsert') && !h.names().includes('sessions.create') && !h.names().includes('directory.groupsOf'), h.names().join(', '));
      assert.deepEqual(
        h.events.map((e) => [e.action, e.outcome, e.errorCode]),
        [['auth.user.signed_in', 'failure', code]],
      );
      // Not a success for the throttle, and not a wrong password either: the slot is released.
      assert.ok(!h.names().includes('throttle.recordSuccess'));
      assert.ok(h.names().includes('throttle.release'));
      assertEveryAdmittedAttemptSettled(h.calls);
    });
  }

  it('every admitted attempt is settled or released, across failures, successes, refusals and directory errors', async () => {
    const h = harness();
    await h.signIn('Wrong-1!');
    await h.signIn(PASSWORD);
    const unavailable = await h.signIn(UNREACHABLE);
    assert.equal(unavailable.ok ? null : unavailable.code, 'auth.directory_unavailable');
    await h.signIn('Wrong-2!');
    await h.signIn('Wrong-3!');
    await h.signIn(PASSWORD); // throttled: never admitted
    assertEveryAdmittedAttemptSettled(h.calls);
    assert.equal(h.calls.filter((c) => c.call === 'throttle.check' && c.allowed).length, 5);
    assert.equal(h.calls.filter((c) => c.call === 'throttle.release').length, 1);
  });
});
