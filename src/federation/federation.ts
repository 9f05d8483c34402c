/**
 * Portico as an identity provider: who gets an assertion for what. The SAML core
 * (src/federation/saml) parses, checks and signs; this service decides — the request is from a
 * registered application, the signed-in person is assigned to it (or to the account and
 * permission set), the assertion carries their identity-store record — and audits each decision.
 * The HTTP faces (src/portal/routes.ts) render its results.
 */
import { createHmac } from 'node:crypto';
import type { AccessService } from '#src/access/access-service.ts';
import type { Application } from '#src/access/model.ts';
import type { SessionAccessCache } from '#src/access/session-access.ts';
import type { AuditLog } from '#src/audit/index.ts';
import type { IdentityUser, IdentityUserReader } from '#src/identity-store/user.ts';
import { sessionAmr, type Session } from '#src/sessions/session-store.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import type { AwsFederation } from './aws.ts';
import { assertionAttributes } from './saml/attributes.ts';
import { decideAuthnContext, defaultClassOf, satisfiableAtAll, type AuthnContextDecision, type AuthnLevel, type RequestedAuthnContext } from './saml/authn-context.ts';
import { acceptAuthnRequest, type AcceptedAuthnRequest, type AuthnRequest } from './saml/authn-request.ts';
import type { ReceivedMessage } from './saml/binding.ts';
import { clientKey, createPendingRequests, type PendingCodec, type PendingLimits, type PendingRequestStore } from './pending-requests.ts';
import { createSharedReplayCache, type ReplayStore } from './replay.ts';
import { acceptLogoutRequest, logoutResponseUrl } from './saml/logout.ts';
import { buildIdpMetadata } from './saml/metadata.ts';
import { STATUS_NO_AUTHN_CONTEXT, STATUS_NO_PASSIVE, buildResponse, buildStatusResponse, nameIdFor, type IdentityProvider } from './saml/response.ts';
import type { SigningKeys } from './signing-keys.ts';

/** An HTTP-POST binding message: the page posts `fields` to `action`. */
export interface PostForm {
  action: string;
  fields: Record<string, string>;
}

export interface FederationOptions {
  keys: SigningKeys;
  users: Pick<IdentityUserReader, 'get'>;
  access: Pick<AccessService, 'listApplications' | 'getAccount' | 'getPermissionSet' | 'generation'>;
  sessionAccess: Pick<SessionAccessCache, 'forSession'>;
  audit: AuditLog;
  aws: AwsFederation;
  /** Portico's public base URL (`http.publicUrl`, else the listening address), without a trailing slash. */
  baseUrl: () => string;
  /** `federation.saml.entityId`; `<baseUrl>/saml/metadata` when absent. */
  entityId?: string | undefined;
  /** Secret behind persistent NameIDs and session indexes (derived from the instance key). */
  nameIdSecret: Buffer;
  /** Accepted request IDs and waiting requests: in the database, shared by every instance. */
  replayStore: ReplayStore;
  pendingStore: PendingRequestStore;
  /**
   * What a session still lacks for a target that demands MFA (src/mfa/ decides): null when it
   * may go on. Absent: no target demands anything.
   */
  stepUp?: ((session: Session, target: { applicationId?: string; permissionSetId?: string }) => Promise<'mfa' | 'phishing-resistant' | null>) | undefined;
  /**
   * Whether the session's person can complete a second factor now (a device, or may register
   * one): an SP's RequestedAuthnContext for MFA then steps up, else it hears NoAuthnContext.
   * Absent: never.
   */
  mfaPossible?: ((session: Session) => Promise<boolean>) | undefined;
  clock?: () => Date;
}

/** An accepted logout waiting for the person's confirmation: what the LogoutResponse needs. */
export interface PendingLogout {
  applicationId: string;
  inResponseTo: string;
  relayState: string | undefined;
}

export type LogoutOutcome =
  | { kind: 'done'; redirect: string | null; application: Application; ended: boolean }
  | { kind: 'confirm'; application: Application; pending: PendingLogout };

export const SSO_PATH = '/saml/sso';
export const SLO_PATH = '/saml/slo';
export const METADATA_PATH = '/saml/metadata';
/**
 * Accepted AuthnRequests waiting for their person to sign in: 10 minutes each, at most 10,000 and
 * 32 MiB (estimated) in all, a tenth of either per client address (pending-requests.ts).
 */
export const PENDING_LIMITS: PendingLimits = { ttlMs: 10 * 60_000, maxEntries: 10_000, maxBytes: 32 * 1024 * 1024, clientShare: 0.1 };

/** A received message, or the decoding that produces it (its refusals are then audited too). */
export type IncomingMessage = ReceivedMessage | (() => ReceivedMessage);
const decoded = (message: IncomingMessage): ReceivedMessage => (typeof message === 'function' ? message() : message);

/** A waiting request as stored: the application by id (it is read back from the access catalog on resume). */
export interface ParkedAuthnRequest {
  request: AuthnRequest;
  applicationId: string;
  acsUrl: string;
  relayState: string | undefined;
  signed: boolean;
}

const pendingCodec: PendingCodec<ParkedAuthnRequest> = {
  /** Estimated bytes kept (strings counted at two bytes a character). */
  sizeOf(parked) {
    const { request } = parked;
    const strings = [parked.relayState, parked.acsUrl, request.id, request.issuer, request.acsUrl, request.protocolBinding, request.nameIdPolicyFormat, request.destination, ...(request.requestedAuthnContext?.classRefs ?? []), ...(request.requestedAuthnContext?.declRefs ?? [])];
    return 256 + strings.reduce((sum, value) => sum + 2 * (value?.length ?? 0), 0);
  },
  encode: (parked) => JSON.stringify(parked),
  decode(json) {
    const parked = JSON.parse(json) as ParkedAuthnRequest & { request: { issueInstant: string } };
    return { ...parked, request: { ...parked.request, issueInstant: new Date(parked.request.issueInstant) } };
  },
};

/** How often the replay cache's rows are pruned and counted against its bound. */
const REPLAY_RECOUNT_MS = 30_000;

export type Federation = ReturnType<typeof createFederation>;

export function createFederation(options: FederationOptions) {
  const { keys, users, access, sessionAccess, audit, aws, nameIdSecret, clock = () => new Date() } = options;
  const entityId = () => options.entityId ?? `${options.baseUrl()}${METADATA_PATH}`;
  const idp = (): IdentityProvider => ({ entityId: entityId(), signing: keys.current() });
  // Request IDs are kept longer than a request stays acceptable (IssueInstant ± 5 minutes).
  const replayCache = createSharedReplayCache(options.replayStore, { ttlMs: 15 * 60_000, maxEntries: 200_000, recountMs: REPLAY_RECOUNT_MS, now: clock });
  const pending = createPendingRequests(options.pendingStore, PENDING_LIMITS, pendingCodec, () => clock().getTime());

  // Looked up on every request: kept until an administrator changes anything.
  let applications: { generation: number; byEntityId: Map<string, Application>; byId: Map<string, Application> } | null = null;
  async function currentApplications() {
    const generation = access.generation();
    if (applications === null || applications.generation !== generation) {
      const list = await access.listApplications();
      applications = { generation, byEntityId: new Map(list.map((app) => [app.entityId, app])), byId: new Map(list.map((app) => [app.id, app])) };
    }
    return applications;
  }
  const applicationByEntityId = async (entityId: string) => (await currentApplications()).byEntityId.get(entityId);

  const sessionLevel = (session: Session): AuthnLevel => (sessionAmr(session).includes('mfa') ? 2 : 1);

  /** The assertion's AuthnContextClassRef and AuthnInstant: the stated context, and when the authentication it rests on was complete. */
  const authnOf = (session: Session, stated: { classRef: string; level: AuthnLevel } = { classRef: defaultClassOf(sessionLevel(session)), level: sessionLevel(session) }) => {
    const authn = session.data.authn;
    const at = (stated.level === 2 ? authn?.mfaAt : authn?.passwordAt) ?? null;
    return { authnContextClassRef: stated.classRef, authnInstant: at === null ? session.createdAt : new Date(at) };
  };

  /** The SP's RequestedAuthnContext against this session (authn-context.ts); the person's MFA ability is asked only when it matters. */
  async function contextFor(session: Session, requested: RequestedAuthnContext | undefined): Promise<AuthnContextDecision> {
    const situation = { sessionLevel: sessionLevel(session), mfaPossible: true };
    const decision = decideAuthnContext(requested, situation);
    if (decision.kind !== 'step-up' || (options.mfaPossible !== undefined && (await options.mfaPossible(session)))) return decision;
    return decideAuthnContext(requested, { ...situation, mfaPossible: false });
  }

  /** What the session lacks for an application and the SP's requested context: the stronger need, or null. */
  async function missingFor(session: Session, applicationId: string, requested: RequestedAuthnContext | undefined): Promise<'mfa' | 'phishing-resistant' | null> {
    const required = (await options.stepUp?.(session, { applicationId })) ?? null;
    if (required !== null) return required;
    return (await contextFor(session, requested)).kind === 'step-up' ? 'mfa' : null;
  }

  /** Audits an SP's RequestedAuthnContext that cannot be met and builds the signed NoAuthnContext Response. */
  async function refuseAuthnContext(actor: string, application: Application, request: { acsUrl: string; inResponseTo: string; relayState: string | undefined; requested: RequestedAuthnContext | undefined }, reason: string): Promise<PostForm> {
    await audit.record({
      actor,
      action: 'saml.assertion.issued',
      target: application.id,
      outcome: 'failure',
      errorCode: 'saml.no_authn_context',
      details: { entityId: application.entityId, initiatedBy: 'sp', comparison: request.requested?.comparison, classRefs: request.requested?.classRefs, reason },
    });
    const { base64 } = buildStatusResponse({ idp: idp(), acsUrl: request.acsUrl, inResponseTo: request.inResponseTo, subStatus: STATUS_NO_AUTHN_CONTEXT, message: reason, now: clock() });
    return form(request.acsUrl, base64, request.relayState);
  }

  /** Refuses a session that lacks what the target demands; the portal turns the refusal into the second-step page. */
  async function requireStepUp(session: Session, target: { applicationId?: string; permissionSetId?: string }): Promise<void> {
    const missing = (await options.stepUp?.(session, target)) ?? null;
    if (missing === null) return;
    throw new AppError('mfa.required', missing === 'phishing-resistant' ? 'this requires a security key or passkey: verify with one to continue' : 'this requires multi-factor authentication: verify to continue', { status: 401, details: { requirement: missing, ...target } });
  }

  const sessionIndexOf = (session: Session) => `_${createHmac('sha256', nameIdSecret).update(`session-index:${session.id}`).digest('base64url')}`;

  async function userOf(session: Session): Promise<IdentityUser> {
    const user = await users.get(session.userId);
    if (user === undefined) throw new AppError('auth.session_invalid', 'your account was removed from Portico: sign in again', { status: 401 });
    return user;
  }

  async function refuseNotAssigned(session: Session, action: 'saml.assertion.issued' | 'saml.aws_assertion.issued', target: string, details: Record<string, unknown>, message: string): Promise<never> {
    await audit.record({ actor: session.data.userName, action, target, outcome: 'failure', errorCode: 'access.not_assigned', details });
    throw new AppError('access.not_assigned', message, { status: 403 });
  }

  const endpoints = () => ({
    entityId: entityId(),
    metadataUrl: `${options.baseUrl()}${METADATA_PATH}`,
    ssoUrl: `${options.baseUrl()}${SSO_PATH}`,
    sloUrl: `${options.baseUrl()}${SLO_PATH}`,
  });

  function logoutAnswer(application: Application, pendingLogout: PendingLogout): { redirect: string | null; application: Application } {
    const redirect =
      application.logoutUrl === undefined
        ? null
        : logoutResponseUrl({ idp: idp(), destination: application.logoutUrl, inResponseTo: pendingLogout.inResponseTo, relayState: pendingLogout.relayState, now: clock() });
    return { redirect, application };
  }

  return {
    endpoints,
    metadata: () => buildIdpMetadata({ ...endpoints(), signingCertificates: keys.published() }),

    /** Checks an AuthnRequest; refusals (decoding included) are audited with their code and rethrown. */
    async receiveAuthnRequest(message: IncomingMessage): Promise<AcceptedAuthnRequest<Application>> {
      try {
        return await acceptAuthnRequest(decoded(message), { findApplication: applicationByEntityId, replayCache, destinations: [endpoints().ssoUrl], now: clock() });
      } catch (error) {
        if (isAppError(error)) {
          await audit.record({ actor: 'anonymous', action: 'saml.request.received', target: null, outcome: 'failure', errorCode: error.code, details: { reason: error.message } });
        }
        throw error;
      }
    },

    /** Audits a refusal made before a message reached the checks above (the HTTP layer's size limit). */
    async auditRefusal(action: 'saml.request.received' | 'saml.logout.handled', error: AppError): Promise<void> {
      await audit.record({ actor: 'anonymous', action, target: null, outcome: 'failure', errorCode: error.code, details: { reason: error.message } });
    },

    /**
     * Keeps an accepted request while the person signs in, counted against the sending client's
     * address (`client`: its IP; IPv6 counts by /64); the returned reference resumes it once.
     */
    park(accepted: AcceptedAuthnRequest<Application>, client: string): Promise<string> {
      const { request, application, acsUrl, relayState, signed } = accepted;
      return pending.park({ request, applicationId: application.id, acsUrl, relayState, signed }, clientKey(client));
    },
    /**
     * What must come before the waiting request is answered for this session, from one read of
     * it: 'sign-in' (ForceAuthn, and the session is older than the request: the password again),
     * a step-up (what the session lacks for its application and RequestedAuthnContext), or null
     * (go on; an unknown or expired reference is refused by `resume`).
     */
    async beforeResume(ref: string, session: Session): Promise<'sign-in' | 'mfa' | 'phishing-resistant' | null> {
      const entry = await pending.peek(ref);
      if (entry === undefined) return null;
      if (entry.value.request.forceAuthn && session.createdAt.getTime() < entry.parkedAt) return 'sign-in';
      return missingFor(session, entry.value.applicationId, entry.value.request.requestedAuthnContext);
    },
    /** What the session lacks for an accepted request (its application, its RequestedAuthnContext): step-up, or null. */
    stepUpForRequest(accepted: AcceptedAuthnRequest<Application>, session: Session): Promise<'mfa' | 'phishing-resistant' | null> {
      return missingFor(session, accepted.application.id, accepted.request.requestedAuthnContext);
    },
    /**
     * A RequestedAuthnContext no authentication at Portico can meet (an unknown class with exact,
     * a DeclRef): the signed NoAuthnContext Response at once, without asking anyone to sign in; null otherwise.
     */
    async refuseUnsatisfiable(accepted: AcceptedAuthnRequest<Application>, session: Session | null): Promise<PostForm | null> {
      const verdict = satisfiableAtAll(accepted.request.requestedAuthnContext);
      if (verdict.ok) return null;
      const request = { acsUrl: accepted.acsUrl, inResponseTo: accepted.request.id, relayState: accepted.relayState, requested: accepted.request.requestedAuthnContext };
      return refuseAuthnContext(session?.data.userName ?? 'anonymous', accepted.application, request, verdict.reason);
    },
    async resume(ref: string): Promise<AcceptedAuthnRequest<Application>> {
      const parked = await pending.take(ref);
      if (parked === undefined) {
        throw new AppError('saml.request_unknown', 'this sign-in request expired or was already used: start again from the application', { status: 400 });
      }
      const application = (await currentApplications()).byId.get(parked.applicationId);
      if (application === undefined) throw new AppError('saml.unknown_application', 'the application that sent this sign-in request is no longer registered', { status: 400 });
      return { request: parked.request, application, acsUrl: parked.acsUrl, relayState: parked.relayState, signed: parked.signed };
    },
    /** Entries and estimated bytes of the waiting requests (for tests and the bench). */
    pendingStats: () => pending.stats(),

    /** IsPassive and nobody signed in: the SP hears NoPassive, without a sign-in page. */
    noPassive(accepted: AcceptedAuthnRequest<Application>): PostForm {
      const { base64 } = buildStatusResponse({ idp: idp(), acsUrl: accepted.acsUrl, inResponseTo: accepted.request.id, subStatus: STATUS_NO_PASSIVE, message: 'nobody is signed in', now: clock() });
      return form(accepted.acsUrl, base64, accepted.relayState);
    },

    applicationById: async (id: string): Promise<Application | undefined> => (await currentApplications()).byId.get(id),

    /**
     * The signed Response for an application the person is assigned to, SP-initiated (with the
     * request's ID and ACS URL) or IdP-initiated (the first ACS URL and the application's relay state).
     */
    async signInToApplication(
      session: Session,
      application: Application,
      request: { acsUrl: string; inResponseTo?: string | undefined; relayState: string | undefined; requestedAuthnContext?: RequestedAuthnContext | undefined },
    ): Promise<PostForm> {
      const initiatedBy = request.inResponseTo === undefined ? 'idp' : 'sp';
      const { entitlements, groups } = await sessionAccess.forSession(session);
      if (!entitlements.applications.some((entry) => entry.application.id === application.id)) {
        await refuseNotAssigned(session, 'saml.assertion.issued', application.id, { entityId: application.entityId, initiatedBy }, `you are not assigned to ${application.name}: ask your administrator for access`);
      }
      await requireStepUp(session, { applicationId: application.id });
      const context = await contextFor(session, request.requestedAuthnContext);
      if (context.kind === 'step-up') throw new AppError('mfa.required', 'this application asks for multi-factor authentication: verify to continue', { status: 401, details: { requirement: 'mfa', applicationId: application.id } });
      if (context.kind === 'unsatisfiable') {
        // Only an SP's request carries a RequestedAuthnContext, so there is an InResponseTo to answer.
        const refused = { acsUrl: request.acsUrl, inResponseTo: request.inResponseTo ?? '', relayState: request.relayState, requested: request.requestedAuthnContext };
        return refuseAuthnContext(session.data.userName, application, refused, context.reason);
      }
      const user = await userOf(session);
      const built = buildResponse({
        idp: idp(),
        application,
        user,
        nameIdSecret,
        acsUrl: request.acsUrl,
        inResponseTo: request.inResponseTo,
        attributes: assertionAttributes(application.attributeMappings, user, groups.map((g) => g.qualifiedName)),
        sessionIndex: sessionIndexOf(session),
        ...authnOf(session, context),
        signResponse: application.signResponse,
        now: clock(),
      });
      await audit.record({
        actor: session.data.userName,
        action: 'saml.assertion.issued',
        target: application.id,
        outcome: 'success',
        details: {
          entityId: application.entityId,
          initiatedBy,
          acsUrl: request.acsUrl,
          assertionId: built.assertionId,
          nameIdFormat: built.nameId.format,
          encrypted: application.encryptionCertificate !== undefined,
          authnContextClassRef: context.classRef,
        },
      });
      return form(request.acsUrl, built.base64, request.relayState);
    },

    /** The assertion for an account × permission set the person is assigned, for the console or the command line. */
    async signInToAccount(session: Session, accountId: string, permissionSetId: string, purpose: 'console' | 'cli') {
      const { entitlements } = await sessionAccess.forSession(session);
      const entry = entitlements.accounts.find((a) => a.account.id === accountId)?.permissionSets.find((p) => p.permissionSet.id === permissionSetId);
      if (entry === undefined) {
        await refuseNotAssigned(session, 'saml.aws_assertion.issued', accountId, { accountId, permissionSetId, purpose }, `you are not assigned to this account with this permission set: ask your administrator for access`);
      }
      await requireStepUp(session, { permissionSetId });
      const [account, permissionSet, user] = await Promise.all([access.getAccount(accountId), access.getPermissionSet(permissionSetId), userOf(session)]);
      const signIn = aws.signIn(account, permissionSet, user);
      const built = buildResponse({
        idp: idp(),
        application: signIn.application,
        user,
        nameIdSecret,
        acsUrl: signIn.signInUrl,
        attributes: signIn.attributes,
        sessionIndex: sessionIndexOf(session),
        ...authnOf(session),
        now: clock(),
      });
      await audit.record({
        actor: session.data.userName,
        action: 'saml.aws_assertion.issued',
        target: accountId,
        outcome: 'success',
        details: { purpose, permissionSet: permissionSet.name, roleArn: signIn.roleArn, signInUrl: signIn.signInUrl, assertionId: built.assertionId, durationSeconds: signIn.durationSeconds },
      });
      return { account, permissionSet, signIn, form: form(signIn.signInUrl, built.base64, signIn.relayState), assertionBase64: built.base64 };
    },

    /**
     * An SP's LogoutRequest (HTTP-Redirect, through the browser): ends the browser's portal session
     * when it is the one named, and answers with a signed LogoutResponse to the application's
     * logout URL (null when it registered none).
     *
     * An unsigned request (from an application without a signing certificate) proves nothing about
     * who sent it: any web page could make the browser fetch it. Unless the browser says it came
     * from Portico's own site (`sameSite`), such a request that would end the session is not acted
     * on; the caller asks the person to confirm, then calls `finishLogout` with what is returned.
     */
    async logout(message: IncomingMessage, session: Session | null, endSession: () => Promise<void>, options: { sameSite: boolean } = { sameSite: false }): Promise<LogoutOutcome> {
      let accepted;
      try {
        accepted = await acceptLogoutRequest(decoded(message), { findApplication: applicationByEntityId, replayCache, destinations: [endpoints().sloUrl], now: clock() });
      } catch (error) {
        if (isAppError(error)) await audit.record({ actor: 'anonymous', action: 'saml.logout.handled', target: null, outcome: 'failure', errorCode: error.code, details: { reason: error.message } });
        throw error;
      }
      const { request, application } = accepted;
      let named = false;
      if (session !== null) {
        const user = await users.get(session.userId);
        named =
          request.sessionIndexes.length > 0
            ? request.sessionIndexes.includes(sessionIndexOf(session))
            : user !== undefined && application.nameIdFormat !== 'transient' && nameIdFor(application.nameIdFormat, user, application.entityId, nameIdSecret).value === request.nameId.value;
      }
      const pendingLogout: PendingLogout = { applicationId: application.id, inResponseTo: request.id, relayState: accepted.relayState };
      if (named && session !== null && !accepted.signed && !options.sameSite) {
        await audit.record({ actor: session.data.userName, action: 'saml.logout.handled', target: application.id, outcome: 'success', details: { entityId: application.entityId, sessionEnded: false, confirmation: 'asked', signed: false } });
        return { kind: 'confirm', application, pending: pendingLogout };
      }
      if (named) await endSession();
      await audit.record({ actor: session?.data.userName ?? 'anonymous', action: 'saml.logout.handled', target: application.id, outcome: 'success', details: { entityId: application.entityId, sessionEnded: named, signed: accepted.signed } });
      return { kind: 'done', ...logoutAnswer(application, pendingLogout), ended: named };
    },

    /** The person confirmed an unsigned logout (the caller checked that the confirmation came from them). */
    async finishLogout(session: Session, pendingLogout: PendingLogout, endSession: () => Promise<void>): Promise<LogoutOutcome & { kind: 'done' }> {
      const application = (await currentApplications()).byId.get(pendingLogout.applicationId);
      if (application === undefined) throw new AppError('saml.unknown_application', 'the application that asked for this sign-out is no longer registered', { status: 400 });
      await endSession();
      await audit.record({ actor: session.data.userName, action: 'saml.logout.handled', target: application.id, outcome: 'success', details: { entityId: application.entityId, sessionEnded: true, confirmation: 'confirmed', signed: false } });
      return { kind: 'done', ...logoutAnswer(application, pendingLogout), ended: true };
    },
  };
}

function form(action: string, samlResponse: string, relayState: string | undefined): PostForm {
  return { action, fields: { SAMLResponse: samlResponse, ...(relayState === undefined ? {} : { RelayState: relayState }) } };
}
