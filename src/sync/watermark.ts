/**
 * Whether a uSNChanged poll can be trusted or a full reconciliation is needed. highestCommittedUSN
 * counts one domain controller's own commits: another DC's numbers are unrelated, so a read that
 * lands on another DC (failover) cannot continue from the stored USN without losing or replaying
 * changes; a USN below the stored one means the DC was restored from a backup.
 */
import type { Watermark } from './ports.ts';

export type RunDecision =
  | { mode: 'incremental'; since: string }
  | { mode: 'full'; reason: 'first_run' | 'controller_changed' | 'usn_went_back' | 'periodic' | 'requested' | 'scope_changed' };

export interface Observed {
  controllerId: string;
  highestCommittedUsn: string;
}

export function decideRun(stored: Watermark | null, observed: Observed, now: Date, options: { fullEveryMs: number; fullRequested: boolean; scopeChanged: boolean }): RunDecision {
  if (stored === null) return { mode: 'full', reason: 'first_run' };
  if (stored.controllerId !== observed.controllerId) return { mode: 'full', reason: 'controller_changed' };
  if (BigInt(observed.highestCommittedUsn) < BigInt(stored.usn)) return { mode: 'full', reason: 'usn_went_back' };
  if (options.fullRequested) return { mode: 'full', reason: 'requested' };
  if (options.scopeChanged) return { mode: 'full', reason: 'scope_changed' };
  if (now.getTime() - stored.fullSyncAt.getTime() >= options.fullEveryMs) return { mode: 'full', reason: 'periodic' };
  return { mode: 'incremental', since: stored.usn };
}
