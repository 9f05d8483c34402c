/**
 * Portico as an OpenID Provider, on oidc-provider (panva; OpenID-certified): the library speaks
 * the protocol, Portico decides. What Portico supplies:
 *
 * - clients: the OIDC applications of the access model (a disabled one is unknown to the library);
 * - accounts: identity-store users keyed by objectGUID; `sub` is pairwise per client by default;
 * - the interaction: no page of its own — /oidc/interaction/:uid sends the browser to Portico's
 *   sign-in page and resumes once a portal session exists (http.ts);
 * - assignment: only users assigned to the application (directly or through nested AD groups)
 *   get tokens; checked at the interaction from the session, and again from the directory
 *   whenever a token is issued from a grant (code exchange, refresh) or userinfo is asked;
 * - state: every grant, code and token in the database through the adapter (payload-store.ts);
 * - keys: ES256 by default, RS256 on request, rotated with overlap (keys.ts);
 * - the audit log: every grant, refresh, refusal and logout.
 *
 * The provider is built at the first request (the issuer needs the public URL, known only once
 * the server listens) and built again when the signing keys change.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as OidcProviderLibrary from 'oidc-provider';
import type { Provider, OidcClient, OidcContext } from 'oidc-provider';
import type { UserGroup } from '#src/access/evaluation.ts';
import type { AccessService } from '#src/access/access-service.ts';
import { DEFAULT_CLAIM_MAPPINGS, type StoredOidcApplication } from '#src/access/oidc-application.ts';
import type { AuditLog } from '#src/audit/index.ts';
import type { AuditAction } from '#src/audit/actions.ts';
import type { IdentityUser, IdentityUserReader } from '#src/identity-store/user.ts';
import type { Session } from '#src/sessions/session-store.ts';
import { durationMinutes } from '#src/shared/duration.ts';
import { oidcErrorCode, type ErrorCode } from '#src/shared/errors.ts';
import { expandTemplate } from '../saml/attributes.ts';
import type { OidcSigningKeys } from './keys.ts';
import type { OidcPayloadStore } from './payload-store.ts';

export const OIDC_PATH = '/oidc';
export const INTERACTION_PATH = `${OIDC_PATH}/interaction`;
/** How long a person has to sign in once an application sent them here. */
export const INTERACTION_TTL_SECONDS = 60 * 60;

/** How a portal session was authenticated; password today, the MFA factors once MFA exists. */
export interface SessionAuthentication {
  amr: string[];
  acr: string;
}
export const PASSWORD_ONLY: SessionAuthentication = { amr: ['pwd'], acr: 'urn:portico:acr:password' };
/** The acr of a session with a second factor; `acr_values` (or an essential acr claim) asking for it sends a password-only session through the MFA step. */
export const MFA_ACR = 'urn:portico:acr:mfa';

/** Why a portal session ended: a sign-out or a plain expiry keeps offline grants (as RP-initiated logout does); the others end them all. */
export type PortalSessionEnding = 'signed_out' | 'expired' | 'revoked' | 'user_gone' | 'user_disabled';

/** Waits before the 2nd, 3rd… attempt of a logout token the application did not accept. */
export const LOGOUT_RETRY_DELAYS_MS: readonly number[] = [2_000, 10_000, 30_000];
/** Logout tokens waiting for a retry at most; beyond, a failure is final (and audited). */
const MAX_PENDING_LOGOUT_RETRIES = 1000;
/** Expired portal sessions handled per sweep. */
const EXPIRY_SWEEP_BATCH = 200;

/** Which provider sessions were started from a portal session (model name in the payload store; id = portal session id). */
const PORTAL_LINK_MODEL = 'PorticoPortalSession';

export interface PortalSessionRef {
  session: Session;
  token: string;
}

export interface OidcProviderOptions {
  /** Portico's public base URL without a trailing slash; the issuer is `<baseUrl>/oidc`. */
  baseUrl: () => string;
  store: OidcPayloadStore;
  keys: OidcSigningKeys;
  /** Keys that sign the provider's cookies: the same on every instance (derived from the instance key). */
  cookieKeys: string[];
  access: Pick<AccessService, 'listOidcApplications' | 'generation' | 'groupsOfUserGuid' | 'entitlementsOf'>;
  /** Opens a confidential client's sealed secret. */
  openSecret: (application: StoredOidcApplication) => string;
  users: Pick<IdentityUserReader, 'findByGuid'>;
  audit: AuditLog;
  /** Secret behind pairwise subject identifiers (derived from the instance key: never changes). */
  pairwiseSecret: Buffer;
  /** The portal session named by a Cookie header, if it is alive. */
  portalSession: (cookieHeader: string | undefined) => Promise<PortalSessionRef | null>;
  /** Ends a portal session (RP-initiated logout ends Portico's session too). */
  endPortalSession: (token: string) => Promise<void>;
  /** The Set-Cookie value that clears the portal session cookie. */
  clearPortalCookie: () => string;
  /** The MFA hook: amr/acr of a session. Password only until MFA exists. */
  authenticationOf?: (session: Session) => SessionAuthentication;
  /** What the MFA policy still asks of this session for the application (its per-application requirement), or null. */
  stepUp?: (session: Session, applicationId: string) => Promise<'mfa' | 'phishing-resistant' | null>;
  /** Pages in Portico's look (errors, logout confirmation). */
  pages: OidcPages;
  /** Retries of a logout token that was not accepted (default LOGOUT_RETRY_DELAYS_MS). */
  logoutRetryDelaysMs?: readonly number[];
  clock?: () => Date;
  log?: { warn(details: Record<string, unknown>, message: string): void; error(details: Record<string, unknown>, message: string): void };
}

export interface OidcPages {
  error(title: string, message: string): string;
  logoutConfirm(applicationName: string | null, form: string): string;
  loggedOut(applicationName: string | null): string;
}

const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'phone', 'groups'];
// acr, amr and auth_time ride with `openid`: relying parties (and the MFA work) read them from every ID token.
const CLAIMS = {
  sid: null,
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'locale', 'zoneinfo'],
  email: ['email', 'email_verified'],
  phone: ['phone_number'],
  groups: ['groups'],
};

type Authorization = { ok: true; user: IdentityUser; groups: UserGroup[]; assignedGroups: Set<string> } | { ok: false; code: 'oidc.user_unknown' | 'access.not_assigned' | 'oidc.application_unknown'; reason: string };

/**
 * The groups claim's values: AD security groups (nested membership resolved), optionally only
 * those with a prefix, and/or only those the application is assigned to (`assignedGroups`: the
 * objectGUIDs of the groups named by the application's assignments that gave this user access).
 */
export function groupsClaim(application: StoredOidcApplication, groups: readonly UserGroup[], assignedGroups: ReadonlySet<string> = new Set()): string[] | undefined {
  if (!application.groupsClaim.enabled) return undefined;
  const prefix = application.groupsClaim.prefix?.toLowerCase();
  const eligible = application.groupsClaim.assignedOnly === true ? groups.filter((g) => assignedGroups.has(g.guid.toLowerCase())) : groups;
  const names = eligible.map((g) => g.qualifiedName.split('@')[0] ?? g.qualifiedName);
  return [...new Set(prefix === undefined || prefix === '' ? names : names.filter((name) => name.toLowerCase().startsWith(prefix)))].sort();
}

/** Whether an authorization request asks for MFA: `acr_values` naming it, or an essential `acr` claim that only it satisfies. */
export function requestsMfa(params: Record<string, unknown>): boolean {
  const acrValues = typeof params.acr_values === 'string' ? params.acr_values.split(' ') : [];
  if (acrValues.includes(MFA_ACR)) return true;
  if (typeof params.claims !== 'string') return false;
  try {
    const claims = JSON.parse(params.claims) as { id_token?: { acr?: { essential?: boolean; value?: unknown; values?: unknown } }; userinfo?: { acr?: { essential?: boolean; value?: unknown; values?: unknown } } };
    const acr = claims.id_token?.acr ?? claims.userinfo?.acr;
    if (acr?.essential !== true) return false;
    const wanted = Array.isArray(acr.values) ? acr.values : acr.value === undefined ? [] : [acr.value];
    return wanted.length > 0 && wanted.every((value) => value === MFA_ACR);
  } catch {
    return false;
  }
}

/** The profile/email/phone claims of a user for an application: its mappings over the defaults. */
export function profileClaims(application: StoredOidcApplication, user: IdentityUser): Record<string, string> {
  const mappings = new Map<string, string>(DEFAULT_CLAIM_MAPPINGS.map((m) => [m.claim, m.value]));
  for (const mapping of application.claimMappings) mappings.set(mapping.claim, mapping.value);
  const claims: Record<string, string> = {};
  for (const [claim, template] of mappings) {
    const value = expandTemplate(template, user, [])[0];
    if (value !== undefined) claims[claim] = value;
  }
  return claims;
}

const seconds = (duration: string, fallbackMinutes: number): number => 60 * (durationMinutes(duration) ?? fallbackMinutes);

export type OidcProvider = ReturnType<typeof createOidcProvider>;

export function createOidcProvider(options: OidcProviderOptions) {
  const { store, keys, access, users, audit, pages } = options;
  const authenticationOf = options.authenticationOf ?? (() => PASSWORD_ONLY);

  // ---- applications, cached until an administrator changes one ----
  let cache: { generation: number; byId: Map<string, StoredOidcApplication> } | null = null;
  async function applications(): Promise<Map<string, StoredOidcApplication>> {
    const generation = access.generation();
    if (cache === null || cache.generation !== generation) cache = { generation, byId: new Map((await access.listOidcApplications()).map((app) => [app.id, app])) };
    return cache.byId;
  }
  const applicationById = async (id: string): Promise<StoredOidcApplication | undefined> => (await applications()).get(id);
  const applicationOf = (client: OidcClient | undefined) => (client === undefined ? undefined : cache?.byId.get(client.clientId));

  function clientMetadata(app: StoredOidcApplication): Record<string, unknown> {
    const confidential = app.clientType === 'confidential';
    const method = confidential ? app.tokenEndpointAuthMethod : 'none';
    return {
      client_id: app.id,
      client_name: app.name,
      ...(confidential && app.clientSecretSealed !== undefined ? { client_secret: options.openSecret(app) } : {}),
      token_endpoint_auth_method: method,
      introspection_endpoint_auth_method: method,
      revocation_endpoint_auth_method: method,
      grant_types: app.grantTypes,
      response_types: app.grantTypes.includes('authorization_code') ? ['code'] : [],
      redirect_uris: app.redirectUris,
      post_logout_redirect_uris: app.postLogoutRedirectUris,
      subject_type: app.subjectType,
      id_token_signed_response_alg: app.idTokenSigningAlg,
      ...(app.initiateLoginUri === undefined ? {} : { initiate_login_uri: app.initiateLoginUri }),
      ...(app.backchannelLogoutUri === undefined ? {} : { backchannel_logout_uri: app.backchannelLogoutUri, backchannel_logout_session_required: true }),
    };
  }

  /** What the portal session still lacks for this authorization request: MFA asked by the application (acr) or by the policy. */
  async function missingFactor(session: Session, applicationId: string, params: Record<string, unknown>): Promise<'mfa' | 'phishing-resistant' | null> {
    const byPolicy = (await options.stepUp?.(session, applicationId)) ?? null;
    if (byPolicy !== null) return byPolicy;
    return requestsMfa(params) && authenticationOf(session).acr !== MFA_ACR ? 'mfa' : null;
  }

  // ---- who may have tokens ----
  function auditAsync(event: Parameters<AuditLog['record']>[0]): void {
    audit.record(event).catch((error: unknown) => options.log?.error({ err: error, action: event.action }, 'audit record failed'));
  }

  /** Fresh from the directory: the user still exists there and is assigned to the application. */
  async function authorizeFromDirectory(guid: string, app: StoredOidcApplication): Promise<Authorization> {
    const user = await users.findByGuid(guid);
    if (user === undefined) return { ok: false, code: 'oidc.user_unknown', reason: 'the user was removed from Portico' };
    const read = await access.groupsOfUserGuid(guid);
    if (read === null) return { ok: false, code: 'oidc.user_unknown', reason: 'the user no longer exists in the directory' };
    const entitlements = await access.entitlementsOf(guid, read.groups, read.truncated);
    const entry = entitlements.applications.find((candidate) => candidate.application.id === app.id);
    if (entry === undefined) return { ok: false, code: 'access.not_assigned', reason: `not assigned to ${app.name}` };
    const assignedGroups = new Set(entry.grants.flatMap((grant) => (grant.type === 'group' ? [grant.guid.toLowerCase()] : [])));
    return { ok: true, user, groups: read.groups, assignedGroups };
  }

  // One directory check per request, however often the library asks for the account.
  const checked = new WeakMap<object, Map<string, Promise<Authorization>>>();
  function authorizeOnce(ctx: OidcContext, guid: string, app: StoredOidcApplication): Promise<Authorization> {
    let perRequest = checked.get(ctx);
    if (perRequest === undefined) checked.set(ctx, (perRequest = new Map<string, Promise<Authorization>>()));
    let pending = perRequest.get(`${guid}\n${app.id}`);
    if (pending === undefined) perRequest.set(`${guid}\n${app.id}`, (pending = authorizeFromDirectory(guid, app)));
    return pending;
  }

  async function findAccount(ctx: OidcContext, sub: string): Promise<{ accountId: string; claims: (use: string, scope: string) => Promise<Record<string, unknown>> } | undefined> {
    const client = ctx.oidc.client;
    const app = client === undefined ? undefined : await applicationById(client.clientId);
    if (app === undefined || app.disabled) return undefined;
    const verdict = await authorizeOnce(ctx, sub, app);
    if (!verdict.ok) {
      // Once per request: the library may ask again for the same account.
      if (!refusedAudited.has(ctx)) {
        refusedAudited.add(ctx);
        auditAsync({ actor: sub, action: 'oidc.authorization.refused', target: app.id, outcome: 'failure', errorCode: verdict.code, details: { reason: verdict.reason, route: ctx.oidc.route ?? null } });
      }
      return undefined;
    }
    actors.set(ctx, verdict.user.userName);
    return {
      accountId: sub,
      claims(_use, scope) {
        const scopes = new Set(scope.split(' '));
        const profile = profileClaims(app, verdict.user);
        const groups = scopes.has('groups') ? groupsClaim(app, verdict.groups, verdict.assignedGroups) : undefined;
        return Promise.resolve({
          sub,
          ...profile,
          ...(profile.email === undefined ? {} : { email_verified: true }),
          ...(groups === undefined ? {} : { groups }),
        });
      },
    };
  }
  const refusedAudited = new WeakSet<object>();
  const actors = new WeakMap<object, string>();

  // ---- the provider ----
  let built: { issuer: string; provider: Provider; handler: (req: IncomingMessage, res: ServerResponse) => void } | null = null;
  let keysChanged = false;

  function build(issuer: string, library: typeof OidcProviderLibrary) {
    const { Provider, interactionPolicy } = library;
    const policy = interactionPolicy.base();
    // The provider's own session follows Portico's: without a live portal session of the same
    // person, it asks for a sign-in (and prompt=none answers login_required).
    policy.get('login').checks.add(
      new interactionPolicy.Check('portico_session', 'the Portico session ended or belongs to someone else', 'login_required', async (ctx) => {
        const portal = await options.portalSession(ctx.get('cookie') || undefined);
        return portal === null || portal.session.userGuid !== ctx.oidc.session?.accountId;
      }),
      0,
    );
    // acr_values=urn:portico:acr:mfa (or an essential acr claim) on a provider session signed in
    // with a password only, or the MFA policy asking more of the portal session for this
    // application: the interaction sends the person through the MFA step; with prompt=none the
    // relying party gets interaction_required.
    policy.get('login').checks.add(
      new interactionPolicy.Check('portico_mfa', 'the application asks for multi-factor authentication', 'interaction_required', async (ctx) => {
        const params = ctx.oidc.params ?? {};
        if (requestsMfa(params) && ctx.oidc.session?.acr !== MFA_ACR) return true;
        const clientId = ctx.oidc.client?.clientId;
        const portal = clientId === undefined ? null : await options.portalSession(ctx.get('cookie') || undefined);
        return portal !== null && clientId !== undefined && (await missingFactor(portal.session, clientId, params)) !== null;
      }),
    );

    const ttlOf = (field: 'accessTokenLifetime' | 'idTokenLifetime' | 'refreshTokenLifetime', fallbackMinutes: number) => (_ctx: OidcContext, _token: unknown, client: OidcClient | undefined) => {
      const app = applicationOf(client);
      return app === undefined ? fallbackMinutes * 60 : seconds(app[field], fallbackMinutes);
    };

    const provider = new Provider(issuer, {
      adapter: adapterFor(store, async (id) => {
        const app = await applicationById(id);
        return app === undefined || app.disabled ? undefined : clientMetadata(app);
      }),
      findAccount,
      jwks: keys.privateJwks(),
      cookies: { keys: options.cookieKeys },
      claims: CLAIMS,
      scopes: SCOPES,
      subjectTypes: ['public', 'pairwise'],
      pairwiseIdentifier: (_ctx: OidcContext, accountId: string, client: OidcClient) =>
        createHmac('sha256', options.pairwiseSecret).update(`oidc-sub\n${client.clientId}\n${accountId.toLowerCase()}`).digest('base64url'),
      clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code'], response_types: ['code'] },
      enabledJWA: { idTokenSigningAlgValues: ['ES256', 'RS256'], userinfoSigningAlgValues: ['ES256', 'RS256'], introspectionSigningAlgValues: ['ES256', 'RS256'] },
      clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
      responseTypes: ['code'],
      pkce: { required: (_ctx: OidcContext, client: OidcClient) => client.clientAuthMethod === 'none' },
      acrValues: [PASSWORD_ONLY.acr, MFA_ACR],
      conformIdTokenClaims: false,
      // Every client with the refresh_token grant gets a refresh token, rotated at each use; a
      // reused one revokes its whole grant (the library's reuse detection).
      issueRefreshToken: (_ctx: OidcContext, client: OidcClient) => client.grantTypeAllowed('refresh_token'),
      rotateRefreshToken: true,
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        // A client learns about, and revokes, its own tokens only.
        introspection: { enabled: true, allowedPolicy: (_ctx: OidcContext, client: OidcClient, token: { clientId?: string }) => token.clientId === client.clientId },
        revocation: { enabled: true, allowedPolicy: (_ctx: OidcContext, client: OidcClient, token: { clientId?: string }) => token.clientId === client.clientId },
        userinfo: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: (ctx: OidcContext, form: string) => {
            ctx.type = 'html';
            ctx.body = pages.logoutConfirm(ctx.oidc.client?.clientName ?? null, form);
          },
          postLogoutSuccessSource: (ctx: OidcContext) => {
            ctx.type = 'html';
            ctx.body = pages.loggedOut(ctx.oidc.client?.clientName ?? null);
          },
        },
        registration: { enabled: false },
        // Logout tokens to applications with a backchannel_logout_uri, on RP-initiated logout
        // here and whenever the Portico session ends (endedPortalSessions below).
        backchannelLogout: { enabled: true },
      },
      interactions: { policy, url: (_ctx: OidcContext, interaction: { uid: string }) => `${INTERACTION_PATH}/${interaction.uid}` },
      ttl: {
        AccessToken: ttlOf('accessTokenLifetime', 60),
        ClientCredentials: ttlOf('accessTokenLifetime', 60),
        IdToken: ttlOf('idTokenLifetime', 60),
        RefreshToken: ttlOf('refreshTokenLifetime', 14 * 24 * 60),
        AuthorizationCode: 60,
        Interaction: INTERACTION_TTL_SECONDS,
        Session: 14 * 24 * 60 * 60,
        Grant: 14 * 24 * 60 * 60,
      },
      // The library's outgoing requests (logout tokens only: no dynamic registration, no
      // request_uri, no jwks_uri) skip its guard against private and loopback addresses: the
      // URIs are set by administrators, and on-premises applications live on private networks.
      fetch: (url: string | URL, init: RequestInit & { dispatcher?: unknown }) => {
        const unguarded = { ...init };
        delete unguarded.dispatcher;
        return fetch(url, unguarded);
      },
      clientBasedCORS: (_ctx: OidcContext, origin: string, client: OidcClient) => client.redirectUris.some((uri) => new URL(uri).origin === origin),
      renderError: (ctx: OidcContext, out: { error?: string; error_description?: string }) => {
        ctx.type = 'html';
        ctx.body = pages.error('Sign-in refused', out.error_description ?? out.error ?? 'the request was refused');
      },
    });
    // Behind a TLS-terminating proxy the issuer's scheme comes from X-Forwarded-Proto.
    provider.proxy = true;

    wireAudit(provider);
    // RP-initiated logout with "sign me out" ends the portal session too.
    provider.use(async (ctx, next) => {
      await next();
      if (loggedOut.has(ctx)) {
        const portal = await options.portalSession(ctx.get('cookie') || undefined);
        if (portal !== null) await options.endPortalSession(portal.token);
        ctx.append('Set-Cookie', options.clearPortalCookie());
      }
      const linking = links.get(ctx);
      if (linking !== undefined) await linking;
    });
    return provider;
  }

  const loggedOut = new WeakSet<object>();
  const links = new WeakMap<object, Promise<void>>();

  /** Remembers that this provider session came from the portal session in the request's cookie, until that one ends. */
  async function linkPortalSession(ctx: OidcContext): Promise<void> {
    const uid = ctx.oidc.session?.uid;
    if (uid === undefined || ctx.oidc.session?.accountId === undefined) return;
    const portal = await options.portalSession(ctx.get('cookie') || undefined);
    if (portal === null) return;
    const now = new Date();
    const existing = await store.find(PORTAL_LINK_MODEL, portal.session.id, now);
    const uids = Array.isArray(existing?.payload.uids) ? (existing.payload.uids as string[]) : [];
    if (uids.includes(uid)) return;
    await store.upsert(PORTAL_LINK_MODEL, portal.session.id, { uids: [...uids, uid].slice(-20) }, portal.session.expiresAt);
  }

  /**
   * Portal sessions ended: every provider session started from them ends too, each application
   * with a back-channel logout URI that had a grant from it gets a logout token, and the grants
   * go (on a sign-out, offline_access grants stay, as after RP-initiated logout).
   */
  async function endedPortalSessions(portalSessionIds: readonly string[], reason: PortalSessionEnding): Promise<void> {
    const now = new Date();
    for (const portalSessionId of portalSessionIds) {
      const link = await store.find(PORTAL_LINK_MODEL, portalSessionId, now);
      if (link === undefined) continue;
      await store.destroy(PORTAL_LINK_MODEL, portalSessionId);
      await endProviderSessions(link.payload, reason);
    }
  }

  async function endProviderSessions(link: Record<string, unknown>, reason: PortalSessionEnding): Promise<void> {
    const provider = (await current()).provider;
    for (const uid of Array.isArray(link.uids) ? (link.uids as string[]) : []) {
      const session = await provider.Session.findByUid(uid);
      if (session?.accountId === undefined) continue;
      const accountId = session.accountId;
      await Promise.all(
        Object.entries(session.authorizations ?? {}).map(async ([clientId, authorization]) => {
          const client = await provider.Client.find(clientId);
          // Not awaited: the sign-out (or the sweep) does not wait for applications, nor for retries.
          if (client?.backchannelLogoutUri !== undefined) deliverLogout(client, accountId, authorization.sid, reason, 1);
          const keepsOffline = reason === 'signed_out' || reason === 'expired';
          if (authorization.grantId !== undefined && (!keepsOffline || authorization.persistsLogout !== true)) await store.revokeByGrantId(authorization.grantId);
        }),
      );
      await session.destroy();
    }
  }

  // ---- logout tokens: retried a few times with growing waits, never holding up a request ----
  const retryDelays = options.logoutRetryDelaysMs ?? LOGOUT_RETRY_DELAYS_MS;
  const retryTimers = new Set<NodeJS.Timeout>();
  function logoutFailed(client: OidcClient, accountId: string, sid: string | undefined, reason: PortalSessionEnding | 'rp_logout', attempt: number, error: unknown): void {
    const delay = retryDelays[attempt - 1];
    if (delay !== undefined && retryTimers.size < MAX_PENDING_LOGOUT_RETRIES) {
      const timer = setTimeout(() => {
        retryTimers.delete(timer);
        deliverLogout(client, accountId, sid, reason, attempt + 1);
      }, delay);
      timer.unref();
      retryTimers.add(timer);
      return;
    }
    auditAsync({
      actor: 'system', action: 'oidc.backchannel_logout.sent', target: client.clientId, outcome: 'failure', errorCode: 'oidc.backchannel_logout_failed',
      details: { userGuid: accountId, reason, attempts: attempt, error: error instanceof Error ? error.message.slice(0, 200) : null },
    });
  }
  function deliverLogout(client: OidcClient, accountId: string, sid: string | undefined, reason: PortalSessionEnding | 'rp_logout', attempt: number): void {
    client.backchannelLogout(accountId, sid).then(
      () => auditAsync({ actor: 'system', action: 'oidc.backchannel_logout.sent', target: client.clientId, outcome: 'success', details: { userGuid: accountId, reason, attempts: attempt } }),
      (error: unknown) => logoutFailed(client, accountId, sid, reason, attempt, error),
    );
  }

  /** Portal sessions that simply expired: their applications get logout tokens as after a sign-out. */
  async function sweepExpired(): Promise<number> {
    const expired = await store.takeExpired(PORTAL_LINK_MODEL, (options.clock ?? (() => new Date()))(), EXPIRY_SWEEP_BATCH);
    for (const link of expired) await endProviderSessions(link.payload, 'expired');
    return expired.length;
  }
  const reusing = new WeakSet<object>();

  function wireAudit(provider: Provider): void {
    const clientOf = (ctx: OidcContext) => ctx.oidc.client?.clientId ?? null;
    const grantTypeOf = (ctx: OidcContext) => (typeof ctx.oidc.params?.grant_type === 'string' ? ctx.oidc.params.grant_type : null);
    const actionOf = (ctx: OidcContext): AuditAction => (grantTypeOf(ctx) === 'refresh_token' ? 'oidc.token.refreshed' : 'oidc.token.granted');
    provider.on('grant.success', (ctx: OidcContext) => {
      const grantType = grantTypeOf(ctx);
      const actor = actors.get(ctx) ?? (grantType === 'client_credentials' ? `client:${clientOf(ctx) ?? '?'}` : 'anonymous');
      auditAsync({ actor, action: actionOf(ctx), target: clientOf(ctx), outcome: 'success', details: { grantType } });
    });
    provider.on('grant.error', (ctx: OidcContext, error: { error?: string; error_description?: string }) => {
      const grantType = grantTypeOf(ctx);
      const action: AuditAction = reusing.has(ctx) ? 'oidc.refresh_token.reused' : actionOf(ctx);
      auditAsync({ actor: actors.get(ctx) ?? 'anonymous', action, target: clientOf(ctx), outcome: 'failure', errorCode: oidcErrorCode(error.error), details: { grantType, reason: error.error_description ?? null } });
    });
    // A refresh token presented again after rotation: the library revokes its whole grant.
    provider.on('grant.revoked', (ctx: OidcContext, grantId: string) => {
      if (ctx.oidc.route === 'token') reusing.add(ctx);
      else if (ctx.oidc.route === 'revocation') auditAsync({ actor: `client:${clientOf(ctx) ?? '?'}`, action: 'oidc.token.revoked', target: clientOf(ctx), outcome: 'success', details: { grantId } });
    });
    provider.on('authorization.error', (ctx: OidcContext, error: { error?: string; error_description?: string }) => {
      auditAsync({ actor: 'anonymous', action: 'oidc.authorization.refused', target: clientOf(ctx), outcome: 'failure', errorCode: oidcErrorCode(error.error), details: { reason: error.error_description ?? null } });
    });
    provider.on('authorization.success', (ctx: OidcContext) => {
      links.set(ctx, linkPortalSession(ctx).catch((error: unknown) => options.log?.warn({ err: error }, 'linking the OpenID session to the portal session failed')));
    });
    // RP-initiated logout's own logout tokens.
    provider.on('backchannel.success', (_ctx: OidcContext, client: OidcClient, accountId: string) => {
      auditAsync({ actor: 'system', action: 'oidc.backchannel_logout.sent', target: client.clientId, outcome: 'success', details: { userGuid: accountId, reason: 'rp_logout', attempts: 1 } });
    });
    // The library's own attempt failed: ours are the retries.
    provider.on('backchannel.error', (_ctx: OidcContext, error: Error, client: OidcClient, accountId: string, sid: string | undefined) => logoutFailed(client, accountId, sid, 'rp_logout', 1, error));
    provider.on('end_session.success', (ctx: OidcContext) => {
      const everywhere = ctx.oidc.params?.logout !== undefined && ctx.oidc.params.logout !== '';
      if (everywhere) loggedOut.add(ctx);
      auditAsync({ actor: ctx.oidc.session?.accountId ?? 'anonymous', action: 'oidc.logout.handled', target: clientOf(ctx), outcome: 'success', details: { portalSessionEnded: everywhere } });
    });
    provider.on('server_error', (_ctx: OidcContext, error: Error) => options.log?.error({ err: error }, 'OpenID provider error'));
  }

  // Loaded at the first request, not at start: the library warns about Node 20 on import, and
  // the CLI (which imports the app) should not print that for every command.
  let library: Promise<typeof OidcProviderLibrary> | null = null;
  async function current() {
    library ??= import('oidc-provider');
    const loaded = await library;
    const issuer = `${options.baseUrl()}${OIDC_PATH}`;
    if (built === null || built.issuer !== issuer || keysChanged) {
      keysChanged = false;
      const provider = build(issuer, loaded);
      built = { issuer, provider, handler: provider.callback() };
    }
    return built;
  }

  return {
    /** oidc-provider's request handler; `url` is relative to /oidc. */
    handle(req: IncomingMessage, res: ServerResponse): void {
      current().then(
        ({ handler }) => handler(req, res),
        (error: unknown) => {
          options.log?.error({ err: error }, 'the OpenID provider could not start');
          res.statusCode = 500;
          res.end();
        },
      );
    },
    provider: async () => (await current()).provider,
    applicationById,
    /** The signing keys changed: the next request builds the provider with the new JWKS. */
    keysChanged(): void {
      keysChanged = true;
    },
    authenticationOf,
    missingFactor,
    /** A portal session was replaced by a new one (a factor added): its provider sessions now hang on the new one. */
    async replacedPortalSession(previousId: string, nextId: string, nextExpiresAt: Date | null): Promise<void> {
      try {
        const link = await store.find(PORTAL_LINK_MODEL, previousId, new Date());
        if (link === undefined) return;
        await store.upsert(PORTAL_LINK_MODEL, nextId, link.payload, nextExpiresAt ?? link.expiresAt);
        await store.destroy(PORTAL_LINK_MODEL, previousId);
      } catch (error) {
        options.log?.error({ err: error }, 'moving the OpenID session link to the new portal session failed');
      }
    },
    /** Tell the provider that portal sessions ended (sign-out, revocation, directory re-check); errors are logged, never thrown. */
    endedPortalSessions: (portalSessionIds: readonly string[], reason: PortalSessionEnding): Promise<void> =>
      portalSessionIds.length === 0 ? Promise.resolve() : endedPortalSessions(portalSessionIds, reason).catch((error: unknown) => options.log?.error({ err: error }, 'ending OpenID sessions after the portal session failed')),
    /**
     * Ends what hung on portal sessions that expired (at most a batch per call; the caller calls
     * again while it returns a full batch). Returns how many portal sessions it handled.
     */
    sweepExpired,
    /** Drops the logout tokens waiting for a retry (the process stops). */
    stop(): void {
      for (const timer of retryTimers) clearTimeout(timer);
      retryTimers.clear();
    },
    /** At the interaction, from the session's cached access (its groups read at sign-in or since). */
    auditRefusal: (actor: string, app: StoredOidcApplication, code: ErrorCode, reason: string) =>
      audit.record({ actor, action: 'oidc.authorization.refused', target: app.id, outcome: 'failure', errorCode: code, details: { reason, route: 'interaction' } }),
  };
}

/** oidc-provider's adapter interface over an OidcPayloadStore; clients come from the access model. */
function adapterFor(store: OidcPayloadStore, findClient: (id: string) => Promise<Record<string, unknown> | undefined>) {
  const epoch = (date: Date) => Math.floor(date.getTime() / 1000);
  const withConsumed = (found: { payload: Record<string, unknown>; consumedAt: Date | null } | undefined) =>
    found === undefined ? undefined : { ...found.payload, ...(found.consumedAt === null ? {} : { consumed: epoch(found.consumedAt) }) };

  return class PorticoOidcAdapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
      await store.upsert(this.model, id, payload, typeof expiresIn === 'number' ? new Date(Date.now() + expiresIn * 1000) : null);
    }
    async find(id: string): Promise<Record<string, unknown> | undefined> {
      if (this.model === 'Client') return findClient(id);
      return withConsumed(await store.find(this.model, id, new Date()));
    }
    async findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
      return withConsumed(await store.findByUid(this.model, uid, new Date()));
    }
    async findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined> {
      return withConsumed(await store.findByUserCode(this.model, userCode, new Date()));
    }
    async consume(id: string): Promise<void> {
      await store.consume(this.model, id, new Date());
    }
    async destroy(id: string): Promise<void> {
      await store.destroy(this.model, id);
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      await store.revokeByGrantId(grantId);
    }
  };
}
