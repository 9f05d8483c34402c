/**
 * Changing one's own password over HTTP: the page and the JSON API, registered inside the
 * sign-in routes' scope (their body parsers, security headers and error handling apply).
 *
 * - With a PasswordChangeService (Portico owns the directory: the managed directory), the form
 *   and `POST /api/change-password` change the password with the current one. Nobody needs to
 *   be signed in: the page is the way out for people whose password expired or must change, who
 *   cannot sign in until they do.
 * - Without one (a connected AD), `GET /change-password` only says to change it in Active
 *   Directory: Portico never writes to a connected AD, and nothing else is registered.
 *
 * The form carries the same signed double-submit CSRF token as the sign-in form. Passwords are
 * never rendered back, logged or put in an error.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { PasswordChangeFailureCode, PasswordChangeService } from '#src/auth/password-change.ts';
import { AppError } from '#src/shared/errors.ts';
import { parseCookies } from './cookies.ts';
import { CSRF_COOKIE } from './csrf.ts';
import { renderChangePasswordPage, renderNoticePage } from './pages.ts';

export const CHANGE_PASSWORD_PATH = '/change-password';
const MAX_FIELD = 1024;

/** What the sign-in scope lends these routes. */
export interface PasswordRoutesKit {
  /** The CSRF field for this browser, setting a new CSRF cookie when it has no valid one (or `fresh`). */
  csrfField(request: FastifyRequest, reply: FastifyReply, fresh?: boolean): string;
  verifyCsrf(request: FastifyRequest, field: string | undefined): 'ok' | 'missing' | 'mismatch';
  formBody(request: FastifyRequest): Partial<Record<string, string>>;
  /** Throws 415 unless the request is JSON. */
  requireJson(request: FastifyRequest): void;
  sendPage(reply: FastifyReply, status: number, html: string): FastifyReply;
}

const failureStatus: Record<PasswordChangeFailureCode, number> = {
  'auth.invalid_credentials': 401,
  'auth.account_locked': 401,
  'auth.password_rejected': 400,
  'auth.throttled': 429,
  'auth.invalid_request': 400,
};

const apiBody = z.object({
  username: z.string({ error: 'username: required, a string' }).trim().min(1, 'username: required').max(MAX_FIELD, `username: at most ${MAX_FIELD} characters`),
  currentPassword: z
    .string({ error: 'currentPassword: required, a string' })
    .min(1, 'currentPassword: required')
    .max(MAX_FIELD, `currentPassword: at most ${MAX_FIELD} characters`),
  newPassword: z.string({ error: 'newPassword: required, a string' }).min(1, 'newPassword: required').max(MAX_FIELD, `newPassword: at most ${MAX_FIELD} characters`),
});

const IN_ACTIVE_DIRECTORY =
  'Your password belongs to Active Directory, and Portico does not change it. Change it there, for example with Ctrl+Alt+Delete on a Windows computer joined to the domain, or with the tool your organisation provides, then sign in again.';

export function passwordRoutes(scope: FastifyInstance, service: PasswordChangeService | null, kit: PasswordRoutesKit): void {
  if (service === null) {
    scope.get(CHANGE_PASSWORD_PATH, (_request, reply) =>
      kit.sendPage(reply, 200, renderNoticePage({ title: 'Change your password', message: IN_ACTIVE_DIRECTORY, link: { href: '/sign-in', text: 'Back to sign-in' } })),
    );
    return;
  }

  function sendForm(request: FastifyRequest, reply: FastifyReply, status: number, model: { username: string; error: string | null }, freshCsrf = false): FastifyReply {
    return kit.sendPage(reply, status, renderChangePasswordPage({ ...model, csrfField: kit.csrfField(request, reply, freshCsrf) }));
  }

  function retryAfter(reply: FastifyReply, seconds: number | null): void {
    if (seconds !== null) reply.header('retry-after', String(Math.max(1, Math.ceil(seconds))));
  }

  scope.get(CHANGE_PASSWORD_PATH, (request, reply) => {
    const query = request.query as Record<string, unknown> | undefined;
    const given = query?.username;
    const username = typeof given === 'string' ? given.trim().slice(0, MAX_FIELD) : '';
    return sendForm(request, reply, 200, { username, error: null });
  });

  scope.post(CHANGE_PASSWORD_PATH, async (request, reply) => {
    const form = kit.formBody(request);
    const verdict = kit.verifyCsrf(request, form.csrf);
    if (verdict !== 'ok') {
      request.log.info({ csrf: verdict }, 'password change form refused: CSRF token');
      const error =
        verdict === 'missing' && parseCookies(request.headers.cookie).get(CSRF_COOKIE) === undefined
          ? 'Your browser did not send the form cookie. Allow cookies for this site, then try again.'
          : 'This form expired or did not come from this site. Please try again.';
      return sendForm(request, reply, 403, { username: '', error }, true);
    }
    const username = (form.username ?? '').trim().slice(0, MAX_FIELD);
    const currentPassword = form.currentPassword ?? '';
    const newPassword = form.newPassword ?? '';
    const confirmPassword = form.confirmPassword ?? '';
    if (username === '' || currentPassword === '' || newPassword === '') {
      return sendForm(request, reply, 400, { username, error: 'Enter your user name, your current password and a new password.' });
    }
    if (newPassword !== confirmPassword) {
      return sendForm(request, reply, 400, { username, error: 'The new password and its confirmation differ. Type the same new password twice.' });
    }
    const result = await service.change({ username, oldPassword: currentPassword, newPassword, clientAddress: request.ip });
    if (!result.ok) {
      if (result.code === 'auth.throttled') retryAfter(reply, result.retryAfterSeconds);
      return sendForm(request, reply, failureStatus[result.code], { username, error: result.message });
    }
    return kit.sendPage(
      reply,
      200,
      renderNoticePage({ title: 'Password changed', message: 'Your password was changed. Sign in with your new password.', link: { href: '/sign-in', text: 'Sign in' } }),
    );
  });

  scope.post('/api/change-password', async (request, reply) => {
    kit.requireJson(request);
    const parsed = apiBody.safeParse(request.body);
    if (!parsed.success) {
      const message = parsed.error.issues.map((issue) => issue.message).join('; ');
      throw new AppError('auth.invalid_request', request.body === undefined ? 'the body must be a JSON object with username, currentPassword and newPassword' : message, { status: 400 });
    }
    const { username, currentPassword, newPassword } = parsed.data;
    const result = await service.change({ username, oldPassword: currentPassword, newPassword, clientAddress: request.ip });
    if (!result.ok) {
      if (result.code === 'auth.throttled') retryAfter(reply, result.retryAfterSeconds);
      const error = { code: result.code, message: result.message, ...(result.retryAfterSeconds === null ? {} : { retryAfterSeconds: result.retryAfterSeconds }) };
      return reply.status(failureStatus[result.code]).send({ error });
    }
    return reply.status(204).send();
  });
}
