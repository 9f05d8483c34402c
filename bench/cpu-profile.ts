/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function and per
 * origin (a package under node_modules, a file of src/, Node's internals, GC), over a window of
 * the profile or all of it.
 * Run on its own: node --import tsx bench/cpu-profile.ts <file.cpuprofile> [--top 30]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  /** Sampled time in the window, idle excluded (ms). */
  busyMs: number;
  idleMs: number;
  functions: ProfileRow[];
  origins: ProfileRow[];
  /** Time with the function anywhere on the stack (each function counted once per sample). */
  inclusive: ProfileRow[];
  /** For the top self-time functions: the commonest caller chains (up to 4 frames, nearest first). */
  callers: Map<string, ProfileRow[]>;
  /** Each sample charged to the nearest frame on its stack that belongs to a component (see `components`). */
  components: ProfileRow[];
}

/**
 * Portico's components, by where code lives. A sample goes to the nearest frame (from the leaf
 * up) that matches one: a socket write under ldapts is LDAP, under Fastify's reply it is HTTP.
 */
export const components: Array<{ name: string; test: (origin: string) => boolean }> = [
  { name: 'LDAP client (ldapts, src/directory)', test: (o) => o === 'npm:ldapts' || o.startsWith('src/directory/') },
  { name: 'storage (Kysely, better-sqlite3, src/storage)', test: (o) => o === 'npm:kysely' || o === 'npm:better-sqlite3' || o.startsWith('src/storage/') },
  { name: 'IdentityStore API (src/identity-store-api)', test: (o) => o.startsWith('src/identity-store-api/') },
  { name: 'attribute mappings (src/identity-store)', test: (o) => o.startsWith('src/identity-store/') },
  { name: 'secret box (src/secrets)', test: (o) => o.startsWith('src/secrets/') },
  { name: 'sessions and audit (src/sessions, src/audit)', test: (o) => o.startsWith('src/sessions/') || o.startsWith('src/audit/') },
  { name: 'sign-in flow and throttle (src/auth/*.ts, JIT step in src/provisioning)', test: (o) => o.startsWith('src/provisioning/') || /^src\/auth\/[^/]+\.ts$/.test(o) },
  {
    name: 'HTTP (Fastify, routes, Node http)',
    test: (o) => ['npm:fastify', 'npm:find-my-way', 'npm:avvio', 'npm:light-my-request', 'npm:fast-json-stringify', 'npm:toad-cache', 'npm:zod'].includes(o) || o.startsWith('src/auth/http/'),
  },
];

const repo = fileURLToPath(new URL('..', import.meta.url));

function location(url: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith('/') ? relative(repo, path) : path;
}

/** Where code comes from: a node_modules package, src/<dir>/<file>, node internals, or V8's pseudo-frames. */
export function originOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  if (url.startsWith('node:')) return 'node internals';
  const path = location(url);
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  return path;
}

export interface ReadProfile {
  byId: Map<number, ProfileNode>;
  parentOf: Map<number, number>;
  /** Self time in µs by node id, within the window. */
  selfUs: Map<number, number>;
}

/** A .cpuprofile's nodes, their parents, and each node's self time within a window (ms since its start). */
export function readCpuProfile(file: string, window: { fromMs?: number; toMs?: number } = {}): ReadProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const selfUs = new Map<number, number>();
  let t = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    t += profile.timeDeltas[i] ?? 0;
    const ms = t / 1000;
    if ((window.fromMs !== undefined && ms < window.fromMs) || (window.toMs !== undefined && ms > window.toMs)) continue;
    // A sample's delta is the time since the previous sample: charge it to this sample's node.
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return { byId, parentOf, selfUs };
}

/**
 * Self time by function and by origin. `fromMs`/`toMs` (since the profile's start) keep only the
 * samples of a window, e.g. the measured phase without start-up.
 */
export function summariseCpuProfile(file: string, window: { fromMs?: number; toMs?: number } = {}): ProfileSummary {
  const { byId, parentOf, selfUs } = readCpuProfile(file, window);
  const functions = new Map<string, number>();
  const origins = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const chains = new Map<string, Map<string, number>>();
  const byComponent = new Map<string, number>();
  const nameOf = (frame: CallFrame): string => {
    const where = frame.url === '' ? '' : ` ${location(frame.url)}:${frame.lineNumber + 1}`;
    return `${frame.functionName || '(anonymous)'}${where}`;
  };
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const name = nameOf(frame);
    functions.set(name, (functions.get(name) ?? 0) + us);
    const origin = originOf(frame);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
    const stack: string[] = [];
    let component: string | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const f = (byId.get(at) as ProfileNode).callFrame;
      if (f.functionName !== '(root)') stack.push(nameOf(f));
      component ??= components.find((c) => c.test(originOf(f)))?.name;
    }
    const owner = component ?? (frame.url === '' && frame.functionName.startsWith('(') ? frame.functionName : 'other (Node internals with no component above: socket reads, timers, event loop)');
    byComponent.set(owner, (byComponent.get(owner) ?? 0) + us);
    for (const fn of new Set(stack)) inclusive.set(fn, (inclusive.get(fn) ?? 0) + us);
    const chain = stack.slice(1, 5).map((f) => f.replace(' node_modules/', ' ')).join(' ← ');
    const byChain = chains.get(name) ?? new Map<string, number>();
    byChain.set(chain, (byChain.get(chain) ?? 0) + us);
    chains.set(name, byChain);
  }
  const rows = (map: Map<string, number>): ProfileRow[] =>
    [...map.entries()].map(([name, us]) => ({ name, ms: us / 1000, share: busyUs > 0 ? us / busyUs : 0 })).sort((a, b) => b.ms - a.ms);
  const functionRows = rows(functions);
  const callers = new Map(functionRows.slice(0, 15).map((row) => [row.name, rows(chains.get(row.name) ?? new Map<string, number>()).slice(0, 3)]));
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, functions: functionRows, origins: rows(origins), inclusive: rows(inclusive), callers, components: rows(byComponent) };
}

export function printSummary(summary: ProfileSummary, top: number, perOperation?: { count: number; label: string }): void {
  const per = (ms: number): string => (perOperation ? ` | ${((ms * 1000) / perOperation.count).toFixed(1)}` : '');
  const perHead = perOperation ? ` | µs per ${perOperation.label}` : '';
  const perRule = perOperation ? '|---:' : '';
  console.log(`\nSampled busy time ${summary.busyMs.toFixed(0)} ms (idle ${summary.idleMs.toFixed(0)} ms) on the main thread${perOperation ? `, ${perOperation.count} ${perOperation.label}s` : ''}.\n`);
  console.log(`| component (nearest owner on the stack) | ms | share${perHead} |`);
  console.log(`|---|---:|---:${perRule}|`);
  for (const row of summary.components) console.log(`| ${row.name} | ${row.ms.toFixed(0)} | ${(row.share * 100).toFixed(1)}%${per(row.ms)} |`);
  console.log(`\n| origin (self time) | ms | share${perHead} |`);
  console.log(`|---|---:|---:${perRule}|`);
  for (const row of summary.origins.slice(0, top)) console.log(`| ${row.name} | ${row.ms.toFixed(0)} | ${(row.share * 100).toFixed(1)}%${per(row.ms)} |`);
  console.log(`\n| function (self time) | ms | share${perHead} |`);
  console.log(`|---|---:|---:${perRule}|`);
  for (const row of summary.functions.slice(0, top)) console.log(`| \`${row.name}\` | ${row.ms.toFixed(0)} | ${(row.share * 100).toFixed(1)}%${per(row.ms)} |`);
  console.log(`\n| function (inclusive time) | ms | share${perHead} |`);
  console.log(`|---|---:|---:${perRule}|`);
  for (const row of summary.inclusive.slice(0, top)) console.log(`| \`${row.name}\` | ${row.ms.toFixed(0)} | ${(row.share * 100).toFixed(1)}%${per(row.ms)} |`);
  console.log('\nCommonest callers of the top self-time functions (nearest first):\n');
  for (const [name, chains] of summary.callers) {
    console.log(`- \`${name}\`: ${chains.map((c) => `${c.ms.toFixed(0)} ms ← ${c.name || '(top)'}`).join('; ')}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (!file) {
    console.error('usage: node --import tsx bench/cpu-profile.ts <file.cpuprofile> [--top 30]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  printSummary(summariseCpuProfile(file), i >= 0 ? Number(process.argv[i + 1]) : 30);
}
