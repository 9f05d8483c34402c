/**
 * A Fastify server with the sign-in routes over real HTTP, a real session store and audit log
 * on SQLite, and a stub SignInService (the real flow is integration-tested with provisioning).
 * The stub uses the real throttle, so 429s are the throttle's own decisions.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { registerSignInRoutes } from '#src/auth/http/index.ts';
import { httpServerOptions, cookieSecurity } from '#src/auth/http/transport.ts';
import type { SignInRequest, SignInResult, SignInService } from '#src/auth/sign-in.ts';
import type { PasswordChangeService } from '#src/auth/password-change.ts';
import { createSignInThrottle } from '#src/auth/throttle.ts';
import { configSchema, type Config } from '#src/config/index.ts';
import type { IdentityUser } from '#src/identity-store/user.ts';
import { createSessionService, prepareSession, type SessionService, type UserStillAllowed } from '#src/sessions/index.ts';
import type { SessionStore } from '#src/sessions/session-store.ts';
import { createDatabase, createKyselyAuditLog, createKyselySessionStore, migrateToLatest, type Database } from '#src/storage/index.ts';
import type { AuditLog } from '#src/audit/index.ts';
import type { Kysely } from 'kysely';

export const PASSWORD = 'Correct-Horse-Battery-9f3e';
export const ALICE_GUID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export interface Harness {
  url: string;
  config: Config;
  clock: { now: Date };
  db: Kysely<Database>;
  store: SessionStore;
  audit: AuditLog;
  sessions: SessionService;
  /** What the stub sign-in service was called with. */
  calls: SignInRequest[];
  /** What userStillAllowed answers (per call); throwing is allowed. */
  verdict: { next: Awaited<ReturnType<UserStillAllowed>> | Error; calls: number };
  logs: string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  http?: Record<string, unknown>;
  sessions?: Record<string, unknown>;
  /** Passed to the routes as is (none: the connected-AD behaviour). */
  passwordChange?: PasswordChangeService;
}

function fakeUser(userName: string): IdentityUser {
  const at = new Date('2026-01-01T00:00:00.000Z');
  return {
    userId: 'u-alice',
    userName,
    name: { formatted: 'Alice Example', givenName: 'Alice', familyName: 'Example', middleName: null },
    displayName: 'Alice <Example>',
    nickName: null,
    emails: [],
    phoneNumbers: [],
    addresses: [],
    title: null,
    userType: null,
    preferredLanguage: null,
    locale: null,
    timezone: null,
    enterprise: { department: null, employeeNumber: null, costCenter: null, organization: null, division: null, manager: null },
    externalIds: [{ issuer: 'ad:corp.example.test', id: ALICE_GUID }],
    activeDirectory: { windowsUpn: userName, domain: 'corp.example.test', guid: ALICE_GUID, sid: 'S-1-5-21-1-2-3-1105' },
    attributes: {},
    createdAt: at,
    provisionedAt: at,
  };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-auth-'));
  const config = configSchema.parse({ dataDir: dir, http: { port: 0, ...options.http }, sessions: options.sessions ?? {} });
  const clock = { now: new Date('2026-03-01T09:00:00.000Z') };
  const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dir, 'portico.db') } });
  await migrateToLatest(db);
  const store = createKyselySessionStore(db);
  const audit = createKyselyAuditLog(db, { clock: () => clock.now });
  const verdict: Harness['verdict'] = { next: 'allowed', calls: 0 };
  const durationMs = 8 * HOUR;
  const sessions = createSessionService({
    store,
    audit,
    durationMs,
    recheckMs: config.sessions.recheckMinutes * MINUTE,
    clock: () => clock.now,
    userStillAllowed: () => {
      verdict.calls += 1;
      return verdict.next instanceof Error ? Promise.reject(verdict.next) : Promise.resolve(verdict.next);
    },
  });
  const throttle = createSignInThrottle({ perUsername: { maxFailures: 3, windowMs: 30 * MINUTE }, perAddress: { maxFailures: 20, windowMs: 15 * MINUTE } });
  const calls: SignInRequest[] = [];

  const signIn: SignInService = {
    async signIn(request): Promise<SignInResult> {
      calls.push(request);
      const now = clock.now;
      const key = request.username.toLowerCase();
      const decision = await throttle.check(key, request.clientAddress ?? 'unknown', now);
      if (!decision.allowed) {
        return { ok: false, code: 'auth.throttled', message: 'Too many failed sign-ins. Try again later.', retryAfterSeconds: Math.ceil(decision.retryAfterMs / 1000) };
      }
      if (key === 'down@corp.example.test') {
        return { ok: false, code: 'auth.directory_unavailable', message: 'The directory cannot be reached right now. Try again in a moment.', retryAfterSeconds: 30 };
      }
      if (request.password !== PASSWORD) {
        await throttle.recordFailure(key, request.clientAddress ?? 'unknown', now);
        return { ok: false, code: 'auth.invalid_credentials', message: 'The user name or password is incorrect.', retryAfterSeconds: null };
      }
      if (key === 'locked@corp.example.test') {
        return { ok: false, code: 'auth.account_locked', message: 'Your account is locked. Contact your help desk.', retryAfterSeconds: null };
      }
      if (key === 'mustchange@corp.example.test') {
        return { ok: false, code: 'auth.password_must_change', message: 'You must change your password before you sign in.', retryAfterSeconds: null };
      }
      await throttle.recordSuccess(key, request.clientAddress ?? 'unknown');
      const user = fakeUser(request.username);
      const prepared = prepareSession(
        {
          userId: user.userId,
          userGuid: ALICE_GUID,
          data: {
            userName: user.userName,
            displayName: user.displayName,
            groups: [{ guid: 'g-1', qualifiedName: 'Engineers@corp.example.test' }],
            groupsTruncated: false,
            clientAddress: request.clientAddress,
            userAgent: request.userAgent,
          },
        },
        now,
        durationMs,
      );
      const session = await store.create(prepared.session, now);
      return { ok: true, token: prepared.token, session, user };
    },
  };

  const logs: string[] = [];
  const http = Fastify({ ...httpServerOptions(config), logger: { level: 'trace', stream: { write: (line: string) => void logs.push(line) } } });
  await registerSignInRoutes(http, {
    signIn,
    sessions,
    cookieSecurity: cookieSecurity(config),
    csrfKey: randomBytes(32),
    ...(options.passwordChange ? { passwordChange: options.passwordChange } : {}),
    clock: () => clock.now,
  });
  const address = await http.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: address,
    config,
    clock,
    db,
    store,
    audit,
    sessions,
    calls,
    verdict,
    logs,
    async close() {
      await http.close();
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A browser's cookie jar, reduced to what these tests need: name → value, honouring Max-Age=0. */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (/;\s*max-age=0(;|$)/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export interface Browser {
  jar: CookieJar;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  post(path: string, body: string, type: string, headers?: Record<string, string>): Promise<Response>;
  form(path: string, fields: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
  json(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

/** fetch with a cookie jar and no automatic redirects. */
export function browser(baseUrl: string): Browser {
  const jar = new CookieJar();
  const send = async (path: string, init: RequestInit & { headers: Record<string, string> }): Promise<Response> => {
    const cookie = jar.header();
    const response = await fetch(new URL(path, baseUrl), { ...init, redirect: 'manual', headers: { ...(cookie === '' ? {} : { cookie }), ...init.headers } });
    jar.store(response);
    return response;
  };
  return {
    jar,
    get: (path, headers = {}) => send(path, { method: 'GET', headers }),
    post: (path, body, type, headers = {}) => send(path, { method: 'POST', body, headers: { 'content-type': type, ...headers } }),
    form: (path, fields, headers = {}) => send(path, { method: 'POST', body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } }),
    json: (path, body, headers = {}) => send(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }),
  };
}

/** The hidden field `name` of the page's form. */
export function hiddenField(html: string, name: string): string {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html);
  if (match?.[1] === undefined) throw new Error(`no hidden field ${name} in the page`);
  return match[1].replace(/&#(\d+);/g, (_entity, code: string) => String.fromCharCode(Number(code)));
}

/** Opens the sign-in page and posts the form as a browser would. */
export async function signInWithForm(client: Browser, fields: { username: string; password: string; returnTo?: string }, headers: Record<string, string> = {}): Promise<Response> {
  const page = await client.get(`/sign-in${fields.returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(fields.returnTo)}`}`, headers);
  const html = await page.text();
  return client.form(
    '/sign-in',
    { csrf: hiddenField(html, 'csrf'), returnTo: hiddenField(html, 'returnTo'), username: fields.username, password: fields.password },
    headers,
  );
}

/** GET over HTTPS trusting one CA (fetch cannot be given a CA without undici's own API). */
export function httpsGet(url: string, ca: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { method: 'GET', ca }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}
