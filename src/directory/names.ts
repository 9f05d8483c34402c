/**
 * The forms a person may type as a user name, and the escaping every filter and DN value goes
 * through. Input that cannot be a valid AD name is rejected here, before any query is built.
 */

export type SignInName =
  | { kind: 'upn'; upn: string; suffix: string }
  /** `DOMAIN\\sam`, the domain being the NetBIOS name (CORP) or the DNS name (CORP.EXAMPLE.TEST). */
  | { kind: 'downLevel'; domain: string; samAccountName: string }
  | { kind: 'samAccountName'; samAccountName: string };

// Control characters (NUL included) never occur in AD names.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f]/;
// sAMAccountName may not contain these (Microsoft's documented list), nor '@'.
const samForbidden = /["/\\[\]:;|=,+*?<>@]/;
// Characters that would let a UPN's local part be read as a DN by the server.
const upnLocalForbidden = /[,=\\"<>;]/;
const dnsSuffix = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i;
const netbios = /^[^\\/:*?"<>|.\s][^\\/:*?"<>|]{0,14}$/;
const maxDnsNameLength = 253;

const maxNameLength = 256;

function isSamAccountName(value: string): boolean {
  return value.length > 0 && value.length <= 64 && !samForbidden.test(value) && value.trim() === value;
}

/** Parses `alice@corp.example.test`, `CORP\alice` or `alice`; null when it cannot name an AD user. */
export function parseSignInName(input: string): SignInName | null {
  const name = input.trim();
  if (name.length === 0 || name.length > maxNameLength || controlCharacters.test(name)) return null;

  const backslash = name.indexOf('\\');
  if (backslash >= 0) {
    const domain = name.slice(0, backslash);
    const samAccountName = name.slice(backslash + 1);
    const isDomain = netbios.test(domain) || (domain.length <= maxDnsNameLength && dnsSuffix.test(domain));
    if (!isDomain || !isSamAccountName(samAccountName)) return null;
    return { kind: 'downLevel', domain, samAccountName };
  }

  const at = name.lastIndexOf('@');
  if (at >= 0) {
    const local = name.slice(0, at);
    const suffix = name.slice(at + 1);
    if (local.length === 0 || upnLocalForbidden.test(local) || !dnsSuffix.test(suffix)) return null;
    return { kind: 'upn', upn: name, suffix: suffix.toLowerCase() };
  }

  return isSamAccountName(name) ? { kind: 'samAccountName', samAccountName: name } : null;
}

/** Printable ASCII but `(`, `)`, `*` and `\`: the bytes escapeFilterValue keeps as they are. */
const needsNoFilterEscape = /^[\x20-\x27\x2b-\x5b\x5d-\x7e]*$/;

function hexEscape(byte: number): string {
  return `\\${byte.toString(16).padStart(2, '0')}`;
}

/**
 * RFC 4515 escaping of an assertion value: `*`, `(`, `)`, `\` and NUL can never widen a filter.
 * Every byte outside printable ASCII is escaped too (non-ASCII text as its UTF-8 bytes), so the
 * filter text is pure ASCII and each escape stands for exactly one byte on the wire.
 */
export function escapeFilterValue(value: string | Buffer): string {
  if (Buffer.isBuffer(value)) return Array.from(value, hexEscape).join('');
  // Most values (names, UPNs) need no escape at all: skip the byte-by-byte rebuild for them.
  if (needsNoFilterEscape.test(value)) return value;
  return Array.from(Buffer.from(value, 'utf8'), (b) =>
    b < 0x20 || b >= 0x7f || b === 0x28 || b === 0x29 || b === 0x2a || b === 0x5c ? hexEscape(b) : String.fromCharCode(b),
  ).join('');
}

/** Tagged template: every interpolated value is escaped, the literal parts are trusted. */
export function filter(strings: TemplateStringsArray, ...values: (string | Buffer)[]): string {
  return strings.reduce((out, part, i) => out + part + (i < values.length ? escapeFilterValue(values[i] as string | Buffer) : ''), '');
}

/** RFC 4514 escaping of an attribute value inside a DN (`CN=Smith\, John`). */
export function escapeDnValue(value: string): string {
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replaceAll('\u0000', '\\00')
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ');
}
