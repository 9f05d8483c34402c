/**
 * The admin API of the AWS side (/admin/api/aws…): the management identity Portico provisions
 * with, the provisioning status of each permission set in each account (with re-provision and
 * drift check), and the accounts sync from AWS Organizations. Secrets are accepted, sealed, and
 * never returned.
 */
import { z } from 'zod';
import type { AuditLog } from '#src/audit/index.ts';
import type { AwsAccountRecord } from '#src/aws/aws-store.ts';
import { whoAmI, type AwsCall } from '#src/aws/clients.ts';
import { managementInput, type ManagementSettings } from '#src/aws/management.ts';
import type { OrganizationsSync } from '#src/aws/organizations.ts';
import type { Provisioner } from '#src/aws/provisioner.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import { route, type ApiRoute } from './api-route.ts';

export interface AwsAdmin {
  management: ManagementSettings;
  provisioner: Provisioner;
  organizations: OrganizationsSync;
  /** Starts or stops the periodic sync after the identity changed. */
  scheduleChanged(): void;
}

export interface AwsAdminDeps {
  aws: () => AwsAdmin;
  audit: AuditLog;
  clock?: () => Date;
}

const TAG = 'aws';

const managementView = z.object({
  configured: z.boolean(),
  credentials: z.enum(['access_key', 'profile', 'default_chain']).optional(),
  accessKeyId: z.string().optional(),
  profile: z.string().optional(),
  roleArn: z.string().optional(),
  region: z.string().optional(),
  endpoint: z.string().optional(),
  memberRoleName: z.string().optional(),
  rolePath: z.string().optional(),
  syncIntervalMinutes: z.number().optional(),
  managementAccountId: z.string().optional(),
  updatedAt: z.string().optional(),
});

const provisioningView = z.object({
  accountId: z.string(),
  permissionSetId: z.string(),
  status: z.enum(['provisioned', 'failed', 'drifted']).describe('provisioned: the role is in IAM as the permission set says; failed: AWS refused (message); drifted: IAM differs from the permission set (message says how)'),
  message: z.string().nullable(),
  errorCode: z.string().nullable(),
  roleArn: z.string().nullable(),
  provisionedAt: z.string().nullable(),
  updatedAt: z.string(),
});

const pairFilter = z.strictObject({
  accountId: z.string().max(64).optional(),
  permissionSetId: z.string().max(64).optional(),
});

const accountSource = z.object({
  accountId: z.string(),
  source: z.enum(['organizations', 'manual']),
  organizationStatus: z.string().nullable(),
  ouId: z.string().nullable(),
  ouPath: z.string().nullable(),
  syncedAt: z.string().nullable(),
  samlProviderArn: z.string().nullable(),
});

const defined = (filter: { accountId?: string | undefined; permissionSetId?: string | undefined }) => ({
  ...(filter.accountId !== undefined ? { accountId: filter.accountId } : {}),
  ...(filter.permissionSetId !== undefined ? { permissionSetId: filter.permissionSetId } : {}),
});

const sourceView = (record: AwsAccountRecord) => ({
  accountId: record.accountId,
  source: record.source,
  organizationStatus: record.organizationStatus,
  ouId: record.ouId,
  ouPath: record.ouPath,
  syncedAt: record.syncedAt?.toISOString() ?? null,
  samlProviderArn: record.samlProviderArn,
});

export function awsAdminRoutes(deps: AwsAdminDeps): ApiRoute[] {
  const now = () => (deps.clock ?? (() => new Date()))();

  return [
    route({
      method: 'GET', path: '/aws/management', operationId: 'getAwsManagement', tag: TAG, summary: 'The AWS management identity Portico provisions with (never its secret)',
      response: managementView,
      handler: () => Promise.resolve(deps.aws().management.view()),
    }),
    route({
      method: 'PUT', path: '/aws/management', operationId: 'setAwsManagement', tag: TAG,
      summary: 'Set the management identity (access key, profile or the default chain; optionally a role to assume), the member-account role and the reserved role path. Checked with sts:GetCallerIdentity before it is saved.',
      body: managementInput, response: managementView,
      handler: async ({ body, admin }) => {
        const calls: AwsCall[] = [];
        let accountId: string;
        try {
          accountId = (await whoAmI(body, (call) => calls.push(call))).accountId;
        } catch (error) {
          const message = isAppError(error) || error instanceof Error ? error.message : String(error);
          await deps.audit.record({ actor: admin.actor, action: 'aws.management.updated', target: body.accessKeyId ?? body.profile ?? 'default chain', outcome: 'failure', errorCode: 'aws.management_invalid', details: { reason: message, calls: calls.map(({ operation, outcome, errorCode }) => ({ operation, outcome, errorCode })) } });
          throw new AppError('aws.management_invalid', `AWS did not accept the management identity: ${message}`, { status: 400, expose: true });
        }
        const view = await deps.aws().management.save(body, accountId, now());
        const shown = Object.fromEntries(Object.entries(body).filter(([key]) => key !== 'secretAccessKey'));
        await deps.audit.record({ actor: admin.actor, action: 'aws.management.updated', target: accountId, outcome: 'success', details: { ...shown, managementAccountId: accountId } });
        deps.aws().scheduleChanged();
        return view;
      },
    }),
    route({
      method: 'DELETE', path: '/aws/management', operationId: 'removeAwsManagement', tag: TAG, status: 204,
      summary: 'Forget the management identity: nothing is provisioned any more (roles already created stay in AWS until removed)',
      response: z.null(),
      handler: async ({ admin }) => {
        const removed = await deps.aws().management.remove();
        if (!removed) throw new AppError('aws.not_configured', 'no AWS management identity is configured', { status: 404 });
        await deps.audit.record({ actor: admin.actor, action: 'aws.management.removed', target: null, outcome: 'success' });
        deps.aws().scheduleChanged();
        return null;
      },
    }),
    route({
      method: 'GET', path: '/aws/provisioning', operationId: 'listAwsProvisioning', tag: TAG, summary: 'Provisioning status of each permission set in each account',
      query: pairFilter, response: z.object({ provisioning: z.array(provisioningView) }),
      handler: async ({ query }) => ({ provisioning: await deps.aws().provisioner.list(defined(query)) }),
    }),
    route({
      method: 'POST', path: '/aws/provisioning/reprovision', operationId: 'reprovisionAws', tag: TAG,
      summary: 'Re-provision: read every matching role from IAM and write what differs (failed and drifted pairs included); roles whose last assignment went are deleted',
      body: pairFilter.optional(), response: z.object({ provisioning: z.array(provisioningView), removed: z.array(z.object({ accountId: z.string(), permissionSetId: z.string() })), calls: z.number() }),
      handler: async ({ body, admin }) => {
        const result = await deps.aws().provisioner.reconcile(admin.actor, defined(body ?? {}), 'apply');
        return { provisioning: result.results, removed: result.removed, calls: result.calls };
      },
    }),
    route({
      method: 'POST', path: '/aws/provisioning/check', operationId: 'checkAwsProvisioning', tag: TAG,
      summary: 'Drift check: read every matching role from IAM and mark those that differ from their permission set as drifted, writing nothing',
      body: pairFilter.optional(), response: z.object({ provisioning: z.array(provisioningView), calls: z.number() }),
      handler: async ({ body, admin }) => {
        const result = await deps.aws().provisioner.reconcile(admin.actor, defined(body ?? {}), 'check');
        return { provisioning: result.results, calls: result.calls };
      },
    }),
    route({
      method: 'GET', path: '/aws/accounts', operationId: 'listAwsAccountSources', tag: TAG, summary: 'Where each account came from (AWS Organizations or typed in), its OU, and the SAML provider Portico keeps there',
      response: z.object({ accounts: z.array(accountSource) }),
      handler: async () => ({ accounts: (await deps.aws().organizations.sources()).map(sourceView) }),
    }),
    route({
      method: 'POST', path: '/aws/organizations/sync', operationId: 'syncAwsOrganizations', tag: TAG,
      summary: 'Read the accounts and their OUs from AWS Organizations now: new accounts are added, renamed or moved ones updated, departed ones marked REMOVED',
      response: z.object({ created: z.array(z.string()), updated: z.array(z.string()), unchanged: z.array(z.string()), removed: z.array(z.string()), failed: z.array(z.object({ accountId: z.string(), message: z.string() })), calls: z.number() }),
      handler: ({ admin }) => deps.aws().organizations.sync(admin.actor),
    }),
  ];
}
