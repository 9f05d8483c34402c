/**
 * Helper for bench/directory.bench.ts: starts Portico's managed directory with the CORP fixture
 * (test/support/managed.ts) in this process, so that its CPU time is its own, prints one JSON line
 * `{ "pid": …, "runtime": … }` on stdout, and stops (removing its data directory) on SIGTERM or
 * SIGINT, or when its parent goes away (stdin closes).
 * Run: node --import tsx bench/managed-server.ts
 */
import { startManagedFixture } from '../test/support/managed.ts';

const fixture = await startManagedFixture();
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await fixture.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// The parent holds our stdin open; if it dies without signalling, stdin ends and we stop too.
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ pid: process.pid, runtime: fixture.runtime })}\n`);
