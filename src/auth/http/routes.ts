/**
 * The HTTP face of sign-in: the server-rendered page, the JSON API, sign-out, a minimal
 * signed-in start page (the portal proper comes later), and the password page (password-routes.ts).
 *
 * CSRF:
 * - The sign-in and password forms carry a signed double-submit token (see csrf.ts).
 * - Signed-in forms (sign-out) carry a token derived from the session's own CSRF secret.
 * - POSTs under /api require `Content-Type: application/json`. Browsers cannot send that type
 *   cross-site without a CORS preflight, which Portico never answers, so a foreign page cannot
 *   make them; anything else is refused with 415 before the body is looked at.
 * - Both cookies are SameSite=Lax besides, so browsers do not attach them to cross-site POSTs.
 *
 * Passwords never leave the handler that receives them: they are not rendered back, not logged
 * (no body is logged here), and not part of any error.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SignInFailureCode, SignInResult, SignInService } from '#src/auth/sign-in.ts';
import type { PasswordChangeService } from '#src/auth/password-change.ts';
import type { Session } from '#src/sessions/session-store.ts';
import { sessionCsrfToken, verifySessionCsrfToken, type SessionService } from '#src/sessions/sessions.ts';
import {
  appendSetCookie,
  createSessionReader,
  mediaType,
  parseCookies,
  secureCookies,
  sendPage,
  serializeCookie,
  SESSION_COOKIE,
  useBodyPolicy,
  useErrorRenderer,
  useSecurityHeaders,
  type CurrentSession,
  type FormFields,
} from '#src/platform/http/index.ts';
import { AppError } from '#src/shared/errors.ts';
import { CSRF_COOKIE, createSignInCsrf } from './csrf.ts';
import { PAGE_CSP, renderMessagePage, renderSignedInPage, renderSignInPage } from './pages.ts';
import { CHANGE_PASSWORD_PATH, passwordRoutes } from './password-routes.ts';
import { safeReturnTo } from './return-to.ts';

export { SESSION_COOKIE };
/** The remembered-device cookie of context-aware MFA (src/mfa/remembered-device.ts), handed to the MFA gate. */
const REMEMBER_DEVICE_COOKIE = 'portico_mfa_remember';
/** Where a sign-in that owes a second step goes on (src/mfa/http/routes.ts). */
const SECOND_STEP_PATHS = { verify: '/mfa', enrol: '/mfa/enrol' } as const;
/** Largest form or JSON body these routes accept: a user name and a password, with room to spare. */
export const BODY_LIMIT = 16 * 1024;
const MAX_FIELD = 1024;
const MAX_USER_AGENT = 512;

export interface SignInRoutesDeps {
  signIn: SignInService;
  sessions: SessionService;
  /**
   * 'always': every cookie is Secure (Portico's public address is HTTPS). 'auto' (default):
   * Secure when the request came over TLS, directly or through a trusted proxy saying
   * X-Forwarded-Proto: https. See cookieSecurity() in transport.ts.
   */
  cookieSecurity?: 'auto' | 'always';
  /** HMAC key of the sign-in form's CSRF tokens (≥ 32 bytes); random per process when absent, so forms open across a restart fail once. */
  csrfKey?: Uint8Array;
  /**
   * Changing one's own password (the managed directory): registers the password page and API,
   * and the sign-in page links to it for expired and must-change passwords. Absent (a connected
   * AD): /change-password only says to change it in Active Directory.
   */
  passwordChange?: PasswordChangeService | null;
  /** Where `/` sends a browser (the portal); without it, `/` is a minimal signed-in page. */
  home?: string;
  /**
   * Finishes what the sign-in was for in the same response (e.g. the SAML POST page of a pending
   * request) instead of redirecting to `returnTo`: true when it answered, false to redirect as
   * usual. It sets its own Content-Security-Policy when its page needs another one. (Not the reply
   * itself: a FastifyReply is a thenable, so awaiting it waits for the response to finish and
   * yields undefined.)
   */
  afterSignIn?: (returnTo: string, session: Session, reply: FastifyReply) => Promise<boolean>;
  clock?: () => Date;
}

const failureStatus: Record<SignInFailureCode, number> = {
  'auth.invalid_credentials': 401,
  'auth.account_disabled': 401,
  'auth.account_locked': 401,
  'auth.account_expired': 401,
  'auth.password_expired': 401,
  'auth.password_must_change': 401,
  'auth.not_permitted': 401,
  'auth.throttled': 429,
  'auth.directory_unavailable': 503,
  // Only an administrator can fix it (the directory failed validation at start).
  'auth.directory_refused': 503,
  'directory.trust_unavailable': 503,
  // The password was right, but Portico cannot provision the user: only an administrator can fix it.
  'identity.mapping_value_missing': 403,
  'identity.email_conflict': 403,
  'auth.invalid_request': 400,
  'mfa.blocked': 403,
  'mfa.unavailable': 503,
};

const apiSignInBody = z.object({
  username: z.string({ error: 'username: required, a string' }).trim().min(1, 'username: required').max(MAX_FIELD, `username: at most ${MAX_FIELD} characters`),
  password: z.string({ error: 'password: required, a string' }).min(1, 'password: required').max(MAX_FIELD, `password: at most ${MAX_FIELD} characters`),
});

type Form = FormFields;

/** Registers the routes in an encapsulated scope (their body parsers, headers and error handling stay theirs). */
export async function registerSignInRoutes(http: FastifyInstance, deps: SignInRoutesDeps): Promise<void> {
  await http.register((scope, _options, done) => {
    signInRoutes(scope, deps);
    done();
  });
}

function signInRoutes(scope: FastifyInstance, deps: SignInRoutesDeps): void {
  const { signIn, sessions, cookieSecurity = 'auto', passwordChange = null, clock = () => new Date() } = deps;
  const csrf = createSignInCsrf(deps.csrfKey ?? randomBytes(32));

  const reader = createSessionReader({ sessions, cookieSecurity, clock });

  useBodyPolicy(scope, { form: { limit: BODY_LIMIT }, json: { limit: BODY_LIMIT, invalidCode: 'auth.invalid_request' } });
  useSecurityHeaders(scope, { csp: PAGE_CSP, page: true });
  useErrorRenderer(scope, {
    name: 'sign-in route',
    // Fastify's own client errors (body too large, unsupported type, bad URL): our words, not theirs.
    clientError: (status) => ({
      code: 'auth.invalid_request',
      message: status === 413 ? `the request body is larger than ${BODY_LIMIT} bytes` : status === 415 ? 'unsupported content type' : 'the request is malformed',
    }),
    isApi,
    page: (reply, { status, message }) =>
      sendPage(reply, status, renderMessagePage({ title: status >= 500 ? 'Something went wrong' : 'Request refused', message, link: { href: '/sign-in', text: 'Back to sign-in' } })),
  });

  const secure = (request: FastifyRequest): boolean => secureCookies(request, cookieSecurity);
  const setCookie = appendSetCookie;

  function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string, session: Session): void {
    const maxAge = (session.expiresAt.getTime() - clock().getTime()) / 1000;
    setCookie(reply, serializeCookie(SESSION_COOKIE, token, { maxAge, secure: secure(request) }));
  }

  function clearCookie(request: FastifyRequest, reply: FastifyReply, name: string): void {
    setCookie(reply, serializeCookie(name, '', { maxAge: 0, secure: secure(request) }));
  }

  /** The request's live session, and its token; clears a stale session cookie. */
  const currentSession = (request: FastifyRequest, reply: FastifyReply): Promise<CurrentSession | null> => reader.current(request, reply);

  /** A form's CSRF field: bound to the browser's cookie when it has a valid one, else to a new one set now. */
  function csrfField(request: FastifyRequest, reply: FastifyReply, fresh = false): string {
    let cookieValue = fresh ? undefined : parseCookies(request.headers.cookie).get(CSRF_COOKIE);
    if (!csrf.isCookieValue(cookieValue)) {
      cookieValue = csrf.newCookieValue();
      setCookie(reply, serializeCookie(CSRF_COOKIE, cookieValue, { secure: secure(request) }));
    }
    return csrf.fieldFor(cookieValue);
  }

  /** The sign-in page with a CSRF pair: the browser's cookie when it has a valid one, else a new one. */
  function sendSignInPage(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    model: { returnTo: string; username: string; error: string | null; changePasswordHref?: string | null; force?: boolean },
    freshCsrf = false,
  ): FastifyReply {
    return sendPage(reply, status, renderSignInPage({ ...model, csrfField: csrfField(request, reply, freshCsrf) }));
  }

  function signInRequest(request: FastifyRequest, username: string, password: string, force = false) {
    const userAgent = request.headers['user-agent'];
    const rememberedDevice = parseCookies(request.headers.cookie).get(REMEMBER_DEVICE_COOKIE);
    return { username, password, clientAddress: request.ip, userAgent: userAgent === undefined ? null : userAgent.slice(0, MAX_USER_AGENT), rememberedDevice, force };
  }

  function failureHeaders(reply: FastifyReply, result: Extract<SignInResult, { ok: false }>): number {
    const status = failureStatus[result.code];
    if (status === 429 || status === 503) {
      if (result.retryAfterSeconds !== null) reply.header('retry-after', String(Math.max(1, Math.ceil(result.retryAfterSeconds))));
    }
    return status;
  }

  scope.get('/sign-in', async (request, reply) => {
    const returnTo = safeReturnTo(queryParam(request, 'returnTo'));
    // prompt=login: the password again even with a session (a service provider's ForceAuthn).
    if (queryParam(request, 'prompt') !== 'login' && (await currentSession(request, reply)) !== null) return reply.redirect(returnTo, 303);
    return sendSignInPage(request, reply, 200, { returnTo, username: '', error: null, force: queryParam(request, 'prompt') === 'login' });
  });

  scope.post('/sign-in', async (request, reply) => {
    const form = formBody(request);
    const returnTo = safeReturnTo(form.returnTo);
    const verdict = csrf.verify(parseCookies(request.headers.cookie).get(CSRF_COOKIE), form.csrf);
    if (verdict !== 'ok') {
      request.log.info({ csrf: verdict }, 'sign-in form refused: CSRF token');
      const error =
        verdict === 'missing' && parseCookies(request.headers.cookie).get(CSRF_COOKIE) === undefined
          ? 'Your browser did not send the sign-in cookie. Allow cookies for this site, then sign in again.'
          : 'This sign-in form expired or did not come from this site. Please sign in again.';
      return sendSignInPage(request, reply, 403, { returnTo, username: '', error }, true);
    }
    const username = (form.username ?? '').trim();
    const password = form.password ?? '';
    if (username === '' || password === '' || username.length > MAX_FIELD || password.length > MAX_FIELD) {
      return sendSignInPage(request, reply, 400, { returnTo, username: username.slice(0, MAX_FIELD), error: 'Enter your user name and your password.' });
    }
    const force = form.prompt === 'login';
    const result = await signIn.signIn(signInRequest(request, username, password, force));
    if (!result.ok) {
      const status = failureHeaders(reply, result);
      const changePasswordHref =
        passwordChange !== null && (result.code === 'auth.password_expired' || result.code === 'auth.password_must_change')
          ? `${CHANGE_PASSWORD_PATH}?${new URLSearchParams({ username }).toString()}`
          : null;
      return sendSignInPage(request, reply, status, { returnTo, username, error: result.message, changePasswordHref, force });
    }
    setSessionCookie(request, reply, result.token, result.session);
    // The pre-session CSRF cookie has done its job.
    clearCookie(request, reply, CSRF_COOKIE);
    if (result.secondStep) return reply.redirect(`${SECOND_STEP_PATHS[result.secondStep]}?${new URLSearchParams({ returnTo }).toString()}`, 303);
    if ((await deps.afterSignIn?.(returnTo, result.session, reply)) === true) return reply;
    return reply.redirect(returnTo, 303);
  });

  scope.post('/api/sign-in', async (request, reply) => {
    requireJson(request);
    const parsed = apiSignInBody.safeParse(request.body);
    if (!parsed.success) {
      const message = parsed.error.issues.map((issue) => issue.message).join('; ');
      throw new AppError('auth.invalid_request', request.body === undefined ? 'the body must be a JSON object with username and password' : message, { status: 400 });
    }
    const result = await signIn.signIn(signInRequest(request, parsed.data.username, parsed.data.password));
    if (!result.ok) {
      const status = failureHeaders(reply, result);
      const error = { code: result.code, message: result.message, ...(result.retryAfterSeconds === null ? {} : { retryAfterSeconds: result.retryAfterSeconds }) };
      return reply.status(status).send({ error });
    }
    setSessionCookie(request, reply, result.token, result.session);
    return reply.send({
      ...(result.secondStep ? { secondStep: result.secondStep, next: SECOND_STEP_PATHS[result.secondStep] } : {}),
      userId: result.user.userId,
      userName: result.user.userName,
      displayName: result.user.displayName,
      expiresAt: result.session.expiresAt.toISOString(),
    });
  });

  scope.get('/api/session', async (request, reply) => {
    const current = await currentSession(request, reply);
    if (current === null) throw new AppError('auth.session_invalid', 'not signed in, or the session ended', { status: 401 });
    const { session } = current;
    return reply.send({
      userId: session.userId,
      userName: session.data.userName,
      displayName: session.data.displayName,
      groups: session.data.groups,
      groupsTruncated: session.data.groupsTruncated,
      expiresAt: session.expiresAt.toISOString(),
    });
  });

  scope.post('/sign-out', async (request, reply) => {
    const current = await currentSession(request, reply);
    if (current !== null) {
      if (!verifySessionCsrfToken(current.session, 'sign-out', formBody(request).csrf)) {
        return sendPage(reply, 403, renderMessagePage({ title: 'Sign-out refused', message: 'This sign-out form expired or did not come from this site.', link: { href: '/', text: 'Back' } }));
      }
      await sessions.signOut(current.token);
    }
    clearCookie(request, reply, SESSION_COOKIE);
    return reply.redirect('/sign-in', 303);
  });

  scope.post('/api/sign-out', async (request, reply) => {
    requireJson(request);
    const current = await currentSession(request, reply);
    if (current !== null) await sessions.signOut(current.token);
    clearCookie(request, reply, SESSION_COOKIE);
    return reply.status(204).send();
  });

  scope.get('/', async (request, reply) => {
    if (deps.home !== undefined) return reply.redirect(deps.home, 303);
    const current = await currentSession(request, reply);
    if (current === null) return reply.redirect('/sign-in', 303);
    const { session } = current;
    return sendPage(reply, 200, renderSignedInPage({ userName: session.data.userName, displayName: session.data.displayName, csrfField: sessionCsrfToken(session, 'sign-out') }));
  });

  passwordRoutes(scope, passwordChange, {
    csrfField,
    verifyCsrf: (request, field) => csrf.verify(parseCookies(request.headers.cookie).get(CSRF_COOKIE), field),
    formBody,
    requireJson,
    sendPage,
  });
}

function isApi(request: FastifyRequest): boolean {
  return request.url.startsWith('/api/');
}

function queryParam(request: FastifyRequest, name: string): unknown {
  const query = request.query;
  return typeof query === 'object' && query !== null ? (query as Record<string, unknown>)[name] : undefined;
}

/** The string fields of a form post; anything else (another content type, no body) yields none. */
function formBody(request: FastifyRequest): Partial<Form> {
  const type = mediaType(request);
  if (type !== 'application/x-www-form-urlencoded' || typeof request.body !== 'object' || request.body === null) return {};
  return request.body;
}

function requireJson(request: FastifyRequest): void {
  if (mediaType(request) !== 'application/json') {
    throw new AppError('auth.invalid_request', 'send this request with Content-Type: application/json', { status: 415 });
  }
}
