/** Portal sessions: the store contract, the service, tokens and settings. */
export type { NewSession, Session, SessionAuthentication, SessionData, SessionGroup, SessionStore } from './session-store.ts';
export { sessionAmr } from './session-store.ts';
export { hashSessionToken, newSessionToken } from './tokens.ts';
export {
  createSessionService,
  prepareSession,
  sessionCsrfToken,
  verifySessionCsrfToken,
  type PreparedSession,
  type RevocationReason,
  type SessionService,
  type SessionServiceOptions,
  type UserStillAllowed,
} from './sessions.ts';
export {
  MAX_SESSION_MS,
  MIN_SESSION_MS,
  parseIsoDuration,
  sessionsOptionsSchema,
  sessionTimings,
  type SessionsOptions,
  type SessionTimings,
} from './options.ts';
