/**
 * Accounts from AWS Organizations: ListAccounts, and per account its parent OU and the OU's
 * path up to the root, read with the management identity. New accounts are added to Portico's
 * catalog, renamed or moved ones updated (each change audited by the access domain); accounts
 * that left the organization are kept (they may have assignments) and marked REMOVED.
 */
import { DescribeOrganizationalUnitCommand, ListAccountsCommand, ListParentsCommand, type Account as OrgAccount } from '@aws-sdk/client-organizations';
import type { Account } from '#src/access/model.ts';
import type { AuditLog } from '#src/audit/index.ts';
import { isAppError } from '#src/shared/errors.ts';
import type { AwsStore } from './aws-store.ts';
import { openAwsSession, type AwsCall, type AwsSession } from './clients.ts';
import { requireManagement, type ManagementSettings } from './management.ts';

/** The catalog writes a sync needs (the access service's, so every change is validated and audited). */
export interface AccountCatalog {
  getAccount(id: string): Promise<Account | undefined>;
  createAccount(input: Record<string, unknown>, actor: string): Promise<unknown>;
  updateAccount(id: string, patch: Record<string, unknown>, actor: string): Promise<unknown>;
}

export interface SyncResult {
  created: string[];
  updated: string[];
  unchanged: string[];
  /** Left the organization since the last sync (kept in Portico). */
  removed: string[];
  failed: Array<{ accountId: string; message: string }>;
  calls: number;
}

export interface OrganizationsSyncOptions {
  store: AwsStore;
  catalog: AccountCatalog;
  management: ManagementSettings;
  audit: AuditLog;
  clock?: () => Date;
  onCall?: (call: AwsCall) => void;
}

export function createOrganizationsSync(options: OrganizationsSyncOptions) {
  const { store, catalog, management, audit, clock = () => new Date() } = options;

  async function ouPath(aws: AwsSession, parentId: string, names: Map<string, Promise<{ name: string; parent: string | null }>>): Promise<string> {
    const segments: string[] = [];
    let current: string | null = parentId;
    // OUs nest at most five deep; the bound guards against a loop in a misbehaving answer.
    for (let depth = 0; current !== null && current.startsWith('ou-') && depth < 10; depth += 1) {
      const id: string = current;
      let entry = names.get(id);
      if (entry === undefined) {
        entry = (async () => {
          const [described, parents] = await Promise.all([
            aws.organizations<{ OrganizationalUnit?: { Name?: string } }>(new DescribeOrganizationalUnitCommand({ OrganizationalUnitId: id }), id),
            aws.organizations<{ Parents?: Array<{ Id?: string }> }>(new ListParentsCommand({ ChildId: id }), id),
          ]);
          return { name: described.OrganizationalUnit?.Name ?? id, parent: parents.Parents?.[0]?.Id ?? null };
        })();
        names.set(id, entry);
      }
      const { name, parent } = await entry;
      segments.unshift(name);
      current = parent;
    }
    return segments.join('/');
  }

  return {
    async sync(actor: string): Promise<SyncResult> {
      const identity = requireManagement(management);
      let calls = 0;
      const report = (call: AwsCall) => {
        calls += 1;
        options.onCall?.(call);
        void audit
          .record({ actor, action: 'aws.api.called', target: `${call.service}:${call.operation}`, outcome: call.outcome, ...(call.errorCode ? { errorCode: 'aws.call_failed' as const } : {}), details: { awsCode: call.errorCode ?? null, service: call.service, operation: call.operation, accountId: call.accountId, target: call.target ?? null, ms: call.ms, ...(call.message ? { message: call.message } : {}) } })
          .catch(() => undefined);
      };
      const aws = await openAwsSession(identity, report, clock);
      const listed: OrgAccount[] = [];
      let token: string | undefined;
      do {
        const page: { Accounts?: OrgAccount[]; NextToken?: string } = await aws.organizations(new ListAccountsCommand({ ...(token ? { NextToken: token } : {}) }));
        listed.push(...(page.Accounts ?? []));
        token = page.NextToken;
      } while (token !== undefined);

      const result: SyncResult = { created: [], updated: [], unchanged: [], removed: [], failed: [], calls: 0 };
      const ous = new Map<string, Promise<{ name: string; parent: string | null }>>();
      const seen = new Set<string>();
      for (const org of listed) {
        const id = org.Id;
        if (id === undefined) continue;
        seen.add(id);
        try {
          const parents = await aws.organizations<{ Parents?: Array<{ Id?: string; Type?: string }> }>(new ListParentsCommand({ ChildId: id }), id);
          const parent = parents.Parents?.[0];
          const ouId = parent?.Type === 'ORGANIZATIONAL_UNIT' && parent.Id ? parent.Id : null;
          const path = ouId === null ? '' : await ouPath(aws, ouId, ous);
          const fields: Record<string, unknown> = { name: (org.Name ?? id).slice(0, 50), email: org.Email ?? `${id}@unknown.invalid`, ...(path !== '' ? { organizationalUnit: path.slice(0, 128) } : {}) };
          const existing = await catalog.getAccount(id);
          if (existing === undefined) {
            await catalog.createAccount({ id, ...fields }, actor);
            result.created.push(id);
          } else if (existing.name !== fields.name || existing.email !== fields.email || (existing.organizationalUnit ?? '') !== path.slice(0, 128)) {
            await catalog.updateAccount(id, { ...fields, ...(path === '' ? { organizationalUnit: undefined } : {}) }, actor);
            result.updated.push(id);
          } else {
            result.unchanged.push(id);
          }
          const record = await store.getAccount(id);
          await store.putAccount({
            accountId: id,
            source: 'organizations',
            organizationStatus: org.Status ?? null,
            ouId,
            ouPath: path === '' ? null : path,
            syncedAt: clock(),
            samlProviderArn: record?.samlProviderArn ?? null,
            samlProviderCreated: record?.samlProviderCreated ?? false,
            updatedAt: clock(),
          });
        } catch (error) {
          result.failed.push({ accountId: id, message: isAppError(error) || error instanceof Error ? error.message : String(error) });
        }
      }
      for (const record of await store.listAccounts()) {
        if (record.source === 'organizations' && !seen.has(record.accountId) && record.organizationStatus !== 'REMOVED') {
          await store.putAccount({ ...record, organizationStatus: 'REMOVED', updatedAt: clock() });
          result.removed.push(record.accountId);
        }
      }
      result.calls = calls;
      await audit.record({
        actor,
        action: 'aws.organizations.synced',
        target: identity.managementAccountId,
        outcome: result.failed.length === 0 ? 'success' : 'failure',
        details: { created: result.created, updated: result.updated, removed: result.removed, failed: result.failed, unchanged: result.unchanged.length, calls },
      });
      return result;
    },
    /** Source and OU per account, for the catalog's views. */
    sources: () => store.listAccounts(),
  };
}

export type OrganizationsSync = ReturnType<typeof createOrganizationsSync>;
