/** The session service on a real SQLite session store. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { AuditLog } from '#src/audit/index.ts';
import {
  createSessionService,
  prepareSession,
  sessionCsrfToken,
  verifySessionCsrfToken,
  type SessionService,
  type UserStillAllowed,
} from '#src/sessions/index.ts';
import type { SessionStore } from '#src/sessions/session-store.ts';
import { createKyselyAuditLog, createKyselySessionStore } from '#src/storage/index.ts';
import { sqliteTarget, type TestDatabase } from '../contract/databases.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const GUID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';

let database: TestDatabase;
let store: SessionStore;
let audit: AuditLog;
const clock = { now: new Date('2026-04-01T08:00:00.000Z') };
let answer: (guid: string) => Promise<'allowed' | 'gone' | 'disabled' | 'unknown'>;
let asked = 0;

beforeEach(async () => {
  database = await sqliteTarget().open();
  store = createKyselySessionStore(database.db);
  audit = createKyselyAuditLog(database.db, { clock: () => clock.now });
  clock.now = new Date('2026-04-01T08:00:00.000Z');
  asked = 0;
  answer = () => Promise.resolve('allowed');
});
afterEach(() => database.dispose());

function service(): SessionService {
  const userStillAllowed: UserStillAllowed = (guid) => {
    asked += 1;
    return answer(guid);
  };
  return createSessionService({ store, audit, userStillAllowed, durationMs: 8 * HOUR, recheckMs: 5 * MINUTE, clock: () => clock.now });
}

async function signedIn(userGuid = GUID): Promise<string> {
  const prepared = prepareSession(
    { userId: 'u1', userGuid, data: { userName: 'alice@corp.test', displayName: 'Alice', groups: [], groupsTruncated: false, clientAddress: '192.0.2.1', userAgent: null } },
    clock.now,
    8 * HOUR,
  );
  await store.create(prepared.session, clock.now);
  return prepared.token;
}

const later = (ms: number): Date => new Date(clock.now.getTime() + ms);

void describe('session service', () => {
  void it('prepares a session: a random token, only its hash in the record, a fresh CSRF secret, the expiry', () => {
    const a = prepareSession({ userId: 'u', userGuid: GUID, data: { userName: 'a', displayName: null, groups: [], groupsTruncated: false, clientAddress: null, userAgent: null } }, clock.now, HOUR);
    const b = prepareSession({ userId: 'u', userGuid: GUID, data: { userName: 'a', displayName: null, groups: [], groupsTruncated: false, clientAddress: null, userAgent: null } }, clock.now, HOUR);
    assert.notEqual(a.token, b.token);
    assert.notEqual(a.session.data.csrfSecret, b.session.data.csrfSecret);
    assert.ok(!JSON.stringify(a.session).includes(a.token));
    assert.deepEqual(a.session.expiresAt, later(HOUR));
  });

  void it('authenticates a live token and refuses unknown, empty and oversized ones', async () => {
    const sessions = service();
    const token = await signedIn();
    assert.equal((await sessions.authenticate(token))?.session.userGuid, GUID);
    assert.equal(await sessions.authenticate('x'.repeat(43)), null);
    assert.equal(await sessions.authenticate(''), null);
    assert.equal(await sessions.authenticate('x'.repeat(10_000)), null);
  });

  void it('asks the directory once for concurrent requests on a stale session', async () => {
    const sessions = service();
    const token = await signedIn();
    let release: () => void = () => undefined;
    answer = () => new Promise((resolve) => (release = () => resolve('allowed')));
    clock.now = later(6 * MINUTE);
    const pending = Promise.all([sessions.authenticate(token), sessions.authenticate(token), sessions.authenticate(token)]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    const results = await pending;
    assert.equal(asked, 1);
    for (const result of results) assert.deepEqual(result?.session.checkedAt, clock.now);
  });

  void it("revokes every session of a user the directory no longer allows, and audits it once", async () => {
    const sessions = service();
    const first = await signedIn();
    const second = await signedIn();
    const other = await signedIn('11111111-2222-3333-4444-555555555555');
    answer = (guid) => Promise.resolve(guid === GUID ? 'disabled' : 'allowed');
    clock.now = later(6 * MINUTE);
    assert.equal(await sessions.authenticate(first), null);
    // The second session is already revoked, so the directory is not asked about it again.
    assert.equal(await sessions.authenticate(second), null);
    assert.equal(asked, 1);
    assert.ok(await sessions.authenticate(other));
    const events = await audit.list({ limit: 10, action: 'session.revoked' });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.actor, 'system');
    assert.equal(events[0]?.details.reason, 'user_disabled');
    assert.equal(events[0]?.details.sessions, 2);
  });

  void it('signs out one session only, once', async () => {
    const sessions = service();
    const token = await signedIn();
    const other = await signedIn();
    assert.equal(await sessions.signOut(token), true);
    assert.equal(await sessions.signOut(token), false);
    assert.equal(await sessions.signOut('unknown-token'), false);
    assert.equal(await sessions.authenticate(token), null);
    assert.ok(await sessions.authenticate(other));
    assert.equal((await audit.list({ limit: 10, action: 'session.signed_out' })).length, 1);
  });

  void it("lists a user's live sessions and revokes them for an administrator", async () => {
    const sessions = service();
    await signedIn();
    await signedIn();
    assert.equal((await sessions.listForUser(GUID)).length, 2);
    assert.equal(await sessions.revokeUser(GUID, 'admin'), 2);
    assert.deepEqual(await sessions.listForUser(GUID), []);
    assert.equal(await sessions.revokeUser(GUID, 'admin'), 0);
  });

  void it('tells its listener which sessions ended and why, and which one replaced another', async () => {
    const sessions = service();
    const told: string[] = [];
    sessions.listen({
      ended: (ids, reason) => Promise.resolve(void told.push(`${reason}:${ids.length}`)),
      replaced: (previousId, next) => Promise.resolve(void told.push(`replaced:${previousId !== next.id}`)),
    });
    const signedOut = await signedIn();
    await sessions.signOut(signedOut);
    await sessions.signOut(signedOut);
    const upgraded = await sessions.reauthenticate(await signedIn(), { amr: ['pwd', 'otp', 'mfa'], passwordAt: clock.now.toISOString(), mfaAt: clock.now.toISOString(), pending: null });
    assert.ok(upgraded);
    await signedIn();
    assert.equal(await sessions.revokeUser(GUID, 'admin'), 2);
    const disabled = await signedIn();
    await signedIn();
    answer = () => Promise.resolve('disabled');
    clock.now = later(6 * MINUTE);
    assert.equal(await sessions.authenticate(disabled), null);
    assert.deepEqual(told, ['signed_out:1', 'replaced:true', 'revoked:2', 'user_disabled:2']);
  });

  void it('derives per-session, per-purpose CSRF tokens for signed-in forms', async () => {
    const sessions = service();
    const a = (await sessions.authenticate(await signedIn()))?.session;
    const b = (await sessions.authenticate(await signedIn()))?.session;
    assert.ok(a && b);
    const token = sessionCsrfToken(a, 'sign-out');
    assert.equal(verifySessionCsrfToken(a, 'sign-out', token), true);
    assert.equal(verifySessionCsrfToken(b, 'sign-out', token), false);
    assert.equal(verifySessionCsrfToken(a, 'other-form', token), false);
    assert.equal(verifySessionCsrfToken(a, 'sign-out', undefined), false);
    assert.equal(verifySessionCsrfToken(a, 'sign-out', token.slice(1)), false);
  });
});
