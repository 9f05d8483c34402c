/**
 * The instance's one identity store id, in AWS's `d-` + 10 lower-case hex form. It is derived
 * from the instance's secret key (an HMAC, which reveals nothing of the key), so it is stable
 * across restarts and the same on every node of an instance, without a setting to manage; two
 * instances have different ids, so a client configured for one is refused by the other.
 */
import { createHmac } from 'node:crypto';

export const identityStoreIdPattern = /^d-[0-9a-f]{10}$/;

/**
 * @example
 * const identityStoreId = deriveIdentityStoreId(secretKey.key); // 'd-3f9a0c41e2'
 */
export function deriveIdentityStoreId(secretKey: Buffer): string {
  return `d-${createHmac('sha256', secretKey).update('portico identity store id v1').digest('hex').slice(0, 10)}`;
}
