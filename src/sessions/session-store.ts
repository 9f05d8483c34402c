/**
 * Portal sessions. The bearer token is given to the browser once; only its SHA-256 is stored, so
 * the database alone never yields a usable session.
 */

export interface SessionGroup {
  guid: string;
  /** `name@domain`. */
  qualifiedName: string;
}

export interface SessionData {
  userName: string;
  displayName: string | null;
  /** Transitive groups resolved at sign-in (the access evaluation reads them). */
  groups: SessionGroup[];
  groupsTruncated: boolean;
  /** Per-session secret the forms' CSRF tokens are derived from. */
  csrfSecret: string;
  clientAddress: string | null;
  userAgent: string | null;
  /** How the person authenticated (absent on sessions from before MFA: a password only). */
  authn?: SessionAuthentication;
}

/**
 * The authentication behind a session. `amr` holds RFC 8176 method references (`pwd`; with a
 * second factor also `otp`, `hwk`/`swk` and `mfa`). A session whose `pending` is set is not a
 * session yet: only the second-step pages accept it.
 */
export interface SessionAuthentication {
  amr: string[];
  /** When the password was checked (ISO-8601). */
  passwordAt: string;
  /** When the second factor was, or null. */
  mfaAt: string | null;
  pending: 'verify' | 'enrol' | null;
}

/** A session's methods; a session from before MFA existed is a password session. */
export function sessionAmr(session: Pick<Session, 'data'>): string[] {
  return session.data.authn?.amr ?? ['pwd'];
}

export interface Session {
  id: string;
  userId: string;
  userGuid: string;
  createdAt: Date;
  expiresAt: Date;
  /** When the directory last confirmed that the user exists and may sign in. */
  checkedAt: Date;
  revokedAt: Date | null;
  data: SessionData;
}

export interface NewSession {
  tokenHash: string;
  userId: string;
  userGuid: string;
  expiresAt: Date;
  data: SessionData;
}

export interface SessionStore {
  create(session: NewSession, at: Date): Promise<Session>;
  /** The session with this token hash, revoked and expired ones included (the caller decides). */
  findByTokenHash(tokenHash: string): Promise<Session | undefined>;
  markChecked(id: string, at: Date): Promise<void>;
  /** Revokes one session; false when it did not exist or was already revoked. */
  revoke(id: string, at: Date): Promise<boolean>;
  /** Revokes every live session of a user (by objectGUID); returns how many. */
  revokeForUser(userGuid: string, at: Date): Promise<number>;
  /** Revokes every live session (the identity source changed); returns how many. */
  revokeAll(at: Date): Promise<number>;
  /** Live (not revoked, not expired at `at`) sessions of a user, newest first. */
  listForUser(userGuid: string, at: Date): Promise<Session[]>;
  /** Deletes sessions that expired or were revoked before `before`; returns how many. */
  purge(before: Date): Promise<number>;
}
