/**
 * Helpers for the benchmarks that drive a real Portico over HTTP: `portico start` (bin/portico.js)
 * in a child process of its own, so that its CPU time (/proc/<pid>/stat, all threads) is Portico's
 * alone; the CLI run the same way; CPU counters of processes and of the machine; medians and
 * percentiles.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

export const repoDir = new URL('..', import.meta.url).pathname;
const portico = new URL('../bin/portico.js', import.meta.url).pathname;

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** Nearest-rank percentile (p in 0–100) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** CPU seconds (user + system, all threads) used so far by these processes; a vanished pid counts 0. */
export function cpuSeconds(pids: number[]): number {
  const ticks = pids.reduce((sum, pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return sum + Number(fields[11]) + Number(fields[12]);
    } catch {
      return sum;
    }
  }, 0);
  return ticks / 100;
}

/** Jiffies since boot over all cores: total and idle (idle + iowait). */
export function machineJiffies(): { total: number; idle: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), idle: (fields[3] ?? 0) + (fields[4] ?? 0) };
}

export function busyShare(before: { total: number; idle: number }, after: { total: number; idle: number }): number {
  const total = after.total - before.total;
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Runs `portico <args…>` (the CLI) to completion with this environment; its output is returned. */
export async function porticoCli(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [portico, ...args], { cwd: repoDir, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`portico ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

export interface PorticoProcess {
  pid: number;
  url: string;
  child: ChildProcess;
  /** Milliseconds from spawn to the first answered /healthz. */
  startMs: number;
  /** SIGTERM (Portico stops its HTTP server and database, then exits 0: a --cpu-prof profile is written). */
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
process.once('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}

/**
 * `node [nodeArgs…] bin/portico.js start` with `env` added to ours, and waits until /healthz
 * answers (`script` instead of bin/portico.js: bench/rush-portico.mjs). Its stdout and stderr (the log, at whatever level env sets) go to our stderr.
 */
export async function startPortico(env: Record<string, string>, port: number, nodeArgs: string[] = [], script: string = portico): Promise<PorticoProcess> {
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, script, 'start'], {
    cwd: repoDir,
    env: { ...process.env, ...env, PORTICO_HTTP__PORT: String(port), PORTICO_HTTP__HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stdout?.on('data', (chunk: Buffer) => process.stderr.write(`[portico] ${chunk.toString()}`));
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[portico] ${chunk.toString()}`));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`portico start exited with ${child.exitCode} before it answered`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error('portico start did not answer /healthz within 120 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const startMs = performance.now() - started;
  return {
    pid: child.pid as number,
    url,
    child,
    startMs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
}

/**
 * CPU seconds per thread group of a process: the main thread (tid = pid), the others by name. Node
 * 20 leaves its threads unnamed ("node"): those are V8's GC/compiler workers, the libuv pool and
 * the module-hooks thread of tsx, counted together as "other threads".
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      const name = Number(tid) === pid ? 'main thread' : comm.trim() === 'node' ? 'other threads' : comm.trim();
      byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended
    }
  }
  return byName;
}

export function threadCpuDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, seconds] of after) delta.set(name, seconds - (before.get(name) ?? 0));
  return delta;
}
