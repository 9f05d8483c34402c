/**
 * What a directory says about itself in its rootDSE, and Portico's verdict on whether it may be
 * connected. Pure: the connector reads the entry, this module judges it.
 */

export const activeDirectoryCapability = '1.2.840.113556.1.4.800';
export const matchingRuleInChainOid = '1.2.840.113556.1.4.1941';
export const pagedResultsControlOid = '1.2.840.113556.1.4.319';

export interface RootDse {
  namingContexts: string[];
  defaultNamingContext: string | null;
  rootDomainNamingContext: string | null;
  configurationNamingContext: string | null;
  schemaNamingContext: string | null;
  dnsHostName: string | null;
  serverName: string | null;
  domainFunctionality: number | null;
  forestFunctionality: number | null;
  domainControllerFunctionality: number | null;
  supportedCapabilities: string[];
  supportedControls: string[];
  supportedLdapVersions: string[];
  supportedSaslMechanisms: string[];
  isGlobalCatalogReady: boolean | null;
  isSynchronized: boolean | null;
  vendorName: string | null;
  vendorVersion: string | null;
}

export const rootDseAttributes = [
  'namingContexts',
  'defaultNamingContext',
  'rootDomainNamingContext',
  'configurationNamingContext',
  'schemaNamingContext',
  'dnsHostName',
  'serverName',
  'domainFunctionality',
  'forestFunctionality',
  'domainControllerFunctionality',
  'supportedCapabilities',
  'supportedControl',
  'supportedLDAPVersion',
  'supportedSASLMechanisms',
  'isGlobalCatalogReady',
  'isSynchronized',
  'vendorName',
  'vendorVersion',
];

type Values = (name: string) => string[];

export function parseRootDse(values: Values): RootDse {
  const one = (name: string): string | null => values(name)[0] ?? null;
  const int = (name: string): number | null => {
    const v = one(name);
    return v === null || !/^-?\d+$/.test(v) ? null : Number(v);
  };
  const bool = (name: string): boolean | null => {
    const v = one(name)?.toUpperCase();
    return v === 'TRUE' ? true : v === 'FALSE' ? false : null;
  };
  return {
    namingContexts: values('namingContexts'),
    defaultNamingContext: one('defaultNamingContext'),
    rootDomainNamingContext: one('rootDomainNamingContext'),
    configurationNamingContext: one('configurationNamingContext'),
    schemaNamingContext: one('schemaNamingContext'),
    dnsHostName: one('dnsHostName'),
    serverName: one('serverName'),
    domainFunctionality: int('domainFunctionality'),
    forestFunctionality: int('forestFunctionality'),
    domainControllerFunctionality: int('domainControllerFunctionality'),
    supportedCapabilities: values('supportedCapabilities'),
    supportedControls: values('supportedControl'),
    supportedLdapVersions: values('supportedLDAPVersion'),
    supportedSaslMechanisms: values('supportedSASLMechanisms'),
    isGlobalCatalogReady: bool('isGlobalCatalogReady'),
    isSynchronized: bool('isSynchronized'),
    vendorName: one('vendorName'),
    vendorVersion: one('vendorVersion'),
  };
}

const functionalLevelNames: Record<number, string> = {
  0: 'Windows 2000',
  1: 'Windows Server 2003 interim',
  2: 'Windows Server 2003',
  3: 'Windows Server 2008',
  4: 'Windows Server 2008 R2',
  5: 'Windows Server 2012',
  6: 'Windows Server 2012 R2',
  7: 'Windows Server 2016',
  10: 'Windows Server 2025',
};

export function functionalLevelName(level: number | null): string {
  if (level === null) return 'unknown';
  return functionalLevelNames[level] ?? `level ${level}`;
}

export type DirectoryKind = 'microsoft-ad' | 'samba' | 'portico-managed' | 'not-ad';

export interface DirectoryVerdict {
  accepted: boolean;
  kind: DirectoryKind;
  /** One sentence a person can act on. */
  reason: string;
  warnings: string[];
}

export const sambaRefusal = 'Simple AD (Samba4) is not supported as a connected directory';

/**
 * Microsoft AD announces the AD capability and has no vendorName; Samba announces the capability
 * too but names itself in vendorName; Portico's managed directory names itself as well.
 */
export function judgeDirectory(rootDse: RootDse, options: { allowSamba: boolean }): DirectoryVerdict {
  const warnings: string[] = [];
  const vendor = rootDse.vendorName ?? '';
  const isAd = rootDse.supportedCapabilities.includes(activeDirectoryCapability);

  if (/portico/i.test(vendor)) {
    return {
      accepted: false,
      kind: 'portico-managed',
      reason: 'This is a Portico managed directory: use it as the managed identity source, not through a connector',
      warnings,
    };
  }
  if (/samba/i.test(vendor)) {
    if (!options.allowSamba) {
      return {
        accepted: false,
        kind: 'samba',
        reason: `${sambaRefusal} (vendorName: ${vendor})`,
        warnings,
      };
    }
    warnings.push(`Lab override allowSamba is on: accepting ${vendor}. ${sambaRefusal} in production.`);
  } else if (!isAd) {
    const identity = vendor ? ` (vendorName: ${vendor})` : '';
    return {
      accepted: false,
      kind: 'not-ad',
      reason: `This LDAP server is not Active Directory${identity}: its rootDSE does not announce the Active Directory capability ${activeDirectoryCapability}`,
      warnings,
    };
  }
  if (!rootDse.defaultNamingContext) {
    return {
      accepted: false,
      kind: isAd && !vendor ? 'microsoft-ad' : 'samba',
      reason: 'The directory does not announce a defaultNamingContext, so there is no domain to search',
      warnings,
    };
  }
  if (!rootDse.supportedControls.includes(pagedResultsControlOid)) {
    warnings.push('The directory does not announce the paged-results control; large searches may be cut short');
  }
  if (rootDse.isGlobalCatalogReady === false) {
    warnings.push('This domain controller is not a ready global catalog; universal groups of other domains are not visible');
  }
  if (rootDse.isSynchronized === false) warnings.push('The domain controller reports it is not synchronized');
  const kind: DirectoryKind = /samba/i.test(vendor) ? 'samba' : 'microsoft-ad';
  const level = functionalLevelName(rootDse.domainFunctionality);
  return {
    accepted: true,
    kind,
    reason:
      kind === 'samba'
        ? `Accepted under the lab override: Samba AD domain ${rootDse.defaultNamingContext} (functional level ${level})`
        : `Microsoft Active Directory domain ${rootDse.defaultNamingContext} (functional level ${level})`,
    warnings,
  };
}
