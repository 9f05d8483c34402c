/**
 * The authorization-code grant with PKCE of Portico's SSO OIDC, as AWS CLI ≥ 2.22 uses it by
 * default: RegisterClient with grantTypes and a loopback redirect URI (@aws-sdk/client-sso-oidc),
 * the authorize endpoint in headless Chromium (Portico's normal sign-in against the Samba AD DC,
 * then the consent page), the browser sent back to a throwaway loopback HTTP server that records
 * `code` and `state`, CreateToken with the code and the verifier, ListAccounts with the token
 * (@aws-sdk/client-sso), and the refusals: a wrong verifier, a wrong redirect URI, a code from
 * another client, a reused code (which revokes the tokens it gave), a denied consent, an expired
 * code (Portico's clock moved), a redirect URI that was not registered (an error page, nothing
 * sent to it), a missing challenge, a non-loopback redirect URI at registration; and with an MFA
 * policy, the consent page only after the second step (a TOTP enrolment, codes from oathtool).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page, BrowserContext } from 'playwright-core';
import { CreateTokenCommand, RegisterClientCommand, SSOOIDCClient } from '@aws-sdk/client-sso-oidc';
import { ListAccountsCommand, SSOClient } from '@aws-sdk/client-sso';
import { fixtureUser } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi } from '../support/saml-http.ts';
import { launchBrowser, openPage, saveScreenshot } from '../support/browser.ts';

const alice = fixtureUser('alice'); // Eng-Platform-SRE → Eng-Platform → Eng-All
const PROD = '123456789012';
const REGION = 'eu-west-1';
const AUTH_CODE = 'authorization_code';

/** The loopback listener a CLI opens: records every callback's query and answers a short page. */
async function startCallbackServer(): Promise<{ server: Server; port: number; received: URLSearchParams[] }> {
  const received: URLSearchParams[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/oauth/callback') received.push(url.searchParams);
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>done</title><p>Back in the terminal.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, received };
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

describe('AWS SSO authorization code with PKCE (JS SDK, Chromium, Samba AD)', () => {
  let portico: SambaPortico | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let callback: Awaited<ReturnType<typeof startCallbackServer>> | undefined;
  let base = '';
  let token = '';
  let clockOffsetMs = 0;
  let signedIn = false;

  const oidc = () => new SSOOIDCClient({ region: REGION, endpoint: `${base}/aws/sso-oidc` });
  const portal = () => new SSOClient({ region: REGION, endpoint: `${base}/aws/sso` });
  const redirectUri = () => `http://127.0.0.1:${callback?.port}/oauth/callback`;

  async function register(name: string) {
    // What botocore registers: the port-less loopback URI (RFC 8252 lets the port vary).
    return oidc().send(
      new RegisterClientCommand({ clientName: name, clientType: 'public', scopes: ['sso:account:access'], grantTypes: [AUTH_CODE, 'refresh_token'], redirectUris: ['http://127.0.0.1/oauth/callback'], issuerUrl: `${base}/portal` }),
    );
  }

  /** Opens the authorize URL, signs in when asked, answers the consent page; the callback's query. */
  async function authorize(clientId: string, decision: 'Allow' | 'Deny', overrides: Record<string, string> = {}) {
    assert.ok(page && callback);
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('hex');
    const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri(), state, code_challenge: s256(verifier), code_challenge_method: 'S256', scopes: 'sso:account:access', ...overrides });
    const before = callback.received.length;
    await page.goto(`${base}/aws/sso-oidc/authorize?${query.toString()}`);
    if (!signedIn) {
      await page.getByLabel('User name').fill(alice.upn);
      await page.getByLabel('Password').fill(alice.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      signedIn = true;
    }
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await page.getByRole('button', { name: decision }).click();
    await page.waitForURL((url) => url.port === String(callback?.port));
    assert.equal(callback.received.length, before + 1, 'the browser came back to the loopback listener once');
    const back = callback.received[before];
    assert.ok(back);
    assert.equal(back.get('state'), state, 'state comes back unchanged');
    return { back, verifier, code: back.get('code') ?? '' };
  }

  async function rejection(promise: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
    try {
      await promise;
    } catch (error) {
      // SSO OIDC exceptions carry AWS's `error_description`; the portal's carry `message`.
      const e = error as { name: string; message: string; error_description?: string; $metadata?: { httpStatusCode?: number } };
      return { name: e.name, message: e.error_description ?? e.message, status: e.$metadata?.httpStatusCode };
    }
    assert.fail('expected a refusal');
  }

  async function auditEvents(action: string) {
    const { events } = await adminApi<{ events: Array<{ actor: string; outcome: string; target: string | null; details: Record<string, unknown> }> }>(base, token, 'GET', `/audit?action=${action}&limit=100`);
    return events;
  }

  before(async () => {
    callback = await startCallbackServer();
    portico = await startSambaPortico({ PORTICO_AWSSSO__REGION: REGION }, { clock: () => new Date(Date.now() + clockOffsetMs) });
    base = portico.app.url;
    token = portico.token;
    await adminApi(base, token, 'POST', '/accounts', { id: PROD, name: 'Production', email: 'aws-prod@example.test' });
    const readOnly = (await adminApi<{ id: string }>(base, token, 'POST', '/permission-sets', { name: 'ReadOnly' })).id;
    await adminApi(base, token, 'POST', '/assignments', { principal: { type: 'group', id: 'Eng-Platform@corp.example.test' }, target: { type: 'account', accountId: PROD, permissionSetId: readOnly } });
    browser = await launchBrowser();
    ({ context, page } = await openPage(browser, { width: 1000, height: 800 }));
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await portico?.stop();
    await new Promise((resolve) => callback?.server.close(resolve));
  });

  it('signs in, asks consent, returns code and state; CreateToken with the verifier; ListAccounts and refresh work', async () => {
    const registration = await register('botocore-client-portico');
    assert.ok(registration.clientId && registration.clientSecret);
    const { back, verifier, code } = await authorize(registration.clientId, 'Allow');
    assert.match(code, /^pac_[A-Za-z0-9_-]{43}$/);
    assert.equal(back.get('error'), null);
    const created = await oidc().send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: AUTH_CODE, code, redirectUri: redirectUri(), codeVerifier: verifier }));
    assert.ok(created.accessToken && created.refreshToken);
    assert.equal(created.tokenType, 'Bearer');
    const accounts = await portal().send(new ListAccountsCommand({ accessToken: created.accessToken }));
    assert.deepEqual(accounts.accountList?.map((a) => [a.accountId, a.accountName]), [[PROD, 'Production']]);
    const refreshed = await oidc().send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: 'refresh_token', refreshToken: created.refreshToken }));
    assert.ok(refreshed.accessToken && refreshed.accessToken !== created.accessToken);
    assert.equal((await portal().send(new ListAccountsCommand({ accessToken: refreshed.accessToken }))).accountList?.length, 1);

    const approved = (await auditEvents('aws_sso.authorize.approved')).filter((e) => e.target === registration.clientId);
    assert.equal(approved.length, 1);
    assert.equal(approved[0]?.actor, alice.upn);
    const issued = (await auditEvents('aws_sso.token.issued')).filter((e) => e.target === registration.clientId && e.details.via === AUTH_CODE);
    assert.equal(issued.length, 1, 'the token issued for the code is audited');
  });

  it('refuses a wrong verifier, another redirect URI, another port, another client; a reused code revokes its tokens', async () => {
    const registration = await register('botocore-client-negative');
    const other = await register('botocore-client-other');
    const { verifier, code } = await authorize(registration.clientId ?? '', 'Allow');
    const exchange = (input: { clientId?: string; clientSecret?: string; redirectUri?: string; codeVerifier?: string }) =>
      oidc().send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: AUTH_CODE, code, redirectUri: redirectUri(), codeVerifier: verifier, ...input }));

    const wrongVerifier = await rejection(exchange({ codeVerifier: randomBytes(32).toString('base64url') }));
    assert.deepEqual([wrongVerifier.name, wrongVerifier.status], ['InvalidGrantException', 400]);
    assert.match(wrongVerifier.message, /codeVerifier/);
    const plainVerifier = await rejection(exchange({ codeVerifier: s256(verifier) }));
    assert.equal(plainVerifier.name, 'InvalidGrantException', 'the challenge itself is not a verifier (no plain method)');
    const wrongPath = await rejection(exchange({ redirectUri: `http://127.0.0.1:${callback?.port}/elsewhere` }));
    assert.equal(wrongPath.name, 'InvalidGrantException');
    assert.match(wrongPath.message, /redirectUri/);
    const wrongPort = await rejection(exchange({ redirectUri: `http://127.0.0.1:${(callback?.port ?? 0) + 1}/oauth/callback` }));
    assert.equal(wrongPort.name, 'InvalidGrantException', 'the code is bound to the exact URI, port included');
    const otherClient = await rejection(exchange({ clientId: other.clientId, clientSecret: other.clientSecret }));
    assert.equal(otherClient.name, 'InvalidGrantException', 'a code is bound to its client');
    const wrongSecret = await rejection(exchange({ clientSecret: other.clientSecret }));
    assert.deepEqual([wrongSecret.name, wrongSecret.status], ['InvalidClientException', 401]);

    // The failed attempts did not use the code up.
    const created = await exchange({});
    assert.ok(created.accessToken);
    assert.equal((await portal().send(new ListAccountsCommand({ accessToken: created.accessToken }))).accountList?.length, 1);
    const reused = await rejection(exchange({}));
    assert.equal(reused.name, 'InvalidGrantException');
    assert.match(reused.message, /already used/);
    const revoked = await rejection(portal().send(new ListAccountsCommand({ accessToken: created.accessToken })));
    assert.deepEqual([revoked.name, revoked.status], ['UnauthorizedException', 401], 'the tokens issued for a reused code are revoked');
    const refresh = await rejection(oidc().send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: 'refresh_token', refreshToken: created.refreshToken })));
    assert.equal(refresh.name, 'InvalidGrantException');
    const reuseEvents = (await auditEvents('aws_sso.authorization_code.reused')).filter((e) => e.target === registration.clientId);
    assert.equal(reuseEvents.length, 1);
    assert.equal(reuseEvents[0]?.details.grantRevoked, true);
  });

  it('a denied consent sends access_denied and the state; an expired code is refused', async () => {
    const registration = await register('botocore-client-deny');
    const denied = await authorize(registration.clientId ?? '', 'Deny');
    assert.equal(denied.back.get('error'), 'access_denied');
    assert.equal(denied.code, '', 'no code for a denied request');
    assert.equal((await auditEvents('aws_sso.authorize.denied')).filter((e) => e.target === registration.clientId).length, 1);

    const { verifier, code } = await authorize(registration.clientId ?? '', 'Allow');
    clockOffsetMs = 5 * 60_000 + 1000;
    try {
      const expired = await rejection(oidc().send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: AUTH_CODE, code, redirectUri: redirectUri(), codeVerifier: verifier })));
      assert.equal(expired.name, 'InvalidGrantException');
      assert.match(expired.message, /expired/);
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('refuses bad requests: unregistered redirect URI (error page, nothing sent), no PKCE, non-loopback registration, unknown grant type', async () => {
    assert.ok(page && callback);
    const registration = await register('botocore-client-bad');
    const received = callback.received.length;
    const query = (overrides: Record<string, string>) =>
      new URLSearchParams({ response_type: 'code', client_id: registration.clientId ?? '', redirect_uri: redirectUri(), state: 's1', code_challenge: s256(randomBytes(32).toString('base64url')), code_challenge_method: 'S256', ...overrides }).toString();

    const foreign = await page.goto(`${base}/aws/sso-oidc/authorize?${query({ redirect_uri: 'http://127.0.0.1:9/evil' })}`);
    assert.equal(foreign?.status(), 400);
    assert.match(await page.locator('body').innerText(), /did not register/);
    const unknownClient = await page.goto(`${base}/aws/sso-oidc/authorize?${query({ client_id: 'no-such-client' })}`);
    assert.equal(unknownClient?.status(), 400);
    assert.equal(callback.received.length, received, 'nothing reached the loopback listener');
    await saveScreenshot(page, 'aws-sso-pkce-refused');

    await page.goto(`${base}/aws/sso-oidc/authorize?${query({ code_challenge_method: 'plain' })}`);
    await page.waitForURL((url) => url.port === String(callback?.port));
    const noPkce = callback.received.at(-1);
    assert.deepEqual([noPkce?.get('error'), noPkce?.get('state'), noPkce?.get('code')], ['invalid_request', 's1', null]);

    const deviceOnly = await oidc().send(new RegisterClientCommand({ clientName: 'device-only', clientType: 'public' }));
    assert.equal((await page.goto(`${base}/aws/sso-oidc/authorize?${query({ client_id: deviceOnly.clientId ?? '' })}`))?.status(), 400, 'a client without redirect URIs gets the error page');

    const remote = await rejection(oidc().send(new RegisterClientCommand({ clientName: 'remote', clientType: 'public', grantTypes: [AUTH_CODE], redirectUris: ['https://attacker.example/cb'] })));
    assert.deepEqual([remote.name, remote.status], ['InvalidRedirectUriException', 400]);
    const noUris = await rejection(oidc().send(new RegisterClientCommand({ clientName: 'no-uris', clientType: 'public', grantTypes: [AUTH_CODE] })));
    assert.equal(noUris.name, 'InvalidRedirectUriException');
    const oddGrant = await rejection(oidc().send(new RegisterClientCommand({ clientName: 'odd', clientType: 'public', grantTypes: ['password'] })));
    assert.equal(oddGrant.name, 'InvalidClientMetadataException');
    assert.ok((await auditEvents('aws_sso.authorize.refused')).length >= 3, 'refused authorize requests are audited');
  });

  it('with MFA required, the consent page comes only after the second step', async () => {
    assert.ok(browser && callback);
    const policy = await fetch(`${base}/admin/api/mfa/policy`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'always', withoutDevice: 'register-at-sign-in' }) });
    assert.equal(policy.status, 200, await policy.text());
    const registration = await register('botocore-client-mfa');
    const fresh = await openPage(browser, { width: 1000, height: 800 });
    try {
      const verifier = randomBytes(32).toString('base64url');
      const query = new URLSearchParams({ response_type: 'code', client_id: registration.clientId ?? '', redirect_uri: redirectUri(), state: 'mfa-state', code_challenge: s256(verifier), code_challenge_method: 'S256', scopes: 'sso:account:access' });
      const authorizeUrl = `${base}/aws/sso-oidc/authorize?${query.toString()}`;
      const signIn = async () => {
        await fresh.page.getByLabel('User name').fill(alice.upn);
        await fresh.page.getByLabel('Password').fill(alice.password);
        await Promise.all([fresh.page.waitForURL((u) => u.pathname === '/mfa/enrol'), fresh.page.getByRole('button', { name: 'Sign in' }).click()]);
      };
      await fresh.page.goto(authorizeUrl);
      await signIn();
      // A session still owing its second step does not reach the consent page: it is sent to sign in.
      await fresh.page.goto(authorizeUrl);
      assert.equal(new URL(fresh.page.url()).pathname, '/sign-in');
      assert.equal(await fresh.page.getByRole('heading', { name: 'Allow access?' }).count(), 0);
      await signIn();
      const secret = (await fresh.page.locator('#totp-secret').innerText()).replace(/\s/g, '');
      await fresh.page.getByLabel('Code from the app').fill(execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim());
      await fresh.page.getByRole('button', { name: 'Register', exact: true }).click();
      await fresh.page.locator('#recovery-codes').waitFor();
      await fresh.page.locator('#continue').click();
      await fresh.page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      const before = callback.received.length;
      await fresh.page.getByRole('button', { name: 'Allow' }).click();
      await fresh.page.waitForURL((url) => url.port === String(callback?.port));
      const back = callback.received[before];
      assert.equal(back?.get('state'), 'mfa-state');
      const created = await oidc().send(new CreateTokenCommand({ clientId: registration.clientId, clientSecret: registration.clientSecret, grantType: AUTH_CODE, code: back?.get('code') ?? '', redirectUri: redirectUri(), codeVerifier: verifier }));
      assert.equal((await portal().send(new ListAccountsCommand({ accessToken: created.accessToken }))).accountList?.length, 1);
    } catch (error) {
      await saveScreenshot(fresh.page, 'aws-sso-pkce-mfa-failure');
      throw new Error(`at ${fresh.page.url()}: ${String(error)}`);
    } finally {
      await fresh.context.close();
    }
  });
});
