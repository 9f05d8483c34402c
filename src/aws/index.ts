/**
 * The AWS side of Portico: the management identity, permission sets provisioned as IAM roles,
 * accounts from AWS Organizations, and the periodic run that keeps them in step. `createAwsSide`
 * is what app.ts wires; the parts are exported for tests and benchmarks.
 */
import type { AccessService } from '#src/access/access-service.ts';
import type { AccessProvisioning } from '#src/access/provisioning-port.ts';
import type { Account } from '#src/access/model.ts';
import type { AuditLog } from '#src/audit/index.ts';
import { isAppError } from '#src/shared/errors.ts';
import type { AwsStore } from './aws-store.ts';
import type { AwsCall } from './clients.ts';
import type { ManagementSettings } from './management.ts';
import { createOrganizationsSync } from './organizations.ts';
import { createProvisioner, type ProvisioningFederation } from './provisioner.ts';

export { loadManagementSettings, type ManagementSettings } from './management.ts';
export type { AwsStore } from './aws-store.ts';
export { createProvisioner } from './provisioner.ts';
export { createOrganizationsSync } from './organizations.ts';

export const SYSTEM_ACTOR = 'system:aws-sync';

export interface AwsSideOptions {
  store: AwsStore;
  management: ManagementSettings;
  access: AccessService;
  federation: ProvisioningFederation;
  audit: AuditLog;
  log: { info(details: object, message: string): void; warn(details: object, message: string): void };
  clock?: () => Date;
  onCall?: (call: AwsCall) => void;
}

export function createAwsSide(options: AwsSideOptions) {
  const { store, management, access, federation, audit, log } = options;
  const clockOption = options.clock ? { clock: options.clock } : {};
  const callOption = options.onCall ? { onCall: options.onCall } : {};
  const orUndefined = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      if (isAppError(error, 'access.not_found')) return undefined;
      throw error;
    }
  };

  const provisioner = createProvisioner({
    store,
    management,
    federation,
    audit,
    catalog: {
      account: (id) => orUndefined(() => access.getAccount(id)),
      permissionSet: (id) => orUndefined(() => access.getPermissionSet(id)),
      async assignedPairs(filter) {
        const pairs = new Map<string, { accountId: string; permissionSetId: string }>();
        for (const assignment of await access.listAssignments(filter)) {
          if (assignment.target.type !== 'account') continue;
          const { accountId, permissionSetId } = assignment.target;
          pairs.set(`${accountId} ${permissionSetId}`, { accountId, permissionSetId });
        }
        return [...pairs.values()];
      },
    },
    ...clockOption,
    ...callOption,
  });

  const organizations = createOrganizationsSync({
    store,
    management,
    audit,
    catalog: {
      getAccount: (id) => orUndefined<Account>(() => access.getAccount(id)),
      createAccount: (input, actor) => access.createAccount(input, actor, 'organizations'),
      updateAccount: (id, patch, actor) => access.updateAccount(id, patch, actor),
    },
    ...clockOption,
    ...callOption,
  });

  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  /** Accounts from Organizations, then pending and failed pairs provisioned, then a drift check. */
  async function periodic(): Promise<void> {
    if (management.current() === null || running !== null) return;
    running = (async () => {
      try {
        const synced = await organizations.sync(SYSTEM_ACTOR);
        const applied = await provisioner.reconcile(SYSTEM_ACTOR, {}, 'if_changed');
        const checked = await provisioner.reconcile(SYSTEM_ACTOR, {}, 'check');
        log.info({ created: synced.created.length, updated: synced.updated.length, calls: synced.calls + applied.calls + checked.calls, drifted: checked.results.filter((r) => r.status === 'drifted').length }, 'AWS sync done');
      } catch (error) {
        log.warn({ err: error }, 'AWS sync failed');
      } finally {
        running = null;
      }
    })();
    return running;
  }

  function schedule(): void {
    if (timer !== null) clearInterval(timer);
    timer = null;
    const minutes = management.current()?.syncIntervalMinutes ?? 0;
    if (minutes > 0) {
      timer = setInterval(() => void periodic(), minutes * 60_000);
      timer.unref();
    }
  }
  schedule();

  const accessProvisioning: AccessProvisioning = {
    accountsFromOrganizations: () => management.current() !== null,
    pairChanged: (accountId, permissionSetId, actor) => provisioner.pairChanged(accountId, permissionSetId, actor),
    async permissionSetChanged(permissionSetId, actor) {
      if (management.current() !== null) await provisioner.reconcile(actor, { permissionSetId }, 'if_changed');
    },
  };

  return {
    admin: { management, provisioner, organizations, scheduleChanged: schedule },
    /** What the access service is told; null while no management identity is configured. */
    accessProvisioning: (): AccessProvisioning | null => (management.current() === null ? null : accessProvisioning),
    /** The reserved role path while provisioning is on (federation names roles with it). */
    rolePath: (): string | null => management.current()?.rolePath ?? null,
    periodic,
    stop(): void {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}

export type AwsSide = ReturnType<typeof createAwsSide>;
