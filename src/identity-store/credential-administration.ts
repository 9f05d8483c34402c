/**
 * Issuing, listing and revoking the access keys applications sign IdentityStore API requests with:
 * the one service the admin API (and so the CLI and the console) calls, so every change has one
 * audit trail. The secret is returned once, at creation, and is never audited or listed.
 */
import type { AuditLog } from '#src/audit/index.ts';
import { AppError } from '#src/shared/errors.ts';
import { credentialNameProblem, type ApplicationCredential, type ApplicationCredentialStore, type IssuedApplicationCredential } from './application-credentials.ts';

export interface CredentialAdministration {
  /** The IdentityStoreId applications address (derived from the instance key). */
  readonly identityStoreId: string;
  create(name: string, actor: string): Promise<IssuedApplicationCredential>;
  list(): Promise<ApplicationCredential[]>;
  /** Throws identity.credential_not_found (404) for an unknown or already revoked key. */
  revoke(accessKeyId: string, actor: string): Promise<void>;
}

export function createCredentialAdministration(deps: { store: ApplicationCredentialStore; audit: AuditLog; identityStoreId: string }): CredentialAdministration {
  const { store, audit } = deps;
  return {
    identityStoreId: deps.identityStoreId,
    async create(name, actor) {
      const problem = credentialNameProblem(name);
      if (problem) throw new AppError('api.invalid_request', problem, { status: 400 });
      const issued = await store.create(name);
      await audit.record({ actor, action: 'identitystore.credential.created', target: issued.accessKeyId, outcome: 'success', details: { name: issued.name } });
      return issued;
    },
    list: () => store.list(),
    async revoke(accessKeyId, actor) {
      if (!(await store.revoke(accessKeyId))) {
        throw new AppError('api.not_found', `no live access key ${accessKeyId.slice(0, 40)} (unknown, or already revoked)`, { status: 404 });
      }
      await audit.record({ actor, action: 'identitystore.credential.revoked', target: accessKeyId, outcome: 'success' });
    },
  };
}
