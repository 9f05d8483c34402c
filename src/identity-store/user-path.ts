/**
 * `${path:…}` templates over an identity-store user: the SCIM paths Identity Center's attributes
 * for access control use (`${path:userName}`, `${path:name.familyName}`,
 * `${path:emails[primary eq true].value}`, `${path:enterprise.department}` …). A fixed table (the
 * path registry, paths.ts), so a template can reach nothing of the record but these values.
 */
import { AppError } from '#src/shared/errors.ts';
import { PATH_TEMPLATE_PATHS, type UserValueReader } from './paths.ts';
import type { IdentityUser } from './user.ts';

type Read = UserValueReader;

// The paths and their readers are the registry's (paths.ts), shared with `${user:…}`.
const PATHS = PATH_TEMPLATE_PATHS;

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
