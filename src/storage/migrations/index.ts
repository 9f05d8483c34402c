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
import { awsProvisioning } from './0009-aws-provisioning.ts';

export const migrations: Readonly<Record<string, Migration>> = {
  '0001_initial': initial,
  '0002_managed_directory': managedDirectory,
  '0003_identity': identity,
  '0004_access': access,
  '0005_sign_in_throttle': signInThrottle,
  '0009_aws_provisioning': awsProvisioning,
};
