/**
 * The portal session on a request, read one way for every HTTP face (sign-in, portal, the
 * person's own access, the admin API): the `portico_session` cookie, looked up once per request
 * in the session service. A face that can answer with a cookie (sign-in) passes its reply so a
 * stale cookie is cleared; the others only read.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Session } from '#src/sessions/session-store.ts';
import type { SessionService } from '#src/sessions/sessions.ts';
import { parseCookies, serializeCookie } from './cookies.ts';

export const SESSION_COOKIE = 'portico_session';

export interface CurrentSession {
  session: Session;
  /** The cookie's token: signing out needs it. */
  token: string;
}

export interface SessionReaderOptions {
  sessions: Pick<SessionService, 'authenticate'>;
  /** As for the sign-in routes: 'always' when Portico's public address is HTTPS; decides the Secure flag of a clearing cookie. */
  cookieSecurity?: 'auto' | 'always';
  clock?: () => Date;
}

export interface SessionReader {
  /** The request's live session, or null; with `reply`, a cookie naming no live session is cleared. */
  current(request: FastifyRequest, reply?: FastifyReply): Promise<CurrentSession | null>;
}

/** Whether cookies set on this request get the Secure flag. */
export function secureCookies(request: FastifyRequest, cookieSecurity: 'auto' | 'always' = 'auto'): boolean {
  return cookieSecurity === 'always' || request.protocol.toLowerCase() === 'https';
}

/**
 * Adds a Set-Cookie value to those the reply already carries. Fastify's `header('set-cookie', …)`
 * appends by itself: passing the existing list back would repeat every earlier cookie.
 */
export function appendSetCookie(reply: FastifyReply, value: string): void {
  reply.header('set-cookie', value);
}

export function createSessionReader({ sessions, cookieSecurity = 'auto', clock = () => new Date() }: SessionReaderOptions): SessionReader {
  // One lookup per request however many times a handler (and its hooks) ask.
  const seen = new WeakMap<FastifyRequest, ReturnType<typeof lookup>>();

  /** The live session; `owesSecondStep` when the cookie names a session still waiting for its second factor (kept, not cleared). */
  async function lookup(request: FastifyRequest): Promise<{ current: CurrentSession | null; owesSecondStep: boolean }> {
    const token = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (token === undefined || token === '') return { current: null, owesSecondStep: false };
    const found = await sessions.authenticate(token, clock(), { includePending: true });
    if (found === null) return { current: null, owesSecondStep: false };
    if ((found.session.data.authn?.pending ?? null) !== null) return { current: null, owesSecondStep: true };
    return { current: { session: found.session, token }, owesSecondStep: false };
  }

  return {
    async current(request, reply) {
      let pending = seen.get(request);
      if (pending === undefined) {
        pending = lookup(request);
        seen.set(request, pending);
      }
      const { current: found, owesSecondStep } = await pending;
      if (found === null && !owesSecondStep && reply !== undefined) {
        const token = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
        if (token !== undefined && token !== '') appendSetCookie(reply, serializeCookie(SESSION_COOKIE, '', { maxAge: 0, secure: secureCookies(request, cookieSecurity) }));
      }
      return found;
    },
  };
}
