/**
 * The OpenID provider over HTTP: everything under /oidc is oidc-provider's (discovery, JWKS,
 * authorization, token, userinfo, introspection, revocation, logout), except the interaction,
 * which is Portico's own sign-in: /oidc/interaction/:uid sends the browser to /sign-in and comes
 * back once a portal session exists, checks that the person is assigned to the application, and
 * hands the result back to the library. No second login page, no consent page (applications
 * are registered by an administrator).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionAccessCache } from '#src/access/session-access.ts';
import { INTERACTION_PATH, OIDC_PATH, type OidcPages, type OidcProvider } from '#src/federation/oidc/provider.ts';
import { escapeHtml, renderPageShell, sendPage, type SessionReader } from '#src/platform/http/index.ts';
import { ASSETS_PATH, PORTAL_CSP, renderRefusalPage } from './pages.ts';

/** The second-step page (src/mfa/http/routes.ts). */
const MFA_PATH = '/mfa';
/** The scopes an administrator-registered application is granted without a consent page. */
const GRANTABLE_SCOPES = new Set(['openid', 'offline_access', 'profile', 'email', 'phone', 'groups']);

export interface OidcRoutesDeps {
  oidc: OidcProvider;
  sessions: SessionReader;
  sessionAccess: Pick<SessionAccessCache, 'forSession'>;
}

function layout(title: string, body: string): string {
  return renderPageShell({ title, head: `<link rel="stylesheet" href="${ASSETS_PATH}/portal.css">`, body });
}

/** The provider's own pages (errors, logout) in Portico's look. */
export const oidcPages: OidcPages = {
  error: (title, message) => renderRefusalPage(title, message, 400),
  logoutConfirm: (applicationName, form) =>
    layout(
      'Sign out?',
      `<h1>Sign out?</h1>
<p>${applicationName === null ? 'An application' : escapeHtml(applicationName)} asks to sign you out. Signing out ends your Portico session too.</p>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>
<button type="submit" form="op.logoutForm">Stay signed in to Portico</button>`,
    ),
  loggedOut: (applicationName) =>
    layout('Signed out', `<h1>Signed out</h1>\n<p>${applicationName === null ? 'You are' : `${escapeHtml(applicationName)} signed you out; you are`} signed out.</p>\n<p><a href="/sign-in">Sign in again</a></p>`),
};

export async function registerOidcRoutes(http: FastifyInstance, deps: OidcRoutesDeps): Promise<void> {
  const { oidc } = deps;
  await http.register((scope, _options, done) => {
    // The library reads request bodies itself: Fastify leaves them unread here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null, undefined));

    scope.get<{ Params: { uid: string } }>(`${INTERACTION_PATH}/:uid`, (request, reply) => interaction(request, reply, deps));

    const handOver = (request: FastifyRequest, reply: FastifyReply): void => {
      const raw = request.raw as typeof request.raw & { originalUrl?: string };
      // Mounted like Express's app.use('/oidc', …): the library sees paths below its issuer.
      raw.originalUrl = raw.url;
      raw.url = (raw.url ?? '/').slice(OIDC_PATH.length) || '/';
      if (!raw.url.startsWith('/')) raw.url = `/${raw.url}`;
      reply.hijack();
      oidc.handle(raw, reply.raw);
    };
    scope.all(OIDC_PATH, handOver);
    scope.all(`${OIDC_PATH}/*`, handOver);
    done();
  });
}

async function interaction(request: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply, deps: OidcRoutesDeps): Promise<FastifyReply | undefined> {
  const { oidc } = deps;
  const provider = await oidc.provider();
  let details;
  try {
    details = await provider.interactionDetails(request.raw, reply.raw);
  } catch {
    return refuse(reply, 400, 'Sign-in expired', 'This sign-in request expired or was already used. Start again from the application.');
  }
  const here = `${INTERACTION_PATH}/${details.uid}`;
  const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
  const application = await oidc.applicationById(clientId);
  if (application === undefined || application.disabled) return refuse(reply, 400, 'Unknown application', 'This application is not registered with Portico, or it is disabled.');

  const current = await deps.sessions.current(request);
  const reasons = details.prompt.name === 'login' ? details.prompt.reasons : [];
  // prompt=login: a sign-in after the request arrived. The interaction remembers which portal
  // session (if any) was there when the password was asked for; only another one counts.
  const asked = details.result?.porticoSignInAsked === true;
  const staleSession = details.result?.porticoStaleSession ?? null;
  const signedInAgain = asked && current !== null && current.session.id !== staleSession;
  // max_age: a sign-in recent enough.
  const maxAge = Number(details.params.max_age);
  const recentEnough = !Number.isFinite(maxAge) || (current !== null && Date.now() - current.session.createdAt.getTime() <= maxAge * 1000);
  const fresh = (!reasons.includes('login_prompt') || signedInAgain) && (!reasons.includes('max_age') || recentEnough);
  if (current === null || !fresh) {
    if (!asked) {
      await provider.interactionResult(request.raw, reply.raw, { porticoSignInAsked: true, porticoStaleSession: current?.session.id ?? null }, { mergeWithLastSubmission: false });
    }
    const query = new URLSearchParams({ returnTo: here, ...(current !== null ? { prompt: 'login' } : {}) });
    return reply.redirect(`/sign-in?${query.toString()}`, 303);
  }
  const { session } = current;

  const { entitlements } = await deps.sessionAccess.forSession(session);
  if (!entitlements.applications.some((entry) => entry.application.id === application.id)) {
    await oidc.auditRefusal(session.data.userName, application, 'access.not_assigned', `not assigned to ${application.name}`);
    return refuse(reply, 403, 'Access refused', `You are not assigned to ${application.name}. Ask your administrator for access.`);
  }

  // acr_values / essential acr asking for MFA, or the MFA policy for this application: the
  // second step first, then back here (the step-up replaces the session by one with the factor).
  const missing = await oidc.missingFactor(session, application.id, details.params);
  if (missing !== null) {
    const query = new URLSearchParams({ returnTo: here, ...(missing === 'phishing-resistant' ? { need: 'phishing-resistant' } : {}) });
    return reply.redirect(`${MFA_PATH}?${query.toString()}`, 303);
  }

  const accountId = session.userGuid;
  const existing = details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId);
  const grant = existing ?? new provider.Grant({ accountId, clientId: application.id });
  const requested = typeof details.params.scope === 'string' ? details.params.scope.split(' ') : [];
  grant.addOIDCScope(requested.filter((scope) => GRANTABLE_SCOPES.has(scope)).join(' '));
  const grantId = await grant.save();
  const { amr, acr } = oidc.authenticationOf(session);
  reply.hijack();
  await provider.interactionFinished(
    request.raw,
    reply.raw,
    { login: { accountId, ts: Math.floor(session.createdAt.getTime() / 1000), amr, acr }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
  return undefined;
}

function refuse(reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  reply.header('content-security-policy', PORTAL_CSP);
  return sendPage(reply, status, renderRefusalPage(title, message, status));
}

const INTERACTION_RETURN = new RegExp(`^${INTERACTION_PATH}/[\\w-]+$`);

/**
 * After the sign-in form, back to an OIDC interaction. Not by a redirect: browsers apply the
 * sign-in page's `form-action 'self'` to every redirect that follows the form's POST, and the
 * chain ends at the relying party's redirect URI on another origin. A page that moves on by
 * itself (meta refresh, no script) starts a new navigation instead; null for any other return.
 */
export function continueOidcSignIn(returnTo: string, reply: FastifyReply): FastifyReply | null {
  if (!INTERACTION_RETURN.test(returnTo)) return null;
  reply.header('content-security-policy', PORTAL_CSP);
  reply.header('cache-control', 'no-store');
  const target = escapeHtml(returnTo);
  const html = layout('Signing you in', `<h1>Signing you in…</h1>\n<p><a href="${target}">Continue to the application</a></p>`).replace(
    '<meta name="robots" content="noindex">',
    `<meta name="robots" content="noindex">\n<meta http-equiv="refresh" content="0;url=${target}">`,
  );
  return sendPage(reply, 200, html);
}
