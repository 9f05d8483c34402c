/**
 * The directory side of a sign-in alone (issue 20): the DC's CPU and the LDAP operations per
 * sign-in of the connector (resolveAccount → authenticate → groupsOf, what the sign-in flow asks),
 * beside a raw rebind on an open LDAPS connection, in one process, no HTTP and no storage.
 *
 * With --baseline <tree> (a checkout of an earlier commit with node_modules), that tree's
 * connector runs as a third side, so that before and after are measured in the same run. The
 * sides alternate in short slices (the order rotates each round) and the figures are medians
 * over the rounds, which keeps the noise of a shared DC (other users of it) out of the
 * comparison as far as alternation can.
 *
 * Run: node --import tsx bench/dc-round-trips.bench.ts [--rounds 9] [--per-slice 40]
 *        [--users alice,bob,carol,hank,jsmith] [--baseline /tmp/portico-base]
 */
import { loadavg } from 'node:os';
import { createAdConnector } from '../src/directory/connector.ts';
import type { DirectoryConnector, LdapOperationEvent } from '../src/directory/types.ts';
import { fixtureUser, sambaOptions, sambaRuntime, type FixtureUser } from '../test/support/samba.ts';
import { benchOptions, dcPids, rawBindSide } from './bench-kit.ts';
import { cpuSeconds, median } from './portico-process.ts';

const { option, num } = benchOptions();
const rounds = num('rounds', 9);
const perSlice = num('per-slice', 40);
const baseline = option('baseline');
const users: FixtureUser[] = (option('users') ?? 'alice,bob,carol,hank,jsmith').split(',').map(fixtureUser);
const dc = sambaRuntime();

interface Side {
  name: string;
  run(user: FixtureUser): Promise<void>;
  ops: number;
  close(): Promise<void>;
}

function connectorSide(name: string, connector: DirectoryConnector, counter: { ops: number }): Side {
  return {
    name,
    async run(user) {
      const account = await connector.resolveAccount(user.upn);
      const result = await connector.authenticate(user.upn, user.password, { account });
      if (result.outcome !== 'ok') throw new Error(`${name}: ${user.upn} ${result.outcome}`);
      await connector.groupsOf(result.user);
    },
    get ops() {
      return counter.ops;
    },
    close: () => connector.close(),
  };
}

async function makeConnector(name: string, create: typeof createAdConnector): Promise<Side> {
  const counter = { ops: 0 };
  // Operations that reached the DC: a paged search's closing (empty) page is no request of its own.
  const onOperation = (event: LdapOperationEvent): void => {
    if (!(event.paged && event.entries === 0)) counter.ops += 1;
  };
  const connector = create(sambaOptions(), { onOperation });
  const side = connectorSide(name, connector, counter);
  for (const user of users) await side.run(user); // warm: resolutions, pools, group SIDs
  return side;
}

const sides: Side[] = [];
const raw = await rawBindSide(dc, users, 1);
let rawOps = 0;
sides.push({
  name: 'raw bind',
  run: async (user) => {
    const failure = await raw.operate(0, user);
    if (failure !== null) throw new Error(failure);
    rawOps += 1;
  },
  get ops() {
    return rawOps;
  },
  close: () => raw.close(),
});
sides.push(await makeConnector('sign-in (this tree)', createAdConnector));
if (baseline) {
  const module = (await import(`${baseline}/src/directory/connector.ts`)) as { createAdConnector: typeof createAdConnector };
  sides.push(await makeConnector(`sign-in (${baseline})`, module.createAdConnector));
}

console.log(`# DC round trips of a sign-in — ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start, ${rounds} rounds × ${perSlice} per side, c=1`);
const results = new Map<string, { cpuMs: number[]; perSecond: number[]; ops: number[] }>(sides.map((s) => [s.name, { cpuMs: [], perSecond: [], ops: [] }]));
let next = 0;
for (let round = 0; round < rounds; round += 1) {
  const order = sides.map((_, i) => sides[(i + round) % sides.length] as Side);
  for (const side of order) {
    const cpuBefore = cpuSeconds(dcPids(dc));
    const opsBefore = side.ops;
    const started = performance.now();
    for (let i = 0; i < perSlice; i += 1) await side.run(users[next++ % users.length] as FixtureUser);
    const elapsed = (performance.now() - started) / 1000;
    const result = results.get(side.name);
    result?.cpuMs.push(((cpuSeconds(dcPids(dc)) - cpuBefore) * 1000) / perSlice);
    result?.perSecond.push(perSlice / elapsed);
    result?.ops.push((side.ops - opsBefore) / perSlice);
  }
  process.stderr.write(`round ${round + 1}/${rounds} done, load ${loadavg()[0]?.toFixed(2)}\n`);
}
const rawCpu = median(results.get('raw bind')?.cpuMs ?? []);
const rawRate = median(results.get('raw bind')?.perSecond ?? []);
console.log('\n| side | LDAP operations per sign-in | DC CPU ms per op (median) | ÷ raw bind (goal ≤ 1.25) | per second, c=1 (median) | ÷ raw bind |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, r] of results) {
  const cpu = median(r.cpuMs);
  const rate = median(r.perSecond);
  console.log(`| ${name} | ${median(r.ops).toFixed(2)} | ${cpu.toFixed(2)} | ${(cpu / rawCpu).toFixed(2)} | ${rate.toFixed(1)} | ${(rate / rawRate).toFixed(2)} |`);
}
for (const side of sides) await side.close();
