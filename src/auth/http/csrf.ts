/**
 * CSRF protection of the sign-in form, before any session exists: a signed double-submit token.
 * The browser holds a random value in the HttpOnly cookie `portico_csrf`; the form carries
 * HMAC(key, value) in a hidden field. A cross-site page can neither read the cookie nor compute
 * the field, so it cannot submit the form in the person's name (login CSRF), and a cookie
 * planted by a sibling site is useless without the matching field, which needs the server key.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const CSRF_COOKIE = 'portico_csrf';
const COOKIE_VALUE = /^[\w-]{43}$/; // 32 random bytes, base64url

export interface SignInCsrf {
  /** A fresh random cookie value. */
  newCookieValue(): string;
  /** Whether a cookie value from the browser has the shape this module makes (else a new one is issued). */
  isCookieValue(value: string | undefined): value is string;
  /** The hidden field's value bound to the cookie value. */
  fieldFor(cookieValue: string): string;
  /** 'missing' when the cookie or the field is absent, 'mismatch' when they do not belong together. */
  verify(cookieValue: string | undefined, field: string | undefined): 'ok' | 'missing' | 'mismatch';
}

export function createSignInCsrf(key: Uint8Array): SignInCsrf {
  if (key.length < 32) throw new RangeError('the CSRF key must be at least 32 bytes');
  const fieldFor = (cookieValue: string): string => createHmac('sha256', key).update(`portico-sign-in-csrf:${cookieValue}`).digest('base64url');
  return {
    newCookieValue: () => randomBytes(32).toString('base64url'),
    isCookieValue: (value): value is string => value !== undefined && COOKIE_VALUE.test(value),
    fieldFor,
    verify(cookieValue, field) {
      if (cookieValue === undefined || cookieValue === '' || field === undefined || field === '') return 'missing';
      if (!COOKIE_VALUE.test(cookieValue)) return 'mismatch';
      const expected = Buffer.from(fieldFor(cookieValue));
      const given = Buffer.from(field);
      return given.length === expected.length && timingSafeEqual(given, expected) ? 'ok' : 'mismatch';
    },
  };
}
