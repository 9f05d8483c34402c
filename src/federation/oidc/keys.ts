/**
 * The OpenID provider's signing keys: one ES256 (the default for ID tokens) and one RS256 key
 * (for relying parties that only do RSA), generated at first start and kept in the settings
 * store with the private parts sealed under the instance key.
 *
 * Rotation keeps an overlap on both sides, as for the SAML keys: relying parties cache the JWKS
 * (openid-client up to 5 minutes, refetching for an unknown key id only after a minute), so
 *
 *   stage    — a next pair is published in the JWKS but does not sign yet;
 *   activate — once relying parties have refreshed their JWKS, the next pair signs and the old
 *              one stays published as previous (tokens it signed still verify);
 *   retire   — the previous pair leaves the JWKS once those tokens have expired.
 *
 * The JWKS lists the current pair first: oidc-provider signs with the first key of an algorithm.
 */
import { createPublicKey, generateKeyPairSync, randomUUID, type JsonWebKey } from 'node:crypto';
import type { SecretBox } from '#src/secrets/index.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { AppError } from '#src/shared/errors.ts';

const SETTING = 'oidc_signing_keys';
export const OIDC_SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
export type OidcSigningAlgorithm = (typeof OIDC_SIGNING_ALGORITHMS)[number];

interface StoredKey {
  kid: string;
  alg: OidcSigningAlgorithm;
  /** The private JWK, sealed. */
  sealed: string;
  createdAt: string;
}

interface StoredKeys {
  current: StoredKey[];
  next?: StoredKey[] | undefined;
  previous?: StoredKey[] | undefined;
}

export interface OidcKeyView {
  kid: string;
  alg: OidcSigningAlgorithm;
  state: 'current' | 'next' | 'previous';
  createdAt: string;
}

export interface OidcSigningKeys {
  /** Private JWKs for oidc-provider's `jwks`: current pair first, then the previous one. */
  privateJwks(): { keys: JsonWebKey[] };
  list(): OidcKeyView[];
  /** Publishes a new pair that does not sign yet (the previous pair, if any, leaves the JWKS). */
  stage(at: Date): Promise<OidcKeyView[]>;
  /** The staged pair signs from now on; the old current pair stays published as previous. */
  activate(at: Date): Promise<OidcKeyView[]>;
  /** Unpublishes the previous pair. */
  retire(at: Date): Promise<OidcKeyView[]>;
}

function generate(box: SecretBox, alg: OidcSigningAlgorithm, at: Date): StoredKey {
  const kid = randomUUID();
  const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { kid, alg, sealed: box.seal(JSON.stringify(jwk), `oidc-key:${kid}`), createdAt: at.toISOString() };
}

const generatePair = (box: SecretBox, at: Date): StoredKey[] => OIDC_SIGNING_ALGORITHMS.map((alg) => generate(box, alg, at));

export async function loadOidcSigningKeys(settings: SettingsStore, box: SecretBox, now: Date, onChange?: () => void): Promise<OidcSigningKeys> {
  let state = (await settings.get(SETTING)) as StoredKeys | undefined;
  if (state === undefined) {
    state = { current: generatePair(box, now) };
    await settings.set(SETTING, state, now);
  }
  let jwks = open(state);

  function open(keys: StoredKeys): JsonWebKey[] {
    return [...keys.current, ...(keys.next ?? []), ...(keys.previous ?? [])].map((key) => {
      const jwk = JSON.parse(box.open(key.sealed, `oidc-key:${key.kid}`)) as JsonWebKey;
      // Fails here, at start, rather than at the first token if a stored key is damaged.
      createPublicKey({ key: jwk, format: 'jwk' });
      return jwk;
    });
  }

  async function save(next: StoredKeys, at: Date): Promise<void> {
    const opened = open(next);
    await settings.set(SETTING, next, at);
    state = next;
    jwks = opened;
    onChange?.();
  }

  const list = (): OidcKeyView[] => {
    const current = state as StoredKeys;
    return [
      ...current.current.map((key) => ({ kid: key.kid, alg: key.alg, state: 'current' as const, createdAt: key.createdAt })),
      ...(current.next ?? []).map((key) => ({ kid: key.kid, alg: key.alg, state: 'next' as const, createdAt: key.createdAt })),
      ...(current.previous ?? []).map((key) => ({ kid: key.kid, alg: key.alg, state: 'previous' as const, createdAt: key.createdAt })),
    ];
  };

  return {
    privateJwks: () => ({ keys: jwks.map((jwk) => ({ ...jwk })) }),
    list,
    async stage(at) {
      const keys = state as StoredKeys;
      if (keys.next !== undefined) throw new AppError('oidc.key_state', 'a next key pair is already staged: activate it first', { status: 409 });
      // The JWKS holds two pairs at most: staging ends the previous pair's overlap.
      await save({ current: keys.current, next: generatePair(box, at) }, at);
      return list();
    },
    async activate(at) {
      const keys = state as StoredKeys;
      if (keys.next === undefined) throw new AppError('oidc.key_state', 'no next key pair is staged: stage one first', { status: 409 });
      await save({ current: keys.next, previous: keys.current }, at);
      return list();
    },
    async retire(at) {
      if ((state as StoredKeys).previous === undefined) throw new AppError('oidc.key_state', 'there is no previous key pair to retire', { status: 409 });
      await save({ current: (state as StoredKeys).current, next: (state as StoredKeys).next }, at);
      return list();
    },
  };
}
