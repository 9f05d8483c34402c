/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function and per
 * origin (a package under node_modules, a file of src/, Node's internals, GC), over a window of
 * the profile or all of it.
 * Run on its own: node --import tsx bench/cpu-profile.ts <file.cpuprofile> [--top 30]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
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
}

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

/**
 * Self time by function and by origin. `fromMs`/`toMs` (since the profile's start) keep only the
 * samples of a window, e.g. the measured phase without start-up.
 */
export function summariseCpuProfile(file: string, window: { fromMs?: number; toMs?: number } = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
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
  const functions = new Map<string, number>();
  const origins = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const where = frame.url === '' ? '' : ` ${location(frame.url)}:${frame.lineNumber + 1}`;
    const name = `${frame.functionName || '(anonymous)'}${where}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const origin = originOf(frame);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
  }
  const rows = (map: Map<string, number>): ProfileRow[] =>
    [...map.entries()].map(([name, us]) => ({ name, ms: us / 1000, share: busyUs > 0 ? us / busyUs : 0 })).sort((a, b) => b.ms - a.ms);
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, functions: rows(functions), origins: rows(origins) };
}

export function printSummary(summary: ProfileSummary, top: number, perOperation?: { count: number; label: string }): void {
  const per = (ms: number): string => (perOperation ? ` | ${((ms * 1000) / perOperation.count).toFixed(1)}` : '');
  const perHead = perOperation ? ` | µs per ${perOperation.label}` : '';
  const perRule = perOperation ? '|---:' : '';
  console.log(`\nSampled busy time ${summary.busyMs.toFixed(0)} ms (idle ${summary.idleMs.toFixed(0)} ms) on the main thread${perOperation ? `, ${perOperation.count} ${perOperation.label}s` : ''}.\n`);
  console.log(`| origin (self time) | ms | share${perHead} |`);
  console.log(`|---|---:|---:${perRule}|`);
  for (const row of summary.origins.slice(0, top)) console.log(`| ${row.name} | ${row.ms.toFixed(0)} | ${(row.share * 100).toFixed(1)}%${per(row.ms)} |`);
  console.log(`\n| function (self time) | ms | share${perHead} |`);
  console.log(`|---|---:|---:${perRule}|`);
  for (const row of summary.functions.slice(0, top)) console.log(`| \`${row.name}\` | ${row.ms.toFixed(0)} | ${(row.share * 100).toFixed(1)}%${per(row.ms)} |`);
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
