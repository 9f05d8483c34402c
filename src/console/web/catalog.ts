/** Accounts, permission sets and applications (SAML and OIDC) loaded together, for the pages that name them. */
import type { Schemas } from './api.ts';
import { api } from './api.ts';

export interface Catalog {
  accounts: Array<Schemas['Account']>;
  permissionSets: Array<Schemas['PermissionSet']>;
  /** SAML and OIDC applications: both are assigned, and reached, the same way. */
  applications: CatalogApplication[];
  account(id: string): Schemas['Account'] | undefined;
  permissionSet(id: string): Schemas['PermissionSet'] | undefined;
  application(id: string): CatalogApplication | undefined;
}

export interface CatalogApplication {
  id: string;
  name: string;
  kind: 'saml' | 'oidc';
}

export async function loadCatalog(): Promise<Catalog> {
  const [accounts, permissionSets, saml, oidc] = await Promise.all([api('get', '/accounts'), api('get', '/permission-sets'), api('get', '/applications'), api('get', '/oidc-applications')]);
  const applications: CatalogApplication[] = [
    ...saml.applications.map((a) => ({ id: a.id, name: a.name, kind: 'saml' as const })),
    ...oidc.applications.map((a) => ({ id: a.id, name: a.name, kind: 'oidc' as const })),
  ];
  return {
    accounts: accounts.accounts,
    permissionSets: permissionSets.permissionSets,
    applications,
    account: (id) => accounts.accounts.find((a) => a.id === id),
    permissionSet: (id) => permissionSets.permissionSets.find((p) => p.id === id),
    application: (id) => applications.find((a) => a.id === id),
  };
}

export const accountLabel = (account: { name: string; id: string }): string => `${account.name} (${account.id})`;

/** An OIDC application's name says so: it may share its name with a SAML application. */
export const applicationLabel = (application: CatalogApplication): string => (application.kind === 'oidc' ? `${application.name} (OIDC)` : application.name);
