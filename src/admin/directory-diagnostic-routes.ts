/**
 * Read-only diagnostics of the identity source this server runs on (/admin/api/directory/…):
 * what `portico directory check|find-user|groups-of` call when the source is the managed
 * directory (with its trusted forests) or a domain connected at run time. They read through the
 * server's own connector, so they show what sign-in sees.
 */
import { z } from 'zod';
import { groupResolutionMethods } from '#src/directory/options.ts';
import type { ForestCheck } from '#src/directory/trust.ts';
import type { DirectoryConnector } from '#src/directory/types.ts';
import { AppError } from '#src/shared/errors.ts';
import { route, type ApiRoute } from './api-route.ts';

const TAG = 'directory';

export function directoryDiagnosticRoutes(deps: { directory: () => DirectoryConnector; managed: () => boolean }): ApiRoute[] {
  const userParams = z.strictObject({ name: z.string().min(1).max(1024).describe('UPN, DOMAIN\\name, sAMAccountName, DN or objectGUID') });
  const findUser = async (name: string) => {
    const connector = deps.directory();
    const user = /^[0-9a-f-]{36}$/i.test(name) ? await connector.findUserByGuid(name) : await connector.findUser(name);
    if (!user) throw new AppError('directory.user_not_found', `no user matches "${name.slice(0, 200)}"`, { status: 404 });
    return user;
  };
  return [
    route({
      method: 'GET', path: '/directory/check', operationId: 'checkDirectory', tag: TAG, summary: "Validate the identity source now: the domain discovered from its rootDSE, the verdict, the controllers and, for the managed directory, its trusted forests",
      response: z.looseObject({ managed: z.boolean(), verdict: z.looseObject({ accepted: z.boolean(), reason: z.string() }), canReadUsers: z.boolean().nullable(), trusts: z.array(z.object({ domain: z.string(), ok: z.boolean(), reason: z.string() })) }),
      handler: async () => {
        const check = await deps.directory().check();
        const managed = deps.managed();
        const trusts = 'trusts' in check ? (check as ForestCheck).trusts : [];
        return { ...check, managed, canReadUsers: managed || check.verdict.accepted ? check.canReadUsers : null, trusts: trusts.map(({ domain, ok, reason }) => ({ domain, ok, reason })) };
      },
    }),
    route({
      method: 'GET', path: '/directory/users/{name}', operationId: 'findDirectoryUser', tag: TAG, summary: 'A user as Portico reads it from the identity source: identifiers, account state and attributes',
      params: userParams,
      response: z.looseObject({ guid: z.string(), sid: z.string(), dn: z.string(), account: z.looseObject({ state: z.string() }) }),
      handler: ({ params }) => findUser(params.name),
    }),
    route({
      method: 'GET', path: '/directory/users/{name}/groups', operationId: 'directoryGroupsOf', tag: TAG, summary: "A user's security groups, transitively (nested groups and the primary group included), by the chosen method",
      params: userParams,
      query: z.strictObject({ method: z.enum(groupResolutionMethods).optional().describe('tokenGroups by default; matchingRuleInChain is a slow diagnostic') }),
      response: z.object({ user: z.object({ guid: z.string(), userPrincipalName: z.string().nullable() }), method: z.string(), groups: z.array(z.looseObject({ guid: z.string(), qualifiedName: z.string(), kind: z.string(), scope: z.string() })), warnings: z.array(z.string()), elapsedMs: z.number() }),
      handler: async ({ params, query }) => {
        const user = await findUser(params.name);
        const started = performance.now();
        const result = await deps.directory().groupsOf(user, query.method);
        return { user: { guid: user.guid, userPrincipalName: user.userPrincipalName }, ...result, elapsedMs: Math.round(performance.now() - started) };
      },
    }),
  ];
}
