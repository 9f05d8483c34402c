/**
 * What the AD sync needs stored beyond users and groups: the administrator's scope and where
 * change tracking stands (a USN is only meaningful together with the DC that issued it).
 */
/** A group (its members, nested groups transitively), a single user, or an OU (its users, whole subtree). */
export type ScopeKind = 'group' | 'user' | 'ou';

export interface ScopeEntry {
  kind: ScopeKind;
  /** objectGUID, lower-cased. */
  guid: string;
  /** `name@domain` (group), the UPN (user) or the DN (OU) when it was added, for display. */
  label: string;
  addedBy: string;
  addedAt: Date;
}

export interface Watermark {
  /** The directory the position belongs to (its DNS domain). */
  source: string;
  /** The DC's identity (its dsServiceName): highestCommittedUSN is per domain controller. */
  controllerId: string;
  /** highestCommittedUSN of that DC when the last run began (decimal string: USNs are 64-bit). */
  usn: string;
  cookie: string | null;
  fullSyncAt: Date;
  updatedAt: Date;
}

export interface SyncStateStore {
  scope(): Promise<ScopeEntry[]>;
  /** False when the entry was already there. */
  addScope(entry: ScopeEntry): Promise<boolean>;
  removeScope(kind: ScopeKind, guid: string): Promise<boolean>;
  watermark(source: string): Promise<Watermark | null>;
  saveWatermark(watermark: Watermark): Promise<void>;
  clearWatermarks(): Promise<void>;
}
