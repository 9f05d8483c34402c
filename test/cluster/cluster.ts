/**
 * Three Portico processes (`bin/portico.js start`) on one fresh PostgreSQL database behind
 * Debian's haproxy on loopback, for the cluster tests and the bench. haproxy balances round-robin,
 * health-checks every instance, retries a request whose connection failed or that got no answer
 * on another instance, and routes a request carrying `x-portico-backend: pN` to instance N
 * (so a test can pin each step to an instance); every answer names the instance in `x-served-by`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = new URL('../../bin/portico.js', import.meta.url).pathname;
const repoDir = new URL('../..', import.meta.url).pathname;
const HAPROXY = '/usr/sbin/haproxy';

export interface Instance {
  name: string;
  port: number;
  url: string;
  child: ChildProcess;
  /** Everything it wrote to stderr (the bootstrap token, when it issued it). */
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startInstance(name: string, port: number, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, [bin, 'start'], {
    cwd: repoDir,
    env: { PATH: process.env.PATH ?? '', ...env, PORTICO_HTTP__PORT: String(port), PORTICO_HTTP__HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it answered: ${stderr.slice(-2000)}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer /healthz within 60 s: ${stderr.slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { name, port, url, child, stderr: () => stderr, exited };
}

export interface Haproxy {
  url: string;
  /** What haproxy printed (its warnings and alerts). */
  output: () => string;
  stop(): Promise<void>;
}

export async function startHaproxy(instances: Array<{ name: string; port: number }>, port: number): Promise<Haproxy & { dir: string }> {
  // Fails, never skips, without it (scripts/test.sh installs Debian's haproxy).
  if (!existsSync(HAPROXY)) throw new Error(`${HAPROXY} is required for the cluster tests: apt-get install haproxy`);
  const dir = mkdtempSync(join(tmpdir(), 'portico-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 512',
      'defaults',
      '  mode http',
      '  timeout connect 1s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  option http-buffer-request',
      // A failed connection, a connection closed without an answer, and Fastify's 503 while an
      // instance is closing are retried, on another instance (redispatch).
      '  retries 3',
      '  retry-on conn-failure empty-response response-timeout 503',
      '  option redispatch 1',
      'frontend portico',
      `  bind 127.0.0.1:${port}`,
      '  default_backend instances',
      'backend instances',
      '  balance roundrobin',
      '  option httpchk GET /healthz',
      '  default-server inter 250ms fall 2 rise 1',
      ...instances.map(({ name }) => `  use-server ${name} if { req.hdr(x-portico-backend) -m str ${name} }`),
      '  http-response set-header x-served-by %s',
      ...instances.map(({ name, port: p }) => `  server ${name} 127.0.0.1:${p} check`),
      '',
    ].join('\n'),
  );
  const child = spawn(HAPROXY, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not yet
    }
    if (performance.now() > deadline) throw new Error(`haproxy did not answer: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    dir,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const randomSecretKey = (): string => randomBytes(32).toString('base64');
