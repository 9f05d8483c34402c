/**
 * The behaviour every ApplicationCredentialStore must have, whatever stores it. A test file calls
 * `applicationCredentialStoreContract` with a factory for its implementation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApplicationCredentialStore } from '#src/identity-store/application-credentials.ts';
import { isAccessKeyId } from '#src/identity-store/application-credentials.ts';
import { isAppError } from '#src/shared/errors.ts';

export interface ApplicationCredentialStoreHarness {
  store: ApplicationCredentialStore;
  /** Everything the implementation persisted, serialized: used to prove no plaintext secret is kept. */
  dumpStorage: () => Promise<string>;
  dispose: () => Promise<void>;
}

export type ApplicationCredentialStoreFactory = (options: { clock: () => Date }) => Promise<ApplicationCredentialStoreHarness>;

const T0 = new Date('2026-01-02T03:04:05.006Z');

export function applicationCredentialStoreContract(factory: ApplicationCredentialStoreFactory): void {
  async function withStore(run: (harness: ApplicationCredentialStoreHarness, clock: { now: Date }) => Promise<void>): Promise<void> {
    const clock = { now: T0 };
    const harness = await factory({ clock: () => clock.now });
    try {
      await run(harness, clock);
    } finally {
      await harness.dispose();
    }
  }

  void describe('ApplicationCredentialStore contract', () => {
    void it('starts empty: list is empty, no secret, revoke is false', () =>
      withStore(async ({ store }) => {
        assert.deepEqual(await store.list(), []);
        assert.equal(await store.getSecret('PKIAAAAAAAAAAAAAAAAA'), undefined);
        assert.equal(await store.revoke('PKIAAAAAAAAAAAAAAAAA'), false);
      }));

    void it('issues AWS-shaped keys with a Portico prefix and returns the secret only through getSecret', () =>
      withStore(async ({ store }) => {
        const issued = await store.create('  reporting app  ');
        assert.ok(isAccessKeyId(issued.accessKeyId), issued.accessKeyId);
        assert.match(issued.accessKeyId, /^PKIA[A-Z2-7]{16}$/);
        assert.match(issued.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
        assert.equal(issued.name, 'reporting app');
        assert.deepEqual(issued.createdAt, T0);
        assert.equal(issued.lastUsedAt, null);
        assert.equal(issued.revokedAt, null);

        assert.equal(await store.getSecret(issued.accessKeyId), issued.secretAccessKey);
        const listed = await store.list();
        assert.deepEqual(listed, [{ accessKeyId: issued.accessKeyId, name: 'reporting app', createdAt: T0, lastUsedAt: null, revokedAt: null }]);
        assert.ok(!JSON.stringify(listed).includes(issued.secretAccessKey));
      }));

    void it('issues distinct keys and secrets, listed oldest first', () =>
      withStore(async ({ store }, clock) => {
        const first = await store.create('first');
        clock.now = new Date(T0.getTime() + 1_000);
        const second = await store.create('second');
        assert.notEqual(first.accessKeyId, second.accessKeyId);
        assert.notEqual(first.secretAccessKey, second.secretAccessKey);
        assert.deepEqual(
          (await store.list()).map((c) => c.name),
          ['first', 'second'],
        );
        assert.equal(await store.getSecret(second.accessKeyId), second.secretAccessKey);
      }));

    void it('refuses empty, overlong and control-character names', () =>
      withStore(async ({ store }) => {
        for (const name of ['', '   ', 'x'.repeat(129), 'bad\nname']) {
          await assert.rejects(store.create(name), (error) => isAppError(error, 'api.invalid_request'), JSON.stringify(name));
        }
        assert.deepEqual(await store.list(), []);
      }));

    void it('revokes a key for good, leaving the others working', () =>
      withStore(async ({ store }, clock) => {
        const doomed = await store.create('doomed');
        const kept = await store.create('kept');
        clock.now = new Date(T0.getTime() + 60_000);
        assert.equal(await store.revoke(doomed.accessKeyId), true);
        assert.equal(await store.getSecret(doomed.accessKeyId), undefined);
        assert.equal(await store.revoke(doomed.accessKeyId), false);
        assert.equal(await store.getSecret(kept.accessKeyId), kept.secretAccessKey);
        const listed = await store.list();
        assert.deepEqual(listed.find((c) => c.accessKeyId === doomed.accessKeyId)?.revokedAt, clock.now);
        assert.equal(listed.find((c) => c.accessKeyId === kept.accessKeyId)?.revokedAt, null);
      }));

    void it('records when a key was last used', () =>
      withStore(async ({ store }) => {
        const issued = await store.create('app');
        const at = new Date(T0.getTime() + 5 * 60_000);
        await store.markUsed(issued.accessKeyId, at);
        assert.deepEqual((await store.list())[0]?.lastUsedAt, at);
        // Unknown keys are ignored rather than created.
        await store.markUsed('PKIAAAAAAAAAAAAAAAAA', at);
        assert.equal((await store.list()).length, 1);
      }));

    void it('answers malformed access key ids with no secret', () =>
      withStore(async ({ store }) => {
        await store.create('app');
        for (const id of ['', 'AKIAIOSFODNN7EXAMPLE', "PKIA' OR 1=1 --", 'pkia' + 'a'.repeat(16)]) {
          assert.equal(await store.getSecret(id), undefined, id);
        }
      }));

    void it('never persists a secret in plaintext', () =>
      withStore(async ({ store, dumpStorage }) => {
        const issued = await store.create('app');
        const dump = await dumpStorage();
        assert.ok(dump.includes(issued.accessKeyId));
        assert.ok(!dump.includes(issued.secretAccessKey));
      }));
  });
}
