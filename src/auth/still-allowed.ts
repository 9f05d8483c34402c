/**
 * The session re-check: does the directory still let this user in? A user deleted from AD, or
 * disabled or expired there, loses their portal sessions at their next request, although their
 * identity-store record stays. A lockout or an expired password does not end a running session
 * (AD does not end logon sessions for them either).
 */
import type { DirectoryConnector } from '#src/directory/types.ts';
import type { UserStillAllowed } from '#src/sessions/index.ts';

export function userStillAllowedIn(directory: () => DirectoryConnector | null): UserStillAllowed {
  return async (guid) => {
    const connector = directory();
    if (connector === null) return 'unknown';
    try {
      const user = await connector.findUserByGuid(guid);
      if (user === null) return 'gone';
      return user.account.conditions.some((condition) => condition === 'disabled' || condition === 'expired') ? 'disabled' : 'allowed';
    } catch {
      // The directory cannot answer now: keep the session rather than sign everyone out.
      return 'unknown';
    }
  };
}
