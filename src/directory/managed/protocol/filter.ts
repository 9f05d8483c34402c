/**
 * RFC 4511 §4.5.1.7 search filters to and from the backend's `Filter` AST. Decoding is bounded
 * by a nesting depth so that a hostile 10,000-level (!(!(!…))) costs a few bytes of stack, not a
 * stack overflow.
 */
import type { Filter } from '../backend.ts';
import type { BerReader } from './ber.ts';
import { boolean, constructed, octetString, tlv } from './ber.ts';
import { ProtocolError } from './errors.ts';

export const defaultMaxFilterDepth = 64;

const FilterTag = {
  and: 0xa0,
  or: 0xa1,
  not: 0xa2,
  equality: 0xa3,
  substrings: 0xa4,
  greaterOrEqual: 0xa5,
  lessOrEqual: 0xa6,
  present: 0x87,
  approx: 0xa8,
  extensible: 0xa9,
} as const;

const SubstringTag = { initial: 0x80, any: 0x81, final: 0x82 } as const;
const MatchingRuleTag = { rule: 0x81, type: 0x82, value: 0x83, dnAttributes: 0x84 } as const;

/** Reads the next filter from `reader`; depth 1 is the top-level filter. */
export function readFilter(reader: BerReader, maxDepth: number = defaultMaxFilterDepth, depth = 1): Filter {
  if (depth > maxDepth) throw new ProtocolError('ldap.filter_too_deep', `filter nested deeper than ${maxDepth}`);
  const tag = reader.peekTag();
  switch (tag) {
    case FilterTag.and:
    case FilterTag.or: {
      const set = reader.sequence(tag);
      const filters: Filter[] = [];
      // RFC 4526 absolute true/false: an empty and/or is allowed.
      while (set.hasMore()) filters.push(readFilter(set, maxDepth, depth + 1));
      return { type: tag === FilterTag.and ? 'and' : 'or', filters };
    }
    case FilterTag.not: {
      const inner = reader.sequence(FilterTag.not);
      const filter = readFilter(inner, maxDepth, depth + 1);
      if (inner.hasMore()) throw new ProtocolError('ldap.invalid_filter', 'a not filter holds exactly one filter');
      return { type: 'not', filter };
    }
    case FilterTag.equality:
    case FilterTag.greaterOrEqual:
    case FilterTag.lessOrEqual:
    case FilterTag.approx: {
      const ava = reader.sequence(tag);
      const attribute = ava.string();
      const value = ava.octets();
      const type = tag === FilterTag.equality ? 'equality' : tag === FilterTag.greaterOrEqual ? 'greaterOrEqual' : tag === FilterTag.lessOrEqual ? 'lessOrEqual' : 'approx';
      return { type, attribute, value };
    }
    case FilterTag.substrings:
      return readSubstrings(reader.sequence(FilterTag.substrings));
    case FilterTag.present:
      return { type: 'present', attribute: reader.string(FilterTag.present) };
    case FilterTag.extensible:
      return readExtensible(reader.sequence(FilterTag.extensible));
    default:
      throw new ProtocolError('ldap.invalid_filter', tag === undefined ? 'missing filter' : `unknown filter tag 0x${tag.toString(16)}`);
  }
}

function readSubstrings(reader: BerReader): Filter {
  const attribute = reader.string();
  const list = reader.sequence();
  let initial: Buffer | undefined;
  let final: Buffer | undefined;
  const any: Buffer[] = [];
  let count = 0;
  while (list.hasMore()) {
    const tag = list.peekTag();
    // initial only first, final only last, at least one element (RFC 4511 §4.5.1.7.2).
    if (final !== undefined) throw new ProtocolError('ldap.invalid_filter', 'nothing may follow a final substring');
    if (tag === SubstringTag.initial) {
      if (count > 0) throw new ProtocolError('ldap.invalid_filter', 'initial substring must come first');
      initial = list.octets(SubstringTag.initial);
    } else if (tag === SubstringTag.any) {
      any.push(list.octets(SubstringTag.any));
    } else if (tag === SubstringTag.final) {
      final = list.octets(SubstringTag.final);
    } else {
      throw new ProtocolError('ldap.invalid_filter', 'unknown substring choice');
    }
    count += 1;
  }
  if (count === 0) throw new ProtocolError('ldap.invalid_filter', 'a substrings filter needs at least one substring');
  return { type: 'substrings', attribute, ...(initial && { initial }), any, ...(final && { final }) };
}

function readExtensible(reader: BerReader): Filter {
  let rule: string | undefined;
  let attribute: string | undefined;
  if (reader.peekTag() === MatchingRuleTag.rule) rule = reader.string(MatchingRuleTag.rule);
  if (reader.peekTag() === MatchingRuleTag.type) attribute = reader.string(MatchingRuleTag.type);
  const value = reader.octets(MatchingRuleTag.value);
  const dnAttributes = reader.peekTag() === MatchingRuleTag.dnAttributes ? reader.boolean(MatchingRuleTag.dnAttributes) : false;
  // RFC 4511: without a type, a matching rule is required.
  if (rule === undefined && attribute === undefined) throw new ProtocolError('ldap.invalid_filter', 'extensible match needs a rule or a type');
  return { type: 'extensible', ...(rule !== undefined && { rule }), ...(attribute !== undefined && { attribute }), value, dnAttributes };
}

/** Encodes a filter; recursion is fine here because we only encode filters we built. */
export function encodeFilter(filter: Filter): Buffer {
  switch (filter.type) {
    case 'and':
    case 'or':
      return constructed(filter.type === 'and' ? FilterTag.and : FilterTag.or, filter.filters.map(encodeFilter));
    case 'not':
      return constructed(FilterTag.not, [encodeFilter(filter.filter)]);
    case 'equality':
    case 'greaterOrEqual':
    case 'lessOrEqual':
    case 'approx':
      return constructed(FilterTag[filter.type], [octetString(filter.attribute), octetString(filter.value)]);
    case 'substrings': {
      const parts = [
        ...(filter.initial ? [octetString(filter.initial, SubstringTag.initial)] : []),
        ...filter.any.map((value) => octetString(value, SubstringTag.any)),
        ...(filter.final ? [octetString(filter.final, SubstringTag.final)] : []),
      ];
      return constructed(FilterTag.substrings, [octetString(filter.attribute), constructed(0x30, parts)]);
    }
    case 'present':
      return tlv(FilterTag.present, Buffer.from(filter.attribute, 'utf8'));
    case 'extensible':
      return constructed(FilterTag.extensible, [
        ...(filter.rule !== undefined ? [octetString(filter.rule, MatchingRuleTag.rule)] : []),
        ...(filter.attribute !== undefined ? [octetString(filter.attribute, MatchingRuleTag.type)] : []),
        octetString(filter.value, MatchingRuleTag.value),
        // DEFAULT FALSE: omitted when false, as DER and most clients do.
        ...(filter.dnAttributes ? [boolean(true, MatchingRuleTag.dnAttributes)] : []),
      ]);
  }
}
