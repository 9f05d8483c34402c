/**
 * Provisioning permission sets into AWS accounts through the IAM API: per account one SAML
 * provider carrying Portico's current IdP metadata, per assigned permission set one role under
 * the reserved path (see role-plan.ts). A pair is provisioned on its first assignment, brought
 * up to date when the permission set changes (only the calls needed), and deleted when its last
 * assignment goes. Roles outside the reserved path or without Portico's tag are never touched.
 *
 * Each pair's outcome is kept as its status (provisioned / failed with AWS's message / drifted);
 * each AWS call is audited (`aws.api.called`), each pair's change too (`aws.role.*`).
 */
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  CreateSAMLProviderCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DeleteSAMLProviderCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetSAMLProviderCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  UpdateSAMLProviderCommand,
  type Role,
} from '@aws-sdk/client-iam';
import type { Account, PermissionSet } from '#src/access/model.ts';
import type { AuditAction, AuditLog } from '#src/audit/index.ts';
import { isAppError } from '#src/shared/errors.ts';
import type { AwsStore, ProvisioningRecord, ProvisioningStatus } from './aws-store.ts';
import { AwsCallError, awsErrorCode, openAwsSession, type AwsCall, type AwsSession } from './clients.ts';
import { requireManagement, type ManagementSettings } from './management.ts';
import { describeSteps, desiredRole, isPorticoRole, MANAGED_TAG, parsePolicyDocument, planRole, roleDigest, type DesiredRole, type ObservedRole, type RoleStep } from './role-plan.ts';

/** What provisioning reads of the access domain. */
export interface ProvisioningCatalog {
  account(id: string): Promise<Account | undefined>;
  permissionSet(id: string): Promise<PermissionSet | undefined>;
  /** Account × permission-set pairs that have at least one assignment. */
  assignedPairs(filter: { accountId?: string; permissionSetId?: string }): Promise<Array<{ accountId: string; permissionSetId: string }>>;
}

/** What provisioning reads of federation: names and the IdP metadata. */
export interface ProvisioningFederation {
  samlProviderName: string;
  /** The configured role name with `{permissionSet}`/`{accountId}` replaced (may hold a path). */
  roleName(account: Account, permissionSet: PermissionSet): string;
  /** Where assertions for the account are posted: the trust policy's SAML:aud. */
  audience(account: Account): string;
  metadata(): string;
}

export interface ProvisionerOptions {
  store: AwsStore;
  catalog: ProvisioningCatalog;
  federation: ProvisioningFederation;
  management: ManagementSettings;
  audit: AuditLog;
  clock?: () => Date;
  /** Every AWS call, after it was audited (counts for benchmarks and metrics). */
  onCall?: (call: AwsCall) => void;
  /** Pairs worked on at once in a bulk run. */
  concurrency?: number;
}

/** 'apply' reads IAM and writes what differs; 'check' reads and reports drift without writing;
 * 'if_changed' skips AWS for pairs provisioned with the same digest (nothing changed here). */
export type ProvisionMode = 'apply' | 'check' | 'if_changed';

export interface ProvisioningView {
  accountId: string;
  permissionSetId: string;
  status: ProvisioningStatus;
  message: string | null;
  errorCode: string | null;
  roleArn: string | null;
  provisionedAt: string | null;
  updatedAt: string;
}

export interface BulkResult {
  results: ProvisioningView[];
  removed: Array<{ accountId: string; permissionSetId: string }>;
  calls: number;
}

export type Provisioner = ReturnType<typeof createProvisioner>;

export function createProvisioner(options: ProvisionerOptions) {
  const { store, catalog, federation, management, audit, clock = () => new Date(), concurrency = 8 } = options;
  /** One chain per account: a provider is created once, and a pair's runs never overlap. */
  const accountQueues = new Map<string, Promise<unknown>>();

  function serialised<T>(accountId: string, work: () => Promise<T>): Promise<T> {
    const previous = accountQueues.get(accountId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    accountQueues.set(accountId, settled);
    void settled.then(() => {
      if (accountQueues.get(accountId) === settled) accountQueues.delete(accountId);
    });
    return next;
  }

  /** A session whose every call is audited under `actor`. */
  async function session(actor: string): Promise<{ aws: AwsSession; calls: () => number }> {
    let count = 0;
    const report = (call: AwsCall) => {
      count += 1;
      options.onCall?.(call);
      // Audited in the background, in order; a failing audit write is not a provisioning failure.
      auditChain = auditChain.then(() =>
        audit
          .record({
            actor,
            action: 'aws.api.called',
            target: `${call.service}:${call.operation}${call.accountId ? `@${call.accountId}` : ''}`,
            outcome: call.outcome,
            ...(call.errorCode !== undefined ? { errorCode: 'aws.call_failed' as const } : {}),
            details: { awsCode: call.errorCode ?? null, service: call.service, operation: call.operation, accountId: call.accountId, target: call.target ?? null, ms: call.ms, ...(call.message !== undefined ? { message: call.message } : {}) },
          })
          .catch(() => undefined),
      );
    };
    const aws = await openAwsSession(requireManagement(management), report, clock);
    return { aws, calls: () => count };
  }
  let auditChain: Promise<unknown> = Promise.resolve();

  const providerArn = (accountId: string) => `arn:aws:iam::${accountId}:saml-provider/${federation.samlProviderName}`;

  /** Creates the account's SAML provider, or brings its metadata up to date; once per account per run. */
  async function ensureProvider(aws: AwsSession, accountId: string, checked: Map<string, Promise<void>>): Promise<void> {
    let done = checked.get(accountId);
    if (done === undefined) {
      done = (async () => {
        const arn = providerArn(accountId);
        const metadata = federation.metadata();
        const existing = await aws.iam<{ SAMLMetadataDocument?: string }>(accountId, new GetSAMLProviderCommand({ SAMLProviderArn: arn }), arn).catch((error: unknown) => {
          if (awsErrorCode(error) === 'NoSuchEntity') return null;
          throw error;
        });
        const record = await store.getAccount(accountId);
        const base = record ?? { accountId, source: 'manual' as const, organizationStatus: null, ouId: null, ouPath: null, syncedAt: null, samlProviderArn: null, samlProviderCreated: false, updatedAt: clock() };
        if (existing === null) {
          await aws.iam(accountId, new CreateSAMLProviderCommand({ Name: federation.samlProviderName, SAMLMetadataDocument: metadata, Tags: [{ Key: MANAGED_TAG, Value: 'true' }] }), arn);
          await store.putAccount({ ...base, samlProviderArn: arn, samlProviderCreated: true, updatedAt: clock() });
          return;
        }
        if (existing.SAMLMetadataDocument?.trim() !== metadata.trim()) {
          await aws.iam(accountId, new UpdateSAMLProviderCommand({ SAMLProviderArn: arn, SAMLMetadataDocument: metadata }), arn);
        }
        if (record?.samlProviderArn !== arn) await store.putAccount({ ...base, samlProviderArn: arn, updatedAt: clock() });
      })();
      checked.set(accountId, done);
    }
    return done;
  }

  async function readRole(aws: AwsSession, accountId: string, name: string): Promise<{ role: Role; observed: ObservedRole } | null> {
    let role: Role | undefined;
    try {
      role = (await aws.iam<{ Role?: Role }>(accountId, new GetRoleCommand({ RoleName: name }), name)).Role;
    } catch (error) {
      if (awsErrorCode(error) === 'NoSuchEntity') return null;
      throw error;
    }
    if (role === undefined) return null;
    const tags = Object.fromEntries((role.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
    const observed: ObservedRole = {
      path: role.Path ?? '/',
      arn: role.Arn ?? '',
      description: role.Description ?? null,
      trustPolicy: role.AssumeRolePolicyDocument ? parsePolicyDocument(role.AssumeRolePolicyDocument) : {},
      maxSessionDuration: role.MaxSessionDuration ?? 3600,
      attachedPolicyArns: [],
      inlinePolicies: {},
      boundaryArn: role.PermissionsBoundary?.PermissionsBoundaryArn ?? null,
      tags,
    };
    // Policies are only read on Portico's own roles: someone else's role is left alone unread.
    if (!isPorticoRole(observed, requireManagement(management).rolePath)) return { role, observed };
    observed.attachedPolicyArns = await listAll(async (marker) => {
      const page = await aws.iam<{ AttachedPolicies?: Array<{ PolicyArn?: string }>; IsTruncated?: boolean; Marker?: string }>(accountId, new ListAttachedRolePoliciesCommand({ RoleName: name, ...(marker ? { Marker: marker } : {}) }), name);
      return { items: (page.AttachedPolicies ?? []).map((p) => p.PolicyArn ?? ''), marker: page.IsTruncated ? page.Marker : undefined };
    });
    const inlineNames = await listAll(async (marker) => {
      const page = await aws.iam<{ PolicyNames?: string[]; IsTruncated?: boolean; Marker?: string }>(accountId, new ListRolePoliciesCommand({ RoleName: name, ...(marker ? { Marker: marker } : {}) }), name);
      return { items: page.PolicyNames ?? [], marker: page.IsTruncated ? page.Marker : undefined };
    });
    for (const policyName of inlineNames) {
      const policy = await aws.iam<{ PolicyDocument?: string }>(accountId, new GetRolePolicyCommand({ RoleName: name, PolicyName: policyName }), name);
      observed.inlinePolicies[policyName] = policy.PolicyDocument ? parsePolicyDocument(policy.PolicyDocument) : {};
    }
    return { role, observed };
  }

  async function applyStep(aws: AwsSession, accountId: string, desired: DesiredRole, step: RoleStep): Promise<void> {
    const name = desired.name;
    switch (step.op) {
      case 'createRole':
        await aws.iam(
          accountId,
          new CreateRoleCommand({
            RoleName: name,
            Path: desired.path,
            Description: desired.description,
            AssumeRolePolicyDocument: JSON.stringify(desired.trustPolicy),
            MaxSessionDuration: desired.maxSessionDuration,
            ...(desired.boundaryArn !== null ? { PermissionsBoundary: desired.boundaryArn } : {}),
            Tags: Object.entries(desired.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
          name,
        );
        return;
      case 'updateAssumeRolePolicy':
        await aws.iam(accountId, new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(desired.trustPolicy) }), name);
        return;
      case 'updateRole':
        await aws.iam(accountId, new UpdateRoleCommand({ RoleName: name, Description: desired.description, MaxSessionDuration: desired.maxSessionDuration }), name);
        return;
      case 'tagRole':
        await aws.iam(accountId, new TagRoleCommand({ RoleName: name, Tags: Object.entries(desired.tags).map(([Key, Value]) => ({ Key, Value })) }), name);
        return;
      case 'attachPolicy':
        await aws.iam(accountId, new AttachRolePolicyCommand({ RoleName: name, PolicyArn: step.arn }), name);
        return;
      case 'detachPolicy':
        await aws.iam(accountId, new DetachRolePolicyCommand({ RoleName: name, PolicyArn: step.arn }), name);
        return;
      case 'putInlinePolicy':
        await aws.iam(accountId, new PutRolePolicyCommand({ RoleName: name, PolicyName: step.name, PolicyDocument: JSON.stringify(desired.inlinePolicies[step.name]) }), name);
        return;
      case 'deleteInlinePolicy':
        await aws.iam(accountId, new DeleteRolePolicyCommand({ RoleName: name, PolicyName: step.name }), name);
        return;
      case 'putBoundary':
        await aws.iam(accountId, new PutRolePermissionsBoundaryCommand({ RoleName: name, PermissionsBoundary: desired.boundaryArn ?? undefined }), name);
        return;
      case 'deleteBoundary':
        await aws.iam(accountId, new DeleteRolePermissionsBoundaryCommand({ RoleName: name }), name);
        return;
    }
  }

  function notOurs(desired: DesiredRole, observed: ObservedRole): AwsCallError {
    const error = new AwsCallError('PorticoRoleNotManaged', `a role named ${desired.name} exists (${observed.arn}) that Portico did not create (outside ${requireManagement(management).rolePath} or without the ${MANAGED_TAG} tag); Portico leaves it alone: rename or delete it, or change federation.aws.roleName`, { service: 'iam', operation: 'GetRole', accountId: null });
    return error;
  }

  async function saveStatus(accountId: string, permissionSetId: string, status: ProvisioningStatus, fields: Partial<ProvisioningRecord>): Promise<ProvisioningRecord> {
    const previous = await store.getProvisioning(accountId, permissionSetId);
    const record: ProvisioningRecord = {
      accountId,
      permissionSetId,
      status,
      message: null,
      errorCode: null,
      roleArn: previous?.roleArn ?? null,
      appliedDigest: previous?.appliedDigest ?? null,
      provisionedAt: previous?.provisionedAt ?? null,
      updatedAt: clock(),
      ...fields,
    };
    await store.putProvisioning(record);
    return record;
  }

  /** Provisions (or checks) one pair whose permission set is assigned in the account. */
  async function provisionPair(aws: AwsSession, actor: string, account: Account, permissionSet: PermissionSet, mode: ProvisionMode, providers: Map<string, Promise<void>>): Promise<ProvisioningRecord> {
    const identity = requireManagement(management);
    const desired = desiredRole(permissionSet, {
      accountId: account.id,
      providerArn: providerArn(account.id),
      audience: federation.audience(account),
      rolePath: identity.rolePath,
      roleName: federation.roleName(account, permissionSet),
    });
    const digest = roleDigest(desired);
    const previous = await store.getProvisioning(account.id, permissionSet.id);
    if (mode === 'if_changed' && previous?.status === 'provisioned' && previous.appliedDigest === digest) return previous;
    try {
      if (mode !== 'check') await ensureProvider(aws, account.id, providers);
      const current = await readRole(aws, account.id, desired.name);
      if (current !== null && !isPorticoRole(current.observed, identity.rolePath)) throw notOurs(desired, current.observed);
      const steps = planRole(desired, current?.observed ?? null);
      if (mode === 'check') {
        if (steps.length === 0) return await saveStatus(account.id, permissionSet.id, previous?.status === 'failed' ? 'failed' : 'provisioned', previous?.status === 'failed' ? { message: previous.message, errorCode: previous.errorCode } : {});
        return await saveStatus(account.id, permissionSet.id, 'drifted', { message: describeSteps(steps), errorCode: 'drifted' });
      }
      for (const step of steps) await applyStep(aws, account.id, desired, step);
      if (steps.length > 0) {
        await auditChange(actor, current === null ? 'aws.role.created' : 'aws.role.updated', desired.arn, 'success', { accountId: account.id, permissionSetId: permissionSet.id, steps: steps.map((s) => s.op) });
      }
      return await saveStatus(account.id, permissionSet.id, 'provisioned', { roleArn: current?.observed.arn || desired.arn, appliedDigest: digest, provisionedAt: steps.length > 0 || previous?.provisionedAt == null ? clock() : previous.provisionedAt });
    } catch (error) {
      const { code, message } = failure(error);
      await auditChange(actor, 'aws.role.provisioned', desired.arn, 'failure', { accountId: account.id, permissionSetId: permissionSet.id, awsCode: code, message }, code);
      return saveStatus(account.id, permissionSet.id, 'failed', { message, errorCode: code });
    }
  }

  /** Deletes the pair's role (if it is Portico's) and, after the account's last role, the provider Portico created. */
  async function removePair(aws: AwsSession, actor: string, accountId: string, permissionSetId: string): Promise<ProvisioningRecord | null> {
    const previous = await store.getProvisioning(accountId, permissionSetId);
    const roleName = previous?.roleArn?.split('/').pop();
    try {
      if (previous?.roleArn && roleName) {
        const current = await readRole(aws, accountId, roleName);
        if (current !== null && isPorticoRole(current.observed, requireManagement(management).rolePath) && current.observed.tags['portico:permission-set'] === permissionSetId) {
          for (const arn of current.observed.attachedPolicyArns) await aws.iam(accountId, new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: arn }), roleName);
          for (const name of Object.keys(current.observed.inlinePolicies)) await aws.iam(accountId, new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: name }), roleName);
          await aws.iam(accountId, new DeleteRoleCommand({ RoleName: roleName }), roleName);
          await auditChange(actor, 'aws.role.deleted', previous.roleArn, 'success', { accountId, permissionSetId });
        }
      }
      await store.removeProvisioning(accountId, permissionSetId);
      if ((await store.listProvisioning({ accountId })).length === 0) await removeProvider(aws, actor, accountId);
      return null;
    } catch (error) {
      const { code, message } = failure(error);
      await auditChange(actor, 'aws.role.deleted', previous?.roleArn ?? `${accountId}/${permissionSetId}`, 'failure', { accountId, permissionSetId, awsCode: code, message }, code);
      return saveStatus(accountId, permissionSetId, 'failed', { message: `removing the role: ${message}`, errorCode: code });
    }
  }

  async function removeProvider(aws: AwsSession, actor: string, accountId: string): Promise<void> {
    const record = await store.getAccount(accountId);
    if (record?.samlProviderArn == null || !record.samlProviderCreated) return;
    await aws.iam(accountId, new DeleteSAMLProviderCommand({ SAMLProviderArn: record.samlProviderArn }), record.samlProviderArn).catch((error: unknown) => {
      if (awsErrorCode(error) !== 'NoSuchEntity') throw error;
    });
    await store.putAccount({ ...record, samlProviderArn: null, samlProviderCreated: false, updatedAt: clock() });
    await auditChange(actor, 'aws.saml_provider.deleted', record.samlProviderArn, 'success', { accountId });
  }

  async function auditChange(actor: string, action: AuditAction, target: string, outcome: 'success' | 'failure', details: Record<string, unknown>, errorCode?: string): Promise<void> {
    await audit.record({ actor, action, target, outcome, ...(errorCode !== undefined ? { errorCode: 'aws.call_failed' as const } : {}), details });
  }

  /** Works on every pair matching the filter: assigned pairs are provisioned, pairs with a status but no assignment removed. */
  async function run(actor: string, filter: { accountId?: string; permissionSetId?: string }, mode: ProvisionMode): Promise<BulkResult> {
    const { aws, calls } = await session(actor);
    const assigned = await catalog.assignedPairs(filter);
    const key = (p: { accountId: string; permissionSetId: string }) => `${p.accountId} ${p.permissionSetId}`;
    const assignedKeys = new Set(assigned.map(key));
    const stale = (await store.listProvisioning(filter)).filter((record) => !assignedKeys.has(key(record)));
    const providers = new Map<string, Promise<void>>();
    const results: ProvisioningView[] = [];
    const removed: Array<{ accountId: string; permissionSetId: string }> = [];
    const permissionSets = new Map<string, Promise<PermissionSet | undefined>>();
    const accounts = new Map<string, Promise<Account | undefined>>();
    const memo = <T>(map: Map<string, Promise<T>>, id: string, read: (id: string) => Promise<T>) => {
      let value = map.get(id);
      if (value === undefined) map.set(id, (value = read(id)));
      return value;
    };

    const work: Array<() => Promise<void>> = [
      ...assigned.map((pair) => async () => {
        const [account, permissionSet] = await Promise.all([memo(accounts, pair.accountId, (id) => catalog.account(id)), memo(permissionSets, pair.permissionSetId, (id) => catalog.permissionSet(id))]);
        if (account === undefined || permissionSet === undefined) return;
        results.push(toView(await serialised(pair.accountId, () => provisionPair(aws, actor, account, permissionSet, mode, providers))));
      }),
      ...(mode === 'check'
        ? []
        : stale.map((record) => async () => {
            const left = await serialised(record.accountId, () => removePair(aws, actor, record.accountId, record.permissionSetId));
            if (left === null) removed.push({ accountId: record.accountId, permissionSetId: record.permissionSetId });
            else results.push(toView(left));
          })),
    ];
    await inParallel(work, concurrency);
    await auditChain;
    results.sort((a, b) => a.accountId.localeCompare(b.accountId) || a.permissionSetId.localeCompare(b.permissionSetId));
    return { results, removed, calls: calls() };
  }

  return {
    configured: () => management.current() !== null,
    /** Provisions, updates or removes the pairs matching the filter; `if_changed` skips pairs nothing changed for. */
    reconcile: (actor: string, filter: { accountId?: string; permissionSetId?: string } = {}, mode: ProvisionMode = 'apply') => run(actor, filter, mode),
    /** After an assignment changed: the pair is provisioned on its first assignment and removed after its last. */
    async pairChanged(accountId: string, permissionSetId: string, actor: string): Promise<ProvisioningView | null> {
      if (management.current() === null) return null;
      const result = await run(actor, { accountId, permissionSetId }, 'if_changed');
      return result.results.find((r) => r.accountId === accountId && r.permissionSetId === permissionSetId) ?? null;
    },
    /** After the IdP metadata changed (signing-key rotation): every account's provider gets it. */
    async refreshProviders(actor: string): Promise<{ accounts: string[]; calls: number; failures: Array<{ accountId: string; message: string }> }> {
      if (management.current() === null) return { accounts: [], calls: 0, failures: [] };
      const { aws, calls } = await session(actor);
      const providers = new Map<string, Promise<void>>();
      const accounts = (await store.listAccounts()).filter((a) => a.samlProviderArn !== null).map((a) => a.accountId);
      const failures: Array<{ accountId: string; message: string }> = [];
      await inParallel(
        accounts.map((accountId) => () => serialised(accountId, () => ensureProvider(aws, accountId, providers)).catch((error: unknown) => void failures.push({ accountId, message: failure(error).message }))),
        concurrency,
      );
      await auditChain;
      await audit.record({ actor, action: 'aws.saml_provider.updated', target: federation.samlProviderName, outcome: failures.length === 0 ? 'success' : 'failure', details: { accounts, failures } });
      return { accounts, calls: calls(), failures };
    },
    async list(filter: { accountId?: string; permissionSetId?: string } = {}): Promise<ProvisioningView[]> {
      return (await store.listProvisioning(filter)).map(toView);
    },
    /** For tests and benchmarks: waits until every queued audit write is done. */
    settled: () => auditChain,
  };
}

function failure(error: unknown): { code: string; message: string } {
  if (error instanceof AwsCallError) return { code: error.awsCode, message: error.message };
  if (isAppError(error)) return { code: error.code, message: error.message };
  return { code: awsErrorCode(error), message: error instanceof Error ? error.message.slice(0, 1000) : 'unknown error' };
}

function toView(record: ProvisioningRecord): ProvisioningView {
  return {
    accountId: record.accountId,
    permissionSetId: record.permissionSetId,
    status: record.status,
    message: record.message,
    errorCode: record.errorCode,
    roleArn: record.roleArn,
    provisionedAt: record.provisionedAt?.toISOString() ?? null,
    updatedAt: record.updatedAt.toISOString(),
  };
}

async function listAll(page: (marker: string | undefined) => Promise<{ items: string[]; marker: string | undefined }>): Promise<string[]> {
  const items: string[] = [];
  let marker: string | undefined;
  do {
    const next = await page(marker);
    items.push(...next.items);
    marker = next.marker;
  } while (marker !== undefined);
  return items;
}

async function inParallel(work: ReadonlyArray<() => Promise<void>>, limit: number): Promise<void> {
  let index = 0;
  const worker = async () => {
    while (index < work.length) {
      const next = work[index++];
      if (next) await next();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, work.length) }, worker));
}

