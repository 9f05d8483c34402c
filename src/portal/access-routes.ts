/** The signed-in person's own access (the portal reads it): GET /api/me/access. */
import type { FastifyInstance } from 'fastify';
import { createSessionReader } from '#src/platform/http/index.ts';
import type { SessionService } from '#src/sessions/sessions.ts';
import type { SessionAccessCache } from '#src/access/session-access.ts';

export function registerAccessRoutes(http: FastifyInstance, deps: { sessions: SessionService; sessionAccess: SessionAccessCache }): void {
  const reader = createSessionReader({ sessions: deps.sessions });
  http.get('/api/me/access', async (request, reply) => {
    const found = await reader.current(request);
    reply.header('cache-control', 'no-store');
    if (found === null) return reply.status(401).send({ error: { code: 'auth.session_invalid', message: 'sign in first' } });
    const { entitlements, groupsReadAt } = await deps.sessionAccess.forSession(found.session);
    return reply.send({ userName: found.session.data.userName, ...entitlements, groupsReadAt: groupsReadAt.toISOString() });
  });
}
