/**
 * Where a browser request came from, as the browser says it (issue 12): the admin API refuses
 * cookie-authenticated changes that do not come from Portico's own pages, and single logout asks
 * for a confirmation when an unsigned LogoutRequest arrives from another site. A page cannot
 * forge these headers: browsers set Sec-Fetch-Site, Origin and Referer themselves.
 */
import type { FastifyRequest } from 'fastify';

export type RequestSite =
  /** From a page of this origin. */
  | { verdict: 'same'; source: 'sec-fetch-site' | 'origin' | 'referer' }
  /** From elsewhere; `origin` is what the browser named (null for an opaque origin or a bare Sec-Fetch-Site). */
  | { verdict: 'foreign'; source: 'sec-fetch-site' | 'origin' | 'referer'; origin: string | null }
  /** The browser said nothing (no Origin, no Referer). */
  | { verdict: 'absent' };

/** The origin (scheme://host[:port]) of a URL, or null when it is not one. */
function originOf(value: string): URL | null {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/**
 * The request's site from its Origin header, else its Referer (Origin is absent from some
 * same-origin requests of older browsers, and from GET navigations). The host is compared with
 * the request's own (Host, or X-Forwarded-Host from a trusted proxy), the port included; the
 * scheme is not, since a TLS-terminating proxy makes it differ from what Portico sees.
 * `useFetchMetadata` first consults Sec-Fetch-Site, which every current browser sends.
 */
export function requestSite(request: FastifyRequest, options: { useFetchMetadata?: boolean } = {}): RequestSite {
  const host = request.host.toLowerCase();
  const fetchSite = request.headers['sec-fetch-site'];
  if (options.useFetchMetadata === true && typeof fetchSite === 'string') {
    return fetchSite === 'same-origin' ? { verdict: 'same', source: 'sec-fetch-site' } : { verdict: 'foreign', source: 'sec-fetch-site', origin: null };
  }
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    const url = originOf(origin);
    return url !== null && url.host.toLowerCase() === host ? { verdict: 'same', source: 'origin' } : { verdict: 'foreign', source: 'origin', origin: url === null ? null : url.origin };
  }
  const referer = request.headers.referer;
  if (typeof referer === 'string' && referer !== '') {
    const url = originOf(referer);
    // Only the origin is kept: the rest of a referring URL may carry anything.
    return url !== null && url.host.toLowerCase() === host ? { verdict: 'same', source: 'referer' } : { verdict: 'foreign', source: 'referer', origin: url === null ? null : url.origin };
  }
  return { verdict: 'absent' };
}
