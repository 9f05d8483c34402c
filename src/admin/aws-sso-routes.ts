/**
 * The admin API of the AWS CLI's client registrations (/admin/api/aws-sso/clients): list the live
 * ones, revoke one (every token issued through it stops working at once). Secrets are never listed.
 */
import { z } from 'zod';
import type { AwsSsoService } from '#src/portal/aws-sso/service.ts';
import { AppError } from '#src/shared/errors.ts';
import { route, type ApiRoute } from './api-route.ts';

const TAG = 'aws sso';

const client = z
  .object({
    clientId: z.string(),
    name: z.string().describe('as the client named itself, e.g. botocore-client-<session>'),
    scopes: z.array(z.string()),
    registeredAt: z.string(),
    expiresAt: z.string(),
    registeredFrom: z.string().describe('the address it registered from'),
  })
  .meta({ id: 'AwsSsoClient' });

export function awsSsoAdminRoutes(deps: { awsSso: () => Pick<AwsSsoService, 'listClients' | 'revokeClient'> }): ApiRoute[] {
  return [
    route({
      method: 'GET', path: '/aws-sso/clients', operationId: 'listAwsSsoClients', tag: TAG, summary: 'Live SSO OIDC client registrations (the AWS CLI and SDKs register one per sso-session)',
      response: z.object({ clients: z.array(client) }),
      handler: async () => ({
        clients: (await deps.awsSso().listClients()).map((c) => ({ clientId: c.clientId, name: c.name, scopes: c.scopes, registeredAt: c.registeredAt.toISOString(), expiresAt: c.expiresAt.toISOString(), registeredFrom: c.registeredFrom })),
      }),
    }),
    route({
      method: 'DELETE', path: '/aws-sso/clients/{clientId}', operationId: 'revokeAwsSsoClient', tag: TAG, status: 204, summary: 'Revoke a client registration and every token issued through it (404 when unknown or already revoked)',
      params: z.strictObject({ clientId: z.string().min(1).max(128) }),
      response: z.null(),
      handler: async ({ params, admin }) => {
        if (!(await deps.awsSso().revokeClient(params.clientId, admin.actor))) throw new AppError('aws_sso.not_found', 'no live client registration with this id', { status: 404 });
        return null;
      },
    }),
  ];
}
