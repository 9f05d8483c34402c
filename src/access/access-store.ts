/**
 * What the access domain needs from storage. Accounts, permission sets and applications are
 * records of one shape (id, unique name, JSON body) so that one table and one contract serve all
 * three; assignments and provisioning records have their own.
 */
import type { Assignment } from './model.ts';

export type RecordKind = 'account' | 'permission_set' | 'application' | 'oidc_application';

export interface StoredRecord {
  id: string;
  name: string;
  body: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface AssignmentFilter {
  /** Assignments of any of these principals (objectGUIDs). */
  principalGuids?: readonly string[];
  accountId?: string;
  permissionSetId?: string;
  applicationId?: string;
}

export interface AccessStore {
  /** Throws storage.conflict when the id or the (case-insensitive) name is taken. */
  insertRecord(kind: RecordKind, record: { id: string; name: string; body: Record<string, unknown> }, at: Date): Promise<StoredRecord>;
  /** False when there is no such record; storage.conflict when the new name is taken. */
  updateRecord(kind: RecordKind, id: string, record: { name: string; body: Record<string, unknown> }, at: Date): Promise<boolean>;
  getRecord(kind: RecordKind, id: string): Promise<StoredRecord | undefined>;
  findRecordByName(kind: RecordKind, name: string): Promise<StoredRecord | undefined>;
  /** Ordered by lower-cased name. */
  listRecords(kind: RecordKind): Promise<StoredRecord[]>;
  removeRecord(kind: RecordKind, id: string): Promise<boolean>;
  countRecords(kinds: readonly RecordKind[]): Promise<number>;

  /** Throws storage.conflict when the principal already has this target. */
  insertAssignment(assignment: Assignment): Promise<void>;
  getAssignment(id: string): Promise<Assignment | undefined>;
  /** Ordered by creation. */
  listAssignments(filter: AssignmentFilter): Promise<Assignment[]>;
  removeAssignment(id: string): Promise<boolean>;

  /** Records that a permission set is provisioned into an account; idempotent. Returns whether it was new. */
  markProvisioned(accountId: string, permissionSetId: string, at: Date): Promise<boolean>;
  listProvisioned(filter: { accountId?: string; permissionSetId?: string }): Promise<Array<{ accountId: string; permissionSetId: string; provisionedAt: Date }>>;
  removeProvisioned(filter: { accountId?: string; permissionSetId?: string }): Promise<number>;
}
