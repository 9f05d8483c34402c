/**
 * Turns Portico's filter text (ASCII, values escaped byte by byte by `filter`) into ldapts filter
 * objects with the exact bytes on the wire. ldapts's own string parser decodes `\xx` escapes to
 * UTF-16 characters and re-encodes them as UTF-8, which corrupts binary values such as
 * objectGUID and objectSid and every escaped non-ASCII byte.
 */
import {
  AndFilter,
  ApproximateFilter,
  EqualityFilter,
  ExtensibleFilter,
  FilterParser,
  GreaterThanEqualsFilter,
  LessThanEqualsFilter,
  NotFilter,
  OrFilter,
  SubstringFilter,
} from 'ldapts';
import type { Filter } from 'ldapts';

/** After ldapts's unescaping every character of a value is one byte (0–255). */
function bytesOf(value: string): Buffer {
  return Buffer.from(value, 'latin1');
}

function text(value: string): string {
  return bytesOf(value).toString('utf8');
}

function repair(node: Filter): Filter {
  if (node instanceof AndFilter || node instanceof OrFilter) {
    node.filters = node.filters.map(repair);
  } else if (node instanceof NotFilter) {
    node.filter = repair(node.filter);
  } else if (node instanceof EqualityFilter) {
    if (typeof node.value === 'string') node.value = bytesOf(node.value);
  } else if (node instanceof SubstringFilter) {
    node.initial = text(node.initial);
    node.any = node.any.map(text);
    node.final = text(node.final);
  } else if (node instanceof ExtensibleFilter || node instanceof ApproximateFilter || node instanceof GreaterThanEqualsFilter || node instanceof LessThanEqualsFilter) {
    node.value = text(node.value);
  }
  return node;
}

export function parseFilter(filterText: string): Filter {
  if (/[^\x20-\x7e]/.test(filterText)) {
    // Unescaped non-ASCII would be ambiguous after parsing; `filter` never produces it.
    throw new RangeError('filter text must be ASCII; interpolate values through `filter`');
  }
  return repair(FilterParser.parseString(filterText));
}
