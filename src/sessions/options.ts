/**
 * Settings of portal sessions. The duration is written as an ISO-8601 duration (`PT8H`, `PT30M`,
 * `P7D`, `P1DT12H`): one unambiguous format, readable in a file and in an environment variable.
 * Years and months are refused: their length varies.
 */
import { z } from 'zod';

const MINUTE_MS = 60_000;
export const MIN_SESSION_MS = 15 * MINUTE_MS;
export const MAX_SESSION_MS = 90 * 24 * 60 * MINUTE_MS;

const ISO_DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Milliseconds of an ISO-8601 duration of weeks, days, hours, minutes and seconds; undefined when it is not one. */
export function parseIsoDuration(text: string): number | undefined {
  const normalised = text.trim().toUpperCase();
  // The regex alone also accepts `P`, `PT` and `P1DT`, which name no duration.
  const match = normalised === 'P' || normalised.endsWith('T') ? null : ISO_DURATION.exec(normalised);
  if (match === null) return undefined;
  const [weeks = 0, days = 0, hours = 0, minutes = 0, seconds = 0] = match.slice(1).map((part) => (part === undefined ? 0 : Number(part)));
  const ms = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * MINUTE_MS + seconds * 1000;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

export const sessionsOptionsSchema = z
  .object({
    /** How long a portal session lasts from sign-in: ISO-8601, from PT15M to P90D. */
    duration: z
      .string()
      .default('PT8H')
      .superRefine((value, ctx) => {
        const ms = parseIsoDuration(value);
        if (ms === undefined) {
          ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 duration such as PT8H, PT30M or P7D (no years or months)' });
        } else if (ms < MIN_SESSION_MS || ms > MAX_SESSION_MS) {
          ctx.addIssue({ code: 'custom', message: 'must be from 15 minutes (PT15M) to 90 days (P90D)' });
        }
      }),
    /** How often a live session asks the directory whether its user still exists and may sign in. */
    recheckMinutes: z.number().int('must be a whole number of minutes').min(1, 'must be from 1 to 60').max(60, 'must be from 1 to 60').default(5),
  })
  .prefault({});

export type SessionsOptions = z.output<typeof sessionsOptionsSchema>;

export interface SessionTimings {
  durationMs: number;
  recheckMs: number;
}

/** The validated settings in milliseconds (the schema guarantees the duration parses). */
export function sessionTimings(options: SessionsOptions): SessionTimings {
  const durationMs = parseIsoDuration(options.duration);
  if (durationMs === undefined) throw new Error(`unreachable: sessions.duration is validated by the schema`);
  return { durationMs, recheckMs: options.recheckMinutes * MINUTE_MS };
}
