/**
 * A copy of the configuration that is safe to log: every secret replaced by '***'. Known secret
 * fields are masked explicitly; any other key named like a secret is masked too, so a setting
 * added later cannot leak by default.
 */
import { isSecretName } from '#src/secrets/index.ts';
import { isPlainObject } from './key-tree.ts';
import type { Config } from './schema.ts';

export const REDACTED = '***';

export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  if (copy.secrets.key !== undefined) copy.secrets.key = REDACTED;
  if (copy.database.driver === 'postgres') copy.database.postgres.url = redactUrl(copy.database.postgres.url);
  if (copy.directory) copy.directory.serviceAccount.password = REDACTED;
  // Masking only replaces strings in place of values, so the shape stays a Config.
  return maskSecretNames(copy) as Config;
}

/** Masks the password in a URL's user info and in query parameters named like secrets. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Unparsable: we cannot tell where a password would be, so hide it all.
    return REDACTED;
  }
  if (parsed.password !== '') parsed.password = REDACTED;
  for (const key of [...parsed.searchParams.keys()]) {
    if (isSecretName(key)) parsed.searchParams.set(key, REDACTED);
  }
  return parsed.toString();
}

/** Masks values under secret-like keys; sections (like `secrets`) are walked, not erased. */
function maskSecretNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecretNames);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => {
      const masked = isSecretName(key) && child !== undefined && !isPlainObject(child);
      return [key, masked ? REDACTED : maskSecretNames(child)];
    }),
  );
}
