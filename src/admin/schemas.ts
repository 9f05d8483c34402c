/** Response shapes of the admin API (for the OpenAPI document; requests reuse the access model's schemas). */
import { z } from 'zod';
import { accountInput, applicationInput, permissionSetInput } from '#src/access/model.ts';

export const errorResponse = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).meta({ id: 'Error' });

export const account = accountInput.meta({ id: 'Account' });
export const permissionSet = permissionSetInput.extend({ id: z.string() }).meta({ id: 'PermissionSet' });
export const application = applicationInput.extend({ id: z.string() }).meta({ id: 'Application' });

const principal = z.object({ type: z.enum(['user', 'group']), guid: z.string(), name: z.string() });
const target = z.union([
  z.object({ type: z.literal('account'), accountId: z.string(), permissionSetId: z.string() }),
  z.object({ type: z.literal('application'), applicationId: z.string() }),
]);
export const assignment = z.object({ id: z.string(), principal, target, createdAt: z.string() }).meta({ id: 'Assignment' });

const grant = z
  .union([
    z.object({ type: z.literal('user') }),
    z.object({ type: z.literal('group'), guid: z.string(), name: z.string(), path: z.array(z.string()).describe("from the user's own group up to the assigned group") }),
  ])
  .meta({ id: 'Grant' });
const entry = z.object({ id: z.string(), name: z.string() });

export const entitlements = z
  .object({
    accounts: z.array(z.object({ account: entry, permissionSets: z.array(z.object({ permissionSet: entry, grants: z.array(grant) })) })),
    applications: z.array(z.object({ application: entry, grants: z.array(grant) })),
    groupsTruncated: z.boolean(),
  })
  .meta({ id: 'Entitlements' });

export const userAccess = z
  .object({
    user: z.object({ guid: z.string(), userName: z.string(), displayName: z.string().nullable() }),
    groups: z.array(z.object({ guid: z.string(), qualifiedName: z.string(), path: z.array(z.string()) })),
    entitlements,
  })
  .meta({ id: 'UserAccess' });

export const whoCanReach = z
  .object({
    users: z.array(
      z.object({
        guid: z.string(),
        userName: z.string().nullable(),
        displayName: z.string().nullable(),
        grants: z.array(z.object({ permissionSet: entry.nullable(), grant })),
      }),
    ),
    truncated: z.boolean().describe('the list is incomplete: groupsTruncated, or unnamedUsers > 0'),
    groupsTruncated: z.boolean().describe('a group had more nested groups than are evaluated: some users may be missing'),
    unnamedUsers: z.number().int().describe('users listed by objectGUID only (userName null): names are looked up for the first 500'),
  })
  .meta({ id: 'WhoCanReach' });

export const identityUser = z
  .looseObject({
    userId: z.string(),
    userName: z.string(),
    displayName: z.string().nullable(),
    emails: z.array(z.object({ value: z.string() })),
    activeDirectory: z.object({ windowsUpn: z.string(), domain: z.string(), guid: z.string(), sid: z.string() }),
    attributes: z.record(z.string(), z.string()),
    createdAt: z.string(),
    provisionedAt: z.string(),
  })
  .meta({ id: 'User' });

export const auditEvent = z
  .object({
    id: z.string(),
    occurredAt: z.string(),
    actor: z.string(),
    action: z.string(),
    target: z.string().nullable(),
    outcome: z.enum(['success', 'failure']),
    errorCode: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEvent' });

export const directoryPrincipal = z
  .object({
    type: z.enum(['user', 'group']),
    guid: z.string(),
    name: z.string().describe('UPN for users, name@domain for groups'),
    displayName: z.string().nullable(),
    mail: z.string().nullable(),
    grantsAccess: z.boolean().describe('false for distribution groups: they carry no access in AD and cannot be assigned'),
    groupKind: z.enum(['security', 'distribution']).nullable().describe('null for users'),
  })
  .meta({ id: 'DirectoryPrincipal' });

export const mappingExplanation = z.object({
  target: z.string(),
  template: z.string(),
  value: z.string().nullable(),
  error: z.string().nullable(),
  sources: z.array(z.object({ placeholder: z.string(), attribute: z.string().nullable().describe('null when the quoted default gave the value'), value: z.string() })).describe('where the value came from'),
});

export const mappingCheckReport = z
  .object({
    isDefault: z.boolean(),
    limit: z.number().int(),
    sampled: z.number().int().describe('users read from the directory'),
    more: z.boolean().describe('the directory has more users than the sample'),
    disabled: z.number().int().describe('disabled accounts of the sample, not counted'),
    checked: z.number().int(),
    refusedUsers: z.number().int().describe('users at least one mapping refuses'),
    mappings: z.array(
      z.object({
        target: z.string(),
        template: z.string(),
        refused: z.number().int(),
        problems: z.array(
          z.object({
            reason: z.enum(['empty', 'tooLong']),
            attributes: z.array(z.string()),
            description: z.string(),
            users: z.number().int(),
            examples: z.array(z.string()).describe('a few of those users, by UPN'),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'MappingCheckReport' });
