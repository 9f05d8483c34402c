/**
 * The OpenID provider's back-channel logout, acr_values and the "assigned groups only" groups
 * claim, against Portico started for real (managed directory, demo forest, SQLite), with
 * openid-client as the relying parties and a real HTTP receiver for the logout tokens. Logout
 * tokens are verified with jose against the served JWKS (openid-client 6 has no logout-token
 * validation); TOTP codes come from oathtool, not from Portico's library.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { startApp, type PorticoApp } from '#src/app.ts';
import { configSchema } from '#src/config/index.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { adminApi } from '../support/saml-http.ts';
import { refuseInUnitTier } from '../support/tier.ts';
import { authorize, CookieJar, follow, request } from './oidc-http.ts';

const CALLBACK = 'http://127.0.0.1:9/callback';
const MFA_ACR = 'urn:portico:acr:mfa';
const PASSWORD_ACR = 'urn:portico:acr:password';
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const alice = { username: 'alice@portico.test', password: demoPassword };

const oathtool = (secret: string): string => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
const field = (html: string, name: string): string => {
  const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  assert.ok(value !== undefined, `no field ${name} in ${html.slice(0, 300)}`);
  return value.replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c))).replace(/&amp;/g, '&');
};

/** The relying parties' back-channel logout endpoint: records every POST; /failing answers 500, /flaky the first time. */
interface Received {
  path: string;
  logoutToken: string;
}
function startReceiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ path: req.url ?? '', logoutToken: new URLSearchParams(body).get('logout_token') ?? '' });
      // /flaky refuses its first logout token only: the retry is accepted.
      const flakyFirst = req.url === '/flaky' && received.filter((r) => r.path === '/flaky').length === 1;
      res.statusCode = req.url === '/failing' || flakyFirst ? 500 : 200;
      res.setHeader('cache-control', 'no-store');
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received })));
}

describe('OpenID provider: back-channel logout, acr_values, assigned groups (managed directory)', () => {
  refuseInUnitTier('Portico with its managed directory');
  let dataDir: string | undefined;
  let app: PorticoApp | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  let token = '';
  let issuer = '';
  let clockAheadMs = 0;
  const base = () => app?.url ?? '';
  const apps: Record<'wiki' | 'chat' | 'broken' | 'plain' | 'scoped' | 'flaky', { id: string; secret: string }> = {} as never;

  type AuditEvent = { actor: string; action: string; target: string | null; outcome: string; errorCode: string | null; details: Record<string, unknown> };
  const auditEvents = async (action: string) => (await adminApi<{ events: AuditEvent[] }>(base(), token, 'GET', `/audit?action=${encodeURIComponent(action)}&limit=200`)).events;

  async function rp(name: keyof typeof apps): Promise<oidc.Configuration> {
    const config = await oidc.discovery(new URL(issuer), apps[name].id, undefined, oidc.ClientSecretBasic(apps[name].secret), { execute: [oidc.allowInsecureRequests] });
    oidc.enableNonRepudiationChecks(config);
    return config;
  }

  /** The code flow in `jar` (signing in when Portico asks) → tokens, the ID token's claims checked by openid-client. */
  async function signInTo(name: keyof typeof apps, jar: CookieJar, extra: Record<string, string> = {}) {
    const config = await rp(name);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid profile groups', state: 's', ...extra });
    const { callback, step } = await authorize(jar, base(), url, alice);
    assert.ok(callback, `back at the relying party (${step.status} ${step.location ?? step.text.slice(0, 200)})`);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { expectedState: 's' });
    const claims = tokens.claims();
    assert.ok(claims);
    return { config, tokens, claims };
  }

  /** A logout token POSTed to `path`, verified against the served JWKS as a relying party would. */
  const jwks = () => createRemoteJWKSet(new URL(`${issuer}/jwks`));
  async function logoutTokenAt(path: string, clientId: string, from = 0): Promise<JWTPayload> {
    for (let i = 0; i < 50 && !(receiver?.received.slice(from).some((r) => r.path === path) ?? false); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const found = receiver?.received.slice(from).filter((r) => r.path === path) ?? [];
    assert.equal(found.length, 1, `one logout token at ${path}`);
    const { payload, protectedHeader } = await jwtVerify(found[0]?.logoutToken ?? '', jwks(), { issuer, audience: clientId, typ: 'logout+jwt', maxTokenAge: '2 minutes' });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} });
    assert.equal(payload.nonce, undefined, 'a logout token carries no nonce');
    assert.ok(typeof payload.jti === 'string' && payload.jti.length > 0);
    return payload;
  }

  async function refreshRefused(config: oidc.Configuration, refreshToken: string | undefined): Promise<void> {
    assert.ok(refreshToken);
    await assert.rejects(oidc.refreshTokenGrant(config, refreshToken), (error: { error?: string }) => error.error === 'invalid_grant');
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portico-oidc-logout-'));
    receiver = await startReceiver();
    const config = configSchema.parse({ dataDir, http: { port: 0 }, log: { level: 'silent' }, managedDirectory: { listen: { ldapPort: 0, ldapsPort: 0 } } });
    // Portico's clock runs ahead on demand: the session re-check interval passes without waiting.
    app = await startApp(config, { showBootstrapToken: (t) => (token = t), clock: () => new Date(Date.now() + clockAheadMs), logoutRetryDelaysMs: [100, 300] });
    issuer = `${base()}/oidc`;
    const create = async (name: string, extra: Record<string, unknown>) => {
      const created = await adminApi<{ application: { id: string }; clientSecret: string }>(base(), token, 'POST', '/oidc-applications', { name, redirectUris: [CALLBACK], ...extra });
      await adminApi(base(), token, 'POST', '/assignments', { principal: { type: 'group', id: 'Engineering@portico.test' }, target: { type: 'application', applicationId: created.application.id } });
      return { id: created.application.id, secret: created.clientSecret };
    };
    const url = receiver.url;
    apps.wiki = await create('Wiki', { backchannelLogoutUri: `${url}/wiki` });
    apps.chat = await create('Chat', { backchannelLogoutUri: `${url}/chat` });
    apps.broken = await create('Broken', { backchannelLogoutUri: `${url}/failing` });
    apps.plain = await create('Plain', {});
    apps.scoped = await create('Scoped', { groupsClaim: { assignedOnly: true } });
    apps.flaky = await create('Flaky', { backchannelLogoutUri: `${url}/flaky` });
  });

  after(async () => {
    await app?.stop();
    receiver?.server.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('announces back-channel logout; the field is validated and kept', async () => {
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(discovery.backchannel_logout_supported, true);
    assert.equal(discovery.backchannel_logout_session_supported, true);
    const shown = await adminApi<{ backchannelLogoutUri?: string }>(base(), token, 'GET', `/oidc-applications/${apps.wiki.id}`);
    assert.equal(shown.backchannelLogoutUri, `${receiver?.url}/wiki`);
    const refused = await fetch(`${base()}/admin/api/oidc-applications`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bad', redirectUris: [CALLBACK], backchannelLogoutUri: 'http://example.com/logout' }),
    });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /backchannelLogoutUri/);
  });

  it('PATCH: null clears backchannelLogoutUri (and the other optional fields); fields left out stay as they are', async () => {
    type Shown = { id: string; description?: string; backchannelLogoutUri?: string; initiateLoginUri?: string; grantTypes: string[]; claimMappings: unknown[]; disabled: boolean };
    const created = await adminApi<{ application: Shown }>(base(), token, 'POST', '/oidc-applications', {
      name: 'Clearable',
      description: 'to be cleared',
      redirectUris: [CALLBACK],
      grantTypes: ['authorization_code'],
      claimMappings: [{ claim: 'nickname', value: '${user:userName}' }],
      initiateLoginUri: 'https://clearable.example.test/login',
      backchannelLogoutUri: `${receiver?.url}/clearable`,
    });
    const id = created.application.id;
    try {
      const patched = await adminApi<Shown>(base(), token, 'PATCH', `/oidc-applications/${id}`, { backchannelLogoutUri: null, description: null, disabled: true }, 200);
      assert.equal(patched.backchannelLogoutUri, undefined);
      assert.equal(patched.description, undefined);
      assert.equal(patched.initiateLoginUri, 'https://clearable.example.test/login', 'not named: kept');
      assert.deepEqual(patched.grantTypes, ['authorization_code'], 'not named: not reset to the default');
      assert.equal(patched.claimMappings.length, 1, 'not named: not reset to the default');
      assert.equal(patched.disabled, true);
      const shown = await adminApi<Shown>(base(), token, 'GET', `/oidc-applications/${id}`);
      assert.equal('backchannelLogoutUri' in shown, false, 'gone from the stored record too');
      const again = await adminApi<Shown>(base(), token, 'PATCH', `/oidc-applications/${id}`, { disabled: false, initiateLoginUri: null }, 200);
      assert.equal(again.initiateLoginUri, undefined);
      // null is for optional fields only; a change that breaks a rule across fields is refused.
      const refusedNull = await fetch(`${base()}/admin/api/oidc-applications/${id}`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ redirectUris: null }) });
      assert.equal(refusedNull.status, 400);
      const refusedRule = await fetch(`${base()}/admin/api/oidc-applications/${id}`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ redirectUris: [] }) });
      assert.equal(refusedRule.status, 400);
      assert.match(await refusedRule.text(), /redirectUris: at least one/);
    } finally {
      await adminApi(base(), token, 'DELETE', `/oidc-applications/${id}`, undefined, 204);
    }
  });

  it('a Portico sign-out sends a verified logout token to every application of that session (sid, sub); their grants end', async () => {
    const from = receiver?.received.length ?? 0;
    const jar = new CookieJar();
    const wiki = await signInTo('wiki', jar);
    const chat = await signInTo('chat', jar);
    const broken = await signInTo('broken', jar);
    await signInTo('plain', jar);
    assert.ok(typeof wiki.claims.sid === 'string' && typeof chat.claims.sid === 'string');

    const signedOut = await request(jar, `${base()}/api/sign-out`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(signedOut.status, 204);

    const wikiLogout = await logoutTokenAt('/wiki', apps.wiki.id, from);
    assert.equal(wikiLogout.sid, wiki.claims.sid);
    assert.equal(wikiLogout.sub, wiki.claims.sub);
    const chatLogout = await logoutTokenAt('/chat', apps.chat.id, from);
    assert.equal(chatLogout.sid, chat.claims.sid);
    assert.equal(chatLogout.sub, chat.claims.sub);
    assert.notEqual(wikiLogout.sub, chatLogout.sub, 'pairwise subjects differ per application');
    // A token meant for the wiki does not pass as the chat's.
    await assert.rejects(jwtVerify(receiver?.received.slice(from).find((r) => r.path === '/wiki')?.logoutToken ?? '', jwks(), { issuer, audience: apps.chat.id }));
    await refreshRefused(wiki.config, wiki.tokens.refresh_token);
    await refreshRefused(broken.config, broken.tokens.refresh_token);
    // The failing application: tried three times (the retries wait 100 and 300 ms here), then one failure audited.
    let sent: AuditEvent[] = [];
    for (let i = 0; i < 60 && !sent.some((e) => e.outcome === 'failure'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sent = (await auditEvents('oidc.backchannel_logout.sent')).filter((e) => e.details.reason === 'signed_out');
    }
    assert.deepEqual(sent.filter((e) => e.outcome === 'success').map((e) => e.target).sort(), [apps.wiki.id, apps.chat.id].sort());
    const failed = sent.filter((e) => e.outcome === 'failure');
    assert.equal(failed.length, 1, 'one failure, after the last attempt');
    assert.equal(failed[0]?.target, apps.broken.id);
    assert.equal(failed[0]?.errorCode, 'oidc.backchannel_logout_failed');
    assert.equal(failed[0]?.details.attempts, 3);
    const paths = receiver?.received.slice(from).map((r) => r.path) ?? [];
    assert.deepEqual([...new Set(paths)].sort(), ['/chat', '/failing', '/wiki'], 'nothing for the application without a URI');
    assert.equal(paths.filter((path) => path === '/failing').length, 3);
    // The provider session ended too: prompt=none now needs a sign-in.
    const again = oidc.buildAuthorizationUrl(wiki.config, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none' });
    const quiet = await follow(jar, base(), again.toString());
    assert.equal(new URL(quiet.location ?? '').searchParams.get('error'), 'login_required');
  });

  it('RP-initiated logout with "sign me out everywhere": each application gets one logout token, and the Portico session ends', async () => {
    const from = receiver?.received.length ?? 0;
    const jar = new CookieJar();
    const wiki = await signInTo('wiki', jar);
    const chat = await signInTo('chat', jar);
    const endUrl = oidc.buildEndSessionUrl(wiki.config, { id_token_hint: wiki.tokens.id_token ?? '' });
    const confirm = await request(jar, endUrl.toString());
    assert.equal(confirm.status, 200);
    const action = /<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"|<form[^>]*action="([^"]+)"[^>]*id="op.logoutForm"/.exec(confirm.text);
    const target = action?.[1] ?? action?.[2];
    assert.ok(target, confirm.text.slice(0, 400));
    const done = await request(jar, new URL(target, base()).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: field(confirm.text, 'xsrf'), logout: 'yes' }).toString(),
    });
    assert.ok(done.status === 200 || done.status === 303, `${done.status} ${done.text.slice(0, 200)}`);
    assert.equal((await logoutTokenAt('/wiki', apps.wiki.id, from)).sid, wiki.claims.sid);
    assert.equal((await logoutTokenAt('/chat', apps.chat.id, from)).sid, chat.claims.sid);
    assert.equal((await request(jar, `${base()}/api/session`)).status, 401, 'the Portico session ended');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(receiver?.received.slice(from).length, 2, 'no second logout token when the portal session ends after the provider\'s');
    assert.ok((await auditEvents('oidc.backchannel_logout.sent')).some((e) => e.details.reason === 'rp_logout' && e.target === apps.chat.id && e.outcome === 'success'));
  });

  it('an administrator ending the user\'s sessions sends logout tokens too', async () => {
    const from = receiver?.received.length ?? 0;
    const jar = new CookieJar();
    const wiki = await signInTo('wiki', jar);
    await adminApi(base(), token, 'POST', `/users/${encodeURIComponent(alice.username)}/revoke-sessions`, undefined, 200);
    const logout = await logoutTokenAt('/wiki', apps.wiki.id, from);
    assert.equal(logout.sid, wiki.claims.sid);
    await refreshRefused(wiki.config, wiki.tokens.refresh_token);
    assert.ok((await auditEvents('oidc.backchannel_logout.sent')).some((e) => e.details.reason === 'revoked' && e.target === apps.wiki.id && e.outcome === 'success'));
  });

  it('a user disabled in AD: the session re-check ends the session and the application gets its logout token', async () => {
    const from = receiver?.received.length ?? 0;
    await adminApi(base(), token, 'POST', '/assignments', { principal: { type: 'user', id: 'bob@portico.test' }, target: { type: 'application', applicationId: apps.wiki.id } });
    const jar = new CookieJar();
    const config = await rp('wiki');
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: 'b' });
    const { callback } = await authorize(jar, base(), url, { username: 'bob@portico.test', password: demoPassword });
    assert.ok(callback);
    const bob = await oidc.authorizationCodeGrant(config, callback, { expectedState: 'b' });
    await adminApi(base(), token, 'POST', '/directory/managed/users/bob/disable', undefined, 200);
    clockAheadMs = 6 * 60_000;
    try {
      // Bob's next request: the re-check finds him disabled and ends every session of his.
      assert.equal((await request(jar, `${base()}/api/session`)).status, 401);
    } finally {
      clockAheadMs = 0;
    }
    const logout = await logoutTokenAt('/wiki', apps.wiki.id, from);
    assert.equal(logout.sid, bob.claims()?.sid);
    assert.equal(logout.sub, bob.claims()?.sub);
    assert.ok((await auditEvents('oidc.backchannel_logout.sent')).some((e) => e.details.reason === 'user_disabled' && e.target === apps.wiki.id && e.outcome === 'success'));
  });

  it('acr_values=urn:portico:acr:mfa: prompt=none answers interaction_required; otherwise the MFA step, then an ID token with the MFA acr; sign-out after the step-up still logs the application out', async () => {
    const jar = new CookieJar();
    const password = await signInTo('wiki', jar);
    assert.equal(password.claims.acr, PASSWORD_ACR);
    assert.deepEqual(password.claims.amr, ['pwd']);

    const quietUrl = oidc.buildAuthorizationUrl(password.config, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none', acr_values: MFA_ACR, state: 'q' });
    const quiet = await follow(jar, base(), quietUrl.toString());
    assert.equal(new URL(quiet.location ?? '').searchParams.get('error'), 'interaction_required', quiet.location ?? quiet.text.slice(0, 200));

    const url = oidc.buildAuthorizationUrl(password.config, { redirect_uri: CALLBACK, scope: 'openid', acr_values: MFA_ACR, state: 'm' });
    const toMfa = await follow(jar, base(), url.toString());
    // follow() stops at /sign-in only; the MFA step is a page of its own (enrolment: no device yet).
    assert.equal(toMfa.status, 200, `${toMfa.status} ${toMfa.location ?? ''}`);
    assert.match(toMfa.url, /\/mfa\/enrol\?returnTo=%2Foidc%2Finteraction%2F/);
    const secret = (/id="totp-secret">([^<]+)</.exec(toMfa.text)?.[1] ?? '').replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const returnTo = field(toMfa.text, 'returnTo');
    const enrolled = await request(jar, `${base()}/mfa/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: field(toMfa.text, 'csrf'), returnTo, deviceId: field(toMfa.text, 'deviceId'), name: 'Phone', code: oathtool(secret) }).toString(),
    });
    assert.equal(enrolled.status, 200, enrolled.text.slice(0, 300));
    const continueTo = /id="continue" href="([^"]+)"/.exec(enrolled.text)?.[1]?.replace(/&amp;/g, '&');
    assert.equal(continueTo, returnTo);
    const back = await follow(jar, base(), `${base()}${returnTo}`);
    assert.ok(back.location?.startsWith(CALLBACK), `${back.status} ${back.location ?? back.text.slice(0, 200)}`);
    const tokens = await oidc.authorizationCodeGrant(password.config, new URL(back.location ?? ''), { expectedState: 'm' });
    const claims = tokens.claims();
    assert.equal(claims?.acr, MFA_ACR);
    assert.ok((claims?.amr as string[]).includes('mfa') && (claims?.amr as string[]).includes('otp'), JSON.stringify(claims?.amr));

    // An essential acr claim is honoured as well; the MFA session satisfies it without a prompt.
    const essential = oidc.buildAuthorizationUrl(password.config, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none', claims: JSON.stringify({ id_token: { acr: { essential: true, value: MFA_ACR } } }), state: 'e' });
    const direct = await follow(jar, base(), essential.toString());
    assert.ok(direct.location?.startsWith(CALLBACK) && new URL(direct.location).searchParams.get('code'), direct.location ?? '');
    const essentialTokens = await oidc.authorizationCodeGrant(password.config, new URL(direct.location ?? ''), { expectedState: 'e' });
    assert.equal(essentialTokens.claims()?.acr, MFA_ACR);

    // The step-up replaced the portal session; its sign-out still reaches the wiki.
    const from = receiver?.received.length ?? 0;
    const signedOut = await request(jar, `${base()}/api/sign-out`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(signedOut.status, 204);
    assert.equal((await logoutTokenAt('/wiki', apps.wiki.id, from)).sid, claims?.sid);
  });

  it('the MFA policy\'s per-application requirement holds for OIDC applications, also on a provider session that already exists', async () => {
    const jar = new CookieJar();
    const plain = await signInTo('plain', jar);
    assert.equal(plain.claims.acr, PASSWORD_ACR);
    await adminApi(base(), token, 'PUT', '/mfa/policy', { applications: { [apps.chat.id]: 'mfa' } });
    try {
      const chat = await rp('chat');
      const quiet = await follow(jar, base(), oidc.buildAuthorizationUrl(chat, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none' }).toString());
      assert.equal(new URL(quiet.location ?? '').searchParams.get('error'), 'interaction_required', quiet.location ?? '');
      const asked = await follow(jar, base(), oidc.buildAuthorizationUrl(chat, { redirect_uri: CALLBACK, scope: 'openid' }).toString());
      assert.equal(asked.status, 200);
      assert.match(asked.url, /\/mfa\?returnTo=%2Foidc%2Finteraction%2F/, 'the second step (alice has an authenticator by now)');
      // Other applications are not affected.
      const other = await follow(jar, base(), oidc.buildAuthorizationUrl(plain.config, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none' }).toString());
      assert.ok(new URL(other.location ?? '').searchParams.get('code'), other.location ?? '');
    } finally {
      await adminApi(base(), token, 'PUT', '/mfa/policy', { applications: {} });
    }
  });

  it('groups claim "assigned groups only": just the groups the application is assigned to', async () => {
    const jar = new CookieJar();
    const all = await signInTo('plain', jar);
    assert.deepEqual(all.claims.groups, ['Domain Users', 'Engineering', 'Platform', 'SRE', 'Users']);
    const scoped = await signInTo('scoped', jar);
    assert.deepEqual(scoped.claims.groups, ['Engineering']);
    // Assigned through a second group too: both, still nothing else.
    await adminApi(base(), token, 'POST', '/assignments', { principal: { type: 'group', id: 'SRE@portico.test' }, target: { type: 'application', applicationId: apps.scoped.id } });
    const twice = await signInTo('scoped', jar);
    assert.deepEqual(twice.claims.groups, ['Engineering', 'SRE']);
  });
  it('a session that simply expires: the sweep sends the logout token (retried once here), the grant ends', async () => {
    const from = receiver?.received.length ?? 0;
    const jar = new CookieJar();
    const flaky = await signInTo('flaky', jar);
    assert.equal(await app?.sweepExpiredSessions(), 0, 'nothing expired yet');
    clockAheadMs = 9 * 60 * 60_000; // past the 8-hour session
    try {
      assert.ok(((await app?.sweepExpiredSessions()) ?? 0) >= 1);
      assert.equal(await app?.sweepExpiredSessions(), 0, 'each expiry is handled once');
    } finally {
      clockAheadMs = 0;
    }
    let tokens: Received[] = [];
    for (let i = 0; i < 60 && tokens.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      tokens = receiver?.received.slice(from).filter((r) => r.path === '/flaky') ?? [];
    }
    assert.equal(tokens.length, 2, 'refused once, accepted at the retry');
    for (const received of tokens) {
      const { payload } = await jwtVerify(received.logoutToken, jwks(), { issuer, audience: apps.flaky.id, typ: 'logout+jwt' });
      assert.equal(payload.sid, flaky.claims.sid);
      assert.equal(payload.sub, flaky.claims.sub);
    }
    assert.notEqual((await jwtVerify(tokens[0]?.logoutToken ?? '', jwks())).payload.jti, (await jwtVerify(tokens[1]?.logoutToken ?? '', jwks())).payload.jti, 'a new token (jti) per attempt');
    let sent: AuditEvent | undefined;
    for (let i = 0; i < 40 && sent === undefined; i++) {
      sent = (await auditEvents('oidc.backchannel_logout.sent')).find((e) => e.target === apps.flaky.id && e.details.reason === 'expired');
      if (sent === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(sent?.outcome, 'success');
    assert.equal(sent?.details.attempts, 2);
    await refreshRefused(flaky.config, flaky.tokens.refresh_token);
  });
});
