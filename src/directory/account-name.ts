/**
 * Every spelling that can designate one directory account, and the key each spelling is cached
 * under. Sign-in names (UPN, DOMAIN\sam, sAMAccountName) come from names.ts; an account can also
 * be named by its distinguished name (what LDAP tools and the password page accept) or its
 * objectGUID. The throttle counts failures per account, so every spelling must resolve to the
 * same account before a bind (issue 12); this module only says what a spelling is, the connector
 * says which account it designates.
 */
import { isGuid } from './ad-codec.ts';
import { formatDn, normalizeRdns, parseDn } from './managed/engine/dn.ts';
import { parseSignInName, type SignInName } from './names.ts';

export type AccountName =
  | SignInName
  /**
   * A distinguished name: `dn` re-written in the display form (spacing as typed does not reach
   * the directory), `ndn` its normalised form (case and spacing do not matter).
   */
  | { kind: 'dn'; dn: string; ndn: string }
  | { kind: 'guid'; guid: string };

const maxDnLength = 1024;

/** Parses any spelling of an account; null when it cannot designate one. */
export function parseAccountName(input: string): AccountName | null {
  const name = input.trim();
  // Neither a UPN nor a sAMAccountName may contain '=': a name with one can only be a DN.
  if (name.includes('=')) {
    if (name.length > maxDnLength || /[\u0000-\u001f\u007f]/.test(name)) return null; // eslint-disable-line no-control-regex -- control characters are refused
    try {
      const rdns = parseDn(name);
      return rdns.length === 0 ? null : { kind: 'dn', dn: formatDn(rdns), ndn: normalizeRdns(rdns) };
    } catch {
      return null;
    }
  }
  // A GUID is 36 characters; a sAMAccountName has at most 20, so a GUID-shaped name is a GUID.
  if (isGuid(name)) return { kind: 'guid', guid: name.toLowerCase() };
  return parseSignInName(name);
}

/**
 * The key a spelling is cached under within one domain. `DOMAIN\sam`, `DNS-DOMAIN\sam` and the
 * bare `sam` designate the same account in the domain they belong to, so they share a key; the
 * caller has checked that a down-level name belongs to its domain.
 */
export function accountNameKey(name: AccountName): string {
  switch (name.kind) {
    case 'upn':
      return `upn:${name.upn.toLowerCase()}`;
    case 'downLevel':
    case 'samAccountName':
      return `sam:${name.samAccountName.toLowerCase()}`;
    case 'dn':
      return `dn:${name.ndn}`;
    case 'guid':
      return `guid:${name.guid}`;
  }
}

/** The DNS domain a DN lies in (`DC=corp,DC=example,DC=test` → corp.example.test), lower-cased. */
export function domainOfDn(dn: string): string {
  return dn
    .split(',')
    .map((rdn) => /^\s*DC=(.*)$/i.exec(rdn)?.[1]?.trim().toLowerCase())
    .filter((label): label is string => Boolean(label))
    .join('.');
}
