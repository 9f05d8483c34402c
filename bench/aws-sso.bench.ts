/**
 * What `GetRoleCredentials` costs Portico (issue 16), no DC needed: Portico runs `node
 * bin/portico.js start` in a child process (portico-process.ts) with its managed directory and the
 * demo forest on a fresh SQLite data directory, so its CPU time is its own (/proc/<pid>/stat, all
 * threads); moto_server on a random loopback port plays STS.
 *
 * Setup (not timed): an account (moto's default account id), a permission set and a user
 * assignment for the demo user alice via the admin API; a token through the device-code flow
 * over HTTP (RegisterClient, StartDeviceAuthorization, sign-in through /api/sign-in, the device
 * page's Allow form posted with the session cookie, CreateToken).
 *
 * Timed: `GET /aws/sso/federation/credentials` with `x-amz-sso_bearer_token` (the token check, the
 * entitlement evaluation, the signed assertion, STS AssumeRoleWithSAML, the audit record), `calls`
 * per pass split over `c` workers, and "STS alone": the same AssumeRoleWithSAML body Portico last
 * sent (captured by a recording hop in this process), posted straight to moto. Portico's STS
 * calls go through that recording hop too, so "Portico without STS" (Portico's p50 minus STS
 * alone's p50) is an estimate, and the hop's cost lands on this process, not on Portico. STS runs
 * in another process, so Portico's CPU per call already excludes STS's CPU; moto's CPU is
 * reported beside it. c=1 and c=8 alternate within each pass.
 *
 * Run: node --import tsx bench/aws-sso.bench.ts [--calls 300] [--passes 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideDeviceCode, startMoto } from '../test/support/aws-sso.ts';
import { benchOptions } from './bench-kit.ts';
import { busyShare, cpuSeconds, freePort, machineJiffies, median, percentile, porticoCli, startPortico, type PorticoProcess } from './portico-process.ts';

const { num } = benchOptions();
const calls = num('calls', 300);
const passes = num('passes', 3);
const CONCURRENCY = [1, 8];
const deadline = performance.now() + num('max-seconds', 600) * 1000;

const USER = 'alice@portico.test';
const PASSWORD = 'Portico-Demo-2026!';
const ACCOUNT = '123456789012';
const ROLE = 'BenchReadOnly';

// ---------------------------------------------------------------- moto and the recording hop

/** Forwards to moto and keeps the last AssumeRoleWithSAML body Portico sent. */
async function startRecordingHop(target: string): Promise<{ url: string; lastBody: () => string; close(): Promise<void> }> {
  let last = '';
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.includes('SAMLAssertion')) last = body.toString('utf8');
      const upstream = new URL(request.url ?? '/', target);
      const forwarded = httpRequest(upstream, { method: request.method, headers: { ...request.headers, host: upstream.host } }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      forwarded.on('error', () => {
        response.writeHead(502);
        response.end();
      });
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, lastBody: () => last, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

// ---------------------------------------------------------------- setup through the HTTP APIs

async function json<T>(response: Response, what: string): Promise<T> {
  const text = await response.text();
  if (!response.ok) throw new Error(`${what}: ${response.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

async function deviceToken(base: string): Promise<string> {
  const post = (path: string, body: unknown) => fetch(`${base}/aws/sso-oidc${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const client = await json<{ clientId: string; clientSecret: string }>(await post('/client/register', { clientName: 'aws-sso-bench', clientType: 'public', scopes: ['sso:account:access'] }), 'RegisterClient');
  const device = await json<{ deviceCode: string; userCode: string }>(await post('/device_authorization', { clientId: client.clientId, clientSecret: client.clientSecret, startUrl: `${base}/portal` }), 'StartDeviceAuthorization');
  const signIn = await fetch(`${base}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: USER, password: PASSWORD }) });
  if (signIn.status !== 200) throw new Error(`${USER} did not sign in: ${signIn.status} ${await signIn.text()}`);
  const cookie = signIn.headers.get('set-cookie')?.split(';')[0] ?? '';
  const decided = await decideDeviceCode(base, cookie, device.userCode, 'approve');
  if (decided.status !== 200) throw new Error(`device approval: ${decided.status} ${decided.text.slice(0, 300)}`);
  const token = await json<{ accessToken: string }>(await post('/token', { clientId: client.clientId, clientSecret: client.clientSecret, grantType: 'urn:ietf:params:oauth:grant-type:device_code', deviceCode: device.deviceCode }), 'CreateToken');
  return token.accessToken;
}

// ---------------------------------------------------------------- the timed sides

interface PassResult {
  latencies: number[];
  porticoCpuMs: number;
  motoCpuMs: number;
  busy: number;
  failures: number;
  seconds: number;
}

async function runPass(operation: () => Promise<boolean>, concurrency: number, pids: { portico: number; moto: number }): Promise<PassResult> {
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const machineBefore = machineJiffies();
  const porticoBefore = cpuSeconds([pids.portico]);
  const motoBefore = cpuSeconds([pids.moto]);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls && performance.now() < deadline) {
        next++;
        const t = performance.now();
        const ok = await operation();
        latencies.push(performance.now() - t);
        if (!ok) failures++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const done = Math.max(1, latencies.length);
  return {
    latencies,
    porticoCpuMs: ((cpuSeconds([pids.portico]) - porticoBefore) * 1000) / done,
    motoCpuMs: ((cpuSeconds([pids.moto]) - motoBefore) * 1000) / done,
    busy: busyShare(machineBefore, machineJiffies()),
    failures,
    seconds,
  };
}

// ---------------------------------------------------------------- the run

const dataDir = mkdtempSync(join(tmpdir(), 'portico-bench-aws-sso-'));
let portico: PorticoProcess | null = null;
let moto: Awaited<ReturnType<typeof startMoto>> | null = null;
let hop: Awaited<ReturnType<typeof startRecordingHop>> | null = null;
try {
  console.log(`# AWS SSO GetRoleCredentials bench — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  moto = await startMoto();
  hop = await startRecordingHop(moto.url);
  const env: Record<string, string> = {
    PORTICO_DATA_DIR: dataDir,
    PORTICO_LOG__LEVEL: 'warn',
    PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0',
    PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0',
    PORTICO_AWSSSO__STS__ENDPOINT: hop.url,
  };
  portico = await startPortico(env, await freePort());
  const base = portico.url;
  const { token: adminToken } = JSON.parse(await porticoCli(['admin', 'bootstrap-token', '--reset', '--json'], env)) as { token: string };
  const admin = async <T>(method: string, path: string, body: unknown) =>
    json<T>(await fetch(`${base}/admin/api${path}`, { method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }), `${method} ${path}`);
  await admin('POST', '/accounts', { id: ACCOUNT, name: 'Bench account', email: 'aws-bench@example.test' });
  const { id: permissionSetId } = await admin<{ id: string }>('POST', '/permission-sets', { name: ROLE, sessionDuration: 'PT1H' });
  await admin('POST', '/assignments', { principal: { type: 'user', id: USER }, target: { type: 'account', accountId: ACCOUNT, permissionSetId } });
  const bearer = await deviceToken(base);

  const credentialsUrl = `${base}/aws/sso/federation/credentials?${new URLSearchParams({ role_name: ROLE, account_id: ACCOUNT }).toString()}`;
  let firstFailure = '';
  const getRoleCredentials = async (): Promise<boolean> => {
    const response = await fetch(credentialsUrl, { headers: { 'x-amz-sso_bearer_token': bearer } });
    const text = await response.text();
    const ok = response.status === 200 && text.includes('"accessKeyId"');
    if (!ok && firstFailure === '') firstFailure = `GetRoleCredentials ${response.status} ${text.slice(0, 300)}`;
    return ok;
  };
  // Warm-up (not counted); it also leaves the body Portico sends STS in the hop.
  for (let i = 0; i < 20; i++) if (!(await getRoleCredentials())) throw new Error(firstFailure);
  const stsBody = hop.lastBody();
  if (!stsBody.includes('AssumeRoleWithSAML')) throw new Error('no AssumeRoleWithSAML call captured');
  const stsAlone = async (): Promise<boolean> => {
    const response = await fetch(`${moto?.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: stsBody });
    const text = await response.text();
    const ok = response.status === 200 && text.includes('<AccessKeyId>');
    if (!ok && firstFailure === '') firstFailure = `STS ${response.status} ${text.slice(0, 300)}`;
    return ok;
  };
  for (let i = 0; i < 20; i++) if (!(await stsAlone())) throw new Error(firstFailure);

  const pids = { portico: portico.pid, moto: moto.pid };
  const results = new Map<string, PassResult[]>();
  for (let pass = 0; pass < passes && performance.now() < deadline; pass++) {
    const order = pass % 2 === 0 ? CONCURRENCY : [...CONCURRENCY].reverse();
    for (const c of order) {
      for (const [name, operation] of [['portico', getRoleCredentials], ['sts', stsAlone]] as const) {
        const result = await runPass(operation, c, pids);
        const key = `${name} c=${c}`;
        results.set(key, [...(results.get(key) ?? []), result]);
        console.log(`pass ${pass + 1} ${key}: ${result.latencies.length} calls in ${result.seconds.toFixed(1)} s, p50 ${percentile(result.latencies, 50).toFixed(1)} ms, p99 ${percentile(result.latencies, 99).toFixed(1)} ms, Portico CPU ${result.porticoCpuMs.toFixed(2)} ms/call, moto CPU ${result.motoCpuMs.toFixed(2)} ms/call, machine busy ${(result.busy * 100).toFixed(0)}%, failures ${result.failures}`);
      }
    }
  }
  if (firstFailure !== '') console.log(`first failure: ${firstFailure}`);

  console.log('\n| c | GetRoleCredentials p50 ms | p99 ms | STS alone p50 ms | p99 ms | Portico w/o STS p50 ms (est.) | Portico CPU ms/call | moto CPU ms/call | calls/s | machine busy |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of CONCURRENCY) {
    const p = results.get(`portico c=${c}`) ?? [];
    const s = results.get(`sts c=${c}`) ?? [];
    const pl = p.flatMap((r) => r.latencies);
    const sl = s.flatMap((r) => r.latencies);
    const rate = median(p.map((r) => r.latencies.length / r.seconds));
    console.log(
      `| ${c} | ${percentile(pl, 50).toFixed(1)} | ${percentile(pl, 99).toFixed(1)} | ${percentile(sl, 50).toFixed(1)} | ${percentile(sl, 99).toFixed(1)} | ${(percentile(pl, 50) - percentile(sl, 50)).toFixed(1)} | ${median(p.map((r) => r.porticoCpuMs)).toFixed(2)} | ${median(p.map((r) => r.motoCpuMs)).toFixed(2)} | ${rate.toFixed(1)} | ${(median(p.map((r) => r.busy)) * 100).toFixed(0)}% |`,
    );
  }
  console.log(`\n${passes} passes × ${calls} calls per side and concurrency; p50/p99 over all passes' calls (nearest rank), CPU medians of passes.`);
  console.log(`Portico CPU while STS alone ran (idle floor): ${CONCURRENCY.map((c) => `c=${c} ${median((results.get(`sts c=${c}`) ?? []).map((r) => r.porticoCpuMs)).toFixed(3)} ms/call`).join(', ')}`);
} finally {
  await portico?.stop();
  await hop?.close();
  await moto?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
