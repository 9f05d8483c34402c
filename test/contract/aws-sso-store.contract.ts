/**
 * The behaviour every AwsSsoStore must have: registrations, device codes and grants round-trip;
 * the once-only transitions (deciding a code, redeeming it, rotating a refresh token) succeed
 * for one caller only, also when a second instance on the same database races; revocations;
 * counts for the rate limits; purge. The stored rows hold no secret in the clear.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { AuthorizationCode, AwsSsoStore, DeviceCode, SsoClient, SsoGrant, SsoPrincipal } from '#src/portal/aws-sso/store.ts';

export interface AwsSsoStoreHarness {
  store: AwsSsoStore;
  /** The same database through another connection pool (another instance). */
  other: () => Promise<{ store: AwsSsoStore; dispose: () => Promise<void> }>;
  dumpStorage: () => Promise<string>;
  dispose: () => Promise<void>;
}

const T0 = new Date('2026-05-06T07:08:09.010Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const hash = (secret: string) => createHash('sha256').update(secret).digest('base64url');

const principal: SsoPrincipal = {
  userId: 'u-1',
  userGuid: '6f1c2a52-0c1e-4b8e-9a57-6a3f0f1e2d01',
  userName: 'alice@corp.example.test',
  displayName: 'Alice',
  groups: [{ guid: 'a1b2c3d4-0000-4000-8000-000000000001', qualifiedName: 'Eng@corp.example.test' }],
  groupsTruncated: false,
  signedInAt: at(-60_000),
};

const client = (id: string, overrides: Partial<SsoClient> = {}): SsoClient => ({
  clientId: id,
  secretHash: hash(`secret-${id}`),
  name: `botocore-client-${id}`,
  scopes: ['sso:account:access'],
  registeredAt: T0,
  expiresAt: at(90 * 86_400_000),
  revokedAt: null,
  registeredFrom: '192.0.2.10',
  grantTypes: [],
  redirectUris: [],
  issuerUrl: null,
  ...overrides,
});

const authorizationCode = (secret: string, overrides: Partial<AuthorizationCode> = {}): AuthorizationCode => ({
  codeHash: hash(secret),
  clientId: 'c1',
  redirectUri: 'http://127.0.0.1:53127/oauth/callback',
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  scopes: ['sso:account:access'],
  principal,
  createdAt: T0,
  expiresAt: at(300_000),
  redeemedAt: null,
  grantId: null,
  ...overrides,
});

const deviceCode = (secret: string, userCode: string, overrides: Partial<DeviceCode> = {}): DeviceCode => ({
  deviceCodeHash: hash(secret),
  userCode,
  clientId: 'c1',
  startUrl: 'https://portico.example.test/portal',
  createdAt: T0,
  expiresAt: at(600_000),
  intervalSeconds: 5,
  lastPolledAt: null,
  status: 'pending',
  decidedAt: null,
  principal: null,
  ...overrides,
});

const grant = (id: string, overrides: Partial<SsoGrant> = {}): SsoGrant => ({
  id,
  clientId: 'c1',
  accessTokenHash: hash(`access-${id}`),
  accessExpiresAt: at(3_600_000),
  refreshTokenHash: hash(`refresh-${id}`),
  expiresAt: at(8 * 3_600_000),
  scopes: ['sso:account:access'],
  principal,
  createdAt: T0,
  checkedAt: T0,
  revokedAt: null,
  ...overrides,
});

export function awsSsoStoreContract(factory: () => Promise<AwsSsoStoreHarness>): void {
  async function withStore(run: (harness: AwsSsoStoreHarness) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness);
    } finally {
      await harness.dispose();
    }
  }

  void describe('AwsSsoStore', () => {
    void it('keeps registrations; revokes once; counts per address; lists live ones only', () =>
      withStore(async ({ store }) => {
        await store.createClient(client('c1'));
        await store.createClient(client('c2', { registeredAt: at(30_000) }));
        await store.createClient(client('c3', { registeredFrom: '198.51.100.7', expiresAt: at(1000) }));
        assert.deepEqual(await store.getClient('c1'), client('c1'));
        assert.equal(await store.getClient('nope'), undefined);
        assert.equal(await store.countClientsRegisteredSince('192.0.2.10', at(10_000)), 1);
        assert.equal(await store.countClientsRegisteredSince('192.0.2.10', T0), 2);
        assert.equal(await store.revokeClient('c2', at(60_000)), true);
        assert.equal(await store.revokeClient('c2', at(70_000)), false, 'already revoked');
        assert.deepEqual((await store.getClient('c2'))?.revokedAt, at(60_000));
        assert.deepEqual((await store.listClients(at(2000))).map((c) => c.clientId), ['c1'], 'revoked and expired ones are not listed');
      }));

    void it('device codes: found by hash and by user code; polls recorded; decided and redeemed once, also across instances', () =>
      withStore(async ({ store, other }) => {
        await store.createDeviceCode(deviceCode('dc-1', 'BCDF-GHJK'));
        await store.createDeviceCode(deviceCode('dc-2', 'LMNP-QRST', { createdAt: at(30_000) }));
        assert.deepEqual(await store.findDeviceCode(hash('dc-1')), deviceCode('dc-1', 'BCDF-GHJK'));
        assert.equal((await store.findDeviceCodeByUserCode('LMNP-QRST'))?.deviceCodeHash, hash('dc-2'));
        assert.equal(await store.countDeviceCodesSince('c1', at(10_000)), 1);
        await store.recordPoll(hash('dc-1'), at(5000), 10);
        const polled = await store.findDeviceCode(hash('dc-1'));
        assert.deepEqual([polled?.lastPolledAt, polled?.intervalSeconds], [at(5000), 10]);

        const second = await other();
        try {
          const decisions = await Promise.all([
            store.decideDeviceCode('BCDF-GHJK', { status: 'approved', principal }, at(6000)),
            second.store.decideDeviceCode('BCDF-GHJK', { status: 'denied' }, at(6000)),
          ]);
          assert.equal(decisions.filter(Boolean).length, 1, 'one decision wins');
          await store.decideDeviceCode('LMNP-QRST', { status: 'approved', principal }, at(6000));
          const redeemed = await Promise.all([store.redeemDeviceCode(hash('dc-2'), at(7000)), second.store.redeemDeviceCode(hash('dc-2'), at(7000))]);
          assert.deepEqual(redeemed.sort(), [false, true], 'one redemption wins');
        } finally {
          await second.dispose();
        }
        const approved = await store.findDeviceCode(hash('dc-2'));
        assert.equal(approved?.status, 'redeemed');
        assert.deepEqual(approved?.principal, principal);
        assert.equal(await store.decideDeviceCode('LMNP-QRST', { status: 'denied' }, at(8000)), false, 'no decision after redemption');
        await store.createDeviceCode(deviceCode('dc-3', 'VWXZ-BCDF', { expiresAt: at(1000) }));
        assert.equal(await store.decideDeviceCode('VWXZ-BCDF', { status: 'approved', principal }, at(2000)), false, 'an expired code cannot be approved');
      }));

    void it('registrations keep grant types, redirect URIs and issuer; authorization codes are redeemed once, also across instances', () =>
      withStore(async ({ store, other }) => {
        const pkceClient = client('c9', { grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['http://127.0.0.1/oauth/callback'], issuerUrl: 'https://portico.example.test/portal' });
        await store.createClient(pkceClient);
        assert.deepEqual(await store.getClient('c9'), pkceClient);
        await store.createAuthorizationCode(authorizationCode('ac-1'));
        assert.deepEqual(await store.findAuthorizationCode(hash('ac-1')), authorizationCode('ac-1'));
        assert.equal(await store.findAuthorizationCode(hash('nope')), undefined);
        const second = await other();
        try {
          const redeemed = await Promise.all([store.redeemAuthorizationCode(hash('ac-1'), at(1000), 'g-a'), second.store.redeemAuthorizationCode(hash('ac-1'), at(1000), 'g-b')]);
          assert.deepEqual([...redeemed].sort(), [false, true], 'one redemption wins');
          const after = await store.findAuthorizationCode(hash('ac-1'));
          assert.deepEqual(after?.redeemedAt, at(1000));
          assert.equal(after?.grantId, redeemed[0] ? 'g-a' : 'g-b', 'the winner names its grant');
        } finally {
          await second.dispose();
        }
        assert.equal(await store.redeemAuthorizationCode(hash('ac-1'), at(2000), 'g-c'), false, 'never twice');
      }));

    void it('grants: found by either token; rotation once; revocation per grant, user and client; checks move forward only', () =>
      withStore(async ({ store, other }) => {
        await store.createGrant(grant('g1'));
        await store.createGrant(grant('g2', { clientId: 'c2' }));
        await store.createGrant(grant('g3', { principal: { ...principal, userGuid: '0d9b1c4e-2f3a-4c5d-8e6f-7a8b9c0d1e02' } }));
        assert.deepEqual(await store.findGrantByAccessToken(hash('access-g1')), grant('g1'));
        assert.equal((await store.findGrantByRefreshToken(hash('refresh-g2')))?.id, 'g2');
        const next = { accessTokenHash: hash('access-g1b'), accessExpiresAt: at(7_200_000), refreshTokenHash: hash('refresh-g1b') };
        const second = await other();
        try {
          const rotated = await Promise.all([
            store.rotateGrant('g1', hash('refresh-g1'), next),
            second.store.rotateGrant('g1', hash('refresh-g1'), { accessTokenHash: hash('x'), accessExpiresAt: at(1), refreshTokenHash: hash('y') }),
          ]);
          assert.deepEqual(rotated.sort(), [false, true], 'one rotation wins');
        } finally {
          await second.dispose();
        }
        const after = await store.findGrantByRefreshToken((await store.findGrantByAccessToken(hash('access-g1b'))) === undefined ? hash('y') : hash('refresh-g1b'));
        assert.ok(after);
        assert.equal(await store.findGrantByAccessToken(hash('access-g1')), undefined, 'the old access token is gone');
        await store.markGrantChecked('g1', at(60_000));
        await store.markGrantChecked('g1', at(30_000));
        assert.deepEqual((await store.findGrantByAccessToken(after.accessTokenHash))?.checkedAt, at(60_000));
        assert.equal(await store.revokeGrantsOfUser(principal.userGuid, at(90_000)), 2, 'g1 and g2 (same user)');
        assert.equal(await store.revokeGrant('g1', at(91_000)), false, 'already revoked');
        assert.equal(await store.revokeGrantsOfClient('c1', at(92_000)), 1, 'g3 only: g1 was revoked already');
        assert.equal(await store.rotateGrant('g3', hash('refresh-g3'), next), false, 'a revoked grant does not rotate');
      }));

    void it('purges what ended before the cut-off, and stores no secret in the clear', () =>
      withStore(async ({ store, dumpStorage }) => {
        await store.createClient(client('old', { expiresAt: at(1000) }));
        await store.createClient(client('live'));
        await store.createDeviceCode(deviceCode('dc-old', 'BBBB-CCCC', { expiresAt: at(1000) }));
        await store.createGrant(grant('old', { expiresAt: at(1000) }));
        await store.createGrant(grant('live'));
        await store.createAuthorizationCode(authorizationCode('ac-old', { expiresAt: at(1000) }));
        await store.createAuthorizationCode(authorizationCode('ac-live'));
        const dump = await dumpStorage();
        for (const secret of ['secret-live', 'dc-old', 'access-live', 'refresh-live', 'ac-live']) assert.ok(!dump.includes(secret), `${secret} is stored hashed only`);
        assert.equal(await store.purge(at(2000)), 4);
        assert.equal(await store.findAuthorizationCode(hash('ac-old')), undefined);
        assert.ok(await store.findAuthorizationCode(hash('ac-live')));
        assert.ok(await store.getClient('live'));
        assert.equal(await store.getClient('old'), undefined);
        assert.ok(await store.findGrantByAccessToken(hash('access-live')));
      }));
  });
}
