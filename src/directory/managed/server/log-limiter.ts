/**
 * Rate-limited warnings for the LDAP server: anyone who can reach the port can make it see
 * malformed messages or refuse connections, and one log line per event would let them fill the
 * disk and drown real warnings. The first few events of each kind in an interval are logged as
 * they come; the rest are counted and reported as one summary line when the interval ends.
 */
import type { LdapServerLogger } from './connection.ts';

export interface WarningLimiter {
  /** Logs now, or counts toward the interval's summary once `burst` lines of this kind were written. */
  warn(kind: string, details: Record<string, unknown>, message: string): void;
  /** Writes pending summaries and stops the timer. */
  close(): void;
}

export interface WarningLimiterOptions {
  logger: LdapServerLogger;
  /** Length of one interval (default 60 s). */
  intervalMs: number;
  /** Lines of one kind written as they come within an interval (default 5). */
  burst: number;
}

interface Window {
  logged: number;
  suppressed: number;
  message: string;
}

export function createWarningLimiter(options: WarningLimiterOptions): WarningLimiter {
  const windows = new Map<string, Window>();
  let timer: NodeJS.Timeout | null = null;

  function flush(): void {
    for (const [kind, window] of windows) {
      if (window.suppressed > 0) {
        options.logger.warn({ kind, suppressed: window.suppressed, intervalMs: options.intervalMs }, `${window.message}: ${window.suppressed} more in the last interval (not logged one by one)`);
      }
    }
    windows.clear();
  }

  function tick(): void {
    const quiet = [...windows.values()].every((w) => w.suppressed === 0);
    flush();
    // No timer while nothing happens: an idle server wakes for nothing.
    if (quiet && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  return {
    warn(kind, details, message) {
      if (!timer) {
        timer = setInterval(tick, options.intervalMs);
        timer.unref();
      }
      const window = windows.get(kind) ?? { logged: 0, suppressed: 0, message };
      windows.set(kind, window);
      if (window.logged < options.burst) {
        window.logged += 1;
        options.logger.warn({ kind, ...details }, message);
      } else {
        window.suppressed += 1;
      }
    },
    close() {
      if (timer) clearInterval(timer);
      timer = null;
      flush();
    },
  };
}
