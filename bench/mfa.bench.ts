/**
 * What a second factor costs Portico (issue 17), no DC needed: Portico runs `node bin/portico.js
 * start` in a child process (portico-process.ts) with its managed directory and the demo forest
 * on a fresh SQLite data directory, so its CPU time is its own (/proc/<pid>/stat, all threads).
 *
 * 1. **TOTP verification**: `POST /mfa` with a right code (oathtool) for a signed-in person —
 *    throttle check, the person's devices, unsealing each secret, the ±1-step window, the
 *    conditional update that claims the step, the audit record, and the new session that records
 *    the factor. p50/p99 latency and Portico CPU per verification at concurrency 1 and 8.
 *    A code is accepted once per device and time step, so rounds are used: every worker fetches
 *    its /mfa page (not measured), then all post their code at once (measured: latency per
 *    request, Portico's CPU across the posts), then Portico's clock jumps 90 s
 *    (bench/mfa-clock-hook.mjs, on SIGUSR2) so each device has a fresh step. The demo forest has
 *    three people who can sign in (alice, bob, carol): each gets three authenticator apps, and
 *    worker w uses device w (a verification checks the person's three devices).
 * 2. **SAML sign-in with TOTP vs without**, at concurrency 1, alternating passes in one run: an
 *    SP-initiated sign-in from a fresh browser (HTTP-Redirect AuthnRequest; GET /saml/sso, GET
 *    /sign-in, POST /sign-in → the POST page), against the same with the AuthnRequest asking
 *    `RequestedAuthnContext` exact `https://refeds.org/profile/mfa` (…, POST /sign-in → 303
 *    /saml/continue → 303 /mfa, GET /mfa, POST /mfa → the POST page). Every Response is checked
 *    for the class it states. Wall time and Portico CPU per sign-in, medians over passes.
 *
 * 3. **WebAuthn assertion verification**: `POST /mfa/webauthn/authenticate` with a right assertion
 *    for a signed-in person — throttle check, the signed ticket, the credential lookup, the ES256
 *    signature and counter checks (@simplewebauthn/server), the counter update, the audit record and
 *    the new session. The authenticator is test/support/soft-authenticator.ts (a P-256 key in
 *    node:crypto); each worker has its own key (its counter grows in order). Per round, every
 *    worker fetches its /mfa page and the options and signs (not measured), then all post at once
 *    (measured as in 1). Each person gets three keys: worker w is person w % 3 with key ⌊w / 3⌋.
 *
 * The codes are computed (oathtool) before each timed request or sign-in, outside its timing.
 *
 * Run: node --import tsx bench/mfa.bench.ts [--rounds 150] [--passes 5] [--sign-ins 30] [--sections totp,saml,webauthn]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { SoftAuthenticator, type CreationOptions, type RequestOptions } from '../test/support/soft-authenticator.ts';
import { benchOptions } from './bench-kit.ts';
import { busyShare, cpuSeconds, freePort, machineJiffies, median, percentile, porticoCli, startPortico, type PorticoProcess } from './portico-process.ts';

const { num, option } = benchOptions();
const sections = new Set((option('sections') ?? 'totp,saml,webauthn').split(','));
const rounds = num('rounds', 150);
const passes = num('passes', 5);
const signInsPerPass = num('sign-ins', 30);

const PASSWORD = 'Portico-Demo-2026!';
const PEOPLE = ['alice', 'bob', 'carol'].map((name) => `${name}@portico.test`);
const DEVICES_PER_PERSON = 3;
const SP = 'https://bench-sp.mfa.test/saml';
const SP_ACS = 'http://127.0.0.1:9/acs';
const MFA = 'https://refeds.org/profile/mfa';
const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

// ---------------------------------------------------------------- HTTP as a browser, by hand

interface Fetched {
  status: number;
  location: string | null;
  text: string;
}

class Browser {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}
  private take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const index = pair.indexOf('=');
      const value = pair.slice(index + 1);
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(pair.slice(0, index));
      else this.cookies.set(pair.slice(0, index), value);
    }
  }
  private header = () => [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  async get(path: string): Promise<Fetched> {
    const response = await fetch(`${this.base}${path}`, { redirect: 'manual', headers: { cookie: this.header() } });
    this.take(response);
    return { status: response.status, location: response.headers.get('location'), text: await response.text() };
  }
  async post(path: string, fields: Record<string, string>): Promise<Fetched> {
    const response = await fetch(`${this.base}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie: this.header(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    this.take(response);
    return { status: response.status, location: response.headers.get('location'), text: await response.text() };
  }
  async postJson(path: string, body: unknown): Promise<Fetched> {
    const response = await fetch(`${this.base}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie: this.header(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    this.take(response);
    return { status: response.status, location: response.headers.get('location'), text: await response.text() };
  }
  /** GET, following redirects on this site. */
  async browse(path: string): Promise<Fetched> {
    let response = await this.get(path);
    for (let hops = 0; (response.status === 303 || response.status === 302) && hops < 10; hops++) response = await this.get(response.location ?? '');
    return response;
  }
}

const field = (html: string, name: string): string => {
  const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  if (value === undefined) throw new Error(`no field ${name} in ${html.slice(0, 300)}`);
  return value.replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c)));
};

// ---------------------------------------------------------------- Portico's clock and the codes

let clockOffsetMs = 0;
/** Moves Portico's clock 90 s on (bench/mfa-clock-hook.mjs) and waits until the signal surely landed. */
async function nextStep(portico: PorticoProcess): Promise<void> {
  process.kill(portico.pid, 'SIGUSR2');
  clockOffsetMs += 90_000;
  await new Promise((resolve) => setTimeout(resolve, 30));
}
/** The code of Portico's current time step, from oathtool. */
const code = (secret: string): string => execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${Math.floor((Date.now() + clockOffsetMs) / 1000)}`], { encoding: 'utf8' }).trim();

// ---------------------------------------------------------------- setup

async function signIn(base: string, username: string): Promise<Browser> {
  const browser = new Browser(base);
  const page = await browser.get('/sign-in?returnTo=%2Fportal');
  const done = await browser.post('/sign-in', { csrf: field(page.text, 'csrf'), returnTo: '/portal', username, password: PASSWORD });
  if (done.status !== 303) throw new Error(`${username} did not sign in: ${done.status} ${done.text.slice(0, 200)}`);
  return browser;
}

/** Registers an authenticator app for the signed-in person (enrolment page, first code); returns its secret. */
async function enrol(browser: Browser): Promise<string> {
  const page = await browser.browse('/mfa/enrol?returnTo=%2Fportal');
  const secret = (/id="totp-secret">([^<]+)</.exec(page.text)?.[1] ?? '').replace(/\s/g, '');
  if (!/^[A-Z2-7]{32}$/.test(secret)) throw new Error(`no secret on the enrolment page: ${page.text.slice(0, 300)}`);
  const done = await browser.post('/mfa/enrol', { csrf: field(page.text, 'csrf'), returnTo: '/portal', deviceId: field(page.text, 'deviceId'), name: `bench ${randomBytes(3).toString('hex')}`, code: code(secret) });
  if (done.status !== 200 && done.status !== 303) throw new Error(`enrolment refused: ${done.status} ${done.text.slice(0, 300)}`);
  return secret;
}

// ---------------------------------------------------------------- 1. TOTP verification

interface VerifyPass {
  count: number;
  p50: number;
  p99: number;
  cpuMsPerVerification: number;
  busy: number;
  failures: number;
}

async function verificationPass(portico: PorticoProcess, workers: Array<{ browser: Browser; secret: string }>, roundsInPass: number): Promise<VerifyPass> {
  const latencies: number[] = [];
  let cpuMs = 0;
  let failures = 0;
  const machineBefore = machineJiffies();
  for (let round = 0; round < roundsInPass; round++) {
    await nextStep(portico);
    const pages = await Promise.all(workers.map(async ({ browser, secret }) => ({ page: await browser.get('/mfa?returnTo=%2Fportal'), code: code(secret) })));
    const cpuBefore = cpuSeconds([portico.pid]);
    await Promise.all(
      workers.map(async ({ browser }, i) => {
        const { page, code: value } = pages[i] ?? { page: { text: '' }, code: '' };
        const started = performance.now();
        const done = await browser.post('/mfa', { csrf: field(page.text, 'csrf'), returnTo: '/portal', kind: 'totp', code: value });
        latencies.push(performance.now() - started);
        if (done.status !== 303) {
          failures++;
          if (failures <= 3) console.error(`verification refused: ${done.status} ${done.text.slice(0, 200)}`);
        }
      }),
    );
    cpuMs += (cpuSeconds([portico.pid]) - cpuBefore) * 1000;
  }
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuMsPerVerification: cpuMs / latencies.length, busy: busyShare(machineBefore, machineJiffies()), failures };
}

// ---------------------------------------------------------------- 3. WebAuthn assertion verification

const passkeyCsrf = (html: string): string => {
  const value = /id="passkey"[^>]*data-csrf="([^"]+)"/.exec(html)?.[1];
  if (value === undefined) throw new Error(`no passkey button in ${html.slice(0, 300)}`);
  return value;
};

/** Registers a software security key for the signed-in person (a fresh second factor allows it). */
async function registerKey(browser: Browser, origin: string): Promise<SoftAuthenticator> {
  const key = new SoftAuthenticator();
  const csrf = passkeyCsrf((await browser.browse('/mfa/enrol?returnTo=%2Fportal')).text);
  const started = await browser.postJson('/mfa/webauthn/register/options', { csrf });
  if (started.status !== 200) throw new Error(`registration options refused: ${started.status} ${started.text.slice(0, 200)}`);
  const { options, ticket } = JSON.parse(started.text) as { options: CreationOptions; ticket: string };
  const done = await browser.postJson('/mfa/webauthn/register', { csrf, ticket, name: `bench key ${randomBytes(3).toString('hex')}`, returnTo: '/portal', response: key.register(options, origin) });
  if (done.status !== 200) throw new Error(`registration refused: ${done.status} ${done.text.slice(0, 200)}`);
  return key;
}

async function assertionPass(portico: PorticoProcess, workers: Array<{ browser: Browser; key: SoftAuthenticator }>, roundsInPass: number): Promise<VerifyPass> {
  const origin = new URL(portico.url).origin;
  const latencies: number[] = [];
  let cpuMs = 0;
  let failures = 0;
  const machineBefore = machineJiffies();
  for (let round = 0; round < roundsInPass; round++) {
    const prepared = await Promise.all(
      workers.map(async ({ browser, key }) => {
        const csrf = passkeyCsrf((await browser.get('/mfa?returnTo=%2Fportal')).text);
        const options = await browser.postJson('/mfa/webauthn/authenticate/options', { csrf });
        const { options: request, ticket } = JSON.parse(options.text) as { options: RequestOptions; ticket: string };
        return { csrf, ticket, response: key.assert(request, origin) };
      }),
    );
    const cpuBefore = cpuSeconds([portico.pid]);
    await Promise.all(
      workers.map(async ({ browser }, i) => {
        const body = prepared[i];
        const started = performance.now();
        const done = await browser.postJson('/mfa/webauthn/authenticate', { ...body, returnTo: '/portal' });
        latencies.push(performance.now() - started);
        if (done.status !== 200) {
          failures++;
          if (failures <= 3) console.error(`assertion refused: ${done.status} ${done.text.slice(0, 200)}`);
        }
      }),
    );
    cpuMs += (cpuSeconds([portico.pid]) - cpuBefore) * 1000;
  }
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuMsPerVerification: cpuMs / latencies.length, busy: busyShare(machineBefore, machineJiffies()), failures };
}

// ---------------------------------------------------------------- 2. SAML sign-in with and without TOTP

const authnRequest = (base: string, withMfa: boolean): string => {
  const context = withMfa ? `<samlp:RequestedAuthnContext Comparison="exact"><saml:AuthnContextClassRef>${MFA}</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>` : '';
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomBytes(12).toString('hex')}" Version="2.0" ` +
    `IssueInstant="${new Date(Date.now() + clockOffsetMs).toISOString()}" Destination="${base}/saml/sso" AssertionConsumerServiceURL="${SP_ACS}"><saml:Issuer>${SP}</saml:Issuer>${context}</samlp:AuthnRequest>`;
  return `/saml/sso?${new URLSearchParams({ SAMLRequest: deflateRawSync(Buffer.from(xml)).toString('base64'), RelayState: 'bench' }).toString()}`;
};

/** One sign-in from a fresh browser (`totp`: the code, computed beforehand); returns the AuthnContextClassRef stated. */
async function samlSignIn(base: string, withMfa: boolean, totp: string): Promise<string> {
  const browser = new Browser(base);
  const page = await browser.browse(authnRequest(base, withMfa));
  let answer = await browser.post('/sign-in', { csrf: field(page.text, 'csrf'), returnTo: field(page.text, 'returnTo'), username: PEOPLE[0] ?? '', password: PASSWORD });
  if (withMfa) {
    if (answer.status !== 303) throw new Error(`expected the second step, got ${answer.status}`);
    const second = await browser.browse(answer.location ?? '');
    answer = await browser.post('/mfa', { csrf: field(second.text, 'csrf'), returnTo: field(second.text, 'returnTo'), kind: 'totp', code: totp });
  }
  const response = /name="SAMLResponse" value="([^"]*)"/.exec(answer.text)?.[1];
  if (answer.status !== 200 || response === undefined) throw new Error(`no SAML Response: ${answer.status} ${answer.text.slice(0, 200)}`);
  return /<saml:AuthnContextClassRef>([^<]+)</.exec(Buffer.from(response, 'base64').toString('utf8'))?.[1] ?? '';
}

async function signInPass(portico: PorticoProcess, withMfa: boolean, secret: string): Promise<{ wallMs: number; cpuMs: number }> {
  const walls: number[] = [];
  let cpuMs = 0;
  for (let i = 0; i < signInsPerPass; i++) {
    await nextStep(portico);
    const totp = withMfa ? code(secret) : '';
    const cpuBefore = cpuSeconds([portico.pid]);
    const started = performance.now();
    const classRef = await samlSignIn(portico.url, withMfa, totp);
    walls.push(performance.now() - started);
    cpuMs += (cpuSeconds([portico.pid]) - cpuBefore) * 1000;
    if (classRef !== (withMfa ? MFA : PPT)) throw new Error(`the assertion states ${classRef}`);
  }
  return { wallMs: median(walls), cpuMs: cpuMs / signInsPerPass };
}

// ---------------------------------------------------------------- the run

const dataDir = mkdtempSync(join(tmpdir(), 'portico-bench-mfa-'));
const env: Record<string, string> = {
  PORTICO_DATA_DIR: dataDir,
  PORTICO_LOG__LEVEL: 'warn',
  PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0',
  PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0',
};
let portico: PorticoProcess | null = null;
try {
  console.log(`# MFA bench — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  portico = await startPortico(env, await freePort(), ['--import', new URL('./mfa-clock-hook.mjs', import.meta.url).pathname]);
  const running = portico;
  const { token } = JSON.parse(await porticoCli(['admin', 'bootstrap-token', '--reset', '--json'], env)) as { token: string };
  const admin = async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${running.url}/admin/api${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { id: string };
  };
  const { id: applicationId } = await admin('POST', '/applications', { name: 'Bench SP', entityId: SP, acsUrls: [SP_ACS] });
  for (const person of PEOPLE) await admin('POST', '/assignments', { principal: { type: 'user', id: person }, target: { type: 'application', applicationId } });

  // Three authenticator apps each, registered one after the other in one session (fresh MFA allows the next).
  // Then three software security keys each, in the same session.
  const secrets = new Map<string, string[]>();
  const keys = new Map<string, SoftAuthenticator[]>();
  for (const person of PEOPLE) {
    const browser = await signIn(running.url, person);
    const own: string[] = [];
    for (let d = 0; d < DEVICES_PER_PERSON; d++) {
      own.push(await enrol(browser));
      await nextStep(running);
    }
    secrets.set(person, own);
    const ownKeys: SoftAuthenticator[] = [];
    if (sections.has('webauthn')) for (let d = 0; d < DEVICES_PER_PERSON; d++) ownKeys.push(await registerKey(browser, new URL(running.url).origin));
    keys.set(person, ownKeys);
  }

  const report = (label: string, concurrency: number, results: VerifyPass[]) => {
    const m = (pick: (r: VerifyPass) => number) => median(results.map(pick));
    console.log(
      `c=${concurrency}: ${results.reduce((s, r) => s + r.count, 0)} ${label} in ${passes} passes (${results.reduce((s, r) => s + r.failures, 0)} refused); ` +
        `latency p50 ${m((r) => r.p50).toFixed(1)} ms, p99 ${m((r) => r.p99).toFixed(1)} ms; Portico CPU ${m((r) => r.cpuMsPerVerification).toFixed(2)} ms per verification ` +
        `(per pass: ${results.map((r) => r.cpuMsPerVerification.toFixed(2)).join(', ')}); machine busy ${results.map((r) => `${(r.busy * 100).toFixed(0)}%`).join(', ')}`,
    );
  };

  if (sections.has('webauthn')) {
    console.log('\n## 3. WebAuthn assertion verification (POST /mfa/webauthn/authenticate, software P-256 key), per concurrency; medians over passes');
    for (const concurrency of [1, 8]) {
      const results: VerifyPass[] = [];
      for (let p = 0; p < passes; p++) {
        const workers = await Promise.all(
          Array.from({ length: concurrency }, async (_, w) => {
            const person = PEOPLE[w % PEOPLE.length] ?? '';
            const key = keys.get(person)?.[Math.floor(w / PEOPLE.length)];
            if (key === undefined) throw new Error(`no key for worker ${w}`);
            return { browser: await signIn(running.url, person), key };
          }),
        );
        results.push(await assertionPass(running, workers, Math.ceil(rounds / concurrency)));
      }
      report('assertions', concurrency, results);
    }
  }

  if (sections.has('totp')) console.log('\n## 1. TOTP verification (POST /mfa with a right code), per concurrency; medians over passes');
  for (const concurrency of sections.has('totp') ? [1, 8] : []) {
    const results: VerifyPass[] = [];
    for (let p = 0; p < passes; p++) {
      // Fresh sessions each pass: worker w is person w % 3 with device ⌊w / 3⌋.
      const workers = await Promise.all(
        Array.from({ length: concurrency }, async (_, w) => {
          const person = PEOPLE[w % PEOPLE.length] ?? '';
          return { browser: await signIn(running.url, person), secret: secrets.get(person)?.[Math.floor(w / PEOPLE.length)] ?? '' };
        }),
      );
      results.push(await verificationPass(running, workers, Math.ceil(rounds / concurrency)));
    }
    report('verifications', concurrency, results);
  }

  if (sections.has('saml')) {
    console.log(`\n## 2. SAML SP-initiated sign-in, c=1, with TOTP vs without, ${passes} alternating passes of ${signInsPerPass}`);
    const secret = secrets.get(PEOPLE[0] ?? '')?.[0] ?? '';
    // One of each untimed first (JIT records, caches).
    await samlSignIn(running.url, false, '');
    await nextStep(running);
    await samlSignIn(running.url, true, code(secret));
    const sides = { without: [] as Array<{ wallMs: number; cpuMs: number }>, with: [] as Array<{ wallMs: number; cpuMs: number }> };
    for (let p = 0; p < passes; p++) {
      const order: Array<'without' | 'with'> = p % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
      for (const side of order) sides[side].push(await signInPass(running, side === 'with', secret));
    }
    const wall = (side: 'without' | 'with') => median(sides[side].map((r) => r.wallMs));
    const cpu = (side: 'without' | 'with') => median(sides[side].map((r) => r.cpuMs));
    console.log(`without TOTP: ${wall('without').toFixed(1)} ms wall, Portico CPU ${cpu('without').toFixed(1)} ms per sign-in (passes: ${sides.without.map((r) => r.wallMs.toFixed(0)).join(', ')} ms)`);
    console.log(`with TOTP:    ${wall('with').toFixed(1)} ms wall, Portico CPU ${cpu('with').toFixed(1)} ms per sign-in (passes: ${sides.with.map((r) => r.wallMs.toFixed(0)).join(', ')} ms)`);
    console.log(`added by the second factor: ${(wall('with') - wall('without')).toFixed(1)} ms wall, ${(cpu('with') - cpu('without')).toFixed(1)} ms Portico CPU`);
  }
} finally {
  await portico?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
