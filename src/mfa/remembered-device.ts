/**
 * The remembered-device cookie of context-aware MFA: signed (HMAC under a key derived from the
 * instance key), for one person, bound to the browser (a hash of its User-Agent) and to the
 * address class it was set from (IPv4 /24, IPv6 /48), with an expiry. Any change — another
 * browser, another network, another person — and MFA is asked again.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import net from 'node:net';

export const REMEMBER_COOKIE = 'portico_mfa_remember';
/** An HMAC-SHA-256 in base64url. */
const MAC_LENGTH = 43;

interface Claims {
  /** objectGUID */
  g: string;
  /** address class */
  a: string;
  /** User-Agent hash */
  b: string;
  /** expiry, ms since the epoch */
  e: number;
}

export function addressClass(address: string | null): string {
  if (address === null) return '-';
  const mapped = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (net.isIPv4(mapped)) return mapped.split('.').slice(0, 3).join('.') + '.0/24';
  if (net.isIPv6(mapped)) {
    const [head = '', tail = ''] = mapped.split('::');
    const groups = head === '' ? [] : head.split(':');
    const tailGroups = tail === '' ? [] : tail.split(':');
    const full = [...groups, ...Array<string>(8 - groups.length - tailGroups.length).fill('0'), ...tailGroups];
    return full.slice(0, 3).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':') + '::/48';
  }
  return address;
}

const browserHash = (userAgent: string | null): string => createHash('sha256').update(userAgent ?? '').digest('base64url').slice(0, 16);

export interface RememberedDeviceSigner {
  issue(input: { userGuid: string; address: string | null; userAgent: string | null; now: Date; days: number }): { value: string; maxAgeSeconds: number };
  /** Whether the cookie remembers this browser for this person, from this address class, now. */
  verify(value: string | undefined, input: { userGuid: string; address: string | null; userAgent: string | null; now: Date }): boolean;
}

export function createRememberedDeviceSigner(key: Uint8Array): RememberedDeviceSigner {
  const sign = (payload: string): string => createHmac('sha256', key).update(payload).digest('base64url');
  return {
    issue({ userGuid, address, userAgent, now, days }) {
      const maxAgeSeconds = days * 86_400;
      const claims: Claims = { g: userGuid.toLowerCase(), a: addressClass(address), b: browserHash(userAgent), e: now.getTime() + maxAgeSeconds * 1000 };
      const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
      // Cookie values are base64url here (serializeCookie): the MAC is the last 43 characters.
      return { value: `${payload}${sign(payload)}`, maxAgeSeconds };
    },
    verify(value, { userGuid, address, userAgent, now }) {
      if (value === undefined || value.length > 1024) return false;
      if (value.length <= MAC_LENGTH) return false;
      const payload = value.slice(0, -MAC_LENGTH);
      const mac = value.slice(-MAC_LENGTH);
      const expected = Buffer.from(sign(payload));
      const given = Buffer.from(mac);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
      let claims: Partial<Claims>;
      try {
        claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<Claims>;
      } catch {
        return false;
      }
      return claims.g === userGuid.toLowerCase() && claims.a === addressClass(address) && claims.b === browserHash(userAgent) && typeof claims.e === 'number' && claims.e > now.getTime();
    },
  };
}
