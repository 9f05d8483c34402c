/**
 * The admin API of Portico as a SAML identity provider (/admin/api/saml…): where service
 * providers find it, and the rotation of its signing key (stage → activate → retire, see
 * src/federation/signing-keys.ts). Every change is audited; private keys never leave the server.
 */
import { z } from 'zod';
import type { AuditAction, AuditLog } from '#src/audit/index.ts';
import type { SigningKeys, SigningKeyView } from '#src/federation/signing-keys.ts';
import { route, type ApiRoute } from './api-route.ts';

export interface IdentityProviderAdmin {
  keys: SigningKeys;
  /** The IdP's entity ID and endpoints, as the metadata gives them. */
  endpoints(): { entityId: string; metadataUrl: string; ssoUrl: string; sloUrl: string };
}

export interface SamlAdminDeps {
  saml: () => IdentityProviderAdmin;
  audit: AuditLog;
  /** After the published certificates changed: AWS accounts' SAML providers get the new metadata. */
  metadataChanged?: (actor: string) => Promise<unknown> | undefined;
  clock?: () => Date;
}

const TAG = 'saml';

const certificateView = z.object({
  id: z.string(),
  state: z.enum(['current', 'next', 'previous']).describe('current signs; next is published before it signs; previous is still published after it stopped signing'),
  sha256: z.string(),
  subject: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  createdAt: z.string(),
  certificatePem: z.string(),
});

const keyMaterial = z
  .strictObject({
    keyPem: z.string({ error: 'keyPem: a PEM private key' }).max(16_384, 'keyPem: at most 16384 characters').optional(),
    certificatePem: z.string({ error: 'certificatePem: a PEM certificate' }).max(16_384, 'certificatePem: at most 16384 characters').optional(),
  })
  .refine((body) => (body.keyPem === undefined) === (body.certificatePem === undefined), 'keyPem and certificatePem: give both (your own key material) or neither (Portico generates a key)')
  .optional();

export function samlAdminRoutes(deps: SamlAdminDeps): ApiRoute[] {
  const now = () => (deps.clock ?? (() => new Date()))();
  const audited = async (actor: string, action: AuditAction, view: SigningKeyView, details: Record<string, unknown> = {}) => {
    await deps.audit.record({ actor, action, target: view.id, outcome: 'success', details: { sha256: view.sha256, notAfter: view.notAfter, ...details } });
    // The metadata changed; a provider that failed to update is reported by its own audit event.
    await deps.metadataChanged?.(actor)?.catch(() => undefined);
    return view;
  };

  return [
    route({
      method: 'GET', path: '/saml', operationId: 'getSamlIdentityProvider', tag: TAG, summary: 'Entity ID, endpoints and signing certificates of the identity provider',
      response: z.object({ entityId: z.string(), metadataUrl: z.string(), ssoUrl: z.string(), sloUrl: z.string(), certificates: z.array(certificateView) }),
      handler: () => Promise.resolve({ ...deps.saml().endpoints(), certificates: deps.saml().keys.list() }),
    }),
    route({
      method: 'POST', path: '/saml/certificates', operationId: 'stageSigningCertificate', tag: TAG, status: 201,
      summary: 'Stage the next signing key: published in the metadata beside the current one, not used until activated. Generated unless keyPem and certificatePem are given.',
      body: keyMaterial, response: certificateView,
      handler: async ({ body, admin }) => {
        const material = body?.keyPem !== undefined && body.certificatePem !== undefined ? { keyPem: body.keyPem, certificatePem: body.certificatePem } : null;
        return audited(admin.actor, 'saml.key.staged', await deps.saml().keys.stage(material, now()), { imported: material !== null });
      },
    }),
    route({
      method: 'POST', path: '/saml/certificates/activate', operationId: 'activateSigningCertificate', tag: TAG,
      summary: 'Sign with the staged key from now on; the old key stays in the metadata as the previous one',
      response: certificateView,
      handler: async ({ admin }) => audited(admin.actor, 'saml.key.activated', await deps.saml().keys.activate(now())),
    }),
    route({
      method: 'DELETE', path: '/saml/certificates/previous', operationId: 'retireSigningCertificate', tag: TAG,
      summary: 'Remove the previous key from the metadata once every service provider has the current one',
      response: certificateView,
      handler: async ({ admin }) => audited(admin.actor, 'saml.key.retired', await deps.saml().keys.retire(now())),
    }),
  ];
}
