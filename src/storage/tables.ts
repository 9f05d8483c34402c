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
  aws_sso_clients: AwsSsoClientsTable;
  aws_sso_device_codes: AwsSsoDeviceCodesTable;
  aws_sso_grants: AwsSsoGrantsTable;
  aws_sso_authorization_codes: AwsSsoAuthorizationCodesTable;
  saml_replay: SamlReplayTable;
  saml_pending: SamlPendingTable;
  change_counters: ChangeCountersTable;
  sync_scope: SyncScopeTable;
  sync_watermarks: SyncWatermarksTable;
  identity_groups: IdentityGroupsTable;
  identity_group_members: IdentityGroupMembersTable;
  oidc_payloads: OidcPayloadsTable;
  mfa_devices: MfaDevicesTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  mfa_user_locks: MfaUserLocksTable;
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
  /** What the last sync saw of the AD account (active, disabled, locked, expired, deleted); null: never synced. */
  directory_state: string | null;
  directory_state_at: string | null;
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
  kind: 'account' | 'permission_set' | 'application' | 'oidc_application';
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

export interface AwsSsoClientsTable {
  client_id: string;
  secret_hash: string;
  name: string;
  scopes_json: string;
  registered_at: string;
  expires_at: string;
  revoked_at: string | null;
  registered_from: string;
  grant_types_json: ColumnType<string | null, string | null | undefined, string | null>;
  redirect_uris_json: ColumnType<string | null, string | null | undefined, string | null>;
  issuer_url: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface AwsSsoAuthorizationCodesTable {
  code_hash: string;
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  scopes_json: string;
  principal_json: string;
  created_at: string;
  expires_at: string;
  redeemed_at: string | null;
  grant_id: string | null;
}

export interface AwsSsoDeviceCodesTable {
  device_code_hash: string;
  user_code: string;
  client_id: string;
  start_url: string;
  created_at: string;
  expires_at: string;
  interval_seconds: number;
  last_polled_at: string | null;
  status: string;
  decided_at: string | null;
  principal_json: string | null;
}

export interface AwsSsoGrantsTable {
  id: string;
  client_id: string;
  access_token_hash: string;
  access_expires_at: string;
  refresh_token_hash: string;
  expires_at: string;
  scopes_json: string;
  user_guid: string;
  principal_json: string;
  created_at: string;
  checked_at: string;
  revoked_at: string | null;
}

/** SAML request IDs already accepted (key: issuer, newline, ID), until they could no longer be accepted anyway. */
export interface SamlReplayTable {
  key: string;
  expires_at: string;
}

/** Accepted AuthnRequests waiting for their person to sign in (src/federation/pending-requests.ts). */
export interface SamlPendingTable {
  ref: string;
  client: string;
  bytes: number;
  value_json: string;
  parked_at: string;
  expires_at: string;
}

/** One counter per kind of shared change (access, signing keys): bumped by every write, watched by every instance. */
export interface ChangeCountersTable {
  name: string;
  /** bigint-safe as integer: PostgreSQL integer is 32-bit, ample for changes made by administrators. */
  version: ColumnType<string | number, number, number>;
  changed_at: string;
}

export interface SyncScopeTable {
  kind: 'group' | 'user' | 'ou';
  guid: string;
  label: string;
  added_by: string;
  added_at: string;
}

export interface SyncWatermarksTable {
  source: string;
  controller_id: string;
  usn: string;
  cookie: string | null;
  full_sync_at: string;
  updated_at: string;
}

export interface IdentityGroupsTable {
  group_id: string;
  display_name: string;
  display_name_key: string;
  record_json: string;
  created_at: string;
  synced_at: string;
}

export interface IdentityGroupMembersTable {
  group_id: string;
  member_guid: string;
  member_type: 'user' | 'group';
}

/** oidc-provider's adapter payloads (src/federation/oidc/payload-store.ts). */
export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload_json: string;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  expires_at: string | null;
  consumed_at: string | null;
}

export interface MfaDevicesTable {
  id: string;
  user_guid: string;
  type: string;
  name: string;
  secret_sealed: string | null;
  /** bigint on PostgreSQL (returned as text by pg), integer on SQLite. */
  totp_last_step: ColumnType<number | string | null, number | null, number | null>;
  credential_id: string | null;
  credential_json: string | null;
  confirmed_at: string | null;
  created_at: string;
  last_used_at: string | null;
}

/** A person's lock row, upserted at the start of adding a device (migration 0016). */
export interface MfaUserLocksTable {
  user_guid: string;
  locked_at: string;
}

export interface MfaRecoveryCodesTable {
  user_guid: string;
  code_hash: string;
  created_at: string;
  used_at: string | null;
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
