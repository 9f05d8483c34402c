/**
 * An SP's RequestedAuthnContext against Portico started for real (managed directory, demo
 * forest, SQLite), over HTTP as a browser would. The SP is @node-saml/node-saml (not ours): it
 * writes the AuthnRequest with its `authnContext`/`racComparison` options and validates what comes
 * back. TOTP codes come from oathtool, error Responses' signatures are checked with xmlsec1.
 *
 * - SP asks exact REFEDS MFA: a person with an authenticator app signs in with the password, is
 *   asked the second factor, and the assertion says MFA;
 * - SP asks exact for a class Portico does not offer: a signed NoAuthnContext error, audited,
 *   without a sign-in page;
 * - SP asks minimum PasswordProtectedTransport: a password-only session is fine;
 * - SP asks MFA for someone who cannot do it (no device, policy `withoutDevice: block`): NoAuthnContext.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SAML, SamlStatusError, ValidateInResponseTo, type RacComparison } from '@node-saml/node-saml';
import { startApp, type PorticoApp } from '#src/app.ts';
import { configSchema } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { adminApi, get, postForm, postedForm, type Fetched } from '../support/saml-http.ts';
import { refuseInUnitTier } from '../support/tier.ts';

const SP = 'https://sp.authnctx.test/saml';
const SP_ACS = 'https://sp.authnctx.test/acs';
const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const MFA = 'https://refeds.org/profile/mfa';
const KERBEROS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos';
const NO_AUTHN_CONTEXT = 'urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext';

const oathtool = (secret: string, offsetSeconds = 0): string =>
  execFileSync('oathtool', ['--totp', '-b', secret, ...(offsetSeconds === 0 ? [] : ['-N', `+${offsetSeconds} seconds`])], { encoding: 'utf8' }).trim();

const field = (html: string, name: string): string => {
  const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  assert.ok(value !== undefined, `no field ${name} in ${html.slice(0, 300)}`);
  return value.replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c)));
};

/** A browser's cookies, by hand. */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(response: Fetched): Fetched {
    for (const line of response.setCookie) {
      const [pair = '', ...attributes] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (value === '' || attributes.some((a) => /^\s*max-age=0$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

describe('RequestedAuthnContext from a node-saml SP (managed directory, demo forest)', () => {
  refuseInUnitTier('Portico with its managed directory');
  let dataDir: string | undefined;
  let app: PorticoApp | undefined;
  let token = '';
  let idpCertificate = '';
  const base = () => app?.url ?? '';

  /** The SP, asking for these contexts. */
  const sp = (authnContext: string[], racComparison: RacComparison) =>
    new SAML({
      callbackUrl: SP_ACS,
      entryPoint: `${base()}/saml/sso`,
      issuer: SP,
      audience: SP,
      idpIssuer: `${base()}/saml/metadata`,
      idpCert: idpCertificate,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      authnContext,
      racComparison,
      validateInResponseTo: ValidateInResponseTo.always,
    });

  /** GET with the jar, following redirects on this site; stops at a page. */
  async function browse(jar: Jar, path: string): Promise<Fetched> {
    let url = path.startsWith('http') ? path : `${base()}${path}`;
    for (let hops = 0; hops < 10; hops++) {
      const response = jar.take(await get(url, jar.header()));
      if (response.status !== 303 && response.status !== 302) return response;
      assert.ok(response.location?.startsWith('/'), `redirect off the site: ${response.location}`);
      url = `${base()}${response.location}`;
    }
    assert.fail('too many redirects');
  }

  /** Fills in the sign-in page the browser is on; returns where Portico sends it next (followed). */
  async function signIn(jar: Jar, page: Fetched, username: string): Promise<Fetched> {
    assert.match(page.text, /name="password"/, 'the sign-in page');
    const done = jar.take(await postForm(`${base()}/sign-in`, { csrf: field(page.text, 'csrf'), returnTo: field(page.text, 'returnTo'), username, password: demoPassword }, jar.header()));
    if (done.status !== 303) return done;
    return browse(jar, done.location ?? '');
  }

  /** The SP's request, as its redirect to Portico. */
  const start = async (saml: SAML) => saml.getAuthorizeUrlAsync('', undefined, {});

  const decoded = (html: string) => Buffer.from(postedForm(html).fields.SAMLResponse ?? '', 'base64').toString('utf8');
  const classRefOf = (xml: string) => /<saml:AuthnContextClassRef>([^<]+)<\/saml:AuthnContextClassRef>/.exec(xml)?.[1];

  /** xmlsec1 checks the Response's own signature with Portico's published certificate. */
  function assertSignedByPortico(xml: string): void {
    const dir = mkdtempSync(join(tmpdir(), 'portico-authnctx-xmlsec-'));
    try {
      writeFileSync(join(dir, 'response.xml'), xml);
      writeFileSync(join(dir, 'idp.pem'), `-----BEGIN CERTIFICATE-----\n${idpCertificate.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END CERTIFICATE-----\n`);
      execFileSync('xmlsec1', ['--verify', '--pubkey-cert-pem', join(dir, 'idp.pem'), '--id-attr:ID', 'urn:oasis:names:tc:SAML:2.0:protocol:Response', join(dir, 'response.xml')], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  let appId = '';
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portico-authnctx-'));
    const config = configSchema.parse({ dataDir, http: { port: 0 }, log: { level: 'silent' }, managedDirectory: { listen: { ldapPort: 0, ldapsPort: 0 } } });
    app = await startApp(config, { showBootstrapToken: (t) => (token = t) });
    idpCertificate = /<ds:X509Certificate>([^<]+)</.exec((await get(`${base()}/saml/metadata`)).text)?.[1] ?? '';
    assert.ok(idpCertificate !== '');
    appId = (await adminApi<{ id: string }>(base(), token, 'POST', '/applications', { name: 'Reports', entityId: SP, acsUrls: [SP_ACS] })).id;
    for (const user of ['alice@portico.test', 'bob@portico.test']) {
      await adminApi(base(), token, 'POST', '/assignments', { principal: { type: 'user', id: user }, target: { type: 'application', applicationId: appId } });
    }
  });

  after(async () => {
    await app?.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('SP asks REFEDS MFA: a person with an authenticator app is asked the second factor, and the assertion says MFA', async () => {
    // alice registers an authenticator app beforehand (MFA policy: never, so sign-in alone asks nothing).
    const setup = new Jar();
    const signedIn = await signIn(setup, await browse(setup, '/sign-in?returnTo=%2Fportal'), 'alice@portico.test');
    assert.equal(signedIn.status, 200, 'the portal, with no second step');
    const enrolPage = await browse(setup, '/mfa/enrol?returnTo=%2Fportal');
    const secret = (/id="totp-secret">([^<]+)</.exec(enrolPage.text)?.[1] ?? '').replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const enrolled = await postForm(
      `${base()}/mfa/enrol`,
      { csrf: field(enrolPage.text, 'csrf'), returnTo: '/portal', deviceId: field(enrolPage.text, 'deviceId'), name: 'Phone', code: oathtool(secret) },
      setup.header(),
    );
    assert.equal(enrolled.status, 200, enrolled.text.slice(0, 300));

    // A new browser: the SP's request, the password, then the code.
    const saml = sp([MFA], 'exact');
    const jar = new Jar();
    const signInPage = await browse(jar, await start(saml));
    const secondStep = await signIn(jar, signInPage, 'alice@portico.test');
    assert.equal(secondStep.status, 200);
    assert.match(secondStep.text, /name="kind" value="totp"/, 'the authenticator-app form of the second step');
    // The next time step: the enrolment used the current one, and a code is accepted once.
    const verified = jar.take(await postForm(`${base()}/mfa`, { csrf: field(secondStep.text, 'csrf'), returnTo: field(secondStep.text, 'returnTo'), kind: 'totp', code: oathtool(secret, 30) }, jar.header()));
    assert.equal(verified.status, 200, verified.text.slice(0, 300));
    assert.equal(postedForm(verified.text).action, SP_ACS);
    const xml = decoded(verified.text);
    assert.equal(classRefOf(xml), MFA);
    const { profile } = await saml.validatePostResponseAsync(postedForm(verified.text).fields);
    assert.ok(profile !== null, 'node-saml accepts the assertion (signature, audience, InResponseTo)');

    // The same session, asked for exact PasswordProtectedTransport: stated as such (it used the password too).
    const again = await browse(jar, await start(sp([PPT], 'exact')));
    assert.equal(classRefOf(decoded(again.text)), PPT);
    // minimum PasswordProtectedTransport: the strongest the session has.
    const minimum = await browse(jar, await start(sp([PPT], 'minimum')));
    assert.equal(classRefOf(decoded(minimum.text)), MFA);
  });

  it('SP asks exact for a class Portico does not offer: a signed NoAuthnContext error at once, audited', async () => {
    const saml = sp([KERBEROS], 'exact');
    const jar = new Jar();
    const answered = await browse(jar, await start(saml));
    assert.equal(answered.status, 200);
    assert.equal(postedForm(answered.text).action, SP_ACS, 'no sign-in page: the SP hears the error');
    const xml = decoded(answered.text);
    assert.match(xml, /<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"\/>/);
    assert.doesNotMatch(xml, /<saml:Assertion/);
    assertSignedByPortico(xml);
    await assert.rejects(saml.validatePostResponseAsync(postedForm(answered.text).fields), (error) => {
      assert.ok(error instanceof SamlStatusError, String(error));
      assert.match(error.xmlStatus, new RegExp(NO_AUTHN_CONTEXT));
      return true;
    });
    const audit = await adminApi<{ events: Array<{ actor: string; target: string | null; outcome: string; errorCode: string | null; details: Record<string, unknown> }> }>(base(), token, 'GET', '/audit?action=saml.assertion.issued&limit=50');
    const refusal = audit.events.find((e) => e.errorCode === 'saml.no_authn_context');
    assert.ok(refusal, 'the refusal is audited');
    assert.equal(refusal.outcome, 'failure');
    assert.equal(refusal.target, appId);
    assert.deepEqual(refusal.details.classRefs, [KERBEROS]);
  });

  it('SP asks minimum PasswordProtectedTransport: a password-only sign-in is enough', async () => {
    const saml = sp([PPT], 'minimum');
    const jar = new Jar();
    const answered = await signIn(jar, await browse(jar, await start(saml)), 'bob@portico.test');
    assert.equal(answered.status, 200, answered.text.slice(0, 300));
    assert.equal(postedForm(answered.text).action, SP_ACS);
    assert.equal(classRefOf(decoded(answered.text)), PPT);
    const { profile } = await saml.validatePostResponseAsync(postedForm(answered.text).fields);
    assert.equal(profile?.nameID !== undefined, true);
  });

  it('SP asks MFA for someone who cannot complete it (no device, withoutDevice: block): NoAuthnContext after the password', async () => {
    await adminApi(base(), token, 'PUT', '/mfa/policy', { withoutDevice: 'block' });
    try {
      const saml = sp([MFA], 'exact');
      const jar = new Jar();
      const answered = await signIn(jar, await browse(jar, await start(saml)), 'bob@portico.test');
      assert.equal(answered.status, 200, answered.text.slice(0, 300));
      const xml = decoded(answered.text);
      assert.match(xml, /status:NoAuthnContext/);
      assertSignedByPortico(xml);
      await assert.rejects(saml.validatePostResponseAsync(postedForm(answered.text).fields), SamlStatusError);
    } finally {
      await adminApi(base(), token, 'PUT', '/mfa/policy', { withoutDevice: 'register-at-sign-in' });
    }
  });
});
