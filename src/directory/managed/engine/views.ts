/**
 * Views of stored entries: the values a filter tests and a search returns, including the
 * constructed attributes (tokenGroups, msDS-User-Account-Control-Computed, canonicalName, …), the
 * attribute selection of a search request, and member/memberOf in ranges as AD returns them.
 */
import { sidToBytes } from '#src/directory/ad-codec.ts';
import type { PartialAttribute } from '../backend.ts';
import { lockedOut, passwordExpired } from './accounts.ts';
import type { EngineContext } from './context.ts';
import { parseDn } from './dn.ts';
import type { EntryView } from './filter.ts';
import { tokenGroupEntries } from './membership.ts';
import type { DirectoryPolicy } from './policy.ts';
import { attributeType, groupTypeBits, uacFlags, type AttributeType } from './schema.ts';
import type { AttributeValue, LinkedEntry, StoredEntry } from './store.ts';
import { int, isGroup, isUser, toBuffer } from './values.ts';

export interface ViewContext {
  policy: DirectoryPolicy;
  now: Date;
  links?: { member?: LinkedEntry[]; memberOf?: LinkedEntry[] };
}

type Range = { low: number; high: number | null } | null;

export interface Selection {
  all: boolean;
  operational: boolean;
  named: Map<string, { type: AttributeType; range: Range }>;
}

function computedUac(ctx: EngineContext, entry: StoredEntry, policy: DirectoryPolicy, now: Date): number {
  let value = 0;
  if (lockedOut(ctx, entry.attributes, policy, now, entry)) value |= uacFlags.lockout;
  if (passwordExpired(entry.attributes, policy, now)) value |= uacFlags.passwordExpired;
  return value;
}

function storedValues(ctx: EngineContext, entry: StoredEntry, type: AttributeType, context: ViewContext): AttributeValue[] {
  switch (type.name) {
    case 'distinguishedName':
      return [entry.dn];
    case 'objectGUID':
      return [Buffer.from(entry.guid, 'hex')];
    case 'objectSid':
      return entry.sid === null ? [] : [sidToBytes(entry.sid)];
    case 'uSNCreated':
      return [String(entry.usnCreated)];
    case 'uSNChanged':
      return [String(entry.usnChanged)];
    case 'member':
      return (context.links?.member ?? []).map((l) => l.dn);
    case 'memberOf':
      return (context.links?.memberOf ?? []).map((l) => l.dn);
    case 'msDS-User-Account-Control-Computed':
      return isUser(entry) ? [String(computedUac(ctx, entry, context.policy, context.now))] : [];
    case 'createTimeStamp':
      return entry.attributes.whenCreated ?? [];
    case 'modifyTimeStamp':
      return entry.attributes.whenChanged ?? [];
    case 'structuralObjectClass': {
      const classes = entry.attributes.objectClass ?? [];
      return classes.length > 0 ? [classes[classes.length - 1] as AttributeValue] : [];
    }
    case 'subSchemaSubEntry':
      return [`CN=Aggregate,${ctx.schemaDn}`];
    case 'canonicalName':
      return [canonicalName(entry.dn)];
    case 'tokenGroups':
    case 'unicodePwd':
    case 'userPassword':
      return [];
    default:
      return entry.attributes[type.name] ?? [];
  }
}

/** corp.example.test/Users/Alice, as AD constructs canonicalName. */
function canonicalName(dn: string): string {
  const rdns = parseDn(dn);
  const labels = rdns.filter((r) => r[0]?.type.toLowerCase() === 'dc').map((r) => r[0]?.value ?? '');
  const others = rdns.filter((r) => r[0]?.type.toLowerCase() !== 'dc').map((r) => r[0]?.value ?? '').reverse();
  return `${labels.join('.')}/${others.join('/')}`;
}

export function viewOf(ctx: EngineContext, entry: StoredEntry, context: ViewContext): EntryView {
  return { guid: entry.guid, dn: entry.dn, values: (type) => storedValues(ctx, entry, type, context) };
}

function parseRange(option: string): Range {
  const match = /^range=(\d+)-(\d+|\*)$/i.exec(option);
  if (!match) return null;
  return { low: Number(match[1]), high: match[2] === '*' ? null : Number(match[2]) };
}

export function parseSelection(requested: string[]): Selection {
  const selection: Selection = { all: requested.length === 0, operational: false, named: new Map() };
  const names = requested.filter((name) => name !== '1.1');
  if (requested.length > 0 && names.length === 0) return selection;
  for (const raw of names) {
    if (raw === '*') {
      selection.all = true;
      continue;
    }
    if (raw === '+') {
      selection.operational = true;
      continue;
    }
    const [name = '', ...opts] = raw.split(';');
    const type = attributeType(name);
    if (!type) continue;
    let range: Range = null;
    for (const option of opts) range = parseRange(option) ?? range;
    selection.named.set(type.name.toLowerCase(), { type, range });
  }
  return selection;
}

/** member / memberOf, in ranges as Windows AD returns them. */
function rangedAttribute(ctx: EngineContext, name: string, values: string[], range: Range): PartialAttribute | null {
  const { maxValRange } = ctx.limits;
  if (range === null) {
    if (values.length <= maxValRange) return values.length === 0 ? null : { type: name, values: values.map(toBuffer) };
    return { type: `${name};range=0-${maxValRange - 1}`, values: values.slice(0, maxValRange).map(toBuffer) };
  }
  const { low } = range;
  if (values.length === 0 && low === 0) return null;
  if (low >= values.length) return { type: `${name};range=${low}-*`, values: [] };
  const wantedHigh = range.high === null ? values.length - 1 : range.high;
  const high = Math.min(wantedHigh, low + maxValRange - 1, values.length - 1);
  const slice = values.slice(low, high + 1).map(toBuffer);
  return { type: high >= values.length - 1 ? `${name};range=${low}-*` : `${name};range=${low}-${high}`, values: slice };
}

/** The attributes a search returns for one entry, as the selection asks. */
export async function attributesOf(ctx: EngineContext, entry: StoredEntry, selection: Selection, typesOnly: boolean, base: boolean, policy: DirectoryPolicy): Promise<PartialAttribute[]> {
  const now = ctx.clock();
  const wanted: Array<{ type: AttributeType; range: Range }> = [];
  const added = new Set<string>();
  const want = (type: AttributeType, range: Range = null): void => {
    const key = type.name.toLowerCase();
    if (added.has(key)) return;
    added.add(key);
    wanted.push({ type, range });
  };
  if (selection.all) {
    for (const name of Object.keys(entry.attributes)) {
      const type = attributeType(name);
      if (type?.inAll) want(type, selection.named.get(type.name.toLowerCase())?.range ?? null);
    }
    for (const name of ['distinguishedName', 'objectGUID', 'objectSid', 'uSNCreated', 'uSNChanged', 'member', 'memberOf']) {
      const type = attributeType(name) as AttributeType;
      want(type, selection.named.get(type.name.toLowerCase())?.range ?? null);
    }
  }
  if (selection.operational) {
    for (const name of ['createTimeStamp', 'modifyTimeStamp', 'structuralObjectClass', 'subSchemaSubEntry', 'msDS-User-Account-Control-Computed']) {
      want(attributeType(name) as AttributeType);
    }
  }
  for (const { type, range } of selection.named.values()) want(type, range);

  const out: PartialAttribute[] = [];
  for (const { type, range } of wanted) {
    if (type.syntax === 'password') continue;
    if (type.name === 'member' || type.name === 'memberOf') {
      const linked = await ctx.store.linked(entry.guid, type.name === 'member' ? 'member' : 'memberOf');
      const attribute = rangedAttribute(ctx, type.name, linked.map((l) => l.dn), range);
      if (attribute) out.push(typesOnly ? { type: attribute.type, values: [] } : attribute);
      continue;
    }
    if (type.name === 'tokenGroups') {
      // Constructed per entry by walking the groups: AD returns it on base-scope reads only.
      if (!base || !(isUser(entry) || isGroup(entry))) continue;
      const groups = await tokenGroupEntries(ctx, entry);
      const sids = groups
        .filter((g) => (int(g.attributes, 'groupType') >>> 0) & groupTypeBits.security)
        .map((g) => g.sid)
        .filter((sid): sid is string => sid !== null)
        .map((sid) => sidToBytes(sid));
      if (sids.length > 0) out.push({ type: type.name, values: typesOnly ? [] : sids });
      continue;
    }
    const values = storedValues(ctx, entry, type, { policy, now });
    if (values.length === 0) continue;
    out.push({ type: type.name, values: typesOnly ? [] : values.map(toBuffer) });
  }
  return out;
}

/** Both link directions of an entry, for filters and compares that test member or memberOf. */
export async function linksOf(ctx: EngineContext, entry: StoredEntry): Promise<NonNullable<ViewContext['links']>> {
  return { member: await ctx.store.linked(entry.guid, 'member'), memberOf: await ctx.store.linked(entry.guid, 'memberOf') };
}
