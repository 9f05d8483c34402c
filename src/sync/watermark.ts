/**
 * Whether a uSNChanged poll (or a DirSync read) can be trusted or a full reconciliation is needed.
 * highestCommittedUSN counts one domain controller's own commits: another DC's numbers are
 * unrelated, so a read that lands on another DC (failover) cannot continue from the stored USN
 * without losing or replaying changes; a USN below the stored one means the DC was restored from a
 * backup. A DirSync cookie is kept per DC for the same reason, and one the DC refused (expired,
 * malformed) leaves the changes since unknown.
 */
import type { Watermark } from './ports.ts';

export type RunDecision =
  | { mode: 'incremental'; since: string }
  | { mode: 'full'; reason: 'first_run' | 'controller_changed' | 'usn_went_back' | 'cookie_rejected' | 'periodic' | 'requested' | 'scope_changed' };

export interface Observed {
  controllerId: string;
  highestCommittedUsn: string;
  /** The DC refused the stored DirSync cookie. */
  cookieRejected?: boolean;
}

export function decideRun(stored: Watermark | null, observed: Observed, now: Date, options: { fullEveryMs: number; fullRequested: boolean; scopeChanged: boolean }): RunDecision {
  if (stored === null) return { mode: 'full', reason: 'first_run' };
  if (stored.controllerId !== observed.controllerId) return { mode: 'full', reason: 'controller_changed' };
  if (BigInt(observed.highestCommittedUsn) < BigInt(stored.usn)) return { mode: 'full', reason: 'usn_went_back' };
  if (observed.cookieRejected === true) return { mode: 'full', reason: 'cookie_rejected' };
  if (options.fullRequested) return { mode: 'full', reason: 'requested' };
  if (options.scopeChanged) return { mode: 'full', reason: 'scope_changed' };
  if (now.getTime() - stored.fullSyncAt.getTime() >= options.fullEveryMs) return { mode: 'full', reason: 'periodic' };
  return { mode: 'incremental', since: stored.usn };
}
