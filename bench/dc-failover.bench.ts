/**
 * Directory failover under load (issue 15) against the test Samba DC: two TCP relays in front
 * of it are Portico's two domain controllers; c sign-ins run through the HTTP API while the
 * first relay dies and comes back. Prints failed sign-ins, latency per phase (p50/p99), rates,
 * the time to notice the dead controller and the time to fail back. Asserts nothing
 * (test/directory/dc-failover.samba.integration.test.ts does).
 * Run: node --import tsx bench/dc-failover.bench.ts [--concurrency 16] [--steady-ms 4000] [--down-ms 6000] [--after-ms 6000] [--health-ms 1000] [--runs 3]
 */
import { runFailoverScenario } from '../test/support/dc-failover.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const options = {
  concurrency: arg('concurrency', 16),
  steadyMs: arg('steady-ms', 4000),
  downMs: arg('down-ms', 6000),
  afterMs: arg('after-ms', 6000),
  healthCheckIntervalMs: arg('health-ms', 1000),
};
const runs = arg('runs', 3);
console.log(`Node ${process.version}; ${JSON.stringify(options)}; ${runs} runs`);
console.log('run  total  answered-while-down  failed  in-flight@kill  failed-after-kill  p50/p99 steady  p50/p99 switch(2s)  p50/p99 down  p50/p99 after  rate steady/down/after  down-noticed  fail-back  first-conn-back');
for (let run = 1; run <= runs; run += 1) {
  const f = await runFailoverScenario(options);
  const pp = (phase: 'steady' | 'switch' | 'down' | 'after') => `${f.p50Ms[phase]}/${f.p99Ms[phase]} ms`;
  console.log(
    [
      run,
      f.total,
      f.answeredWhileDown,
      f.failed.length,
      f.inFlightAtKill,
      f.failedAfterKill,
      pp('steady'),
      pp('switch'),
      pp('down'),
      pp('after'),
      `${f.signInsPerSecond.steady}/${f.signInsPerSecond.down}/${f.signInsPerSecond.after}/s`,
      `${f.controllerDownDetectedMs ?? '-'} ms`,
      `${f.failBackMs ?? '-'} ms`,
      `${f.firstConnectionBackMs ?? '-'} ms`,
    ].join('  '),
  );
  if (f.failed.length > 0) console.log('  failures:', [...new Set(f.failed.map((s) => `${s.status} ${s.code ?? ''}`))].join(', '));
}
