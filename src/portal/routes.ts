/**
 * The person's side of Portico over HTTP: the portal, and the SAML identity-provider endpoints
 * (metadata, single sign-on in both bindings, single logout). Decisions are the federation
 * service's; this file turns them into pages, redirects and POST forms.
 *
 * Nothing here redirects to a URL taken from a request: SAML Responses go only to an ACS URL
 * registered for the application (or the account's sign-in URL), the RelayState is handed to
 * that destination untouched, and sign-in returns only to paths on this site.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessService } from '#src/access/access-service.ts';
import type { SessionAccessCache } from '#src/access/session-access.ts';
import { requestSite } from '#src/auth/http/same-origin.ts';
import { METADATA_PATH, SLO_PATH, SSO_PATH, type Federation, type LogoutOutcome, type PendingLogout } from '#src/federation/federation.ts';
import { MAX_INFLATED_BYTES, MAX_RELAY_STATE_BYTES, decodePost, decodeRedirect } from '#src/federation/saml/binding.ts';
import type { Session } from '#src/sessions/session-store.ts';
import type { AwsSsoService } from './aws-sso/service.ts';
import { sessionCsrfToken, verifySessionCsrfToken, type SessionService } from '#src/sessions/sessions.ts';
import { createSessionReader, secureCookies, sendPage, serializeCookie, SESSION_COOKIE, useBodyPolicy, useErrorRenderer, useSecurityHeaders, type CurrentSession } from '#src/platform/http/index.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import { ASSETS_PATH, PORTAL_CSP, POST_PAGE_CSP, renderCliPage, renderLogoutConfirmPage, renderPortalPage, renderPostPage, renderRefusalPage, renderSignedOutPage, type PortalAccount } from './pages.ts';

export const PORTAL_PATH = '/portal';
/** The second-step page (src/mfa/http/routes.ts): step-up for a target that demands MFA. */
const MFA_PATH = '/mfa';
const toSecondStep = (reply: FastifyReply, returnTo: string, requirement: unknown = 'mfa'): FastifyReply =>
  reply.redirect(`${MFA_PATH}?${new URLSearchParams({ returnTo, ...(requirement === 'phishing-resistant' ? { need: 'phishing-resistant' } : {}) }).toString()}`, 303);
const CONTINUE_PATH = '/saml/continue';
/**
 * A POST-binding AuthnRequest: base64 of at most MAX_INFLATED_BYTES of XML and a RelayState of at
 * most MAX_RELAY_STATE_BYTES, each form-encoded (at worst three characters a byte), and a little
 * room. Larger bodies are refused (413) before they are read in full.
 */
const SAML_BODY_LIMIT = 3 * Math.ceil(MAX_INFLATED_BYTES / 3) * 4 + 3 * MAX_RELAY_STATE_BYTES + 4 * 1024;
const MAX_QUERY = 200;

export interface PortalDeps {
  federation: Federation;
  sessions: SessionService;
  sessionAccess: Pick<SessionAccessCache, 'forSession'>;
  access: Pick<AccessService, 'listAccounts' | 'listPermissionSets' | 'listApplications'>;
  /** Short-term credentials for the command-line page (STS through the SSO service), and the region `aws configure sso` asks for. */
  awsSso: { credentialsForSession: AwsSsoService['credentialsForSession']; region: string; startUrl: () => string };
  /** As for the sign-in routes: 'always' when Portico's public address is HTTPS. */
  cookieSecurity: 'auto' | 'always';
  /** An OIDC application's tile: its name and where its own login starts (third-party initiated login), if it has one. */
  oidcApplication?: (id: string) => Promise<{ name: string; initiateLoginUrl: string | null } | undefined>;
  clock?: () => Date;
}

const ASSETS: Readonly<Record<string, string>> = { 'portal.js': 'text/javascript; charset=utf-8', 'portal.css': 'text/css; charset=utf-8' };

/** Registers the portal and the SAML endpoints; returns what the sign-in form hands back to (see afterSignIn). */
export async function registerPortal(http: FastifyInstance, deps: PortalDeps): Promise<{ afterSignIn: AfterSignIn }> {
  const assets = new Map<string, Buffer>();
  for (const name of Object.keys(ASSETS)) assets.set(name, await readFile(new URL(name, import.meta.url)));
  await http.register((scope, _options, done) => {
    portalRoutes(scope, deps, assets);
    done();
  });
  return { afterSignIn: continueSingleSignOn(deps.federation) };
}

/** True when it answered (see SignInRoutesDeps.afterSignIn). */
type AfterSignIn = (returnTo: string, session: Session, reply: FastifyReply) => Promise<boolean>;

/**
 * A sign-in made for a waiting SAML request answers with the POST page at once, instead of a
 * redirect to /saml/continue: one exchange less for the browser, one session lookup less here.
 */
function continueSingleSignOn(federation: Federation): AfterSignIn {
  return async (returnTo, session, reply) => {
    const ref = returnTo.startsWith(`${CONTINUE_PATH}?`) ? new URLSearchParams(returnTo.slice(CONTINUE_PATH.length + 1)).get('ref') : null;
    // A fresh sign-in or a step-up first: /saml/continue asks for it and keeps the request.
    if (ref === null || (await federation.beforeResume(ref, session)) !== null) return false;
    try {
      const accepted = await federation.resume(ref);
      const form = await federation.signInToApplication(session, accepted.application, spRequest(accepted));
      reply.header('content-security-policy', POST_PAGE_CSP);
      page(reply, 200, renderPostPage(form, accepted.application.name));
    } catch (error) {
      if (!isAppError(error) || error.status >= 500) throw error;
      reply.header('content-security-policy', PORTAL_CSP);
      page(reply, error.status, renderRefusalPage(isAppError(error, 'access.not_assigned') ? 'No access' : 'Sign-in request refused', error.message, error.status));
    }
    return true;
  };
}

function portalRoutes(scope: FastifyInstance, deps: PortalDeps, assets: Map<string, Buffer>): void {
  const { federation, sessions, sessionAccess, access, clock = () => new Date() } = deps;

  const reader = createSessionReader({ sessions, cookieSecurity: deps.cookieSecurity, clock });

  useBodyPolicy(scope, { form: { limit: SAML_BODY_LIMIT } });
  useSecurityHeaders(scope, { csp: PORTAL_CSP, page: true });
  useErrorRenderer(scope, {
    name: 'portal route',
    // Fastify's own client errors are shown as Fastify words them.
    clientError: (_status, error) => ({ code: 'portal.request_refused', message: error.message }),
    intercept: async (error, request, reply) => {
      if (isAppError(error) && error.code === 'auth.session_invalid') return toSignIn(reply, request.url);
      // A target demanding MFA the session lacks: verify, then come back.
      if (isAppError(error, 'mfa.required') && request.method === 'GET') return toSecondStep(reply, request.url, error.details?.requirement);
      if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE' && (request.url.startsWith(SSO_PATH) || request.url.startsWith(SLO_PATH))) {
        // Refused before our code saw the message: audited like every other refusal of a SAML request.
        const refusal = new AppError('saml.request_too_large', `the SAML message and its RelayState are larger than ${Math.floor(SAML_BODY_LIMIT / 1024)} KiB; the RelayState may be at most ${MAX_RELAY_STATE_BYTES} bytes`, { status: 413 });
        await federation.auditRefusal(request.url.startsWith(SSO_PATH) ? 'saml.request.received' : 'saml.logout.handled', refusal);
        return refusal;
      }
      return error;
    },
    isApi: () => false,
    page: (reply, { status, message, exposed }, request, error) => {
      const shown = status >= 500 || !exposed ? 'Portico could not complete this request. Try again, or tell your administrator.' : message;
      const title = isAppError(error, 'access.not_assigned') ? 'No access' : status >= 500 ? 'Something went wrong' : request.url.startsWith(SLO_PATH) ? 'Sign-out request refused' : 'Sign-in request refused';
      return page(reply, status, renderRefusalPage(title, shown, status));
    },
  });

  const sessionOf = (request: FastifyRequest): Promise<CurrentSession | null> => reader.current(request);

  /** To the sign-in page and back; `again`: ask for the password even when a session exists. */
  function toSignIn(reply: FastifyReply, returnTo: string, again = false): FastifyReply {
    return reply.redirect(`/sign-in?${new URLSearchParams({ returnTo, ...(again ? { prompt: 'login' } : {}) }).toString()}`, 303);
  }

  function postPage(reply: FastifyReply, form: Parameters<typeof renderPostPage>[0], name: string): FastifyReply {
    reply.header('content-security-policy', POST_PAGE_CSP);
    return page(reply, 200, renderPostPage(form, name));
  }

  // ---- portal ----

  scope.get<{ Querystring: { q?: string } }>(PORTAL_PATH, async (request, reply) => {
    const current = await sessionOf(request);
    if (current === null) return toSignIn(reply, request.url);
    const { session } = current;
    const { entitlements } = await sessionAccess.forSession(session);
    const [accounts, permissionSets, applications] = await Promise.all([access.listAccounts(), access.listPermissionSets(), access.listApplications()]);
    const accountById = new Map(accounts.map((a) => [a.id, a]));
    const setById = new Map(permissionSets.map((p) => [p.id, p]));
    const appById = new Map(applications.map((a) => [a.id, a]));
    const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
    const portalAccounts: PortalAccount[] = entitlements.accounts
      .map(({ account, permissionSets: sets }) => ({
        id: account.id,
        name: account.name,
        email: accountById.get(account.id)?.email ?? '',
        permissionSets: sets.map(({ permissionSet }) => ({ id: permissionSet.id, name: permissionSet.name, description: setById.get(permissionSet.id)?.description })).sort(byName),
      }))
      .sort(byName);
    const portalApps = entitlements.applications.map(({ application }) => ({ id: application.id, name: application.name, description: appById.get(application.id)?.description })).sort(byName);
    const query = typeof request.query.q === 'string' ? request.query.q.slice(0, MAX_QUERY) : '';
    return page(
      reply,
      200,
      renderPortalPage({
        userName: session.data.userName,
        displayName: session.data.displayName,
        signOutCsrf: sessionCsrfToken(session, 'sign-out'),
        accounts: portalAccounts,
        applications: portalApps,
        query,
        groupsTruncated: entitlements.groupsTruncated,
      }),
    );
  });
  scope.get(`${PORTAL_PATH}/`, (_request, reply) => reply.redirect(PORTAL_PATH, 301));

  scope.get<{ Params: { name: string } }>(`${ASSETS_PATH}/:name`, (request, reply) => {
    const type = Object.hasOwn(ASSETS, request.params.name) ? ASSETS[request.params.name] : undefined;
    const body = assets.get(request.params.name);
    if (type === undefined || body === undefined) return reply.status(404).type('text/plain; charset=utf-8').send('not found');
    return reply.header('cache-control', 'no-cache').type(type).send(body);
  });

  // IdP-initiated: the tile. The application's own start URL when it has one (the SP then asks
  // for an assertion), else an unsolicited Response with the application's relay state — never
  // a relay state from the link.
  scope.get<{ Params: { id: string } }>(`${PORTAL_PATH}/applications/:id`, async (request, reply) => {
    const current = await sessionOf(request);
    if (current === null) return toSignIn(reply, request.url);
    const application = await federation.applicationById(request.params.id);
    if (application === undefined) {
      const oidcApplication = await deps.oidcApplication?.(request.params.id);
      if (oidcApplication === undefined) throw new AppError('access.not_found', 'there is no such application', { status: 404 });
      // An OIDC application signs people in itself (through Portico): the tile opens its login start.
      const { entitlements } = await sessionAccess.forSession(current.session);
      if (!entitlements.applications.some((entry) => entry.application.id === request.params.id)) {
        throw new AppError('access.not_assigned', `you are not assigned to ${oidcApplication.name}: ask your administrator for access`, { status: 403 });
      }
      if (oidcApplication.initiateLoginUrl !== null) return reply.redirect(oidcApplication.initiateLoginUrl, 303);
      reply.header('content-security-policy', PORTAL_CSP);
      return page(reply, 200, renderRefusalPage(oidcApplication.name, `Open ${oidcApplication.name} directly: it signs you in through Portico.`, 200));
    }
    const acsUrl = application.acsUrls[0];
    if (application.startUrl !== undefined) {
      // Only after the access check: the start URL of an application is not for everyone to learn.
      const { entitlements } = await sessionAccess.forSession(current.session);
      if (entitlements.applications.some((entry) => entry.application.id === application.id)) return reply.redirect(application.startUrl, 303);
    }
    if (acsUrl === undefined) throw new AppError('saml.acs_url_not_registered', 'the application has no ACS URL', { status: 500 });
    const form = await federation.signInToApplication(current.session, application, { acsUrl, relayState: application.relayState });
    return postPage(reply, form, application.name);
  });

  scope.get<{ Params: { accountId: string; permissionSetId: string; purpose: string } }>(`${PORTAL_PATH}/accounts/:accountId/:permissionSetId/:purpose`, async (request, reply) => {
    const { accountId, permissionSetId, purpose } = request.params;
    if (purpose !== 'console' && purpose !== 'cli') throw new AppError('access.not_found', 'no such page', { status: 404 });
    const current = await sessionOf(request);
    if (current === null) return toSignIn(reply, request.url);
    if (purpose === 'console') {
      const result = await federation.signInToAccount(current.session, accountId, permissionSetId, purpose);
      return postPage(reply, result.form, `${result.account.name} (${result.permissionSet.name})`);
    }
    let credentials: Parameters<typeof renderCliPage>[0]['credentials'];
    let names: { accountName: string; permissionSetName: string };
    try {
      const c = await deps.awsSso.credentialsForSession(current.session, accountId, permissionSetId);
      credentials = c;
      names = { accountName: c.accountName, permissionSetName: c.roleName };
    } catch (error) {
      // Not assigned (and anything else we did not expect) is a refusal page; an STS problem is shown on the page.
      if (!isAppError(error) || (error.code !== 'federation.sts_refused' && error.code !== 'federation.sts_unavailable')) throw error;
      const [account, set] = await Promise.all([access.listAccounts(), access.listPermissionSets()]);
      credentials = { error: error.message };
      names = { accountName: account.find((a) => a.id === accountId)?.name ?? accountId, permissionSetName: set.find((p) => p.id === permissionSetId)?.name ?? permissionSetId };
    }
    reply.header('cache-control', 'no-store');
    return page(reply, 200, renderCliPage({ ...names, accountId, startUrl: deps.awsSso.startUrl(), region: deps.awsSso.region, credentials }));
  });

  // ---- SAML identity provider ----

  scope.get(METADATA_PATH, (_request, reply) =>
    reply.header('cache-control', 'max-age=300').type('application/samlmetadata+xml; charset=utf-8').header('content-disposition', 'inline; filename="portico-idp-metadata.xml"').send(federation.metadata()),
  );

  async function singleSignOn(request: FastifyRequest, reply: FastifyReply, message: Parameters<Federation['receiveAuthnRequest']>[0]): Promise<FastifyReply> {
    const accepted = await federation.receiveAuthnRequest(message);
    const current = await sessionOf(request);
    // A context no sign-in here can give: the SP hears NoAuthnContext at once.
    const unsatisfiable = await federation.refuseUnsatisfiable(accepted, current?.session ?? null);
    if (unsatisfiable !== null) return postPage(reply, unsatisfiable, accepted.application.name);
    if (current === null || accepted.request.forceAuthn) {
      if (current === null && accepted.request.isPassive) return postPage(reply, federation.noPassive(accepted), accepted.application.name);
      return toSignIn(reply, `${CONTINUE_PATH}?${new URLSearchParams({ ref: await federation.park(accepted, request.ip) }).toString()}`, current !== null);
    }
    const missing = await federation.stepUpForRequest(accepted, current.session);
    if (missing !== null) {
      // IsPassive forbids asking the person anything, a second factor included.
      if (accepted.request.isPassive) return postPage(reply, federation.noPassive(accepted), accepted.application.name);
      return toSecondStep(reply, `${CONTINUE_PATH}?${new URLSearchParams({ ref: await federation.park(accepted, request.ip) }).toString()}`, missing);
    }
    const form = await federation.signInToApplication(current.session, accepted.application, spRequest(accepted));
    return postPage(reply, form, accepted.application.name);
  }

  // Decoding is handed over unevaluated, so that its refusals are audited with the others.
  scope.get(SSO_PATH, (request, reply) => singleSignOn(request, reply, () => decodeRedirect(rawQuery(request))));
  scope.post(SSO_PATH, (request, reply) => singleSignOn(request, reply, () => decodePost(formFields(request))));

  scope.get<{ Querystring: { ref?: string } }>(CONTINUE_PATH, async (request, reply) => {
    const current = await sessionOf(request);
    if (current === null) return toSignIn(reply, request.url);
    const ref = typeof request.query.ref === 'string' ? request.query.ref : '';
    // ForceAuthn: the password again after the request arrived, whatever session there is.
    const before = await federation.beforeResume(ref, current.session);
    if (before === 'sign-in') return toSignIn(reply, request.url, true);
    if (before !== null) return toSecondStep(reply, request.url, before);
    const accepted = await federation.resume(ref);
    const form = await federation.signInToApplication(current.session, accepted.application, spRequest(accepted));
    return postPage(reply, form, accepted.application.name);
  });

  function loggedOut(request: FastifyRequest, reply: FastifyReply, result: LogoutOutcome & { kind: 'done' }): FastifyReply {
    if (result.ended) reply.header('set-cookie', serializeCookie(SESSION_COOKIE, '', { maxAge: 0, secure: secureCookies(request, deps.cookieSecurity) }));
    if (result.redirect !== null) return reply.redirect(result.redirect, 303);
    return page(reply, 200, renderSignedOutPage(result.application.name));
  }

  scope.get(SLO_PATH, async (request, reply) => {
    const current = await sessionOf(request);
    const endSession = async () => {
      if (current !== null) await sessions.signOut(current.token);
    };
    // An unsigned request ends the session at once only when the browser says it came from this site.
    const sameSite = requestSite(request, { useFetchMetadata: true }).verdict === 'same';
    const result = await federation.logout(() => decodeRedirect(rawQuery(request)), current?.session ?? null, endSession, { sameSite });
    if (result.kind === 'done') return loggedOut(request, reply, result);
    if (current === null) throw new AppError('auth.session_invalid', 'sign in again', { status: 401 });
    const fields = { ...logoutFields(result.pending), csrf: sessionCsrfToken(current.session, logoutPurpose(result.pending)) };
    return page(reply, 200, renderLogoutConfirmPage(result.application.name, SLO_PATH, fields));
  });

  // The confirmation of an unsigned logout: the token binds it to this session and to this logout.
  scope.post(SLO_PATH, async (request, reply) => {
    const current = await sessionOf(request);
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    const text = (name: string): string | undefined => (typeof body[name] === 'string' ? body[name] : undefined);
    if (text('SAMLRequest') !== undefined) {
      const refusal = new AppError('saml.binding_unsupported', 'Portico receives LogoutRequests over HTTP-Redirect only, not HTTP-POST', { status: 400 });
      await federation.auditRefusal('saml.logout.handled', refusal);
      throw refusal;
    }
    const pending: PendingLogout = { applicationId: text('applicationId') ?? '', inResponseTo: text('inResponseTo') ?? '', relayState: text('relayState') };
    if (current === null) return page(reply, 200, renderRefusalPage('Already signed out', 'You are not signed in to Portico.', 200));
    if (!verifySessionCsrfToken(current.session, logoutPurpose(pending), text('csrf'))) {
      const refusal = new AppError('auth.csrf_failed', 'this sign-out form expired or did not come from Portico; nothing was changed', { status: 403 });
      await federation.auditRefusal('saml.logout.handled', refusal);
      throw refusal;
    }
    const result = await federation.finishLogout(current.session, pending, () => sessions.signOut(current.token).then(() => undefined));
    return loggedOut(request, reply, result);
  });
}

function logoutFields(pending: PendingLogout): Record<string, string> {
  return { applicationId: pending.applicationId, inResponseTo: pending.inResponseTo, ...(pending.relayState === undefined ? {} : { relayState: pending.relayState }) };
}

/** The confirmation token's purpose names the logout, so a token cannot confirm another one. */
const logoutPurpose = (pending: PendingLogout): string => `saml-logout\n${pending.applicationId}\n${pending.inResponseTo}\n${pending.relayState === undefined ? '-' : `=${pending.relayState}`}`;

const page = sendPage;

/** What answering an SP's request needs: where, to which request, and the authentication context it asked for. */
function spRequest(accepted: Awaited<ReturnType<Federation['resume']>>) {
  return { acsUrl: accepted.acsUrl, inResponseTo: accepted.request.id, relayState: accepted.relayState, requestedAuthnContext: accepted.request.requestedAuthnContext };
}

/** The query string exactly as sent: HTTP-Redirect signatures cover its encoded form. */
function rawQuery(request: FastifyRequest): string {
  const index = request.url.indexOf('?');
  return index === -1 ? '' : request.url.slice(index + 1);
}

function formFields(request: FastifyRequest): Record<string, unknown> {
  if (typeof request.body !== 'object' || request.body === null) {
    throw new AppError('saml.request_malformed', 'send the SAMLRequest as an HTML form post (application/x-www-form-urlencoded)', { status: 400 });
  }
  return request.body as Record<string, unknown>;
}
