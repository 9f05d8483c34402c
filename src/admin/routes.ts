/**
 * The admin API under /admin/api: JSON in and out, every route declared with its schemas
 * (api-route.ts) so that the OpenAPI document at /admin/api/openapi.json is generated from the
 * same declarations that validate requests. Changes are audited by the services they call.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AccessService } from '#src/access/access-service.ts';
import { accountInput, accountUpdate, applicationInput, applicationUpdate, assignmentInput, permissionSetInput, permissionSetUpdate } from '#src/access/model.ts';
import type { AuditLog } from '#src/audit/index.ts';
import { MAX_AUDIT_PAGE } from '#src/audit/audit-log.ts';
import type { DirectoryConnector } from '#src/directory/types.ts';
import { carriesAccess } from '#src/directory/group-rule.ts';
import type { MappingSettings } from '#src/identity-store/mapping-settings.ts';
import { explainMappings, mappingPresetNames, referencedAttributes } from '#src/identity-store/mappings.ts';
import { defaultCheckLimit, maxCheckLimit, runMappingCheck } from '#src/identity-store/mapping-check.ts';
import { findProvisionedUser, type IdentityUserWriter } from '#src/identity-store/user.ts';
import { createUserRemoval } from '#src/identity-store/user-removal.ts';
import type { SessionService } from '#src/sessions/sessions.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import { requestSite } from '#src/auth/http/same-origin.ts';
import { useBodyPolicy, useErrorRenderer, useSecurityHeaders } from '#src/platform/http/index.ts';
import { disableBootstrapToken, type AdminAuth, type AdminIdentity } from './admin-auth.ts';
import { checkResponse, idParams, queryInt, route, validate, validateResponsesByDefault, type ApiRoute } from './api-route.ts';
import { managedDirectoryRoutes, type ManagedDirectoryAccess } from './directory-routes.ts';
import { samlAdminRoutes, type IdentityProviderAdmin } from './saml-routes.ts';
import { oidcAdminRoutes } from './oidc-routes.ts';
import type { OidcAdministration } from '#src/federation/oidc/administration.ts';
import { awsAdminRoutes, type AwsAdmin } from './aws-routes.ts';
import { throttleAdminRoutes } from './throttle-routes.ts';
import { awsSsoAdminRoutes } from './aws-sso-routes.ts';
import type { AwsSsoService } from '#src/portal/aws-sso/service.ts';
import { syncAdminRoutes } from './sync-routes.ts';
import type { SyncEngine } from '#src/sync/sync-engine.ts';
import { mfaAdminRoutes } from './mfa-routes.ts';
import type { MfaService } from '#src/mfa/mfa-service.ts';
import { appCredentialRoutes } from './app-credential-routes.ts';
import { directoryDiagnosticRoutes } from './directory-diagnostic-routes.ts';
import { identitySourceRoutes } from './identity-source-routes.ts';
import { ldifRoutes } from './ldif-routes.ts';
import type { CredentialAdministration } from '#src/identity-store/credential-administration.ts';
import type { IdentitySourceAdmin } from '#src/identity-source/identity-source-admin.ts';
import type { ThrottleAdmin } from '#src/auth/throttle.ts';
import { buildOpenApiDocument } from './openapi.ts';
import * as schemas from './schemas.ts';

export const ADMIN_API_PREFIX = '/admin/api';
/** SP metadata may be up to 1 MiB; JSON escaping can grow it. */
const BODY_LIMIT = 3 * 1024 * 1024;

export interface AdminApiDeps {
  auth: AdminAuth;
  access: AccessService;
  users: IdentityUserWriter;
  sessions: SessionService;
  mappings: MappingSettings;
  directory: () => DirectoryConnector | null;
  /** The managed directory, for its administration routes; null when a self-managed AD is the identity source. */
  managed: () => ManagedDirectoryAccess | null;
  /** Portico as a SAML identity provider: its endpoints and signing keys. */
  saml: () => IdentityProviderAdmin;
  /** Portico as an OpenID provider: its applications and signing keys. */
  oidc?: () => OidcAdministration | null;
  /** The identity source's state, as /status shows it (with the service account's health). */
  status: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  audit: AuditLog;
  settings: SettingsStore;
  /** The sign-in throttle's counters, for the help desk. */
  throttle: ThrottleAdmin;
  /** The IdentityStore API's access keys. */
  credentials: () => CredentialAdministration;
  /** The identity source as administrators change it. */
  identitySource: () => IdentitySourceAdmin;
  /** The AWS CLI's client registrations (SSO OIDC). */
  awsSso: () => Pick<AwsSsoService, 'listClients' | 'revokeClient'>;
  /** The AD sync (scope, status, sync now). */
  sync: () => SyncEngine;
  /** Multi-factor authentication: the policy and people's devices. */
  mfa?: MfaService;
  /** The AWS side: management identity, provisioning status, Organizations sync. */
  aws?: () => AwsAdmin;
  clock?: () => Date;
  /** Check every response against its route's schema (a mismatch is a 500); default: under the test runner only (see api-route.ts). */
  validateResponses?: boolean;
}

export function adminRoutes(deps: AdminApiDeps): ApiRoute[] {
  const { access, users, sessions, mappings, audit, clock = () => new Date() } = deps;
  const removeUser = createUserRemoval({ users, revokeSessions: (guid, actor) => sessions.revokeUser(guid, actor), audit, clock });

  const directory = (): DirectoryConnector => {
    const connected = deps.directory();
    if (connected === null) throw new AppError('identity_source.unavailable', 'the identity source is not connected', { status: 503 });
    return connected;
  };


  const lookUpUser = async (guid: string) => {
    const provisioned = await users.findByGuid(guid);
    if (provisioned) return { userName: provisioned.userName, displayName: provisioned.displayName };
    const found = await directory().findUserByGuid(guid);
    return found && { userName: found.userPrincipalName ?? found.samAccountName, displayName: found.displayName };
  };

  /**
   * A provisioned user by any spelling `access explain` accepts: the identity store's own keys
   * (UserId, user name, objectGUID, email), else the directory's (sAMAccountName, DOMAIN\\name,
   * implicit UPN, DN) resolved to the objectGUID the record is keyed by.
   */
  const provisionedUser = async (key: string) => {
    try {
      return await findProvisionedUser(users, key);
    } catch (error) {
      const connected = deps.directory();
      if (!isAppError(error, 'identity.user_not_found') || connected === null) throw error;
      const found = await connected.findUser(key).catch(() => null);
      const user = found && (await users.findByGuid(found.guid));
      if (!user) throw error;
      return user;
    }
  };

  const list = <T extends z.ZodType>(key: string, item: T) => z.object({ [key]: z.array(item) });
  const assignmentQuery = z.strictObject({
    accountId: z.string().max(64).optional(),
    permissionSetId: z.string().max(64).optional(),
    applicationId: z.string().max(64).optional(),
    principal: z.string().max(64).optional().describe('objectGUID of a user or group'),
  });

  return [
    route({
      method: 'GET', path: '/me', operationId: 'whoAmI', tag: 'session', summary: 'Who is calling',
      response: z.object({ actor: z.string(), via: z.enum(['bootstrap-token', 'session']) }),
      handler: ({ admin }) => Promise.resolve({ actor: admin.actor, via: admin.via }),
    }),
    route({
      method: 'DELETE', path: '/bootstrap-token', operationId: 'disableBootstrapToken', tag: 'session', status: 204,
      summary: 'Disable the bootstrap token (once an admin group is configured); `portico admin bootstrap-token --reset` issues a new one on the host',
      response: z.null(),
      handler: async ({ admin }) => {
        const disabled = await disableBootstrapToken(deps.settings, clock());
        await audit.record({ actor: admin.actor, action: 'admin.bootstrap_token.disabled', outcome: 'success', details: { wasEnabled: disabled } });
        return null;
      },
    }),

    // ---- directory ----
    route({
      method: 'GET', path: '/directory', operationId: 'getDirectory', tag: 'directory', summary: 'The identity source, its validation verdict and its domain controllers',
      response: z.record(z.string(), z.unknown()),
      handler: () => Promise.resolve(deps.status()),
    }),
    route({
      method: 'GET', path: '/directory/principals', operationId: 'searchPrincipals', tag: 'directory',
      summary: 'Users and groups whose name, UPN, sAMAccountName or mail starts with q (read from AD, for pickers)',
      query: z.strictObject({ q: z.string().min(1, 'q: required').max(256), type: z.enum(['user', 'group']).optional(), limit: queryInt('limit', 1, 200, 25) }),
      response: z.object({ principals: z.array(schemas.directoryPrincipal), more: z.boolean() }),
      handler: async ({ query }) => {
        const found = await directory().searchPrincipals(query.q, { limit: query.limit, ...(query.type ? { types: [query.type] } : {}) });
        return {
          principals: found.principals.map((p) =>
            p.type === 'user'
              ? { type: 'user', guid: p.guid, name: p.userPrincipalName ?? p.samAccountName, displayName: p.displayName, mail: p.mail, grantsAccess: true, groupKind: null }
              : { type: 'group', guid: p.guid, name: p.qualifiedName, displayName: null, mail: null, grantsAccess: carriesAccess(p), groupKind: p.kind },
          ),
          more: found.more,
        };
      },
    }),

    // ---- attribute mappings ----
    route({
      method: 'GET', path: '/mappings', operationId: 'getMappings', tag: 'identity', summary: 'The attribute mappings applied at every sign-in',
      response: z.object({ table: z.record(z.string(), z.string()), isDefault: z.boolean() }),
      handler: async () => mappings.current(),
    }),
    route({
      method: 'PUT', path: '/mappings', operationId: 'setMappings', tag: 'identity', summary: 'Replace the attribute mappings (validated; errors give the position)',
      body: z.strictObject({ table: z.record(z.string(), z.string()) }),
      response: z.object({ table: z.record(z.string(), z.string()) }),
      handler: async ({ body, admin }) => ({ table: await mappings.save(body.table, admin.actor) }),
    }),
    route({
      method: 'POST', path: '/mappings/preset', operationId: 'useMappingPreset', tag: 'identity', summary: `Replace the attribute mappings with a named table (${mappingPresetNames.join(', ')}); "default" follows Portico's default from then on`,
      body: z.strictObject({ name: z.string().min(1).max(64) }),
      response: z.object({ table: z.record(z.string(), z.string()), isDefault: z.boolean() }),
      handler: async ({ body, admin }) => ({ table: await mappings.usePreset(body.name, admin.actor), isDefault: body.name === 'default' }),
    }),
    route({
      method: 'POST', path: '/mappings/preview', operationId: 'previewMappings', tag: 'identity', summary: 'What a table (or the current one) gives for a user read from AD now',
      body: z.strictObject({ user: z.string().min(1).max(1024), table: z.record(z.string(), z.string()).optional() }),
      response: z.object({ rows: z.array(schemas.mappingExplanation) }),
      handler: async ({ body }) => {
        const table = body.table ?? (await mappings.current()).table;
        const user = await directory().findUser(body.user, { attributes: referencedAttributes(table) });
        if (!user) throw new AppError('directory.user_not_found', `no user "${body.user.slice(0, 100)}" in the identity source`, { status: 404 });
        return { rows: explainMappings(table, user).map(({ target, template, value, error, sources }) => ({ target, template, value, error, sources })) };
      },
    }),

    route({
      method: 'POST', path: '/mappings/check', operationId: 'checkMappings', tag: 'identity',
      summary: 'Apply the current table to a sample of the directory\'s users (paged, at most `limit`): per mapping, how many it would refuse at sign-in and why',
      body: z.strictObject({ limit: z.number().int().min(1).max(maxCheckLimit).default(defaultCheckLimit) }),
      response: schemas.mappingCheckReport,
      handler: async ({ body, admin }) => runMappingCheck({ directory: directory(), mappings, audit }, { limit: body.limit, actor: admin.actor, trigger: 'on-demand' }),
    }),

    // ---- provisioned users ----
    route({
      method: 'GET', path: '/users', operationId: 'listUsers', tag: 'identity', summary: 'Users provisioned at sign-in',
      query: z.strictObject({ prefix: z.string().max(256).optional(), limit: queryInt('limit', 1, 1000, 100), after: z.string().max(64).optional() }),
      response: z.object({ users: z.array(schemas.identityUser), next: z.string().nullable() }),
      handler: async ({ query }) => users.list({ limit: query.limit, after: query.after, userNamePrefix: query.prefix }),
    }),
    route({
      method: 'GET', path: '/users/{id}', operationId: 'getUser', tag: 'identity', summary: 'One provisioned user (UserId, user name, objectGUID or email, or any name `access explain` accepts: sAMAccountName, DOMAIN\\name, UPN) and their live sessions',
      params: idParams,
      response: z.object({ user: schemas.identityUser, sessions: z.array(z.object({ id: z.string(), createdAt: z.string(), expiresAt: z.string(), clientAddress: z.string().nullable() })) }),
      handler: async ({ params }) => {
        const user = await provisionedUser(params.id);
        const live = await sessions.listForUser(user.activeDirectory.guid);
        return { user, sessions: live.map((s) => ({ id: s.id, createdAt: s.createdAt, expiresAt: s.expiresAt, clientAddress: s.data.clientAddress })) };
      },
    }),
    route({
      method: 'DELETE', path: '/users/{id}', operationId: 'removeUser', tag: 'identity', status: 200,
      summary: 'Remove a provisioned user and end their sessions; AD is not touched, and a user still in AD comes back at the next sign-in',
      params: idParams,
      response: z.object({ removed: z.string(), userName: z.string(), sessionsRevoked: z.number() }),
      handler: async ({ params, admin }) => removeUser((await provisionedUser(params.id)).userId, admin.actor),
    }),
    route({
      method: 'POST', path: '/users/{id}/revoke-sessions', operationId: 'revokeUserSessions', tag: 'identity', summary: "End every portal session of a provisioned user",
      params: idParams,
      response: z.object({ userName: z.string(), sessionsRevoked: z.number() }),
      handler: async ({ params, admin }) => {
        const user = await provisionedUser(params.id);
        return { userName: user.userName, sessionsRevoked: await sessions.revokeUser(user.activeDirectory.guid, admin.actor) };
      },
    }),

    // ---- accounts ----
    route({
      method: 'GET', path: '/accounts', operationId: 'listAccounts', tag: 'accounts', summary: 'Cloud accounts',
      response: list('accounts', schemas.account),
      handler: async () => ({ accounts: await access.listAccounts() }),
    }),
    route({
      method: 'POST', path: '/accounts', operationId: 'createAccount', tag: 'accounts', status: 201, summary: 'Add a cloud account',
      body: accountInput, response: schemas.account,
      handler: ({ body, admin }) => access.createAccount(body, admin.actor),
    }),
    route({
      method: 'GET', path: '/accounts/{id}', operationId: 'getAccount', tag: 'accounts', summary: 'One account (by id or name) with the permission sets assigned in it (their IAM roles: GET /aws/provisioning)',
      params: idParams,
      response: z.object({ account: schemas.account, provisioned: z.array(z.object({ permissionSetId: z.string(), provisionedAt: z.string() })) }),
      handler: async ({ params }) => {
        const account = await access.getAccount(params.id);
        const provisioned = await access.listProvisioned({ accountId: account.id });
        return { account, provisioned: provisioned.map((p) => ({ permissionSetId: p.permissionSetId, provisionedAt: p.provisionedAt.toISOString() })) };
      },
    }),
    route({
      method: 'PATCH', path: '/accounts/{id}', operationId: 'updateAccount', tag: 'accounts', summary: 'Change an account (the id stays)',
      params: idParams, body: accountUpdate, response: schemas.account,
      handler: ({ params, request, admin }) => access.updateAccount(params.id, request.body, admin.actor),
    }),
    route({
      method: 'DELETE', path: '/accounts/{id}', operationId: 'deleteAccount', tag: 'accounts', status: 204, summary: 'Remove an account without assignments',
      params: idParams, response: z.null(),
      handler: async ({ params, admin }) => {
        await access.deleteAccount(params.id, admin.actor);
        return null;
      },
    }),
    route({
      method: 'GET', path: '/accounts/{id}/access', operationId: 'whoCanReachAccount', tag: 'access', summary: 'Who can reach this account, with which permission set, and through which group',
      params: idParams, response: schemas.whoCanReach,
      handler: ({ params }) => access.whoCanReach({ type: 'account', id: params.id }, lookUpUser),
    }),

    // ---- permission sets ----
    route({
      method: 'GET', path: '/permission-sets', operationId: 'listPermissionSets', tag: 'permission sets', summary: 'Permission sets',
      response: list('permissionSets', schemas.permissionSet),
      handler: async () => ({ permissionSets: await access.listPermissionSets() }),
    }),
    route({
      method: 'POST', path: '/permission-sets', operationId: 'createPermissionSet', tag: 'permission sets', status: 201, summary: 'Create a permission set',
      body: permissionSetInput, response: schemas.permissionSet,
      handler: ({ body, admin }) => access.createPermissionSet(body, admin.actor),
    }),
    route({
      method: 'GET', path: '/permission-sets/{id}', operationId: 'getPermissionSet', tag: 'permission sets', summary: 'One permission set (by id or name)',
      params: idParams, response: schemas.permissionSet,
      handler: ({ params }) => access.getPermissionSet(params.id),
    }),
    route({
      method: 'PATCH', path: '/permission-sets/{id}', operationId: 'updatePermissionSet', tag: 'permission sets', summary: 'Change a permission set (the name stays)',
      params: idParams, body: permissionSetUpdate, response: schemas.permissionSet,
      handler: ({ params, request, admin }) => access.updatePermissionSet(params.id, request.body, admin.actor),
    }),
    route({
      method: 'DELETE', path: '/permission-sets/{id}', operationId: 'deletePermissionSet', tag: 'permission sets', status: 204, summary: 'Delete a permission set without assignments',
      params: idParams, response: z.null(),
      handler: async ({ params, admin }) => {
        await access.deletePermissionSet(params.id, admin.actor);
        return null;
      },
    }),

    // ---- applications ----
    route({
      method: 'GET', path: '/applications', operationId: 'listApplications', tag: 'applications', summary: 'SAML applications',
      response: list('applications', schemas.application),
      handler: async () => ({ applications: await access.listApplications() }),
    }),
    route({
      method: 'POST', path: '/applications', operationId: 'createApplication', tag: 'applications', status: 201, summary: 'Register a SAML service provider by hand',
      body: applicationInput, response: schemas.application,
      handler: ({ body, admin }) => access.createApplication(body, admin.actor),
    }),
    route({
      method: 'POST', path: '/applications/from-metadata', operationId: 'createApplicationFromMetadata', tag: 'applications', status: 201,
      summary: "Register a SAML service provider from its metadata XML (DOCTYPEs are refused: no entity expansion, no external entities)",
      body: z.strictObject({ metadata: z.string().min(1, 'metadata: required').max(2 * 1024 * 1024, 'metadata: at most 2 MiB'), application: z.record(z.string(), z.unknown()).describe('name and any field to add or override').default({}) }),
      response: schemas.application,
      handler: ({ body, admin }) => access.createApplication(access.applicationFromMetadata(body.metadata, body.application), admin.actor),
    }),
    route({
      method: 'GET', path: '/applications/{id}', operationId: 'getApplication', tag: 'applications', summary: 'One application (by id or name)',
      params: idParams, response: schemas.application,
      handler: ({ params }) => access.getApplication(params.id),
    }),
    route({
      method: 'PATCH', path: '/applications/{id}', operationId: 'updateApplication', tag: 'applications', summary: 'Change an application (the name stays)',
      params: idParams, body: applicationUpdate, response: schemas.application,
      handler: ({ params, request, admin }) => access.updateApplication(params.id, request.body, admin.actor),
    }),
    route({
      method: 'DELETE', path: '/applications/{id}', operationId: 'deleteApplication', tag: 'applications', status: 204, summary: 'Delete an application without assignments',
      params: idParams, response: z.null(),
      handler: async ({ params, admin }) => {
        await access.deleteApplication(params.id, admin.actor);
        return null;
      },
    }),
    route({
      method: 'GET', path: '/applications/{id}/access', operationId: 'whoCanReachApplication', tag: 'access', summary: 'Who can reach this application, and through which group',
      params: idParams, response: schemas.whoCanReach,
      handler: ({ params }) => access.whoCanReach({ type: 'application', id: params.id }, lookUpUser),
    }),

    // ---- assignments ----
    route({
      method: 'GET', path: '/assignments', operationId: 'listAssignments', tag: 'assignments', summary: 'Assignments, filtered by target or principal',
      query: assignmentQuery,
      response: list('assignments', schemas.assignment),
      handler: async ({ query }) => {
        const { principal, ...filter } = query;
        const defined = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));
        return { assignments: await access.listAssignments({ ...defined, ...(principal ? { principalGuids: [principal] } : {}) }) };
      },
    }),
    route({
      method: 'POST', path: '/assignments', operationId: 'createAssignment', tag: 'assignments', status: 201,
      summary: 'Assign an AD user or group (objectGUID, UPN, DOMAIN\\name or name@domain) to an account with a permission set, or to an application',
      body: assignmentInput,
      response: z.object({ assignment: schemas.assignment, provisioned: z.boolean().describe("true once the permission set's IAM role exists in the account (AWS provisioning with a management identity); false without one or when it failed"), provisioning: z.object({ status: z.enum(['provisioned', 'failed', 'drifted']), message: z.string().nullable(), roleArn: z.string().nullable() }).nullable().describe('the AWS provisioning outcome; null without a management identity or for applications') }),
      handler: ({ body, admin }) => access.createAssignment(body, admin.actor),
    }),
    route({
      method: 'DELETE', path: '/assignments/{id}', operationId: 'deleteAssignment', tag: 'assignments', status: 204, summary: 'Remove an assignment',
      params: idParams, response: z.null(),
      handler: async ({ params, admin }) => {
        await access.deleteAssignment(params.id, admin.actor);
        return null;
      },
    }),

    // ---- access ----
    route({
      method: 'GET', path: '/access/users/{id}', operationId: 'explainUserAccess', tag: 'access', summary: 'What a user can reach, read from AD now, with the group paths',
      params: idParams, response: schemas.userAccess,
      handler: ({ params }) => access.explainUser(params.id),
    }),

    // ---- audit ----
    route({
      method: 'GET', path: '/audit', operationId: 'listAuditEvents', tag: 'audit', summary: 'Audit events, newest first',
      query: z.strictObject({
        limit: queryInt('limit', 1, MAX_AUDIT_PAGE, 100),
        before: z.string().max(64).optional(),
        action: z.string().max(128).optional(),
        actor: z.string().max(512).optional().describe('only events by exactly this actor'),
        target: z.string().max(512).optional().describe('only events about exactly this target'),
        since: auditTime('since').optional().describe('only events at or after this time (ISO-8601 with a time zone)'),
        until: auditTime('until').optional().describe('only events before this time (ISO-8601 with a time zone)'),
      }),
      response: z.object({ events: z.array(schemas.auditEvent) }),
      handler: async ({ query }) => ({
        events: await audit.list({ limit: query.limit, before: query.before, action: query.action, actor: query.actor, target: query.target, since: toDate(query.since), until: toDate(query.until) }),
      }),
    }),

    // ---- managed directory (directory-routes.ts, ldif-routes.ts) ----
    ...managedDirectoryRoutes({ managed: () => deps.managed(), audit, clock }),
    ...ldifRoutes({ managed: () => deps.managed(), audit, clock }),

    // ---- identity source diagnostics and changes (directory-diagnostic-routes.ts, identity-source-routes.ts) ----
    ...directoryDiagnosticRoutes({ directory, managed: () => deps.managed() !== null }),
    ...identitySourceRoutes({ identitySource: () => deps.identitySource() }),

    // ---- IdentityStore API access keys (app-credential-routes.ts) ----
    ...appCredentialRoutes({ credentials: () => deps.credentials() }),

    // ---- AWS CLI client registrations (aws-sso-routes.ts) ----
    ...awsSsoAdminRoutes({ awsSso: () => deps.awsSso() }),

    // ---- SAML identity provider (saml-routes.ts) ----
    ...samlAdminRoutes({ saml: () => deps.saml(), audit, clock, ...(deps.aws ? { metadataChanged: (actor: string) => deps.aws?.().provisioner.refreshProviders(actor) } : {}) }),
    // ---- OpenID provider (oidc-routes.ts) ----
    ...oidcAdminRoutes(() => deps.oidc?.() ?? null),
    ...awsAdminRoutes({
      aws: () => {
        const aws = deps.aws?.();
        if (aws === undefined) throw new AppError('aws.not_configured', 'the AWS side is not wired in this server', { status: 503 });
        return aws;
      },
      audit,
      clock,
    }),

    // ---- sign-in throttle (throttle-routes.ts) ----
    ...throttleAdminRoutes({ throttle: deps.throttle, audit, clock }),

    // ---- AD sync (sync-routes.ts) ----
    ...syncAdminRoutes({ sync: () => deps.sync() }),
    ...mfaAdminRoutes({
      mfa: () => {
        if (deps.mfa === undefined) throw new AppError('mfa.unavailable', 'multi-factor authentication is not set up on this instance', { status: 503 });
        return deps.mfa;
      },
      userGuid: async (key) => {
        const user = await provisionedUser(key);
        return { guid: user.activeDirectory.guid, userName: user.userName };
      },
    }),
  ];
}

/** Registers the admin API and its OpenAPI document in an encapsulated scope. */
export async function registerAdminApi(http: FastifyInstance, deps: AdminApiDeps): Promise<void> {
  const routes = adminRoutes(deps);
  const document = buildOpenApiDocument(routes, ADMIN_API_PREFIX);
  await http.register(
    (scope, _options, done) => {
      // JSON only: no other parser, and a change with another body is refused before it is read (415).
      useBodyPolicy(scope, { jsonOnly: { code: 'api.unsupported_media_type', face: 'the admin API' }, json: { limit: BODY_LIMIT, invalidCode: 'api.invalid_request' } });
      useSecurityHeaders(scope, { page: false });
      useErrorRenderer(scope, {
        name: 'admin API request',
        clientError: (status, error) => ({ code: status === 415 ? 'api.unsupported_media_type' : status === 413 ? 'api.invalid_request' : 'internal', message: error.message }),
        adjust: (described) => (described.code === 'storage.unavailable' ? { ...described, status: 503, message: 'the database is unavailable' } : described),
      });
      scope.setNotFoundHandler((request, reply) => reply.status(404).send({ error: { code: 'api.not_found', message: `no admin API route ${request.method} ${request.url.split('?')[0]}` } }));

      scope.get('/openapi.json', (_request, reply) => reply.send(document));
      for (const definition of routes) {
        scope.route({
          method: definition.method,
          url: definition.path.replace(/\{(\w+)\}/g, ':$1'),
          // A route that accepts a large body refuses an unauthenticated caller before reading it.
          ...(definition.bodyLimit !== undefined ? { bodyLimit: definition.bodyLimit, onRequest: async (request: FastifyRequest) => void (await deps.auth.authenticate(request)) } : {}),
          handler: async (request, reply) => {
            const admin = await deps.auth.authenticate(request);
            if (admin.via === 'session' && CHANGES.has(request.method)) await refuseForeignOrigin(request, admin, deps.audit);
            const result = await definition.handler({
              params: validate(definition.params, request.params, 'path'),
              query: validate(definition.query, request.query, 'query'),
              body: validate(definition.body, request.body, 'body'),
              admin,
              request,
            });
            const status = definition.status ?? 200;
            if ((deps.validateResponses ?? validateResponsesByDefault) && status !== 204) checkResponse(definition, result);
            return status === 204 ? reply.status(204).send() : reply.status(status).send(result);
          },
        });
      }
      done();
    },
    { prefix: ADMIN_API_PREFIX },
  );
}

/** A time filter of the audit log: ISO-8601 with a time zone (2026-05-01T00:00:00Z). */
const auditTime = (name: string) => z.iso.datetime({ offset: true, error: `${name}: an ISO-8601 date and time with a time zone, e.g. 2026-05-01T00:00:00Z` });
const toDate = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Cookie-authenticated changes must come from Portico's own pages: the browser's Origin header,
 * or its Referer when Origin is absent, must name this host; neither is refused too (defence in
 * depth beside SameSite cookies and the JSON content type). Bearer-token callers (the CLI) are
 * not cookie-authenticated and are not asked.
 */
async function refuseForeignOrigin(request: FastifyRequest, admin: AdminIdentity, audit: AuditLog): Promise<void> {
  const site = requestSite(request);
  if (site.verdict === 'same') return;
  const message =
    site.verdict === 'absent'
      ? 'a change made with a session cookie must carry an Origin or Referer header naming this site'
      : `cross-origin changes are refused (the request came from ${site.origin ?? 'an opaque origin'})`;
  await audit.record({
    actor: admin.actor,
    action: 'admin.request.refused',
    target: null,
    outcome: 'failure',
    errorCode: 'admin.origin_refused',
    details: { method: request.method, path: request.url.split('?')[0], ...(site.verdict === 'foreign' ? { source: site.source, origin: site.origin } : { source: 'none' }) },
  });
  throw new AppError('admin.origin_refused', message, { status: 403 });
}
