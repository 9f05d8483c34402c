/**
 * Measuring whether a failed sign-in tells, by its timing, a name that does not exist from a
 * wrong password for a real account (issue 13): interleaved samples, their summary, and a
 * guard around the one Samba account whose password we may get wrong (`tlock1`), so that it is
 * never locked: each wrong password waits until nobody else has bad-password counts on it, and
 * is followed by a reset as the domain Administrator. Shared by the integration test and the
 * bench (bench/failure-timing.bench.ts).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Attribute, Change, Client } from 'ldapts';
import { fixtureUser, sambaRuntime, type SambaRuntime } from './samba.ts';

export interface Summary {
  n: number;
  p10: number;
  median: number;
  p90: number;
}

/** Nearest-rank percentile of sorted values. */
function rank(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
}

export function summarise(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p10: rank(sorted, 0.1), median: rank(sorted, 0.5), p90: rank(sorted, 0.9) };
}

export function formatSummary(name: string, s: Summary): string {
  return `${name.padEnd(34)} n=${String(s.n).padStart(3)}  p10 ${s.p10.toFixed(1).padStart(6)} ms  median ${s.median.toFixed(1).padStart(6)} ms  p90 ${s.p90.toFixed(1).padStart(6)} ms`;
}

/** Milliseconds `work` took. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** A name no directory has: a fresh one every time, so that no per-name throttle is reached. */
export function unknownName(domain: string): string {
  return `nobody-${Math.random().toString(36).slice(2, 10)}@${domain}`;
}

/**
 * Wrong passwords for Samba's `tlock1`, one at a time. Before each: wait until its badPwdCount is
 * 0 (another suite may be counting failures on it; adding ours could lock it). After each: reset
 * it (lockoutTime = 0, which also clears badPwdCount). At most one wrong password is ever ours.
 */
export interface Tlock1Guard {
  readonly upn: string;
  readonly password: string;
  /** Runs `wrong` (one wrong-password attempt) when it is safe, then resets the account. */
  once<T>(wrong: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function tlock1Guard(dc: SambaRuntime = sambaRuntime(), waitMs = 60_000): Promise<Tlock1Guard> {
  const user = fixtureUser('tlock1');
  const admin = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: readFileSync(dc.caFile) } });
  await admin.bind(dc.admin.username, dc.admin.password);
  const { searchEntries } = await admin.search(dc.baseDn, { filter: `(sAMAccountName=${user.sAMAccountName})`, attributes: ['dn'] });
  const dn = searchEntries[0]?.dn;
  if (dn === undefined) throw new Error('tlock1 is not on the DC: reload the fixture (test/samba/dc.sh)');

  const badPwdCount = async (): Promise<number> => {
    const { searchEntries: entries } = await admin.search(dn, { scope: 'base', attributes: ['badPwdCount', 'lockoutTime'] });
    const entry = entries[0];
    const lockout = Number(entry?.lockoutTime ?? 0);
    if (lockout !== 0) throw new Error(`tlock1 is locked out (lockoutTime ${lockout}): not adding a wrong password`);
    return Number(entry?.badPwdCount ?? 0);
  };
  const reset = () => admin.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'lockoutTime', values: ['0'] }) }));

  return {
    upn: user.upn,
    password: user.password,
    async once(wrong) {
      const deadline = Date.now() + waitMs;
      while ((await badPwdCount()) > 0) {
        if (Date.now() > deadline) throw new Error('tlock1 kept a bad-password count for a minute (another suite is using it)');
        await sleep(250);
      }
      try {
        return await wrong();
      } finally {
        await reset();
      }
    },
    async close() {
      await admin.unbind();
    },
  };
}
