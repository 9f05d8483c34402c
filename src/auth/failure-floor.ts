/**
 * The failure floor: failed sign-ins and failed password changes answer no earlier than the
 * time a wrong password usually takes, so that their timing does not tell which names exist.
 *
 * Why: a domain controller answers a bind for a name that does not exist in ~1–4 ms and a wrong
 * password for a real account in ~25–60 ms (it checks the hash and updates badPwdCount). Body and
 * status are already the same; without this the time alone names the accounts (issue 13).
 *
 * How:
 * - `begin(request)` notes when a request started (first thing the flow does); `hold(request, …)`
 *   on its failure path waits until `floor − elapsed`, measured from that start (the whole floor
 *   if `begin` did not see that request object). Successes never call `hold` and are never delayed.
 * - The floor is learnt per source (a domain controller's URL; the managed password change uses
 *   its own): the `percentile` (95th) of the elapsed times of recent failures that reached that
 *   source, the last `windowSize` (200) within `maxSampleAgeMs` (an hour), bounded by `maxMs`.
 *   With fewer than `minSamples` (20) it is `initialMs` (100 ms).
 * - Failures for unknown names are among those samples and are fast: a flood of them would pull
 *   the percentile down and reopen the leak. So a sample counts only when it is at least
 *   `admitRatio` (½) of the current floor: fast answers never move it, slow ones (wrong passwords)
 *   do. The floor thus learns the slow mode from above; on a DC where even wrong passwords take
 *   under half of `initialMs` it stays at `initialMs`. Samples expire, so a passing slowness of
 *   the DC raises the floor for at most `maxSampleAgeMs`.
 * - A failure that reached no controller (an unparseable name, the directory not connected) is
 *   held to the floor of the controller whose failure was seen last (the one the pool uses now).
 * - Throttled refusals (`auth.throttled`) are not held: they never reach the directory, and their
 *   status (429) and message differ by design, the same for every name.
 * - Each held response costs one timer; at most `maxPending` wait at once. Beyond that a failure
 *   answers at once (`onOverflow` is told): reaching it needs thousands of unthrottled failures a
 *   second, and a timer per request must not become the way to exhaust memory.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';

export interface FailureFloorOptions {
  /** The floor while a source has fewer than `minSamples` samples. */
  initialMs?: number;
  /** The floor never exceeds this. */
  maxMs?: number;
  /** Which percentile of the samples is the floor (0–1). */
  percentile?: number;
  windowSize?: number;
  minSamples?: number;
  maxSampleAgeMs?: number;
  /** A sample below this share of the current floor is ignored (the fast answers for unknown names). */
  admitRatio?: number;
  maxPending?: number;
  /** Sources (controllers) remembered; the least recently seen are forgotten beyond it. */
  maxSources?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  onOverflow?: (pending: number) => void;
}

/** How a request failed: its error code, and where it was decided (a controller URL), when known. */
export interface FailureOutcome {
  code: string;
  /** A string names the source; anything else (absent, null) means "no controller was reached". */
  source?: unknown;
}

export interface FailureFloor {
  /** Notes the start of a request (a sign-in or password-change request object). */
  begin(request: object): void;
  /** On a failure: learns from it, then resolves no earlier than the floor after `begin`. */
  hold(request: object, outcome: FailureOutcome): Promise<void>;
  /** The current floor of a source (or of the last one seen), in milliseconds. */
  floorMs(source?: string | null): number;
  /** Responses waiting right now. */
  pending(): number;
}

export const FAILURE_FLOOR_DEFAULTS = {
  initialMs: 100,
  maxMs: 1000,
  percentile: 0.95,
  windowSize: 200,
  minSamples: 20,
  maxSampleAgeMs: 60 * 60_000,
  admitRatio: 0.5,
  maxPending: 1024,
  maxSources: 64,
} as const;

interface Source {
  /** Admitted samples, oldest first. */
  samples: Array<{ at: number; ms: number }>;
  floor: number;
}

export function createFailureFloor(options: FailureFloorOptions = {}): FailureFloor {
  const o = { ...FAILURE_FLOOR_DEFAULTS, ...withoutUndefined(options) };
  if (!(o.maxMs >= 0) || !(o.initialMs >= 0) || o.initialMs > o.maxMs) throw new RangeError('failure floor: need 0 ≤ initialMs ≤ maxMs');
  if (!(o.percentile > 0 && o.percentile <= 1)) throw new RangeError('failure floor: percentile must be in (0, 1]');
  if (!(o.admitRatio >= 0 && o.admitRatio < 1)) throw new RangeError('failure floor: admitRatio must be in [0, 1)');
  for (const key of ['windowSize', 'minSamples', 'maxPending', 'maxSources'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new RangeError(`failure floor: ${key} must be a positive integer`);
  }
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms));
  const starts = new WeakMap<object, number>();
  const sources = new Map<string, Source>();
  let lastSource: string | null = null;
  let waiting = 0;

  function recompute(source: Source, at: number): void {
    const cutoff = at - o.maxSampleAgeMs;
    while (source.samples.length > 0 && (source.samples[0]?.at ?? at) <= cutoff) source.samples.shift();
    if (source.samples.length < o.minSamples) {
      source.floor = o.initialMs;
      return;
    }
    const sorted = source.samples.map((s) => s.ms).sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(o.percentile * sorted.length) - 1));
    source.floor = Math.min(o.maxMs, sorted[rank] ?? o.initialMs);
  }

  function current(name: string | null, at: number): number {
    const source = name === null ? undefined : sources.get(name);
    if (source === undefined) return o.initialMs;
    const oldest = source.samples[0];
    if (oldest !== undefined && oldest.at <= at - o.maxSampleAgeMs) recompute(source, at);
    return source.floor;
  }

  function observe(name: string, ms: number, at: number): void {
    let source = sources.get(name);
    if (source === undefined) {
      source = { samples: [], floor: o.initialMs };
      for (const oldest of sources.keys()) {
        if (sources.size < o.maxSources) break;
        sources.delete(oldest);
      }
    } else {
      sources.delete(name); // re-inserted: most recently seen last
    }
    sources.set(name, source);
    lastSource = name;
    if (ms < o.admitRatio * current(name, at)) return;
    source.samples.push({ at, ms });
    if (source.samples.length > o.windowSize) source.samples.shift();
    recompute(source, at);
  }

  return {
    begin(request) {
      starts.set(request, now());
    },
    async hold(request, outcome) {
      const started = starts.get(request);
      starts.delete(request);
      if (outcome.code === 'auth.throttled') return;
      const at = now();
      // A request whose start was not noted (a caller passed another object) waits the whole
      // floor: too long rather than telling; and it teaches nothing.
      const elapsed = started === undefined ? 0 : at - started;
      const source = typeof outcome.source === 'string' ? outcome.source : null;
      // Judged against the floor known before this failure; then learnt from.
      const floor = current(source ?? lastSource, at);
      if (source !== null && started !== undefined) observe(source, elapsed, at);
      const wait = floor - elapsed;
      if (wait <= 0) return;
      if (waiting >= o.maxPending) {
        o.onOverflow?.(waiting);
        return;
      }
      waiting++;
      try {
        await sleep(wait);
      } finally {
        waiting--;
      }
    },
    floorMs(source) {
      return current(source ?? lastSource, now());
    },
    pending: () => waiting,
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The floor as configured (`signIn.failureFloor`), or null when it is turned off. */
export function failureFloorFromConfig(
  settings: { enabled: boolean; initialMs: number; maxMs: number },
  log: { warn(details: Record<string, unknown>, message: string): void },
): FailureFloor | null {
  if (!settings.enabled) return null;
  let warnedAt = -Infinity;
  return createFailureFloor({
    initialMs: settings.initialMs,
    maxMs: settings.maxMs,
    onOverflow(pending) {
      // Once a minute at most: the flood that causes it must not also flood the log.
      if (performance.now() - warnedAt < 60_000) return;
      warnedAt = performance.now();
      log.warn({ pending }, 'too many failed sign-ins waiting at once: failures answer without the timing floor until fewer wait');
    },
  });
}
