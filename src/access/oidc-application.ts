/**
 * OIDC applications: relying parties of Portico's OpenID provider, beside SAML applications in
 * the access model (same records table, kind 'oidc_application', assigned to AD users and groups
 * the same way). The client id is the record id; a confidential client's secret is shown once
 * at creation (or rotation) and kept only sealed under the instance key.
 */
import { z } from 'zod';
import { USER_ATTRIBUTE_PATHS } from '#src/federation/saml/vocabulary.ts';
import { durationSchema, tagsField, textField, webUrlField } from './model.ts';

export const OIDC_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type OidcGrantType = (typeof OIDC_GRANT_TYPES)[number];

/** Claims an application may map (the standard profile and email claims); `sub` and `groups` are Portico's own. */
export const MAPPABLE_CLAIMS = ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'email', 'locale', 'zoneinfo', 'phone_number'] as const;
export type MappableClaim = (typeof MAPPABLE_CLAIMS)[number];

/** What each claim carries unless the application maps it otherwise. */
export const DEFAULT_CLAIM_MAPPINGS: ReadonlyArray<{ claim: MappableClaim; value: string }> = [
  { claim: 'name', value: '${user:displayName}' },
  { claim: 'given_name', value: '${user:name.givenName}' },
  { claim: 'family_name', value: '${user:name.familyName}' },
  { claim: 'preferred_username', value: '${user:userName}' },
  { claim: 'email', value: '${user:email}' },
];

const claimTemplate = textField('claimMappings.value', 1024, 1).superRefine((value, ctx) => {
  for (const match of value.matchAll(/\$\{([^}]*)\}/g)) {
    const reference = match[1] ?? '';
    const path = reference.startsWith('user:') ? reference.slice(5) : null;
    if (path === null || !(USER_ATTRIBUTE_PATHS as readonly string[]).includes(path) || path === 'groups') {
      ctx.addIssue({ code: 'custom', message: `claimMappings.value: \${${reference.slice(0, 60)}} is not one of the \${user:…} paths (groups go in the groups claim)` });
    }
  }
});

/** Exact redirect URIs: https, or http on loopback (native apps and development). No fragments. */
const redirectUri = (field: string) => webUrlField(field).refine((value) => !value.includes('#'), `${field}: must not contain a fragment`);

export const oidcApplicationFields = {
  name: textField('name', 100, 1),
  description: textField('description', 700).optional(),
  /** confidential: has a secret (client_secret_basic/post); public: PKCE (S256) only, no secret. */
  clientType: z.enum(['confidential', 'public'], { error: 'clientType: confidential or public' }).default('confidential'),
  redirectUris: z.array(redirectUri('redirectUris'), { error: 'redirectUris: must be a list of URLs' }).max(25, 'redirectUris: at most 25').default([]),
  postLogoutRedirectUris: z.array(redirectUri('postLogoutRedirectUris'), { error: 'postLogoutRedirectUris: must be a list of URLs' }).max(25, 'postLogoutRedirectUris: at most 25').default([]),
  grantTypes: z
    .array(z.enum(OIDC_GRANT_TYPES, { error: `grantTypes: each one of ${OIDC_GRANT_TYPES.join(', ')}` }))
    .min(1, 'grantTypes: at least one')
    .default(['authorization_code', 'refresh_token']),
  accessTokenLifetime: durationSchema('accessTokenLifetime', 5, 24 * 60, 'PT1H'),
  idTokenLifetime: durationSchema('idTokenLifetime', 5, 24 * 60, 'PT1H'),
  refreshTokenLifetime: durationSchema('refreshTokenLifetime', 15, 90 * 24 * 60, 'PT336H'),
  /** Overrides of the default claim values, `${user:…}` templates as in SAML attribute mappings. */
  claimMappings: z
    .array(z.strictObject({ claim: z.enum(MAPPABLE_CLAIMS, { error: `claimMappings.claim: one of ${MAPPABLE_CLAIMS.join(', ')}` }), value: claimTemplate }), { error: 'claimMappings: a list of { claim, value }' })
    .max(20, 'claimMappings: at most 20')
    .refine((list) => new Set(list.map((m) => m.claim)).size === list.length, 'claimMappings: a claim is mapped twice')
    .default([]),
  /** The `groups` claim (scope `groups`): the user's AD security groups, nested membership resolved. */
  groupsClaim: z
    .strictObject({
      enabled: z.boolean({ error: 'groupsClaim.enabled: true or false' }).default(true),
      /** Only groups whose name starts with this (case-insensitive), e.g. "App-". */
      prefix: textField('groupsClaim.prefix', 64).optional(),
      /** Only groups the application is assigned to (directly named in one of its assignments). */
      assignedOnly: z.boolean({ error: 'groupsClaim.assignedOnly: true or false' }).default(false),
    })
    .default({ enabled: true, assignedOnly: false }),
  /** How a confidential client authenticates at the token, introspection and revocation endpoints. */
  tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post'], { error: 'tokenEndpointAuthMethod: client_secret_basic or client_secret_post' }).default('client_secret_basic'),
  /** ID tokens are signed ES256 unless the relying party only does RSA. */
  idTokenSigningAlg: z.enum(['ES256', 'RS256'], { error: 'idTokenSigningAlg: ES256 or RS256' }).default('ES256'),
  /** pairwise (default): `sub` differs per application and reveals nothing; public: the same for every application. */
  subjectType: z.enum(['pairwise', 'public'], { error: 'subjectType: pairwise or public' }).default('pairwise'),
  /** Where the portal tile sends the person: the application's own login start (OIDC third-party initiated login). */
  initiateLoginUri: webUrlField('initiateLoginUri').optional(),
  /**
   * OpenID Connect Back-Channel Logout 1.0: where Portico POSTs a signed logout token when the
   * person's Portico session ends (sign-out, revocation, user removed or disabled in AD).
   */
  backchannelLogoutUri: redirectUri('backchannelLogoutUri').optional(),
  /** A disabled application gets no new tokens; its refresh tokens stop working. */
  disabled: z.boolean({ error: 'disabled: true or false' }).default(false),
  tags: tagsField,
};

/** Rules across fields, checked at creation and on the result of every change. */
function consistent(app: { grantTypes: readonly OidcGrantType[]; redirectUris: readonly string[]; clientType: 'confidential' | 'public'; subjectType: 'pairwise' | 'public' }, ctx: z.RefinementCtx): void {
  // Pairwise subjects are computed per sector, the redirect URIs' host: with several hosts
  // oidc-provider needs a sector_identifier_uri, which Portico does not offer (docs/oidc.md).
  const hosts = new Set(app.redirectUris.flatMap((uri) => (URL.canParse(uri) ? [new URL(uri).hostname] : [])));
  if (app.subjectType === 'pairwise' && hosts.size > 1) {
    ctx.addIssue({ code: 'custom', message: `redirectUris: with pairwise subjects they must all be on one host (these are on ${[...hosts].join(', ')}); use subjectType public, or one application per host` });
  }
  if (app.grantTypes.includes('authorization_code') && app.redirectUris.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'redirectUris: at least one for the authorization_code grant' });
  }
  if (app.clientType === 'public' && app.grantTypes.includes('client_credentials')) {
    ctx.addIssue({ code: 'custom', message: 'grantTypes: client_credentials needs a confidential client (a public client has no secret)' });
  }
  if (app.grantTypes.includes('refresh_token') && !app.grantTypes.includes('authorization_code')) {
    ctx.addIssue({ code: 'custom', message: 'grantTypes: refresh_token comes with authorization_code' });
  }
}

export const oidcApplicationInput = z.strictObject(oidcApplicationFields).superRefine(consistent);

/** What is stored: the input plus the sealed secret (confidential clients). */
export const oidcApplicationRecord = z.strictObject({ ...oidcApplicationFields, clientSecretSealed: z.string().optional() }).superRefine(consistent);

/** Optional fields a PATCH clears with null (absent means "leave as it is"). */
export const CLEARABLE_FIELDS = ['description', 'initiateLoginUri', 'backchannelLogoutUri'] as const;

export const oidcApplicationUpdate = z
  .strictObject(oidcApplicationFields)
  .omit({ name: true, clientType: true })
  .partial()
  .extend({
    description: oidcApplicationFields.description.unwrap().nullable().optional(),
    initiateLoginUri: oidcApplicationFields.initiateLoginUri.unwrap().nullable().optional(),
    backchannelLogoutUri: oidcApplicationFields.backchannelLogoutUri.unwrap().nullable().optional(),
  });

/** A parsed PATCH with its nulls turned into "remove this field" (undefined, which JSON storage drops). */
export function clearingNulls(patch: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...patch };
  for (const field of CLEARABLE_FIELDS) if (result[field] === null) result[field] = undefined;
  return result;
}

export type OidcApplicationInput = z.input<typeof oidcApplicationInput>;
/** An application as the admin API shows it (never the secret). `id` is the client_id. */
export type OidcApplication = z.output<typeof oidcApplicationInput> & { id: string };
export type StoredOidcApplication = OidcApplication & { clientSecretSealed?: string | undefined };

export function withoutSecret(app: StoredOidcApplication): OidcApplication {
  const rest: StoredOidcApplication = { ...app };
  delete rest.clientSecretSealed;
  return rest;
}
