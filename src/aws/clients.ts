/**
 * The AWS clients provisioning uses, built from the management identity: STS and Organizations
 * with the management credentials, IAM per member account with credentials of its assumed role
 * (`memberRoleName`; the management account itself is used directly, as it has no such role).
 * Every call goes through `call`, which reports it (service, operation, account, outcome, AWS's
 * error code and message; never a credential) so that each one is audited and counted.
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { AppError } from '#src/shared/errors.ts';
import type { ManagementIdentity, ManagementInput } from './management.ts';

export interface AwsCall {
  service: 'sts' | 'iam' | 'organizations';
  operation: string;
  accountId: string | null;
  target?: string | undefined;
  outcome: 'success' | 'failure';
  errorCode?: string | undefined;
  message?: string | undefined;
  ms: number;
}

/** An AWS error as Portico reports it: AWS's code and message kept. */
export class AwsCallError extends AppError {
  constructor(
    readonly awsCode: string,
    awsMessage: string,
    readonly call: Pick<AwsCall, 'service' | 'operation' | 'accountId'>,
  ) {
    super('aws.call_failed', `${call.service}:${call.operation}${call.accountId ? ` in ${call.accountId}` : ''}: ${awsCode}: ${awsMessage}`, { status: 502, expose: true, details: { awsCode, awsMessage } });
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- every SDK client's send has its own command union
type AnyClient = { send: (command: any) => Promise<any> };
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see AnyClient
type Command = { constructor: { name: string }; input: any };

export interface AwsSession {
  managementAccountId: string;
  organizations<T>(command: Command, target?: string): Promise<T>;
  iam<T>(accountId: string, command: Command, target?: string): Promise<T>;
}

const SESSION_NAME = 'portico-provisioning';
/** Member credentials are renewed this long before they expire. */
const RENEW_MS = 5 * 60_000;

function clientConfig(identity: Pick<ManagementInput, 'region' | 'endpoint'>) {
  return { region: identity.region, maxAttempts: 3, ...(identity.endpoint !== undefined ? { endpoint: identity.endpoint } : {}) };
}

/** The management credentials, before any role is assumed. */
function baseCredentials(identity: ManagementInput): AwsCredentialIdentity | AwsCredentialIdentityProvider {
  if (identity.accessKeyId !== undefined && identity.secretAccessKey !== undefined) return { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey };
  if (identity.profile !== undefined) return fromIni({ profile: identity.profile });
  return fromNodeProviderChain();
}

/** The operation's name as AWS spells it: `CreateRoleCommand` → `CreateRole`. */
const operationOf = (command: Command): string => command.constructor.name.replace(/Command$/, '');

async function send<T>(client: AnyClient, command: Command, call: Omit<AwsCall, 'operation' | 'outcome' | 'ms'>, report: (call: AwsCall) => void): Promise<T> {
  const operation = operationOf(command);
  const started = performance.now();
  try {
    const result = (await client.send(command)) as T;
    report({ ...call, operation, outcome: 'success', ms: Math.round(performance.now() - started) });
    return result;
  } catch (error) {
    const awsCode = awsErrorCode(error);
    const message = error instanceof Error ? error.message.slice(0, 1000) : String(error).slice(0, 1000);
    report({ ...call, operation, outcome: 'failure', errorCode: awsCode, message, ms: Math.round(performance.now() - started) });
    throw new AwsCallError(awsCode, message, { service: call.service, operation, accountId: call.accountId });
  }
}

export function awsErrorCode(error: unknown): string {
  if (error instanceof AwsCallError) return error.awsCode;
  const named = error as { name?: unknown; Code?: unknown; code?: unknown };
  const code = typeof named.Code === 'string' ? named.Code : typeof named.name === 'string' ? named.name : typeof named.code === 'string' ? named.code : 'Unknown';
  return code.replace(/Exception$/, '');
}

/** Checks the identity by asking STS who it is: returns the management account id, or throws AWS's refusal. */
export async function whoAmI(identity: ManagementInput, report: (call: AwsCall) => void): Promise<{ accountId: string; credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider }> {
  let credentials = baseCredentials(identity);
  if (identity.roleArn !== undefined) {
    const sts = new STSClient({ ...clientConfig(identity), credentials });
    const assumed = await send<{ Credentials?: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string } }>(
      sts,
      new AssumeRoleCommand({ RoleArn: identity.roleArn, RoleSessionName: SESSION_NAME, ...(identity.externalId !== undefined ? { ExternalId: identity.externalId } : {}) }),
      { service: 'sts', accountId: null, target: identity.roleArn },
      report,
    );
    credentials = temporary(assumed.Credentials);
  }
  const sts = new STSClient({ ...clientConfig(identity), credentials });
  const caller = await send<{ Account?: string }>(sts, new GetCallerIdentityCommand({}), { service: 'sts', accountId: null }, report);
  if (caller.Account === undefined) throw new AppError('aws.call_failed', 'sts:GetCallerIdentity returned no account', { status: 502 });
  return { accountId: caller.Account, credentials };
}

function temporary(credentials: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string } | undefined): AwsCredentialIdentity {
  if (credentials?.AccessKeyId === undefined || credentials.SecretAccessKey === undefined) throw new AppError('aws.call_failed', 'sts:AssumeRole returned no credentials', { status: 502 });
  return { accessKeyId: credentials.AccessKeyId, secretAccessKey: credentials.SecretAccessKey, ...(credentials.SessionToken !== undefined ? { sessionToken: credentials.SessionToken } : {}) };
}

/** A session for one run of work: member credentials are assumed once per account and reused. */
export async function openAwsSession(identity: ManagementIdentity, report: (call: AwsCall) => void, clock: () => Date = () => new Date()): Promise<AwsSession> {
  const { credentials } = identity.roleArn === undefined ? { credentials: baseCredentials(identity) } : await whoAmI(identity, report);
  const config = clientConfig(identity);
  const organizations = new OrganizationsClient({ ...config, credentials });
  const sts = new STSClient({ ...config, credentials });
  const management = new IAMClient({ ...config, credentials });
  const members = new Map<string, Promise<{ client: IAMClient; expires: number }>>();

  function memberClient(accountId: string): Promise<IAMClient> {
    if (accountId === identity.managementAccountId) return Promise.resolve(management);
    const cached = members.get(accountId);
    const fresh = async () => {
      const assumed = await send<{ Credentials?: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: Date } }>(
        sts,
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${accountId}:role/${identity.memberRoleName}`, RoleSessionName: SESSION_NAME }),
        { service: 'sts', accountId, target: identity.memberRoleName },
        report,
      );
      const expires = assumed.Credentials?.Expiration?.getTime() ?? clock().getTime() + 15 * 60_000;
      return { client: new IAMClient({ ...config, credentials: temporary(assumed.Credentials) }), expires };
    };
    const entry = (async () => {
      if (cached !== undefined) {
        const value = await cached.catch(() => null);
        if (value !== null && value.expires - RENEW_MS > clock().getTime()) return value;
      }
      return fresh();
    })();
    members.set(accountId, entry);
    entry.catch(() => {
      if (members.get(accountId) === entry) members.delete(accountId);
    });
    return entry.then((value) => value.client);
  }

  return {
    managementAccountId: identity.managementAccountId,
    organizations: (command, target) => send(organizations, command, { service: 'organizations', accountId: identity.managementAccountId, target }, report),
    async iam(accountId, command, target) {
      return send(await memberClient(accountId), command, { service: 'iam', accountId, target }, report);
    },
  };
}
