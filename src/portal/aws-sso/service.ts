/**
 * AWS IAM Identity Center's command-line side, served by Portico: SSO OIDC (RegisterClient,
 * StartDeviceAuthorization, CreateToken with the device-code and refresh-token grants) and the
 * portal API (ListAccounts, ListAccountRoles, GetRoleCredentials, Logout) that the unmodified
 * AWS CLI v2 and SDKs call.
 *
 * A grant stands for one approval of a device code: it carries the person as they signed in
 * (their groups), lives as long as a portal session would, and is re-checked against the
 * directory as sessions are (a user deleted or disabled in AD is refused at the next check).
 * What a token may reach is evaluated exactly as for the portal, at every call, so a removed
 * assignment is refused at once. GetRoleCredentials mints a short-lived SAML assertion for the
 * role (the federation service decides and signs) and exchanges it at STS.
 *
 * Errors are AppErrors with `aws_sso.*` codes; the HTTP faces map them to AWS's exception names.
 */
import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AccessService } from '#src/access/access-service.ts';
import type { SessionAccessCache } from '#src/access/session-access.ts';
import type { AuditLog } from '#src/audit/index.ts';
import type { Session } from '#src/sessions/session-store.ts';
import type { UserStillAllowed } from '#src/sessions/sessions.ts';
import { AppError, isAppError, type ErrorCode } from '#src/shared/errors.ts';
import type { AwsSsoOptions } from '#src/config/aws-sso-options.ts';
import { AUTHORIZATION_CODE_GRANT, isS256Challenge, matchRedirectUri, redirectUriProblem, splitScopes, verifierMatches } from './authorization-code.ts';
import type { AwsSsoStore, DeviceCode, SsoClient, SsoGrant, SsoPrincipal } from './store.ts';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const REFRESH_TOKEN_GRANT = 'refresh_token';
export const ACCOUNT_ACCESS_SCOPE = 'sso:account:access';
/** RFC 8628 §3.5: each slow_down adds five seconds to the interval. */
const SLOW_DOWN_STEP_SECONDS = 5;
/** A poll this much earlier than the interval is still accepted (timers and networks jitter). */
const POLL_TOLERANCE_MS = 250;
/** RFC 8628 §6.1: consonants only, so that no word (and no 0/O, 1/I confusion) appears. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const MAX_SECRET_LENGTH = 512;
const MAX_PAGE = 100;
/** Authorization codes are redeemed at once by the client's loopback listener; 5 minutes is generous. */
export const AUTHORIZATION_CODE_SECONDS = 300;
const KNOWN_GRANT_TYPES = new Set([AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT, DEVICE_CODE_GRANT]);

/** A checked authorize request (the parameters the consent page carries back). */
export interface AuthorizeRequest {
  clientId: string;
  clientName: string;
  /** As the request gave it, with its port: the code is bound to it. */
  redirectUri: string;
  state: string;
  codeChallenge: string;
  scopes: string[];
}

/**
 * What to do with an authorize request: show an error page (the redirect URI cannot be trusted,
 * so nothing is sent to it), redirect with an OAuth error, or ask the person.
 */
export type AuthorizeCheck = { kind: 'page'; message: string } | { kind: 'redirect'; location: string } | { kind: 'ask'; request: AuthorizeRequest };

/** STS AssumeRoleWithSAML, unsigned (implemented with @aws-sdk/client-sts). */
export type AssumeRoleWithSaml = (input: { roleArn: string; principalArn: string; samlAssertion: string; durationSeconds: number }) => Promise<{
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  assumedRoleArn: string | undefined;
}>;

/** What the federation service gives for an account and permission set (its signInToAccount). */
export type SignInToAccount = (
  session: Session,
  accountId: string,
  permissionSetId: string,
  purpose: 'cli',
) => Promise<{ account: { id: string; name: string }; permissionSet: { name: string }; signIn: { roleArn: string; providerArn: string; durationSeconds: number }; assertionBase64: string }>;

export interface AwsSsoServiceOptions {
  store: AwsSsoStore;
  audit: AuditLog;
  options: AwsSsoOptions;
  /** Portico's public base URL, without a trailing slash. */
  baseUrl: () => string;
  sessionAccess: Pick<SessionAccessCache, 'forSession'>;
  access: Pick<AccessService, 'listAccounts'>;
  signInToAccount: SignInToAccount;
  assumeRoleWithSaml: AssumeRoleWithSaml;
  userStillAllowed: UserStillAllowed;
  /** As long as a portal session lasts: refresh tokens stop working after it. */
  grantDurationMs: number;
  recheckMs: number;
  clock?: () => Date;
}

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  roleArn: string;
  assumedRoleArn: string | undefined;
  accountId: string;
  accountName: string;
  roleName: string;
}

const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');
/**
 * A bearer secret: a kind prefix (never a leading '-', which a command line would take for an
 * option, and recognisable to secret scanners) and 256 random bits.
 */
const newSecret = (kind: 'pcs' | 'pdc' | 'pat' | 'prt' | 'pac'): string => `${kind}_${randomBytes(32).toString('base64url')}`;
const fail = (code: ErrorCode, message: string, status = 400): AppError => new AppError(code, message, { status });

function sameHash(stored: string, given: string): boolean {
  const a = Buffer.from(stored);
  const b = Buffer.from(sha256(given));
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `ABCD-EFGH` from whatever the person typed (lower case, spaces, no dash). */
export function normaliseUserCode(text: string): string | null {
  const letters = text.toUpperCase().replace(/[^A-Z]/g, '');
  if (letters.length !== 8 || [...letters].some((c) => !USER_CODE_ALPHABET.includes(c))) return null;
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

function newUserCode(): string {
  let letters = '';
  for (let i = 0; i < 8; i += 1) letters += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

function text(value: unknown, name: string, max = 1024): string {
  if (typeof value !== 'string' || value.length === 0) throw fail('aws_sso.invalid_request', `${name} is required`);
  if (value.length > max) throw fail('aws_sso.invalid_request', `${name} is longer than ${max} characters`);
  return value;
}

/** Paging tokens: the offset, opaque to clients. */
function pageOf<T>(items: T[], nextToken: string | undefined, maxResults: string | undefined): { page: T[]; nextToken: string | undefined } {
  let start = 0;
  if (nextToken !== undefined && nextToken !== '') {
    const decoded = /^o(\d{1,6})$/.exec(Buffer.from(nextToken, 'base64url').toString('utf8'));
    if (decoded === null) throw fail('aws_sso.invalid_request', 'next_token is not one this API gave');
    start = Number(decoded[1]);
  }
  let size = MAX_PAGE;
  if (maxResults !== undefined && maxResults !== '') {
    size = Number(maxResults);
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) throw fail('aws_sso.invalid_request', `max_result must be a whole number from 1 to ${MAX_PAGE}`);
  }
  const end = start + size;
  return { page: items.slice(start, end), nextToken: end < items.length ? Buffer.from(`o${end}`).toString('base64url') : undefined };
}

/** A grant seen by the access evaluation and the federation service as a session would be. */
function grantSession(grant: SsoGrant): Session {
  const p = grant.principal;
  return {
    id: `aws-sso:${grant.id}`,
    userId: p.userId,
    userGuid: p.userGuid,
    createdAt: p.signedInAt,
    expiresAt: grant.expiresAt,
    checkedAt: grant.checkedAt,
    revokedAt: grant.revokedAt,
    data: { userName: p.userName, displayName: p.displayName, groups: p.groups, groupsTruncated: p.groupsTruncated, csrfSecret: '', clientAddress: null, userAgent: null },
  };
}

export type AwsSsoService = ReturnType<typeof createAwsSsoService>;

export function createAwsSsoService(deps: AwsSsoServiceOptions) {
  const { store, audit, options, sessionAccess, access, clock = () => new Date() } = deps;
  const minutes = (n: number) => n * 60_000;
  // One directory round trip per grant at a time, however many calls arrive together.
  const rechecks = new Map<string, Promise<SsoGrant | null>>();

  async function refuse(action: Parameters<AuditLog['record']>[0]['action'], actor: string, target: string | null, error: AppError, details: Record<string, unknown> = {}): Promise<never> {
    await audit.record({ actor, action, target, outcome: 'failure', errorCode: error.code, details: { reason: error.message, ...details } });
    throw error;
  }

  /** The live registration whose secret this is; refused (and audited) otherwise. */
  async function authenticateClient(clientId: unknown, clientSecret: unknown, action: 'aws_sso.device.started' | 'aws_sso.token.issued'): Promise<SsoClient> {
    const id = text(clientId, 'clientId', 128);
    const secret = text(clientSecret, 'clientSecret', MAX_SECRET_LENGTH);
    const client = await store.getClient(id);
    const now = clock();
    let problem: string | null = null;
    if (client === undefined || !sameHash(client.secretHash, secret)) problem = 'unknown client, or a wrong client secret';
    else if (client.revokedAt !== null) problem = 'this client registration was revoked: register again';
    else if (client.expiresAt.getTime() <= now.getTime()) problem = 'this client registration expired: register again';
    if (problem !== null || client === undefined) return refuse(action, 'anonymous', id, fail('aws_sso.invalid_client', problem ?? 'unknown client', 401));
    return client;
  }

  function principalOf(session: Session): SsoPrincipal {
    return {
      userId: session.userId,
      userGuid: session.userGuid,
      userName: session.data.userName,
      displayName: session.data.displayName,
      groups: session.data.groups,
      groupsTruncated: session.data.groupsTruncated,
      signedInAt: session.createdAt,
    };
  }

  async function issueGrant(client: SsoClient, principal: SsoPrincipal, scopes: string[], via: string, grantId: string = randomUUID()): Promise<{ accessToken: string; refreshToken: string; expiresIn: number }> {
    const now = clock();
    const accessToken = newSecret('pat');
    const refreshToken = newSecret('prt');
    const expiresAt = new Date(now.getTime() + deps.grantDurationMs);
    const accessExpiresAt = new Date(Math.min(now.getTime() + minutes(options.accessTokenMinutes), expiresAt.getTime()));
    const grant: SsoGrant = {
      id: grantId,
      clientId: client.clientId,
      accessTokenHash: sha256(accessToken),
      accessExpiresAt,
      refreshTokenHash: sha256(refreshToken),
      expiresAt,
      scopes,
      principal,
      createdAt: now,
      checkedAt: now,
      revokedAt: null,
    };
    await store.createGrant(grant);
    await audit.record({ actor: principal.userName, action: 'aws_sso.token.issued', target: client.clientId, outcome: 'success', details: { grant: grant.id, via, clientName: client.name, expiresAt: expiresAt.toISOString() } });
    return { accessToken, refreshToken, expiresIn: Math.round((accessExpiresAt.getTime() - now.getTime()) / 1000) };
  }

  /** Asks the directory again when the grant's last check is older than the re-check interval. */
  async function recheck(grant: SsoGrant, now: Date): Promise<SsoGrant | null> {
    if (now.getTime() - grant.checkedAt.getTime() < deps.recheckMs) return grant;
    let pending = rechecks.get(grant.id);
    if (pending === undefined) {
      pending = (async () => {
        let verdict: Awaited<ReturnType<UserStillAllowed>>;
        try {
          verdict = await deps.userStillAllowed(grant.principal.userGuid);
        } catch {
          verdict = 'unknown';
        }
        if (verdict === 'unknown') return grant;
        if (verdict === 'allowed') {
          await store.markGrantChecked(grant.id, now);
          return { ...grant, checkedAt: now };
        }
        const revoked = await store.revokeGrantsOfUser(grant.principal.userGuid, now);
        await audit.record({
          actor: 'system',
          action: 'aws_sso.token.revoked',
          target: grant.principal.userGuid,
          outcome: 'success',
          details: { reason: verdict === 'gone' ? 'user_gone' : 'user_disabled', userName: grant.principal.userName, grants: revoked },
        });
        return null;
      })().finally(() => rechecks.delete(grant.id));
      rechecks.set(grant.id, pending);
    }
    return pending;
  }

  /** The live grant of a portal-API bearer token; UnauthorizedException otherwise (audited). */
  async function authenticate(accessToken: unknown, operation: string): Promise<SsoGrant> {
    const now = clock();
    const token = typeof accessToken === 'string' ? accessToken : '';
    const unauthorized = (why: string) => refuse('aws_sso.portal.refused', 'anonymous', null, fail('aws_sso.unauthorized', 'Session token not found or invalid', 401), { operation, why });
    if (token === '' || token.length > MAX_SECRET_LENGTH) return unauthorized('no token');
    const grant = await store.findGrantByAccessToken(sha256(token));
    if (grant === undefined) return unauthorized('unknown token');
    if (grant.revokedAt !== null) return unauthorized('revoked');
    if (grant.accessExpiresAt.getTime() <= now.getTime()) return unauthorized('expired');
    const client = await store.getClient(grant.clientId);
    if (client === undefined || client.revokedAt !== null) return unauthorized('client registration revoked');
    const checked = await recheck(grant, now);
    if (checked === null) return unauthorized('user no longer allowed by the directory');
    return checked;
  }

  async function entitlementsOf(grant: SsoGrant) {
    return (await sessionAccess.forSession(grantSession(grant))).entitlements;
  }

  async function exchange(session: Session, accountId: string, permissionSetId: string, actor: string, via: string): Promise<RoleCredentials> {
    const minted = await deps.signInToAccount(session, accountId, permissionSetId, 'cli');
    try {
      const credentials = await deps.assumeRoleWithSaml({
        roleArn: minted.signIn.roleArn,
        principalArn: minted.signIn.providerArn,
        samlAssertion: minted.assertionBase64,
        durationSeconds: minted.signIn.durationSeconds,
      });
      await audit.record({
        actor,
        action: 'aws_sso.credentials.issued',
        target: accountId,
        outcome: 'success',
        details: { via, roleArn: minted.signIn.roleArn, assumedRoleArn: credentials.assumedRoleArn, expiration: credentials.expiration.toISOString() },
      });
      return { ...credentials, roleArn: minted.signIn.roleArn, accountId, accountName: minted.account.name, roleName: minted.permissionSet.name };
    } catch (error) {
      const refusal = isAppError(error) ? error : fail('federation.sts_unavailable', 'STS could not be reached', 502);
      return refuse('aws_sso.credentials.issued', actor, accountId, refusal, { via, roleArn: minted.signIn.roleArn, ...(refusal.details ?? {}) });
    }
  }

  return {
    /** The verification page's address (the CLI prints it). */
    verificationUri: () => `${deps.baseUrl()}/device`,

    async registerClient(input: { clientName?: unknown; clientType?: unknown; scopes?: unknown; grantTypes?: unknown; redirectUris?: unknown; issuerUrl?: unknown }, address: string) {
      const now = clock();
      const name = text(input.clientName, 'clientName', 256);
      if (input.clientType !== 'public') return refuse('aws_sso.client.registered', 'anonymous', null, fail('aws_sso.invalid_client_metadata', 'clientType must be "public"'), { clientName: name });
      const scopes = input.scopes === undefined ? [] : input.scopes;
      if (!Array.isArray(scopes) || scopes.length > 25 || scopes.some((s) => typeof s !== 'string')) throw fail('aws_sso.invalid_request', 'scopes must be a list of strings');
      const unknown = (scopes as string[]).filter((s) => s !== ACCOUNT_ACCESS_SCOPE);
      if (unknown.length > 0) return refuse('aws_sso.client.registered', 'anonymous', null, fail('aws_sso.invalid_scope', `Portico grants only the scope ${ACCOUNT_ACCESS_SCOPE}, not ${unknown.slice(0, 3).join(', ')}`), { clientName: name });
      const stringList = (value: unknown, name: string, max: number): string[] => {
        if (value === undefined) return [];
        if (!Array.isArray(value) || value.length > max || value.some((v) => typeof v !== 'string' || v.length === 0 || v.length > 2048)) throw fail('aws_sso.invalid_request', `${name} must be a list of at most ${max} strings`);
        return value as string[];
      };
      const grantTypes = stringList(input.grantTypes, 'grantTypes', 5);
      const redirectUris = stringList(input.redirectUris, 'redirectUris', 10);
      const unknownGrant = grantTypes.find((g) => !KNOWN_GRANT_TYPES.has(g));
      if (unknownGrant !== undefined) return refuse('aws_sso.client.registered', 'anonymous', null, fail('aws_sso.invalid_client_metadata', `Portico does not offer the grant type ${unknownGrant.slice(0, 100)}`), { clientName: name });
      const badUri = redirectUris.map(redirectUriProblem).find((p) => p !== null);
      if (badUri !== undefined) return refuse('aws_sso.client.registered', 'anonymous', null, fail('aws_sso.invalid_redirect_uri', badUri), { clientName: name });
      if (grantTypes.includes(AUTHORIZATION_CODE_GRANT) && redirectUris.length === 0) {
        return refuse('aws_sso.client.registered', 'anonymous', null, fail('aws_sso.invalid_redirect_uri', 'the authorization_code grant needs redirectUris'), { clientName: name });
      }
      const issuerUrl = input.issuerUrl === undefined ? null : text(input.issuerUrl, 'issuerUrl', 2048);
      const recent = await store.countClientsRegisteredSince(address, new Date(now.getTime() - 60_000));
      if (recent >= options.registrationsPerAddressPerMinute) {
        return refuse('aws_sso.client.registered', 'anonymous', null, fail('aws_sso.slow_down', 'too many client registrations from this address: wait a minute'), { clientName: name, address });
      }
      const clientId = randomBytes(16).toString('base64url');
      const clientSecret = newSecret('pcs');
      const expiresAt = new Date(now.getTime() + options.clientRegistrationDays * 24 * 60 * 60_000);
      await store.createClient({ clientId, secretHash: sha256(clientSecret), name, scopes: scopes as string[], registeredAt: now, expiresAt, revokedAt: null, registeredFrom: address, grantTypes, redirectUris, issuerUrl });
      await audit.record({ actor: 'anonymous', action: 'aws_sso.client.registered', target: clientId, outcome: 'success', details: { clientName: name, address, expiresAt: expiresAt.toISOString(), grantTypes, redirectUris } });
      return { clientId, clientSecret, clientIdIssuedAt: Math.floor(now.getTime() / 1000), clientSecretExpiresAt: Math.floor(expiresAt.getTime() / 1000) };
    },

    async startDeviceAuthorization(input: { clientId?: unknown; clientSecret?: unknown; startUrl?: unknown }) {
      const client = await authenticateClient(input.clientId, input.clientSecret, 'aws_sso.device.started');
      const startUrl = text(input.startUrl, 'startUrl', 2048);
      const now = clock();
      let origin: string | null = null;
      try {
        origin = new URL(startUrl).origin;
      } catch {
        origin = null;
      }
      if (origin === null || origin !== new URL(deps.baseUrl()).origin) {
        return refuse('aws_sso.device.started', 'anonymous', client.clientId, fail('aws_sso.invalid_request', `startUrl must be this Portico's portal, ${deps.baseUrl()}/portal`), { startUrl: startUrl.slice(0, 200) });
      }
      const recent = await store.countDeviceCodesSince(client.clientId, new Date(now.getTime() - 60_000));
      if (recent >= options.deviceAuthorizationsPerClientPerMinute) {
        return refuse('aws_sso.device.started', 'anonymous', client.clientId, fail('aws_sso.slow_down', 'too many device authorizations for this client: wait a minute'));
      }
      const deviceCode = newSecret('pdc');
      const expiresAt = new Date(now.getTime() + minutes(options.deviceCodeMinutes));
      let userCode = newUserCode();
      // A clash of user codes is very unlikely (20^8); a second draw settles it.
      if ((await store.findDeviceCodeByUserCode(userCode)) !== undefined) userCode = newUserCode();
      const code: DeviceCode = {
        deviceCodeHash: sha256(deviceCode),
        userCode,
        clientId: client.clientId,
        startUrl,
        createdAt: now,
        expiresAt,
        intervalSeconds: options.pollIntervalSeconds,
        lastPolledAt: null,
        status: 'pending',
        decidedAt: null,
        principal: null,
      };
      await store.createDeviceCode(code);
      await audit.record({ actor: 'anonymous', action: 'aws_sso.device.started', target: client.clientId, outcome: 'success', details: { clientName: client.name, userCode, expiresAt: expiresAt.toISOString() } });
      const verificationUri = `${deps.baseUrl()}/device`;
      return {
        deviceCode,
        userCode,
        verificationUri,
        verificationUriComplete: `${verificationUri}?${new URLSearchParams({ user_code: userCode }).toString()}`,
        expiresIn: options.deviceCodeMinutes * 60,
        interval: options.pollIntervalSeconds,
      };
    },

    async createToken(input: { clientId?: unknown; clientSecret?: unknown; grantType?: unknown; deviceCode?: unknown; refreshToken?: unknown; scope?: unknown; code?: unknown; redirectUri?: unknown; codeVerifier?: unknown }) {
      const client = await authenticateClient(input.clientId, input.clientSecret, 'aws_sso.token.issued');
      const now = clock();
      const refuseToken = (error: AppError, details: Record<string, unknown> = {}) => refuse('aws_sso.token.issued', 'anonymous', client.clientId, error, details);

      if (input.grantType === DEVICE_CODE_GRANT) {
        const deviceCode = text(input.deviceCode, 'deviceCode', MAX_SECRET_LENGTH);
        const code = await store.findDeviceCode(sha256(deviceCode));
        if (code === undefined || code.clientId !== client.clientId) return refuseToken(fail('aws_sso.invalid_grant', 'unknown device code'));
        if (code.status === 'redeemed') return refuseToken(fail('aws_sso.invalid_grant', 'this device code was already used'), { userCode: code.userCode });
        if (code.status === 'denied') return refuseToken(fail('aws_sso.access_denied', 'the person denied this request'), { userCode: code.userCode });
        if (code.expiresAt.getTime() <= now.getTime()) return refuseToken(fail('aws_sso.expired_token', 'the device code expired: start again'), { userCode: code.userCode });
        if (code.status === 'pending') {
          const tooFast = code.lastPolledAt !== null && now.getTime() - code.lastPolledAt.getTime() < code.intervalSeconds * 1000 - POLL_TOLERANCE_MS;
          const interval = tooFast ? code.intervalSeconds + SLOW_DOWN_STEP_SECONDS : code.intervalSeconds;
          await store.recordPoll(code.deviceCodeHash, now, interval);
          if (tooFast) return refuseToken(fail('aws_sso.slow_down', `polling faster than every ${code.intervalSeconds} seconds: wait ${interval} seconds between polls`), { userCode: code.userCode });
          // Waiting for the person is not a refusal: not audited.
          throw fail('aws_sso.authorization_pending', 'the person has not approved this request yet');
        }
        if (code.principal === null || !(await store.redeemDeviceCode(code.deviceCodeHash, now))) {
          return refuseToken(fail('aws_sso.invalid_grant', 'this device code was already used'), { userCode: code.userCode });
        }
        const issued = await issueGrant(client, code.principal, client.scopes.length > 0 ? client.scopes : [ACCOUNT_ACCESS_SCOPE], 'device_code');
        return { accessToken: issued.accessToken, tokenType: 'Bearer', expiresIn: issued.expiresIn, refreshToken: issued.refreshToken };
      }

      if (input.grantType === REFRESH_TOKEN_GRANT) {
        const refreshToken = text(input.refreshToken, 'refreshToken', MAX_SECRET_LENGTH);
        const refreshHash = sha256(refreshToken);
        const grant = await store.findGrantByRefreshToken(refreshHash);
        if (grant === undefined || grant.clientId !== client.clientId) return refuseToken(fail('aws_sso.invalid_grant', 'unknown refresh token'));
        if (grant.revokedAt !== null) return refuseToken(fail('aws_sso.invalid_grant', 'this sign-in was ended: run aws sso login again'), { grant: grant.id });
        if (grant.expiresAt.getTime() <= now.getTime()) return refuseToken(fail('aws_sso.expired_token', 'this sign-in expired: run aws sso login again'), { grant: grant.id });
        // A refresh asks the directory at once: a new token is a new decision.
        const checked = await recheck({ ...grant, checkedAt: new Date(0) }, now);
        if (checked === null) return refuseToken(fail('aws_sso.invalid_grant', 'your account can no longer sign in'), { grant: grant.id });
        const accessToken = newSecret('pat');
        const nextRefresh = newSecret('prt');
        const accessExpiresAt = new Date(Math.min(now.getTime() + minutes(options.accessTokenMinutes), grant.expiresAt.getTime()));
        const rotated = await store.rotateGrant(grant.id, refreshHash, { accessTokenHash: sha256(accessToken), accessExpiresAt, refreshTokenHash: sha256(nextRefresh) });
        if (!rotated) return refuseToken(fail('aws_sso.invalid_grant', 'this refresh token was already used'), { grant: grant.id });
        await audit.record({ actor: grant.principal.userName, action: 'aws_sso.token.issued', target: client.clientId, outcome: 'success', details: { grant: grant.id, via: 'refresh_token', clientName: client.name } });
        return { accessToken, tokenType: 'Bearer', expiresIn: Math.round((accessExpiresAt.getTime() - now.getTime()) / 1000), refreshToken: nextRefresh };
      }

      if (input.grantType === AUTHORIZATION_CODE_GRANT) {
        const codeText = text(input.code, 'code', MAX_SECRET_LENGTH);
        const redirectUri = text(input.redirectUri, 'redirectUri', 2048);
        const verifier = text(input.codeVerifier, 'codeVerifier', 128);
        const code = await store.findAuthorizationCode(sha256(codeText));
        if (code === undefined || code.clientId !== client.clientId) return refuseToken(fail('aws_sso.invalid_grant', 'unknown authorization code'));
        if (code.redeemedAt !== null) {
          // RFC 6749 §4.1.2: a code presented twice was stolen or replayed; what it gave is revoked.
          const revoked = code.grantId !== null && (await store.revokeGrant(code.grantId, now));
          await audit.record({ actor: code.principal.userName, action: 'aws_sso.authorization_code.reused', target: client.clientId, outcome: 'failure', errorCode: 'aws_sso.invalid_grant', details: { grant: code.grantId, grantRevoked: revoked } });
          throw fail('aws_sso.invalid_grant', 'this authorization code was already used; the tokens issued for it are revoked');
        }
        if (code.expiresAt.getTime() <= now.getTime()) return refuseToken(fail('aws_sso.invalid_grant', 'the authorization code expired: sign in again'), { via: AUTHORIZATION_CODE_GRANT });
        if (redirectUri !== code.redirectUri) return refuseToken(fail('aws_sso.invalid_grant', 'redirectUri is not the one the authorization request used'), { via: AUTHORIZATION_CODE_GRANT });
        if (!verifierMatches(verifier, code.codeChallenge)) return refuseToken(fail('aws_sso.invalid_grant', 'codeVerifier does not match the code challenge (S256)'), { via: AUTHORIZATION_CODE_GRANT });
        const grantId = randomUUID();
        if (!(await store.redeemAuthorizationCode(code.codeHash, now, grantId))) {
          return refuseToken(fail('aws_sso.invalid_grant', 'this authorization code was already used'), { via: AUTHORIZATION_CODE_GRANT });
        }
        const issued = await issueGrant(client, code.principal, code.scopes, AUTHORIZATION_CODE_GRANT, grantId);
        return { accessToken: issued.accessToken, tokenType: 'Bearer', expiresIn: issued.expiresIn, refreshToken: issued.refreshToken };
      }

      return refuseToken(fail('aws_sso.unsupported_grant_type', `grantType must be ${AUTHORIZATION_CODE_GRANT}, ${DEVICE_CODE_GRANT} or ${REFRESH_TOKEN_GRANT}`), { grantType: typeof input.grantType === 'string' ? input.grantType.slice(0, 100) : null });
    },

    /**
     * Checks an authorize request (`GET …/authorize`, RFC 6749 §4.1.1 + RFC 7636). Until the
     * client and its redirect URI are known good, errors are shown on Portico's page, never sent
     * to the redirect URI (§4.1.2.1).
     */
    async checkAuthorize(query: Record<string, unknown>, actor: string): Promise<AuthorizeCheck> {
      const value = (name: string): string => (typeof query[name] === 'string' ? query[name] : '');
      const clientId = value('client_id').slice(0, 128);
      const redirectUri = value('redirect_uri').slice(0, 2048);
      const page = async (message: string): Promise<AuthorizeCheck> => {
        await audit.record({ actor, action: 'aws_sso.authorize.refused', target: clientId || null, outcome: 'failure', errorCode: 'aws_sso.invalid_request', details: { reason: message, redirectUri: redirectUri.slice(0, 200) } });
        return { kind: 'page', message };
      };
      const client = clientId === '' ? undefined : await store.getClient(clientId);
      const now = clock();
      if (client === undefined || client.revokedAt !== null || client.expiresAt.getTime() <= now.getTime()) return page('The application that sent you here is not registered with Portico (or its registration ended). Start again from your terminal.');
      if (redirectUri === '' || matchRedirectUri(client.redirectUris, redirectUri) === null) return page('The application asked to return to an address it did not register. Nothing was sent to it.');
      const state = value('state').slice(0, 1024);
      const back = async (error: string, description: string, audited = true): Promise<AuthorizeCheck> => {
        if (audited) await audit.record({ actor, action: 'aws_sso.authorize.refused', target: client.clientId, outcome: 'failure', errorCode: 'aws_sso.invalid_request', details: { reason: description } });
        const url = new URL(redirectUri);
        url.searchParams.set('error', error);
        url.searchParams.set('error_description', description);
        if (state !== '') url.searchParams.set('state', state);
        return { kind: 'redirect', location: url.toString() };
      };
      if (!client.grantTypes.includes(AUTHORIZATION_CODE_GRANT)) return back('unauthorized_client', 'this client did not register the authorization_code grant');
      if (value('response_type') !== 'code') return back('unsupported_response_type', 'response_type must be code');
      const challenge = value('code_challenge');
      if (value('code_challenge_method') !== 'S256' || !isS256Challenge(challenge)) return back('invalid_request', 'a code_challenge with code_challenge_method S256 is required (PKCE)');
      const asked = splitScopes(value('scopes') || value('scope'));
      const unknown = asked.filter((s) => s !== ACCOUNT_ACCESS_SCOPE);
      if (unknown.length > 0) return back('invalid_scope', `Portico grants only the scope ${ACCOUNT_ACCESS_SCOPE}`);
      const scopes = asked.length > 0 ? asked : client.scopes.length > 0 ? client.scopes : [ACCOUNT_ACCESS_SCOPE];
      return { kind: 'ask', request: { clientId: client.clientId, clientName: client.name, redirectUri, state, codeChallenge: challenge, scopes } };
    },

    /** The person's answer on the consent page: where to send the browser (code and state, or access_denied). */
    async decideAuthorize(session: Session, request: AuthorizeRequest, approve: boolean): Promise<string> {
      const now = clock();
      const url = new URL(request.redirectUri);
      if (request.state !== '') url.searchParams.set('state', request.state);
      if (!approve) {
        await audit.record({ actor: session.data.userName, action: 'aws_sso.authorize.denied', target: request.clientId, outcome: 'success', details: { clientName: request.clientName } });
        url.searchParams.set('error', 'access_denied');
        url.searchParams.set('error_description', 'The person denied the request');
        return url.toString();
      }
      const code = newSecret('pac');
      const expiresAt = new Date(now.getTime() + AUTHORIZATION_CODE_SECONDS * 1000);
      await store.createAuthorizationCode({
        codeHash: sha256(code),
        clientId: request.clientId,
        redirectUri: request.redirectUri,
        codeChallenge: request.codeChallenge,
        scopes: request.scopes,
        principal: principalOf(session),
        createdAt: now,
        expiresAt,
        redeemedAt: null,
        grantId: null,
      });
      await audit.record({ actor: session.data.userName, action: 'aws_sso.authorize.approved', target: request.clientId, outcome: 'success', details: { clientName: request.clientName, expiresAt: expiresAt.toISOString() } });
      url.searchParams.set('code', code);
      return url.toString();
    },

    /** For the verification page: the pending code and the client's name, or why not. */
    async lookUpUserCode(typed: string): Promise<{ userCode: string; clientName: string } | { refused: string }> {
      const userCode = normaliseUserCode(typed);
      if (userCode === null) return { refused: 'That is not a code Portico gave: it has eight letters, like BCDF-GHJK.' };
      const code = await store.findDeviceCodeByUserCode(userCode);
      if (code === undefined) return { refused: 'There is no request with this code. Check the code your terminal shows.' };
      if (code.status !== 'pending') return { refused: 'This code was already used. Start again in your terminal if you need to.' };
      if (code.expiresAt.getTime() <= clock().getTime()) return { refused: 'This code expired. Start again in your terminal.' };
      const client = await store.getClient(code.clientId);
      if (client === undefined || client.revokedAt !== null) return { refused: 'The application that asked is no longer registered.' };
      return { userCode, clientName: client.name };
    },

    /** The person's answer on the verification page. */
    async decide(session: Session, typed: string, approve: boolean): Promise<{ ok: true } | { refused: string }> {
      const looked = await this.lookUpUserCode(typed);
      const userCode = normaliseUserCode(typed);
      const action = approve ? 'aws_sso.device.approved' : 'aws_sso.device.denied';
      if ('refused' in looked || userCode === null) {
        await audit.record({ actor: session.data.userName, action, target: userCode, outcome: 'failure', errorCode: 'aws_sso.invalid_grant', details: { reason: 'refused' in looked ? looked.refused : 'bad code' } });
        return { refused: 'refused' in looked ? looked.refused : 'bad code' };
      }
      const decided = await store.decideDeviceCode(userCode, approve ? { status: 'approved', principal: principalOf(session) } : { status: 'denied' }, clock());
      if (!decided) {
        await audit.record({ actor: session.data.userName, action, target: userCode, outcome: 'failure', errorCode: 'aws_sso.invalid_grant', details: { reason: 'already decided or expired' } });
        return { refused: 'This code was already used or expired.' };
      }
      await audit.record({ actor: session.data.userName, action, target: userCode, outcome: 'success', details: { clientName: looked.clientName } });
      return { ok: true };
    },

    async listAccounts(accessToken: unknown, paging: { nextToken?: string; maxResults?: string }) {
      const grant = await authenticate(accessToken, 'ListAccounts');
      const [entitlements, accounts] = await Promise.all([entitlementsOf(grant), access.listAccounts()]);
      const email = new Map(accounts.map((a) => [a.id, a.email]));
      const list = entitlements.accounts
        .map(({ account }) => ({ accountId: account.id, accountName: account.name, emailAddress: email.get(account.id) ?? '' }))
        .sort((a, b) => a.accountName.localeCompare(b.accountName) || a.accountId.localeCompare(b.accountId));
      const { page, nextToken } = pageOf(list, paging.nextToken, paging.maxResults);
      return { accountList: page, ...(nextToken === undefined ? {} : { nextToken }) };
    },

    async listAccountRoles(accessToken: unknown, accountId: unknown, paging: { nextToken?: string; maxResults?: string }) {
      const grant = await authenticate(accessToken, 'ListAccountRoles');
      const id = text(accountId, 'account_id', 64);
      const entry = (await entitlementsOf(grant)).accounts.find((a) => a.account.id === id);
      // Identity Center answers an account one cannot reach like an empty one.
      const roles = (entry?.permissionSets ?? []).map(({ permissionSet }) => ({ roleName: permissionSet.name, accountId: id })).sort((a, b) => a.roleName.localeCompare(b.roleName));
      const { page, nextToken } = pageOf(roles, paging.nextToken, paging.maxResults);
      return { roleList: page, ...(nextToken === undefined ? {} : { nextToken }) };
    },

    async getRoleCredentials(accessToken: unknown, accountId: unknown, roleName: unknown): Promise<RoleCredentials> {
      const grant = await authenticate(accessToken, 'GetRoleCredentials');
      const id = text(accountId, 'account_id', 64);
      const role = text(roleName, 'role_name', 128);
      const entry = (await entitlementsOf(grant)).accounts.find((a) => a.account.id === id)?.permissionSets.find((p) => p.permissionSet.name === role);
      if (entry === undefined) {
        return refuse('aws_sso.credentials.issued', grant.principal.userName, id, new AppError('access.not_assigned', 'No access', { status: 403 }), { via: 'portal_api', roleName: role, grant: grant.id });
      }
      return exchange(grantSession(grant), id, entry.permissionSet.id, grant.principal.userName, 'portal_api');
    },

    async logout(accessToken: unknown): Promise<void> {
      const grant = await authenticate(accessToken, 'Logout');
      await store.revokeGrant(grant.id, clock());
      await audit.record({ actor: grant.principal.userName, action: 'aws_sso.token.revoked', target: grant.clientId, outcome: 'success', details: { reason: 'logout', grant: grant.id } });
    },

    /** The portal's "Command line or programmatic access" page: credentials for the browser's session. */
    credentialsForSession: (session: Session, accountId: string, permissionSetId: string) => exchange(session, accountId, permissionSetId, session.data.userName, 'portal'),

    /** An administrator ends a registration and every token issued through it. */
    async revokeClient(clientId: string, actor: string): Promise<boolean> {
      const now = clock();
      const revoked = await store.revokeClient(clientId, now);
      const grants = revoked ? await store.revokeGrantsOfClient(clientId, now) : 0;
      await audit.record({ actor, action: 'aws_sso.client.revoked', target: clientId, outcome: revoked ? 'success' : 'failure', errorCode: revoked ? null : 'aws_sso.not_found', details: { grants } });
      return revoked;
    },

    listClients: () => store.listClients(clock()),

    purge: (before: Date) => store.purge(before),
  };
}
