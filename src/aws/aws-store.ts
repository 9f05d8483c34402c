/**
 * What AWS provisioning needs from storage: the state of each permission set in each account,
 * and per account its source (Organizations or typed in) and the SAML provider kept there.
 */
export type ProvisioningStatus = 'provisioned' | 'failed' | 'drifted';

export interface ProvisioningRecord {
  accountId: string;
  permissionSetId: string;
  status: ProvisioningStatus;
  /** AWS's message (failed) or what differs (drifted); null when provisioned. */
  message: string | null;
  /** AWS's error code (e.g. NoSuchEntity) or Portico's (aws.role_not_managed). */
  errorCode: string | null;
  roleArn: string | null;
  /** Digest of the role as last written. */
  appliedDigest: string | null;
  provisionedAt: Date | null;
  updatedAt: Date;
}

export type AccountSource = 'organizations' | 'manual';

export interface AwsAccountRecord {
  accountId: string;
  source: AccountSource;
  /** ACTIVE, SUSPENDED… as Organizations reports it; 'REMOVED' once it left the organization. */
  organizationStatus: string | null;
  ouId: string | null;
  /** Root/Workloads/Prod: the OU names from the root down. */
  ouPath: string | null;
  syncedAt: Date | null;
  samlProviderArn: string | null;
  /** Portico created the provider: only then does it delete it. */
  samlProviderCreated: boolean;
  updatedAt: Date;
}

export interface AwsStore {
  putProvisioning(record: ProvisioningRecord): Promise<void>;
  getProvisioning(accountId: string, permissionSetId: string): Promise<ProvisioningRecord | undefined>;
  /** Ordered by account, then permission set. */
  listProvisioning(filter: { accountId?: string; permissionSetId?: string }): Promise<ProvisioningRecord[]>;
  removeProvisioning(accountId: string, permissionSetId: string): Promise<boolean>;

  putAccount(record: AwsAccountRecord): Promise<void>;
  getAccount(accountId: string): Promise<AwsAccountRecord | undefined>;
  /** Ordered by account id. */
  listAccounts(): Promise<AwsAccountRecord[]>;
  removeAccount(accountId: string): Promise<boolean>;
}
