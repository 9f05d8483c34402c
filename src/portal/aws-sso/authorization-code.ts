/**
 * The pure parts of the authorization-code grant with PKCE as AWS CLI ≥ 2.22 and the SDKs use
 * it with SSO OIDC: which redirect URIs a public client may register (loopback http only, RFC
 * 8252 §7.3), how a redirect URI given at authorize matches a registered one (exactly, apart from
 * the port of a loopback IP literal), and the S256 check of the code verifier (RFC 7636).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const AUTHORIZATION_CODE_GRANT = 'authorization_code';
/** RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~]. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** base64url of a SHA-256 digest: 43 characters, no padding. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

function parse(uri: string): URL | null {
  try {
    return new URL(uri);
  } catch {
    return null;
  }
}

/** Why a redirect URI may not be registered, or null when it may. */
export function redirectUriProblem(uri: string): string | null {
  const url = parse(uri);
  if (url === null) return `${uri.slice(0, 100)} is not a URL`;
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname)) return 'redirect URIs must be http://127.0.0.1/… or http://[::1]/… (a loopback address; RFC 8252)';
  if (url.hash !== '' || uri.includes('#')) return 'redirect URIs must not have a fragment';
  if (url.username !== '' || url.password !== '') return 'redirect URIs must not carry user information';
  return null;
}

/** The registered URI that `given` stands for, ignoring only the port (RFC 8252 §7.3); null when none. */
export function matchRedirectUri(registered: readonly string[], given: string): string | null {
  const url = parse(given);
  if (url === null || redirectUriProblem(given) !== null) return null;
  const withoutPort = (u: URL) => `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
  const key = withoutPort(url);
  for (const candidate of registered) {
    const c = parse(candidate);
    if (c !== null && withoutPort(c) === key) return candidate;
  }
  return null;
}

export const isS256Challenge = (challenge: string): boolean => S256_CHALLENGE.test(challenge);
export const isCodeVerifier = (verifier: string): boolean => VERIFIER.test(verifier);

/** RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge, in constant time. */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!isCodeVerifier(verifier)) return false;
  const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/** Scopes as the authorize URL carries them: botocore joins them with commas, OAuth with spaces. */
export const splitScopes = (text: string): string[] => text.split(/[\s,]+/).filter((s) => s !== '');
