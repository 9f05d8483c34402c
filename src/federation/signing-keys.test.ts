import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSecretBox } from '#src/secrets/index.ts';
import { generateSelfSignedCertificate } from '#src/shared/certificates.ts';
import { createLocalChangeFeed } from '#src/shared/change-feed.ts';
import { loadSigningKeys } from './signing-keys.ts';

/** The settings store as a map (the real one has its own contract suite). */
function memorySettings() {
  const values = new Map<string, unknown>();
  return {
    values,
    get: (name: string) => Promise.resolve(values.get(name)),
    set: (name: string, value: unknown) => Promise.resolve(void values.set(name, JSON.parse(JSON.stringify(value)))),
    remove: (name: string) => Promise.resolve(values.delete(name)),
    create: (name: string, value: unknown) => Promise.resolve(!values.has(name) && (values.set(name, JSON.parse(JSON.stringify(value))), true)),
    replace: (name: string, expected: unknown, value: unknown) =>
      Promise.resolve(JSON.stringify(values.get(name)) === JSON.stringify(expected) && (values.set(name, JSON.parse(JSON.stringify(value))), true)),
  };
}

describe('IdP signing keys', () => {
  const box = createSecretBox(randomBytes(32));
  const now = new Date();

  it('generates a key at first start, sealed at rest, and loads the same one again', async () => {
    const settings = memorySettings();
    const keys = await loadSigningKeys(settings, box, now);
    assert.match(keys.current().keyPem, /BEGIN PRIVATE KEY/);
    assert.doesNotMatch(JSON.stringify(settings.values.get('saml_signing_keys')), /PRIVATE KEY/, 'the private key is sealed');
    const again = await loadSigningKeys(settings, box, now);
    assert.equal(again.current().certificate, keys.current().certificate);
    assert.deepEqual(keys.list().map((k) => k.state), ['current']);
    assert.equal(keys.published().length, 1);
  });

  it('stage → activate → retire keeps at most two certificates published and signs with the right one', async () => {
    const keys = await loadSigningKeys(memorySettings(), box, now);
    const first = keys.current().certificate;
    await assert.rejects(keys.activate(now), { code: 'saml.key_state' });
    await assert.rejects(keys.retire(now), { code: 'saml.key_state' });
    const next = await keys.stage(null, now);
    assert.equal(keys.current().certificate, first, 'staging does not change what signs');
    assert.deepEqual(keys.published(), [first, next.certificatePem]);
    await assert.rejects(keys.stage(null, now), { code: 'saml.key_state' });
    await keys.activate(now);
    assert.equal(keys.current().certificate, next.certificatePem);
    assert.deepEqual(keys.published(), [next.certificatePem, first]);
    assert.deepEqual(keys.list().map((k) => k.state), ['current', 'previous']);
    await keys.stage(null, now);
    assert.equal(keys.published().length, 2, 'a new stage ends the previous key’s overlap');
    assert.deepEqual(keys.list().map((k) => k.state), ['current', 'next']);
  });

  it('two instances on one store: both start with the same key, and a rotation on one is what the other signs with', async () => {
    const settings = memorySettings();
    const feed = createLocalChangeFeed();
    const [a, b] = await Promise.all([loadSigningKeys(settings, box, now, feed), loadSigningKeys(settings, box, now, feed)]);
    assert.equal(a.current().certificate, b.current().certificate, 'one first key, whoever stored it first');
    const staged = await a.stage(null, now);
    await b.reload();
    assert.deepEqual(b.published(), a.published());
    await b.activate(now);
    await a.reload();
    assert.equal(a.current().certificate, staged.certificatePem);
    assert.equal(b.current().certificate, staged.certificatePem);
  });

  it('a rotation step made on stale state is refused, not lost', async () => {
    const settings = memorySettings();
    const a = await loadSigningKeys(settings, box, now);
    const b = await loadSigningKeys(settings, box, now);
    await a.stage(null, now);
    // b has not heard of the staged key: its stage reads the latest state and refuses.
    await assert.rejects(b.stage(null, now), { code: 'saml.key_state' });
    await b.activate(now);
    assert.equal(b.list().filter((k) => k.state === 'previous').length, 1);
  });

  it('imports an administrator’s key material only when it is RSA, matching and current', async () => {
    const keys = await loadSigningKeys(memorySettings(), box, now);
    const mine = generateSelfSignedCertificate({ commonName: 'mine', altNames: [], validDays: 30 });
    const other = generateSelfSignedCertificate({ commonName: 'other', altNames: [], validDays: 30 });
    await assert.rejects(keys.stage({ keyPem: mine.keyPem, certificatePem: other.certPem }, now), /does not belong to the key/);
    await assert.rejects(keys.stage({ keyPem: 'nope', certificatePem: mine.certPem }, now), /not a PEM private key/);
    await assert.rejects(keys.stage({ keyPem: mine.keyPem, certificatePem: 'nope' }, now), /not a PEM X.509 certificate/);
    await assert.rejects(keys.stage({ keyPem: mine.keyPem, certificatePem: mine.certPem }, new Date(Date.now() + 60 * 86_400_000)), /expired/);
    const staged = await keys.stage({ keyPem: mine.keyPem, certificatePem: mine.certPem }, now);
    assert.equal(staged.state, 'next');
  });
});
