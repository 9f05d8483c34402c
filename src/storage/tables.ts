/**
 * The database as Kysely sees it. Column types are chosen to behave the same on SQLite and
 * PostgreSQL: text everywhere, timestamps as ISO-8601 UTC text (fixed width, so they sort
 * chronologically as text), JSON as text.
 */

export interface Database {
  directory_connections: DirectoryConnectionsTable;
  audit_events: AuditEventsTable;
}

export interface DirectoryConnectionsTable {
  id: string;
  name: string;
  domain: string;
  /** The connection options without serviceAccount.password. */
  options_json: string;
  /** serviceAccount.password sealed by the secret box (`v1.…`), bound to the connection name. */
  bind_password_sealed: string;
  created_at: string;
  updated_at: string;
}

export interface AuditEventsTable {
  id: string;
  occurred_at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: 'success' | 'failure';
  error_code: string | null;
  details_json: string;
}
