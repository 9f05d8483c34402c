/**
 * `${path:…}` templates over an identity-store user: the SCIM paths Identity Center's attributes
 * for access control use (`${path:userName}`, `${path:name.familyName}`,
 * `${path:emails[primary eq true].value}`, `${path:enterprise.department}` …). A fixed table, so a
 * template can reach nothing of the record but these values.
 */
import { AppError } from '#src/shared/errors.ts';
import type { IdentityUser } from './user.ts';

type Read = (user: IdentityUser) => string | null;

const single: Record<string, Read> = {
  userName: (u) => u.userName,
  displayName: (u) => u.displayName,
  nickName: (u) => u.nickName,
  title: (u) => u.title,
  userType: (u) => u.userType,
  preferredLanguage: (u) => u.preferredLanguage,
  locale: (u) => u.locale,
  timezone: (u) => u.timezone,
  'name.formatted': (u) => u.name.formatted,
  'name.givenName': (u) => u.name.givenName,
  'name.familyName': (u) => u.name.familyName,
  'name.middleName': (u) => u.name.middleName,
  'enterprise.department': (u) => u.enterprise.department,
  'enterprise.employeeNumber': (u) => u.enterprise.employeeNumber,
  'enterprise.costCenter': (u) => u.enterprise.costCenter,
  'enterprise.organization': (u) => u.enterprise.organization,
  'enterprise.division': (u) => u.enterprise.division,
  'enterprise.manager.value': (u) => u.enterprise.manager,
};

// Each multi-valued attribute holds at most one value, the primary work one (as Identity Center's do).
const multi: Record<string, { sub: string; read: Read }> = {
  emails: { sub: 'value', read: (u) => u.emails[0]?.value ?? null },
  phoneNumbers: { sub: 'value', read: (u) => u.phoneNumbers[0]?.value ?? null },
  addresses: { sub: 'formatted', read: (u) => u.addresses[0]?.formatted ?? null },
};

// A Map, not an object: `${path:constructor}` must not find Object.prototype's.
const PATHS = new Map<string, Read>(Object.entries(single));
for (const [name, { sub, read }] of Object.entries(multi)) {
  PATHS.set(`${name}[primary eq true].${sub}`, read);
  PATHS.set(`${name}[type eq "work"].${sub}`, read);
}

export const USER_PATHS: readonly string[] = [...PATHS.keys()];

/** A compiled template: the value for a user, or null when a referenced value is missing. */
export type UserPathTemplate = (user: IdentityUser) => string | null;

/**
 * Compiles `${path:…}` template text once. A template whose value is missing yields null rather
 * than the literal parts alone (a tag `team-` for everyone without a team would be one team).
 * `what` names the template in the error, e.g. the config key.
 */
export function compileUserPathTemplate(template: string, what: string): UserPathTemplate {
  const parts: Array<string | Read> = [];
  let last = 0;
  for (const match of template.matchAll(/\$\{([^}]*)\}/g)) {
    const reference = (match[1] ?? '').trim();
    const path = reference.startsWith('path:') ? reference.slice(5).trim() : null;
    const read = path === null ? undefined : PATHS.get(path);
    if (read === undefined) {
      throw new AppError('config.invalid', `${what}: \${${reference.slice(0, 80)}} is not one of ${USER_PATHS.map((p) => `\${path:${p}}`).join(', ')}`);
    }
    parts.push(template.slice(last, match.index), read);
    last = match.index + match[0].length;
  }
  parts.push(template.slice(last));
  return (user) => {
    let value = '';
    for (const part of parts) {
      if (typeof part === 'string') value += part;
      else {
        const read = part(user);
        if (read === null || read === '') return null;
        value += read;
      }
    }
    return value.trim() === '' ? null : value;
  };
}
