/**
 * Distinguished names (RFC 4514) as Active Directory compares them: attribute types and values
 * case-insensitively. Three forms exist:
 * - the parsed form, a list of RDNs (the leaf first), each a set of type=value pairs;
 * - the display form, with AD's upper-case short types (CN=, OU=, DC=) and RFC 4514 escaping;
 * - the normalised form (`ndn`), lower-cased with every special character hex-escaped, so an
 *   unescaped ',' is always an RDN separator: string suffix tests give ancestry.
 */
import { escapeDnValue } from '#src/directory/names.ts';

export interface Ava {
  type: string;
  value: string;
}
export type Rdn = Ava[];

export class DnSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnSyntaxError';
  }
}

const typePattern = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)$/;
const hexPair = /^[0-9a-fA-F]{2}$/;
const displayTypes = new Set(['cn', 'ou', 'dc', 'o', 'c', 'l', 'st', 'street', 'uid']);

/** Parses a DN; the empty string is the root (no RDNs). Throws DnSyntaxError. */
export function parseDn(input: string): Rdn[] {
  const text = input.trim();
  if (text === '') return [];
  const rdns: Rdn[] = [];
  let rdn: Rdn = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    // attribute type
    while (i < n && text[i] === ' ') i += 1;
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new DnSyntaxError(`missing '=' in ${JSON.stringify(input)}`);
    const type = text.slice(i, eq).trim();
    if (!typePattern.test(type)) throw new DnSyntaxError(`invalid attribute type ${JSON.stringify(type)}`);
    i = eq + 1;
    while (i < n && text[i] === ' ') i += 1;
    // attribute value
    let value: string;
    if (text[i] === '#') {
      // BER-encoded value: kept as its hex text, compared as such.
      const start = i;
      i += 1;
      while (i < n && /[0-9a-fA-F]/.test(text[i] ?? '')) i += 1;
      value = text.slice(start, i);
      if ((value.length - 1) % 2 !== 0 || value.length === 1) throw new DnSyntaxError('invalid hex string value');
    } else {
      const bytes: number[] = [];
      let chars = '';
      // Index in `chars` after the last escaped character: trailing spaces before it are kept.
      let keepUntil = 0;
      const flush = (): void => {
        if (bytes.length > 0) {
          chars += Buffer.from(bytes).toString('utf8');
          bytes.length = 0;
        }
      };
      while (i < n) {
        const c = text[i] as string;
        if (c === ',' || c === '+' || c === ';') break;
        if (c === '\\') {
          const next = text.slice(i + 1, i + 3);
          if (hexPair.test(next)) {
            bytes.push(parseInt(next, 16));
            i += 3;
            continue;
          }
          const special = text[i + 1];
          if (special === undefined) throw new DnSyntaxError('dangling escape');
          if (!',+"\\<>;=# '.includes(special)) throw new DnSyntaxError(`invalid escape \\${special}`);
          flush();
          chars += special;
          keepUntil = chars.length;
          i += 2;
          continue;
        }
        if (c === '"' || c === '<' || c === '>' || c === '\u0000') throw new DnSyntaxError(`unescaped ${JSON.stringify(c)}`);
        flush();
        chars += c;
        i += 1;
      }
      flush();
      // Unescaped trailing spaces are not part of the value.
      let end = chars.length;
      while (end > keepUntil && chars[end - 1] === ' ') end -= 1;
      value = chars.slice(0, end);
    }
    rdn.push({ type, value });
    if (i >= n) break;
    const separator = text[i];
    i += 1;
    if (separator === '+') continue;
    rdns.push(rdn);
    rdn = [];
    if (i >= n) throw new DnSyntaxError('trailing separator');
  }
  rdns.push(rdn);
  for (const r of rdns) for (const ava of r) if (ava.value === '') throw new DnSyntaxError('empty attribute value');
  return rdns;
}

/** RFC 4514 escaping of a value for the display form, as AD writes it (non-ASCII kept as is). */
export { escapeDnValue };

function escapeNormalized(value: string): string {
  const hex = (c: string): string => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  return value
    // eslint-disable-next-line no-control-regex -- NUL must be escaped in a DN
    .replace(/[\\,+"<>;=\u0000]/g, hex)
    .replace(/^[ #]/, hex)
    .replace(/ $/, hex);
}

function displayType(type: string): string {
  return displayTypes.has(type.toLowerCase()) ? type.toUpperCase() : type;
}

export function formatRdn(rdn: Rdn): string {
  return rdn.map((ava) => `${displayType(ava.type)}=${ava.value.startsWith('#') && /^#(?:[0-9a-f]{2})+$/i.test(ava.value) ? ava.value : escapeDnValue(ava.value)}`).join('+');
}

export function formatDn(rdns: Rdn[]): string {
  return rdns.map(formatRdn).join(',');
}

export function normalizeRdn(rdn: Rdn): string {
  return rdn
    .map((ava) => `${ava.type.toLowerCase()}=${escapeNormalized(ava.value.toLowerCase())}`)
    .sort()
    .join('+');
}

export function normalizeRdns(rdns: Rdn[]): string {
  return rdns.map(normalizeRdn).join(',');
}

/** The normalised form of a DN string; throws DnSyntaxError. */
export function normalizeDn(dn: string): string {
  return normalizeRdns(parseDn(dn));
}

/** Normalised form, or null when the text is not a DN. */
export function tryNormalizeDn(dn: string): string | null {
  try {
    return normalizeDn(dn);
  } catch {
    return null;
  }
}

/** The root-first form of a normalised DN: subtrees are then contiguous prefixes. */
export function reverseNdn(ndn: string): string {
  return ndn === '' ? '' : ndn.split(',').reverse().join(',');
}

export function parentNdn(ndn: string): string | null {
  if (ndn === '') return null;
  const comma = ndn.indexOf(',');
  return comma < 0 ? '' : ndn.slice(comma + 1);
}

/** True when `ndn` is `base` or below it. */
export function isWithin(ndn: string, base: string): boolean {
  return base === '' || ndn === base || ndn.endsWith(`,${base}`);
}

/** True when `ndn` is directly below `base`. */
export function isChildOf(ndn: string, base: string): boolean {
  return parentNdn(ndn) === base && ndn !== base;
}
