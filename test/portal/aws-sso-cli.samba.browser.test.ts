/**
 * `aws sso login` with the unmodified AWS CLI v2 (Debian's /usr/bin/aws 2.9) against Portico,
 * the Samba AD DC as the directory and moto_server as STS. Endpoint rule sets under
 * AWS_DATA_PATH send the CLI's SSO OIDC and portal calls to Portico's two path prefixes and its
 * STS calls to moto. `aws sso login --no-browser` prints the verification URL; headless Chromium
 * opens it, signs in as a fixture user and allows the request; then the CLI gets credentials for
 * the profile's role (get-caller-identity shows the assumed role, the assertion Portico sent is
 * signed by its key), lists accounts and roles, exports credentials, refreshes its short-lived
 * token, and logs out (the token stops working). The portal's command-line page shows working
 * credentials with copy buttons. Nothing touches ~/.aws: HOME and the config files are a temp dir.
 */
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage, saveScreenshot } from '../support/browser.ts';
import { fixtureUser } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi, get } from '../support/saml-http.ts';
import { startMoto, startStsProxy, writeEndpointRuleSets, type Moto, type StsProxy } from '../support/aws-sso.ts';

const AWS = '/usr/bin/aws';
const alice = fixtureUser('alice'); // Eng-Platform-SRE → Eng-Platform → Eng-All
// moto's default account (see aws-sso-sdk.samba.integration.test.ts).
const PROD = '123456789012';
const REGION = 'eu-central-1';
const run = promisify(execFile);

describe('aws sso login with the AWS CLI v2 and Chromium (Samba AD, moto STS)', () => {
  let portico: SambaPortico | undefined;
  let moto: Moto | undefined;
  let sts: StsProxy | undefined;
  let browser: Browser | undefined;
  let home = '';
  let base = '';
  let idpCert = '';
  let readOnlyId = '';
  let env: Record<string, string> = {};
  const cacheFile = () => join(home, '.aws', 'sso', 'cache', `${createHash('sha1').update('portico').digest('hex')}.json`);
  const cachedToken = () => JSON.parse(readFileSync(cacheFile(), 'utf8')) as { accessToken: string; refreshToken?: string; expiresAt: string };

  async function aws(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await run(AWS, args, { env, timeout: 60_000 });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; code?: number };
      return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
    }
  }

  before(async () => {
    assert.ok(existsSync(AWS), `the AWS CLI v2 is missing at ${AWS} (Debian package awscli)`);
    home = mkdtempSync(join(tmpdir(), 'portico-aws-cli-'));
    moto = await startMoto();
    sts = await startStsProxy(moto.url);
    portico = await startSambaPortico({
      PORTICO_AWSSSO__STS__ENDPOINT: sts.url,
      PORTICO_AWSSSO__REGION: REGION,
      PORTICO_AWSSSO__POLLINTERVALSECONDS: '1',
      // Below the CLI's 15-minute refresh window: every command after the login refreshes the token first.
      PORTICO_AWSSSO__ACCESSTOKENMINUTES: '10',
    });
    base = portico.app.url;
    const { token } = portico;
    idpCert = /<ds:X509Certificate>([^<]+)</.exec((await get(`${base}/saml/metadata`)).text)?.[1] ?? '';
    const { table } = await adminApi<{ table: Record<string, string> }>(base, token, 'GET', '/mappings');
    await adminApi(base, token, 'PUT', '/mappings', { table: { ...table, middleName: '${dir:initials|""}' } });
    await adminApi(base, token, 'POST', '/accounts', { id: PROD, name: 'Production', email: 'aws-prod@example.test' });
    readOnlyId = (await adminApi<{ id: string }>(base, token, 'POST', '/permission-sets', { name: 'ReadOnly', sessionDuration: 'PT3H' })).id;
    const power = (await adminApi<{ id: string }>(base, token, 'POST', '/permission-sets', { name: 'PowerUser' })).id;
    await adminApi(base, token, 'POST', '/assignments', { principal: { type: 'group', id: 'Eng-Platform@corp.example.test' }, target: { type: 'account', accountId: PROD, permissionSetId: readOnlyId } });
    await adminApi(base, token, 'POST', '/assignments', { principal: { type: 'group', id: 'Eng-Platform-SRE@corp.example.test' }, target: { type: 'account', accountId: PROD, permissionSetId: power } });

    const dataPath = join(home, 'aws-data');
    writeEndpointRuleSets(dataPath, { 'sso-oidc/2019-06-10': `${base}/aws/sso-oidc`, 'sso/2019-06-10': `${base}/aws/sso`, 'sts/2011-06-15': moto.url });
    const config = join(home, 'config');
    writeFileSync(
      config,
      `[profile prod]\nsso_session = portico\nsso_account_id = ${PROD}\nsso_role_name = ReadOnly\nregion = ${REGION}\noutput = json\n\n[sso-session portico]\nsso_start_url = ${base}/portal\nsso_region = ${REGION}\nsso_registration_scopes = sso:account:access\n`,
    );
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_DATA_PATH: dataPath,
      AWS_PAGER: '',
      NO_PROXY: '127.0.0.1',
      LANG: 'C.UTF-8',
    };
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await portico?.stop();
    await sts?.close();
    await moto?.stop();
    if (home !== '') rmSync(home, { recursive: true, force: true });
  });

  it('aws sso login --no-browser: Chromium signs in and allows; the CLI then gets the role credentials', async () => {
    assert.ok(browser);
    const login = spawn(AWS, ['sso', 'login', '--profile', 'prod', '--no-browser'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    login.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    login.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number>((resolve) => login.once('exit', (code) => resolve(code ?? 1)));
    try {
      const deadline = Date.now() + 30_000;
      let url: string | undefined;
      while (url === undefined && Date.now() < deadline) {
        url = /(http:\/\/\S+\/device\?user_code=\S+)/.exec(output)?.[1];
        if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(url, `the CLI printed no verification URL: ${output}`);
      const userCode = /\n([B-Z]{4}-[B-Z]{4})\n/.exec(output)?.[1];
      assert.ok(userCode, output);
      assert.ok(output.includes(`${base}/device\n`), 'the verification URI without the code is printed too');

      const { context, page, problems } = await openPage(browser, { width: 1280, height: 800 });
      await page.goto(url);
      await page.waitForURL((target) => target.pathname === '/sign-in');
      await page.getByLabel('User name').fill(alice.upn);
      await page.getByLabel('Password').fill(alice.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((target) => target.pathname === '/device');
      assert.equal(await page.locator('#user-code').innerText(), userCode);
      assert.match(await page.locator('main').innerText(), /botocore-client-portico asks to use your access to AWS accounts as alice@corp\.example\.test/);
      await saveScreenshot(page, 'aws-sso-device-confirm');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByRole('heading', { name: 'Request approved' }).waitFor();
      assert.deepEqual(problems, []);
      await context.close();

      assert.equal(await exited, 0, output);
      assert.match(output, /Successfully logged into Start URL/);
    } finally {
      login.kill();
    }
    const loggedIn = cachedToken();
    assert.ok(loggedIn.refreshToken, 'the CLI cached a refresh token');

    const caller = await aws('sts', 'get-caller-identity', '--profile', 'prod');
    assert.equal(caller.code, 0, caller.stderr);
    assert.equal((JSON.parse(caller.stdout) as { Arn: string }).Arn, `arn:aws:sts::${PROD}:assumed-role/ReadOnly/${alice.upn}`);
    // The token lasts 10 minutes, inside the CLI's 15-minute window: it refreshed before the call.
    const refreshed = cachedToken();
    assert.notEqual(refreshed.accessToken, loggedIn.accessToken, 'the CLI refreshed its token');
    assert.notEqual(refreshed.refreshToken, loggedIn.refreshToken);

    // moto does not check the assertion's signature: checked here with Portico's published certificate.
    const aws2 = new SAML({ callbackUrl: 'https://signin.aws.amazon.com/saml', issuer: 'urn:amazon:webservices', audience: 'urn:amazon:webservices', idpCert, idpIssuer: `${base}/saml/metadata`, wantAssertionsSigned: true, wantAuthnResponseSigned: false, validateInResponseTo: ValidateInResponseTo.never });
    const { profile } = await aws2.validatePostResponseAsync({ SAMLResponse: sts?.assertions.at(-1) ?? '' });
    assert.equal(profile?.['https://aws.amazon.com/SAML/Attributes/SessionDuration'], String(3 * 3600));
    assert.equal(profile?.['https://aws.amazon.com/SAML/Attributes/RoleSessionName'], alice.upn);

    const exported = await aws('configure', 'export-credentials', '--profile', 'prod');
    assert.equal(exported.code, 0, exported.stderr);
    const credentials = JSON.parse(exported.stdout) as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
    assert.ok(credentials.AccessKeyId && credentials.SessionToken);
    assert.ok(Math.abs(Date.parse(credentials.Expiration) - (Date.now() + 3 * 3600_000)) < 120_000, `expiration ${credentials.Expiration}`);
  });

  it('aws sso list-accounts, list-account-roles, then aws sso logout ends the token', async () => {
    const { accessToken } = cachedToken();
    const accounts = await aws('sso', 'list-accounts', '--access-token', accessToken, '--region', REGION);
    assert.equal(accounts.code, 0, accounts.stderr);
    assert.deepEqual((JSON.parse(accounts.stdout) as { accountList: unknown[] }).accountList, [{ accountId: PROD, accountName: 'Production', emailAddress: 'aws-prod@example.test' }]);
    // --page-size 1: the CLI pages through next_token itself.
    const roles = await aws('sso', 'list-account-roles', '--access-token', accessToken, '--account-id', PROD, '--region', REGION, '--page-size', '1');
    assert.equal(roles.code, 0, roles.stderr);
    assert.deepEqual((JSON.parse(roles.stdout) as { roleList: unknown[] }).roleList, [{ roleName: 'PowerUser', accountId: PROD }, { roleName: 'ReadOnly', accountId: PROD }]);

    const logout = await aws('sso', 'logout', '--profile', 'prod');
    assert.equal(logout.code, 0, logout.stderr);
    assert.equal(existsSync(cacheFile()), false, 'the CLI removed its cached token');
    // The token the CLI held stops working at Portico (asked directly: one CLI start less).
    const after = await fetch(`${base}/aws/sso/assignment/accounts`, { headers: { 'x-amz-sso_bearer_token': accessToken } });
    assert.equal(after.status, 401);
    assert.equal(after.headers.get('x-amzn-errortype'), 'UnauthorizedException');
  });

  it("the portal's command-line page: aws configure sso values and working credentials with copy buttons", async () => {
    assert.ok(browser);
    const { context, page, problems } = await openPage(browser, { width: 1280, height: 900 });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.goto(`${base}/portal`);
    await page.getByLabel('User name').fill(alice.upn);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/portal`);
    await page.locator('li.role', { hasText: 'ReadOnly' }).getByRole('link', { name: 'Command line or programmatic access' }).click();
    await page.waitForURL(`${base}/portal/accounts/${PROD}/${readOnlyId}/cli`);
    assert.equal(await page.locator('#start-url').innerText(), `${base}/portal`);
    assert.equal(await page.locator('#sso-region').innerText(), REGION);
    const bash = await page.locator('#env-bash').innerText();
    const value = (name: string) => new RegExp(`${name}="([^"]+)"`).exec(bash)?.[1] ?? '';
    const credentials = { accessKeyId: value('AWS_ACCESS_KEY_ID'), secretAccessKey: value('AWS_SECRET_ACCESS_KEY'), sessionToken: value('AWS_SESSION_TOKEN') };
    const caller = await new STSClient({ region: 'us-east-1', endpoint: moto?.url, credentials }).send(new GetCallerIdentityCommand({}));
    assert.equal(caller.Arn, `arn:aws:sts::${PROD}:assumed-role/ReadOnly/${alice.upn}`);
    assert.match(await page.locator('#env-powershell').innerText(), new RegExp(`\\$Env:AWS_ACCESS_KEY_ID="${credentials.accessKeyId}"`));
    assert.match(await page.locator('#credentials-file').innerText(), new RegExp(`^\\[${PROD}_ReadOnly\\]\\naws_access_key_id=${credentials.accessKeyId}`));
    await page.locator('button[data-copy="env-bash"]').click();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), bash);
    assert.equal(await page.locator('button[data-copy="env-bash"]').innerText(), 'Copied');
    await saveScreenshot(page, 'aws-sso-portal-cli');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
