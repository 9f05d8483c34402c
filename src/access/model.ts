/**
 * The access model: cloud accounts, permission sets, SAML applications and the assignments that
 * grant AD users and groups access to them. Schemas are the single source of validation for the
 * admin API, the CLI and the console (the OpenAPI document is generated from them); every
 * message names the field and the rule, as Identity Center's do.
 */
import { z } from 'zod';
import { NAME_ID_FORMATS, USER_ATTRIBUTE_PATHS, type NameIdFormat } from '#src/federation/saml/vocabulary.ts';
import { durationMinutes } from '#src/shared/duration.ts';

/** Re-exported for callers that read durations alongside the model. */
export { durationMinutes };

/** Identity Center's quotas. */
export const LIMITS = {
  permissionSets: 3500,
  /** Accounts and applications together. */
  accountsAndApplications: 3000,
  groupsPerUser: 1000,
  managedPolicies: 20,
  customerManagedPolicies: 20,
  tags: 50,
  inlinePolicyBytes: 32_768,
} as const;

const NAME_CHARS = /^[\w+=,.@-]+$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Control characters never belong in names, descriptions or relay states.
// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;

const text = (field: string, max: number, min = 0) =>
  z
    .string({ error: `${field}: must be a string` })
    .min(min, min === 1 ? `${field}: required` : `${field}: at least ${min} characters`)
    .max(max, `${field}: at most ${max} characters`)
    .regex(NO_CONTROL, `${field}: must not contain control characters`);

const tags = z
  .record(text('tags key', 128, 1), text('tags value', 256), { error: 'tags: must be an object of strings' })
  .refine((value) => Object.keys(value).length <= LIMITS.tags, `tags: at most ${LIMITS.tags}`)
  .default({});

/** `http:` only for loopback addresses (development service providers); otherwise https. */
function webUrl(field: string) {
  return z.string({ error: `${field}: must be a string` }).max(2048, `${field}: at most 2048 characters`).superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${field}: "${value.slice(0, 100)}" is not an absolute URL` });
      return;
    }
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) || url.hostname.startsWith('127.');
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      ctx.addIssue({ code: 'custom', message: `${field}: must be an https URL (http only for loopback)` });
    }
  });
}

/** ISO-8601 duration in hours and minutes (PT1H, PT8H30M, PT90M), bounded. */
export function durationSchema(field: string, minMinutes: number, maxMinutes: number, fallback: string) {
  return z
    .string({ error: `${field}: must be an ISO-8601 duration such as PT1H` })
    .default(fallback)
    .superRefine((value, ctx) => {
      const minutes = durationMinutes(value);
      if (minutes === null) ctx.addIssue({ code: 'custom', message: `${field}: "${value.slice(0, 40)}" is not an ISO-8601 duration in hours and minutes (e.g. PT1H, PT8H30M)` });
      else if (minutes < minMinutes || minutes > maxMinutes) ctx.addIssue({ code: 'custom', message: `${field}: must be between ${formatMinutes(minMinutes)} and ${formatMinutes(maxMinutes)}` });
    });
}


const formatMinutes = (minutes: number): string => (minutes % 60 === 0 ? `PT${minutes / 60}H` : `PT${minutes}M`);

// ---- accounts -------------------------------------------------------------------------------

export const accountInput = z.strictObject({
  id: z.string({ error: 'id: required, 12 digits' }).regex(/^\d{12}$/, 'id: an AWS account id is exactly 12 digits'),
  name: text('name', 50, 1),
  email: z.email({ error: 'email: must be an email address' }).max(254, 'email: at most 254 characters'),
  organizationalUnit: text('organizationalUnit', 128).optional(),
  /** Where the console assertion is posted; AWS's sign-in endpoint when absent. */
  signInUrl: webUrl('signInUrl').optional(),
  tags,
});
export type AccountInput = z.input<typeof accountInput>;
export type Account = z.output<typeof accountInput>;

export const accountUpdate = accountInput.omit({ id: true }).partial();

// ---- permission sets ------------------------------------------------------------------------

const managedPolicyArn = z
  .string({ error: 'managedPolicies: each must be a string' })
  .regex(/^arn:aws[a-z-]*:iam::aws:policy\/[\w+=,.@/-]{1,512}$/, 'managedPolicies: each must be an AWS managed policy ARN (arn:aws:iam::aws:policy/…)');

const customerManagedPolicy = z.strictObject({
  name: text('customerManagedPolicies.name', 128, 1).regex(NAME_CHARS, 'customerManagedPolicies.name: only letters, digits and +=,.@_-'),
  path: z
    .string()
    .max(512, 'customerManagedPolicies.path: at most 512 characters')
    .regex(/^\/(?:[\w+=,.@-]+\/)*$/, 'customerManagedPolicies.path: must start and end with "/"')
    .default('/'),
});

const inlinePolicy = z
  .string({ error: 'inlinePolicy: must be a string holding a JSON policy document' })
  .superRefine((value, ctx) => {
    if (Buffer.byteLength(value, 'utf8') > LIMITS.inlinePolicyBytes) {
      ctx.addIssue({ code: 'custom', message: `inlinePolicy: at most ${LIMITS.inlinePolicyBytes} bytes` });
      return;
    }
    let document: unknown;
    try {
      document = JSON.parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `inlinePolicy: not valid JSON (${error instanceof Error ? error.message.slice(0, 120) : 'parse error'})` });
      return;
    }
    const problem = policyDocumentProblem(document);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: `inlinePolicy: ${problem}` });
  });

/** The shape IAM requires of a policy document; IAM itself validates the actions and resources. */
function policyDocumentProblem(document: unknown): string | null {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return 'must be a JSON object';
  const { Version, Statement } = document as Record<string, unknown>;
  if (Version !== undefined && Version !== '2012-10-17' && Version !== '2008-10-17') return 'Version must be "2012-10-17"';
  const statements = Array.isArray(Statement) ? Statement : Statement === undefined ? null : [Statement];
  if (statements === null || statements.length === 0) return 'must have at least one Statement';
  for (const [index, statement] of statements.entries()) {
    if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) return `Statement[${index}] must be an object`;
    const { Effect } = statement as Record<string, unknown>;
    if (Effect !== 'Allow' && Effect !== 'Deny') return `Statement[${index}].Effect must be "Allow" or "Deny"`;
  }
  return null;
}

const permissionsBoundary = z.union(
  [z.strictObject({ managedPolicyArn }), z.strictObject({ customerManagedPolicy })],
  { error: 'permissionsBoundary: either { managedPolicyArn } or { customerManagedPolicy: { name, path } }' },
);

export const permissionSetInput = z.strictObject({
  name: text('name', 32, 1).regex(NAME_CHARS, 'name: only letters, digits and +=,.@_- (1–32 characters)'),
  description: text('description', 700).optional(),
  sessionDuration: durationSchema('sessionDuration', 60, 12 * 60, 'PT1H'),
  relayState: text('relayState', 240).optional(),
  managedPolicies: z
    .array(managedPolicyArn, { error: 'managedPolicies: must be a list of ARNs' })
    .max(LIMITS.managedPolicies, `managedPolicies: at most ${LIMITS.managedPolicies}`)
    .refine((arns) => new Set(arns).size === arns.length, 'managedPolicies: listed twice')
    .default([]),
  inlinePolicy: inlinePolicy.optional(),
  customerManagedPolicies: z
    .array(customerManagedPolicy, { error: 'customerManagedPolicies: must be a list of { name, path }' })
    .max(LIMITS.customerManagedPolicies, `customerManagedPolicies: at most ${LIMITS.customerManagedPolicies}`)
    .default([]),
  permissionsBoundary: permissionsBoundary.optional(),
  tags,
});
export type PermissionSetInput = z.input<typeof permissionSetInput>;
export type PermissionSet = z.output<typeof permissionSetInput> & { id: string };

export const permissionSetUpdate = permissionSetInput.omit({ name: true }).partial();

// ---- applications ---------------------------------------------------------------------------


const attributeValue = text('attributeMappings.value', 1024, 1).superRefine((value, ctx) => {
  for (const match of value.matchAll(/\$\{([^}]*)\}/g)) {
    const reference = match[1] ?? '';
    const path = reference.startsWith('user:') ? reference.slice(5) : null;
    if (path === null || !(USER_ATTRIBUTE_PATHS as readonly string[]).includes(path)) {
      ctx.addIssue({ code: 'custom', message: `attributeMappings.value: \${${reference.slice(0, 60)}} at position ${match.index + 1} is not one of ${USER_ATTRIBUTE_PATHS.map((p) => `\${user:${p}}`).join(', ')}` });
    }
  }
});

const certificate = (field: string) =>
  z
    .string({ error: `${field}: must be a base64 DER or PEM certificate` })
    .max(16_384, `${field}: at most 16384 characters`)
    .transform((value) => value.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''))
    .refine((value) => /^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.length >= 64, `${field}: not a base64 certificate`);

export const applicationInput = z.strictObject({
  name: text('name', 100, 1),
  description: text('description', 700).optional(),
  /** The SP's entity ID: the audience of its assertions. */
  entityId: text('entityId', 1024, 1),
  acsUrls: z.array(webUrl('acsUrls'), { error: 'acsUrls: must be a list of URLs' }).min(1, 'acsUrls: at least one').max(25, 'acsUrls: at most 25'),
  nameIdFormat: z.enum(Object.keys(NAME_ID_FORMATS) as [NameIdFormat, ...NameIdFormat[]], { error: `nameIdFormat: one of ${Object.keys(NAME_ID_FORMATS).join(', ')}` }).default('persistent'),
  startUrl: webUrl('startUrl').optional(),
  relayState: text('relayState', 240).optional(),
  sessionDuration: durationSchema('sessionDuration', 15, 12 * 60, 'PT1H'),
  attributeMappings: z
    .array(
      z.strictObject({
        name: text('attributeMappings.name', 256, 1),
        value: attributeValue,
        format: z.enum(['unspecified', 'uri', 'basic'], { error: 'attributeMappings.format: one of unspecified, uri, basic' }).default('unspecified'),
      }),
      { error: 'attributeMappings: must be a list of { name, value, format }' },
    )
    .max(50, 'attributeMappings: at most 50')
    .refine((list) => new Set(list.map((m) => m.name)).size === list.length, 'attributeMappings: an attribute name is mapped twice')
    .default([]),
  /** The SP's signing certificate: when set, AuthnRequests must be signed with it. */
  signingCertificate: certificate('signingCertificate').optional(),
  /** The SP's encryption certificate: when set, assertions are encrypted for it. */
  encryptionCertificate: certificate('encryptionCertificate').optional(),
  /** Sign the Response as well as the assertion (some service providers require it; it costs a second signature). */
  signResponse: z.boolean({ error: 'signResponse: true or false' }).default(false),
  /** The SP's SingleLogoutService (HTTP-Redirect): where the LogoutResponse to its LogoutRequest goes. */
  logoutUrl: webUrl('logoutUrl').optional(),
  tags,
});
export type ApplicationInput = z.input<typeof applicationInput>;
export type Application = z.output<typeof applicationInput> & { id: string };

export const applicationUpdate = applicationInput.omit({ name: true }).partial();

// ---- assignments ----------------------------------------------------------------------------

export const principalRef = z.strictObject({
  type: z.enum(['user', 'group'], { error: 'principal.type: "user" or "group"' }),
  /** objectGUID, or a name the directory resolves: UPN / DOMAIN\name for users, name@domain for groups. */
  id: text('principal.id', 1024, 1),
});

export const assignmentTarget = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('account'), accountId: text('target.accountId', 64, 1), permissionSetId: text('target.permissionSetId', 64, 1) }),
    z.strictObject({ type: z.literal('application'), applicationId: text('target.applicationId', 64, 1) }),
  ],
  { error: 'target: { type: "account", accountId, permissionSetId } or { type: "application", applicationId }' },
);
export type AssignmentTarget = z.output<typeof assignmentTarget>;

export const assignmentInput = z.strictObject({ principal: principalRef, target: assignmentTarget });

export interface Principal {
  type: 'user' | 'group';
  /** objectGUID. */
  guid: string;
  /** UPN for users, `name@domain` for groups, as the directory named it when assigned. */
  name: string;
}

export interface Assignment {
  id: string;
  principal: Principal;
  target: AssignmentTarget;
  createdAt: string;
}

export const isGuid = (value: string): boolean => GUID.test(value.toLowerCase());

/** The key that makes an assignment unique for a principal. */
export function targetKey(target: AssignmentTarget): string {
  return target.type === 'account' ? `account:${target.accountId}:${target.permissionSetId}` : `application:${target.applicationId}`;
}

/** Field schemas shared with the OIDC application model (oidc-application.ts). */
export { text as textField, webUrl as webUrlField, tags as tagsField };
