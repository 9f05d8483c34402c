/** The OpenID provider's signing keys: generated once, sealed at rest, rotated with overlap. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSecretBox } from '#src/secrets/index.ts';
import { isAppError } from '#src/shared/errors.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { loadOidcSigningKeys } from './keys.ts';

function memorySettings(): SettingsStore & { values: Map<string, unknown> } {
  const values = new Map<string, unknown>();
  return {
    values,
    get: (name) => Promise.resolve(structuredClone(values.get(name))),
    set: (name, value) => Promise.resolve(void values.set(name, structuredClone(value))),
    remove: (name) => Promise.resolve(values.delete(name)),
  };
}

const at = new Date('2026-06-01T00:00:00Z');

void describe('OIDC signing keys', () => {
  it('generates an ES256 and an RS256 key once, private parts sealed at rest, and loads them again', async () => {
    const settings = memorySettings();
    const box = createSecretBox(randomBytes(32));
    const keys = await loadOidcSigningKeys(settings, box, at);
    const jwks = keys.privateJwks().keys;
    assert.deepEqual(jwks.map((k) => k.alg), ['ES256', 'RS256']);
    assert.ok(jwks.every((k) => typeof k.d === 'string'));
    const stored = JSON.stringify(settings.values.get('oidc_signing_keys'));
    for (const key of jwks) assert.ok(!stored.includes(String(key.d)), 'no private key in the clear');
    const again = await loadOidcSigningKeys(settings, box, at);
    assert.deepEqual(again.privateJwks(), keys.privateJwks());
    // Another instance key cannot open them.
    await assert.rejects(loadOidcSigningKeys(settings, createSecretBox(randomBytes(32)), at));
  });

  it('stages a pair that is published but does not sign, activates it keeping the old pair as previous, then retires that', async () => {
    let changes = 0;
    const keys = await loadOidcSigningKeys(memorySettings(), createSecretBox(randomBytes(32)), at, () => changes++);
    const original = keys.list().map((k) => k.kid);
    await keys.stage(at);
    const staged = keys.list();
    assert.deepEqual(staged.map((k) => k.state), ['current', 'current', 'next', 'next']);
    // The current pair stays first: oidc-provider signs with the first key of an algorithm.
    assert.deepEqual(keys.privateJwks().keys.slice(0, 2).map((k) => k.kid), original);
    await assert.rejects(keys.stage(at), (error) => isAppError(error, 'oidc.key_state'));
    await keys.activate(at);
    const activated = keys.list();
    assert.deepEqual(activated.filter((k) => k.state === 'previous').map((k) => k.kid), original);
    assert.deepEqual(keys.privateJwks().keys.slice(0, 2).map((k) => k.kid), staged.filter((k) => k.state === 'next').map((k) => k.kid));
    await keys.retire(at);
    assert.equal(keys.list().length, 2);
    await assert.rejects(keys.retire(at), (error) => isAppError(error, 'oidc.key_state'));
    await assert.rejects(keys.activate(at), (error) => isAppError(error, 'oidc.key_state'));
    assert.equal(changes, 3);
  });
});
