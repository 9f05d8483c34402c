/** Accounts, permission sets and applications loaded together, for the pages that name them. */
import type { Schemas } from './api.ts';
import { api } from './api.ts';

export interface Catalog {
  accounts: Array<Schemas['Account']>;
  permissionSets: Array<Schemas['PermissionSet']>;
  applications: Array<Schemas['Application']>;
  account(id: string): Schemas['Account'] | undefined;
  permissionSet(id: string): Schemas['PermissionSet'] | undefined;
  application(id: string): Schemas['Application'] | undefined;
}

export async function loadCatalog(): Promise<Catalog> {
  const [accounts, permissionSets, applications] = await Promise.all([api('get', '/accounts'), api('get', '/permission-sets'), api('get', '/applications')]);
  return {
    accounts: accounts.accounts,
    permissionSets: permissionSets.permissionSets,
    applications: applications.applications,
    account: (id) => accounts.accounts.find((a) => a.id === id),
    permissionSet: (id) => permissionSets.permissionSets.find((p) => p.id === id),
    application: (id) => applications.applications.find((a) => a.id === id),
  };
}

export const accountLabel = (account: { name: string; id: string }): string => `${account.name} (${account.id})`;
