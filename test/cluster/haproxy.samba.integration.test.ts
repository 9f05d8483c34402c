/**
 * Several Portico instances on one PostgreSQL database behind a real load balancer (issue 15):
 * Debian's haproxy on loopback, round-robin, in front of three `portico start` processes, with
 * the Samba AD DC as identity source and @node-saml/node-saml as the service provider.
 *
 * Proves that no cross-request state lives in one process: an SP-initiated sign-in whose three
 * steps land on three instances, a replay refused by another instance, the throttle counted
 * across instances, an admin change and a signing-key rotation seen by all within a second; and
 * that the cluster survives `kill -9` of an instance under load and a rolling restart (SIGTERM,
 * graceful) without failed sign-ins. Figures are printed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { freePort } from '../../bench/portico-process.ts';
import { postgresTarget, type TestDatabase } from '../contract/databases.ts';
import { fixtureUser, sambaDirectoryEnv, sambaRuntime } from '../support/samba.ts';
import { postedForm } from '../support/saml-http.ts';
import { randomSecretKey, startHaproxy, startInstance, type Haproxy, type Instance } from './cluster.ts';

const alice = fixtureUser('alice'); // Eng-Platform-SRE → Eng-Platform → Eng-All
// The load signs in the fixture's enabled users with their right passwords (never a wrong one):
// at most two at once per user, below the per-user throttle's slots (an attempt in flight holds one).
const loadUsers = ['alice', 'bob', 'carol', 'zoe', 'jsmith', 'hank', 'greg', 'ursula'].map(fixtureUser);
const WIKI = 'https://wiki.cluster.test/saml';
const WIKI_ACS = 'http://127.0.0.1:9/wiki/acs';
const NAMES = ['p1', 'p2', 'p3'] as const;
type Name = (typeof NAMES)[number];

const target = postgresTarget();
let database: TestDatabase;
let dataDir: string;
let haproxy: Haproxy;
let env: Record<string, string>;
const ports = new Map<Name, number>();
const instances = new Map<Name, Instance>();
let token = '';

interface Answer {
  status: number;
  servedBy: string | null;
  location: string | null;
  text: string;
  cookie: string | null;
}

/** A request through haproxy; `to` pins it to one instance. */
async function via(to: Name | null, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const response = await fetch(`${haproxy.url}${path}`, {
    method: init.method ?? 'GET',
    redirect: 'manual',
    headers: { ...(to ? { 'x-portico-backend': to } : {}), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: response.status, servedBy: response.headers.get('x-served-by'), location: response.headers.get('location'), text: await response.text(), cookie: response.headers.get('set-cookie')?.split(';')[0] ?? null };
}

async function admin<T = Record<string, unknown>>(to: Name, method: string, path: string, body?: unknown, expected = method === 'POST' ? 201 : 200): Promise<T> {
  const answer = await via(to, `/admin/api${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  assert.equal(answer.status, expected, `${method} ${path} on ${to}: ${answer.text.slice(0, 300)}`);
  assert.equal(answer.servedBy, to);
  return JSON.parse(answer.text) as T;
}

const signIn = (to: Name | null, username: string, password: string) =>
  via(to, '/api/sign-in', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });

function sp(idpCert: string, issuer = WIKI): SAML {
  return new SAML({
    callbackUrl: WIKI_ACS,
    entryPoint: `${haproxy.url}/saml/sso`,
    issuer,
    audience: issuer,
    idpIssuer: `${haproxy.url}/saml/metadata`,
    idpCert,
    signatureAlgorithm: 'sha256',
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    validateInResponseTo: ValidateInResponseTo.never,
  });
}

const certificatesIn = (metadata: string) => [...metadata.matchAll(/<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/g)].map((m) => m[1] ?? '');
const pathOf = (url: string) => url.replace(haproxy.url, '');

async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > ms) assert.fail(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function start(name: Name): Promise<Instance> {
  const instance = await startInstance(name, ports.get(name) ?? 0, env);
  instances.set(name, instance);
  return instance;
}

/** haproxy's health check marks an instance up again within a check or two. */
async function upInHaproxy(name: Name): Promise<void> {
  await within(5000, async () => (await via(name, '/healthz')).servedBy === name);
}

interface Load {
  ok: number;
  failed: number;
  failures: string[];
  byServer: Map<string, number>;
  latencies: number[];
  inFlight: () => number;
  stop(): Promise<void>;
}

/** `concurrency` workers signing alice in through haproxy (unpinned) until stopped. */
function load(concurrency: number): Load {
  let running = true;
  let inFlight = 0;
  const result: Load = { ok: 0, failed: 0, failures: [], byServer: new Map(), latencies: [], inFlight: () => inFlight, stop: () => Promise.resolve() };
  const workers = Array.from({ length: concurrency }, async (_, worker) => {
    const user = loadUsers[worker % loadUsers.length] ?? alice;
    while (running) {
      inFlight += 1;
      const started = performance.now();
      try {
        const answer = await signIn(null, user.upn, user.password);
        if (answer.status === 200 && answer.cookie !== null) result.ok += 1;
        else {
          result.failed += 1;
          result.failures.push(`${answer.status} from ${answer.servedBy}: ${answer.text.slice(0, 120)}`);
        }
        result.byServer.set(answer.servedBy ?? '?', (result.byServer.get(answer.servedBy ?? '?') ?? 0) + 1);
      } catch (error) {
        result.failed += 1;
        result.failures.push(String(error));
      } finally {
        inFlight -= 1;
        result.latencies.push(performance.now() - started);
      }
    }
  });
  result.stop = async () => {
    running = false;
    await Promise.all(workers);
  };
  return result;
}

function figures(label: string, run: Load, seconds: number): string {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  const p = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN);
  return `${label}: ${run.ok} sign-ins ok, ${run.failed} failed in ${seconds.toFixed(1)} s (${(run.ok / seconds).toFixed(1)}/s), p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, by instance ${JSON.stringify(Object.fromEntries(run.byServer))}`;
}

before(async () => {
  const dc = sambaRuntime();
  database = await target.open({ migrate: false });
  if (database.config.driver !== 'postgres') throw new Error('unreachable: the PostgreSQL target');
  const { url, schema } = database.config.postgres;
  dataDir = mkdtempSync(join(tmpdir(), 'portico-cluster-'));
  for (const name of NAMES) ports.set(name, await freePort());
  const proxyPort = await freePort();
  env = {
    PORTICO_DATA_DIR: dataDir,
    PORTICO_LOG__LEVEL: 'warn',
    PORTICO_DATABASE__DRIVER: 'postgres',
    PORTICO_DATABASE__POSTGRES__URL: url,
    PORTICO_DATABASE__POSTGRES__SCHEMA: schema ?? '',
    PORTICO_DATABASE__POSTGRES__POOLSIZE: '4',
    // Every instance needs the same instance key (sealed secrets, CSRF tokens, NameIDs).
    PORTICO_SECRETS__KEY: randomSecretKey(),
    PORTICO_HTTP__PUBLICURL: `http://127.0.0.1:${proxyPort}`,
    PORTICO_HTTP__TRUSTEDPROXIES: JSON.stringify(['loopback']),
    PORTICO_HTTP__SHUTDOWNGRACESECONDS: '10',
    // The throttle case uses a name of its own; the load (all from 127.0.0.1) must not trip the address limit.
    PORTICO_SIGNIN__THROTTLE__PERADDRESS__MAXFAILURES: '1000',
    ...sambaDirectoryEnv(dc),
  };
  // Started together: one migrates while the others wait; one first key and one bootstrap token.
  const starting = performance.now();
  await Promise.all(NAMES.map((name) => start(name)));
  process.stderr.write(`three instances started together in ${Math.round(performance.now() - starting)} ms\n`);
  const tokens = NAMES.map((name) => /pbt_[\w-]+/.exec(instances.get(name)?.stderr() ?? '')?.[0]).filter((t) => t !== undefined);
  assert.equal(tokens.length, 1, 'exactly one instance issued (and showed) the bootstrap token');
  token = tokens[0] ?? '';
  haproxy = await startHaproxy(NAMES.map((name) => ({ name, port: ports.get(name) ?? 0 })), proxyPort);
  assert.equal(haproxy.url, `http://127.0.0.1:${proxyPort}`);
  for (const name of NAMES) await upInHaproxy(name);

  const wiki = await admin<{ id: string }>('p1', 'POST', '/applications', { name: 'Wiki', entityId: WIKI, acsUrls: [WIKI_ACS] });
  await admin('p1', 'POST', '/assignments', { principal: { type: 'group', id: 'Eng-All@corp.example.test' }, target: { type: 'application', applicationId: wiki.id } });
});

after(async () => {
  await haproxy?.stop();
  for (const instance of instances.values()) {
    if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill('SIGTERM');
    await instance.exited;
  }
  await database?.dispose();
  await target.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('three Portico instances behind haproxy on one PostgreSQL', () => {
  it('serve one SP-initiated sign-in across three instances, and refuse its replay on another', async () => {
    const idpCert = certificatesIn((await via('p3', '/saml/metadata')).text)[0] ?? '';
    const wiki = sp(idpCert);
    const authorize = pathOf(await wiki.getAuthorizeUrlAsync('relay-1', undefined, {}));

    const first = await via('p1', authorize);
    assert.equal(first.servedBy, 'p1');
    assert.equal(first.status, 303, first.text.slice(0, 300));
    const resume = new URL(first.location ?? '', haproxy.url).searchParams.get('returnTo') ?? '';
    assert.match(resume, /^\/saml\/continue\?ref=/);

    const signedIn = await signIn('p2', alice.upn, alice.password);
    assert.equal(signedIn.servedBy, 'p2');
    assert.equal(signedIn.status, 200);

    const page = await via('p3', resume, { headers: { cookie: signedIn.cookie ?? '' } });
    assert.equal(page.servedBy, 'p3');
    assert.equal(page.status, 200, page.text.slice(0, 300));
    const form = postedForm(page.text);
    assert.equal(form.action, WIKI_ACS);
    assert.equal(form.fields.RelayState, 'relay-1');
    const { profile } = await wiki.validatePostResponseAsync(form.fields);
    assert.equal(profile?.nameID !== undefined, true);

    // The waiting request was used once: no other instance resumes it again.
    const again = await via('p1', resume, { headers: { cookie: signedIn.cookie ?? '' } });
    assert.equal(again.status, 400);
    // The same AuthnRequest replayed to another instance than the one that accepted it.
    const replayed = await via('p2', authorize, { headers: { cookie: signedIn.cookie ?? '' } });
    assert.equal(replayed.servedBy, 'p2');
    assert.equal(replayed.status, 400);
    assert.match(replayed.text, /already used/);
  });

  it('count failed sign-ins of one name across instances', async () => {
    // A name nobody has: no AD account is locked, only Portico's per-name counter counts.
    const name = `nobody-${Date.now().toString(36)}@corp.example.test`;
    const served: string[] = [];
    for (;;) {
      const answer = await signIn(null, name, 'Wrong-Password-1!');
      if (answer.status === 429) break;
      assert.equal(answer.status, 401, answer.text);
      served.push(answer.servedBy ?? '?');
      assert.ok(served.length <= 10, 'the limit was reached');
    }
    const perInstance = NAMES.map((to) => served.filter((s) => s === to).length);
    process.stderr.write(`throttle: ${served.length} failures allowed in all, spread ${JSON.stringify(perInstance)} over p1–p3\n`);
    assert.equal(new Set(served).size, 3, `round-robin spread the failures: ${served.join(', ')}`);
    // Every instance saw fewer failures than the limit, and every one refuses now: counted together.
    assert.ok(perInstance.every((count) => count < served.length));
    for (const to of NAMES) assert.equal((await signIn(to, name, 'Wrong-Password-1!')).status, 429, `refused on ${to}`);
  });

  it('see an admin change made on one instance on the others within a second', async () => {
    const entityId = `https://late.cluster.test/${Date.now().toString(36)}`;
    const idpCert = certificatesIn((await via('p1', '/saml/metadata')).text)[0] ?? '';
    const late = sp(idpCert, entityId);
    // p2 and p3 have read the applications (and refuse this SP) before it is registered.
    for (const to of ['p2', 'p3'] as const) assert.equal((await via(to, pathOf(await late.getAuthorizeUrlAsync('x', undefined, {})))).status, 400);
    await admin('p1', 'POST', '/applications', { name: `Late ${entityId.slice(-6)}`, entityId, acsUrls: [WIKI_ACS] });
    for (const to of ['p2', 'p3'] as const) {
      const ms = await within(1000, async () => (await via(to, pathOf(await late.getAuthorizeUrlAsync('x', undefined, {})))).status === 303);
      process.stderr.write(`admin change on p1 seen by ${to} after ${Math.round(ms)} ms\n`);
    }
  });

  it('rotate signing keys on one instance, seen by all: the activated key signs everywhere', async () => {
    const staged = await admin<{ certificatePem: string }>('p1', 'POST', '/saml/certificates', {});
    const stagedBase64 = staged.certificatePem.replace(/-----[^-]+-----|\s/g, '');
    for (const to of ['p2', 'p3'] as const) {
      await within(1000, async () => certificatesIn((await via(to, '/saml/metadata')).text).includes(stagedBase64));
    }
    await admin('p2', 'POST', '/saml/certificates/activate', undefined, 200);
    // Trusting only the new key: an assertion signed by p3 and p1 must carry it.
    const wiki = sp(stagedBase64);
    const cookie = (await signIn('p1', alice.upn, alice.password)).cookie ?? '';
    for (const to of ['p3', 'p1'] as const) {
      await within(1000, async () => certificatesIn((await via(to, '/saml/metadata')).text)[0] === stagedBase64);
      const page = await via(to, pathOf(await wiki.getAuthorizeUrlAsync('r', undefined, {})), { headers: { cookie } });
      assert.equal(page.status, 200, page.text.slice(0, 300));
      await wiki.validatePostResponseAsync(postedForm(page.text).fields);
    }
  });

  it('lose an instance to kill -9 under 16 concurrent sign-ins without failures beyond those in flight on it', async () => {
    const run = load(16);
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const victim = instances.get('p3');
    assert.ok(victim);
    const inFlightAtKill = run.inFlight();
    victim.child.kill('SIGKILL');
    await victim.exited;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await run.stop();
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`${figures('kill -9 of p3 at 1.5 s', run, seconds)}; ${inFlightAtKill} sign-ins in flight (all instances) at the kill\n`);
    if (run.failures.length > 0) process.stderr.write(`failures: ${run.failures.slice(0, 5).join(' | ')}\n`);
    assert.ok(run.failed <= inFlightAtKill, `${run.failed} failed, ${inFlightAtKill} were in flight`);
    assert.ok(run.ok > 20, 'the load ran');
    await start('p3');
    await upInHaproxy('p3');
  });

  it('restart every instance in turn (SIGTERM, graceful) under load with zero failed sign-ins', async () => {
    // Lighter than the kill test: on a 2-core machine the restarting instances need the CPU.
    const run = load(4);
    const started = performance.now();
    for (const name of NAMES) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const instance = instances.get(name);
      assert.ok(instance);
      instance.child.kill('SIGTERM');
      const exit = await instance.exited;
      assert.deepEqual(exit, { code: 0, signal: null }, `${name} exits 0 after SIGTERM`);
      const restarted = performance.now();
      await start(name);
      await upInHaproxy(name);
      process.stderr.write(`${name} restarted and in service after ${Math.round(performance.now() - restarted)} ms\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await run.stop();
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`${figures('rolling restart of p1, p2, p3', run, seconds)}\n`);
    if (run.failures.length > 0) process.stderr.write(`failures: ${run.failures.slice(0, 5).join(' | ')}\n`);
    assert.equal(run.failed, 0);
    assert.ok(run.ok > 20);
  });
});
