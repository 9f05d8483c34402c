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
// moto's default account: moto 5.2 files a SAML-assumed role under the calling (default) account
// while GetCallerIdentity looks in the role's account, so only here do the two meet.
const PROD = '123456789012';
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
  /** Portico's clock runs this far ahead of the real one (directory re-checks without waiting). */
  let clockOffsetMs = 0;
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
    }, { clock: () => new Date(Date.now() + clockOffsetMs) });
    base = portico.app.url;
    token = portico.token;
    idpCert = /<ds:X509Certificate>([^<]+)</.exec((await get(`${base}/saml/metadata`)).text)?.[1] ?? '';
    // The default table maps no department (the session tag's source).
    const { table } = await adminApi<{ table: Record<string, string> }>(base, token, 'GET', '/mappings');
    await adminApi(base, token, 'PUT', '/mappings', { table: { ...table, middleName: '${dir:initials|""}', department: '${department}' } });
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

  it('the portal API: only what the person is assigned, with paging; GetRoleCredentials gives moto credentials for the role from a signed assertion', async () => {
    const { accessToken } = await deviceLogin(alice);
    const sso = portal();
    const accounts = await sso.send(new ListAccountsCommand({ accessToken }));
    assert.deepEqual(accounts.accountList, [
      { accountId: PROD, accountName: 'Production', emailAddress: 'aws-prod@example.test' },
      { accountId: SANDBOX, accountName: 'Sales sandbox', emailAddress: 'aws-sales@example.test' },
    ]);
    const first = await sso.send(new ListAccountsCommand({ accessToken, maxResults: 1 }));
    assert.equal(first.accountList?.length, 1);
    assert.ok(first.nextToken);
    const second = await sso.send(new ListAccountsCommand({ accessToken, maxResults: 1, nextToken: first.nextToken }));
    assert.deepEqual(second.accountList?.map((a) => a.accountId), [SANDBOX]);
    assert.equal(second.nextToken, undefined);
    const roles = await sso.send(new ListAccountRolesCommand({ accessToken, accountId: PROD }));
    assert.deepEqual(roles.roleList, [{ roleName: 'PowerUser', accountId: PROD }, { roleName: 'ReadOnly', accountId: PROD }]);
    // alice reaches the sandbox only through her own Billing assignment, not Sales-Team's ReadOnly.
    assert.deepEqual((await sso.send(new ListAccountRolesCommand({ accessToken, accountId: SANDBOX }))).roleList, [{ roleName: 'Billing', accountId: SANDBOX }]);

    const before = Date.now();
    const { roleCredentials } = await sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: PROD, roleName: 'ReadOnly' }));
    assert.ok(roleCredentials?.accessKeyId && roleCredentials.secretAccessKey && roleCredentials.sessionToken);
    // Epoch milliseconds, two hours (the permission set's duration) ahead.
    const expiration = roleCredentials.expiration ?? 0;
    assert.ok(Math.abs(expiration - (before + 2 * 3600_000)) < 60_000, `expiration ${expiration}`);
    const caller = await new STSClient({ region: 'us-east-1', endpoint: moto?.url, credentials: { accessKeyId: roleCredentials.accessKeyId, secretAccessKey: roleCredentials.secretAccessKey, sessionToken: roleCredentials.sessionToken } }).send(new GetCallerIdentityCommand({}));
    assert.equal(caller.Arn, `arn:aws:sts::${PROD}:assumed-role/ReadOnly/${alice.upn}`);

    // moto does not check the signature: check it here, with Portico's published certificate.
    const assertion = sts?.assertions.at(-1) ?? '';
    const aws = new SAML({ callbackUrl: 'https://signin.aws.amazon.com/saml', issuer: 'urn:amazon:webservices', audience: 'urn:amazon:webservices', idpCert, idpIssuer: `${base}/saml/metadata`, wantAssertionsSigned: true, wantAuthnResponseSigned: false, validateInResponseTo: ValidateInResponseTo.never });
    const { profile } = await aws.validatePostResponseAsync({ SAMLResponse: assertion });
    const attribute = (name: string) => profile?.[`https://aws.amazon.com/SAML/Attributes/${name}`];
    assert.equal(attribute('Role'), `arn:aws:iam::${PROD}:role/ReadOnly,arn:aws:iam::${PROD}:saml-provider/Portico`);
    assert.equal(attribute('SessionDuration'), '7200');
    assert.equal(attribute('PrincipalTag:Department'), 'Engineering');
    const tampered = Buffer.from(Buffer.from(assertion, 'base64').toString('utf8').replace('ReadOnly,', 'Admin,')).toString('base64');
    await assert.rejects(aws.validatePostResponseAsync({ SAMLResponse: tampered }), 'a changed assertion fails the signature check');

    // Not assigned: AWS's ForbiddenException, audited.
    const refused = await rejection(sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: SANDBOX, roleName: 'ReadOnly' })));
    assert.equal(refused.name, 'ForbiddenException');
    assert.equal(refused.status, 403);
    const events = await auditEvents('aws_sso.credentials.issued');
    assert.ok(events.some((e) => e.actor === alice.upn && e.outcome === 'success' && e.target === PROD));
    assert.ok(events.some((e) => e.actor === alice.upn && e.outcome === 'failure' && e.errorCode === 'access.not_assigned' && e.target === SANDBOX));
  });

  it('fromSSO reads the token cache the CLI writes, refreshes an expiring token, and gets the role credentials', async () => {
    const { registration, created } = await deviceLogin(alice, { clientName: 'botocore-client-portico' });
    const configFile = join(home, 'config');
    writeFileSync(configFile, `[profile prod]\nsso_session = portico\nsso_account_id = ${PROD}\nsso_role_name = PowerUser\nregion = ${REGION}\n\n[sso-session portico]\nsso_start_url = ${startUrl()}\nsso_region = ${REGION}\nsso_registration_scopes = sso:account:access\n`);
    const cacheDir = join(home, '.aws', 'sso', 'cache');
    mkdirSync(cacheDir, { recursive: true });
    const cacheFile = join(cacheDir, `${createHash('sha1').update('portico').digest('hex')}.json`);
    // Expiring in a minute: the SDK refreshes it first (its window is five minutes).
    writeFileSync(cacheFile, JSON.stringify({
      startUrl: startUrl(), region: REGION, accessToken: created.accessToken, expiresAt: new Date(Date.now() + 60_000).toISOString(),
      clientId: registration.clientId, clientSecret: registration.clientSecret, registrationExpiresAt: new Date((registration.clientSecretExpiresAt ?? 0) * 1000).toISOString(), refreshToken: created.refreshToken,
    }));
    const saved = { HOME: process.env.HOME, AWS_CONFIG_FILE: process.env.AWS_CONFIG_FILE, SSO: process.env.AWS_ENDPOINT_URL_SSO, OIDC: process.env.AWS_ENDPOINT_URL_SSO_OIDC };
    process.env.HOME = home;
    process.env.AWS_CONFIG_FILE = configFile;
    // The endpoint variables of current SDKs (and CLIs from 2.13): the two path prefixes.
    process.env.AWS_ENDPOINT_URL_SSO = `${base}/aws/sso`;
    process.env.AWS_ENDPOINT_URL_SSO_OIDC = `${base}/aws/sso-oidc`;
    try {
      const credentials = await fromSSO({ profile: 'prod', ignoreCache: true })();
      const caller = await new STSClient({ region: 'us-east-1', endpoint: moto?.url, credentials }).send(new GetCallerIdentityCommand({}));
      assert.equal(caller.Arn, `arn:aws:sts::${PROD}:assumed-role/PowerUser/${alice.upn}`);
      const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { accessToken: string; refreshToken: string; expiresAt: string };
      assert.notEqual(cached.accessToken, created.accessToken, 'the SDK refreshed the token and saved it');
      assert.notEqual(cached.refreshToken, created.refreshToken, 'refresh tokens rotate');
      assert.ok(Date.parse(cached.expiresAt) > Date.now() + 50 * 60_000);
      const old = await rejection(portal().send(new ListAccountsCommand({ accessToken: created.accessToken })));
      assert.equal(old.name, 'UnauthorizedException', 'the replaced access token no longer works');
      const reused = await rejection(oidc().send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: 'refresh_token', refreshToken: created.refreshToken })));
      assert.equal(reused.name, 'InvalidGrantException', 'a refresh token is used once');
      assert.ok(readdirSync(cacheDir).length >= 1);
    } finally {
      for (const [key, value] of Object.entries({ HOME: saved.HOME, AWS_CONFIG_FILE: saved.AWS_CONFIG_FILE, AWS_ENDPOINT_URL_SSO: saved.SSO, AWS_ENDPOINT_URL_SSO_OIDC: saved.OIDC })) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('refusals: a denied code, an expired or unknown code, too many device authorizations, Logout', async () => {
    const client = oidc();
    const registration = await client.send(new RegisterClientCommand({ clientName: 'sdk-refusals', clientType: 'public' }));
    const start = () => client.send(new StartDeviceAuthorizationCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, startUrl: startUrl() }));
    const device = await start();
    const cookie = await signInCookie(base, bob.upn, bob.password);
    const denied = await decideDeviceCode(base, cookie, device.userCode ?? '', 'deny');
    assert.match(denied.text, /Request denied/);
    const poll = await rejection(client.send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: 'urn:ietf:params:oauth:grant-type:device_code', deviceCode: device.deviceCode })));
    assert.equal(poll.name, 'AccessDeniedException');
    const reuse = await decideDeviceCode(base, cookie, device.userCode ?? '', 'approve');
    assert.equal(reuse.status, 400, 'a decided code cannot be approved afterwards');
    assert.match(reuse.text, /already used/);
    assert.ok((await auditEvents('aws_sso.device.denied')).some((e) => e.actor === bob.upn && e.outcome === 'success'));

    // The third device authorization in a minute for this client (the limit is 3 here), then a fourth.
    await start();
    await start();
    const limited = await rejection(start());
    assert.equal(limited.name, 'SlowDownException');

    const wrongSecret = await rejection(client.send(new StartDeviceAuthorizationCommand({ clientId: registration.clientId, clientSecret: 'not-the-secret', startUrl: startUrl() })));
    assert.equal(wrongSecret.name, 'InvalidClientException');
    assert.equal(wrongSecret.status, 401);
    const elsewhere = await rejection(client.send(new StartDeviceAuthorizationCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, startUrl: 'https://example.awsapps.com/start' })));
    assert.equal(elsewhere.name, 'InvalidRequestException');
    const unknownCode = await get(`${base}/device?user_code=BBBB-BBBB`, cookie);
    assert.equal(unknownCode.status, 400);
    assert.match(unknownCode.text, /no request with this code/);
    const badScope = await rejection(client.send(new RegisterClientCommand({ clientName: 'x', clientType: 'public', scopes: ['openid', 'sso:account:access'] })));
    assert.equal(badScope.name, 'InvalidScopeException');

    // Logout: the token stops working at once.
    const { accessToken } = await deviceLogin(bob);
    const sso = portal();
    assert.equal((await sso.send(new ListAccountsCommand({ accessToken }))).accountList?.length, 1);
    await sso.send(new LogoutCommand({ accessToken }));
    const after = await rejection(sso.send(new ListAccountsCommand({ accessToken })));
    assert.equal(after.name, 'UnauthorizedException');
    assert.equal(after.status, 401);
    assert.ok((await auditEvents('aws_sso.token.revoked')).some((e) => e.actor === bob.upn && e.details.reason === 'logout'));
  });

  it('a user removed from the assignment is refused at once; STS refusing is shown as STS words it', async () => {
    const { accessToken } = await deviceLogin(alice);
    const sso = portal();
    await sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: SANDBOX, roleName: 'Billing' }));
    await adminApi(base, token, 'DELETE', `/assignments/${ids.aliceBilling}`, undefined, 204);
    const removed = await rejection(sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: SANDBOX, roleName: 'Billing' })));
    assert.equal(removed.name, 'ForbiddenException');
    assert.deepEqual((await sso.send(new ListAccountsCommand({ accessToken }))).accountList?.map((a) => a.accountId), [PROD]);

    assert.ok(sts);
    sts.refuseWith = { status: 403, code: 'AccessDenied', message: 'Not authorized to perform sts:AssumeRoleWithSAML' };
    try {
      const refused = await rejection(sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: PROD, roleName: 'ReadOnly' })));
      assert.equal(refused.name, 'AccessDenied');
      assert.equal(refused.status, 403);
      assert.match(refused.message, /Not authorized to perform sts:AssumeRoleWithSAML/);
      // The portal's command-line page shows it too.
      const cookie = await signInCookie(base, alice.upn, alice.password);
      const page = await get(`${base}/portal/accounts/${PROD}/${ids.readOnly}/cli`, cookie);
      assert.equal(page.status, 200);
      assert.match(page.text, /Portico could not get credentials for this role: STS refused AssumeRoleWithSAML: Not authorized/);
    } finally {
      sts.refuseWith = null;
    }
    const events = await auditEvents('aws_sso.credentials.issued');
    assert.ok(events.some((e) => e.outcome === 'failure' && e.errorCode === 'federation.sts_refused' && e.details.stsCode === 'AccessDenied'));
  });

  it('a revoked client registration ends its tokens and refreshes', async () => {
    const { accessToken, registration, created } = await deviceLogin(bob, { clientName: 'to-be-revoked' });
    const { clients } = await adminApi<{ clients: Array<{ clientId: string; name: string }> }>(base, token, 'GET', '/aws-sso/clients');
    assert.ok(clients.some((c) => c.clientId === registration.clientId && c.name === 'to-be-revoked'));
    assert.ok(!JSON.stringify(clients).includes(registration.clientSecret ?? '-'), 'no secret (nor its hash) is listed');
    await adminApi(base, token, 'DELETE', `/aws-sso/clients/${registration.clientId}`, undefined, 204);
    const refused = await rejection(portal().send(new ListAccountsCommand({ accessToken })));
    assert.equal(refused.name, 'UnauthorizedException');
    const refresh = await rejection(oidc().send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: 'refresh_token', refreshToken: created.refreshToken })));
    assert.equal(refresh.name, 'InvalidClientException');
    assert.ok((await auditEvents('aws_sso.client.revoked')).some((e) => e.target === registration.clientId && e.outcome === 'success'));
  });

  // Last: it moves Portico's clock forward.
  it('a user disabled in AD is refused at the next check, and cannot refresh', async () => {
    assert.ok(dirAdmin);
    const sam = `sso-${Date.now().toString(36)}`;
    const user: TestUser = await dirAdmin.createUser(sam, { displayName: 'SSO Tester', givenName: 'SSO', sn: 'Tester', department: 'Engineering' });
    try {
      const directGrant = await adminApi<{ assignment: { id: string } }>(base, token, 'POST', '/assignments', { principal: { type: 'user', id: user.upn }, target: { type: 'account', accountId: PROD, permissionSetId: ids.readOnly } });
      const { accessToken, registration, created } = await deviceLogin(user);
      const deviceLoginToken = Promise.resolve(created.refreshToken);
      const sso = portal();
      assert.equal((await sso.send(new ListAccountsCommand({ accessToken }))).accountList?.length, 1);
      await dirAdmin.replace(user.dn, 'userAccountControl', '514');
      // Still within the re-check interval (one minute here): the token works until the next check.
      assert.equal((await sso.send(new ListAccountsCommand({ accessToken }))).accountList?.length, 1);
      clockOffsetMs += 2 * 60_000;
      const refused = await rejection(sso.send(new ListAccountsCommand({ accessToken })));
      assert.equal(refused.name, 'UnauthorizedException');
      assert.ok((await auditEvents('aws_sso.token.revoked')).some((e) => e.details.reason === 'user_disabled' && e.details.userName === user.upn));
      const refresh = await rejection(oidc().send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: 'refresh_token', refreshToken: (await deviceLoginToken) ?? '' })));
      assert.equal(refresh.name, 'InvalidGrantException');
      await adminApi(base, token, 'DELETE', `/assignments/${directGrant.assignment.id}`, undefined, 204);
    } finally {
      await dirAdmin.delete(user.dn);
    }
  });
});
