/**
 * The administration of the OpenID provider (the admin API, and so the CLI and the console,
 * call these): OIDC applications with their client secret — generated here, shown once, kept
 * only sealed under the instance key — and the rotation of the signing keys. Audited.
 */
import { randomBytes } from 'node:crypto';
import type { AccessService } from '#src/access/access-service.ts';
import { withoutSecret, type OidcApplication, type StoredOidcApplication } from '#src/access/oidc-application.ts';
import type { AuditLog } from '#src/audit/index.ts';
import type { SecretBox } from '#src/secrets/index.ts';
import type { OidcKeyView, OidcSigningKeys } from './keys.ts';

export interface OidcEndpoints {
  issuer: string;
  discoveryUrl: string;
  jwksUri: string;
}

export interface OidcAdministrationOptions {
  access: Pick<AccessService, 'listOidcApplications' | 'getOidcApplication' | 'createOidcApplication' | 'updateOidcApplication' | 'replaceOidcSecret' | 'deleteOidcApplication'>;
  box: SecretBox;
  keys: OidcSigningKeys;
  audit: AuditLog;
  /** The provider picks up new keys. */
  keysChanged: () => void;
  endpoints: () => OidcEndpoints;
  clock?: () => Date;
}

const sealContext = (clientId: string) => `oidc-client-secret:${clientId}`;
const newSecret = () => randomBytes(32).toString('base64url');

/** Opens a confidential client's secret (for the provider). */
export function openClientSecret(box: SecretBox, app: StoredOidcApplication): string {
  if (app.clientSecretSealed === undefined) throw new Error(`the OIDC application ${app.id} has no secret`);
  return box.open(app.clientSecretSealed, sealContext(app.id));
}

export type OidcAdministration = ReturnType<typeof createOidcAdministration>;

export function createOidcAdministration(options: OidcAdministrationOptions) {
  const { access, box, keys, audit, clock = () => new Date() } = options;

  async function changeKeys(actor: string, action: 'oidc.key.staged' | 'oidc.key.activated' | 'oidc.key.retired', change: () => Promise<OidcKeyView[]>): Promise<OidcKeyView[]> {
    const list = await change();
    options.keysChanged();
    await audit.record({ actor, action, target: null, outcome: 'success', details: { keys: list.map((k) => ({ kid: k.kid, alg: k.alg, state: k.state })) } });
    return list;
  }

  return {
    endpoints: () => options.endpoints(),
    list: async (): Promise<OidcApplication[]> => (await access.listOidcApplications()).map(withoutSecret),
    get: async (id: string): Promise<OidcApplication> => withoutSecret(await access.getOidcApplication(id)),
    /** The secret is in this answer only. */
    async create(input: unknown, actor: string): Promise<{ application: OidcApplication; clientSecret: string | null }> {
      let secret: string | null = null;
      const created = await access.createOidcApplication(input, actor, (clientId) => box.seal((secret = newSecret()), sealContext(clientId)));
      return { application: withoutSecret(created), clientSecret: secret };
    },
    update: async (id: string, patch: unknown, actor: string): Promise<OidcApplication> => withoutSecret(await access.updateOidcApplication(id, patch, actor)),
    delete: (id: string, actor: string) => access.deleteOidcApplication(id, actor),
    /** A new secret; the old one stops working at once. */
    async rotateSecret(id: string, actor: string): Promise<{ clientSecret: string }> {
      const secret = newSecret();
      await access.replaceOidcSecret(id, actor, (clientId) => box.seal(secret, sealContext(clientId)));
      await audit.record({ actor, action: 'oidc.application.secret_rotated', target: id, outcome: 'success' });
      return { clientSecret: secret };
    },
    keys: () => keys.list(),
    stageKeys: (actor: string) => changeKeys(actor, 'oidc.key.staged', () => keys.stage(clock())),
    activateKeys: (actor: string) => changeKeys(actor, 'oidc.key.activated', () => keys.activate(clock())),
    retireKeys: (actor: string) => changeKeys(actor, 'oidc.key.retired', () => keys.retire(clock())),
  };
}
