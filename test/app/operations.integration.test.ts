/**
 * Issue 15, "health and metrics": the probes, /metrics (token on the main listener, or a listener
 * of its own), the counters and step timings a real sign-in moves, and the request id carried
 * from X-Request-Id into the request log and the audit event. Portico runs with its managed
 * directory (its own throwaway users, so wrong passwords harm nobody).
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { postgresTarget } from '../contract/databases.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const METRICS_TOKEN = 'metrics-token-0123456789';

async function start(env: Record<string, string>): Promise<{ app: PorticoApp; token: string; logs: () => string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-operations-'));
  dirs.push(dataDir);
  const chunks: string[] = [];
  let token = '';
  const app = await startApp(
    loadConfig({
      env: {
        PORTICO_DATA_DIR: dataDir,
        PORTICO_HTTP__PORT: '0',
        PORTICO_LOG__LEVEL: 'debug',
        PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0',
        PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0',
        ...env,
      },
    }),
    {
      logDestination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk.toString());
          done();
        },
      }),
      showBootstrapToken: (t) => (token = t),
    },
  );
  return { app, token, logs: () => chunks.join('') };
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m): [string, string] => [m[1] ?? '', m[2] ?? '']));
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(match[3]);
  }
  return null;
}

async function signIn(app: PorticoApp, username: string, password: string, requestId?: string): Promise<Response> {
  return fetch(`${app.url}/api/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(requestId ? { 'x-request-id': requestId } : {}) },
    body: JSON.stringify({ username, password }),
  });
}

describe('probes, metrics and request ids on the main listener', { timeout: 90_000 }, () => {
  let app: PorticoApp;
  let token: string;
  let logs: () => string;
  before(async () => {
    ({ app, token, logs } = await start({ PORTICO_METRICS__TOKEN: METRICS_TOKEN }));
  });
  after(async () => app.stop());

  it('/livez and /healthz answer; /readyz lists its checks; /status gives version and uptime', async () => {
    for (const path of ['/livez', '/healthz']) assert.deepEqual(await (await fetch(`${app.url}${path}`)).json(), { status: 'ok' });
    const ready = await fetch(`${app.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { database: { ok: true }, directory: { ok: true }, signingKey: { ok: true } } });
    const status = (await (await fetch(`${app.url}/status`)).json()) as { version: string; uptimeSeconds: number; startedAt: string; database: { ok: boolean }; directory: { state: string; health: string } };
    assert.equal(status.version, '0.1.0');
    assert.ok(status.uptimeSeconds >= 0 && Date.parse(status.startedAt) <= Date.now());
    assert.equal(status.database.ok, true);
    assert.equal(status.directory.state, 'running');
    assert.equal(status.directory.health, 'ok');
  });

  it('/metrics wants the bearer token', async () => {
    assert.equal((await fetch(`${app.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${app.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    const ok = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type') ?? '', /^text\/plain/);
  });

  it('a sign-in moves the counters and the step timings; the request id reaches the log and the audit event', async () => {
    const scrape = async (): Promise<string> => (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    const beforeText = await scrape();
    const okBefore = sample(beforeText, 'portico_sign_ins_total', { outcome: 'success', reason: 'ok' }) ?? 0;
    const bindsBefore = sample(beforeText, 'portico_step_duration_seconds_count', { step: 'bind' }) ?? 0;

    const good = await signIn(app, 'alice@portico.test', 'Portico-Demo-2026!', 'trace-ops-0001');
    assert.equal(good.status, 200);
    assert.equal(good.headers.get('x-request-id'), 'trace-ops-0001', 'echoed');
    const bad = await signIn(app, 'bob@portico.test', 'Not-The-Password-1!');
    assert.equal(bad.status, 401);
    const generated = bad.headers.get('x-request-id') ?? '';
    assert.match(generated, /^[0-9a-f-]{36}$/, 'generated when none was sent');
    const odd = await fetch(`${app.url}/livez`, { headers: { 'x-request-id': 'has spaces and <tags>' } });
    assert.notEqual(odd.headers.get('x-request-id'), 'has spaces and <tags>', 'an unsafe id is replaced, not echoed');

    const text = await scrape();
    assert.equal(sample(text, 'portico_sign_ins_total', { outcome: 'success', reason: 'ok' }), okBefore + 1);
    assert.ok((sample(text, 'portico_sign_ins_total', { outcome: 'failure', reason: 'auth.invalid_credentials' }) ?? 0) >= 1);
    assert.ok((sample(text, 'portico_step_duration_seconds_count', { step: 'bind' }) ?? 0) >= bindsBefore + 2);
    for (const step of ['resolve', 'groups', 'store']) assert.ok((sample(text, 'portico_step_duration_seconds_count', { step }) ?? 0) >= 1, step);
    assert.ok((sample(text, 'portico_sign_in_duration_seconds_count', { outcome: 'success' }) ?? 0) >= 1);
    assert.equal(sample(text, 'portico_directory_controller_up', { controller: app.managedDirectory?.ldapsUrl ?? '' }), 1);
    assert.ok(sample(text, 'nodejs_eventloop_lag_seconds') !== null, 'event-loop lag');
    assert.equal(sample(text, 'portico_build_info', { version: '0.1.0' }), 1);
    assert.ok((sample(text, 'portico_http_request_duration_seconds_count', { route: '/api/sign-in', method: 'POST', status: '200' }) ?? 0) >= 1);

    const line = logs().split('\n').find((l) => l.includes('"reqId":"trace-ops-0001"'));
    assert.ok(line, 'the request log line carries the id');
    assert.match(line, /"path":"\/api\/sign-in".*"status":200/);
    const events = (await (await fetch(`${app.url}/admin/api/audit?action=auth.user.signed_in&limit=10`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      events: Array<{ outcome: string; target: string; details: { requestId?: string } }>;
    };
    const success = events.events.find((e) => e.outcome === 'success' && e.target === 'alice@portico.test');
    assert.equal(success?.details.requestId, 'trace-ops-0001');
    const failure = events.events.find((e) => e.outcome === 'failure' && e.target === 'bob@portico.test');
    assert.equal(failure?.details.requestId, generated);
  });

  it('IdentityStore API calls are counted by operation and status', async () => {
    const response = await fetch(`${app.url}/identitystore/`, { method: 'POST', headers: { 'x-amz-target': 'AWSIdentityStore.ListUsers', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    assert.ok(response.status >= 400, 'unsigned: refused');
    const text = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    assert.equal(sample(text, 'portico_identitystore_api_calls_total', { operation: 'ListUsers', status: String(response.status) }), 1);
  });
});

describe('metrics on a listener of their own', { timeout: 60_000 }, () => {
  it('serves /metrics there (no token configured) and none on the main listener', async () => {
    const { app } = await start({ PORTICO_METRICS__LISTEN__PORT: '0' });
    try {
      assert.match(app.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const scraped = await fetch(app.metricsUrl ?? '');
      assert.equal(scraped.status, 200);
      assert.match(await scraped.text(), /portico_build_info\{version="0\.1\.0"\} 1/);
      assert.equal((await fetch((app.metricsUrl ?? '').replace('/metrics', '/status'))).status, 404, 'only /metrics there');
      assert.equal((await fetch(`${app.url}/metrics`)).status, 404, 'not on the main listener');
    } finally {
      await app.stop();
    }
  });

  it('without a token or a listener of their own, the main listener serves no metrics', async () => {
    const { app } = await start({});
    try {
      const response = await fetch(`${app.url}/metrics`);
      assert.equal(response.status, 404);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'metrics.not_served_here');
    } finally {
      await app.stop();
    }
  });
});

describe('on PostgreSQL', { timeout: 60_000 }, () => {
  const target = postgresTarget();
  after(() => target.close());

  it('/readyz checks the database; the pool gauges are exported', async () => {
    const database = await target.open({ migrate: false });
    try {
      const { url, schema } = database.config.driver === 'postgres' ? database.config.postgres : { url: '', schema: '' };
      const { app } = await start({ PORTICO_DATABASE__DRIVER: 'postgres', PORTICO_DATABASE__POSTGRES__URL: url, PORTICO_DATABASE__POSTGRES__SCHEMA: schema ?? '', PORTICO_DATABASE__POSTGRES__POOL_SIZE: '7', PORTICO_METRICS__TOKEN: METRICS_TOKEN });
      try {
        const ready = (await (await fetch(`${app.url}/readyz`)).json()) as { status: string; checks: { database: { ok: boolean } } };
        assert.equal(ready.status, 'ready');
        assert.equal(ready.checks.database.ok, true);
        const text = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
        assert.equal(sample(text, 'portico_db_pool_connections', { state: 'max' }), 7);
        assert.ok((sample(text, 'portico_db_pool_connections', { state: 'total' }) ?? 0) >= 1);
        assert.equal(sample(text, 'portico_db_pool_connections', { state: 'waiting' }), 0);
      } finally {
        await app.stop();
      }
    } finally {
      await database.dispose();
    }
  });
});

describe('audit events forwarded to syslog', { timeout: 60_000 }, () => {
  it('sends each recorded event as an RFC 5424 datagram with the event as JSON', async () => {
    const server = createSocket('udp4');
    const received: string[] = [];
    server.on('message', (message) => received.push(message.toString()));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const { port } = server.address();
    const { app } = await start({ PORTICO_AUDIT__SYSLOG__HOST: '127.0.0.1', PORTICO_AUDIT__SYSLOG__PORT: String(port), PORTICO_AUDIT__SYSLOG__APP_NAME: 'portico-test' });
    try {
      assert.equal((await signIn(app, 'carol@portico.test', 'Portico-Demo-2026!', 'syslog-trace-1')).status, 200);
      const deadline = Date.now() + 5000;
      const isSignIn = (line: string): boolean => line.includes(' auth.user.signed_in - ') && line.includes('syslog-trace-1');
      while (!received.some(isSignIn) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      const line = received.find(isSignIn);
      assert.ok(line, `a sign-in datagram arrived (got ${received.length})`);
      // authpriv (10) × 8 + informational (6) = 86
      assert.match(line, /^<86>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ portico-test \d+ auth\.user\.signed_in - \{/);
      const event = JSON.parse(line.slice(line.indexOf(' - ') + 3)) as { action: string; outcome: string; target: string; details: { requestId: string } };
      assert.deepEqual([event.action, event.outcome, event.target, event.details.requestId], ['auth.user.signed_in', 'success', 'carol@portico.test', 'syslog-trace-1']);
    } finally {
      await app.stop();
      server.close();
    }
  });
});
