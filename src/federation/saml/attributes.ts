/**
 * Turns an application's attribute mappings (`${user:email}`, `${user:name.givenName}
 * ${user:name.familyName}`, `${user:groups}`) into the attributes of its assertion. The model
 * already refused any path outside USER_ATTRIBUTE_PATHS (the path registry's `${user:…}`
 * vocabulary, identity-store/paths.ts), so evaluation here cannot reach anything else of the user record.
 */
import { USER_TEMPLATE_VALUES, type UserTemplatePath } from '#src/identity-store/paths.ts';
import type { IdentityUser } from '#src/identity-store/user.ts';
import { USER_ATTRIBUTE_PATHS, type AttributeMapping } from './vocabulary.ts';

export type AttributeNameFormat = 'uri' | 'basic' | 'unspecified';

export const ATTRIBUTE_NAME_FORMATS: Record<AttributeNameFormat, string> = {
  uri: 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
  basic: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
  unspecified: 'urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified',
};

export interface SamlAttribute {
  name: string;
  nameFormat: AttributeNameFormat;
  values: string[];
}

type UserPath = UserTemplatePath;

/** The value(s) of one `${user:…}` path (read through the path registry); only `groups` has several. Empty means missing. */
function resolve(path: UserPath, user: IdentityUser, groups: readonly string[]): string[] {
  if (path === 'groups') return [...groups];
  const value = USER_TEMPLATE_VALUES[path](user);
  return value ? [value] : [];
}

const isUserPath = (path: string): path is UserPath => (USER_ATTRIBUTE_PATHS as readonly string[]).includes(path);

/**
 * Expands one template into its values. A template that references a missing attribute yields
 * no value at all rather than a partial one: `${user:employeeNumber}@corp` must not become
 * `@corp` for everyone without a number, which an application could take as one identity.
 * `${user:groups}` yields one value per group.
 */
export function expandTemplate(template: string, user: IdentityUser, groups: readonly string[]): string[] {
  let values = [''];
  let last = 0;
  for (const match of template.matchAll(/\$\{user:([^}]*)\}/g)) {
    const path = match[1] ?? '';
    // The model validates paths; an unknown one here is a stored record from an older version.
    const resolved = isUserPath(path) ? resolve(path, user, groups) : [];
    if (resolved.length === 0) return [];
    const literal = template.slice(last, match.index);
    values = values.flatMap((prefix) => resolved.map((value) => `${prefix}${literal}${value}`));
    last = match.index + match[0].length;
  }
  const tail = template.slice(last);
  return [...new Set(values.map((value) => `${value}${tail}`))].filter((value) => value.trim() !== '');
}

/** The assertion attributes of an application for a user; attributes without any value are left out. */
export function assertionAttributes(mappings: readonly AttributeMapping[], user: IdentityUser, groups: readonly string[] = []): SamlAttribute[] {
  return mappings.flatMap((mapping) => {
    const values = expandTemplate(mapping.value, user, groups);
    return values.length === 0 ? [] : [{ name: mapping.name, nameFormat: mapping.format, values }];
  });
}
