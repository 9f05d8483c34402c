/**
 * Portico as an OpenID provider, against the test Samba DC (`bash test/samba/dc.sh start`):
 * complete authorization-code sign-ins per second and Portico's CPU per sign-in, beside complete
 * SAML sign-ins in the same run (alternating passes, the side that goes first alternating too);
 * then the token endpoint's refresh latency (p50/p99) at each concurrency.
 *
 * One OIDC sign-in is what a browser and a confidential relying party do together, with a fresh
 * cookie jar (so every sign-in binds to AD and starts a new Portico session):
 *   1. GET /oidc/auth?response_type=code&client_id&redirect_uri&scope=openid profile email groups&state
 *      &nonce&code_challenge (S256) → the interaction → 303 /sign-in?returnTo=…
 *   2. GET /sign-in?returnTo=… → the form (CSRF field and cookie)
 *   3. POST /sign-in (csrf, returnTo, username, password) → bind, session → a page that moves on
 *      by meta refresh → GET it → redirects on Portico until the redirect to the relying party
 *      with ?code=…
 *   4. POST /oidc/token (client_secret_basic; code, redirect_uri, code_verifier) → access, ID and
 *      refresh tokens (the assignment is checked again from the directory here)
 *   5. GET /oidc/me with the access token → the claims (directory checked again)
 * The ID token's audience and nonce and the userinfo `sub` are checked on every sign-in.
 * One SAML sign-in is bench/saml-sign-in.bench.ts's operation (AuthnRequest by HTTP-Redirect,
 * sign-in form, the HTTP-POST page with a signed SAMLResponse; checked cheaply).
 *
 * Refresh: each worker holds its own grant (one sign-in before the passes); one operation is
 * POST /oidc/token grant_type=refresh_token with the worker's current refresh token (rotated: the
 * answer's token is used next), which also re-reads the user's groups and assignment from AD.
 *
 * Portico is `node bin/portico.js start` in a child process (portico-process.ts) on a fresh SQLite
 * data directory; its CPU is its own process's (/proc/<pid>/stat, all threads); DC CPU is the CORP
 * DC's process tree. Medians of the passes.
 *
 * With --profile, instead: Portico under `--cpu-prof`, OIDC sign-ins only, and where its CPU goes
 * in the measured window (cpu-profile.ts's summary by function and by origin).
 *
 * Run: node --import tsx bench/oidc.bench.ts [--seconds 5] [--passes 3] [--concurrency 1,8]
 *        [--users alice,bob,carol,hank,jsmith] [--profile [--profile-seconds 15] [--profile-concurrency 4]]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { fixtureUser, sambaDirectoryEnv, sambaRuntime, type FixtureUser } from '../test/support/samba.ts';
import { benchOptions, dcPids, WrongPassword } from './bench-kit.ts';
import { printSummary, summariseCpuProfile } from './cpu-profile.ts';
import { busyShare, cpuSeconds, freePort, machineJiffies, median, percentile, porticoCli, startPortico, type PorticoProcess } from './portico-process.ts';

const { option, num, flag } = benchOptions();
/** --profile: instead of the comparison, Portico under --cpu-prof and OIDC sign-ins for --profile-seconds at c=--profile-concurrency. */
const profileOnly = flag('profile');
const profileSeconds = num('profile-seconds', 15);
const profileConcurrency = num('profile-concurrency', 4);
const seconds = num('seconds', 5);
const passes = num('passes', 3);
const levels = (option('concurrency') ?? '1,8').split(',').map(Number);
const users: FixtureUser[] = (option('users') ?? 'alice,bob,carol,hank,jsmith').split(',').map((key) => {
  const user = fixtureUser(key);
  if (user.state !== 'ok') throw new Error(`fixture user ${key} is ${user.state}`);
  return user;
});
const dc = sambaRuntime();

const CALLBACK = 'http://127.0.0.1:9/callback';
const SP_ENTITY_ID = 'https://bench-sp.example.test';
const SP_ACS_URL = 'http://127.0.0.1:9/acs';

// ---------------------------------------------------------------- HTTP with a cookie jar (undici keeps connections alive)

class Jar {
  readonly cookies = new Map<string, string>();
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? '';
      const at = pair.indexOf('=');
      if (at <= 0) continue;
      const name = pair.slice(0, at).trim();
      if (/;\s*max-age=0\b/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(at + 1).trim());
    }
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

interface Reply {
  status: number;
  location: string | null;
  body: string;
}

async function call(jar: Jar, url: string, init: { method?: string; form?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...init.headers, cookie: jar.header() };
  if (init.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const response = await fetch(url, { method: init.method ?? 'GET', headers, redirect: 'manual', ...(init.form === undefined ? {} : { body: init.form }) });
  jar.take(response);
  const location = response.headers.get('location');
  return { status: response.status, location: location === null ? null : new URL(location, url).toString(), body: await response.text() };
}

const hidden = (html: string, name: string): string | undefined => {
  const value = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html)?.[1];
  return value?.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&');
};

/** GET the sign-in page at `location`, POST the form; the reply to the POST. */
async function signInForm(jar: Jar, location: string, user: FixtureUser): Promise<Reply | string> {
  const page = await call(jar, location);
  const csrf = hidden(page.body, 'csrf');
  const returnTo = hidden(page.body, 'returnTo');
  if (page.status !== 200 || csrf === undefined || returnTo === undefined) return `sign-in page ${page.status}`;
  const posted = await call(jar, new URL('/sign-in', location).toString(), { method: 'POST', form: new URLSearchParams({ csrf, returnTo, username: user.upn, password: user.password }).toString() });
  if (posted.status === 401) throw new WrongPassword(`Portico refused ${user.upn}`);
  return posted;
}

// ---------------------------------------------------------------- the operations

interface Client {
  id: string;
  secret: string;
}

const basic = (client: Client) => `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
const claimsOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

/** One complete OIDC sign-in; the tokens, or a failure label. */
async function oidcSignIn(base: string, client: Client, user: FixtureUser): Promise<{ refreshToken: string } | string> {
  const jar = new Jar();
  const verifier = randomBytes(32).toString('base64url');
  const nonce = randomBytes(8).toString('hex');
  const query = new URLSearchParams({
    response_type: 'code', client_id: client.id, redirect_uri: CALLBACK, scope: 'openid profile email groups', state: 's', nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  });
  let step = await call(jar, `${base}/oidc/auth?${query.toString()}`);
  for (let hops = 0; hops < 6 && step.location !== null && step.location.startsWith(base) && new URL(step.location).pathname !== '/sign-in'; hops++) step = await call(jar, step.location);
  if (step.location === null || new URL(step.location).pathname !== '/sign-in') return `authorize ${step.status}`;
  const posted = await signInForm(jar, step.location, user);
  if (typeof posted === 'string') return posted;
  // The answer to the form is a page that moves on by meta refresh (the browser then sends the
  // provider's SameSite=Lax cookies with a top-level GET), as a browser follows it.
  const refresh = /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(posted.body)?.[1];
  step = posted.status === 200 && refresh !== undefined ? await call(jar, new URL(refresh.replace(/&amp;/g, '&'), base).toString()) : posted;
  for (let hops = 0; hops < 8 && step.location !== null && step.location.startsWith(base); hops++) step = await call(jar, step.location);
  const code = step.location === null ? null : new URL(step.location).searchParams.get('code');
  if (code === null) return `no code (${step.status} ${step.location ?? ''})`;
  const token = await fetch(`${base}/oidc/token`, {
    method: 'POST',
    headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier }).toString(),
  });
  const tokens = (await token.json()) as { access_token?: string; id_token?: string; refresh_token?: string; error?: string };
  if (token.status !== 200 || tokens.access_token === undefined || tokens.id_token === undefined || tokens.refresh_token === undefined) return `token ${token.status} ${tokens.error ?? ''}`;
  const idToken = claimsOf(tokens.id_token);
  if (idToken.aud !== client.id || idToken.nonce !== nonce) return 'ID token for another client or nonce';
  const me = await fetch(`${base}/oidc/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  const info = (await me.json()) as { sub?: string };
  if (me.status !== 200 || info.sub !== idToken.sub) return `userinfo ${me.status}`;
  return { refreshToken: tokens.refresh_token };
}

let samlCounter = 0;
/** One complete SP-initiated SAML sign-in (as bench/saml-sign-in.bench.ts), checked cheaply. */
async function samlSignIn(base: string, user: FixtureUser): Promise<string | null> {
  const jar = new Jar();
  const id = `_oidcbench${randomBytes(6).toString('hex')}${(++samlCounter).toString(36)}`;
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" ` +
    `IssueInstant="${new Date().toISOString()}" Destination="${base}/saml/sso" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" AssertionConsumerServiceURL="${SP_ACS_URL}">` +
    `<saml:Issuer>${SP_ENTITY_ID}</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/></samlp:AuthnRequest>`;
  const sso = await call(jar, `${base}/saml/sso?SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}&RelayState=r`);
  if (sso.status !== 303 || sso.location === null) return `sso ${sso.status}`;
  let done = await signInForm(jar, sso.location, user);
  if (typeof done === 'string') return done;
  if (done.status === 303 && done.location !== null) done = await call(jar, done.location);
  const response = hidden(done.body, 'SAMLResponse');
  if (done.status !== 200 || response === undefined) return `saml ${done.status}`;
  const decoded = Buffer.from(response, 'base64').toString('utf8');
  return decoded.includes('<ds:Signature') && decoded.includes(`InResponseTo="${id}"`) ? null : 'SAMLResponse not signed or not answering';
}

// ---------------------------------------------------------------- passes

interface Pass {
  ops: number;
  perSecond: number;
  p50: number;
  p99: number;
  porticoCpuMs: number;
  dcCpuMs: number;
  busy: number;
  failures: Map<string, number>;
}

async function pass(concurrency: number, pid: number, operate: (worker: number, user: FixtureUser) => Promise<string | null>, durationSeconds = seconds): Promise<Pass> {
  let next = 0;
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  const jiffies = machineJiffies();
  const dcBefore = cpuSeconds(dcPids(dc));
  const before = cpuSeconds([pid]);
  const started = performance.now();
  const deadline = started + durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const user = users[next++ % users.length] as FixtureUser;
        const t0 = performance.now();
        let failure: string | null;
        try {
          failure = await operate(worker, user);
        } catch (error) {
          if (error instanceof WrongPassword) throw error;
          failure = `http ${(error as Error).message}`;
        }
        latencies.push(performance.now() - t0);
        if (failure !== null) failures.set(failure, (failures.get(failure) ?? 0) + 1);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const ops = latencies.length;
  return {
    ops,
    perSecond: ops / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    porticoCpuMs: ((cpuSeconds([pid]) - before) * 1000) / ops,
    dcCpuMs: ((cpuSeconds(dcPids(dc)) - dcBefore) * 1000) / ops,
    busy: busyShare(jiffies, machineJiffies()),
    failures,
  };
}

function log(label: string, p: Pass): void {
  const failed = [...p.failures.values()].reduce((a, b) => a + b, 0);
  process.stderr.write(
    `${label.padEnd(22)} ${p.perSecond.toFixed(1).padStart(7)}/s  p50 ${p.p50.toFixed(1)} ms  p99 ${p.p99.toFixed(1)} ms  Portico ${p.porticoCpuMs.toFixed(2)} ms/op  DC ${p.dcCpuMs.toFixed(2)} ms/op  machine ${(p.busy * 100).toFixed(0)}%  ops ${p.ops}  failures ${failed}${failed ? ` (${[...p.failures].map(([l, c]) => `${l} × ${c}`).join('; ')})` : ''}\n`,
  );
}

const med = (list: Pass[], pick: (p: Pass) => number) => median(list.map(pick));

// ---------------------------------------------------------------- the run

const dataDir = mkdtempSync(join(tmpdir(), 'portico-bench-oidc-'));
const cliEnv: Record<string, string> = { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'warn' };
const env: Record<string, string> = { ...cliEnv, ...sambaDirectoryEnv(dc) };

async function adminApi<T>(portico: PorticoProcess, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${portico.url}/admin/api${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

console.log(
  `# OIDC benchmark — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start, DC ${dc.ldapsUrl} (Samba, LDAPS)`,
);
let portico: PorticoProcess | null = null;
try {
  const { token } = JSON.parse(await porticoCli(['admin', 'bootstrap-token', '--reset', '--json'], cliEnv)) as { token: string };
  const profileDir = join(dataDir, 'cpu-profile');
  const spawnedAt = performance.now();
  portico = await startPortico(env, await freePort(), profileOnly ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []);
  const base = portico.url;
  const pid = portico.pid;
  const group = { type: 'group', id: `Portico-Users@${dc.domain}` };
  const created = await adminApi<{ application: { id: string }; clientSecret: string }>(portico, token, 'POST', '/oidc-applications', { name: 'Bench RP', redirectUris: [CALLBACK] });
  const client: Client = { id: created.application.id, secret: created.clientSecret };
  const sp = await adminApi<{ id: string }>(portico, token, 'POST', '/applications', { name: 'Bench SP', entityId: SP_ENTITY_ID, acsUrls: [SP_ACS_URL] });
  for (const applicationId of [client.id, sp.id]) await adminApi(portico, token, 'POST', '/assignments', { principal: group, target: { type: 'application', applicationId } });
  console.log(`Portico pid ${portico.pid} at ${base}; users ${users.map((u) => u.upn).join(', ')}; OIDC client and SAML SP assigned to Portico-Users.`);

  const oidcOp = async (_worker: number, user: FixtureUser) => {
    const result = await oidcSignIn(base, client, user);
    return typeof result === 'string' ? result : null;
  };
  const samlOp = (_worker: number, user: FixtureUser) => samlSignIn(base, user);
  if (profileOnly) {
    await pass(profileConcurrency, portico.pid, oidcOp, 2);
    const fromMs = performance.now() - spawnedAt;
    const measured = await pass(profileConcurrency, portico.pid, oidcOp, profileSeconds);
    const toMs = performance.now() - spawnedAt;
    log(`profile c=${profileConcurrency} oidc`, measured);
    await portico.stop();
    portico = null;
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`no .cpuprofile in ${profileDir}`);
    console.log(`\n## Where Portico's CPU goes in OIDC sign-ins (--cpu-prof, c=${profileConcurrency}, ${profileSeconds} s, ${measured.ops} sign-ins, ${measured.porticoCpuMs.toFixed(1)} ms process CPU each under the profiler)`);
    printSummary(summariseCpuProfile(join(profileDir, file), { fromMs, toMs }), 30, { count: measured.ops, label: 'sign-in' });
  }
  if (!profileOnly) {
    const rows: string[] = [];
    for (const concurrency of levels) {
      await pass(concurrency, pid, oidcOp, 1);
      await pass(concurrency, pid, samlOp, 1);
      const oidc: Pass[] = [];
      const saml: Pass[] = [];
      for (let i = 0; i < passes; i++) {
        for (const side of i % 2 === 0 ? ['oidc', 'saml'] : ['saml', 'oidc']) {
          const result = await pass(concurrency, pid, side === 'oidc' ? oidcOp : samlOp);
          log(`c=${concurrency} ${i + 1}/${passes} ${side}`, result);
          (side === 'oidc' ? oidc : saml).push(result);
        }
      }
      for (const [name, list] of [['OIDC code flow (5 steps)', oidc], ['SAML sign-in', saml]] as const) {
        const failures = list.reduce((sum, p) => sum + [...p.failures.values()].reduce((a, b) => a + b, 0), 0);
        rows.push(
          `| ${concurrency} | ${name} | ${med(list, (p) => p.perSecond).toFixed(1)} | ${med(list, (p) => p.p50).toFixed(0)} | ${med(list, (p) => p.p99).toFixed(0)} | ${med(list, (p) => p.porticoCpuMs).toFixed(2)} | ${med(list, (p) => p.dcCpuMs).toFixed(2)} | ${(med(list, (p) => p.busy) * 100).toFixed(0)}% | ${failures} |`,
        );
      }
    }
    console.log('\n| c | operation | per s | p50 ms | p99 ms | Portico CPU ms/op | DC CPU ms/op | machine busy | failures |');
    console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const row of rows) console.log(row);

    // Refresh: one grant per worker, rotated at each call.
    const refreshRows: string[] = [];
    for (const concurrency of levels) {
      const held: string[] = [];
      for (let worker = 0; worker < concurrency; worker++) {
        const result = await oidcSignIn(base, client, users[worker % users.length] as FixtureUser);
        if (typeof result === 'string') throw new Error(`sign-in for the refresh pass: ${result}`);
        held.push(result.refreshToken);
      }
      const refresh = async (worker: number) => {
        const response = await fetch(`${base}/oidc/token`, {
          method: 'POST',
          headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: held[worker] ?? '' }).toString(),
        });
        const tokens = (await response.json()) as { refresh_token?: string; access_token?: string; error?: string };
        if (response.status !== 200 || tokens.refresh_token === undefined || tokens.access_token === undefined) return `refresh ${response.status} ${tokens.error ?? ''}`;
        held[worker] = tokens.refresh_token;
        return null;
      };
      await pass(concurrency, pid, refresh, 1);
      const list: Pass[] = [];
      for (let i = 0; i < passes; i++) {
        const result = await pass(concurrency, pid, refresh);
        log(`c=${concurrency} ${i + 1}/${passes} refresh`, result);
        list.push(result);
      }
      const failures = list.reduce((sum, p) => sum + [...p.failures.values()].reduce((a, b) => a + b, 0), 0);
      refreshRows.push(
        `| ${concurrency} | ${med(list, (p) => p.perSecond).toFixed(0)} | ${med(list, (p) => p.p50).toFixed(1)} | ${med(list, (p) => p.p99).toFixed(1)} | ${med(list, (p) => p.porticoCpuMs).toFixed(2)} | ${med(list, (p) => p.dcCpuMs).toFixed(2)} | ${(med(list, (p) => p.busy) * 100).toFixed(0)}% | ${failures} |`,
      );
    }
    console.log('\n| c | refreshes per s | p50 ms | p99 ms | Portico CPU ms/op | DC CPU ms/op | machine busy | failures |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const row of refreshRows) console.log(row);
    console.log(`\nload average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  }
} catch (error) {
  process.exitCode = 1;
  console.error(error instanceof WrongPassword ? `stopped: ${error.message} (no further binds, to stay clear of the lockout threshold)` : error);
} finally {
  await portico?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
