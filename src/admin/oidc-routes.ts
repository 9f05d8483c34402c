/**
 * The admin API of Portico as an OpenID provider (/admin/api/oidc…): OIDC applications (the
 * client secret is in the creation and rotation answers only) and the signing keys' rotation.
 */
import { z } from 'zod';
import { oidcApplicationFields, oidcApplicationInput, oidcApplicationUpdate } from '#src/access/oidc-application.ts';
import type { OidcAdministration } from '#src/federation/oidc/administration.ts';
import { route, type ApiRoute } from './api-route.ts';

const TAG = 'oidc';
const idParams = z.strictObject({ id: z.string().min(1).max(200) });
const application = z
  .strictObject({ id: z.string().describe('the client_id'), ...oidcApplicationFields })
  .describe('an OIDC application (id is its client_id); never the secret')
  .meta({ id: 'OidcApplication' });
const keyView = z.object({ kid: z.string(), alg: z.enum(['ES256', 'RS256']), state: z.enum(['current', 'next', 'previous']), createdAt: z.string() });

export function oidcAdminRoutes(oidc: () => OidcAdministration | null): ApiRoute[] {
  const admin = (): OidcAdministration => {
    const found = oidc();
    if (found === null) throw new Error('the OpenID provider is not running');
    return found;
  };
  return [
    route({
      method: 'GET', path: '/oidc', operationId: 'getOidcProvider', tag: TAG, summary: 'Issuer, discovery and JWKS URLs, and the signing keys of the OpenID provider',
      response: z.object({ issuer: z.string(), discoveryUrl: z.string(), jwksUri: z.string(), keys: z.array(keyView) }),
      handler: () => Promise.resolve({ ...admin().endpoints(), keys: admin().keys() }),
    }),
    route({
      method: 'POST', path: '/oidc/keys/next', operationId: 'stageOidcKeys', tag: TAG, status: 201,
      summary: 'Stage a new ES256 and RS256 key pair: published in the JWKS, not signing until activated (relying parties refresh their JWKS cache meanwhile)',
      response: z.object({ keys: z.array(keyView) }),
      handler: async ({ admin: who }) => ({ keys: await admin().stageKeys(who.actor) }),
    }),
    route({
      method: 'POST', path: '/oidc/keys/activate', operationId: 'activateOidcKeys', tag: TAG,
      summary: 'The staged pair signs from now on; the old pair stays in the JWKS as previous so tokens it signed still verify',
      response: z.object({ keys: z.array(keyView) }),
      handler: async ({ admin: who }) => ({ keys: await admin().activateKeys(who.actor) }),
    }),
    route({
      method: 'DELETE', path: '/oidc/keys/previous', operationId: 'retireOidcKeys', tag: TAG, summary: 'Remove the previous key pair from the JWKS once the tokens it signed have expired',
      response: z.object({ keys: z.array(keyView) }),
      handler: async ({ admin: who }) => ({ keys: await admin().retireKeys(who.actor) }),
    }),
    route({
      method: 'GET', path: '/oidc-applications', operationId: 'listOidcApplications', tag: TAG, summary: 'OIDC applications (relying parties)',
      response: z.object({ applications: z.array(application) }),
      handler: async () => ({ applications: await admin().list() }),
    }),
    route({
      method: 'POST', path: '/oidc-applications', operationId: 'createOidcApplication', tag: TAG, status: 201,
      summary: 'Register an OIDC application; a confidential client\'s secret is in this answer only',
      body: oidcApplicationInput,
      response: z.object({ application, clientSecret: z.string().nullable().describe('shown once; null for a public client') }),
      handler: ({ body, admin: who }) => admin().create(body, who.actor),
    }),
    route({
      method: 'GET', path: '/oidc-applications/{id}', operationId: 'getOidcApplication', tag: TAG, summary: 'One OIDC application (by client id or name)',
      params: idParams, response: application,
      handler: ({ params }) => admin().get(params.id),
    }),
    route({
      method: 'PATCH', path: '/oidc-applications/{id}', operationId: 'updateOidcApplication', tag: TAG, summary: 'Change an OIDC application (name and client type stay)',
      params: idParams, body: oidcApplicationUpdate, response: application,
      // The raw body: the parsed one has every default filled in, which would reset the fields left out.
      handler: ({ params, request, admin: who }) => admin().update(params.id, request.body, who.actor),
    }),
    route({
      method: 'POST', path: '/oidc-applications/{id}/secret', operationId: 'rotateOidcClientSecret', tag: TAG,
      summary: 'A new client secret, shown once; the old one stops working at once',
      params: idParams, response: z.object({ clientSecret: z.string() }),
      handler: ({ params, admin: who }) => admin().rotateSecret(params.id, who.actor),
    }),
    route({
      method: 'DELETE', path: '/oidc-applications/{id}', operationId: 'deleteOidcApplication', tag: TAG, status: 204, summary: 'Delete an OIDC application without assignments',
      params: idParams, response: z.null(),
      handler: async ({ params, admin: who }) => {
        await admin().delete(params.id, who.actor);
        return null;
      },
    }),
  ];
}
