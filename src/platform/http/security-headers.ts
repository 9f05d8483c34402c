/**
 * The response headers every HTTP face sets, in one hook: what a browser may load (CSP), no
 * MIME sniffing, no caching of personal or administrative answers, and for pages no referrer and
 * no framing. A route that needs another CSP or cache policy sets its own header; the hook only
 * fills in what is missing.
 */
import type { FastifyInstance } from 'fastify';

export interface SecurityHeaderPolicy {
  /** The Content-Security-Policy of the scope's pages; omitted for APIs that serve no pages. */
  csp?: string;
  /** Referrer-Policy: no-referrer and X-Frame-Options: DENY (server-rendered and static pages). */
  page: boolean;
}

/** Adds the onSend hook to an encapsulated scope. */
export function useSecurityHeaders(scope: FastifyInstance, { csp, page }: SecurityHeaderPolicy): void {
  scope.addHook('onSend', (_request, reply, payload, done) => {
    if (csp !== undefined && reply.getHeader('content-security-policy') === undefined) reply.header('content-security-policy', csp);
    reply.header('x-content-type-options', 'nosniff');
    if (page) {
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
    }
    if (reply.getHeader('cache-control') === undefined) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}
