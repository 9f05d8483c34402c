/**
 * The database as Kysely sees it. Column types are chosen to behave the same on SQLite and
 * PostgreSQL: text everywhere, timestamps as ISO-8601 UTC text (fixed width, so they sort
 * chronologically as text), JSON as text.
 */
import type { ColumnType } from 'kysely';

export interface Database {
  directory_connections: DirectoryConnectionsTable;
  audit_events: AuditEventsTable;
  dir_entries: DirEntriesTable;
  dir_links: DirLinksTable;
  dir_credentials: DirCredentialsTable;
  dir_counters: DirCountersTable;
  identity_users: IdentityUsersTable;
  settings: SettingsTable;
  sessions: SessionsTable;
  application_credentials: ApplicationCredentialsTable;
  access_records: AccessRecordsTable;
  access_assignments: AccessAssignmentsTable;
  access_provisioned: AccessProvisionedTable;
  sign_in_failures: SignInFailuresTable;
  aws_provisioning: AwsProvisioningTable;
  aws_accounts: AwsAccountsTable;
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

/** Managed directory entries; see src/directory/managed/engine/store.ts for the meaning of each field. */
export interface DirEntriesTable {
  guid: string;
  dn: string;
  ndn: string;
  ndn_rev: string;
  parent_ndn: string | null;
  sid: string | null;
  /** Lower-cased sAMAccountName, userPrincipalName and mail: the equality indexes. */
  sam_key: string | null;
  upn_key: string | null;
  mail_key: string | null;
  /** bigint: PostgreSQL returns it as text, SQLite as a number. */
  usn_created: ColumnType<string | number, number, number>;
  usn_changed: ColumnType<string | number, number, number>;
  attributes_json: string;
}

export interface DirLinksTable {
  group_guid: string;
  member_guid: string;
}

export interface DirCredentialsTable {
  guid: string;
  password_hash: string | null;
  /** JSON array of previous hashes, newest first. */
  history_json: string;
}

export interface DirCountersTable {
  name: string;
  value: ColumnType<string | number, number, number>;
}

export interface IdentityUsersTable {
  user_id: string;
  guid: string;
  user_name: string;
  user_name_key: string;
  email_key: string | null;
  /** The IdentityUser without its lookup columns, as JSON. */
  record_json: string;
  created_at: string;
  provisioned_at: string;
  removed_at: string | null;
}

export interface SettingsTable {
  name: string;
  value_json: string;
  updated_at: string;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  user_guid: string;
  created_at: string;
  expires_at: string;
  checked_at: string;
  revoked_at: string | null;
  data_json: string;
}

export interface ApplicationCredentialsTable {
  access_key_id: string;
  name: string;
  secret_sealed: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AccessRecordsTable {
  kind: 'account' | 'permission_set' | 'application';
  id: string;
  name: string;
  name_key: string;
  body_json: string;
  created_at: string;
  updated_at: string;
}

export interface AccessAssignmentsTable {
  id: string;
  principal_type: 'user' | 'group';
  principal_guid: string;
  principal_name: string;
  /** `account:<id>:<permission set id>` or `application:<id>`: unique per principal. */
  target_key: string;
  account_id: string | null;
  permission_set_id: string | null;
  application_id: string | null;
  created_at: string;
}

export interface AccessProvisionedTable {
  account_id: string;
  permission_set_id: string;
  provisioned_at: string;
}

/** One counted sign-in failure in one of its key's slots; see src/auth/throttle.ts. */
export interface SignInFailuresTable {
  scope: 'subject' | 'address';
  key: string;
  slot: number;
  label: string;
  max_failures: number;
  failed_at: string;
  expires_at: string;
  /** 1: a hold on an attempt in flight (see src/auth/throttle.ts), 0: a counted failure. */
  pending: ColumnType<number, number | undefined, number>;
}

export interface AwsProvisioningTable {
  account_id: string;
  permission_set_id: string;
  status: string;
  message: string | null;
  error_code: string | null;
  role_arn: string | null;
  applied_digest: string | null;
  provisioned_at: string | null;
  updated_at: string;
}

export interface AwsAccountsTable {
  account_id: string;
  source: string;
  organization_status: string | null;
  ou_id: string | null;
  ou_path: string | null;
  synced_at: string | null;
  saml_provider_arn: string | null;
  saml_provider_created: ColumnType<number, number | undefined, number>;
  updated_at: string;
}
