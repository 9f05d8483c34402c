/**
 * The admin API of the identity source (/admin/api/identity-source): what `portico
 * identity-source show|validate|connect` calls, through the one identity-source service
 * (identity-source/identity-source-admin.ts). A service account's password arrives in the body
 * of a PUT and is stored sealed; it is never answered, logged or audited.
 */
import { z } from 'zod';
import { directoryConnectionOptionsSchema } from '#src/directory/options.ts';
import type { IdentitySourceAdmin } from '#src/identity-source/identity-source-admin.ts';
import { defaultCheckLimit, maxCheckLimit } from '#src/identity-store/mapping-check.ts';
import { AppError } from '#src/shared/errors.ts';
import { route, type ApiRoute } from './api-route.ts';
import * as schemas from './schemas.ts';

const TAG = 'identity source';

const summary = {
  kind: z.enum(['managed', 'connector']),
  origin: z.enum(['config', 'stored']).optional().describe('connector only: the configuration file, or connected at run time'),
  domain: z.string().optional(),
  urls: z.array(z.string()).optional(),
  serviceAccount: z.string().optional().describe('its user name (never its password)'),
  allowSamba: z.boolean().optional(),
  allowPlainLdap: z.boolean().optional(),
};
const verdict = z.object({ accepted: z.boolean(), kind: z.string(), reason: z.string(), warnings: z.array(z.string()) }).loose();

export function identitySourceRoutes(deps: { identitySource: () => IdentitySourceAdmin }): ApiRoute[] {
  return [
    route({
      method: 'GET', path: '/identity-source', operationId: 'getIdentitySource', tag: TAG, summary: 'The identity source (stored or configured; a change applies after a restart) and how many users it provisioned',
      response: z.object({ ...summary, provisionedUsers: z.number().int() }),
      handler: () => deps.identitySource().show(),
    }),
    route({
      method: 'POST', path: '/identity-source/validate', operationId: 'validateIdentitySource', tag: TAG, summary: 'Connect to the identity source and run the directory validation (Simple AD / Samba4 is refused)',
      response: z.object({ ...summary, accepted: z.boolean(), verdict, canReadUsers: z.boolean(), controllers: z.array(z.object({ url: z.string(), up: z.boolean(), lastError: z.string().nullable().optional() }).loose()) }),
      handler: () => deps.identitySource().validate(),
    }),
    route({
      method: 'PUT', path: '/identity-source', operationId: 'changeIdentitySource', tag: TAG,
      summary: 'Connect a self-managed AD domain (validated first) or go back to the managed directory; deletes every provisioned user unless the source stays the same, so it needs confirmDeletion while any exist (409). Restart Portico to use it',
      body: z.strictObject({
        to: z.discriminatedUnion('kind', [
          z.strictObject({ kind: z.literal('managed') }),
          z.strictObject({ kind: z.literal('connector'), connection: z.record(z.string(), z.unknown()).describe('the `directory` section of the configuration, the service account password included') }),
        ]),
        confirmDeletion: z.boolean().default(false),
        mappingCheck: z.strictObject({ limit: z.number().int().min(1).max(maxCheckLimit).default(defaultCheckLimit) }).nullable().default({ limit: defaultCheckLimit }).describe('check the mappings against the new source (null: do not)'),
      }),
      response: z.object({
        identitySource: z.object({ kind: z.enum(['managed', 'connector']), domain: z.string().optional() }),
        changed: z.boolean().describe('false when the source stays the same domain (its settings were updated)'),
        deletedUsers: z.number().int(),
        from: z.string(),
        verdict: verdict.nullable(),
        mappingCheck: z.union([schemas.mappingCheckReport, z.object({ error: z.object({ code: z.string(), message: z.string() }) })]).nullable(),
      }),
      handler: async ({ body, admin }) => {
        let to: Parameters<IdentitySourceAdmin['change']>[0];
        if (body.to.kind === 'managed') to = { kind: 'managed' };
        else {
          const parsed = directoryConnectionOptionsSchema.safeParse(body.to.connection);
          if (!parsed.success) {
            const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
            throw new AppError('api.invalid_request', `invalid connection: ${problems}`, { status: 400 });
          }
          to = { kind: 'connector', options: parsed.data };
        }
        return deps.identitySource().change(to, { confirmDeletion: body.confirmDeletion, mappingCheckLimit: body.mappingCheck?.limit ?? null, actor: admin.actor });
      },
    }),
  ];
}
