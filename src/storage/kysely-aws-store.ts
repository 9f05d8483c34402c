/** AWS provisioning state and account sources on Kysely. */
import type { Kysely, Selectable } from 'kysely';
import type { AwsAccountRecord, AwsStore, ProvisioningRecord, ProvisioningStatus, AccountSource } from '#src/aws/aws-store.ts';
import { translateStorageErrors } from './errors.ts';
import type { AwsAccountsTable, AwsProvisioningTable, Database } from './tables.ts';

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());
const date = (text: string | null): Date | null => (text === null ? null : new Date(text));

export function createKyselyAwsStore(db: Kysely<Database>): AwsStore {
  return {
    putProvisioning: (record) =>
      translateStorageErrors('saving a provisioning status', async () => {
        const row = {
          status: record.status,
          message: record.message,
          error_code: record.errorCode,
          role_arn: record.roleArn,
          applied_digest: record.appliedDigest,
          provisioned_at: iso(record.provisionedAt),
          updated_at: record.updatedAt.toISOString(),
        };
        await db
          .insertInto('aws_provisioning')
          .values({ account_id: record.accountId, permission_set_id: record.permissionSetId, ...row })
          .onConflict((conflict) => conflict.columns(['account_id', 'permission_set_id']).doUpdateSet(row))
          .execute();
      }),
    getProvisioning: (accountId, permissionSetId) =>
      translateStorageErrors('reading a provisioning status', async () => {
        const row = await db.selectFrom('aws_provisioning').selectAll().where('account_id', '=', accountId).where('permission_set_id', '=', permissionSetId).executeTakeFirst();
        return row && toProvisioning(row);
      }),
    listProvisioning: (filter) =>
      translateStorageErrors('listing provisioning statuses', async () => {
        let query = db.selectFrom('aws_provisioning').selectAll().orderBy('account_id').orderBy('permission_set_id');
        if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
        if (filter.permissionSetId !== undefined) query = query.where('permission_set_id', '=', filter.permissionSetId);
        return (await query.execute()).map(toProvisioning);
      }),
    removeProvisioning: (accountId, permissionSetId) =>
      translateStorageErrors('removing a provisioning status', async () => {
        const result = await db.deleteFrom('aws_provisioning').where('account_id', '=', accountId).where('permission_set_id', '=', permissionSetId).executeTakeFirst();
        return result.numDeletedRows > 0n;
      }),

    putAccount: (record) =>
      translateStorageErrors('saving an AWS account record', async () => {
        const row = {
          source: record.source,
          organization_status: record.organizationStatus,
          ou_id: record.ouId,
          ou_path: record.ouPath,
          synced_at: iso(record.syncedAt),
          saml_provider_arn: record.samlProviderArn,
          saml_provider_created: record.samlProviderCreated ? 1 : 0,
          updated_at: record.updatedAt.toISOString(),
        };
        await db
          .insertInto('aws_accounts')
          .values({ account_id: record.accountId, ...row })
          .onConflict((conflict) => conflict.column('account_id').doUpdateSet(row))
          .execute();
      }),
    getAccount: (accountId) =>
      translateStorageErrors('reading an AWS account record', async () => {
        const row = await db.selectFrom('aws_accounts').selectAll().where('account_id', '=', accountId).executeTakeFirst();
        return row && toAccount(row);
      }),
    listAccounts: () =>
      translateStorageErrors('listing AWS account records', async () => (await db.selectFrom('aws_accounts').selectAll().orderBy('account_id').execute()).map(toAccount)),
    removeAccount: (accountId) =>
      translateStorageErrors('removing an AWS account record', async () => {
        const result = await db.deleteFrom('aws_accounts').where('account_id', '=', accountId).executeTakeFirst();
        return result.numDeletedRows > 0n;
      }),
  };
}

function toProvisioning(row: Selectable<AwsProvisioningTable>): ProvisioningRecord {
  return {
    accountId: row.account_id,
    permissionSetId: row.permission_set_id,
    status: row.status as ProvisioningStatus,
    message: row.message,
    errorCode: row.error_code,
    roleArn: row.role_arn,
    appliedDigest: row.applied_digest,
    provisionedAt: date(row.provisioned_at),
    updatedAt: new Date(row.updated_at),
  };
}

function toAccount(row: Selectable<AwsAccountsTable>): AwsAccountRecord {
  return {
    accountId: row.account_id,
    source: row.source as AccountSource,
    organizationStatus: row.organization_status,
    ouId: row.ou_id,
    ouPath: row.ou_path,
    syncedAt: date(row.synced_at),
    samlProviderArn: row.saml_provider_arn,
    samlProviderCreated: Number(row.saml_provider_created) === 1,
    updatedAt: new Date(row.updated_at),
  };
}
