/**
 * Every schema migration, in order. Append-only: a migration that has shipped is never edited
 * or removed, because instances that already ran it will not run it again. Each one must work
 * on both SQLite and PostgreSQL (the contract suites run them on both).
 *
 * Names sort lexically (Kysely runs them in name order), hence the zero-padded prefix.
 */
import type { Migration } from 'kysely';
import { initial } from './0001-initial.ts';
import { managedDirectory } from './0002-managed-directory.ts';
import { identity } from './0003-identity.ts';
import { access } from './0004-access.ts';
import { signInThrottle } from './0005-sign-in-throttle.ts';
import { sharedState } from './0006-shared-state.ts';
import { awsSso } from './0008-aws-sso.ts';
import { awsProvisioning } from './0009-aws-provisioning.ts';
import { mfa } from './0010-mfa.ts';
import { sync } from './0011-sync.ts';
import { oidc } from './0012-oidc.ts';
import { awsSsoAuthorizationCodes } from './0013-aws-sso-authorization-codes.ts';
import { mfaUserLocks } from './0016-mfa-user-locks.ts';
import { syncScopeOus } from './0019-sync-scope-ous.ts';

export const migrations: Readonly<Record<string, Migration>> = {
  '0001_initial': initial,
  '0002_managed_directory': managedDirectory,
  '0003_identity': identity,
  '0004_access': access,
  '0005_sign_in_throttle': signInThrottle,
  '0006_shared_state': sharedState,
  '0008_aws_sso': awsSso,
  '0009_aws_provisioning': awsProvisioning,
  '0010_mfa': mfa,
  '0011_sync': sync,
  '0012_oidc': oidc,
  '0013_aws_sso_authorization_codes': awsSsoAuthorizationCodes,
  '0016_mfa_user_locks': mfaUserLocks,
  '0019_sync_scope_ous': syncScopeOus,
};
