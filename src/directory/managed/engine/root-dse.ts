/**
 * The rootDSE (the entry with the empty DN): what a client reads before anything else to learn
 * the naming contexts, controls, extensions and limits. Outside the schema, so it has its own
 * small filter test.
 */
import { ResultCode, oids, type LdapResult, type PartialAttribute, type SearchRequest, type SearchSink } from '../backend.ts';
import type { EngineContext } from './context.ts';
import type { AttributeMap, AttributeValue } from './store.ts';
import { generalizedTime, toBuffer } from './values.ts';

async function rootDseAttributes(ctx: EngineContext): Promise<AttributeMap> {
  const { baseDn, configDn, schemaDn, serverDn, dnsName, serverShortName } = ctx;
  const highest = await ctx.store.currentCounter('usn');
  return {
    objectClass: ['top'],
    currentTime: [generalizedTime(ctx.clock())],
    subschemaSubentry: [`CN=Aggregate,${schemaDn}`],
    dsServiceName: [`CN=NTDS Settings,${serverDn}`],
    namingContexts: [baseDn, configDn, schemaDn],
    defaultNamingContext: [baseDn],
    rootDomainNamingContext: [baseDn],
    configurationNamingContext: [configDn],
    schemaNamingContext: [schemaDn],
    serverName: [serverDn],
    supportedCapabilities: ['1.2.840.113556.1.4.800', '1.2.840.113556.1.4.1670', '1.2.840.113556.1.4.1791', '1.2.840.113556.1.4.1935', '1.2.840.113556.1.4.2080'],
    supportedControl: [oids.pagedResults],
    supportedExtension: [oids.startTls, oids.whoAmI, oids.passwordModify],
    supportedLDAPVersion: ['3'],
    supportedLDAPPolicies: ['MaxPageSize', 'MaxValRange', 'MaxQueryDuration'],
    supportedSASLMechanisms: [],
    highestCommittedUSN: [String(highest)],
    dnsHostName: [ctx.hostName],
    ldapServiceName: [`${dnsName}:${serverShortName.toLowerCase()}$@${dnsName.toUpperCase()}`],
    isSynchronized: ['TRUE'],
    isGlobalCatalogReady: ['FALSE'],
    domainFunctionality: ['7'],
    forestFunctionality: ['7'],
    domainControllerFunctionality: ['7'],
    vendorName: ['Portico'],
    vendorVersion: [ctx.vendorVersion],
  };
}

export async function searchRootDse(ctx: EngineContext, request: SearchRequest, sink: SearchSink): Promise<LdapResult> {
  const attributes = await rootDseAttributes(ctx);
  // The rootDSE is outside the schema: its filter is only tested for presence and equality.
  if (!rootDseMatches(request.filter, attributes)) return { resultCode: ResultCode.success };
  const requested = request.attributes.filter((a) => a !== '1.1');
  const all = request.attributes.length === 0 || requested.includes('*') || requested.includes('+');
  const lower = new Set(requested.map((a) => a.toLowerCase()));
  const out: PartialAttribute[] = [];
  for (const [name, values] of Object.entries(attributes)) {
    if (!all && !lower.has(name.toLowerCase())) continue;
    if (values.length === 0) continue;
    out.push({ type: name, values: request.typesOnly ? [] : values.map(toBuffer) });
  }
  await sink.entry({ objectName: '', attributes: out });
  return { resultCode: ResultCode.success };
}

function rootDseMatches(filter: SearchRequest['filter'], attributes: AttributeMap): boolean {
  const get = (name: string): AttributeValue[] => Object.entries(attributes).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1] ?? [];
  switch (filter.type) {
    case 'present':
      return get(filter.attribute).length > 0;
    case 'equality':
    case 'approx':
      return get(filter.attribute).some((v) => v.toString().toLowerCase() === filter.value.toString('utf8').toLowerCase());
    case 'and':
      return filter.filters.every((f) => rootDseMatches(f, attributes));
    case 'or':
      return filter.filters.some((f) => rootDseMatches(f, attributes));
    case 'not':
      return !rootDseMatches(filter.filter, attributes);
    case 'substrings':
    case 'greaterOrEqual':
    case 'lessOrEqual':
    case 'extensible':
      return false;
  }
}
