/**
 * LDAP filter evaluation with AD's matching: strings case-insensitively, DNs in normalised form,
 * objectGUID/objectSid as bytes (objectSid also from S-1-… text), integers numerically,
 * objectCategory shorthand, and the bit-wise and in-chain extensible rules. Evaluation is
 * three-valued (RFC 4511 §4.5.1.7): an unknown attribute or rule is Undefined, which `not`
 * keeps Undefined, and only True selects an entry.
 *
 * A filter is compiled once per search: the asynchronous parts (resolving DNs, walking group
 * chains) are done up front, so each entry is then tested synchronously.
 */
import { sidToBytes, sidToString } from '#src/directory/ad-codec.ts';
import type { Filter } from '../backend.ts';
import { oids } from '../backend.ts';
import { parseDn, tryNormalizeDn, type Rdn } from './dn.ts';
import { attributeType, categoryCnFor, type AttributeType } from './schema.ts';
import type { AttributeValue, LookupIndex } from './store.ts';

export type Tri = boolean | undefined;

export interface EntryView {
  guid: string;
  dn: string;
  /** Every value of the attribute, constructed ones included; [] when absent. */
  values(type: AttributeType): AttributeValue[];
}

/** What compiling a filter may need to know about the directory. */
export interface FilterResolver {
  guidOfDn(dn: string): Promise<string | null>;
  /** GUIDs of the groups that contain `guid`, transitively through member. */
  groupsInChain(guid: string): Promise<Set<string>>;
  /** GUIDs of every entry inside group `guid`, transitively. */
  membersInChain(guid: string): Promise<Set<string>>;
  /** GUIDs of the groups whose member holds `guid`. */
  directGroups(guid: string): Promise<Set<string>>;
  /** GUIDs of the direct members of group `guid`. */
  directMembers(guid: string): Promise<Set<string>>;
  /** Normalised DN of CN=Schema,CN=Configuration,… for objectCategory shorthand. */
  schemaNdn: string;
}

/** Where an indexed search can take its candidates from instead of scanning. */
export type Plan =
  | { kind: 'lookup'; index: LookupIndex; key: string }
  | { kind: 'dn'; ndn: string }
  | { kind: 'guids'; guids: Set<string> }
  | { kind: 'union'; plans: Plan[] }
  | { kind: 'none' };

export interface CompiledFilter {
  test(entry: EntryView): Tri;
  /** Candidates that are a superset of the matches; null when the whole scope must be scanned. */
  plan: Plan | null;
  /** Whether the test reads member or memberOf values (the engine then loads links per batch). */
  readsLinks: boolean;
}

const ruleBitAnd = '1.2.840.113556.1.4.803';
const ruleBitOr = '1.2.840.113556.1.4.804';
const equalityRules = new Set(['2.5.13.0', '2.5.13.1', '2.5.13.2', '2.5.13.5', '2.5.13.14', '2.5.13.17', '2.5.13.8']);
const indexed: Record<string, LookupIndex> = {
  samaccountname: 'sAMAccountName',
  userprincipalname: 'userPrincipalName',
  mail: 'mail',
  objectguid: 'objectGUID',
  objectsid: 'objectSid',
};

function text(value: AttributeValue): string {
  return typeof value === 'string' ? value : value.toString('utf8');
}

function toBigInt(value: string): bigint | undefined {
  return /^-?\d+$/.test(value.trim()) ? BigInt(value.trim()) : undefined;
}

/** Generalized time reduced to comparable digits (YYYYMMDDHHMMSS). */
function timeKey(value: string): string | undefined {
  const match = /^(\d{10,14})(?:[.,]\d+)?Z$/i.exec(value.trim());
  return match ? (match[1] as string).padEnd(14, '0') : undefined;
}

/** Assertion bytes of objectSid: raw bytes, or parsed from its S-1-… string form. */
function sidAssertion(value: Buffer): Buffer {
  const asText = value.toString('utf8');
  if (/^S-1-\d+(-\d+)*$/i.test(asText)) {
    try {
      return sidToBytes(asText.toUpperCase());
    } catch {
      return value;
    }
  }
  return value;
}

type Matcher = (value: AttributeValue) => Tri;

/** Equality matcher for one assertion value under the attribute's syntax; null = Undefined. */
function equalityMatcher(type: AttributeType, assertion: Buffer, resolver: FilterResolver): Matcher | null {
  switch (type.syntax) {
    case 'string': {
      const wanted = assertion.toString('utf8').toLowerCase();
      return (value) => text(value).toLowerCase() === wanted;
    }
    case 'dn': {
      const raw = assertion.toString('utf8');
      let wanted = tryNormalizeDn(raw);
      if (type.name === 'objectCategory' && (wanted === null || !raw.includes('='))) {
        const cn = categoryCnFor(raw);
        wanted = cn === undefined ? null : `cn=${cn.toLowerCase()},${resolver.schemaNdn}`;
      }
      if (wanted === null) return () => false;
      return (value) => tryNormalizeDn(text(value)) === wanted;
    }
    case 'int':
    case 'int64': {
      const wanted = toBigInt(assertion.toString('utf8'));
      if (wanted === undefined) return null;
      return (value) => toBigInt(text(value)) === wanted;
    }
    case 'bool': {
      const wanted = assertion.toString('utf8').toUpperCase();
      return (value) => text(value).toUpperCase() === wanted;
    }
    case 'time': {
      const wanted = timeKey(assertion.toString('utf8'));
      if (wanted === undefined) return null;
      return (value) => timeKey(text(value)) === wanted;
    }
    case 'sid': {
      const wanted = sidAssertion(assertion);
      return (value) => Buffer.isBuffer(value) && value.equals(wanted);
    }
    case 'guid':
    case 'binary':
      return (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8')).equals(assertion);
    case 'password':
      return () => false;
  }
}

function orderingMatcher(type: AttributeType, assertion: Buffer, greater: boolean): Matcher | null {
  const compare = (a: number): boolean => (greater ? a >= 0 : a <= 0);
  switch (type.syntax) {
    case 'string': {
      const wanted = assertion.toString('utf8').toLowerCase();
      return (value) => {
        const v = text(value).toLowerCase();
        return compare(v < wanted ? -1 : v > wanted ? 1 : 0);
      };
    }
    case 'int':
    case 'int64': {
      const wanted = toBigInt(assertion.toString('utf8'));
      if (wanted === undefined) return null;
      return (value) => {
        const v = toBigInt(text(value));
        return v === undefined ? undefined : compare(v < wanted ? -1 : v > wanted ? 1 : 0);
      };
    }
    case 'time': {
      const wanted = timeKey(assertion.toString('utf8'));
      if (wanted === undefined) return null;
      return (value) => {
        const v = timeKey(text(value));
        return v === undefined ? undefined : compare(v < wanted ? -1 : v > wanted ? 1 : 0);
      };
    }
    case 'dn':
    case 'bool':
    case 'guid':
    case 'sid':
    case 'binary':
    case 'password':
      return null;
  }
}

function substringMatcher(type: AttributeType, initial: string | undefined, any: string[], final: string | undefined): Matcher | null {
  if (type.syntax === 'guid' || type.syntax === 'sid' || type.syntax === 'binary' || type.syntax === 'password') return null;
  return (value) => {
    const v = text(value).toLowerCase();
    let position = 0;
    if (initial !== undefined) {
      if (!v.startsWith(initial)) return false;
      position = initial.length;
    }
    for (const part of any) {
      const found = v.indexOf(part, position);
      if (found < 0) return false;
      position = found + part.length;
    }
    if (final !== undefined) return v.length - position >= final.length && v.endsWith(final);
    return true;
  };
}

function anyValue(values: AttributeValue[], matcher: Matcher): Tri {
  let sawUndefined = false;
  for (const value of values) {
    const result = matcher(value);
    if (result === true) return true;
    if (result === undefined) sawUndefined = true;
  }
  return sawUndefined ? undefined : false;
}

function dnAttributesMatch(entry: EntryView, attribute: string | undefined, assertion: string): boolean {
  let rdns: Rdn[];
  try {
    rdns = parseDn(entry.dn);
  } catch {
    return false;
  }
  const wanted = assertion.toLowerCase();
  return rdns.some((rdn) => rdn.some((ava) => (attribute === undefined || ava.type.toLowerCase() === attribute.toLowerCase()) && ava.value.toLowerCase() === wanted));
}

const never: CompiledFilter = { test: () => undefined, plan: { kind: 'none' }, readsLinks: false };

export async function compileFilter(filter: Filter, resolver: FilterResolver): Promise<CompiledFilter> {
  switch (filter.type) {
    case 'and': {
      const parts = await Promise.all(filter.filters.map((f) => compileFilter(f, resolver)));
      // The most selective plan among the parts: an exact look-up beats a set of GUIDs.
      const plans = parts.map((p) => p.plan).filter((p): p is Plan => p !== null);
      const plan = plans.find((p) => p.kind === 'none') ?? plans.find((p) => p.kind === 'lookup' || p.kind === 'dn') ?? plans[0] ?? null;
      return {
        plan,
        readsLinks: parts.some((p) => p.readsLinks),
        test: (entry) => {
          let result: Tri = true;
          for (const part of parts) {
            const r = part.test(entry);
            if (r === false) return false;
            if (r === undefined) result = undefined;
          }
          return result;
        },
      };
    }
    case 'or': {
      const parts = await Promise.all(filter.filters.map((f) => compileFilter(f, resolver)));
      const plans = parts.map((p) => p.plan);
      const plan: Plan | null = parts.length === 0 ? { kind: 'none' } : plans.every((p) => p !== null) ? { kind: 'union', plans: plans } : null;
      return {
        plan,
        readsLinks: parts.some((p) => p.readsLinks),
        test: (entry) => {
          let result: Tri = false;
          for (const part of parts) {
            const r = part.test(entry);
            if (r === true) return true;
            if (r === undefined) result = undefined;
          }
          return result;
        },
      };
    }
    case 'not': {
      const inner = await compileFilter(filter.filter, resolver);
      return { plan: null, readsLinks: inner.readsLinks, test: (entry) => {
        const r = inner.test(entry);
        return r === undefined ? undefined : !r;
      } };
    }
    case 'present': {
      if (filter.attribute.toLowerCase() === 'objectclass') return { plan: null, readsLinks: false, test: () => true };
      const type = attributeType(filter.attribute);
      if (!type) return { ...never, plan: null };
      return { plan: null, readsLinks: isLink(type), test: (entry) => entry.values(type).length > 0 };
    }
    case 'equality':
    case 'approx': {
      const type = attributeType(filter.attribute);
      if (!type) return never;
      const plan = await equalityPlan(type, filter.value, resolver);
      if (plan?.kind === 'guids' && isLink(type)) {
        // member/memberOf equality is answered from the links resolved while planning.
        const guids = plan.guids;
        return { plan, readsLinks: false, test: (entry) => guids.has(entry.guid) };
      }
      const matcher = equalityMatcher(type, filter.value, resolver);
      if (!matcher) return { ...never, plan: null };
      return { plan, readsLinks: isLink(type), test: (entry) => anyValue(entry.values(type), matcher) };
    }
    case 'greaterOrEqual':
    case 'lessOrEqual': {
      const type = attributeType(filter.attribute);
      if (!type) return never;
      const matcher = orderingMatcher(type, filter.value, filter.type === 'greaterOrEqual');
      if (!matcher) return { ...never, plan: null };
      return { plan: null, readsLinks: isLink(type), test: (entry) => anyValue(entry.values(type), matcher) };
    }
    case 'substrings': {
      const type = attributeType(filter.attribute);
      if (!type) return never;
      const lower = (b: Buffer | undefined): string | undefined => (b === undefined ? undefined : b.toString('utf8').toLowerCase());
      const matcher = substringMatcher(type, lower(filter.initial), filter.any.map((b) => b.toString('utf8').toLowerCase()), lower(filter.final));
      if (!matcher) return { ...never, plan: null };
      return { plan: null, readsLinks: isLink(type), test: (entry) => anyValue(entry.values(type), matcher) };
    }
    case 'extensible':
      return compileExtensible(filter, resolver);
  }
}

function isLink(type: AttributeType): boolean {
  return type.name === 'member' || type.name === 'memberOf';
}

async function equalityPlan(type: AttributeType, value: Buffer, resolver: FilterResolver): Promise<Plan | null> {
  const index = indexed[type.name.toLowerCase()];
  if (index === 'objectGUID') return { kind: 'lookup', index, key: value.toString('hex') };
  if (index === 'objectSid') {
    const bytes = sidAssertion(value);
    try {
      return { kind: 'lookup', index, key: sidToString(bytes).toUpperCase() };
    } catch {
      return { kind: 'none' };
    }
  }
  if (index) return { kind: 'lookup', index, key: value.toString('utf8').toLowerCase() };
  if (type.name === 'distinguishedName') {
    const ndn = tryNormalizeDn(value.toString('utf8'));
    return ndn === null ? { kind: 'none' } : { kind: 'dn', ndn };
  }
  if (isLink(type)) {
    const guid = await resolver.guidOfDn(value.toString('utf8'));
    if (guid === null) return { kind: 'none' };
    return { kind: 'guids', guids: type.name === 'member' ? await resolver.directGroups(guid) : await resolver.directMembers(guid) };
  }
  return null;
}

async function compileExtensible(filter: Extract<Filter, { type: 'extensible' }>, resolver: FilterResolver): Promise<CompiledFilter> {
  const type = filter.attribute === undefined ? undefined : attributeType(filter.attribute);
  if (filter.attribute !== undefined && !type) return never;
  const rule = filter.rule;
  let attributeTest: CompiledFilter = { plan: null, readsLinks: false, test: () => false };

  if (type && rule === oids.matchingRuleInChain && isLink(type)) {
    const guid = await resolver.guidOfDn(filter.value.toString('utf8'));
    const guids = guid === null ? new Set<string>() : type.name === 'member' ? await resolver.groupsInChain(guid) : await resolver.membersInChain(guid);
    attributeTest = { plan: { kind: 'guids', guids }, readsLinks: false, test: (entry) => guids.has(entry.guid) };
  } else if (type && (rule === ruleBitAnd || rule === ruleBitOr)) {
    const mask = toBigInt(filter.value.toString('utf8'));
    if (mask === undefined || (type.syntax !== 'int' && type.syntax !== 'int64')) return { ...never, plan: null };
    const unsigned = (v: bigint): bigint => (type.syntax === 'int' ? BigInt.asUintN(32, v) : BigInt.asUintN(64, v));
    const m = unsigned(mask);
    attributeTest = {
      plan: null,
      readsLinks: false,
      test: (entry) =>
        anyValue(entry.values(type), (value) => {
          const v = toBigInt(text(value));
          if (v === undefined) return undefined;
          return rule === ruleBitAnd ? (unsigned(v) & m) === m : (unsigned(v) & m) !== 0n;
        }),
    };
  } else if (type && (rule === undefined || equalityRules.has(rule) || rule === oids.matchingRuleInChain)) {
    attributeTest = await compileFilter({ type: 'equality', attribute: type.name, value: filter.value }, resolver);
  } else if (rule !== undefined && !equalityRules.has(rule)) {
    return { ...never, plan: null };
  }

  if (!filter.dnAttributes) return attributeTest;
  const assertion = filter.value.toString('utf8');
  return {
    plan: null,
    readsLinks: attributeTest.readsLinks,
    test: (entry) => (attributeTest.test(entry) === true || dnAttributesMatch(entry, filter.attribute, assertion) ? true : false),
  };
}
