/** Audit: the log of administrative and security-relevant actions, free of secrets. */
export {
  auditOutcomes,
  MAX_AUDIT_PAGE,
  type AuditEvent,
  type AuditEventInput,
  type AuditLog,
  type AuditOutcome,
  type AuditQuery,
} from './audit-log.ts';
export {
  AUDIT_ACTIONS,
  currentAuditAction,
  isAuditAction,
  LEGACY_AUDIT_ACTIONS,
  MANAGED_DIRECTORY_ACTIONS,
  storedAuditActions,
  type AuditAction,
  type ManagedDirectoryAction,
} from './actions.ts';
export { redactDetails, type JsonObject, type JsonValue } from './redact.ts';
