/**
 * MFA and SAML against Portico started for real (managed directory, demo forest, SQLite), over
 * HTTP as a browser would: the assertion's AuthnContextClassRef and AuthnInstant follow the
 * factor; an application that requires MFA sends a password-only session to the second step
 * (step-up) and back; ForceAuthn asks both factors again even on a remembered browser.
 * TOTP codes come from oathtool (OATH Toolkit), not from Portico's library.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { configSchema } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { adminApi, get, postForm, postedForm, signInCookie, type Fetched } from '../support/saml-http.ts';
import { refuseInUnitTier } from '../support/tier.ts';

const WIKI = 'https://wiki.mfa.test/saml';
const WIKI_ACS = 'https://wiki.mfa.test/acs';
const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const MFA = 'https://refeds.org/profile/mfa';

const oathtool = (secret: string, offsetSeconds = 0): string =>
  execFileSync('oathtool', ['--totp', '-b', secret, ...(offsetSeconds === 0 ? [] : ['-N', `+${offsetSeconds} seconds`])], { encoding: 'utf8' }).trim();

const cookieOf = (response: Fetched, name: string): string | undefined => response.setCookie.map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith(`${name}=`) && c.length > name.length + 1);
const field = (html: string, name: string): string => {
  const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  assert.ok(value !== undefined, `no field ${name} in ${html.slice(0, 300)}`);
  return value.replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c)));
};

function assertion(html: string): { classRef: string; authnInstant: Date } {
  const xml = Buffer.from(postedForm(html).fields.SAMLResponse ?? '', 'base64').toString('utf8');
  const classRef = /<saml:AuthnContextClassRef>([^<]+)<\/saml:AuthnContextClassRef>/.exec(xml)?.[1];
  const instant = /AuthnInstant="([^"]+)"/.exec(xml)?.[1];
  assert.ok(classRef && instant, xml.slice(0, 400));
  return { classRef, authnInstant: new Date(instant) };
}

describe('MFA and SAML (managed directory, demo forest)', () => {
  refuseInUnitTier('Portico with its managed directory');
  let dataDir: string | undefined;
  let app: PorticoApp | undefined;
  let token = '';
  let wikiId = '';
  const base = () => app?.url ?? '';

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portico-mfa-saml-'));
    const config = configSchema.parse({ dataDir, http: { port: 0 }, log: { level: 'silent' }, managedDirectory: { listen: { ldapPort: 0, ldapsPort: 0 } } });
    app = await startApp(config, { showBootstrapToken: (t) => (token = t) });
    wikiId = (await adminApi<{ id: string }>(base(), token, 'POST', '/applications', { name: 'Wiki', entityId: WIKI, acsUrls: [WIKI_ACS] })).id;
    await adminApi(base(), token, 'POST', '/assignments', { principal: { type: 'user', id: 'alice@portico.test' }, target: { type: 'application', applicationId: wikiId } });
  });

  after(async () => {
    await app?.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  let secret = '';
  let mfaCookie = '';
  let recoveryCodes: string[] = [];

  it('a password session gets PasswordProtectedTransport; an application requiring MFA steps it up, then gets the REFEDS MFA context', async () => {
    const passwordCookie = await signInCookie(base(), 'alice@portico.test', demoPassword);
    const plain = await get(`${base()}/portal/applications/${wikiId}`, passwordCookie);
    assert.equal(plain.status, 200);
    assert.equal(assertion(plain.text).classRef, PPT);

    await adminApi(base(), token, 'PUT', '/mfa/policy', { applications: { [wikiId]: 'mfa' } });
    const stepUp = await get(`${base()}/portal/applications/${wikiId}`, passwordCookie);
    assert.equal(stepUp.status, 303);
    assert.equal(stepUp.location, `/mfa?returnTo=${encodeURIComponent(`/portal/applications/${wikiId}`)}`);
    // No device yet: the second step is to register one.
    const toEnrol = await get(`${base()}${stepUp.location}`, passwordCookie);
    assert.equal(toEnrol.status, 303);
    assert.match(toEnrol.location ?? '', /^\/mfa\/enrol\?/);
    const enrolPage = await get(`${base()}${toEnrol.location}`, passwordCookie);
    assert.equal(enrolPage.status, 200);
    secret = (/id="totp-secret">([^<]+)</.exec(enrolPage.text)?.[1] ?? '').replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const before = Date.now();
    const enrolled = await postForm(
      `${base()}/mfa/enrol`,
      { csrf: field(enrolPage.text, 'csrf'), returnTo: field(enrolPage.text, 'returnTo'), deviceId: field(enrolPage.text, 'deviceId'), name: 'Phone', code: oathtool(secret) },
      passwordCookie,
    );
    assert.equal(enrolled.status, 200, enrolled.text.slice(0, 300));
    assert.match(enrolled.text, /Save your recovery codes/);
    recoveryCodes = [...enrolled.text.matchAll(/<li>([a-z0-9-]+)<\/li>/g)].map((m) => m[1] ?? '');
    assert.equal(recoveryCodes.length, 10);
    mfaCookie = cookieOf(enrolled, 'portico_session') ?? '';
    assert.ok(mfaCookie !== '' && mfaCookie !== passwordCookie, 'the session is replaced by a new one');
    // The password-only session is gone (replaced), not upgraded in place.
    assert.equal((await get(`${base()}/api/session`, passwordCookie)).status, 401);

    const opened = await get(`${base()}/portal/applications/${wikiId}`, mfaCookie);
    assert.equal(opened.status, 200);
    const { classRef, authnInstant } = assertion(opened.text);
    assert.equal(classRef, MFA);
    // AuthnInstant is when the second factor completed (second precision in SAML).
    assert.ok(authnInstant.getTime() >= before - 1000 && authnInstant.getTime() <= Date.now(), `AuthnInstant ${authnInstant.toISOString()}`);

    // Phishing-resistant only: an authenticator-app session is not enough, and alice has no security key.
    await adminApi(base(), token, 'PUT', '/mfa/policy', { applications: { [wikiId]: 'phishing-resistant' } });
    const stronger = await get(`${base()}/portal/applications/${wikiId}`, mfaCookie);
    assert.equal(stronger.status, 303);
    assert.match(stronger.location ?? '', /^\/mfa\?.*need=phishing-resistant/);
    const refused = await get(`${base()}${stronger.location}`, mfaCookie);
    assert.equal(refused.status, 403);
    assert.match(refused.text, /requires a passkey or security key, and none is registered/);
  });

  it('ForceAuthn asks the password and the second factor again, even on a remembered browser', async () => {
    await adminApi(base(), token, 'PUT', '/mfa/policy', { mode: 'context-aware', applications: {} });
    // A context-aware sign-in with MFA done leaves a remembered-device cookie.
    const signInPage = await get(`${base()}/sign-in`);
    const csrfCookie = cookieOf(signInPage, 'portico_csrf') ?? '';
    const first = await postForm(`${base()}/sign-in`, { csrf: field(signInPage.text, 'csrf'), returnTo: '/portal', username: 'alice@portico.test', password: demoPassword }, csrfCookie);
    assert.equal(first.location, '/mfa?returnTo=%2Fportal');
    const pending = cookieOf(first, 'portico_session') ?? '';
    const verifyPage = await get(`${base()}/mfa?returnTo=%2Fportal`, pending);
    const verified = await postForm(`${base()}/mfa`, { csrf: field(verifyPage.text, 'csrf'), returnTo: '/portal', kind: 'totp', code: oathtool(secret, 30) }, pending);
    assert.equal(verified.status, 303, verified.text.slice(0, 300));
    const remembered = cookieOf(verified, 'portico_mfa_remember');
    assert.ok(remembered, 'context-aware mode remembers the browser');
    const session = cookieOf(verified, 'portico_session') ?? '';

    // Remembered: a new password sign-in skips MFA.
    const again = await get(`${base()}/sign-in`, remembered);
    const skipped = await postForm(`${base()}/sign-in`, { csrf: field(again.text, 'csrf'), returnTo: '/portal', username: 'alice@portico.test', password: demoPassword }, `${remembered}; ${cookieOf(again, 'portico_csrf') ?? ''}`);
    assert.equal(skipped.location, '/portal');

    // An SP-initiated request with ForceAuthn: both factors again.
    const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomBytes(8).toString('hex')}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${base()}/saml/sso" AssertionConsumerServiceURL="${WIKI_ACS}" ForceAuthn="true"><saml:Issuer>${WIKI}</saml:Issuer></samlp:AuthnRequest>`;
    const sso = await get(`${base()}/saml/sso?SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}`, `${session}; ${remembered}`);
    assert.equal(sso.status, 303);
    assert.match(sso.location ?? '', /^\/sign-in\?.*prompt=login/);
    const forced = await get(`${base()}${sso.location}`, `${session}; ${remembered}`);
    assert.match(forced.text, /name="prompt" value="login"/);
    const cookies = `${remembered}; ${cookieOf(forced, 'portico_csrf') ?? ''}`;
    const password = await postForm(`${base()}/sign-in`, { csrf: field(forced.text, 'csrf'), returnTo: field(forced.text, 'returnTo'), prompt: 'login', username: 'alice@portico.test', password: demoPassword }, cookies);
    assert.equal(password.status, 303);
    assert.match(password.location ?? '', /^\/mfa\?returnTo=%2Fsaml%2Fcontinue/, 'the remembered browser does not skip MFA under ForceAuthn');
    const forcedPending = cookieOf(password, 'portico_session') ?? '';
    const page = await get(`${base()}${password.location}`, forcedPending);
    // The authenticator's next code was used above; a recovery code is the second factor here.
    const done = await postForm(`${base()}/mfa`, { csrf: field(page.text, 'csrf'), returnTo: field(page.text, 'returnTo'), kind: 'recovery', code: recoveryCodes[0] ?? '' }, forcedPending);
    assert.equal(done.status, 200, done.text.slice(0, 300));
    assert.equal(postedForm(done.text).action, WIKI_ACS);
    assert.equal(assertion(done.text).classRef, MFA);
  });
});
