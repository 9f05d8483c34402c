/**
 * The OpenID provider's signing keys: one ES256 (the default for ID tokens) and one RS256 key
 * (for relying parties that only do RSA), generated at first start and kept in the settings
 * store with the private parts sealed under the instance key.
 *
 * Rotation keeps an overlap: `rotate` makes a new pair current (it signs from then on) and keeps
 * the old pair published in the JWKS as `previous`, so tokens signed before the rotation still
 * verify; `retire` removes the previous pair once those tokens have expired. The JWKS lists the
 * current pair first (oidc-provider signs with the first key of an algorithm).
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
  previous?: StoredKey[] | undefined;
}

export interface OidcKeyView {
  kid: string;
  alg: OidcSigningAlgorithm;
  state: 'current' | 'previous';
  createdAt: string;
}

export interface OidcSigningKeys {
  /** Private JWKs for oidc-provider's `jwks`: current pair first, then the previous one. */
  privateJwks(): { keys: JsonWebKey[] };
  list(): OidcKeyView[];
  /** A new current pair; the old current pair stays published as previous (any older previous leaves). */
  rotate(at: Date): Promise<OidcKeyView[]>;
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
    return [...keys.current, ...(keys.previous ?? [])].map((key) => {
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
      ...(current.previous ?? []).map((key) => ({ kid: key.kid, alg: key.alg, state: 'previous' as const, createdAt: key.createdAt })),
    ];
  };

  return {
    privateJwks: () => ({ keys: jwks.map((jwk) => ({ ...jwk })) }),
    list,
    async rotate(at) {
      await save({ current: generatePair(box, at), previous: (state as StoredKeys).current }, at);
      return list();
    },
    async retire(at) {
      if ((state as StoredKeys).previous === undefined) throw new AppError('oidc.no_previous_key', 'there is no previous key pair to retire', { status: 409 });
      await save({ current: (state as StoredKeys).current }, at);
      return list();
    },
  };
}
