/**
 * LDIF in and out of the managed directory over the admin API (/admin/api/directory/managed/
 * import|export): what `portico directory import|export` call. The import is one JSON request
 * whose body may be far larger than other admin requests (its own body limit, below); entries are
 * added one by one as the Administrator, so the directory's rules apply as over LDAP. Audited
 * with counts, never with the file's content (it may hold passwords).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditLog } from '#src/audit/index.ts';
import { parseLdif } from '#src/directory/managed/ldif.ts';
import { exportLdif, importLdif } from '#src/directory/managed/ldif-transfer.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import { route, type ApiRoute } from './api-route.ts';
import type { ManagedDirectoryAccess } from './directory-routes.ts';

const TAG = 'managed directory';
/** An LDIF import may be large (tens of thousands of users); only this route accepts that much. */
export const LDIF_IMPORT_BODY_LIMIT = 256 * 1024 * 1024;
const REFUSED = 'the identity source is a connected AD, and Portico never writes to a connected AD: import and export work on the managed directory';

export function ldifRoutes(deps: { managed: () => ManagedDirectoryAccess | null; audit: AuditLog; clock?: () => Date }): ApiRoute[] {
  const open = (remoteAddress: string) => {
    const managed = deps.managed();
    if (managed === null) throw new AppError('directory.refused', REFUSED, { status: 409 });
    const session = { id: `admin-api-${randomUUID()}`, boundDn: managed.administrator.dn, secure: true, remoteAddress };
    return { managed, session, close: () => managed.engine.closeSession?.(session.id) };
  };
  return [
    route({
      method: 'POST', path: '/directory/managed/import', operationId: 'importManagedLdif', tag: TAG, bodyLimit: LDIF_IMPORT_BODY_LIMIT,
      summary: 'Add the entries of LDIF content records (RFC 2849) to the managed directory; groups may come before their members. A failure stops the import (entries already added stay) unless continueOnError. Body limit 256 MiB',
      body: z.strictObject({ ldif: z.string({ error: 'ldif: required, the file as a string' }).min(1, 'ldif: required'), continueOnError: z.boolean().default(false) }),
      response: z.object({ added: z.number().int(), memberships: z.number().int(), failures: z.array(z.object({ line: z.number().int(), dn: z.string(), message: z.string() })), seconds: z.number() }),
      handler: async ({ body, admin, request }) => {
        const action = 'directory.managed.ldif.imported';
        const started = performance.now();
        try {
          const { session, managed, close } = open(request.ip);
          try {
            const lines = body.ldif.split(/\r?\n/);
            const total = lines.filter((line) => /^dn::?/i.test(line)).length;
            const report = await importLdif(managed.engine, session, parseLdif(lines), { total, continueOnError: body.continueOnError });
            await deps.audit.record({ actor: admin.actor, action, target: managed.baseDn, outcome: report.failures.length > 0 ? 'failure' : 'success', details: { records: total, added: report.added, memberships: report.memberships, failed: report.failures.length } });
            return { ...report, seconds: (performance.now() - started) / 1000 };
          } finally {
            close();
          }
        } catch (error) {
          await deps.audit.record({ actor: admin.actor, action, outcome: 'failure', errorCode: isAppError(error) ? error.code : null, details: isAppError(error) ? { reason: error.message } : {} });
          // A syntax error is the file's fault: the caller's to fix (400), with its line.
          if (error instanceof Error && error.name === 'LdifSyntaxError') throw new AppError('directory.import_failed', error.message, { status: 400 });
          throw error;
        }
      },
    }),
    route({
      method: 'GET', path: '/directory/managed/export', operationId: 'exportManagedLdif', tag: TAG,
      summary: 'The managed directory (or a subtree) as LDIF, without what the directory owns (GUIDs, SIDs, passwords)',
      query: z.strictObject({ base: z.string().max(1024).optional().describe('subtree to export; the whole domain by default') }),
      response: z.object({ ldif: z.string() }),
      handler: async ({ query, admin, request }) => {
        const action = 'directory.managed.ldif.exported';
        try {
          const { session, managed, close } = open(request.ip);
          try {
            const chunks: string[] = [];
            for await (const chunk of exportLdif(managed.engine, session, query.base ?? managed.baseDn)) chunks.push(chunk);
            await deps.audit.record({ actor: admin.actor, action, target: query.base ?? managed.baseDn, outcome: 'success', details: { bytes: chunks.reduce((n, c) => n + c.length, 0) } });
            return { ldif: chunks.join('') };
          } finally {
            close();
          }
        } catch (error) {
          await deps.audit.record({ actor: admin.actor, action, target: query.base ?? null, outcome: 'failure', errorCode: isAppError(error) ? error.code : null, details: isAppError(error) ? { reason: error.message } : {} });
          throw error;
        }
      },
    }),
  ];
}
