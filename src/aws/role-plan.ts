/**
 * The IAM role a permission set becomes in one account, and the fewest IAM calls that bring an
 * existing role there. Pure: the provisioner reads the role, asks for a plan, and runs it.
 *
 * Compare before writing: every write is planned only when what IAM holds differs from what
 * the permission set says (policy documents compared as canonical JSON, lists as sets).
 */
import { createHash } from 'node:crypto';
import type { PermissionSet } from '#src/access/model.ts';
import { durationMinutes } from '#src/shared/duration.ts';

/** The tag that marks a role (or SAML provider) as Portico's: without it, Portico never touches it. */
export const MANAGED_TAG = 'portico:managed';
export const PERMISSION_SET_TAG = 'portico:permission-set';
/** The one inline policy Portico writes on its roles. */
export const INLINE_POLICY_NAME = 'PorticoInlinePolicy';

export interface DesiredRole {
  name: string;
  /** The reserved path, e.g. `/portico/`. */
  path: string;
  arn: string;
  description: string;
  trustPolicy: Record<string, unknown>;
  maxSessionDuration: number;
  /** AWS managed and customer managed policy ARNs, sorted. */
  attachedPolicyArns: string[];
  /** Inline policy documents by name. */
  inlinePolicies: Record<string, Record<string, unknown>>;
  boundaryArn: string | null;
  tags: Record<string, string>;
}

export interface ObservedRole {
  path: string;
  arn: string;
  description: string | null;
  trustPolicy: Record<string, unknown>;
  maxSessionDuration: number;
  attachedPolicyArns: string[];
  inlinePolicies: Record<string, Record<string, unknown>>;
  boundaryArn: string | null;
  tags: Record<string, string>;
}

export type RoleStep =
  | { op: 'createRole' }
  | { op: 'updateAssumeRolePolicy' }
  | { op: 'updateRole' }
  | { op: 'attachPolicy'; arn: string }
  | { op: 'detachPolicy'; arn: string }
  | { op: 'putInlinePolicy'; name: string }
  | { op: 'deleteInlinePolicy'; name: string }
  | { op: 'putBoundary' }
  | { op: 'deleteBoundary' }
  | { op: 'tagRole' };

export interface RoleTarget {
  accountId: string;
  /** `arn:aws:iam::<account>:saml-provider/<name>`. */
  providerArn: string;
  /** The SAML:aud the trust policy requires: where assertions for this account are posted. */
  audience: string;
  /** Reserved path, `/portico/` by default; a path in the configured role name goes below it. */
  rolePath: string;
  /** The configured role name with `{permissionSet}` and `{accountId}` replaced (may hold a path). */
  roleName: string;
}

/** Splits `sso/ReadOnly` under `/portico/` into path `/portico/sso/` and name `ReadOnly`. */
export function rolePathAndName(rolePath: string, roleName: string): { path: string; name: string } {
  const segments = roleName.split('/').filter((segment) => segment !== '');
  const name = segments.pop() ?? roleName;
  return { path: `${rolePath}${segments.map((s) => `${s}/`).join('')}`, name };
}

export function desiredRole(permissionSet: PermissionSet, target: RoleTarget): DesiredRole {
  const { path, name } = rolePathAndName(target.rolePath, target.roleName);
  const customerArn = (policy: { name: string; path: string }) => `arn:aws:iam::${target.accountId}:policy${policy.path}${policy.name}`;
  const boundary = permissionSet.permissionsBoundary;
  return {
    name,
    path,
    arn: `arn:aws:iam::${target.accountId}:role${path}${name}`,
    description: `Portico permission set ${permissionSet.name}`.slice(0, 1000),
    trustPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: target.providerArn },
          // TagSession: the attributes for access control arrive as session tags.
          Action: ['sts:AssumeRoleWithSAML', 'sts:TagSession'],
          Condition: { StringEquals: { 'SAML:aud': target.audience } },
        },
      ],
    },
    maxSessionDuration: (durationMinutes(permissionSet.sessionDuration) ?? 60) * 60,
    attachedPolicyArns: [...new Set([...permissionSet.managedPolicies, ...permissionSet.customerManagedPolicies.map(customerArn)])].sort(),
    inlinePolicies: permissionSet.inlinePolicy === undefined ? {} : { [INLINE_POLICY_NAME]: JSON.parse(permissionSet.inlinePolicy) as Record<string, unknown> },
    boundaryArn: boundary === undefined ? null : 'managedPolicyArn' in boundary ? boundary.managedPolicyArn : customerArn(boundary.customerManagedPolicy),
    tags: { [MANAGED_TAG]: 'true', [PERMISSION_SET_TAG]: permissionSet.id },
  };
}

/** Digest of what the role should be: equal digests mean nothing to write since the last success. */
export function roleDigest(role: DesiredRole): string {
  return createHash('sha256').update(canonicalJson(role)).digest('base64url').slice(0, 32);
}

/**
 * Whether Portico may change or delete an existing role: under its reserved path and tagged as
 * its own. Anything else was made by someone else and is left alone.
 */
export function isPorticoRole(observed: Pick<ObservedRole, 'path' | 'tags'>, rolePath: string): boolean {
  return observed.path.startsWith(rolePath) && observed.tags[MANAGED_TAG] === 'true';
}

/** The calls that turn `observed` (null: no such role) into `desired`, in an order IAM accepts. */
export function planRole(desired: DesiredRole, observed: ObservedRole | null): RoleStep[] {
  if (observed === null) {
    // CreateRole carries the trust policy, duration, description, boundary and tags.
    return [
      { op: 'createRole' },
      ...desired.attachedPolicyArns.map((arn) => ({ op: 'attachPolicy' as const, arn })),
      ...Object.keys(desired.inlinePolicies).sort().map((name) => ({ op: 'putInlinePolicy' as const, name })),
    ];
  }
  const steps: RoleStep[] = [];
  if (!sameJson(desired.trustPolicy, observed.trustPolicy)) steps.push({ op: 'updateAssumeRolePolicy' });
  if (desired.maxSessionDuration !== observed.maxSessionDuration || desired.description !== (observed.description ?? '')) steps.push({ op: 'updateRole' });
  if (Object.entries(desired.tags).some(([key, value]) => observed.tags[key] !== value)) steps.push({ op: 'tagRole' });
  const attached = new Set(observed.attachedPolicyArns);
  const wanted = new Set(desired.attachedPolicyArns);
  for (const arn of [...attached].sort()) if (!wanted.has(arn)) steps.push({ op: 'detachPolicy', arn });
  for (const arn of desired.attachedPolicyArns) if (!attached.has(arn)) steps.push({ op: 'attachPolicy', arn });
  for (const name of Object.keys(observed.inlinePolicies).sort()) if (!(name in desired.inlinePolicies)) steps.push({ op: 'deleteInlinePolicy', name });
  for (const [name, document] of Object.entries(desired.inlinePolicies).sort(([a], [b]) => a.localeCompare(b))) {
    const current = observed.inlinePolicies[name];
    if (current === undefined || !sameJson(document, current)) steps.push({ op: 'putInlinePolicy', name });
  }
  if (desired.boundaryArn !== observed.boundaryArn) steps.push(desired.boundaryArn === null ? { op: 'deleteBoundary' } : { op: 'putBoundary' });
  return steps;
}

/** What a plan would change, in words, for a 'drifted' status. */
export function describeSteps(steps: readonly RoleStep[]): string {
  const words: Record<RoleStep['op'], string> = {
    createRole: 'the role is missing',
    updateAssumeRolePolicy: 'the trust policy differs',
    updateRole: 'the session duration or description differs',
    tagRole: "Portico's tags differ",
    attachPolicy: 'a policy is not attached',
    detachPolicy: 'an extra policy is attached',
    putInlinePolicy: 'the inline policy differs',
    deleteInlinePolicy: 'an extra inline policy exists',
    putBoundary: 'the permissions boundary differs',
    deleteBoundary: 'a permissions boundary is set that the permission set does not have',
  };
  const detail = (step: RoleStep) => ('arn' in step ? ` (${step.arn})` : 'name' in step ? ` (${step.name})` : '');
  return [...new Set(steps.map((step) => `${words[step.op]}${detail(step)}`))].join('; ');
}

/**
 * IAM hands policy documents back URL-encoded, and may reorder keys or collapse a one-element
 * list; both sides are brought to one form before comparing.
 */
export function parsePolicyDocument(text: string): Record<string, unknown> {
  const decoded = text.trimStart().startsWith('{') ? text : decodeURIComponent(text);
  return JSON.parse(decoded) as Record<string, unknown>;
}

export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(normalisePolicy(a)) === canonicalJson(normalisePolicy(b));
}

/** Single values and one-element lists mean the same in a policy (`"Action": "s3:Get*"`); lists compare as sets. */
function normalisePolicy(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(normalisePolicy);
    return items.length === 1 ? items[0] : items.map((item) => canonicalJson(item)).sort().map((item) => JSON.parse(item) as unknown);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, normalisePolicy(item)]));
  }
  return value;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
