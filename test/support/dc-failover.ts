/**
 * Directory failover under load (issue 15), shared by the test (which asserts) and the bench
 * (which prints): Portico connected to the CORP Samba DC through two TCP relays — two "domain
 * controllers" in configured order — while `concurrency` workers sign in through the HTTP API
 * with right passwords of fixture users. The first relay is killed (every relayed connection cut,
 * the port closed), then started again; the figures say what that cost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { fixtureUser, sambaDirectoryEnv, sambaRuntime } from './samba.ts';
import { startTcpProxy } from './tcp-proxy.ts';

export interface FailoverOptions {
  concurrency: number;
  /** Sign-ins before the first relay dies. */
  steadyMs: number;
  /** How long the first relay stays dead. */
  downMs: number;
  /** Sign-ins after it is back (fail-back happens in here). */
  afterMs: number;
  /** Portico's probe interval for a controller marked down (directory.healthCheckIntervalMs). */
  healthCheckIntervalMs: number;
}

export interface SignInSample {
  startedAt: number;
  endedAt: number;
  ok: boolean;
  status: number;
  code: string | null;
}

export interface FailoverFigures {
  conditions: FailoverOptions & { users: number };
  total: number;
  failed: SignInSample[];
  /** Successful sign-ins answered between the kill and the restart (served by the second controller). */
  answeredWhileDown: number;
  /** Failures whose sign-in started after the relay died (should be none). */
  failedAfterKill: number;
  /** Sign-ins in flight at the moment the relay died. */
  inFlightAtKill: number;
  p50Ms: { steady: number; switch: number; down: number; after: number };
  p99Ms: { steady: number; switch: number; down: number; after: number };
  signInsPerSecond: { steady: number; down: number; after: number };
  /** From the relay's restart to Portico marking the controller up again. */
  failBackMs: number | null;
  /** From the relay's restart to the first connection through it again (Portico's health probe). */
  firstConnectionBackMs: number | null;
  /** Bind connections Portico held open to the first controller when the load ended (> 0: sign-ins went back to it). */
  preferredBindConnectionsAtEnd: number;
  controllerDownDetectedMs: number | null;
}

const USERS = ['alice', 'bob', 'carol', 'jsmith', 'hank', 'greg'].map(fixtureUser);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);
}

export async function runFailoverScenario(options: FailoverOptions): Promise<FailoverFigures> {
  const dc = sambaRuntime();
  const target = { host: '127.0.0.1', port: Number(new URL(dc.ldapsUrl).port || 636) };
  const first = await startTcpProxy(target);
  const second = await startTcpProxy(target);
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-failover-'));
  const app = await startApp(
    loadConfig({
      env: {
        PORTICO_DATA_DIR: dataDir,
        PORTICO_LOG__LEVEL: 'silent',
        PORTICO_HTTP__PORT: '0',
        ...sambaDirectoryEnv(dc),
        PORTICO_DIRECTORY__URLS: JSON.stringify([first.url, second.url]),
        PORTICO_DIRECTORY__HEALTH_CHECK_INTERVAL_MS: String(options.healthCheckIntervalMs),
        // Successes only here; the floor would only slow failures.
        PORTICO_SIGN_IN__FAILURE_FLOOR__ENABLED: 'false',
      },
    }),
    { logDestination: new Writable({ write: (_c, _e, done) => done() }), showBootstrapToken: () => undefined },
  );
  const samples: SignInSample[] = [];
  let stopping = false;
  let killAt = 0;
  /** When every connection to the first controller was cut: a sign-in started before it may have bound on one. */
  let killedAt = 0;
  let restartAt = 0;
  let failBackAt: number | null = null;
  let firstConnectionBackAt: number | null = null;
  let downDetectedAt: number | null = null;
  let preferredBindConnectionsAtEnd = 0;
  const started = Date.now();
  try {
    const worker = async (index: number): Promise<void> => {
      while (!stopping) {
        // One user per worker: at most ⌈16/6⌉ = 3 sign-ins of one account in flight, under the
        // throttle's limit of lockoutThreshold − 1 = 4 (a fifth would be answered 429, rightly).
        const user = USERS[index % USERS.length];
        if (user === undefined) return;
        const startedAt = Date.now();
        let status = 0;
        let code: string | null = null;
        try {
          const response = await fetch(`${app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user.upn, password: user.password }) });
          status = response.status;
          if (status !== 200) code = ((await response.json()) as { error?: { code?: string } }).error?.code ?? null;
          else await response.arrayBuffer();
        } catch (error) {
          code = error instanceof Error ? error.message : String(error);
        }
        samples.push({ startedAt, endedAt: Date.now(), ok: status === 200, status, code });
      }
    };
    const workers = Array.from({ length: options.concurrency }, (_, i) => worker(i));
    const watch = setInterval(() => {
      const [controller] = app.directory?.status() ?? [];
      if (killAt > 0 && downDetectedAt === null && controller?.up === false) downDetectedAt = Date.now();
      if (restartAt > 0 && failBackAt === null && controller?.up === true) failBackAt = Date.now();
      if (restartAt > 0 && firstConnectionBackAt === null && first.openConnections() > 0) firstConnectionBackAt = Date.now();
    }, 10);

    await sleep(options.steadyMs);
    killAt = Date.now();
    await first.stop();
    killedAt = Date.now();
    await sleep(options.downMs);
    restartAt = Date.now();
    await first.start();
    await sleep(options.afterMs);
    preferredBindConnectionsAtEnd = app.directory?.status()[0]?.open.bind ?? 0;
    stopping = true;
    await Promise.all(workers);
    clearInterval(watch);
  } finally {
    await app.stop();
    await first.stop();
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const switchEnd = killAt + 2000;
  const latency = (filter: (s: SignInSample) => boolean): number[] => samples.filter(filter).map((s) => s.endedAt - s.startedAt);
  const windows = {
    steady: (s: SignInSample) => s.endedAt < killAt,
    switch: (s: SignInSample) => s.endedAt >= killAt && s.startedAt < switchEnd,
    down: (s: SignInSample) => s.startedAt >= switchEnd && s.endedAt < restartAt,
    after: (s: SignInSample) => s.startedAt >= restartAt,
  };
  const rate = (filter: (s: SignInSample) => boolean, ms: number) => Math.round((samples.filter(filter).length / (ms / 1000)) * 10) / 10;
  const failed = samples.filter((s) => !s.ok);
  return {
    conditions: { ...options, users: USERS.length },
    total: samples.length,
    failed,
    answeredWhileDown: samples.filter((s) => s.ok && s.endedAt > killAt && s.endedAt <= restartAt).length,
    failedAfterKill: failed.filter((s) => s.startedAt >= killedAt).length,
    inFlightAtKill: samples.filter((s) => s.startedAt < killedAt && s.endedAt >= killAt).length,
    p50Ms: { steady: percentile(latency(windows.steady), 50), switch: percentile(latency(windows.switch), 50), down: percentile(latency(windows.down), 50), after: percentile(latency(windows.after), 50) },
    p99Ms: { steady: percentile(latency(windows.steady), 99), switch: percentile(latency(windows.switch), 99), down: percentile(latency(windows.down), 99), after: percentile(latency(windows.after), 99) },
    signInsPerSecond: { steady: rate(windows.steady, killAt - started), down: rate(windows.down, restartAt - switchEnd), after: rate(windows.after, options.afterMs) },
    failBackMs: failBackAt === null ? null : failBackAt - restartAt,
    firstConnectionBackMs: firstConnectionBackAt === null ? null : firstConnectionBackAt - restartAt,
    controllerDownDetectedMs: downDetectedAt === null ? null : downDetectedAt - killAt,
    preferredBindConnectionsAtEnd,
  };
}
