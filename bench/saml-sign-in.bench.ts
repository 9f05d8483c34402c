/**
 * Complete SP-initiated SAML sign-ins per second against the test Samba DC (start it with
 * `bash test/samba/dc.sh start`), beside the raw bind rate of the same DC in the same run.
 *
 * One operation is what a browser does for a service provider that sends it to Portico with no
 * Portico session, over keep-alive HTTP with a cookie jar of its own (new for every operation, so
 * every sign-in binds and provisions the user just in time):
 *   1. GET /saml/sso?SAMLRequest=…&RelayState=… (HTTP-Redirect: a fresh AuthnRequest, new ID and
 *      IssueInstant each time, deflate-raw + base64 + URL-encoded) → 303 /sign-in?returnTo=/saml/continue?ref=…
 *   2. GET /sign-in?returnTo=… → 200, the form with its CSRF field and the CSRF cookie
 *   3. POST /sign-in (form: csrf, returnTo, username, password) → bind → mappings → JIT upsert +
 *      session + audit → access check → 200, the HTTP-POST page with the SAMLResponse (assertion
 *      signed RSA-SHA256, exclusive c14n: written in canonical form by canonical-signature.ts) and
 *      the session cookie. (Before 2026-11-27 04:44 a 303 to /saml/continue?ref=… and a fourth
 *      request; the bench follows it when it comes.)
 * Every SAMLResponse is checked cheaply (a ds:Signature, the bench SP's Audience, InResponseTo =
 * the request's ID); the first of each pass is also validated by @node-saml/node-saml (an
 * independent SP: signature against the IdP metadata's certificate, audience, times, destination),
 * after its timing, outside the pass's CPU readings.
 *
 * Portico is `node bin/portico.js start` in a child process (portico-process.ts) on a fresh SQLite
 * data directory, so its CPU time is its own (/proc/<pid>/stat, all threads). Before it starts, the
 * CLI sets `middleName=${dir:initials|""}` (only alice has initials) and issues an admin bootstrap
 * token; through the admin API the bench then registers the SP (entity ID
 * https://bench-sp.example.test, ACS http://127.0.0.1:9/acs) and assigns it to the group
 * Portico-Users, which the five users are in transitively.
 *
 * "raw" is ldapts alone in this process: `concurrency` already-open LDAPS connections rebinding in
 * a loop. Both sides cycle through the same users at the same concurrency in alternating passes
 * (the side that goes first alternates too); medians of the passes. Per operation: DC CPU (the
 * CORP DC's process tree, /proc), Portico's CPU (its process alone, all threads), this client's
 * CPU; the machine's busy share per pass (stderr). Portico's peak RSS is VmHWM of
 * /proc/<pid>/status, read before it stops.
 *
 * Before anything is measured: in this process, the cost of one RSA-2048 signature, of parsing the
 * PEM key, of `signCanonicalElement` (how Portico signs it) and of `signRoot` (the general
 * xml-crypto enveloped signature, for comparison) on the assertion Portico really sends.
 *
 * With --profile (or when Portico's CPU per sign-in is above the 2.5 ms target), a second Portico
 * runs under `--cpu-prof` on the same data directory for --profile-seconds at
 * --profile-concurrency; the measured window is summarised by cpu-profile.ts and by this file's
 * own grouping, which separates the SAML steps (AuthnRequest, Response building, and inside
 * `signRoot`: RSA, digests, c14n, XPath, xmldom) from the sign-in itself.
 *
 * Run: node --import tsx bench/saml-sign-in.bench.ts [--seconds 5] [--passes 5] [--concurrency 1,8,32]
 *        [--users alice,bob,carol,hank,jsmith] [--pool N] [--profile | --no-profile]
 *        [--profile-seconds 20] [--profile-concurrency 8] [--keep]
 */
import { X509Certificate, constants, createHash, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { signCanonicalElement } from '#src/federation/saml/canonical-signature.ts';
import { signRoot } from '#src/federation/saml/signature.ts';
import { generateSelfSignedCertificate } from '#src/shared/certificates.ts';
import { fixtureUser, sambaDirectoryEnv, sambaRuntime, type FixtureUser } from '../test/support/samba.ts';
import { components as baseComponents, originOf, printSummary, readCpuProfile, summariseCpuProfile, type CallFrame, type ProfileNode } from './cpu-profile.ts';
import { benchOptions, dcPids, healthzSide, rawBindSide, WrongPassword, type Side as BenchSide } from './bench-kit.ts';
import {
  busyShare,
  cpuSeconds,
  freePort,
  machineJiffies,
  median,
  percentile,
  porticoCli,
  startPortico,
  threadCpuDelta,
  threadCpuSeconds,
  type PorticoProcess,
} from './portico-process.ts';

const { option, num, flag } = benchOptions();
const seconds = num('seconds', 5);
const passes = num('passes', 5);
const levels = (option('concurrency') ?? '1,8,32').split(',').map(Number);
const userKeys = (option('users') ?? 'alice,bob,carol,hank,jsmith').split(',');
const poolSize = option('pool');
const profileSeconds = num('profile-seconds', 20);
const profileConcurrency = num('profile-concurrency', 8);
const forceProfile = flag('profile');
const noProfile = flag('no-profile');
const keep = flag('keep');
/** Portico's CPU budget per complete SAML sign-in (the issue's target). */
const cpuTargetMs = 2.5;

const SP_ENTITY_ID = 'https://bench-sp.example.test';
const SP_ACS_URL = 'http://127.0.0.1:9/acs';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

const dc = sambaRuntime();
const users: FixtureUser[] = userKeys.map((key) => {
  const user = fixtureUser(key);
  if (user.state !== 'ok') throw new Error(`fixture user ${key} is ${user.state}: only users whose sign-in succeeds are used`);
  return user;
});
const needsOptionalInitials = users.some((u) => u.key !== 'alice');


/** VmHWM and VmRSS of a process, in MiB. */
function memoryOf(pid: number): { hwm: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { hwm: kib('VmHWM') / 1024, rss: kib('VmRSS') / 1024 };
}

// ---------------------------------------------------------------- HTTP as a browser would, without one

interface Reply {
  status: number;
  location: string | undefined;
  setCookie: string[];
  body: string;
}

class CookieJar {
  readonly #cookies = new Map<string, string>();
  take(setCookie: string[]): void {
    for (const line of setCookie) {
      const pair = line.split(';')[0] ?? '';
      const at = pair.indexOf('=');
      if (at <= 0) continue;
      const name = pair.slice(0, at).trim();
      if (/;\s*max-age=0\b/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, pair.slice(at + 1).trim());
    }
  }
  header(): string | undefined {
    return this.#cookies.size === 0 ? undefined : [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  has(name: string): boolean {
    return this.#cookies.has(name);
  }
}

function exchange(agent: http.Agent, target: { host: string; port: number }, method: 'GET' | 'POST', path: string, jar: CookieJar, form?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { 'user-agent': 'portico-saml-bench' };
    const cookie = jar.header();
    if (cookie !== undefined) headers.cookie = cookie;
    if (form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = Buffer.byteLength(form);
    }
    const request = http.request({ agent, host: target.host, port: target.port, method, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const setCookie = response.headers['set-cookie'] ?? [];
        jar.take(setCookie);
        resolve({ status: response.statusCode ?? 0, location: response.headers.location, setCookie, body: Buffer.concat(chunks).toString('utf8') });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(form);
  });
}

const unescapeHtml = (value: string): string => value.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));
const hiddenField = (html: string, name: string): string | undefined => {
  const value = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html)?.[1];
  return value === undefined ? undefined : unescapeHtml(value);
};
/** The page's heading or first error line, for a failure label. */
const pageGist = (html: string): string => unescapeHtml(/<p class="error"[^>]*>([^<]*)</.exec(html)?.[1] ?? /<h1>([^<]*)</.exec(html)?.[1] ?? html.slice(0, 60)).trim();

// ---------------------------------------------------------------- the two sides


interface Side extends BenchSide<'raw' | 'saml' | 'healthz'> {
  /** Called once a pass has been timed and measured: checks what the pass kept aside, returns failure labels. */
  afterPass?(): Promise<string[]>;
  /** Called before a pass starts. */
  beforePass?(): void;
}


let requestCounter = 0;
const runTag = randomBytes(6).toString('hex');

/** A fresh AuthnRequest as an SP (node-saml's shape) sends it, in the HTTP-Redirect binding's query. */
function authnRequestQuery(porticoUrl: string): { id: string; query: string } {
  requestCounter += 1;
  const id = `_bench${runTag}${requestCounter.toString(36)}`;
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" ` +
    `IssueInstant="${new Date().toISOString()}" Destination="${porticoUrl}/saml/sso" ProtocolBinding="${HTTP_POST}" AssertionConsumerServiceURL="${SP_ACS_URL}">` +
    `<saml:Issuer>${SP_ENTITY_ID}</saml:Issuer><samlp:NameIDPolicy Format="${PERSISTENT}" AllowCreate="true"/></samlp:AuthnRequest>`;
  const samlRequest = encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'));
  return { id, query: `SAMLRequest=${samlRequest}&RelayState=${requestCounter.toString(36)}` };
}

interface SignedIn {
  samlResponse: string;
  relayState: string | undefined;
  requestId: string;
  user: FixtureUser;
}

interface SamlSide extends Side {
  /** One complete sign-in; the SAMLResponse and what it answers, or a failure label. */
  signIn(user: FixtureUser): Promise<SignedIn | string>;
  close(): void;
}

function samlSide(portico: PorticoProcess, concurrency: number, validator: SAML): SamlSide {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const { hostname, port } = new URL(portico.url);
  const target = { host: hostname, port: Number(port) };
  let keepNext = false;
  let kept: SignedIn | null = null;

  async function signIn(user: FixtureUser): Promise<SignedIn | string> {
    const jar = new CookieJar();
    const { id, query } = authnRequestQuery(portico.url);
    const sso = await exchange(agent, target, 'GET', `/saml/sso?${query}`, jar);
    if (sso.status !== 303 || !sso.location?.startsWith('/sign-in?')) return `sso ${sso.status} ${pageGist(sso.body)}`;
    const page = await exchange(agent, target, 'GET', sso.location, jar);
    const csrf = hiddenField(page.body, 'csrf');
    const returnTo = hiddenField(page.body, 'returnTo');
    if (page.status !== 200 || csrf === undefined || returnTo === undefined || !jar.has('portico_csrf')) return `sign-in page ${page.status} ${pageGist(page.body)}`;
    const form = new URLSearchParams({ csrf, returnTo, username: user.upn, password: user.password }).toString();
    const posted = await exchange(agent, target, 'POST', '/sign-in', jar, form);
    if (posted.status === 401) throw new WrongPassword(`Portico refused ${user.upn}: ${pageGist(posted.body)}`);
    if (!jar.has('portico_session')) return `sign-in ${posted.status} ${pageGist(posted.body)}`;
    // The answer to the form is the POST page itself (older Portico: a redirect to /saml/continue).
    const done = posted.status === 303 && posted.location === returnTo ? await exchange(agent, target, 'GET', posted.location, jar) : posted;
    const samlResponse = hiddenField(done.body, 'SAMLResponse');
    if (done.status !== 200 || samlResponse === undefined) return `continue ${done.status} ${pageGist(done.body)}`;
    return { samlResponse, relayState: hiddenField(done.body, 'RelayState'), requestId: id, user };
  }

  return {
    name: 'saml',
    signIn,
    beforePass: () => {
      keepNext = true;
      kept = null;
    },
    async operate(_worker, user) {
      const result = await signIn(user);
      if (typeof result === 'string') return result;
      // The cheap check, on every response: signed, for this SP, answering this request.
      const xml = Buffer.from(result.samlResponse, 'base64').toString('utf8');
      if (!xml.includes('<ds:Signature')) return 'SAMLResponse without ds:Signature';
      if (!xml.includes(`<saml:Audience>${SP_ENTITY_ID}</saml:Audience>`)) return 'SAMLResponse for another audience';
      if (!xml.includes(`InResponseTo="${result.requestId}"`)) return 'SAMLResponse answering another request';
      if (keepNext) {
        keepNext = false;
        kept = result;
      }
      return null;
    },
    async afterPass() {
      const signedIn = kept;
      kept = null;
      if (signedIn === null) return ['no SAMLResponse kept for validation'];
      const problem = await validate(validator, signedIn);
      return problem === null ? [] : [problem];
    },
    close: () => agent.destroy(),
  };
}

/** node-saml's verdict on a response (null when it accepts it for the right user). */
async function validate(validator: SAML, signedIn: SignedIn): Promise<string | null> {
  try {
    const { profile } = await validator.validatePostResponseAsync({ SAMLResponse: signedIn.samlResponse, ...(signedIn.relayState === undefined ? {} : { RelayState: signedIn.relayState }) });
    if (profile === null) return 'node-saml: no profile';
    if (profile.inResponseTo !== signedIn.requestId) return `node-saml: InResponseTo ${String(profile.inResponseTo)}`;
    if (!/^[\w-]{43}$/.test(profile.nameID)) return `node-saml: NameID ${profile.nameID}`;
    return null;
  } catch (error) {
    return `node-saml refused: ${(error as Error).message}`;
  }
}


// ---------------------------------------------------------------- one pass

interface Pass {
  ops: number;
  perSecond: number;
  p50: number;
  p99: number;
  dcCpuMs: number;
  porticoCpuMs: number;
  clientCpuMs: number;
  machineBusy: number;
  failures: Map<string, number>;
  /** Responses node-saml validated after the pass (0 or 1). */
  validated: number;
  porticoThreads: Map<string, number>;
}

async function pass(side: Side, concurrency: number, porticoPid: number, durationSeconds = seconds): Promise<Pass> {
  let next = 0;
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  const count = (label: string): void => {
    failures.set(label, (failures.get(label) ?? 0) + 1);
  };
  side.beforePass?.();
  const jiffies = machineJiffies();
  const dcBefore = cpuSeconds(dcPids(dc));
  const porticoBefore = cpuSeconds([porticoPid]);
  const threadsBefore = threadCpuSeconds(porticoPid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const user = users[next % users.length] as FixtureUser;
        next += 1;
        const t0 = performance.now();
        let failure: string | null;
        try {
          failure = await side.operate(worker, user);
        } catch (error) {
          if (error instanceof WrongPassword) throw error;
          failure = `http ${(error as Error).message}`;
        }
        latencies.push(performance.now() - t0);
        if (failure !== null) count(failure);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const dcAfter = cpuSeconds(dcPids(dc));
  const porticoAfter = cpuSeconds([porticoPid]);
  const threadsAfter = threadCpuSeconds(porticoPid);
  const jiffiesAfter = machineJiffies();
  // Outside the timed window and the CPU readings: node-saml's check of the response kept aside.
  const problems = side.afterPass ? await side.afterPass() : [];
  for (const problem of problems) count(problem);
  const ops = latencies.length;
  return {
    ops,
    perSecond: ops / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    dcCpuMs: ((dcAfter - dcBefore) * 1000) / ops,
    porticoCpuMs: ((porticoAfter - porticoBefore) * 1000) / ops,
    clientCpuMs: (client.user + client.system) / 1000 / ops,
    machineBusy: busyShare(jiffies, jiffiesAfter),
    failures,
    validated: side.afterPass && problems.length === 0 ? 1 : 0,
    porticoThreads: threadCpuDelta(threadsBefore, threadsAfter),
  };
}

function logPass(concurrency: number, index: number, side: string, p: Pass): void {
  const failed = [...p.failures.values()].reduce((a, b) => a + b, 0);
  process.stderr.write(
    `c=${concurrency} pass ${index + 1}/${passes} ${side.padEnd(7)} ${p.perSecond.toFixed(1).padStart(7)}/s  p50 ${p.p50.toFixed(1)} ms  p99 ${p.p99.toFixed(1)} ms  ` +
      `DC ${p.dcCpuMs.toFixed(2)} ms/op  Portico ${p.porticoCpuMs.toFixed(3)} ms/op  client ${p.clientCpuMs.toFixed(3)} ms/op  machine ${(p.machineBusy * 100).toFixed(0)}% busy  ops ${p.ops}  failures ${failed}` +
      `${failed > 0 ? ` (${[...p.failures].map(([l, c]) => `${l} × ${c}`).join('; ')})` : ''}\n`,
  );
}

// ---------------------------------------------------------------- signing, in this process

/** Median of `rounds` timings of `n` calls, in µs per call (wall clock; this process is single-threaded here). */
function timeIt(n: number, rounds: number, work: () => void): number {
  const results: number[] = [];
  for (let r = 0; r < rounds; r += 1) {
    const t0 = performance.now();
    for (let i = 0; i < n; i += 1) work();
    results.push(((performance.now() - t0) * 1000) / n);
  }
  return median(results);
}

/** What one signature costs here, on the assertion Portico really sent (signature removed, re-signed with a key of the same size). */
function calibrateSigning(samlResponse: string): void {
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)?.[0];
  if (assertion === undefined) throw new Error('the SAMLResponse carries no plain saml:Assertion');
  const unsigned = assertion.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '');
  const { keyPem, certPem } = generateSelfSignedCertificate({ commonName: 'bench signing', altNames: [], validDays: 1 });
  const key = createPrivateKey(keyPem);
  const signedInfo = /<ds:SignedInfo[\s\S]*?<\/ds:SignedInfo>/.exec(assertion)?.[0] ?? 'x'.repeat(600);
  const credential = { keyPem, certificate: certPem };
  // Warm (JIT, and privateKeyOf's cache of the parsed key) before timing.
  for (let i = 0; i < 50; i += 1) signRoot(unsigned, 'Assertion', credential);
  const rsa = timeIt(200, 5, () => sign('sha256', Buffer.from(signedInfo), { key, padding: constants.RSA_PKCS1_PADDING }));
  const parse = timeIt(200, 5, () => createPrivateKey(keyPem));
  const certificate = timeIt(200, 5, () => new X509Certificate(certPem));
  const digest = timeIt(200, 5, () => createHash('sha256').update(unsigned).digest('base64'));
  const whole = timeIt(200, 5, () => signRoot(unsigned, 'Assertion', credential));
  const assertionId = /ID="([^"]+)"/.exec(unsigned)?.[1] ?? '';
  const canonical = timeIt(200, 5, () => signCanonicalElement({ xml: unsigned, id: assertionId, signatureAfter: '</saml:Issuer>', inclusivePrefixes: ['xs', 'xsi'] }, credential));
  console.log(
    `\nSigning in this process (median of 5 × 200, µs per call): RSA-2048 PKCS#1 v1.5 SHA-256 signature over the SignedInfo (${signedInfo.length} bytes) ${rsa.toFixed(0)}; ` +
      `parsing the PEM private key ${parse.toFixed(0)} (Portico parses it once: keys.ts privateKeyOf); parsing the X.509 certificate ${certificate.toFixed(0)}; ` +
      `SHA-256 of the ${unsigned.length}-byte unsigned assertion ${digest.toFixed(0)}; ` +
      `signCanonicalElement (Portico's) on it ${canonical.toFixed(0)}; signRoot (xml-crypto, for comparison) ${whole.toFixed(0)}, i.e. ${(whole - rsa).toFixed(0)} µs of XML signature work around the RSA operation.`,
  );
}

// ---------------------------------------------------------------- the run

const dataDir = mkdtempSync(join(tmpdir(), 'portico-bench-saml-sign-in-'));
const cliEnv: Record<string, string> = { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'warn' };
const env: Record<string, string> = {
  ...cliEnv,
  ...sambaDirectoryEnv(dc),
  ...(poolSize ? { PORTICO_DIRECTORY__POOL__SIZE: poolSize } : {}),
};

async function adminApi<T>(portico: PorticoProcess, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${portico.url}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} /admin/api${path}: ${response.status} ${text.slice(0, 300)}`);
  return (text === '' ? {} : JSON.parse(text)) as T;
}

/** The SP as node-saml sees it, trusting the certificate of Portico's metadata. */
async function spValidator(portico: PorticoProcess): Promise<SAML> {
  const metadata = await (await fetch(`${portico.url}/saml/metadata`)).text();
  const idpCert = /<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(metadata)?.[1];
  if (idpCert === undefined) throw new Error('the IdP metadata carries no certificate');
  return new SAML({
    callbackUrl: SP_ACS_URL,
    entryPoint: `${portico.url}/saml/sso`,
    issuer: SP_ENTITY_ID,
    audience: SP_ENTITY_ID,
    idpIssuer: `${portico.url}/saml/metadata`,
    idpCert,
    identifierFormat: PERSISTENT,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    validateInResponseTo: ValidateInResponseTo.never,
  });
}

/** Each user once (JIT creates their records), each answer validated by node-saml; returns one response for the calibration. */
async function warmUp(portico: PorticoProcess, validator: SAML): Promise<string> {
  const side = samlSide(portico, 1, validator);
  let sample = '';
  for (const user of users) {
    const result = await side.signIn(user);
    if (typeof result === 'string') throw new Error(`the first SAML sign-in of ${user.upn} failed: ${result}`);
    const problem = await validate(validator, result);
    if (problem !== null) throw new Error(`the first SAMLResponse for ${user.upn} is not valid: ${problem}`);
    sample ||= result.samlResponse;
  }
  side.close();
  console.log(`First sign-in of each user: a SAMLResponse node-saml accepts (signed assertion, audience ${SP_ENTITY_ID}, InResponseTo) for ${users.map((u) => u.key).join(', ')}.`);
  return sample;
}

interface Row {
  concurrency: number;
  raw: Pass[];
  saml: Pass[];
  /** Portico's VmHWM after this level (MiB). */
  hwm: number;
}

const medianOf = (runs: Pass[], pick: (p: Pass) => number): number => median(runs.map(pick));
const failedIn = (runs: Pass[]): number => runs.reduce((sum, p) => sum + [...p.failures.values()].reduce((a, b) => a + b, 0), 0);

function printTable(rows: Row[]): void {
  console.log(`\n## Complete SP-initiated SAML sign-ins per second (${seconds} s per pass, ${passes} alternating passes, medians)\n`);
  console.log(
    `| concurrency | raw binds/s | SAML sign-ins/s | ratio | sign-in p50 / p99 ms | raw bind p50 / p99 ms | Portico CPU ms per sign-in (target ≤ ${cpuTargetMs}) | DC CPU ms per raw bind | DC CPU ms per sign-in | client CPU ms per op (raw / sign-in) | failures (raw / sign-in) | responses node-saml validated |`,
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { concurrency, raw, saml } of rows) {
    const rawRate = medianOf(raw, (p) => p.perSecond);
    const rate = medianOf(saml, (p) => p.perSecond);
    const cpu = medianOf(saml, (p) => p.porticoCpuMs);
    console.log(
      `| ${concurrency} | ${rawRate.toFixed(1)} | ${rate.toFixed(1)} | ${(rate / rawRate).toFixed(2)} | ${medianOf(saml, (p) => p.p50).toFixed(1)} / ${medianOf(saml, (p) => p.p99).toFixed(1)} | ` +
        `${medianOf(raw, (p) => p.p50).toFixed(1)} / ${medianOf(raw, (p) => p.p99).toFixed(1)} | ${cpu.toFixed(2)} ${cpu <= cpuTargetMs ? '✓' : '✗'} | ` +
        `${medianOf(raw, (p) => p.dcCpuMs).toFixed(1)} | ${medianOf(saml, (p) => p.dcCpuMs).toFixed(1)} | ${medianOf(raw, (p) => p.clientCpuMs).toFixed(2)} / ${medianOf(saml, (p) => p.clientCpuMs).toFixed(2)} | ` +
        `${failedIn(raw)} / ${failedIn(saml)} | ${saml.reduce((s, p) => s + p.validated, 0)} of ${saml.length} |`,
    );
  }
  const all = new Map<string, number>();
  for (const row of rows) for (const p of [...row.raw, ...row.saml]) for (const [label, count] of p.failures) all.set(label, (all.get(label) ?? 0) + count);
  const total = rows.reduce((sum, row) => sum + [...row.raw, ...row.saml].reduce((s, p) => s + p.ops, 0), 0);
  const signIns = rows.reduce((sum, row) => sum + row.saml.reduce((s, p) => s + p.ops, 0), 0);
  console.log(
    `\n${total} operations measured (${signIns} SAML sign-ins, ${signIns * 3} HTTP requests to Portico); ${all.size === 0 ? 'every sign-in ended in a signed SAMLResponse and every raw bind succeeded.' : `failures: ${[...all].map(([l, c]) => `${l} × ${c}`).join(', ')}`}`,
  );
  console.log('\nPortico CPU per sign-in by thread (ms, sums over the sign-in passes divided by their sign-ins):\n');
  for (const { concurrency, saml } of rows) {
    const sums = new Map<string, number>();
    for (const p of saml) for (const [name, s] of p.porticoThreads) sums.set(name, (sums.get(name) ?? 0) + s);
    const ops = saml.reduce((sum, p) => sum + p.ops, 0);
    const parts = [...sums].filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]).map(([name, s]) => `${name} ${((s * 1000) / ops).toFixed(2)}`);
    console.log(`- c=${concurrency}: ${parts.join(', ')}`);
  }
  console.log(`\nMachine busy during the sign-in passes: ${rows.map((r) => `c=${r.concurrency} ${r.saml.map((p) => (p.machineBusy * 100).toFixed(0)).join('/')}%`).join(', ')}.`);
  console.log(`Portico CPU while the raw side ran (its idle cost): ${rows.map((r) => `c=${r.concurrency} ${medianOf(r.raw, (p) => p.porticoCpuMs * p.perSecond).toFixed(1)} ms/s`).join(', ')}.`);
  console.log(`Portico peak RSS (VmHWM) after each level: ${rows.map((r) => `c=${r.concurrency} ${r.hwm.toFixed(0)} MiB`).join(', ')}.`);
}

// ---------------------------------------------------------------- where the time goes


const repo = fileURLToPath(new URL('..', import.meta.url));
const pathOf = (url: string): string => (url.startsWith('file://') ? relative(repo, fileURLToPath(url)) : url);
const frameName = (f: CallFrame): string => {
  const path = pathOf(f.url).replace(/^.*node_modules\//, '');
  return `${f.functionName || '(anonymous)'}${f.url === '' ? '' : ` ${path}:${f.lineNumber + 1}`}`;
};

/**
 * The parts of `signRoot` (src/federation/saml/signature.ts), by the frames below it on the
 * stack: first the rules that look for a function anywhere below signRoot (a certificate parse,
 * the RSA operation, xml-crypto's copy of the element, the serialisation of the result), then the
 * nearest frame from the leaf up that names a library.
 */
const signingParts: Array<{ name: string; anywhere?: (f: CallFrame) => boolean; nearest?: (f: CallFrame, origin: string) => boolean }> = [
  { name: 'certificate parsed again for KeyInfo (xml-crypto getKeyInfoContent → X509Certificate)', anywhere: (f) => f.url === 'node:internal/crypto/x509' || f.functionName === 'certificatesToPublish' },
  { name: 'RSA-SHA256 signature (node:crypto Sign)', anywhere: (f) => f.url === 'node:internal/crypto/sig' },
  { name: 'xmldom cloneNode (xml-crypto copies the signed element for the transforms)', anywhere: (f) => f.functionName === 'cloneNode' && originOf(f) === 'npm:@xmldom/xmldom' },
  { name: 'serialising the signed document (getSignedXml → xmldom toString)', anywhere: (f) => f.functionName === 'getSignedXml' },
  { name: 'SHA-256 digests (node:crypto Hash)', nearest: (f) => f.url === 'node:internal/crypto/hash' },
  { name: 'key objects (node:crypto keys)', nearest: (f) => f.url === 'node:internal/crypto/keys' },
  { name: 'exclusive c14n (xml-crypto)', nearest: (f, o) => o === 'npm:xml-crypto' && /canonicalization/.test(f.url) },
  { name: 'XPath (npm:xpath, for xml-crypto)', nearest: (_f, o) => o === 'npm:xpath' },
  { name: 'xmldom parse (sax, dom-parser)', nearest: (f, o) => o === 'npm:@xmldom/xmldom' && /(sax|dom-parser)\.js/.test(f.url) },
  { name: 'xmldom DOM (insertions, lookups)', nearest: (_f, o) => o === 'npm:@xmldom/xmldom' },
  { name: 'xml-crypto signed-xml (SignedInfo, references, placement)', nearest: (_f, o) => o === 'npm:xml-crypto' },
  { name: 'certificate PEM handling (keys.ts)', nearest: (_f, o) => o === 'src/federation/saml/keys.ts' },
];

function signingPart(below: CallFrame[]): string {
  for (const part of signingParts) if (part.anywhere && below.some(part.anywhere)) return part.name;
  for (const f of below) {
    const origin = originOf(f);
    const part = signingParts.find((p) => p.nearest?.(f, origin));
    if (part) return part.name;
  }
  return 'other under signRoot (natives, builtins)';
}

/** Components of a complete SAML sign-in; the SAML steps by the function on the stack, the rest by the nearest owner. */
const samlComponents: Array<{ name: string; test: (origin: string) => boolean }> = [
  { name: 'portal routes and POST page (src/portal)', test: (o) => o.startsWith('src/portal/') },
  { name: 'federation and access decisions (src/federation, src/access)', test: (o) => o.startsWith('src/federation/') || o.startsWith('src/access/') },
  { name: 'sign-in pages, CSRF, cookies (src/auth/http)', test: (o) => o.startsWith('src/auth/http/') },
  ...baseComponents,
];

interface Grouped {
  busyUs: number;
  components: Map<string, { us: number; items: Map<string, number> }>;
  signing: Map<string, { us: number; items: Map<string, number> }>;
  signingUs: number;
}

function groupProfile(file: string, window: { fromMs: number; toMs: number }): Grouped {
  const { byId, parentOf, selfUs } = readCpuProfile(file, window);
  const grouped: Grouped = { busyUs: 0, components: new Map(), signing: new Map(), signingUs: 0 };
  const add = (map: Grouped['components'], name: string, item: string, us: number): void => {
    const entry = map.get(name) ?? { us: 0, items: new Map<string, number>() };
    entry.us += us;
    entry.items.set(item, (entry.items.get(item) ?? 0) + us);
    map.set(name, entry);
  };
  for (const [id, us] of selfUs) {
    const leaf = (byId.get(id) as ProfileNode).callFrame;
    if (leaf.functionName === '(idle)') continue;
    grouped.busyUs += us;
    const stack: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) stack.push((byId.get(at) as ProfileNode).callFrame);
    const item = frameName(leaf);
    const onStack = (path: string, fn: string): number => stack.findIndex((f) => f.functionName === fn && pathOf(f.url) === path);
    const canonicalSigner = onStack('src/federation/saml/canonical-signature.ts', 'signCanonicalElement');
    const signer = canonicalSigner >= 0 ? canonicalSigner : onStack('src/federation/saml/signature.ts', 'signRoot');
    if (signer >= 0) {
      grouped.signingUs += us;
      add(grouped.signing, signingPart(stack.slice(0, signer)), item, us);
      add(grouped.components, 'SAML: signing the assertion (signCanonicalElement, or xml-crypto signRoot)', item, us);
      continue;
    }
    if (onStack('src/federation/saml/response.ts', 'buildResponse') >= 0) {
      add(grouped.components, 'SAML: building the Response (XML strings, NameID HMAC, base64)', item, us);
      continue;
    }
    if (onStack('src/federation/saml/authn-request.ts', 'acceptAuthnRequest') >= 0 || onStack('src/federation/saml/binding.ts', 'decodeRedirect') >= 0) {
      add(grouped.components, 'SAML: AuthnRequest (inflate, xmldom parse, checks, replay cache)', item, us);
      continue;
    }
    let owner: string | undefined;
    for (const f of stack) {
      owner = samlComponents.find((c) => c.test(originOf(f)))?.name;
      if (owner !== undefined) break;
    }
    add(grouped.components, owner ?? (leaf.url === '' && leaf.functionName.startsWith('(') ? leaf.functionName : 'other Node internals (socket reads, timers, event loop)'), item, us);
  }
  return grouped;
}

function printGrouped(grouped: Grouped, signIns: number): void {
  const per = (us: number): string => (us / signIns).toFixed(1);
  const top = (items: Map<string, number>, n: number): string =>
    [...items]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => `\`${name}\` ${per(us)}`)
      .join('; ');
  console.log(`\n### Where Portico's main thread goes, by component (µs per complete sign-in; busy ${per(grouped.busyUs)} µs sampled per sign-in)\n`);
  console.log('| component | µs per sign-in | share | largest self-time items (µs per sign-in) |');
  console.log('|---|---:|---:|---|');
  for (const [name, entry] of [...grouped.components].sort((a, b) => b[1].us - a[1].us)) {
    console.log(`| ${name} | ${per(entry.us)} | ${((entry.us / grouped.busyUs) * 100).toFixed(1)}% | ${top(entry.items, 4)} |`);
  }
  console.log(`\n### Inside signRoot (${per(grouped.signingUs)} µs per sign-in, ${((grouped.signingUs / grouped.busyUs) * 100).toFixed(1)}% of the main thread)\n`);
  console.log('| part (nearest frame below signRoot) | µs per sign-in | share of signRoot | largest self-time items (µs per sign-in) |');
  console.log('|---|---:|---:|---|');
  for (const [name, entry] of [...grouped.signing].sort((a, b) => b[1].us - a[1].us)) {
    console.log(`| ${name} | ${per(entry.us)} | ${((entry.us / grouped.signingUs) * 100).toFixed(1)}% | ${top(entry.items, 3)} |`);
  }
}

async function profile(validator: SAML): Promise<void> {
  const profileDir = join(dataDir, 'cpu-profile');
  const port = await freePort();
  const portico = await startPortico(env, port, ['--cpu-prof', '--cpu-prof-dir', profileDir]);
  const spawnedAt = performance.now() - portico.startMs;
  // The entity ID of the IdP follows the listening address: the validator must know this Portico's.
  const profiledValidator = await spValidator(portico).catch(() => validator);
  const side = samlSide(portico, profileConcurrency, profiledValidator);
  await pass(side, profileConcurrency, portico.pid, 2); // warm-up under the profiler
  const fromMs = performance.now() - spawnedAt;
  const measured = await pass(side, profileConcurrency, portico.pid, profileSeconds);
  const toMs = performance.now() - spawnedAt;
  side.close();
  await portico.stop();
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
  const failed = [...measured.failures.values()].reduce((a, b) => a + b, 0);
  console.log(
    `\n## Where Portico's CPU goes (--cpu-prof, c=${profileConcurrency}, ${profileSeconds} s: ${measured.ops} SAML sign-ins at ${measured.perSecond.toFixed(1)}/s, ` +
      `${measured.porticoCpuMs.toFixed(2)} ms of process CPU per sign-in under the profiler (main thread ${(((measured.porticoThreads.get('main thread') ?? 0) * 1000) / measured.ops).toFixed(2)} ms), ${failed} failures; profile ${join(profileDir, file)})`,
  );
  printGrouped(groupProfile(join(profileDir, file), { fromMs, toMs }), measured.ops);
  printSummary(summariseCpuProfile(join(profileDir, file), { fromMs, toMs }), 30, { count: measured.ops, label: 'sign-in' });
}

console.log(
  `# SAML sign-in benchmark — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at start, DC ${dc.ldapsUrl} (Samba, LDAPS; DC CPU: pids ${dcPids(dc).join(',')})`,
);
console.log(
  `Users: ${users.map((u) => `${u.upn} (${u.memberOf.length} direct groups)`).join(', ')}; mappings: ${needsOptionalInitials ? 'default table with middleName=${dir:initials|""}' : 'default table'}; Portico directory pool: ${poolSize ?? 'default'}; SP ${SP_ENTITY_ID}, assigned to Portico-Users@${dc.domain}.`,
);

let portico: PorticoProcess | null = null;
try {
  // The first start would print its token on stderr, which portico-process.ts passes on without keeping: issue one now.
  const { token } = JSON.parse(await porticoCli(['admin', 'bootstrap-token', '--reset', '--json'], cliEnv)) as { token: string };
  portico = await startPortico(env, await freePort());
  // `mappings set` goes through the admin API of the running Portico.
  if (needsOptionalInitials) await porticoCli(['mappings', 'set', 'middleName=${dir:initials|""}'], { ...cliEnv, PORTICO_URL: portico.url, PORTICO_ADMIN_TOKEN: token });
  console.log(`Portico pid ${portico.pid} at ${portico.url}, ready in ${(portico.startMs / 1000).toFixed(1)} s; data ${dataDir}`);
  const status = (await (await fetch(`${portico.url}/status`)).json()) as { directory: { state: string } };
  if (status.directory.state !== 'connected') throw new Error(`the directory is ${status.directory.state}: ${JSON.stringify(status)}`);
  const application = await adminApi<{ id: string }>(portico, token, 'POST', '/applications', { name: 'Bench SP', entityId: SP_ENTITY_ID, acsUrls: [SP_ACS_URL] });
  await adminApi(portico, token, 'POST', '/assignments', { principal: { type: 'group', id: `Portico-Users@${dc.domain}` }, target: { type: 'application', applicationId: application.id } });
  const validator = await spValidator(portico);
  const sample = await warmUp(portico, validator);
  calibrateSigning(sample);
  const startMemory = memoryOf(portico.pid);
  console.log(`Portico memory after start and warm-up: VmRSS ${startMemory.rss.toFixed(0)} MiB, VmHWM ${startMemory.hwm.toFixed(0)} MiB.`);

  const rows: Row[] = [];
  for (const concurrency of levels) {
    const raw = await rawBindSide(dc, users, concurrency);
    const signIns = samlSide(portico, concurrency, validator);
    // Untimed warm-up at this concurrency: TLS sessions, pool connections, JIT, HTTP sockets.
    await pass(raw, concurrency, portico.pid, 1);
    await pass(signIns, concurrency, portico.pid, 1);
    const row: Row = { concurrency, raw: [], saml: [], hwm: 0 };
    for (let i = 0; i < passes; i += 1) {
      const order = i % 2 === 0 ? [raw, signIns] : [signIns, raw];
      for (const side of order) {
        const result = await pass(side, concurrency, portico.pid);
        logPass(concurrency, i, side.name, result);
        (side === raw ? row.raw : row.saml).push(result);
      }
    }
    row.hwm = memoryOf(portico.pid).hwm;
    rows.push(row);
    await raw.close();
    signIns.close();
  }
  printTable(rows);
  const floor = healthzSide(portico, 8);
  await pass(floor, 8, portico.pid, 1);
  const healthz = await pass(floor, 8, portico.pid, 3);
  floor.close();
  console.log(
    `HTTP floor: GET /healthz on the same keep-alive client, c=8, 3 s: ${healthz.perSecond.toFixed(0)}/s, Portico CPU ${(healthz.porticoCpuMs * 1000).toFixed(0)} µs per request (a SAML sign-in makes 3 requests).`,
  );
  const memory = memoryOf(portico.pid);
  console.log(`Portico peak RSS (VmHWM) over the whole run: ${memory.hwm.toFixed(0)} MiB (VmRSS at the end ${memory.rss.toFixed(0)} MiB).`);
  const worst = Math.max(...rows.map((r) => medianOf(r.saml, (p) => p.porticoCpuMs)));
  await portico.stop();
  portico = null;
  if (forceProfile || (!noProfile && worst > cpuTargetMs)) await profile(validator);
} catch (error) {
  process.exitCode = 1;
  console.error(error instanceof WrongPassword ? `stopped: ${error.message} (no further binds, to stay clear of the lockout threshold)` : error);
} finally {
  await portico?.stop();
  if (keep) console.log(`data directory kept: ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}
