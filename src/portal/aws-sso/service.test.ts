/**
 * The SSO service's own rules, with an in-memory store and fakes for the evaluation, the
 * federation service and STS: user codes, paging, the poll interval (SlowDown and its growth),
 * single use, refresh rotation, the directory re-check, and what is audited. The real peers (the
 * AWS CLI, the SDK, Samba, moto) are in test/portal/aws-sso-*.test.ts.
 */
// In-memory fakes of async ports: their methods are async without awaiting anything.
/* eslint-disable @typescript-eslint/require-await */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEventInput } from '#src/audit/audit-log.ts';
import type { AuditLog } from '#src/audit/index.ts';
import { awsSsoOptionsSchema } from '#src/config/aws-sso-options.ts';
import type { Session } from '#src/sessions/session-store.ts';
import { isAppError } from '#src/shared/errors.ts';
import { createHash } from 'node:crypto';
import { createAwsSsoService, DEVICE_CODE_GRANT, normaliseUserCode } from './service.ts';
import type { AuthorizationCode, AwsSsoStore, DeviceCode, SsoClient, SsoGrant } from './store.ts';

function memoryStore(): AwsSsoStore {
  const clients = new Map<string, SsoClient>();
  const codes = new Map<string, DeviceCode>();
  const grants = new Map<string, SsoGrant>();
  const authorizationCodes = new Map<string, AuthorizationCode>();
  return {
    createAuthorizationCode: async (c) => void authorizationCodes.set(c.codeHash, { ...c }),
    findAuthorizationCode: async (hash) => authorizationCodes.get(hash),
    redeemAuthorizationCode: async (hash, at, grantId) => {
      const c = authorizationCodes.get(hash);
      if (c === undefined || c.redeemedAt !== null) return false;
      Object.assign(c, { redeemedAt: at, grantId });
      return true;
    },
    createClient: async (c) => void clients.set(c.clientId, { ...c }),
    getClient: async (id) => clients.get(id),
    revokeClient: async (id, at) => {
      const c = clients.get(id);
      if (c === undefined || c.revokedAt !== null) return false;
      c.revokedAt = at;
      return true;
    },
    listClients: async () => [...clients.values()],
    countClientsRegisteredSince: async (address, since) => [...clients.values()].filter((c) => c.registeredFrom === address && c.registeredAt >= since).length,
    createDeviceCode: async (code) => void codes.set(code.deviceCodeHash, { ...code }),
    findDeviceCode: async (hash) => codes.get(hash),
    findDeviceCodeByUserCode: async (userCode) => [...codes.values()].find((c) => c.userCode === userCode),
    countDeviceCodesSince: async (clientId, since) => [...codes.values()].filter((c) => c.clientId === clientId && c.createdAt >= since).length,
    recordPoll: async (hash, at, interval) => {
      const c = codes.get(hash);
      if (c) Object.assign(c, { lastPolledAt: at, intervalSeconds: interval });
    },
    decideDeviceCode: async (userCode, decision, at) => {
      const c = [...codes.values()].find((x) => x.userCode === userCode);
      if (c === undefined || c.status !== 'pending' || c.expiresAt <= at) return false;
      Object.assign(c, { status: decision.status, decidedAt: at, principal: decision.status === 'approved' ? decision.principal : null });
      return true;
    },
    redeemDeviceCode: async (hash) => {
      const c = codes.get(hash);
      if (c?.status !== 'approved') return false;
      c.status = 'redeemed';
      return true;
    },
    createGrant: async (g) => void grants.set(g.id, { ...g }),
    findGrantByAccessToken: async (hash) => [...grants.values()].find((g) => g.accessTokenHash === hash),
    findGrantByRefreshToken: async (hash) => [...grants.values()].find((g) => g.refreshTokenHash === hash),
    rotateGrant: async (id, from, next) => {
      const g = grants.get(id);
      if (g?.refreshTokenHash !== from || g.revokedAt !== null) return false;
      Object.assign(g, next);
      return true;
    },
    markGrantChecked: async (id, at) => {
      const g = grants.get(id);
      if (g) g.checkedAt = at;
    },
    revokeGrant: async (id, at) => {
      const g = grants.get(id);
      if (g === undefined || g.revokedAt !== null) return false;
      g.revokedAt = at;
      return true;
    },
    revokeGrantsOfUser: async (guid, at) => {
      let n = 0;
      for (const g of grants.values()) {
        if (g.principal.userGuid === guid && g.revokedAt === null) {
          g.revokedAt = at;
          n += 1;
        }
      }
      return n;
    },
    revokeGrantsOfClient: async () => 0,
    purge: async () => 0,
  };
}

const session: Session = {
  id: 's1',
  userId: 'u1',
  userGuid: 'g-alice',
  createdAt: new Date('2026-01-01T00:00:00Z'),
  expiresAt: new Date('2026-01-01T08:00:00Z'),
  checkedAt: new Date('2026-01-01T00:00:00Z'),
  revokedAt: null,
  data: { userName: 'alice@corp.example.test', displayName: 'Alice', groups: [], groupsTruncated: false, csrfSecret: 'x', clientAddress: null, userAgent: null },
};

function harness() {
  let now = new Date('2026-01-01T00:00:10Z');
  const events: AuditEventInput[] = [];
  let verdict: 'allowed' | 'gone' | 'disabled' | 'unknown' = 'allowed';
  const audit = { record: async (event: AuditEventInput) => void events.push(event) } as unknown as AuditLog;
  const entitlements = {
    accounts: [
      { account: { id: '111', name: 'B' }, permissionSets: [{ permissionSet: { id: 'ps-ro', name: 'ReadOnly' } }] },
      { account: { id: '222', name: 'A' }, permissionSets: [] },
      { account: { id: '333', name: 'C' }, permissionSets: [] },
    ],
  };
  const service = createAwsSsoService({
    store: memoryStore(),
    audit,
    options: awsSsoOptionsSchema.parse({ pollIntervalSeconds: 5 }),
    baseUrl: () => 'https://sso.example.test',
    sessionAccess: { forSession: async () => ({ entitlements, groups: [], groupsTruncated: false, groupsReadAt: now }) as never },
    access: { listAccounts: async () => [] },
    signInToAccount: async (_s, accountId) => ({ account: { id: accountId, name: 'B' }, permissionSet: { name: 'ReadOnly' }, signIn: { roleArn: `arn:aws:iam::${accountId}:role/ReadOnly`, providerArn: 'p', durationSeconds: 3600 }, assertionBase64: 'PHNhbWw+' }),
    assumeRoleWithSaml: async () => ({ accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST', expiration: new Date(now.getTime() + 3600_000), assumedRoleArn: 'arn' }),
    userStillAllowed: async () => verdict,
    grantDurationMs: 8 * 3600_000,
    recheckMs: 5 * 60_000,
    clock: () => now,
  });
  return {
    service,
    events,
    advance: (ms: number) => (now = new Date(now.getTime() + ms)),
    setVerdict: (v: typeof verdict) => (verdict = v),
  };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return isAppError(error) ? error.code : String(error);
  }
  return 'ok';
}

async function loggedIn(h: ReturnType<typeof harness>) {
  const client = await h.service.registerClient({ clientName: 'cli', clientType: 'public', scopes: ['sso:account:access'] }, '192.0.2.1');
  const device = await h.service.startDeviceAuthorization({ ...client, startUrl: 'https://sso.example.test/portal' });
  assert.deepEqual(await h.service.decide(session, device.userCode, true), { ok: true });
  const token = await h.service.createToken({ ...client, grantType: DEVICE_CODE_GRANT, deviceCode: device.deviceCode });
  return { client, device, token };
}

void describe('AWS SSO service', () => {
  void it('reads user codes however they are typed, and nothing else', () => {
    assert.equal(normaliseUserCode(' bcdf ghjk '), 'BCDF-GHJK');
    assert.equal(normaliseUserCode('BCDF-GHJK'), 'BCDF-GHJK');
    assert.equal(normaliseUserCode('ABCD-EFGH'), null, 'vowels are never issued');
    assert.equal(normaliseUserCode('BCDF-GHJ'), null);
  });

  void it('slow-down: a poll inside the interval is refused and the interval grows by 5 seconds', async () => {
    const h = harness();
    const client = await h.service.registerClient({ clientName: 'cli', clientType: 'public' }, '192.0.2.1');
    const device = await h.service.startDeviceAuthorization({ ...client, startUrl: 'https://sso.example.test/portal' });
    assert.match(device.userCode, /^[B-Z]{4}-[B-Z]{4}$/);
    const poll = () => h.service.createToken({ ...client, grantType: DEVICE_CODE_GRANT, deviceCode: device.deviceCode });
    assert.equal(await code(poll()), 'aws_sso.authorization_pending');
    h.advance(4_000);
    assert.equal(await code(poll()), 'aws_sso.slow_down');
    h.advance(9_000);
    assert.equal(await code(poll()), 'aws_sso.slow_down', 'the interval is now 10 seconds');
    h.advance(15_000);
    assert.equal(await code(poll()), 'aws_sso.authorization_pending');
    h.advance(10 * 60_000);
    assert.equal(await code(poll()), 'aws_sso.expired_token');
    assert.equal(h.events.filter((e) => e.errorCode === 'aws_sso.slow_down').length, 2, 'slow-downs are audited, pending polls are not');
  });

  void it('a device code is redeemed once; a refresh token is used once; the directory is asked at refresh', async () => {
    const h = harness();
    const { client, device, token } = await loggedIn(h);
    assert.equal(token.expiresIn, 3600);
    assert.match(token.accessToken, /^pat_/);
    assert.equal(await code(h.service.createToken({ ...client, grantType: DEVICE_CODE_GRANT, deviceCode: device.deviceCode })), 'aws_sso.invalid_grant');
    const refreshed = await h.service.createToken({ ...client, grantType: 'refresh_token', refreshToken: token.refreshToken });
    assert.equal(await code(h.service.createToken({ ...client, grantType: 'refresh_token', refreshToken: token.refreshToken })), 'aws_sso.invalid_grant');
    assert.equal(await code(h.service.listAccounts(token.accessToken, {})), 'aws_sso.unauthorized', 'the old access token is replaced');
    h.setVerdict('gone');
    assert.equal(await code(h.service.createToken({ ...client, grantType: 'refresh_token', refreshToken: refreshed.refreshToken })), 'aws_sso.invalid_grant');
    assert.equal(await code(h.service.listAccounts(refreshed.accessToken, {})), 'aws_sso.unauthorized', 'every grant of a gone user is revoked');
  });

  void it('lists accounts by name with paging, and refuses a role not assigned', async () => {
    const h = harness();
    const { token } = await loggedIn(h);
    const first = await h.service.listAccounts(token.accessToken, { maxResults: '2' });
    assert.deepEqual(first.accountList.map((a) => a.accountName), ['A', 'B']);
    const rest = await h.service.listAccounts(token.accessToken, { maxResults: '2', ...(first.nextToken ? { nextToken: first.nextToken } : {}) });
    assert.deepEqual(rest.accountList.map((a) => a.accountName), ['C']);
    assert.equal(rest.nextToken, undefined);
    assert.equal(await code(h.service.listAccounts(token.accessToken, { maxResults: '101' })), 'aws_sso.invalid_request');
    assert.equal(await code(h.service.listAccounts(token.accessToken, { nextToken: 'garbage' })), 'aws_sso.invalid_request');
    assert.equal((await h.service.getRoleCredentials(token.accessToken, '111', 'ReadOnly')).accessKeyId, 'AK');
    assert.equal(await code(h.service.getRoleCredentials(token.accessToken, '222', 'ReadOnly')), 'access.not_assigned');
    // The directory re-check: within the interval no question, after it the verdict counts.
    h.setVerdict('disabled');
    assert.equal((await h.service.listAccounts(token.accessToken, {})).accountList.length, 3);
    h.advance(5 * 60_000);
    assert.equal(await code(h.service.listAccounts(token.accessToken, {})), 'aws_sso.unauthorized');
  });

  void it('authorization code with PKCE: checks the request, issues a 5-minute code bound to client, redirect URI and verifier; reuse revokes', async () => {
    const h = harness();
    const client = await h.service.registerClient({ clientName: 'botocore-client-x', clientType: 'public', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['http://127.0.0.1/oauth/callback'] }, '192.0.2.1');
    const verifier = 'v'.repeat(43);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const redirectUri = 'http://127.0.0.1:50000/oauth/callback';
    const query = { response_type: 'code', client_id: client.clientId, redirect_uri: redirectUri, state: 'st', code_challenge: challenge, code_challenge_method: 'S256', scopes: 'sso:account:access' };
    assert.equal((await h.service.checkAuthorize({ ...query, redirect_uri: 'http://127.0.0.1:50000/other' }, 'x')).kind, 'page');
    const plain = await h.service.checkAuthorize({ ...query, code_challenge_method: 'plain' }, 'x');
    assert.equal(plain.kind === 'redirect' && new URL(plain.location).searchParams.get('error'), 'invalid_request');
    const checked = await h.service.checkAuthorize(query, 'x');
    assert.ok(checked.kind === 'ask');
    const denied = new URL(await h.service.decideAuthorize(session, checked.request, false));
    assert.deepEqual([denied.searchParams.get('error'), denied.searchParams.get('state'), denied.searchParams.get('code')], ['access_denied', 'st', null]);
    const approved = new URL(await h.service.decideAuthorize(session, checked.request, true));
    assert.equal(`${approved.origin}${approved.pathname}`, redirectUri);
    const authCode = approved.searchParams.get('code') ?? '';
    const exchange = (input: Record<string, unknown> = {}) => h.service.createToken({ ...client, grantType: 'authorization_code', code: authCode, redirectUri, codeVerifier: verifier, ...input });
    assert.equal(await code(exchange({ codeVerifier: 'w'.repeat(43) })), 'aws_sso.invalid_grant');
    assert.equal(await code(exchange({ redirectUri: 'http://127.0.0.1:50001/oauth/callback' })), 'aws_sso.invalid_grant');
    const token = await exchange();
    assert.equal((await h.service.listAccounts(token.accessToken, {})).accountList.length, 3);
    assert.equal(await code(exchange()), 'aws_sso.invalid_grant');
    assert.equal(await code(h.service.listAccounts(token.accessToken, {})), 'aws_sso.unauthorized', 'reuse revokes what the code gave');

    const again = await h.service.checkAuthorize(query, 'x');
    assert.ok(again.kind === 'ask');
    const late = new URL(await h.service.decideAuthorize(session, again.request, true)).searchParams.get('code');
    h.advance(5 * 60_000);
    assert.equal(await code(h.service.createToken({ ...client, grantType: 'authorization_code', code: late, redirectUri, codeVerifier: verifier })), 'aws_sso.invalid_grant', 'expired after 5 minutes');
    assert.equal(await code(h.service.registerClient({ clientName: 'x', clientType: 'public', grantTypes: ['authorization_code'], redirectUris: ['http://localhost/cb'] }, '192.0.2.1')), 'aws_sso.invalid_redirect_uri');
  });
});
