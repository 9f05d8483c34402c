import { createHash, randomBytes } from 'node:crypto';

/** A fresh bearer token (256 random bits, base64url) and the hash under which it is stored. */
export function newSessionToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, tokenHash: hashSessionToken(token) };
}

export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
