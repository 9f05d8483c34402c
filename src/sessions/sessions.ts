/**
 * The portal session service: turns a bearer token into a live session, keeps sessions honest
 * against the directory, and ends them.
 *
 * A session is re-checked against the directory when its `checkedAt` is older than the re-check
 * interval: a user deleted from AD, or disabled, locked or expired there, loses every session at
 * the next request after that interval. When the directory cannot answer ('unknown') the session
 * is kept and `checkedAt` is left alone, so the next request asks again. That is a deliberate
 * trade-off: an unreachable directory must not sign everyone out, at the price that a user
 * removed during an outage keeps access until the directory answers or the session expires.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '#src/audit/index.ts';
import type { NewSession, Session, SessionAuthentication, SessionData, SessionStore } from './session-store.ts';
import { hashSessionToken, newSessionToken } from './tokens.ts';

/** What the directory says about a signed-in user now (implemented over the identity source). */
export type UserStillAllowed = (userGuid: string) => Promise<'allowed' | 'gone' | 'disabled' | 'unknown'>;

export type RevocationReason = 'user_gone' | 'user_disabled' | 'revoked';

/**
 * Told when sessions end or one is replaced by another (a factor added), so that what hangs on
 * a session elsewhere (the OpenID provider's sessions and their back-channel logout) follows.
 * Awaited; a listener must not throw.
 */
export interface SessionEndingListener {
  ended(sessionIds: readonly string[], reason: RevocationReason | 'signed_out'): Promise<void>;
  replaced(previousId: string, next: { id: string; expiresAt: Date }): Promise<void>;
}

export interface SessionServiceOptions {
  store: SessionStore;
  audit: AuditLog;
  userStillAllowed: UserStillAllowed;
  /** Session lifetime from sign-in. */
  durationMs: number;
  /** How old `checkedAt` may get before the directory is asked again. */
  recheckMs: number;
  clock?: () => Date;
  /** pino's Logger fits; only warnings are written (a directory that cannot answer a re-check). */
  log?: { warn(details: Record<string, unknown>, message: string): void };
  /** Called after sessions end; may be bound after creation (`listen`). */
  endings?: SessionEndingListener;
}

export interface SessionService {
  readonly durationMs: number;
  /**
   * The live session of this token, or null: unknown, expired, revoked, or revoked now by the
   * re-check. A session still owing its second factor counts only with `includePending`.
   */
  authenticate(token: string, now?: Date, options?: { includePending?: boolean }): Promise<{ session: Session } | null>;
  /**
   * Replaces a live session by a new one (new token, new CSRF secret, same expiry) carrying
   * `authn`, and revokes the old one: a session that gains a factor gets a new identifier.
   */
  reauthenticate(token: string, authn: SessionAuthentication): Promise<{ token: string; session: Session } | null>;
  /** Revokes the token's session; false when there was no live one. Audited as `session.signed_out`. */
  signOut(token: string): Promise<boolean>;
  /** Revokes every live session of a user; audited as `session.revoked` by `actor`. Returns how many. */
  revokeUser(userGuid: string, actor: string): Promise<number>;
  /** Live sessions of a user, newest first. */
  listForUser(userGuid: string): Promise<Session[]>;
  /** Deletes sessions that ended (expired or revoked) before `before`. */
  purgeEnded(before: Date): Promise<number>;
  /** Sets who is told when sessions end (the OpenID provider exists only after the session service). */
  listen(endings: SessionEndingListener): void;
}

// Longer than any token newSessionToken() makes; anything longer is not worth hashing.
const MAX_TOKEN_LENGTH = 128;

export function createSessionService(options: SessionServiceOptions): SessionService {
  const { store, audit, userStillAllowed, durationMs, recheckMs, clock = () => new Date(), log } = options;
  let endings = options.endings;
  const liveIdsOf = async (userGuid: string, now: Date) => (endings === undefined ? [] : (await store.listForUser(userGuid, now)).map((session) => session.id));
  // One directory round trip per session at a time, however many requests arrive together.
  const rechecks = new Map<string, Promise<Session | null>>();

  async function recheck(session: Session, now: Date): Promise<Session | null> {
    let verdict: Awaited<ReturnType<UserStillAllowed>>;
    try {
      verdict = await userStillAllowed(session.userGuid);
    } catch (error) {
      log?.warn({ userGuid: session.userGuid, err: error }, 'session re-check failed; keeping the session');
      verdict = 'unknown';
    }
    switch (verdict) {
      case 'allowed':
        await store.markChecked(session.id, now);
        return { ...session, checkedAt: now };
      case 'unknown':
        log?.warn({ userGuid: session.userGuid }, 'directory could not confirm a signed-in user; keeping the session until it answers');
        return session;
      case 'gone':
      case 'disabled': {
        const reason: RevocationReason = verdict === 'gone' ? 'user_gone' : 'user_disabled';
        // Every session of the user: the verdict is about the user, not this one session.
        const ids = await liveIdsOf(session.userGuid, now);
        const revoked = await store.revokeForUser(session.userGuid, now);
        await endings?.ended(ids.includes(session.id) ? ids : [...ids, session.id], reason);
        await audit.record({
          actor: 'system',
          action: 'session.revoked',
          target: session.userGuid,
          outcome: 'success',
          details: { reason, sessionId: session.id, userName: session.data.userName, sessions: revoked },
        });
        return null;
      }
    }
  }

  async function findLive(token: string, now: Date): Promise<Session | null> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
    const session = await store.findByTokenHash(hashSessionToken(token));
    if (session === undefined || session.revokedAt !== null || session.expiresAt.getTime() <= now.getTime()) return null;
    return session;
  }

  return {
    durationMs,

    async authenticate(token, now = clock(), { includePending = false } = {}) {
      const session = await findLive(token, now);
      if (session === null) return null;
      if (!includePending && (session.data.authn?.pending ?? null) !== null) return null;
      if (now.getTime() - session.checkedAt.getTime() < recheckMs) return { session };
      let pending = rechecks.get(session.id);
      if (pending === undefined) {
        pending = recheck(session, now).finally(() => rechecks.delete(session.id));
        rechecks.set(session.id, pending);
      }
      const checked = await pending;
      return checked === null ? null : { session: checked };
    },

    async reauthenticate(token, authn) {
      const now = clock();
      const session = await findLive(token, now);
      if (session === null) return null;
      const { token: newToken, tokenHash } = newSessionToken();
      const created = await store.create(
        { tokenHash, userId: session.userId, userGuid: session.userGuid, expiresAt: session.expiresAt, data: { ...session.data, csrfSecret: randomBytes(32).toString('base64url'), authn } },
        now,
      );
      await store.revoke(session.id, now);
      await endings?.replaced(session.id, created);
      return { token: newToken, session: created };
    },

    async signOut(token) {
      const now = clock();
      const session = await findLive(token, now);
      if (session === null) return false;
      const revoked = await store.revoke(session.id, now);
      if (revoked) {
        await endings?.ended([session.id], 'signed_out');
        await audit.record({ actor: session.userGuid, action: 'session.signed_out', target: session.userGuid, outcome: 'success', details: { sessionId: session.id } });
      }
      return revoked;
    },

    async revokeUser(userGuid, actor) {
      const now = clock();
      const ids = await liveIdsOf(userGuid, now);
      const revoked = await store.revokeForUser(userGuid, now);
      await endings?.ended(ids, 'revoked');
      await audit.record({ actor, action: 'session.revoked', target: userGuid, outcome: 'success', details: { reason: 'revoked' satisfies RevocationReason, sessions: revoked } });
      return revoked;
    },

    listForUser: (userGuid) => store.listForUser(userGuid, clock()),

    purgeEnded: (before) => store.purge(before),

    listen(listener) {
      endings = listener;
    },
  };
}

export interface PreparedSession {
  /** Given to the browser once (the cookie); never stored. */
  token: string;
  session: NewSession;
}

/**
 * A new session's token and record, ready for `SessionStore.create` (sign-in calls it inside its
 * transaction). The CSRF secret is fresh per session.
 */
export function prepareSession(
  input: { userId: string; userGuid: string; data: Omit<SessionData, 'csrfSecret'> },
  now: Date,
  durationMs: number,
): PreparedSession {
  const { token, tokenHash } = newSessionToken();
  return {
    token,
    session: {
      tokenHash,
      userId: input.userId,
      userGuid: input.userGuid,
      expiresAt: new Date(now.getTime() + durationMs),
      data: { ...input.data, csrfSecret: randomBytes(32).toString('base64url') },
    },
  };
}

/** The CSRF token of a signed-in form (`purpose` such as 'sign-out'), derived from the session's secret. */
export function sessionCsrfToken(session: Session, purpose: string): string {
  return createHmac('sha256', session.data.csrfSecret).update(`portico-session-form:${purpose}`).digest('base64url');
}

export function verifySessionCsrfToken(session: Session, purpose: string, token: unknown): boolean {
  if (typeof token !== 'string') return false;
  const expected = Buffer.from(sessionCsrfToken(session, purpose));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
