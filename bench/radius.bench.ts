/**
 * RADIUS MFA verification latency against a real FreeRADIUS 3.2 on loopback (multi-threaded,
 * `-f`): p50/p99 of `verify()` at each concurrency, verifications per second, and the CPU per
 * verification of this process (Portico's side: codec, socket, secret file read) and of
 * FreeRADIUS. Passes alternate between the concurrencies; figures are medians over passes.
 *
 *   node --import tsx bench/radius.bench.ts [--seconds 3] [--passes 3] [--concurrency 1,8]
 *
 * A wrong outcome is printed as it happens; RADIUS_BENCH_LOG=1 prints FreeRADIUS's last log lines
 * at the end (its `max_requests` table filling up showed there as timeouts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRadiusVerifier } from '../src/mfa/radius/index.ts';
import { startFreeRadius } from '../test/support/freeradius.ts';
import { benchOptions } from './bench-kit.ts';

const { num, option } = benchOptions();
const seconds = num('seconds', 3);
const passes = num('passes', 3);
const concurrencies = (option('concurrency') ?? '1,8').split(',').map(Number);

const CLOCK_TICKS = 100; // USER_HZ on Linux

function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

const secret = randomBytes(24).toString('hex');
const radius = await startFreeRadius({ secret, debug: false });
const dir = await mkdtemp(join(tmpdir(), 'portico-radius-bench-'));
const secretFile = join(dir, 'secret');
await writeFile(secretFile, secret, { mode: 0o600 });
const verifier = createRadiusVerifier({
  servers: [{ host: '127.0.0.1', port: radius.ports[0] ?? 0 }],
  secretFile,
  timeoutMs: 2000,
  retries: 0,
  nasIdentifier: 'portico-bench',
  requireMessageAuthenticator: false,
});

interface PassResult {
  count: number;
  rate: number;
  p50: number;
  p99: number;
  ownCpuMs: number;
  radiusCpuMs: number;
  failures: number;
}

async function pass(concurrency: number): Promise<PassResult> {
  const latencies: number[] = [];
  let failures = 0;
  const deadline = performance.now() + seconds * 1000;
  const ownBefore = process.cpuUsage();
  const radiusBefore = processCpuMs(radius.pid);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      // Alternate accept and reject so both paths are in the mix, as in real use.
      let i = worker;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const outcome = await verifier.verify({ username: 'alice', code: i % 2 === 0 ? '123456' : '000000' });
        latencies.push(performance.now() - t0);
        const expected = i % 2 === 0 ? 'accept' : 'reject';
        if (outcome.kind !== expected) {
          failures += 1;
          console.error(`worker ${worker} i=${i} expected ${expected}: ${JSON.stringify(outcome)} after ${(performance.now() - t0).toFixed(1)} ms`);
        }
        i += 1;
      }
    }),
  );
  const elapsed = performance.now() - started;
  const own = process.cpuUsage(ownBefore);
  const radiusCpu = processCpuMs(radius.pid) - radiusBefore;
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    rate: (latencies.length / elapsed) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    ownCpuMs: (own.user + own.system) / 1000 / latencies.length,
    radiusCpuMs: radiusCpu / latencies.length,
    failures,
  };
}

try {
  // Warm-up: JIT, FreeRADIUS threads.
  for (let i = 0; i < 200; i++) await verifier.verify({ username: 'alice', code: '123456' });
  const results = new Map<number, PassResult[]>(concurrencies.map((c) => [c, []]));
  for (let p = 0; p < passes; p++) {
    for (const c of concurrencies) {
      const result = await pass(c);
      results.get(c)?.push(result);
      console.error(`pass ${p + 1} c=${c}: ${result.count} verifications, p50 ${result.p50.toFixed(3)} ms, p99 ${result.p99.toFixed(3)} ms, failures ${result.failures}`);
    }
  }
  console.log(`\nNode ${process.version}, FreeRADIUS 3.2 (-f) on loopback, ${seconds} s per pass, ${passes} passes, medians; half accepts, half rejects (reject_delay 0)\n`);
  console.log('| concurrency | verifications/s | p50 ms | p99 ms | Portico CPU ms/verification | FreeRADIUS CPU ms/verification | wrong outcomes |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const [c, list] of results) {
    const m = (f: (r: PassResult) => number) => median(list.map(f));
    const failures = list.reduce((sum, r) => sum + r.failures, 0);
    console.log(
      `| ${c} | ${m((r) => r.rate).toFixed(0)} | ${m((r) => r.p50).toFixed(3)} | ${m((r) => r.p99).toFixed(3)} | ${m((r) => r.ownCpuMs).toFixed(3)} | ${m((r) => r.radiusCpuMs).toFixed(3)} | ${failures} |`,
    );
  }
} finally {
  if (process.env.RADIUS_BENCH_LOG) console.error(radius.output().split('\n').filter((l) => !/Ready|Loaded|Starting|Debugger|watchdog/.test(l)).slice(-20).join('\n'));
  await radius.stop();
  await rm(dir, { recursive: true, force: true });
}
