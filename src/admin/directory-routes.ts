/**
 * The admin API of the managed directory (/admin/api/directory/managed/…): users, groups, OUs,
 * passwords, enable/disable/unlock and members — the operations of `portico directory
 * user|group|ou`, from src/directory/managed/administration.ts, run on the engine as the domain's
 * Administrator. Every change is audited under the calling admin (the target is the entry's DN;
 * a password never reaches the audit log or a log line). When a self-managed AD is the identity
 * source every route answers 409: Portico never writes to a connected AD.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditLog, ManagedDirectoryAction } from '#src/audit/index.ts';
import * as administration from '#src/directory/managed/administration.ts';
import type { AdministrationTarget, UserAttributeField } from '#src/directory/managed/administration.ts';
import type { DirectoryBackend } from '#src/directory/managed/backend.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import type { AdminIdentity } from './admin-auth.ts';
import { route, type ApiRoute } from './api-route.ts';

/** The managed directory as these routes need it; null when a self-managed AD is the identity source. */
export interface ManagedDirectoryAccess {
  engine: DirectoryBackend;
  administrator: { dn: string };
  baseDn: string;
  /** DNS name: the UPN suffix of created users. */
  domain: string;
}

export interface ManagedDirectoryRoutesDeps {
  managed: () => ManagedDirectoryAccess | null;
  audit: AuditLog;
  clock?: () => Date;
}

const TAG = 'managed directory';
const BASE = '/directory/managed';

// ---- schemas: the directory's own rules, said before the directory says them ----

/** Characters AD refuses in a sAMAccountName. */
const samForbidden = /["/\\[\]:;|=,+*?<>@\p{Cc}]/u;
const samName = (field: string, max: number) =>
  z
    .string({ error: `${field}: required, a string` })
    .min(1, `${field}: required`)
    .max(max, `${field}: at most ${max} characters`)
    .refine((v) => !samForbidden.test(v), `${field}: none of " / \\ [ ] : ; | = , + * ? < > @ or control characters`)
    .refine((v) => !v.endsWith('.'), `${field}: must not end with a period`);
const dn = (field: string) =>
  z
    .string({ error: `${field}: a DN, such as OU=Staff,DC=example,DC=com` })
    .max(1024, `${field}: at most 1024 characters`)
    .regex(/^[A-Za-z][\w-]*=[^,]+(,[A-Za-z][\w-]*=.+)*$/, `${field}: a DN, such as OU=Staff,DC=example,DC=com`);
const attribute = (field: string, max: number) =>
  z
    .string({ error: `${field}: a string` })
    .min(1, `${field}: must not be empty (send null to remove it)`)
    .max(max, `${field}: at most ${max} characters`)
    .refine((v) => !/\p{Cc}/u.test(v), `${field}: no control characters`);
const password = z.string({ error: 'password: required, a string' }).min(1, 'password: required').max(256, 'password: at most 256 characters');
const mustChange = z.boolean({ error: 'mustChange: true or false' }).optional().describe('the user must change the password at the next sign-in');

/** AD's upper bounds for each attribute (rangeUpper in the schema). */
const attributeLimits: Record<UserAttributeField, number> = { givenName: 64, surname: 64, initials: 6, displayName: 256, mail: 256, title: 128, department: 64 };
const userFields = Object.keys(attributeLimits) as UserAttributeField[];
const newAttributes = Object.fromEntries(userFields.map((f) => [f, attribute(f, attributeLimits[f]).optional()])) as Record<UserAttributeField, z.ZodOptional<z.ZodString>>;
const changedAttributes = Object.fromEntries(userFields.map((f) => [f, attribute(f, attributeLimits[f]).nullable().optional()])) as Record<UserAttributeField, z.ZodOptional<z.ZodNullable<z.ZodString>>>;

const userCreate = z.strictObject({
  sam: samName('sam', 20).describe('sAMAccountName (the user signs in as sam@domain)'),
  ou: dn('ou').optional().describe('where to create the user; CN=Users by default'),
  password: password.optional().describe('the initial password; without one the user is created disabled'),
  mustChange,
  ...newAttributes,
});
const userUpdate = z
  .strictObject(changedAttributes)
  .refine((body) => Object.values(body).some((v) => v !== undefined), `nothing to change: give at least one of ${userFields.join(', ')}`)
  .describe('a string replaces the attribute, null removes it');
const groupCreate = z.strictObject({
  name: samName('name', 64).describe('the group name (cn and sAMAccountName)'),
  ou: dn('ou').optional().describe('where to create the group; CN=Users by default'),
  scope: z.enum(['global', 'domainLocal', 'universal'], { error: 'scope: global, domainLocal or universal' }).default('global'),
  distribution: z.boolean({ error: 'distribution: true or false' }).default(false).describe('a distribution group: no security, not in tokenGroups'),
});
const ouCreate = z.strictObject({
  name: attribute('name', 64).refine((v) => v.trim() === v, 'name: no leading or trailing spaces'),
  parent: dn('parent').optional().describe('parent OU or container; the domain root by default'),
});
const principalName = (field: string) => z.string({ error: `${field}: required, a string` }).min(1, `${field}: required`).max(1024, `${field}: at most 1024 characters`);
const userParams = z.strictObject({ name: principalName('name').describe('UPN, DOMAIN\\name, sAMAccountName or DN') });
const groupParams = z.strictObject({ name: principalName('name').describe('group name, DOMAIN\\name or DN') });
const memberParams = z.strictObject({ name: principalName('name'), member: principalName('member').describe('a user or a group') });
const ouParams = z.strictObject({ dn: dn('dn') });

const changed = z.object({ dn: z.string() });
type Membership = { group: string; member: string };
const membership = z.object({ group: z.string().describe('DN of the group'), member: z.string().describe('DN of the member') });

const deletedObject = z
  .object({
    guid: z.string().describe('objectGUID (kept by the tombstone, and by the object once restored)'),
    name: z.string().describe('the name it had (its RDN value)'),
    kind: z.enum(['user', 'group', 'ou', 'other']),
    lastKnownParent: z.string().nullable(),
    deletedAt: z.string().nullable(),
    dn: z.string().describe('its DN under CN=Deleted Objects'),
  })
  .meta({ id: 'ManagedDeletedObject' });

const REFUSED = 'the identity source is a connected AD, and Portico never writes to a connected AD: manage its users and groups in Active Directory';

export function managedDirectoryRoutes(deps: ManagedDirectoryRoutesDeps): ApiRoute[] {
  /**
   * Runs one change as the Administrator and audits it: success with the DN, failure with the
   * error code (refusals included). `details` must never carry a password.
   */
  async function change<T>(
    admin: AdminIdentity,
    request: FastifyRequest,
    audit: { action: ManagedDirectoryAction; target: string; details?: Record<string, unknown>; dnOf: (result: T) => string; detailsOf?: (result: T) => Record<string, unknown> },
    work: (target: AdministrationTarget) => Promise<T>,
  ): Promise<T> {
    const action = `directory.managed.${audit.action}` as const;
    try {
      const managed = deps.managed();
      if (managed === null) throw new AppError('directory.refused', REFUSED, { status: 409 });
      const session = { id: `admin-api-${randomUUID()}`, boundDn: managed.administrator.dn, secure: true, remoteAddress: request.ip };
      let result: T;
      try {
        result = await work({ backend: managed.engine, session, baseDn: managed.baseDn, domain: managed.domain });
      } finally {
        managed.engine.closeSession?.(session.id);
      }
      await deps.audit.record({ actor: admin.actor, action, target: audit.dnOf(result), outcome: 'success', details: { ...audit.details, ...audit.detailsOf?.(result) } });
      return result;
    } catch (error) {
      await deps.audit.record({
        actor: admin.actor,
        action,
        target: audit.target.slice(0, 1024),
        outcome: 'failure',
        errorCode: isAppError(error) ? error.code : null,
        details: { ...(audit.details ?? {}), ...(isAppError(error) ? { reason: error.message } : {}) },
      });
      throw error;
    }
  }
  const same = (dnValue: string): string => dnValue;

  /**
   * Portico administers its directory as the Administrator (this API, the CLI, LDAP tools with the
   * provisioned administrator-password): disabling it or resetting its password here would lock
   * that out. (Portico reads the directory as its own service account, which may be disabled.)
   */
  async function refuseAdministrator(target: AdministrationTarget, name: string, what: string): Promise<void> {
    const resolved = await administration.resolveDn(target, name, 'user');
    if (resolved.toLowerCase() === target.session.boundDn?.toLowerCase()) {
      throw new AppError('directory.refused', `the Administrator is the account Portico administers its own directory as: ${what} it would lock Portico out of its administration`, { status: 409 });
    }
  }

  const userAction = (verb: 'enable' | 'disable' | 'unlock', past: 'enabled' | 'disabled' | 'unlocked', summary: string, operation: (target: AdministrationTarget, name: string) => Promise<string>) =>
    route({
      method: 'POST', path: `${BASE}/users/{name}/${verb}`, operationId: `${verb}ManagedUser`, tag: TAG, summary,
      params: userParams, response: changed,
      handler: async ({ params, admin, request }) => ({
        dn: await change(admin, request, { action: `user.${past}` as const, target: params.name, dnOf: same }, async (target) => {
          if (verb === 'disable') await refuseAdministrator(target, params.name, 'disabling');
          return operation(target, params.name);
        }),
      }),
    });

  return [
    // ---- users ----
    route({
      method: 'POST', path: `${BASE}/users`, operationId: 'createManagedUser', tag: TAG, status: 201,
      summary: 'Create a user (sam@domain as UPN) in the managed directory; without a password it is created disabled. The password policy applies',
      body: userCreate,
      response: z.object({ dn: z.string(), enabled: z.boolean() }),
      handler: async ({ body, admin, request }) => {
        const { password: initial, ...rest } = body;
        const details = { sam: body.sam, ou: body.ou ?? null, attributes: userFields.filter((f) => body[f] !== undefined), enabled: initial !== undefined, mustChange: body.mustChange === true };
        return change(admin, request, { action: 'user.created', target: body.sam, details, dnOf: (r: { dn: string }) => r.dn }, (target) =>
          administration.createUser(target, { ...rest, password: initial ?? null }),
        );
      },
    }),
    route({
      method: 'PATCH', path: `${BASE}/users/{name}`, operationId: 'updateManagedUser', tag: TAG, summary: "Change a user's attributes (null removes one)",
      params: userParams, body: userUpdate, response: changed,
      handler: async ({ params, body, admin, request }) => {
        const fields = userFields.filter((f) => body[f] !== undefined);
        return { dn: await change(admin, request, { action: 'user.updated', target: params.name, details: { attributes: fields }, dnOf: same }, (target) => administration.updateUser(target, params.name, body)) };
      },
    }),
    route({
      method: 'POST', path: `${BASE}/users/{name}/password`, operationId: 'setManagedUserPassword', tag: TAG,
      summary: "Reset a user's password (the domain's password policy applies; a violation answers 400 naming the rule)",
      params: userParams,
      body: z.strictObject({ password, mustChange }),
      response: changed,
      handler: async ({ params, body, admin, request }) => ({
        dn: await change(admin, request, { action: 'user.password_set', target: params.name, details: { mustChange: body.mustChange === true }, dnOf: same }, async (target) => {
          await refuseAdministrator(target, params.name, 'resetting its password here');
          return administration.setPassword(target, params.name, body.password, body.mustChange === true);
        }),
      }),
    }),
    userAction('enable', 'enabled', 'Allow a user to sign in', administration.enableUser),
    userAction('disable', 'disabled', 'Stop a user from signing in (binds answer AD’s 533)', administration.disableUser),
    userAction('unlock', 'unlocked', 'Clear a lockout', administration.unlockUser),
    route({
      method: 'DELETE', path: `${BASE}/users/{name}`, operationId: 'deleteManagedUser', tag: TAG, status: 204, summary: 'Delete a user (their memberships go with them)',
      params: userParams, response: z.null(),
      handler: async ({ params, admin, request }) => {
        await change(admin, request, { action: 'user.deleted', target: params.name, dnOf: same }, (target) => administration.deleteUser(target, params.name));
        return null;
      },
    }),

    // ---- groups ----
    route({
      method: 'POST', path: `${BASE}/groups`, operationId: 'createManagedGroup', tag: TAG, status: 201, summary: 'Create a group (global security by default)',
      body: groupCreate, response: changed,
      handler: async ({ body, admin, request }) => ({
        dn: await change(admin, request, { action: 'group.created', target: body.name, details: { scope: body.scope, distribution: body.distribution }, dnOf: same }, (target) =>
          administration.createGroup(target, { name: body.name, scope: body.scope, distribution: body.distribution, ...(body.ou !== undefined ? { ou: body.ou } : {}) }),
        ),
      }),
    }),
    route({
      method: 'DELETE', path: `${BASE}/groups/{name}`, operationId: 'deleteManagedGroup', tag: TAG, status: 204, summary: 'Delete a group (its memberships go with it)',
      params: groupParams, response: z.null(),
      handler: async ({ params, admin, request }) => {
        await change(admin, request, { action: 'group.deleted', target: params.name, dnOf: same }, (target) => administration.deleteGroup(target, params.name));
        return null;
      },
    }),
    route({
      method: 'POST', path: `${BASE}/groups/{name}/members`, operationId: 'addManagedGroupMember', tag: TAG, summary: 'Add a user or a group to a group',
      params: groupParams,
      body: z.strictObject({ member: principalName('member').describe('UPN, DOMAIN\\name, sAMAccountName or DN of a user or a group') }),
      response: membership,
      handler: ({ params, body, admin, request }) =>
        change(admin, request, { action: 'group.member_added', target: params.name, details: { member: body.member }, dnOf: (r: Membership) => r.group, detailsOf: (r: Membership) => ({ member: r.member }) }, (target) => administration.addMember(target, params.name, body.member)),
    }),
    route({
      method: 'DELETE', path: `${BASE}/groups/{name}/members/{member}`, operationId: 'removeManagedGroupMember', tag: TAG, status: 204, summary: 'Remove a user or a group from a group',
      params: memberParams, response: z.null(),
      handler: async ({ params, admin, request }) => {
        await change(admin, request, { action: 'group.member_removed', target: params.name, details: { member: params.member }, dnOf: (r: Membership) => r.group, detailsOf: (r: Membership) => ({ member: r.member }) }, (target) =>
          administration.removeMember(target, params.name, params.member),
        );
        return null;
      },
    }),

    // ---- organizational units ----
    route({
      method: 'POST', path: `${BASE}/ous`, operationId: 'createManagedOu', tag: TAG, status: 201, summary: 'Create an organizational unit (under the domain root by default)',
      body: ouCreate, response: changed,
      handler: async ({ body, admin, request }) => ({
        dn: await change(admin, request, { action: 'ou.created', target: body.name, dnOf: same }, (target) =>
          administration.createOu(target, { name: body.name, ...(body.parent !== undefined ? { parent: body.parent } : {}) }),
        ),
      }),
    }),
    route({
      method: 'DELETE', path: `${BASE}/ous/{dn}`, operationId: 'deleteManagedOu', tag: TAG, status: 204, summary: 'Delete an empty organizational unit, named by its DN',
      params: ouParams, response: z.null(),
      handler: async ({ params, admin, request }) => {
        await change(admin, request, { action: 'ou.deleted', target: params.dn, dnOf: same }, (target) => administration.deleteOu(target, params.dn));
        return null;
      },
    }),

    // ---- deleted objects (tombstones, kept for the tombstone lifetime) ----
    route({
      method: 'GET', path: `${BASE}/deleted`, operationId: 'listManagedDeleted', tag: TAG,
      summary: 'The deleted objects still kept as tombstones (restorable until the tombstone lifetime, 180 days by default, has passed)',
      response: z.object({ deleted: z.array(deletedObject) }),
      handler: async ({ request }) => {
        const managed = deps.managed();
        if (managed === null) throw new AppError('directory.refused', REFUSED, { status: 409 });
        const session = { id: `admin-api-${randomUUID()}`, boundDn: managed.administrator.dn, secure: true, remoteAddress: request.ip };
        try {
          return { deleted: await administration.listDeleted({ backend: managed.engine, session, baseDn: managed.baseDn, domain: managed.domain }) };
        } finally {
          managed.engine.closeSession?.(session.id);
        }
      },
    }),
    route({
      method: 'POST', path: `${BASE}/deleted/{name}/restore`, operationId: 'restoreManagedDeleted', tag: TAG,
      summary: 'Restore a deleted object (AD’s undelete): same objectGUID and objectSid, attributes, password and memberships back; under its last parent unless `ou` names another',
      params: z.strictObject({ name: principalName('name').describe('objectGUID of the deleted object, or the name it had (its CN)') }),
      body: z.strictObject({ ou: dn('ou').optional().describe('where to restore it; its last known parent by default') }),
      response: z.object({ dn: z.string(), guid: z.string() }),
      handler: ({ params, body, admin, request }) =>
        change(admin, request, { action: 'object.restored', target: params.name, details: { ou: body.ou ?? null }, dnOf: (r: { dn: string; guid: string }) => r.dn, detailsOf: (r: { dn: string; guid: string }) => ({ guid: r.guid }) }, (target) =>
          administration.restoreDeleted(target, params.name, body.ou),
        ),
    }),
  ];
}
