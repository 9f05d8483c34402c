/**
 * Connector benchmarks against the test Samba DC (start it with `bash test/samba/dc.sh start`):
 *   1. sign-ins per second through the connector versus raw ldapts binds, at concurrency 1 and 8,
 *      in alternating passes (the machine is shared and noisy), medians reported, with the DC's
 *      CPU per operation;
 *   2. transitive groups of a user in 60+ groups, per method;
 *   3. reading a 1,600-member group.
 * Run: node --import tsx bench/connector.bench.ts [--seconds 4] [--passes 3]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client } from 'ldapts';
import { createAdConnector } from '#src/directory/connector.ts';
import { groupResolutionMethods } from '#src/directory/options.ts';
import { fixture, fixtureUser, sambaOptions, sambaRuntime } from '../test/support/samba.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = arg('seconds', 4);
const passes = arg('passes', 3);
const dc = sambaRuntime();
const alice = fixtureUser('alice');

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** CPU seconds used so far by every samba process (user + system). */
function dcCpuSeconds(): number {
  const pids = execFileSync('pgrep', ['-x', 'samba'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
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

async function measure(concurrency: number, operation: () => Promise<void>): Promise<{ perSecond: number; dcCpuMs: number }> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const cpuBefore = dcCpuSeconds();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await operation();
        done += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { perSecond: done / elapsed, dcCpuMs: ((dcCpuSeconds() - cpuBefore) * 1000) / done };
}

async function rawBindPool(size: number): Promise<{ bind(): Promise<void>; close(): Promise<void> }> {
  const ca = readFileSync(dc.caFile);
  const clients = await Promise.all(
    Array.from({ length: size }, async () => {
      const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca } });
      await client.bind(alice.upn, alice.password);
      return client;
    }),
  );
  const idle = [...clients];
  return {
    async bind() {
      const client = idle.pop();
      if (!client) throw new Error('raw pool exhausted');
      try {
        await client.bind(alice.upn, alice.password);
      } finally {
        idle.push(client);
      }
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.unbind()));
    },
  };
}

async function signInThroughput(): Promise<void> {
  console.log(`\n## Sign-ins per second (${seconds} s per pass, ${passes} alternating passes, medians)\n`);
  console.log('| concurrency | raw ldapts binds/s | connector sign-ins/s | ratio | DC CPU ms per raw bind | DC CPU ms per sign-in |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const concurrency of [1, 8]) {
    const connector = createAdConnector(sambaOptions({ pool: { size: concurrency } }));
    const raw = await rawBindPool(concurrency);
    await connector.authenticate(alice.upn, alice.password); // discovery and first connections
    const rawRuns: Array<{ perSecond: number; dcCpuMs: number }> = [];
    const connectorRuns: Array<{ perSecond: number; dcCpuMs: number }> = [];
    for (let pass = 0; pass < passes; pass += 1) {
      rawRuns.push(await measure(concurrency, () => raw.bind()));
      connectorRuns.push(
        await measure(concurrency, async () => {
          const result = await connector.authenticate(alice.upn, alice.password);
          if (result.outcome !== 'ok') throw new Error(`sign-in failed: ${result.outcome}`);
        }),
      );
    }
    const rawRate = median(rawRuns.map((r) => r.perSecond));
    const connectorRate = median(connectorRuns.map((r) => r.perSecond));
    console.log(
      `| ${concurrency} | ${rawRate.toFixed(1)} | ${connectorRate.toFixed(1)} | ${(connectorRate / rawRate).toFixed(2)} | ${median(rawRuns.map((r) => r.dcCpuMs)).toFixed(1)} | ${median(connectorRuns.map((r) => r.dcCpuMs)).toFixed(1)} |`,
    );
    await raw.close();
    await connector.close();
  }
}

async function timeEach(label: string, runs: number, operation: () => Promise<number>): Promise<void> {
  const times: number[] = [];
  let size = 0;
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    size = await operation();
    times.push(performance.now() - started);
  }
  console.log(`| ${label} | ${size} | ${median(times).toFixed(1)} | ${Math.min(...times).toFixed(1)} | ${Math.max(...times).toFixed(1)} |`);
}

async function groupsAndMembers(): Promise<void> {
  const runs = 15;
  const connector = createAdConnector(sambaOptions());
  const greg = await connector.findUser(fixture.manyGroupsUser.user);
  const big = await connector.findGroup(fixture.bigGroup.sAMAccountName);
  if (!greg || !big) throw new Error('fixture users missing');
  console.log(`\n## Transitive groups and large groups (${runs} runs each, ms)\n`);
  console.log('| operation | result size | median ms | min | max |');
  console.log('|---|---:|---:|---:|---:|');
  for (const method of groupResolutionMethods) {
    await timeEach(`groups of ${greg.samAccountName} by ${method}`, runs, async () => (await connector.groupsOf(greg, method)).groups.length);
  }
  await timeEach(`members of ${big.name} (ranges of 1,500)`, runs, async () => (await connector.groupMembers(big)).length);
  await connector.close();
}

console.log(`# Connector benchmark — ${new Date().toISOString()}, Node ${process.version}, DC ${dc.ldapsUrl} (Samba, LDAPS)`);
await signInThroughput();
await groupsAndMembers();
