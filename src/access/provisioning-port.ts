/**
 * What the access domain tells the cloud side (AWS provisioning, wired in app.ts) so that an
 * account's IAM roles follow its assignments and permission sets. Declared here, implemented by
 * src/aws/: access never imports it.
 */
export interface ProvisioningOutcome {
  status: 'provisioned' | 'failed' | 'drifted';
  /** AWS's message when failed; what differs when drifted. */
  message: string | null;
  roleArn: string | null;
}

export interface AccessProvisioning {
  /** With a management identity, accounts come from AWS Organizations: none are typed in. */
  accountsFromOrganizations(): boolean;
  /** After an assignment to the pair was created or deleted: provisions on the first, removes after the last. */
  pairChanged(accountId: string, permissionSetId: string, actor: string): Promise<ProvisioningOutcome | null>;
  /** After a permission set changed: its role is brought up to date in every account it is provisioned in. */
  permissionSetChanged(permissionSetId: string, actor: string): Promise<void>;
}
