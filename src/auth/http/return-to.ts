/**
 * Where to send the browser after sign-in: a path on this site only. Absolute URLs,
 * protocol-relative `//host` and the browser quirks that turn into them (`/\host`, tabs and
 * newlines, `/..//host` after dot-segment removal) all fall back to `/`: no open redirect.
 */
const BASE = new URL('https://portico.invalid/');
const MAX_LENGTH = 2048;

export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return '/';
  if (!value.startsWith('/') || isSchemeRelative(value)) return '/';
  // Control characters and backslashes: browsers strip or rewrite them into something else.
  if ([...value].some((char) => char <= '\u001f' || char === '\u007f' || char === '\\')) return '/';
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return '/';
  }
  if (url.origin !== BASE.origin) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  return isSchemeRelative(path) ? '/' : path;
}

function isSchemeRelative(path: string): boolean {
  return path.startsWith('//') || path.startsWith('/\\');
}
