/**
 * The second step over HTTP: `/mfa` (verify a code) and `/mfa/enrol` (register an authenticator
 * app at sign-in). Both accept the half-made session the password left (authn.pending) — no other
 * page does — and a full session (step-up). Success replaces the session by a new one that
 * records the factor (amr, mfaAt), and in context-aware mode sets the remembered-device cookie.
 *
 * Forms carry a CSRF token derived from the session's own secret; nothing here needs JavaScript.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { safeReturnTo } from '#src/auth/http/return-to.ts';
import type { Session } from '#src/sessions/session-store.ts';
import { sessionCsrfToken, verifySessionCsrfToken, type SessionService } from '#src/sessions/sessions.ts';
import {
  appendSetCookie,
  mediaType,
  parseCookies,
  secureCookies,
  sendPage,
  serializeCookie,
  SESSION_COOKIE,
  useBodyPolicy,
  useErrorRenderer,
  useSecurityHeaders,
} from '#src/platform/http/index.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import type { CodeKind, MfaService } from '../mfa-service.ts';
import { REMEMBER_COOKIE } from '../remembered-device.ts';
import type { RelyingParty, WebAuthnFactor } from '../webauthn.ts';
import { factorAllowed, MAX_DEVICES_PER_USER } from '../policy.ts';
import { MFA_ASSETS_PATH, MFA_PAGE_CSP, renderDevicesPage, renderEnrolPage, renderMfaMessagePage, renderRecoveryCodesPage, renderVerifyPage } from './pages.ts';

export const MFA_PATH = '/mfa';
export const MFA_ENROL_PATH = '/mfa/enrol';
const BODY_LIMIT = 8 * 1024;
/** How long a second factor counts as fresh for changing one's devices. */
export const FRESH_MFA_MS = 10 * 60_000;

export interface MfaRoutesDeps {
  mfa: MfaService;
  /** Passkeys and security keys; absent: not offered. */
  webauthn?: WebAuthnFactor;
  sessions: SessionService;
  cookieSecurity?: 'auto' | 'always';
  /** As for the sign-in routes: finishes a waiting SAML request at once. */
  afterSignIn?: (returnTo: string, session: Session, reply: FastifyReply) => Promise<boolean>;
  /** http.publicUrl: when set, the WebAuthn RP ID and origin come from it, not from the request. */
  publicUrl?: string | undefined;
  clock?: () => Date;
}

/**
 * The WebAuthn relying party: from http.publicUrl when configured — the address people use, which
 * a proxy's or a client's Host header must not choose (a passkey is bound to its RP ID for good) —
 * otherwise the host the browser asked for.
 */
export function relyingParty(publicUrl: string | undefined, request: { hostname: string; protocol: string; host: string }): RelyingParty {
  if (publicUrl !== undefined) {
    const url = new URL(publicUrl);
    return { rpId: url.hostname, origin: url.origin };
  }
  return { rpId: request.hostname, origin: `${request.protocol}://${request.host}` };
}

/** The browser side of WebAuthn: @simplewebauthn/browser's own bundle, and our button's script. */
async function readAssets(): Promise<Map<string, Buffer>> {
  const browserPackage = dirname(dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')));
  return new Map([
    ['simplewebauthn-browser.js', await readFile(join(browserPackage, 'dist', 'bundle', 'index.umd.min.js'))],
    ['webauthn.js', await readFile(new URL('webauthn.js', import.meta.url))],
  ]);
}

export async function registerMfaRoutes(http: FastifyInstance, deps: MfaRoutesDeps): Promise<void> {
  const assets = await readAssets();
  await http.register((scope, _options, done) => {
    mfaRoutes(scope, deps, assets);
    done();
  });
}

type Fields = Record<string, string | undefined>;

function mfaRoutes(scope: FastifyInstance, deps: MfaRoutesDeps, assets: Map<string, Buffer>): void {
  const { mfa, sessions, cookieSecurity = 'auto', clock = () => new Date() } = deps;
  useBodyPolicy(scope, { form: { limit: BODY_LIMIT }, json: { limit: 64 * 1024, invalidCode: 'auth.invalid_request' } });
  useSecurityHeaders(scope, { csp: MFA_PAGE_CSP, page: true });
  useErrorRenderer(scope, {
    name: 'mfa route',
    clientError: (status) => ({ code: 'auth.invalid_request', message: status === 413 ? 'the request body is too large' : 'the request is malformed' }),
    isApi: (request) => request.url.startsWith('/mfa/webauthn/'),
    page: (reply, { status, message }) => sendPage(reply, status, renderMfaMessagePage({ title: status >= 500 ? 'Something went wrong' : 'Request refused', message, link: { href: '/sign-in', text: 'Back to sign-in' } })),
  });

  async function current(request: FastifyRequest): Promise<{ session: Session; token: string } | null> {
    const token = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (token === undefined || token === '') return null;
    const found = await sessions.authenticate(token, clock(), { includePending: true });
    return found === null ? null : { session: found.session, token };
  }

  const toSignIn = (reply: FastifyReply, returnTo: string): FastifyReply => reply.redirect(`/sign-in?${new URLSearchParams({ returnTo }).toString()}`, 303);
  const here = (path: string, returnTo: string): string => `${path}?${new URLSearchParams({ returnTo }).toString()}`;
  const freshMfa = (session: Session): boolean => {
    const at = session.data.authn?.mfaAt;
    return at != null && clock().getTime() - Date.parse(at) < FRESH_MFA_MS;
  };
  const account = (session: Session): string => session.data.userName;

  function form(request: FastifyRequest): Fields {
    if (mediaType(request) !== 'application/x-www-form-urlencoded' || typeof request.body !== 'object' || request.body === null) return {};
    return request.body as Fields;
  }

  /** Replaces the session by one that records the factor and remembers the browser when the policy says so; null when the session ended meanwhile. */
  async function upgrade(request: FastifyRequest, reply: FastifyReply, found: { session: Session; token: string }, amr: string[]): Promise<Session | null> {
    const now = clock();
    const before = found.session.data.authn;
    const upgraded = await sessions.reauthenticate(found.token, { amr: [...new Set(amr)], passwordAt: before?.passwordAt ?? found.session.createdAt.toISOString(), mfaAt: now.toISOString(), pending: null });
    if (upgraded === null) return null;
    const secure = secureCookies(request, cookieSecurity);
    appendSetCookie(reply, serializeCookie(SESSION_COOKIE, upgraded.token, { maxAge: (upgraded.session.expiresAt.getTime() - now.getTime()) / 1000, secure }));
    const remember = await mfa.rememberBrowser({ userGuid: found.session.userGuid, address: request.ip, userAgent: request.headers['user-agent'] ?? null });
    if (remember !== null) appendSetCookie(reply, serializeCookie(REMEMBER_COOKIE, remember.value, { maxAge: remember.maxAgeSeconds, secure }));
    return upgraded.session;
  }

  /** Upgrades the session and moves on: a page to show, the waiting SAML request, or returnTo. */
  async function complete(request: FastifyRequest, reply: FastifyReply, found: { session: Session; token: string }, amr: string[], returnTo: string, show?: (reply: FastifyReply) => FastifyReply): Promise<FastifyReply> {
    const upgraded = await upgrade(request, reply, found, amr);
    if (upgraded === null) return toSignIn(reply, returnTo);
    if (show) return show(reply);
    if ((await deps.afterSignIn?.(returnTo, upgraded, reply)) === true) return reply;
    return reply.redirect(returnTo, 303);
  }

  async function verifyPage(reply: FastifyReply, session: Session, returnTo: string, status: number, error: string | null, radius?: { prompt: string; state: string }): Promise<FastifyReply> {
    const factors = await mfa.factorsOf(session.userGuid);
    return sendPage(
      reply,
      status,
      renderVerifyPage({
        csrf: sessionCsrfToken(session, 'mfa'),
        returnTo,
        error,
        totp: factors.totp,
        radius: factors.radius,
        radiusPrompt: radius?.prompt ?? null,
        radiusState: radius?.state ?? null,
        recovery: factors.recoveryCodes > 0,
        webauthn: factors.webauthn && deps.webauthn !== undefined,
        webauthnCsrf: sessionCsrfToken(session, 'mfa-webauthn'),
      }),
    );
  }

  scope.get<{ Querystring: { returnTo?: string; need?: string } }>(MFA_PATH, async (request, reply) => {
    const returnTo = safeReturnTo(request.query.returnTo);
    const found = await current(request);
    if (found === null) return toSignIn(reply, here(MFA_PATH, returnTo));
    if (found.session.data.authn?.pending === 'enrol') return reply.redirect(here(MFA_ENROL_PATH, returnTo), 303);
    const factors = await mfa.factorsOf(found.session.userGuid);
    if (request.query.need === 'phishing-resistant') {
      // Only a passkey or security key will do: offer nothing else, and say why.
      if (!factors.webauthn) return sendPage(reply, 403, renderMfaMessagePage({ title: 'A security key is required', message: 'This requires a passkey or security key, and none is registered for your account. Register one under MFA devices, or ask your administrator.', link: { href: '/mfa/devices', text: 'MFA devices' } }));
      return sendPage(reply, 200, renderVerifyPage({ csrf: sessionCsrfToken(found.session, 'mfa'), returnTo, error: null, totp: false, radius: false, recovery: false, webauthn: deps.webauthn !== undefined, webauthnCsrf: sessionCsrfToken(found.session, 'mfa-webauthn'), notice: 'This requires a passkey or security key.' }));
    }
    // Step-up for someone without any factor: register one first.
    if (!factors.totp && !factors.radius && !factors.webauthn && factors.recoveryCodes === 0) return reply.redirect(here(MFA_ENROL_PATH, returnTo), 303);
    return verifyPage(reply, found.session, returnTo, 200, null);
  });

  scope.post(MFA_PATH, async (request, reply) => {
    const fields = form(request);
    const returnTo = safeReturnTo(fields.returnTo);
    const found = await current(request);
    if (found === null) return toSignIn(reply, here(MFA_PATH, returnTo));
    if (!verifySessionCsrfToken(found.session, 'mfa', fields.csrf)) return verifyPage(reply, found.session, returnTo, 403, 'This form expired or did not come from this site. Enter the code again.');
    const kind: CodeKind | null = fields.kind === 'totp' || fields.kind === 'recovery' || fields.kind === 'radius' ? fields.kind : null;
    if (kind === null) return verifyPage(reply, found.session, returnTo, 400, 'Choose how to verify.');
    const radiusState = kind === 'radius' && fields.radiusState ? Buffer.from(fields.radiusState, 'base64url') : undefined;
    const result = await mfa.verifyCode({ userGuid: found.session.userGuid, account: account(found.session), kind, code: (fields.code ?? '').slice(0, 128), address: request.ip, ...(radiusState ? { radiusState } : {}) });
    if (result.ok === 'challenge') return verifyPage(reply, found.session, returnTo, 200, null, { prompt: result.message, state: result.state.toString('base64url') });
    if (!result.ok) {
      if (result.retryAfterSeconds !== null) reply.header('retry-after', String(result.retryAfterSeconds));
      return verifyPage(reply, found.session, returnTo, result.code === 'mfa.throttled' ? 429 : result.code === 'mfa.unavailable' ? 503 : 401, result.message);
    }
    return complete(request, reply, found, [...(found.session.data.authn?.amr ?? ['pwd']), ...result.amr], returnTo);
  });

  /** Registering is open to a sign-in that must enrol, to a fresh second factor, and to someone who has none yet. */
  async function mayEnrol(session: Session): Promise<boolean> {
    if (session.data.authn?.pending === 'enrol' || freshMfa(session)) return true;
    if (session.data.authn?.pending === 'verify') return false;
    const factors = await mfa.factorsOf(session.userGuid);
    return !factors.totp && !factors.webauthn && factors.recoveryCodes === 0;
  }

  async function enrolPage(reply: FastifyReply, session: Session, returnTo: string, status: number, error: string | null): Promise<FastifyReply> {
    try {
      const policy = await mfa.policy();
      const webauthn = deps.webauthn !== undefined && factorAllowed(policy, 'webauthn');
      const totp = factorAllowed(policy, 'totp') || !webauthn;
      const enrolment = totp ? await mfa.beginTotpEnrolment(session.userGuid, account(session), 'Authenticator app') : { deviceId: '', secret: '', qrSvg: '' };
      return sendPage(
        reply,
        status,
        renderEnrolPage({
          csrf: sessionCsrfToken(session, 'mfa-enrol'),
          returnTo,
          error,
          deviceId: enrolment.deviceId,
          secret: enrolment.secret,
          qrSvg: enrolment.qrSvg,
          required: session.data.authn?.pending === 'enrol',
          totp,
          webauthn,
          webauthnCsrf: sessionCsrfToken(session, 'mfa-webauthn'),
        }),
      );
    } catch (error) {
      if (isAppError(error, 'mfa.device_limit') || isAppError(error, 'mfa.factor_not_allowed')) return sendPage(reply, error.status, renderMfaMessagePage({ title: 'Cannot register a device', message: error.message, link: { href: returnTo, text: 'Back' } }));
      throw error;
    }
  }

  scope.get<{ Querystring: { returnTo?: string } }>(MFA_ENROL_PATH, async (request, reply) => {
    const returnTo = safeReturnTo(request.query.returnTo);
    const found = await current(request);
    if (found === null) return toSignIn(reply, here(MFA_ENROL_PATH, returnTo));
    if (!(await mayEnrol(found.session))) return reply.redirect(here(MFA_PATH, here(MFA_ENROL_PATH, returnTo)), 303);
    return enrolPage(reply, found.session, returnTo, 200, null);
  });

  scope.post(MFA_ENROL_PATH, async (request, reply) => {
    const fields = form(request);
    const returnTo = safeReturnTo(fields.returnTo);
    const found = await current(request);
    if (found === null) return toSignIn(reply, here(MFA_ENROL_PATH, returnTo));
    if (!(await mayEnrol(found.session))) return reply.redirect(here(MFA_PATH, here(MFA_ENROL_PATH, returnTo)), 303);
    if (!verifySessionCsrfToken(found.session, 'mfa-enrol', fields.csrf)) return enrolPage(reply, found.session, returnTo, 403, 'This form expired or did not come from this site. Scan the new code and try again.');
    const result = await mfa.confirmTotpEnrolment(found.session.userGuid, account(found.session), fields.deviceId ?? '', fields.code ?? '', request.ip, fields.name ?? '');
    if (!result.ok) {
      // A new secret each time: the page showed the old one, which a bystander may have seen fail.
      if (result.retryAfterSeconds !== null) reply.header('retry-after', String(result.retryAfterSeconds));
      return enrolPage(reply, found.session, returnTo, result.code === 'mfa.throttled' ? 429 : 401, `${result.message} Scan the new QR code and try again.`);
    }
    const show = result.recoveryCodes === null ? undefined : (r: FastifyReply) => sendPage(r, 200, renderRecoveryCodesPage({ codes: result.recoveryCodes ?? [], continueTo: returnTo }));
    return complete(request, reply, found, [...(found.session.data.authn?.amr ?? ['pwd']), 'otp', 'mfa'], returnTo, show);
  });

  // ---- self-service: one's own devices; every change behind a second factor of the last 10 minutes ----

  const DEVICES_PATH = '/mfa/devices';

  /** A full session with a fresh second factor, or the redirect that gets one. */
  async function freshSession(request: FastifyRequest, reply: FastifyReply): Promise<{ session: Session; token: string } | FastifyReply> {
    const found = await current(request);
    if (found === null || found.session.data.authn?.pending) return toSignIn(reply, DEVICES_PATH);
    if (freshMfa(found.session)) return found;
    const factors = await mfa.factorsOf(found.session.userGuid);
    // Nothing registered yet: nothing to protect, registering is the way in.
    if (!factors.totp && !factors.webauthn && factors.recoveryCodes === 0) return found;
    return reply.redirect(here(MFA_PATH, DEVICES_PATH), 303);
  }

  async function devicesPage(reply: FastifyReply, session: Session, notice: string | null, newRecoveryCodes: string[] | null = null): Promise<FastifyReply> {
    const factors = await mfa.factorsOf(session.userGuid);
    return sendPage(reply, 200, renderDevicesPage({ csrf: sessionCsrfToken(session, 'mfa-devices'), devices: factors.devices, recoveryCodes: factors.recoveryCodes, maxDevices: MAX_DEVICES_PER_USER, notice, newRecoveryCodes }));
  }

  scope.get(DEVICES_PATH, async (request, reply) => {
    const found = await freshSession(request, reply);
    if (!('session' in found)) return found;
    return devicesPage(reply, found.session, null);
  });

  scope.post(`${DEVICES_PATH}/remove`, async (request, reply) => {
    const fields = form(request);
    const found = await freshSession(request, reply);
    if (!('session' in found)) return found;
    if (!verifySessionCsrfToken(found.session, 'mfa-devices', fields.csrf)) return devicesPage(reply, found.session, 'This form expired. Nothing was changed.');
    await mfa.removeDevice(found.session.userGuid, fields.deviceId ?? '', found.session.userGuid);
    return devicesPage(reply, found.session, 'The device was removed.');
  });

  scope.post(`${DEVICES_PATH}/rename`, async (request, reply) => {
    const fields = form(request);
    const found = await freshSession(request, reply);
    if (!('session' in found)) return found;
    if (!verifySessionCsrfToken(found.session, 'mfa-devices', fields.csrf)) return devicesPage(reply, found.session, 'This form expired. Nothing was changed.');
    try {
      const device = await mfa.renameDevice(found.session.userGuid, fields.deviceId ?? '', fields.name ?? '', found.session.userGuid);
      return devicesPage(reply, found.session, `The device is now called “${device.name}”.`);
    } catch (error) {
      if (isAppError(error, 'mfa.invalid_name')) return devicesPage(reply, found.session, 'Give the device a name. Nothing was changed.');
      throw error;
    }
  });

  scope.post(`${DEVICES_PATH}/recovery-codes`, async (request, reply) => {
    const fields = form(request);
    const found = await freshSession(request, reply);
    if (!('session' in found)) return found;
    if (!verifySessionCsrfToken(found.session, 'mfa-devices', fields.csrf)) return devicesPage(reply, found.session, 'This form expired. Nothing was changed.');
    const codes = await mfa.regenerateRecoveryCodes(found.session.userGuid, account(found.session), found.session.userGuid);
    return devicesPage(reply, found.session, 'New recovery codes were made.', codes);
  });

  // ---- passkeys and security keys (JSON, from webauthn.js) ----

  scope.get<{ Params: { name: string } }>(`${MFA_ASSETS_PATH}/:name`, (request, reply) => {
    const body = assets.get(request.params.name);
    if (body === undefined) return reply.status(404).type('text/plain; charset=utf-8').send('not found');
    return reply.header('cache-control', 'max-age=300').type('text/javascript; charset=utf-8').send(body);
  });

  const rp = (request: FastifyRequest): RelyingParty => relyingParty(deps.publicUrl, request);
  const json = (request: FastifyRequest): Record<string, unknown> => {
    if (mediaType(request) !== 'application/json') throw new AppError('auth.invalid_request', 'send this request with Content-Type: application/json', { status: 415 });
    return typeof request.body === 'object' && request.body !== null ? (request.body as Record<string, unknown>) : {};
  };
  /** The session (half-made or full) of a passkey request, its CSRF token checked. */
  async function webauthnSession(request: FastifyRequest): Promise<{ session: Session; token: string; body: Record<string, unknown>; factor: WebAuthnFactor }> {
    const body = json(request);
    const factor = deps.webauthn;
    if (factor === undefined) throw new AppError('mfa.factor_not_allowed', 'passkeys are not enabled', { status: 404 });
    const found = await current(request);
    if (found === null) throw new AppError('auth.session_invalid', 'sign in again', { status: 401 });
    if (!verifySessionCsrfToken(found.session, 'mfa-webauthn', body.csrf)) throw new AppError('auth.csrf_failed', 'this page expired: reload it and try again', { status: 403 });
    return { ...found, body, factor };
  }

  scope.post('/mfa/webauthn/authenticate/options', async (request, reply) => {
    const { session, factor } = await webauthnSession(request);
    return reply.send(await factor.authenticationOptions({ userGuid: session.userGuid, sessionId: session.id, rp: rp(request) }));
  });

  scope.post('/mfa/webauthn/authenticate', async (request, reply) => {
    const found = await webauthnSession(request);
    const returnTo = safeReturnTo(found.body.returnTo);
    const result = await found.factor.authenticate({ userGuid: found.session.userGuid, account: account(found.session), sessionId: found.session.id, rp: rp(request), ticket: found.body.ticket, response: found.body.response, address: request.ip });
    if (!result.ok) return reply.status(result.code === 'mfa.throttled' ? 429 : 401).send({ error: { code: result.code, message: result.message } });
    const upgraded = await upgrade(request, reply, found, [...(found.session.data.authn?.amr ?? ['pwd']), ...result.amr]);
    if (upgraded === null) throw new AppError('auth.session_invalid', 'sign in again', { status: 401 });
    return reply.send({ next: returnTo });
  });

  scope.post('/mfa/webauthn/register/options', async (request, reply) => {
    const { session, factor } = await webauthnSession(request);
    if (!(await mayEnrol(session))) throw new AppError('mfa.required', 'verify with your current second factor before you register another', { status: 401 });
    return reply.send(await factor.registrationOptions({ userGuid: session.userGuid, account: account(session), displayName: session.data.displayName, sessionId: session.id, rp: rp(request) }));
  });

  scope.post('/mfa/webauthn/register', async (request, reply) => {
    const found = await webauthnSession(request);
    if (!(await mayEnrol(found.session))) throw new AppError('mfa.required', 'verify with your current second factor before you register another', { status: 401 });
    const returnTo = safeReturnTo(found.body.returnTo);
    const name = typeof found.body.name === 'string' ? found.body.name : '';
    const { amr } = await found.factor.register({ userGuid: found.session.userGuid, account: account(found.session), sessionId: found.session.id, rp: rp(request), ticket: found.body.ticket, response: found.body.response, name });
    const recoveryCodes = (await mfa.factorsOf(found.session.userGuid)).recoveryCodes === 0 ? await mfa.regenerateRecoveryCodes(found.session.userGuid, account(found.session), found.session.userGuid) : null;
    const upgraded = await upgrade(request, reply, found, [...(found.session.data.authn?.amr ?? ['pwd']), amr, 'mfa']);
    if (upgraded === null) throw new AppError('auth.session_invalid', 'sign in again', { status: 401 });
    return reply.send({ next: returnTo, recoveryCodes });
  });
}
