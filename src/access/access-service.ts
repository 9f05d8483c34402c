/**
 * The access domain's operations: accounts, permission sets, applications and assignments (each
 * change validated, limited, written with its audit event in one transaction, with who, what,
 * before and after), and the two questions: what a person can reach, and who can reach a target.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AuditAction, AuditLog } from '#src/audit/index.ts';
import { carriesAccess, securityGroupsOnly } from '#src/directory/group-rule.ts';
import type { DirectoryConnector, DirectoryGroup, DirectoryUser } from '#src/directory/types.ts';
import type { ChangeFeed } from '#src/shared/change-feed.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import type { AccessStore, RecordKind, StoredRecord } from './access-store.ts';
import type { AccessProvisioning, ProvisioningOutcome } from './provisioning-port.ts';
import { evaluateEntitlements, walkGroups, type Catalog, type Entitlements, type Grant, type UserGroup } from './evaluation.ts';
import {
  accountInput,
  accountUpdate,
  applicationInput,
  applicationUpdate,
  assignmentInput,
  isGuid,
  LIMITS,
  permissionSetInput,
  permissionSetUpdate,
  type Account,
  type Application,
  type Assignment,
  type AssignmentTarget,
  type PermissionSet,
  type Principal,
} from './model.ts';
import { parseSpMetadata } from '#src/federation/saml/sp-metadata.ts';
import { NAME_ID_FORMATS } from '#src/federation/saml/vocabulary.ts';
import { clearingNulls, oidcApplicationInput, oidcApplicationRecord, oidcApplicationUpdate, type StoredOidcApplication } from './oidc-application.ts';

export type GroupMembershipMode = 'transitive' | 'direct';

/** The directory reads access needs (the identity source's connector). */
export type AccessDirectory = Pick<
  DirectoryConnector,
  'findUser' | 'findUserByGuid' | 'findGroup' | 'groupsOf' | 'directGroupsOf' | 'parentGroupsOf' | 'childGroupsOf' | 'groupUserGuids'
>;

export interface AccessTransaction {
  store: AccessStore;
  audit: AuditLog;
}

export interface AccessServiceOptions {
  store: AccessStore;
  transaction: <T>(work: (tx: AccessTransaction) => Promise<T>) => Promise<T>;
  directory: () => AccessDirectory | null;
  /** 'direct': only the groups a user is directly in count (some customers want AWS's stricter reading). */
  groupMembership: GroupMembershipMode;
  /**
   * Where changes are announced to every instance (and heard from them); without it, changes are
   * seen by this process at once and by others within SNAPSHOT_MS.
   */
  changes?: ChangeFeed;
  /** AWS provisioning when wired (null while no management identity is configured is fine: it decides). */
  provisioning?: () => AccessProvisioning | null;
  clock?: () => Date;
}

export interface ReachingUser {
  guid: string;
  userName: string | null;
  displayName: string | null;
  /** Per permission set (accounts) or once (applications), how the user is granted. */
  grants: Array<{ permissionSet: { id: string; name: string } | null; grant: Grant }>;
}

export interface WhoCanReach {
  users: ReachingUser[];
  /** The answer is incomplete: `groupsTruncated`, or `unnamedUsers` > 0. */
  truncated: boolean;
  /** A group had more nested groups than are evaluated: some users may be missing. */
  groupsTruncated: boolean;
  /** Users listed by objectGUID only (userName null): names are looked up for the first MAX_USERS_LOOKED_UP. */
  unnamedUsers: number;
}

export interface UserAccess {
  user: { guid: string; userName: string; displayName: string | null };
  groups: UserGroup[];
  entitlements: Entitlements;
}

/** Users whose names `access who` looks up (one read each); the rest are listed by objectGUID and counted. */
export const MAX_USERS_LOOKED_UP = 500;

type Kind = { kind: RecordKind; label: string; auditName: `access.${'account' | 'permission_set' | 'application' | 'oidc_application'}` };
const ACCOUNT: Kind = { kind: 'account', label: 'account', auditName: 'access.account' };
const PERMISSION_SET: Kind = { kind: 'permission_set', label: 'permission set', auditName: 'access.permission_set' };
const APPLICATION: Kind = { kind: 'application', label: 'application', auditName: 'access.application' };
const OIDC_APPLICATION: Kind = { kind: 'oidc_application', label: 'OIDC application', auditName: 'access.oidc_application' };

export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const messages = result.error.issues.map((issue) => (issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` : issue.message));
  throw new AppError('access.invalid', [...new Set(messages)].join('; '), { status: 400, details: { issues: messages } });
}

/**
 * A PATCH body, validated, holding only the fields the caller sent: the update schemas are
 * partial, but their defaults (`managedPolicies: []`, `sessionDuration: 'PT1H'`) would otherwise
 * fill every field left out and silently reset it.
 */
export function parsePatch<S extends z.ZodType>(schema: S, input: unknown): Record<string, unknown> {
  const parsed = parseInput(schema, input) as Record<string, unknown>;
  const given = typeof input === 'object' && input !== null ? new Set(Object.keys(input)) : new Set<string>();
  return Object.fromEntries(Object.entries(parsed).filter(([key]) => given.has(key)));
}

interface Snapshot {
  catalog: Catalog;
  assignmentsOf: (principalGuids: readonly string[]) => Assignment[];
}

/** How long the in-memory catalog and assignments serve evaluations without a change made here. */
const SNAPSHOT_MS = 30_000;

export function createAccessService(options: AccessServiceOptions) {
  const { store, transaction, directory, groupMembership, changes, clock = () => new Date() } = options;
  /** Bumped by every change (here, or on another instance through `changes`): cached evaluations made before it are recomputed. */
  let localGeneration = 0;
  const generation = (): number => localGeneration + (changes?.version('access') ?? 0);
  const provisioning = () => options.provisioning?.() ?? null;
  /** Provisioning never fails the change that caused it: its outcome is the pair's status. */
  async function afterPairChange(accountId: string, permissionSetId: string, actor: string): Promise<ProvisioningOutcome | null> {
    try {
      return (await provisioning()?.pairChanged(accountId, permissionSetId, actor)) ?? null;
    } catch (error) {
      return { status: 'failed', message: error instanceof Error ? error.message : String(error), roleArn: null };
    }
  }
  let snapshot: { loadedAt: number; value: Promise<Snapshot> } | null = null;

  /**
   * The catalog's names and every assignment by principal, read once and kept until a change here
   * or SNAPSHOT_MS (what another instance's changes take to be seen): evaluating a person's access
   * is then a lookup, not a query.
   */
  function loadSnapshot(): Promise<Snapshot> {
    const now = clock().getTime();
    if (snapshot === null || now - snapshot.loadedAt >= SNAPSHOT_MS) {
      const value = (async (): Promise<Snapshot> => {
        const index = async (kind: RecordKind) => new Map((await store.listRecords(kind)).map((r) => [r.id, { id: r.id, name: r.name }]));
        const [accounts, permissionSets, samlApplications, oidcApplications, assignments] = await Promise.all([index('account'), index('permission_set'), index('application'), index('oidc_application'), store.listAssignments({})]);
        // SAML and OIDC applications are assigned alike: one catalog of applications.
        const applications = new Map([...samlApplications, ...oidcApplications]);
        const byPrincipal = new Map<string, Assignment[]>();
        for (const assignment of assignments) {
          const guid = assignment.principal.guid.toLowerCase();
          byPrincipal.set(guid, [...(byPrincipal.get(guid) ?? []), assignment]);
        }
        return {
          catalog: { account: (id) => accounts.get(id), permissionSet: (id) => permissionSets.get(id), application: (id) => applications.get(id) },
          assignmentsOf: (guids) => guids.flatMap((guid) => byPrincipal.get(guid.toLowerCase()) ?? []),
        };
      })();
      snapshot = { loadedAt: now, value };
      value.catch(() => {
        if (snapshot?.value === value) snapshot = null;
      });
    }
    return snapshot.value;
  }
  const loadCatalog = async (): Promise<Catalog> => (await loadSnapshot()).catalog;

  changes?.subscribe('access', () => {
    snapshot = null;
  });

  async function changed(): Promise<void> {
    snapshot = null;
    // Committed already: should the announcement fail, this instance still sees the change at once.
    if (changes === undefined) localGeneration += 1;
    else await changes.announce('access').catch(() => (localGeneration += 1));
  }

  function requireDirectory(): AccessDirectory {
    const connected = directory();
    if (connected === null) throw new AppError('identity_source.unavailable', 'the identity source is not connected', { status: 503 });
    return connected;
  }

  async function audited<T>(actor: string, action: AuditAction, target: string | null, work: (tx: AccessTransaction) => Promise<{ result: T; before: unknown; after: unknown }>): Promise<T> {
    try {
      const result = await transaction(async (tx) => {
        const outcome = await work(tx);
        await tx.audit.record({ actor, action, target, outcome: 'success', details: { before: outcome.before, after: outcome.after } });
        return outcome.result;
      });
      await changed();
      return result;
    } catch (error) {
      await auditRefusal(actor, action, target, error);
      throw error;
    }
  }

  /** Refusals (bad input, conflicts) are audited too; nothing else was written. */
  async function auditRefusal(actor: string, action: AuditAction, target: string | null, error: unknown): Promise<void> {
    if (isAppError(error) && error.status < 500) {
      await transaction((tx) => tx.audit.record({ actor, action, target, outcome: 'failure', errorCode: error.code, details: { reason: error.message } }));
    }
  }

  async function requireRecord(kind: Kind, id: string, tx: AccessStore = store): Promise<StoredRecord> {
    const record = (await tx.getRecord(kind.kind, id)) ?? (await tx.findRecordByName(kind.kind, id));
    if (record === undefined) throw new AppError('access.not_found', `no ${kind.label} "${id.slice(0, 100)}"`, { status: 404, details: { resource: kind.kind } });
    return record;
  }

  async function insert(tx: AccessStore, kind: Kind, id: string, name: string, body: Record<string, unknown>): Promise<StoredRecord> {
    try {
      return await tx.insertRecord(kind.kind, { id, name, body }, clock());
    } catch (error) {
      if (!isAppError(error, 'storage.conflict')) throw error;
      throw new AppError('access.conflict', `a ${kind.label} ${kind === ACCOUNT ? `with id ${id} or ` : ''}named "${name}" already exists`, { status: 409 });
    }
  }

  async function enforceLimit(tx: AccessStore, kinds: RecordKind[], limit: number, what: string): Promise<void> {
    if ((await tx.countRecords(kinds)) >= limit) throw new AppError('access.limit_exceeded', `at most ${limit} ${what} (Identity Center's limit)`, { status: 409 });
  }

  async function refuseWhileAssigned(tx: AccessStore, kind: Kind, record: StoredRecord, filter: Parameters<AccessStore['listAssignments']>[0]): Promise<void> {
    const count = (await tx.listAssignments(filter)).length;
    if (count > 0) throw new AppError('access.conflict', `the ${kind.label} "${record.name}" has ${count} assignment${count === 1 ? '' : 's'}; remove them first`, { status: 409 });
  }

  function createRecord<T extends Record<string, unknown>>(kind: Kind, actor: string, idOf: (body: T) => string, nameOf: (body: T) => string, body: T, limit: (tx: AccessStore) => Promise<void>) {
    return audited(actor, `${kind.auditName}.created`, idOf(body), async (tx) => {
      await limit(tx.store);
      const record = await insert(tx.store, kind, idOf(body), nameOf(body), body);
      return { result: record, before: null, after: body };
    });
  }

  function updateRecord<S extends z.ZodType>(kind: Kind, full: S, id: string, patch: Record<string, unknown>, actor: string) {
    return audited(actor, `${kind.auditName}.updated`, id, async (tx) => {
      const existing = await requireRecord(kind, id, tx.store);
      const merged = parseInput(full, { ...existing.body, ...patch }) as Record<string, unknown>;
      const name = typeof merged.name === 'string' ? merged.name : existing.name;
      try {
        await tx.store.updateRecord(kind.kind, existing.id, { name, body: merged }, clock());
      } catch (error) {
        if (!isAppError(error, 'storage.conflict')) throw error;
        throw new AppError('access.conflict', `a ${kind.label} named "${name}" already exists`, { status: 409 });
      }
      return { result: { ...existing, body: merged }, before: existing.body, after: merged };
    });
  }

  function removeRecord(kind: Kind, id: string, actor: string, assignmentFilter: (id: string) => Parameters<AccessStore['listAssignments']>[0], cleanUp: (tx: AccessStore, id: string) => Promise<unknown>) {
    return audited(actor, `${kind.auditName}.deleted`, id, async (tx) => {
      const existing = await requireRecord(kind, id, tx.store);
      await refuseWhileAssigned(tx.store, kind, existing, assignmentFilter(existing.id));
      await cleanUp(tx.store, existing.id);
      await tx.store.removeRecord(kind.kind, existing.id);
      return { result: undefined, before: existing.body, after: null };
    });
  }

  const newId = (prefix: string) => `${prefix}-${randomBytes(8).toString('hex')}`;

  // ---- principals ----------------------------------------------------------------------------

  async function resolvePrincipal(type: 'user' | 'group', id: string): Promise<Principal & { user?: DirectoryUser; group?: DirectoryGroup }> {
    const dir = requireDirectory();
    if (type === 'user') {
      const user = isGuid(id) ? await dir.findUserByGuid(id) : await dir.findUser(id);
      if (user === null) throw new AppError('access.principal_not_found', `no user "${id.slice(0, 100)}" in the directory`, { status: 404 });
      return { type, guid: user.guid, name: user.userPrincipalName ?? `${user.netbiosName}\\${user.samAccountName}`, user };
    }
    let group: DirectoryGroup | null;
    try {
      group = await dir.findGroup(id);
    } catch (error) {
      if (isAppError(error, 'directory.invalid_input')) group = null;
      else throw error;
    }
    if (group === null) throw new AppError('access.principal_not_found', `no group "${id.slice(0, 100)}" in the directory`, { status: 404 });
    return { type, guid: group.guid, name: group.qualifiedName, group };
  }

  /**
   * The user's groups under the configured mode, with nesting paths when `withPaths`. Either way
   * only security groups reached through security groups count (the group rule, src/directory/group-rule.ts).
   */
  async function groupsOfUser(dir: AccessDirectory, user: DirectoryUser, withPaths: boolean): Promise<{ groups: UserGroup[]; truncated: boolean }> {
    if (groupMembership === 'direct') {
      const direct = securityGroupsOnly(await dir.directGroupsOf(user));
      return walkGroups(direct.slice(0, LIMITS.groupsPerUser), null, LIMITS.groupsPerUser);
    }
    const transitive = await dir.groupsOf(user);
    if (!withPaths) return { groups: securityGroupsOnly(transitive.groups).map((g) => ({ guid: g.guid, qualifiedName: g.qualifiedName, path: [g.qualifiedName] })), truncated: transitive.truncated };
    // The set is the directory's (security groups through security groups, in every method); the walk only adds paths.
    const members = new Set(transitive.groups.filter(carriesAccess).map((g) => g.guid));
    const direct = (await dir.directGroupsOf(user)).filter((g) => members.has(g.guid));
    const walked = await walkGroups(direct, async (g) => (await dir.parentGroupsOf(g)).filter((p) => members.has(p.guid)), LIMITS.groupsPerUser);
    const missing = transitive.groups.filter((g) => members.has(g.guid) && !walked.groups.some((w) => w.guid === g.guid));
    return { groups: [...walked.groups, ...missing.map((g) => ({ ...g, path: [g.qualifiedName] }))], truncated: transitive.truncated || walked.truncated };
  }

  async function entitlementsOf(userGuid: string, groups: readonly UserGroup[], truncated: boolean): Promise<Entitlements> {
    const { catalog, assignmentsOf } = await loadSnapshot();
    return evaluateEntitlements(userGuid, groups, assignmentsOf([userGuid, ...groups.map((g) => g.guid)]), catalog, truncated);
  }

  return {
    /** Changes since start; evaluations cached under an older generation are stale. */
    generation,
    groupMembership,

    // ---- accounts ----
    listAccounts: async () => (await store.listRecords('account')).map((r) => r.body as Account),
    getAccount: async (id: string) => (await requireRecord(ACCOUNT, id)).body as Account,
    /** `source` 'organizations': added by the AWS Organizations sync (typed-in accounts are refused while it owns the catalog). */
    createAccount: async (input: unknown, actor: string, source: 'manual' | 'organizations' = 'manual') => {
      if (source === 'manual' && provisioning()?.accountsFromOrganizations() === true) {
        const error = new AppError('access.accounts_from_organizations', 'accounts come from AWS Organizations while a management identity is configured: run `portico aws accounts sync` (POST /admin/api/aws/organizations/sync) instead', { status: 409 });
        await auditRefusal(actor, 'access.account.created', typeof input === 'object' && input !== null && 'id' in input ? String(input.id).slice(0, 20) : null, error);
        throw error;
      }
      const account = parseInput(accountInput, input);
      await createRecord(ACCOUNT, actor, (a) => a.id, (a) => a.name, account, (tx) => enforceLimit(tx, ['account', 'application'], LIMITS.accountsAndApplications, 'accounts and applications'));
      return account;
    },
    updateAccount: async (id: string, patch: unknown, actor: string) =>
      (await updateRecord(ACCOUNT, accountInput, id, parsePatch(accountUpdate, patch), actor)).body as Account,
    deleteAccount: (id: string, actor: string) =>
      removeRecord(ACCOUNT, id, actor, (accountId) => ({ accountId }), (tx, accountId) => tx.removeProvisioned({ accountId })),
    listProvisioned: (filter: { accountId?: string; permissionSetId?: string }) => store.listProvisioned(filter),

    // ---- permission sets ----
    listPermissionSets: async () => (await store.listRecords('permission_set')).map((r) => ({ ...r.body, id: r.id }) as PermissionSet),
    getPermissionSet: async (id: string) => {
      const record = await requireRecord(PERMISSION_SET, id);
      return { ...record.body, id: record.id } as PermissionSet;
    },
    createPermissionSet: async (input: unknown, actor: string) => {
      const body = parseInput(permissionSetInput, input);
      const id = newId('ps');
      await createRecord(PERMISSION_SET, actor, () => id, (p) => p.name, body, (tx) => enforceLimit(tx, ['permission_set'], LIMITS.permissionSets, 'permission sets'));
      return { ...body, id } as PermissionSet;
    },
    updatePermissionSet: async (id: string, patch: unknown, actor: string) => {
      const record = await updateRecord(PERMISSION_SET, permissionSetInput, id, parsePatch(permissionSetUpdate, patch), actor);
      await provisioning()?.permissionSetChanged(record.id, actor).catch(() => undefined);
      return { ...record.body, id: record.id } as PermissionSet;
    },
    deletePermissionSet: (id: string, actor: string) =>
      removeRecord(PERMISSION_SET, id, actor, (permissionSetId) => ({ permissionSetId }), (tx, permissionSetId) => tx.removeProvisioned({ permissionSetId })),

    // ---- applications ----
    listApplications: async () => (await store.listRecords('application')).map((r) => ({ ...r.body, id: r.id }) as Application),
    getApplication: async (id: string) => {
      const record = await requireRecord(APPLICATION, id);
      return { ...record.body, id: record.id } as Application;
    },
    createApplication: async (input: unknown, actor: string) => {
      const body = parseInput(applicationInput, input);
      const id = newId('app');
      await createRecord(APPLICATION, actor, () => id, (a) => a.name, body, (tx) => enforceLimit(tx, ['account', 'application'], LIMITS.accountsAndApplications, 'accounts and applications'));
      return { ...body, id } as Application;
    },
    /** The SP's metadata gives entity ID, ACS URLs, NameID format and certificates; `fields` adds or overrides the rest. */
    applicationFromMetadata(metadataXml: string, fields: Record<string, unknown>): Record<string, unknown> {
      const metadata = parseSpMetadata(metadataXml);
      const postFirst = [...metadata.acsUrls].sort((a, b) => Number(b.binding.endsWith('HTTP-POST')) - Number(a.binding.endsWith('HTTP-POST')));
      const format = Object.entries(NAME_ID_FORMATS).find(([, urn]) => metadata.nameIdFormats.includes(urn))?.[0];
      const redirectLogout = metadata.logoutUrls.find((endpoint) => endpoint.binding.endsWith('HTTP-Redirect'));
      return {
        entityId: metadata.entityId,
        acsUrls: [...new Set(postFirst.filter((a) => a.binding.endsWith('HTTP-POST')).map((a) => a.url))],
        ...(format ? { nameIdFormat: format } : {}),
        ...(metadata.authnRequestsSigned && metadata.signingCertificates[0] ? { signingCertificate: metadata.signingCertificates[0] } : {}),
        ...(metadata.encryptionCertificates[0] ? { encryptionCertificate: metadata.encryptionCertificates[0] } : {}),
        ...(redirectLogout ? { logoutUrl: redirectLogout.url } : {}),
        ...fields,
      };
    },
    updateApplication: async (id: string, patch: unknown, actor: string) => {
      const record = await updateRecord(APPLICATION, applicationInput, id, parsePatch(applicationUpdate, patch), actor);
      return { ...record.body, id: record.id } as Application;
    },
    deleteApplication: (id: string, actor: string) => removeRecord(APPLICATION, id, actor, (applicationId) => ({ applicationId }), () => Promise.resolve()),

    // ---- OIDC applications (the secret is generated and sealed by the caller: federation/oidc) ----
    listOidcApplications: async () => (await store.listRecords('oidc_application')).map((r) => ({ ...r.body, id: r.id }) as StoredOidcApplication),
    getOidcApplication: async (id: string) => {
      const record = await requireRecord(OIDC_APPLICATION, id);
      return { ...record.body, id: record.id } as StoredOidcApplication;
    },
    /** `secret`: the sealer of a confidential client's secret, given the new client id. */
    createOidcApplication: async (input: unknown, actor: string, secret: (clientId: string) => string | undefined) => {
      const parsed = parseInput(oidcApplicationInput, input);
      const id = newId('oidc');
      const sealed = parsed.clientType === 'confidential' ? secret(id) : undefined;
      const body = { ...parsed, ...(sealed === undefined ? {} : { clientSecretSealed: sealed }) };
      // The audit log's `after` never holds the sealed secret.
      await createRecord(OIDC_APPLICATION, actor, () => id, (a) => a.name, body, (tx) => enforceLimit(tx, ['account', 'application', 'oidc_application'], LIMITS.accountsAndApplications, 'accounts and applications'));
      return { ...body, id } as StoredOidcApplication;
    },
    updateOidcApplication: async (id: string, patch: unknown, actor: string) => {
      const record = await updateRecord(OIDC_APPLICATION, oidcApplicationRecord, id, clearingNulls(parsePatch(oidcApplicationUpdate, patch)), actor);
      return { ...record.body, id: record.id } as StoredOidcApplication;
    },
    /** Replaces the sealed secret (the old one stops working at once). */
    replaceOidcSecret: async (id: string, actor: string, secret: (clientId: string) => string) => {
      const existing = await requireRecord(OIDC_APPLICATION, id);
      if (existing.body.clientType !== 'confidential') throw new AppError('access.invalid', 'a public client has no secret', { status: 400 });
      await updateRecord(OIDC_APPLICATION, oidcApplicationRecord, existing.id, { clientSecretSealed: secret(existing.id) }, actor);
    },
    deleteOidcApplication: (id: string, actor: string) => removeRecord(OIDC_APPLICATION, id, actor, (applicationId) => ({ applicationId }), () => Promise.resolve()),

    // ---- assignments ----
    listAssignments: (filter: Parameters<AccessStore['listAssignments']>[0] = {}) => store.listAssignments(filter),
    /** `provisioned` is true only once the permission set's role exists in the account (AWS provisioning). */
    async createAssignment(input: unknown, actor: string): Promise<{ assignment: Assignment; provisioned: boolean; provisioning: ProvisioningOutcome | null }> {
      const parsed = parseInput(assignmentInput, input);
      const describe = `${parsed.principal.type} ${parsed.principal.id.slice(0, 100)}`;
      // The directory is read before the transaction opens, so no database lock waits on AD.
      let principal: Awaited<ReturnType<typeof resolvePrincipal>>;
      try {
        principal = await resolvePrincipal(parsed.principal.type, parsed.principal.id);
      } catch (error) {
        await auditRefusal(actor, 'access.assignment.created', describe, error);
        throw error;
      }
      const { type, guid, name } = principal;
      if (principal.group !== undefined && !carriesAccess(principal.group)) {
        // Refused rather than stored: it would grant nothing, in any group-membership mode.
        const error = new AppError('access.distribution_group', `${name} is a distribution group: distribution groups carry no access in AD, so an assignment to it would grant nothing; assign a security group`, {
          status: 422,
          details: { group: name, kind: principal.group.kind, scope: principal.group.scope },
        });
        await auditRefusal(actor, 'access.assignment.created', describe, error);
        throw error;
      }
      const created = await audited(actor, 'access.assignment.created', describe, async (tx) => {
        const target = await canonicalTarget(parsed.target, tx.store);
        const existing = (await tx.store.listAssignments({ principalGuids: [guid] })).find((a) => sameTarget(a.target, target));
        if (existing !== undefined) {
          throw new AppError('access.conflict', `${name} is already assigned to this ${target.type}`, { status: 409, details: { assignmentId: existing.id } });
        }
        const assignment: Assignment = { id: randomUUID(), principal: { type, guid, name }, target, createdAt: clock().toISOString() };
        await tx.store.insertAssignment(assignment);
        // Portico's own record that the pair is in use; the IAM role is AWS provisioning's, below.
        if (target.type === 'account') await tx.store.markProvisioned(target.accountId, target.permissionSetId, clock());
        return { result: assignment, before: null, after: assignment };
      });
      const outcome = created.target.type === 'account' ? await afterPairChange(created.target.accountId, created.target.permissionSetId, actor) : null;
      return { assignment: created, provisioned: outcome?.status === 'provisioned', provisioning: outcome };
    },
    deleteAssignment: async (id: string, actor: string) => {
      const removed = await audited(actor, 'access.assignment.deleted', id, async (tx) => {
        const existing = await tx.store.getAssignment(id);
        if (existing === undefined) throw new AppError('access.not_found', `no assignment "${id.slice(0, 100)}"`, { status: 404, details: { resource: 'assignment' } });
        await tx.store.removeAssignment(id);
        return { result: existing, before: existing, after: null };
      });
      if (removed.target.type === 'account') await afterPairChange(removed.target.accountId, removed.target.permissionSetId, actor);
    },

    // ---- evaluation ----
    /** Entitlements for known groups (a session's). */
    entitlementsOf,
    /** Resolves a user's groups in the directory now (the session cache calls this when it ages out). */
    async groupsOfUserGuid(userGuid: string): Promise<{ groups: UserGroup[]; truncated: boolean } | null> {
      const dir = requireDirectory();
      const user = await dir.findUserByGuid(userGuid);
      return user === null ? null : groupsOfUser(dir, user, false);
    },
    /** "What can this person reach?" fresh from the directory, with the group paths. */
    async explainUser(name: string): Promise<UserAccess> {
      const dir = requireDirectory();
      const { user } = await resolvePrincipal('user', name);
      if (user === undefined) throw new AppError('access.principal_not_found', `no user "${name.slice(0, 100)}"`, { status: 404 });
      const { groups, truncated } = await groupsOfUser(dir, user, true);
      return {
        user: { guid: user.guid, userName: user.userPrincipalName ?? user.samAccountName, displayName: user.displayName },
        groups,
        entitlements: await entitlementsOf(user.guid, groups, truncated),
      };
    },
    /** "Who can reach this account (or application), and through which group?" */
    async whoCanReach(target: { type: 'account'; id: string } | { type: 'application'; id: string }, lookUpUser: (guid: string) => Promise<{ userName: string; displayName: string | null } | null>): Promise<WhoCanReach> {
      const dir = requireDirectory();
      const record = await requireRecord(target.type === 'account' ? ACCOUNT : APPLICATION, target.id);
      const assignments = await store.listAssignments(target.type === 'account' ? { accountId: record.id } : { applicationId: record.id });
      const names = await loadCatalog();
      const users = new Map<string, ReachingUser>();
      let truncated = false;
      const add = (guid: string, permissionSet: ReachingUser['grants'][number]['permissionSet'], grant: Grant) => {
        let entry = users.get(guid);
        if (entry === undefined) users.set(guid, (entry = { guid, userName: null, displayName: null, grants: [] }));
        entry.grants.push({ permissionSet, grant });
      };
      for (const assignment of assignments) {
        const permissionSet = assignment.target.type === 'account' ? (names.permissionSet(assignment.target.permissionSetId) ?? null) : null;
        if (assignment.principal.type === 'user') {
          add(assignment.principal.guid, permissionSet, { type: 'user' });
          continue;
        }
        const assigned = await dir.findGroup(assignment.principal.guid);
        // Deleted from AD, or converted to a distribution group since it was assigned: it grants nothing.
        if (assigned === null || !carriesAccess(assigned)) continue;
        // Downwards through security groups only: a distribution group inside passes nothing on.
        const walked = await walkGroups([assigned], groupMembership === 'direct' ? null : async (g) => securityGroupsOnly(await dir.childGroupsOf(g)), LIMITS.groupsPerUser);
        truncated ||= walked.truncated;
        for (const group of walked.groups) {
          // Walked downwards: reverse so the path reads from the user's own group up to the assigned one.
          const path = [...group.path].reverse();
          for (const guid of await dir.groupUserGuids(group)) add(guid, permissionSet, { type: 'group', guid: assigned.guid, name: assigned.qualifiedName, path });
        }
      }
      let lookups = 0;
      for (const entry of users.values()) {
        if (lookups++ >= MAX_USERS_LOOKED_UP) break;
        const found = await lookUpUser(entry.guid);
        entry.userName = found?.userName ?? null;
        entry.displayName = found?.displayName ?? null;
      }
      const unnamedUsers = Math.max(0, users.size - MAX_USERS_LOOKED_UP);
      // Named users first, by name; then those listed by objectGUID only.
      const sorted = [...users.values()].sort((a, b) => (a.userName === null) !== (b.userName === null) ? (a.userName === null ? 1 : -1) : (a.userName ?? a.guid).localeCompare(b.userName ?? b.guid));
      return { users: sorted, truncated: truncated || unnamedUsers > 0, groupsTruncated: truncated, unnamedUsers };
    },
  };

  async function canonicalTarget(target: AssignmentTarget, tx: AccessStore): Promise<AssignmentTarget> {
    if (target.type === 'application') {
      // A SAML or an OIDC application, by id, then by name (SAML first).
      const key = target.applicationId;
      const found =
        (await tx.getRecord('application', key)) ?? (await tx.getRecord('oidc_application', key)) ?? (await tx.findRecordByName('application', key)) ?? (await tx.findRecordByName('oidc_application', key));
      return { type: 'application', applicationId: (found ?? (await requireRecord(APPLICATION, key, tx))).id };
    }
    const account = await requireRecord(ACCOUNT, target.accountId, tx);
    const permissionSet = await requireRecord(PERMISSION_SET, target.permissionSetId, tx);
    return { type: 'account', accountId: account.id, permissionSetId: permissionSet.id };
  }
}

function sameTarget(a: AssignmentTarget, b: AssignmentTarget): boolean {
  if (a.type === 'account' && b.type === 'account') return a.accountId === b.accountId && a.permissionSetId === b.permissionSetId;
  return a.type === 'application' && b.type === 'application' && a.applicationId === b.applicationId;
}

export type AccessService = ReturnType<typeof createAccessService>;
