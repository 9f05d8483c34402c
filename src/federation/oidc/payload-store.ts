/**
 * What the OpenID provider keeps between requests (sessions, interactions, authorization codes,
 * access and refresh tokens, grants), as oidc-provider's adapter interface needs it: one JSON
 * payload per (model, id), with the lookups the library makes (by user code, by interaction uid,
 * every token of a grant). Kept in Portico's database so they survive restarts and are shared by
 * every instance on it.
 */
export interface StoredOidcPayload {
  payload: Record<string, unknown>;
  /** Set once a code or token was used: oidc-provider detects a replay from it. */
  consumedAt: Date | null;
  expiresAt: Date | null;
}

export interface OidcPayloadStore {
  /** Inserts or replaces a payload; its grantId/uid/userCode fields are indexed for the lookups below. */
  upsert(model: string, id: string, payload: Record<string, unknown>, expiresAt: Date | null): Promise<void>;
  /** The payload unless it expired at `now`. */
  find(model: string, id: string, now: Date): Promise<StoredOidcPayload | undefined>;
  findByUid(model: string, uid: string, now: Date): Promise<(StoredOidcPayload & { id: string }) | undefined>;
  findByUserCode(model: string, userCode: string, now: Date): Promise<(StoredOidcPayload & { id: string }) | undefined>;
  consume(model: string, id: string, at: Date): Promise<void>;
  destroy(model: string, id: string): Promise<void>;
  /** Removes every payload (of any model) belonging to a grant: a whole token family. */
  revokeByGrantId(grantId: string): Promise<number>;
  /**
   * Deletes and returns up to `limit` payloads of a model that expired before `before`, oldest
   * first; each row is returned to one caller only, whichever instance asks.
   */
  takeExpired(model: string, before: Date, limit: number): Promise<Array<{ id: string; payload: Record<string, unknown> }>>;
  /** Deletes payloads that expired before `before`; returns how many. */
  purgeExpired(before: Date): Promise<number>;
}
