/**
 * The HTTP faces of the AWS-compatible APIs (service.ts):
 *
 * - SSO OIDC under `/aws/sso-oidc` (`POST /client/register`, `/device_authorization`, `/token`):
 *   JSON in, JSON out; refusals as AWS sends them: the exception name in `x-amzn-errortype` and
 *   `{"error": "<oauth code>", "error_description": "…"}`.
 * - The portal API under `/aws/sso` (`GET /assignment/accounts`, `/assignment/roles`,
 *   `/federation/credentials`, `POST /logout`), the bearer token in `x-amz-sso_bearer_token`;
 *   refusals as `x-amzn-errortype` and `{"message": "…"}`.
 * - The device verification page, `/device`, in the sign-in look.
 * - The authorize endpoint of the authorization-code grant with PKCE,
 *   `GET|POST /aws/sso-oidc/authorize`: Portico's normal sign-in first, then a consent page;
 *   the browser goes back to the client's loopback redirect URI with `code` and `state` (or an
 *   OAuth `error`).
 *
 * AWS serves the two APIs on two hosts (oidc.<region>…, portal.sso.<region>…); Portico serves
 * them on its one listener under two path prefixes. Clients are pointed there by endpoint
 * configuration (the SDKs and the CLI join the prefix and the operation's path).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PAGE_CSP, escapeHtml, renderSignInLookPage } from '#src/auth/http/pages.ts';
import { createSessionReader, sendPage, useBodyPolicy, useSecurityHeaders, type FormFields } from '#src/platform/http/index.ts';
import type { SessionService } from '#src/sessions/sessions.ts';
import { sessionCsrfToken, verifySessionCsrfToken } from '#src/sessions/sessions.ts';
import { isAppError } from '#src/shared/errors.ts';
import type { AuthorizeRequest, AwsSsoService } from './service.ts';

export const SSO_OIDC_PREFIX = '/aws/sso-oidc';
export const SSO_PORTAL_PREFIX = '/aws/sso';
export const DEVICE_PATH = '/device';
export const AUTHORIZE_PATH = `${SSO_OIDC_PREFIX}/authorize`;
const BODY_LIMIT = 64 * 1024;

/** Code → [exception, OAuth error, status] of SSO OIDC. */
const OIDC_ERRORS: Readonly<Record<string, [string, string, number]>> = {
  'aws_sso.invalid_request': ['InvalidRequestException', 'invalid_request', 400],
  'aws_sso.invalid_client': ['InvalidClientException', 'invalid_client', 401],
  'aws_sso.invalid_client_metadata': ['InvalidClientMetadataException', 'invalid_client_metadata', 400],
  'aws_sso.invalid_redirect_uri': ['InvalidRedirectUriException', 'invalid_redirect_uri', 400],
  'aws_sso.invalid_grant': ['InvalidGrantException', 'invalid_grant', 400],
  'aws_sso.unsupported_grant_type': ['UnsupportedGrantTypeException', 'unsupported_grant_type', 400],
  'aws_sso.invalid_scope': ['InvalidScopeException', 'invalid_scope', 400],
  'aws_sso.authorization_pending': ['AuthorizationPendingException', 'authorization_pending', 400],
  'aws_sso.slow_down': ['SlowDownException', 'slow_down', 400],
  'aws_sso.expired_token': ['ExpiredTokenException', 'expired_token', 400],
  'aws_sso.access_denied': ['AccessDeniedException', 'access_denied', 400],
};

/** Code → [exception, status] of the portal API. */
const PORTAL_ERRORS: Readonly<Record<string, [string, number]>> = {
  'aws_sso.invalid_request': ['InvalidRequestException', 400],
  'aws_sso.unauthorized': ['UnauthorizedException', 401],
  'auth.session_invalid': ['UnauthorizedException', 401],
  'aws_sso.not_found': ['ResourceNotFoundException', 404],
  'access.not_found': ['ResourceNotFoundException', 404],
  // What Identity Center answers for a role one is not assigned.
  'access.not_assigned': ['ForbiddenException', 403],
  'aws_sso.slow_down': ['TooManyRequestsException', 429],
};

export interface AwsSsoRoutesDeps {
  service: AwsSsoService;
  sessions: SessionService;
  cookieSecurity: 'auto' | 'always';
  log: { error(details: Record<string, unknown>, message: string): void };
  clock?: () => Date;
}

export async function registerAwsSsoRoutes(http: FastifyInstance, deps: AwsSsoRoutesDeps): Promise<void> {
  await http.register((scope, _options, done) => {
    oidcRoutes(scope, deps);
    done();
  }, { prefix: SSO_OIDC_PREFIX });
  await http.register((scope, _options, done) => {
    portalApiRoutes(scope, deps);
    done();
  }, { prefix: SSO_PORTAL_PREFIX });
  await http.register((scope, _options, done) => {
    devicePage(scope, deps);
    authorizePage(scope, deps);
    done();
  });
}

const body = (request: FastifyRequest): Record<string, unknown> => (typeof request.body === 'object' && request.body !== null && !Array.isArray(request.body) ? (request.body as Record<string, unknown>) : {});

function jsonApi(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  // The SDKs send JSON; an empty body (Logout) is accepted.
  scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, raw, done) => {
    const text = (raw as string).trim();
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400, awsInvalid: true }), undefined);
    }
  });
  scope.addHook('onSend', (_request, reply, payload, next) => {
    reply.header('cache-control', 'no-store');
    next(null, payload);
  });
}

function oidcRoutes(scope: FastifyInstance, deps: AwsSsoRoutesDeps): void {
  const { service } = deps;
  jsonApi(scope);
  scope.setErrorHandler((error, _request, reply) => {
    const code = isAppError(error) ? error.code : (error as { statusCode?: number }).statusCode !== undefined && (error as { statusCode: number }).statusCode < 500 ? 'aws_sso.invalid_request' : null;
    const mapped = code === null ? undefined : OIDC_ERRORS[code];
    if (mapped === undefined) {
      deps.log.error({ err: error }, 'SSO OIDC request failed');
      return reply.status(500).header('x-amzn-errortype', 'InternalServerException').send({ error: 'server_error', error_description: 'Portico could not complete this request' });
    }
    const [exception, oauth, status] = mapped;
    return reply.status(status).header('x-amzn-errortype', exception).send({ error: oauth, error_description: error instanceof Error ? error.message : null });
  });
  scope.post('/client/register', async (request, reply) => reply.send(await service.registerClient(body(request), request.ip)));
  scope.post('/device_authorization', async (request, reply) => reply.send(await service.startDeviceAuthorization(body(request))));
  scope.post('/token', async (request, reply) => reply.send(await service.createToken(body(request))));
}

function portalApiRoutes(scope: FastifyInstance, deps: AwsSsoRoutesDeps): void {
  const { service } = deps;
  jsonApi(scope);
  scope.setErrorHandler((error, _request, reply) => {
    if (isAppError(error, 'federation.sts_refused')) {
      // STS's own refusal, under STS's own error code (as the CLI shows it).
      const stsCode = typeof error.details?.stsCode === 'string' ? error.details.stsCode : 'AccessDenied';
      return reply.status(403).header('x-amzn-errortype', stsCode).send({ message: error.message });
    }
    if (isAppError(error, 'federation.sts_unavailable')) return reply.status(502).header('x-amzn-errortype', 'InternalServerException').send({ message: error.message });
    const code = isAppError(error) ? error.code : (error as { statusCode?: number }).statusCode !== undefined && (error as { statusCode: number }).statusCode < 500 ? 'aws_sso.invalid_request' : null;
    const mapped = code === null ? undefined : PORTAL_ERRORS[code];
    if (mapped === undefined) {
      deps.log.error({ err: error }, 'SSO portal API request failed');
      return reply.status(500).header('x-amzn-errortype', 'InternalServerException').send({ message: 'Portico could not complete this request' });
    }
    const [exception, status] = mapped;
    return reply.status(status).header('x-amzn-errortype', exception).send({ message: error instanceof Error ? error.message : '' });
  });
  const bearer = (request: FastifyRequest): unknown => request.headers['x-amz-sso_bearer_token'];
  type Q = { Querystring: Record<string, string | undefined> };
  const paging = (query: Record<string, string | undefined>) => ({
    ...(query.next_token === undefined ? {} : { nextToken: query.next_token }),
    ...(query.max_result === undefined ? {} : { maxResults: query.max_result }),
  });
  scope.get<Q>('/assignment/accounts', async (request, reply) => reply.send(await service.listAccounts(bearer(request), paging(request.query))));
  scope.get<Q>('/assignment/roles', async (request, reply) => reply.send(await service.listAccountRoles(bearer(request), request.query.account_id, paging(request.query))));
  scope.get<Q>('/federation/credentials', async (request, reply) => {
    const c = await service.getRoleCredentials(bearer(request), request.query.account_id, request.query.role_name);
    // `expiration` is epoch milliseconds (every client divides it by 1000).
    return reply.send({ roleCredentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration.getTime() } });
  });
  scope.post('/logout', async (request, reply) => {
    await service.logout(bearer(request));
    return reply.status(200).send();
  });
}

// ---- the device verification page ----

const devicePurpose = (userCode: string) => `aws-sso-device:${userCode}`;

function renderEnterCode(error: string | null, typed: string): string {
  return renderSignInLookPage(
    'Authorize a device',
    `<h1>Authorize a device</h1>
<div id="code-error" class="alert" role="alert">${error === null ? '' : escapeHtml(error)}</div>
<form method="get" action="${DEVICE_PATH}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" type="text" value="${escapeHtml(typed)}" autocomplete="off" autocapitalize="characters" spellcheck="false" required maxlength="32" aria-describedby="code-hint">
<p id="code-hint" class="hint">The code your terminal shows, e.g. BCDF-GHJK</p>
<button type="submit">Next</button>
</form>`,
  );
}

function renderConfirm(model: { userCode: string; clientName: string; userName: string; csrf: string }): string {
  const hidden = `<input type="hidden" name="user_code" value="${escapeHtml(model.userCode)}">\n<input type="hidden" name="csrf" value="${escapeHtml(model.csrf)}">`;
  return renderSignInLookPage(
    'Allow access?',
    `<h1>Allow access?</h1>
<p><strong>${escapeHtml(model.clientName)}</strong> asks to use your access to AWS accounts as <strong>${escapeHtml(model.userName)}</strong>.</p>
<p>Code: <strong id="user-code">${escapeHtml(model.userCode)}</strong></p>
<p class="hint">Allow only if this is the code your own terminal shows. Anyone who started this request gets your AWS access until the sign-in ends.</p>
<form method="post" action="${DEVICE_PATH}">
${hidden}
<input type="hidden" name="decision" value="approve">
<button type="submit">Allow</button>
</form>
<form method="post" action="${DEVICE_PATH}">
${hidden}
<input type="hidden" name="decision" value="deny">
<button type="submit">Deny</button>
</form>`,
  );
}

function renderDone(title: string, message: string): string {
  return renderSignInLookPage(title, `<h1>${escapeHtml(title)}</h1>\n<p role="status">${escapeHtml(message)}</p>`);
}

function devicePage(scope: FastifyInstance, deps: AwsSsoRoutesDeps): void {
  const { service } = deps;
  const reader = createSessionReader({ sessions: deps.sessions, cookieSecurity: deps.cookieSecurity, ...(deps.clock ? { clock: deps.clock } : {}) });
  useBodyPolicy(scope, { form: { limit: 16 * 1024 } });
  useSecurityHeaders(scope, { csp: PAGE_CSP, page: true });

  function toSignIn(reply: FastifyReply, returnTo: string): FastifyReply {
    return reply.redirect(`/sign-in?${new URLSearchParams({ returnTo }).toString()}`, 303);
  }

  scope.get<{ Querystring: { user_code?: string } }>(DEVICE_PATH, async (request, reply) => {
    const current = await reader.current(request, reply);
    // The normal sign-in first (throttle and all), then back here with the code.
    if (current === null) return toSignIn(reply, request.url);
    const typed = typeof request.query.user_code === 'string' ? request.query.user_code.slice(0, 32) : '';
    if (typed === '') return sendPage(reply, 200, renderEnterCode(null, ''));
    const looked = await service.lookUpUserCode(typed);
    if ('refused' in looked) return sendPage(reply, 400, renderEnterCode(looked.refused, typed));
    return sendPage(reply, 200, renderConfirm({ userCode: looked.userCode, clientName: looked.clientName, userName: current.session.data.userName, csrf: sessionCsrfToken(current.session, devicePurpose(looked.userCode)) }));
  });

  scope.post(DEVICE_PATH, async (request, reply) => {
    const current = await reader.current(request, reply);
    if (current === null) return toSignIn(reply, DEVICE_PATH);
    const form = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Partial<FormFields>;
    const userCode = (form.user_code ?? '').slice(0, 32);
    if (!verifySessionCsrfToken(current.session, devicePurpose(userCode), form.csrf)) {
      return sendPage(reply, 403, renderEnterCode('This form expired or did not come from Portico; nothing was changed. Enter the code again.', userCode));
    }
    const approve = form.decision === 'approve';
    const result = await service.decide(current.session, userCode, approve);
    if ('refused' in result) return sendPage(reply, 400, renderEnterCode(result.refused, userCode));
    return approve
      ? sendPage(reply, 200, renderDone('Request approved', 'You can close this window and go back to your terminal.'))
      : sendPage(reply, 200, renderDone('Request denied', 'Nothing was given access. You can close this window.'));
  });
}

// ---- the authorize endpoint (authorization-code grant with PKCE) ----

/** The CSRF token binds the consent form to the session and to this very request (client and challenge). */
const authorizePurpose = (request: AuthorizeRequest) => `aws-sso-authorize:${request.clientId}:${request.codeChallenge}`;

function renderConsent(request: AuthorizeRequest, userName: string, csrf: string): string {
  const fields: Record<string, string> = {
    response_type: 'code',
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    state: request.state,
    code_challenge: request.codeChallenge,
    code_challenge_method: 'S256',
    scopes: request.scopes.join(' '),
    csrf,
  };
  const hidden = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join('\n');
  return renderSignInLookPage(
    'Allow access?',
    `<h1>Allow access?</h1>
<p><strong id="client-name">${escapeHtml(request.clientName)}</strong> asks to use your access to AWS accounts as <strong>${escapeHtml(userName)}</strong>.</p>
<p class="hint">Allow only if you just started a sign-in from your own terminal or tool. It gets your AWS access until the sign-in ends.</p>
<form method="post" action="${AUTHORIZE_PATH}">
${hidden}
<input type="hidden" name="decision" value="approve">
<button type="submit">Allow</button>
</form>
<form method="post" action="${AUTHORIZE_PATH}">
${hidden}
<input type="hidden" name="decision" value="deny">
<button type="submit">Deny</button>
</form>`,
  );
}

function authorizePage(scope: FastifyInstance, deps: AwsSsoRoutesDeps): void {
  const { service } = deps;
  const reader = createSessionReader({ sessions: deps.sessions, cookieSecurity: deps.cookieSecurity, ...(deps.clock ? { clock: deps.clock } : {}) });

  scope.get<{ Querystring: Record<string, unknown> }>(AUTHORIZE_PATH, async (request, reply) => {
    const current = await reader.current(request, reply);
    const checked = await service.checkAuthorize(request.query, current?.session.data.userName ?? 'anonymous');
    if (checked.kind === 'page') return sendPage(reply, 400, renderDone('Cannot sign in this application', checked.message));
    if (checked.kind === 'redirect') return reply.redirect(checked.location, 303);
    // The normal sign-in first (throttle, second factor), then back here with the same request.
    if (current === null) return reply.redirect(`/sign-in?${new URLSearchParams({ returnTo: request.url }).toString()}`, 303);
    // Browsers apply form-action to the redirect after the POST too: the client's loopback origin must be allowed.
    reply.header('content-security-policy', PAGE_CSP.replace("form-action 'self'", `form-action 'self' ${new URL(checked.request.redirectUri).origin}`));
    return sendPage(reply, 200, renderConsent(checked.request, current.session.data.userName, sessionCsrfToken(current.session, authorizePurpose(checked.request))));
  });

  scope.post(AUTHORIZE_PATH, async (request, reply) => {
    const form = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Partial<FormFields>;
    const current = await reader.current(request, reply);
    const checked = await service.checkAuthorize(form, current?.session.data.userName ?? 'anonymous');
    if (checked.kind === 'page') return sendPage(reply, 400, renderDone('Cannot sign in this application', checked.message));
    if (checked.kind === 'redirect') return reply.redirect(checked.location, 303);
    if (current === null || !verifySessionCsrfToken(current.session, authorizePurpose(checked.request), form.csrf)) {
      return sendPage(reply, 403, renderDone('Nothing was changed', 'This form expired or did not come from Portico. Start the sign-in again from your terminal.'));
    }
    return reply.redirect(await service.decideAuthorize(current.session, checked.request, form.decision === 'approve'), 303);
  });
}
