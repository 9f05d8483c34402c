/**
 * The one way a provisioned user is removed (admin API, hence the console and the CLI): the
 * identity-store record goes, their portal sessions end, and one audit event says who did it.
 * Active Directory is never touched; a user still in AD comes back at the next sign-in.
 */
import type { AuditLog } from '#src/audit/index.ts';
import { findProvisionedUser, type IdentityUserWriter } from './user.ts';

export interface UserRemovalDeps {
  users: IdentityUserWriter;
  /** Ends the user's live sessions (audited by the session service as `session.revoked`). */
  revokeSessions(userGuid: string, actor: string): Promise<number>;
  audit: AuditLog;
  clock?: () => Date;
}

export interface UserRemoved {
  removed: string;
  userName: string;
  sessionsRevoked: number;
}

export type RemoveUser = (key: string, actor: string) => Promise<UserRemoved>;

/** `key`: UserId, user name, objectGUID or email, as findProvisionedUser reads it. */
export function createUserRemoval(deps: UserRemovalDeps): RemoveUser {
  const clock = deps.clock ?? (() => new Date());
  return async (key, actor) => {
    const user = await findProvisionedUser(deps.users, key);
    await deps.users.remove(user.userId, clock());
    const revoked = await deps.revokeSessions(user.activeDirectory.guid, actor);
    await deps.audit.record({ actor, action: 'identity.user.removed', target: user.userId, outcome: 'success', details: { userName: user.userName, guid: user.activeDirectory.guid, sessionsRevoked: revoked } });
    return { removed: user.userId, userName: user.userName, sessionsRevoked: revoked };
  };
}
