/**
 * The behaviour every OidcPayloadStore must have (src/federation/oidc/payload-store.ts): what
 * oidc-provider's adapter relies on — upsert and find per model, expiry on read, the uid and
 * user-code lookups, consumption kept once, a grant's whole family revoked at once, purging —
 * and that another instance on the same storage sees it all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OidcPayloadStore } from '#src/federation/oidc/payload-store.ts';

export interface OidcPayloadStoreHarness {
  store: OidcPayloadStore;
  /** A second store on the same storage through its own connections: another instance. */
  other: () => Promise<{ store: OidcPayloadStore; dispose: () => Promise<void> }>;
  dispose(): Promise<void>;
}

const T0 = Date.parse('2026-05-06T07:08:09.010Z');
const at = (ms: number): Date => new Date(T0 + ms);

export function oidcPayloadStoreContract(factory: () => Promise<OidcPayloadStoreHarness>): void {
  async function withStore(run: (harness: OidcPayloadStoreHarness) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness);
    } finally {
      await harness.dispose();
    }
  }

  void describe('OidcPayloadStore contract', () => {
    void it('stores, replaces and finds payloads per model; another model with the same id is another row', () =>
      withStore(async ({ store }) => {
        await store.upsert('AccessToken', 'x1', { jti: 'x1', grantId: 'g1', accountId: 'u' }, at(60_000));
        await store.upsert('RefreshToken', 'x1', { jti: 'x1', grantId: 'g2' }, null);
        assert.deepEqual((await store.find('AccessToken', 'x1', at(0)))?.payload, { jti: 'x1', grantId: 'g1', accountId: 'u' });
        assert.deepEqual((await store.find('RefreshToken', 'x1', at(0)))?.payload, { jti: 'x1', grantId: 'g2' });
        await store.upsert('AccessToken', 'x1', { jti: 'x1', grantId: 'g1', accountId: 'v' }, at(120_000));
        const found = await store.find('AccessToken', 'x1', at(90_000));
        assert.equal(found?.payload.accountId, 'v');
        assert.equal(found?.expiresAt?.toISOString(), at(120_000).toISOString());
        assert.equal(found?.consumedAt, null);
        assert.equal(await store.find('AccessToken', 'nope', at(0)), undefined);
      }));

    void it('treats an expired payload as absent and purges it later', () =>
      withStore(async ({ store }) => {
        await store.upsert('AuthorizationCode', 'c1', { jti: 'c1' }, at(1000));
        await store.upsert('Session', 's1', { uid: 'u1' }, at(10_000));
        assert.ok(await store.find('AuthorizationCode', 'c1', at(999)));
        assert.equal(await store.find('AuthorizationCode', 'c1', at(1000)), undefined);
        assert.equal(await store.purgeExpired(at(5000)), 1);
        assert.ok(await store.find('Session', 's1', at(5000)));
      }));

    void it('takes expired payloads of one model, oldest first, at most `limit`, each once', () =>
      withStore(async ({ store }) => {
        await store.upsert('Link', 'l1', { uids: ['a'] }, at(3000));
        await store.upsert('Link', 'l2', { uids: ['b'] }, at(1000));
        await store.upsert('Link', 'l3', { uids: ['c'] }, at(2000));
        await store.upsert('Link', 'live', { uids: ['d'] }, at(60_000));
        await store.upsert('Session', 'expired-session', { uid: 'x' }, at(1000));
        const first = await store.takeExpired('Link', at(5000), 2);
        assert.deepEqual(first.map((row) => row.id), ['l2', 'l3']);
        assert.deepEqual(first[0]?.payload, { uids: ['b'] });
        assert.deepEqual((await store.takeExpired('Link', at(5000), 10)).map((row) => row.id), ['l1']);
        assert.deepEqual(await store.takeExpired('Link', at(5000), 10), [], 'taken once');
        assert.ok(await store.find('Link', 'live', at(5000)), 'a live one stays');
        assert.equal(await store.purgeExpired(at(5000)), 1, 'the other model is left to the purge');
      }));

    void it('finds by interaction uid and by user code within the model', () =>
      withStore(async ({ store }) => {
        await store.upsert('Session', 's1', { uid: 'uid-1', accountId: 'a' }, at(60_000));
        await store.upsert('DeviceCode', 'd1', { userCode: 'ABCD-EFGH' }, at(60_000));
        const byUid = await store.findByUid('Session', 'uid-1', at(0));
        assert.equal(byUid?.id, 's1');
        assert.equal(byUid?.payload.accountId, 'a');
        assert.equal(await store.findByUid('Interaction', 'uid-1', at(0)), undefined);
        assert.equal((await store.findByUserCode('DeviceCode', 'ABCD-EFGH', at(0)))?.id, 'd1');
        assert.equal(await store.findByUserCode('DeviceCode', 'ABCD-EFGH', at(60_000)), undefined);
      }));

    void it('marks a payload consumed once: a later consume keeps the first time', () =>
      withStore(async ({ store }) => {
        await store.upsert('AuthorizationCode', 'c1', { jti: 'c1', grantId: 'g' }, at(60_000));
        await store.consume('AuthorizationCode', 'c1', at(1000));
        await store.consume('AuthorizationCode', 'c1', at(2000));
        assert.equal((await store.find('AuthorizationCode', 'c1', at(3000)))?.consumedAt?.toISOString(), at(1000).toISOString());
      }));

    void it('revokes every payload of a grant at once and destroys single ones', () =>
      withStore(async ({ store }) => {
        await store.upsert('AuthorizationCode', 'c1', { grantId: 'g1' }, at(60_000));
        await store.upsert('AccessToken', 'a1', { grantId: 'g1' }, at(60_000));
        await store.upsert('RefreshToken', 'r1', { grantId: 'g1' }, at(60_000));
        await store.upsert('RefreshToken', 'r2', { grantId: 'g2' }, at(60_000));
        assert.equal(await store.revokeByGrantId('g1'), 3);
        assert.equal(await store.find('RefreshToken', 'r1', at(0)), undefined);
        assert.ok(await store.find('RefreshToken', 'r2', at(0)));
        await store.destroy('RefreshToken', 'r2');
        assert.equal(await store.find('RefreshToken', 'r2', at(0)), undefined);
      }));

    void it('is shared: another instance on the same storage sees writes, consumption and revocation', () =>
      withStore(async ({ store, other }) => {
        const second = await other();
        try {
          await store.upsert('RefreshToken', 'r1', { grantId: 'g1', accountId: 'a' }, at(60_000));
          assert.equal((await second.store.find('RefreshToken', 'r1', at(0)))?.payload.accountId, 'a');
          await second.store.consume('RefreshToken', 'r1', at(10));
          assert.ok((await store.find('RefreshToken', 'r1', at(20)))?.consumedAt);
          await second.store.revokeByGrantId('g1');
          assert.equal(await store.find('RefreshToken', 'r1', at(20)), undefined);
        } finally {
          await second.dispose();
        }
      }));
  });
}
