/**
 * The behaviour every DirectoryConnectionStore must have, whatever stores it. A test file calls
 * `directoryConnectionStoreContract` with a factory for its implementation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DirectoryConnectionStore } from '#src/directory/connection-store.ts';
import { withoutPassword } from '#src/directory/connection-store.ts';
import { directoryConnectionOptionsSchema, type DirectoryConnectionOptions } from '#src/directory/options.ts';

export interface DirectoryConnectionStoreHarness {
  store: DirectoryConnectionStore;
  /** Everything the implementation persisted, serialized: used to prove no plaintext password is kept. */
  dumpStorage: () => Promise<string>;
  dispose: () => Promise<void>;
}

export type DirectoryConnectionStoreFactory = (options: { clock: () => Date }) => Promise<DirectoryConnectionStoreHarness>;

const T0 = new Date('2026-01-02T03:04:05.006Z');

export function connectionOptions(overrides: Partial<{ domain: string; password: string; urls: string[] }> = {}): DirectoryConnectionOptions {
  return directoryConnectionOptionsSchema.parse({
    domain: overrides.domain ?? 'corp.example.test',
    urls: overrides.urls ?? ['ldaps://dc1.corp.example.test', 'ldaps://dc2.corp.example.test:636'],
    serviceAccount: { username: 'svc-portico@corp.example.test', password: overrides.password ?? 'Plaintext-Pa55word!' },
    tls: { pinnedSha256: ['ab'.repeat(32)] },
    pageSize: 250,
  });
}

export function directoryConnectionStoreContract(factory: DirectoryConnectionStoreFactory): void {
  async function withStore(run: (harness: DirectoryConnectionStoreHarness, clock: { now: Date }) => Promise<void>): Promise<void> {
    const clock = { now: T0 };
    const harness = await factory({ clock: () => clock.now });
    try {
      await run(harness, clock);
    } finally {
      await harness.dispose();
    }
  }

  void describe('DirectoryConnectionStore contract', () => {
    void it('starts empty: get is undefined, list is empty, remove is false', () =>
      withStore(async ({ store }) => {
        assert.equal(await store.get('corp'), undefined);
        assert.deepEqual(await store.list(), []);
        assert.equal(await store.remove('corp'), false);
      }));

    void it('returns a saved connection with its options and password intact', () =>
      withStore(async ({ store }) => {
        const options = connectionOptions({ password: 'pässwörd with spaces and ✓' });
        const saved = await store.save({ name: 'corp', options });
        assert.equal(saved.name, 'corp');
        assert.deepEqual(saved.options, options);
        assert.ok(saved.id.length > 0);
        assert.deepEqual(saved.createdAt, T0);
        assert.deepEqual(saved.updatedAt, T0);

        const loaded = await store.get('corp');
        assert.deepEqual(loaded, saved);
      }));

    void it('saving an existing name replaces its options and keeps its id and creation time', () =>
      withStore(async ({ store }, clock) => {
        const first = await store.save({ name: 'corp', options: connectionOptions({ password: 'first-password' }) });
        clock.now = new Date(T0.getTime() + 60_000);
        const changed = connectionOptions({ password: 'second-password', urls: ['ldaps://dc3.corp.example.test'] });
        const second = await store.save({ name: 'corp', options: changed });

        assert.equal(second.id, first.id);
        assert.deepEqual(second.createdAt, T0);
        assert.deepEqual(second.updatedAt, clock.now);
        const loaded = await store.get('corp');
        assert.deepEqual(loaded?.options, changed);
        assert.deepEqual(loaded?.createdAt, T0);
        assert.deepEqual(loaded?.updatedAt, clock.now);
        assert.equal((await store.list()).length, 1);
      }));

    void it('keeps each connection with its own password', () =>
      withStore(async ({ store }) => {
        await store.save({ name: 'corp', options: connectionOptions({ password: 'corp-password' }) });
        await store.save({ name: 'lab', options: connectionOptions({ domain: 'lab.example.test', password: 'lab-password' }) });
        assert.equal((await store.get('corp'))?.options.serviceAccount.password, 'corp-password');
        assert.equal((await store.get('lab'))?.options.serviceAccount.password, 'lab-password');
        assert.equal((await store.get('lab'))?.options.domain, 'lab.example.test');
      }));

    void it('lists every connection by name, without passwords', () =>
      withStore(async ({ store }) => {
        const names = ['zeta', 'alpha', 'mid-1', 'mid-0'];
        for (const name of names) await store.save({ name, options: connectionOptions({ password: `${name}-password` }) });

        const listed = await store.list();
        assert.deepEqual(
          listed.map((connection) => connection.name),
          ['alpha', 'mid-0', 'mid-1', 'zeta'],
        );
        for (const summary of listed) {
          assert.deepEqual(summary.options, withoutPassword(connectionOptions()).options);
          assert.doesNotMatch(JSON.stringify(summary), /password/i);
          assert.deepEqual(summary.createdAt, T0);
        }
      }));

    void it('removes a connection by name', () =>
      withStore(async ({ store }) => {
        await store.save({ name: 'corp', options: connectionOptions() });
        await store.save({ name: 'lab', options: connectionOptions() });
        assert.equal(await store.remove('corp'), true);
        assert.equal(await store.get('corp'), undefined);
        assert.equal(await store.remove('corp'), false);
        assert.deepEqual(
          (await store.list()).map((connection) => connection.name),
          ['lab'],
        );
      }));

    void it('never persists the plaintext password, before or after an update', () =>
      withStore(async ({ store, dumpStorage }) => {
        const first = 'First-Secret-7f3a9c';
        const second = 'Second-Secret-0b82e1';
        await store.save({ name: 'corp', options: connectionOptions({ password: first }) });
        let dump = await dumpStorage();
        assert.ok(dump.includes('svc-portico@corp.example.test'), 'the dump must contain the stored rows');
        assert.ok(!dump.includes(first), 'the plaintext password was persisted');

        await store.save({ name: 'corp', options: connectionOptions({ password: second }) });
        dump = await dumpStorage();
        assert.ok(!dump.includes(first) && !dump.includes(second), 'the plaintext password was persisted');
      }));
  });
}
