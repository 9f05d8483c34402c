/**
 * The one identity source of an instance: the managed directory (the default), a self-managed AD
 * domain from the configuration file, or one connected at run time (`portico identity-source
 * connect`, stored encrypted). Changing it deletes the provisioned users, so it is refused while
 * any exist unless the administrator confirms — as Identity Center does — and it is audited.
 * It also clears the AD sync's scope, watermarks and synced groups: they name objects (by
 * objectGUID) and positions of the old directory. Updating the connection of the same domain
 * (other DCs, another service account) keeps them: the objects are the same.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { DirectoryConnectionStore } from '#src/directory/connection-store.ts';
import type { DirectoryConnectionOptions } from '#src/directory/options.ts';
import type { DirectoryCheck } from '#src/directory/types.ts';
import type { IdentityUserWriter } from '#src/identity-store/user.ts';
import { AppError } from '#src/shared/errors.ts';

/** The name under which the connected domain is kept in the connection store. */
export const IDENTITY_SOURCE_CONNECTION = 'identity-source';

export type IdentitySourceChoice =
  | { kind: 'managed' }
  | { kind: 'connector'; origin: 'config' | 'stored'; options: DirectoryConnectionOptions };

export async function chooseIdentitySource(configured: DirectoryConnectionOptions | undefined, connections: DirectoryConnectionStore): Promise<IdentitySourceChoice> {
  if (configured) return { kind: 'connector', origin: 'config', options: configured };
  const stored = await connections.get(IDENTITY_SOURCE_CONNECTION);
  return stored ? { kind: 'connector', origin: 'stored', options: stored.options } : { kind: 'managed' };
}

export function describeChoice(choice: IdentitySourceChoice): string {
  return choice.kind === 'managed' ? 'the managed directory' : `the AD domain ${choice.options.domain}`;
}

export interface IdentitySourceChangeDependencies {
  connections: DirectoryConnectionStore;
  users: IdentityUserWriter;
  /** Ends every portal session (the users they belong to are being deleted). */
  revokeAllSessions: () => Promise<number>;
  audit: AuditLog;
  /** Connects to the domain and runs the directory validation; throws directory.refused and the like. */
  validate: (options: DirectoryConnectionOptions) => Promise<DirectoryCheck>;
  /** Empties the AD sync's scope (with its watermarks and synced groups); returns how many entries it had. */
  clearSyncScope?: (actor: string) => Promise<number>;
}

export interface IdentitySourceChange {
  to: { kind: 'managed' } | { kind: 'connector'; options: DirectoryConnectionOptions };
  /** The administrator accepted that provisioned users (and their sessions) are deleted. */
  confirmDeletion: boolean;
  actor: string;
}

export interface IdentitySourceChangeResult {
  from: IdentitySourceChoice;
  check: DirectoryCheck | null;
  /** False when the source stays the same domain (its connection settings were updated). */
  changed: boolean;
  deletedUsers: number;
  /** Sync scope entries removed with the old directory (0 when the source stays the same). */
  clearedSyncScope: number;
}

export async function changeIdentitySource(
  deps: IdentitySourceChangeDependencies,
  configured: DirectoryConnectionOptions | undefined,
  change: IdentitySourceChange,
): Promise<IdentitySourceChangeResult> {
  if (configured) {
    throw new AppError('identity_source.change_refused', 'the identity source is set by the `directory` section of the configuration; change it there', { status: 409 });
  }
  const from = await chooseIdentitySource(undefined, deps.connections);
  const target = change.to.kind === 'managed' ? 'managed' : change.to.options.domain;
  const check = change.to.kind === 'connector' ? await validateOrAudit(deps, change, change.to.options) : null;

  const sameSource =
    (from.kind === 'managed' && change.to.kind === 'managed') ||
    (from.kind === 'connector' && change.to.kind === 'connector' && from.options.domain.toLowerCase() === change.to.options.domain.toLowerCase());
  let deletedUsers = 0;
  let clearedSyncScope = 0;
  if (!sameSource) {
    const users = await deps.users.count();
    if (users > 0 && !change.confirmDeletion) {
      await deps.audit.record({ actor: change.actor, action: 'identity_source.changed', target, outcome: 'failure', errorCode: 'identity_source.change_refused', details: { users } });
      throw new AppError(
        'identity_source.change_refused',
        `${users} provisioned user(s) exist; changing the identity source from ${describeChoice(from)} deletes them and their sessions (assignments go with them). Confirm to proceed.`,
        { status: 409, details: { users } },
      );
    }
    await deps.revokeAllSessions();
    deletedUsers = await deps.users.removeAll();
    clearedSyncScope = (await deps.clearSyncScope?.(change.actor)) ?? 0;
  }
  if (change.to.kind === 'connector') await deps.connections.save({ name: IDENTITY_SOURCE_CONNECTION, options: change.to.options });
  else await deps.connections.remove(IDENTITY_SOURCE_CONNECTION);
  await deps.audit.record({
    actor: change.actor,
    action: sameSource ? 'identity_source.updated' : 'identity_source.changed',
    target,
    outcome: 'success',
    details: { from: describeChoice(from), to: target, deletedUsers, clearedSyncScope, verdict: check?.verdict.reason ?? null },
  });
  return { from, check, changed: !sameSource, deletedUsers, clearedSyncScope };
}

async function validateOrAudit(deps: IdentitySourceChangeDependencies, change: IdentitySourceChange, options: DirectoryConnectionOptions): Promise<DirectoryCheck> {
  try {
    return await deps.validate(options);
  } catch (error) {
    const code = error instanceof AppError ? error.code : null;
    await deps.audit.record({
      actor: change.actor,
      action: 'identity_source.changed',
      target: options.domain,
      outcome: 'failure',
      errorCode: code,
      details: { reason: error instanceof Error ? error.message : String(error) },
    });
    throw error;
  }
}
