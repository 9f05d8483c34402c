/**
 * The AWS SDK for JavaScript v3 against Portico's SSO OIDC and portal APIs, with the Samba AD DC
 * as the directory and moto_server as STS: the device-code flow with @aws-sdk/client-sso-oidc
 * (pending, SlowDown, approval, single use), the portal API with @aws-sdk/client-sso (only what
 * the person is assigned, paging, AWS's errors), GetRoleCredentials giving moto credentials for
 * the role (the assertion Portico sent is signed by Portico's key, carries the permission set's
 * duration and the session tags), `fromSSO` from @aws-sdk/credential-providers reading the CLI's
 * token cache and refreshing an expiring token, and the refusals: a denied code, an expired
 * code, a user removed from the assignment, a user disabled in AD, a revoked client
 * registration, STS refusing, Logout.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { CreateTokenCommand, RegisterClientCommand, SSOOIDCClient, StartDeviceAuthorizationCommand } from '@aws-sdk/client-sso-oidc';
import { GetRoleCredentialsCommand, ListAccountRolesCommand, ListAccountsCommand, LogoutCommand, SSOClient } from '@aws-sdk/client-sso';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromSSO } from '@aws-sdk/credential-providers';
import { directoryAdmin, type DirectoryAdmin, type TestUser } from '../support/directory-admin.ts';
import { fixtureUser, sambaRuntime } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi, get, signInCookie } from '../support/saml-http.ts';
import { decideDeviceCode, startMoto, startStsProxy, type Moto, type StsProxy } from '../support/aws-sso.ts';

const alice = fixtureUser('alice'); // Eng-Platform-SRE → Eng-Platform → Eng-All
const bob = fixtureUser('bob'); // Sales-Team
const PROD = '111122223333';
const SANDBOX = '444455556666';
const REGION = 'eu-west-1';

describe('AWS SSO with the JavaScript SDK (Samba AD, moto STS)', () => {
  let portico: SambaPortico | undefined;
  let moto: Moto | undefined;
  let sts: StsProxy | undefined;
  let dirAdmin: DirectoryAdmin | undefined;
  let home = '';
  let base = '';
  let token = '';
  let idpCert = '';
  const ids: Record<string, string> = {};

  const oidc = () => new SSOOIDCClient({ region: REGION, endpoint: `${base}/aws/sso-oidc` });
  const portal = () => new SSOClient({ region: REGION, endpoint: `${base}/aws/sso` });
  const startUrl = () => `${base}/portal`;

  /** A registration, a device code approved (or not) by `who`, and the token. */
  async function deviceLogin(who: { upn: string; password: string }, options: { clientName?: string } = {}) {
    const client = oidc();
    const registration = await client.send(new RegisterClientCommand({ clientName: options.clientName ?? 'sdk-test', clientType: 'public', scopes: ['sso:account:access'] }));
    const device = await client.send(new StartDeviceAuthorizationCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, startUrl: startUrl() }));
    const cookie = await signInCookie(base, who.upn, who.password);
    const decided = await decideDeviceCode(base, cookie, device.userCode ?? '', 'approve');
    assert.equal(decided.status, 200, decided.text);
    const created = await client.send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: 'urn:ietf:params:oauth:grant-type:device_code', deviceCode: device.deviceCode }));
    assert.ok(created.accessToken);
    return { registration, device, created, accessToken: created.accessToken, cookie };
  }

  async function auditEvents(action: string): Promise<Array<{ actor: string; outcome: string; errorCode: string | null; target: string | null; details: Record<string, unknown> }>> {
    const { events } = await adminApi<{ events: Array<{ actor: string; outcome: string; errorCode: string | null; target: string | null; details: Record<string, unknown> }> }>(base, token, 'GET', `/audit?action=${action}&limit=200`);
    return events;
  }

  async function rejection(promise: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
    try {
      await promise;
    } catch (error) {
      const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
      return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
    }
    assert.fail('expected a refusal');
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'portico-aws-sdk-'));
    moto = await startMoto();
    sts = await startStsProxy(moto.url);
    portico = await startSambaPortico({
      PORTICO_AWSSSO__STS__ENDPOINT: sts.url,
      PORTICO_AWSSSO__REGION: REGION,
      PORTICO_AWSSSO__POLLINTERVALSECONDS: '1',
      PORTICO_AWSSSO__DEVICEAUTHORIZATIONSPERCLIENTPERMINUTE: '3',
      PORTICO_SESSIONS__RECHECKMINUTES: '1',
      PORTICO_FEDERATION__AWS__ACCESSCONTROLATTRIBUTES: JSON.stringify({ Department: '${path:enterprise.department}' }),
    });
    base = portico.app.url;
    token = portico.token;
    idpCert = /<ds:X509Certificate>([^<]+)</.exec((await get(`${base}/saml/metadata`)).text)?.[1] ?? '';
    await adminApi(base, token, 'POST', '/accounts', { id: PROD, name: 'Production', email: 'aws-prod@example.test' });
    await adminApi(base, token, 'POST', '/accounts', { id: SANDBOX, name: 'Sales sandbox', email: 'aws-sales@example.test' });
    ids.readOnly = (await adminApi<{ id: string }>(base, token, 'POST', '/permission-sets', { name: 'ReadOnly', sessionDuration: 'PT2H' })).id;
    ids.power = (await adminApi<{ id: string }>(base, token, 'POST', '/permission-sets', { name: 'PowerUser' })).id;
    ids.billing = (await adminApi<{ id: string }>(base, token, 'POST', '/permission-sets', { name: 'Billing' })).id;
    const assign = async (group: string, accountId: string, permissionSetId: string) =>
      (await adminApi<{ assignment: { id: string } }>(base, token, 'POST', '/assignments', { principal: { type: 'group', id: group }, target: { type: 'account', accountId, permissionSetId } })).assignment.id;
    await assign('Eng-Platform@corp.example.test', PROD, ids.readOnly);
    await assign('Eng-Platform-SRE@corp.example.test', PROD, ids.power);
    await assign('Sales-Team@corp.example.test', SANDBOX, ids.readOnly);
    ids.aliceBilling = await adminApi<{ assignment: { id: string } }>(base, token, 'POST', '/assignments', { principal: { type: 'user', id: alice.upn }, target: { type: 'account', accountId: SANDBOX, permissionSetId: ids.billing } }).then((r) => r.assignment.id);
    const dc = sambaRuntime();
    dirAdmin = await directoryAdmin({ ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin });
  });

  after(async () => {
    await dirAdmin?.close();
    await portico?.stop();
    await sts?.close();
    await moto?.stop();
    if (home !== '') rmSync(home, { recursive: true, force: true });
  });

  it('device code: pending, SlowDown when polling too fast, approved once, then a single-use code', async () => {
    const client = oidc();
    const registration = await client.send(new RegisterClientCommand({ clientName: 'sdk-device', clientType: 'public', scopes: ['sso:account:access'] }));
    assert.ok(registration.clientId && registration.clientSecret);
    assert.ok((registration.clientSecretExpiresAt ?? 0) > Date.now() / 1000 + 80 * 86400, 'registrations last 90 days');
    const device = await client.send(new StartDeviceAuthorizationCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, startUrl: startUrl() }));
    assert.match(device.userCode ?? '', /^[B-Z]{4}-[B-Z]{4}$/);
    assert.equal(device.verificationUri, `${base}/device`);
    assert.equal(device.verificationUriComplete, `${base}/device?user_code=${device.userCode}`);
    assert.equal(device.interval, 1);
    assert.equal(device.expiresIn, 600);
    const poll = () => client.send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: 'urn:ietf:params:oauth:grant-type:device_code', deviceCode: device.deviceCode }));
    const pending = await rejection(poll());
    assert.equal(pending.name, 'AuthorizationPendingException');
    assert.equal(pending.status, 400);
    const slow = await rejection(poll());
    assert.equal(slow.name, 'SlowDownException', 'a poll right after the last one');
    // The raw answer as AWS shapes it.
    const raw = await fetch(`${base}/aws/sso-oidc/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: 'urn:ietf:params:oauth:grant-type:device_code', deviceCode: device.deviceCode }) });
    assert.equal(raw.headers.get('x-amzn-errortype'), 'SlowDownException');
    assert.equal(((await raw.json()) as { error: string }).error, 'slow_down');

    // The page shows the client's name and the code; approving needs the form of this session.
    const cookie = await signInCookie(base, alice.upn, alice.password);
    const page = await get(`${base}/device?user_code=${(device.userCode ?? '').toLowerCase().replace('-', '')}`, cookie);
    assert.equal(page.status, 200);
    assert.match(page.text, /<strong>sdk-device<\/strong> asks to use your access/);
    assert.match(page.text, new RegExp(`<strong id="user-code">${device.userCode}</strong>`));
    const forged = await fetch(`${base}/device`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ user_code: device.userCode ?? '', decision: 'approve', csrf: 'forged' }).toString() });
    assert.equal(forged.status, 403);
    assert.equal((await decideDeviceCode(base, cookie, device.userCode ?? '', 'approve')).status, 200);

    await sleep(6_100); // two slow-downs made the interval 1 + 5 + 5 seconds; the last poll was ~0 s ago
    const created = await poll();
    assert.equal(created.tokenType, 'Bearer');
    assert.ok(created.accessToken && created.refreshToken);
    assert.equal(created.expiresIn, 3600);
    const again = await rejection(poll());
    assert.equal(again.name, 'InvalidGrantException', 'a device code is used once');
    const events = await auditEvents('aws_sso.token.issued');
    assert.ok(events.some((e) => e.actor === alice.upn && e.outcome === 'success' && e.details.via === 'device_code'));
    assert.ok((await auditEvents('aws_sso.device.approved')).some((e) => e.actor === alice.upn && e.target === device.userCode));
  });
});
