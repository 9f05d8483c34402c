/**
 * The management identity: the AWS credentials Portico provisions with (IAM in the member
 * accounts, read AWS Organizations). Kept in the settings store; a secret access key is sealed
 * under the instance key and never leaves the server. Either an access key, a named profile, or
 * the SDK's default chain (environment, instance or task role), optionally assuming a role first.
 */
import { z } from 'zod';
import type { SecretBox } from '#src/secrets/index.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { AppError } from '#src/shared/errors.ts';

const SETTING = 'aws_management_identity';
export const DEFAULT_MEMBER_ROLE = 'OrganizationAccountAccessRole';
export const DEFAULT_ROLE_PATH = '/portico/';

const roleArn = (field: string) => z.string({ error: `${field}: an IAM role ARN` }).regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, `${field}: an IAM role ARN (arn:aws:iam::<account>:role/<name>)`);

export const managementInput = z
  .strictObject({
    accessKeyId: z.string({ error: 'accessKeyId: a string' }).regex(/^[A-Z0-9]{16,128}$/, 'accessKeyId: 16–128 upper-case letters and digits (AKIA…)').optional(),
    secretAccessKey: z.string({ error: 'secretAccessKey: a string' }).min(1, 'secretAccessKey: required with accessKeyId').max(256, 'secretAccessKey: at most 256 characters').optional(),
    /** A profile of the host's shared AWS config (~/.aws/config), used when no access key is given. */
    profile: z.string().regex(/^[\w.@-]{1,128}$/, 'profile: 1–128 letters, digits and _ . @ -').optional(),
    /** Assumed with the credentials above before anything else (e.g. a role in the management account). */
    roleArn: roleArn('roleArn').optional(),
    externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'externalId: 2–1224 characters of [\\w+=,.@:/-]').optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'region: an AWS region such as us-east-1').default('us-east-1'),
    /** One endpoint for STS, IAM and Organizations (an emulator); AWS's own when absent. */
    endpoint: z.url({ error: 'endpoint: an absolute http(s) URL' }).optional(),
    /** The role assumed in every member account. */
    memberRoleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'memberRoleName: an IAM role name').default(DEFAULT_MEMBER_ROLE),
    /** The reserved IAM path of every role Portico creates; roles outside it are never touched. */
    rolePath: z
      .string()
      .regex(/^\/(?:[\w+=,.@-]+\/)+$/, 'rolePath: a path with at least one segment, starting and ending with "/" (e.g. /portico/)')
      .max(512, 'rolePath: at most 512 characters')
      .default(DEFAULT_ROLE_PATH),
    /** How often accounts are read from AWS Organizations and drift is checked; 0 = only on demand. */
    syncIntervalMinutes: z.number().int().min(0).max(7 * 24 * 60).default(60),
  })
  .refine((value) => (value.accessKeyId === undefined) === (value.secretAccessKey === undefined), 'accessKeyId and secretAccessKey: give both or neither')
  .refine((value) => value.accessKeyId === undefined || value.profile === undefined, 'profile: not with an access key');
export type ManagementInput = z.output<typeof managementInput>;

interface Stored extends Omit<ManagementInput, 'secretAccessKey'> {
  sealedSecretAccessKey?: string | undefined;
  managementAccountId: string;
  updatedAt: string;
}

/** The identity with its secret opened: only the AWS clients see this. */
export interface ManagementIdentity extends ManagementInput {
  managementAccountId: string;
}

/** What the admin API shows: never the secret. */
export interface ManagementView {
  configured: boolean;
  credentials?: 'access_key' | 'profile' | 'default_chain';
  accessKeyId?: string;
  profile?: string;
  roleArn?: string;
  region?: string;
  endpoint?: string;
  memberRoleName?: string;
  rolePath?: string;
  syncIntervalMinutes?: number;
  managementAccountId?: string;
  updatedAt?: string;
}

export interface ManagementSettings {
  /** In memory: read at start and on every change (federation needs the role path synchronously). */
  current(): ManagementIdentity | null;
  view(): ManagementView;
  save(input: ManagementInput, managementAccountId: string, at: Date): Promise<ManagementView>;
  remove(): Promise<boolean>;
}

export async function loadManagementSettings(settings: SettingsStore, box: SecretBox): Promise<ManagementSettings> {
  const context = (accessKeyId: string) => `${SETTING}:${accessKeyId}`;
  let stored = (await settings.get(SETTING)) as Stored | undefined;

  const open = (value: Stored): ManagementIdentity => {
    const { sealedSecretAccessKey, ...rest } = value;
    return {
      ...omit(rest, 'updatedAt'),
      ...(sealedSecretAccessKey !== undefined && value.accessKeyId !== undefined ? { secretAccessKey: box.open(sealedSecretAccessKey, context(value.accessKeyId)) } : {}),
    };
  };
  let current = stored === undefined ? null : open(stored);

  function view(): ManagementView {
    if (stored === undefined) return { configured: false };
    const shown = omit(stored, 'sealedSecretAccessKey');
    return { configured: true, credentials: stored.accessKeyId !== undefined ? 'access_key' : stored.profile !== undefined ? 'profile' : 'default_chain', ...shown };
  }

  return {
    current: () => current,
    view,
    async save(input, managementAccountId, at) {
      const { secretAccessKey, ...rest } = input;
      const next: Stored = {
        ...rest,
        ...(secretAccessKey !== undefined && input.accessKeyId !== undefined ? { sealedSecretAccessKey: box.seal(secretAccessKey, context(input.accessKeyId)) } : {}),
        managementAccountId,
        updatedAt: at.toISOString(),
      };
      await settings.set(SETTING, next, at);
      stored = next;
      current = open(next);
      return view();
    },
    async remove() {
      const removed = await settings.remove(SETTING);
      stored = undefined;
      current = null;
      return removed;
    },
  };
}

export function requireManagement(settings: ManagementSettings): ManagementIdentity {
  const identity = settings.current();
  if (identity === null) throw new AppError('aws.not_configured', 'no AWS management identity is configured: set one with `portico aws management set` (PUT /admin/api/aws/management)', { status: 409 });
  return identity;
}

function omit<T extends object, K extends keyof T>(value: T, key: K): Omit<T, K> {
  return Object.fromEntries(Object.entries(value).filter(([name]) => name !== key)) as Omit<T, K>;
}
