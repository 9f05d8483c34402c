/**
 * The behaviour every AwsStore must have: provisioning statuses per account × permission set
 * (upserted, filtered, removed) and per-account records (source, OU, SAML provider).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AwsAccountRecord, AwsStore, ProvisioningRecord } from '#src/aws/aws-store.ts';

export interface AwsStoreHarness {
  store: AwsStore;
  dispose: () => Promise<void>;
}

const T0 = new Date('2026-04-01T10:00:00.000Z');
const T1 = new Date('2026-04-02T11:30:00.500Z');

const status = (accountId: string, permissionSetId: string, extra: Partial<ProvisioningRecord> = {}): ProvisioningRecord => ({
  accountId,
  permissionSetId,
  status: 'provisioned',
  message: null,
  errorCode: null,
  roleArn: `arn:aws:iam::${accountId}:role/portico/${permissionSetId}`,
  appliedDigest: 'digest-1',
  provisionedAt: T0,
  updatedAt: T0,
  ...extra,
});

const account = (accountId: string, extra: Partial<AwsAccountRecord> = {}): AwsAccountRecord => ({
  accountId,
  source: 'organizations',
  organizationStatus: 'ACTIVE',
  ouId: 'ou-ab12-cdef3456',
  ouPath: 'Root/Workloads',
  syncedAt: T0,
  samlProviderArn: null,
  samlProviderCreated: false,
  updatedAt: T0,
  ...extra,
});

export function awsStoreContract(factory: () => Promise<AwsStoreHarness>): void {
  async function withStore(run: (store: AwsStore) => Promise<void>): Promise<void> {
    const harness = await factory();
    try {
      await run(harness.store);
    } finally {
      await harness.dispose();
    }
  }

  void describe('AwsStore contract', () => {
    void it('upserts a provisioning status, reads it back exactly, and overwrites every field', () =>
      withStore(async (store) => {
        await store.putProvisioning(status('111111111111', 'ps-a'));
        assert.deepEqual(await store.getProvisioning('111111111111', 'ps-a'), status('111111111111', 'ps-a'));
        const failed = status('111111111111', 'ps-a', { status: 'failed', message: 'Policy arn:… does not exist', errorCode: 'NoSuchEntity', roleArn: null, appliedDigest: null, provisionedAt: null, updatedAt: T1 });
        await store.putProvisioning(failed);
        assert.deepEqual(await store.getProvisioning('111111111111', 'ps-a'), failed);
        assert.equal(await store.getProvisioning('111111111111', 'ps-b'), undefined);
      }));

    void it('lists in account then permission-set order, filters by either, and removes one pair', () =>
      withStore(async (store) => {
        await store.putProvisioning(status('222222222222', 'ps-a'));
        await store.putProvisioning(status('111111111111', 'ps-b'));
        await store.putProvisioning(status('111111111111', 'ps-a', { status: 'drifted', message: 'attached policies differ' }));
        const pairs = (list: ProvisioningRecord[]) => list.map((r) => `${r.accountId}/${r.permissionSetId}`);
        assert.deepEqual(pairs(await store.listProvisioning({})), ['111111111111/ps-a', '111111111111/ps-b', '222222222222/ps-a']);
        assert.deepEqual(pairs(await store.listProvisioning({ accountId: '111111111111' })), ['111111111111/ps-a', '111111111111/ps-b']);
        assert.deepEqual(pairs(await store.listProvisioning({ permissionSetId: 'ps-a' })), ['111111111111/ps-a', '222222222222/ps-a']);
        assert.equal(await store.removeProvisioning('111111111111', 'ps-a'), true);
        assert.equal(await store.removeProvisioning('111111111111', 'ps-a'), false);
        assert.deepEqual(pairs(await store.listProvisioning({})), ['111111111111/ps-b', '222222222222/ps-a']);
      }));

    void it('upserts account records with their source, OU and SAML provider', () =>
      withStore(async (store) => {
        await store.putAccount(account('222222222222'));
        await store.putAccount(account('111111111111', { source: 'manual', organizationStatus: null, ouId: null, ouPath: null, syncedAt: null }));
        assert.deepEqual(await store.getAccount('222222222222'), account('222222222222'));
        const withProvider = account('222222222222', { samlProviderArn: 'arn:aws:iam::222222222222:saml-provider/Portico', samlProviderCreated: true, updatedAt: T1 });
        await store.putAccount(withProvider);
        assert.deepEqual(await store.getAccount('222222222222'), withProvider);
        assert.deepEqual((await store.listAccounts()).map((a) => a.accountId), ['111111111111', '222222222222']);
        assert.equal((await store.getAccount('111111111111'))?.source, 'manual');
        assert.equal(await store.removeAccount('111111111111'), true);
        assert.equal(await store.getAccount('111111111111'), undefined);
      }));
  });
}
