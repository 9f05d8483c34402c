/**
 * The admin API of the IdentityStore API's access keys (/admin/api/app-credentials): what
 * `portico app-credentials create|list|revoke` calls. Changes go through the one credential
 * service (identity-store/credential-administration.ts), audited under the calling admin.
 */
import { z } from 'zod';
import type { CredentialAdministration } from '#src/identity-store/credential-administration.ts';
import { route, type ApiRoute } from './api-route.ts';

const TAG = 'app credentials';

const credential = z
  .object({
    accessKeyId: z.string(),
    name: z.string(),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable().describe('the last request it signed, to the minute'),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'AppCredential' });

const iso = (date: Date | null): string | null => date?.toISOString() ?? null;

export function appCredentialRoutes(deps: { credentials: () => CredentialAdministration }): ApiRoute[] {
  return [
    route({
      method: 'GET', path: '/app-credentials', operationId: 'listAppCredentials', tag: TAG, summary: 'Access keys for the IdentityStore API, revoked ones included (never their secrets)',
      response: z.object({ identityStoreId: z.string(), credentials: z.array(credential) }),
      handler: async () => {
        const credentials = deps.credentials();
        const listed = await credentials.list();
        return { identityStoreId: credentials.identityStoreId, credentials: listed.map((c) => ({ accessKeyId: c.accessKeyId, name: c.name, createdAt: c.createdAt.toISOString(), lastUsedAt: iso(c.lastUsedAt), revokedAt: iso(c.revokedAt) })) };
      },
    }),
    route({
      method: 'POST', path: '/app-credentials', operationId: 'createAppCredential', tag: TAG, status: 201, summary: 'Issue an access key; its secret is in this answer only',
      body: z.strictObject({ name: z.string({ error: 'name: required, a string' }).max(1024).describe('what the key is for, e.g. the application using it') }),
      response: z.object({ accessKeyId: z.string(), secretAccessKey: z.string(), name: z.string(), createdAt: z.string(), identityStoreId: z.string() }),
      handler: async ({ body, admin }) => {
        const credentials = deps.credentials();
        const issued = await credentials.create(body.name, admin.actor);
        return { accessKeyId: issued.accessKeyId, secretAccessKey: issued.secretAccessKey, name: issued.name, createdAt: issued.createdAt.toISOString(), identityStoreId: credentials.identityStoreId };
      },
    }),
    route({
      method: 'DELETE', path: '/app-credentials/{accessKeyId}', operationId: 'revokeAppCredential', tag: TAG, status: 204, summary: 'Revoke an access key for good (404 when unknown or already revoked)',
      params: z.strictObject({ accessKeyId: z.string().min(1).max(64) }),
      response: z.null(),
      handler: async ({ params, admin }) => {
        await deps.credentials().revoke(params.accessKeyId, admin.actor);
        return null;
      },
    }),
  ];
}
