/**
 * `portico aws …`: the AWS side through a running Portico's admin API — the management identity
 * (its secret read from a file or the environment, never from the command line), the
 * provisioning status of each permission set in each account with re-provision and drift check,
 * and the accounts sync from AWS Organizations.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { AppError } from '#src/shared/errors.ts';
import { addAdminOptions, adminExitCodeHelp, usageError, withAdminApi, type LoadConfig } from './admin-client.ts';
import { printFields, printJson, printTable } from './output.ts';

interface Status {
  accountId: string;
  permissionSetId: string;
  status: string;
  message: string | null;
  roleArn: string | null;
  updatedAt: string;
}

interface SetOptions {
  accessKeyId?: string;
  secretAccessKeyFile?: string;
  profile?: string;
  roleArn?: string;
  externalId?: string;
  region?: string;
  endpoint?: string;
  memberRole?: string;
  rolePath?: string;
  syncInterval?: string;
}

const SETUP_HELP = `
The secret access key is read from --secret-access-key-file, else from the environment
(PORTICO_AWS_SECRET_ACCESS_KEY, then AWS_SECRET_ACCESS_KEY); it is sealed under the instance key
and never shown again. Without --access-key-id, Portico uses --profile or the host's default
AWS credential chain (environment, instance or task role). See docs/aws.md for the IAM policy.
`;

async function secretFrom(options: SetOptions): Promise<string | undefined> {
  if (options.secretAccessKeyFile !== undefined) {
    const text = await readFile(options.secretAccessKeyFile, 'utf8').catch((error: unknown) => {
      throw new AppError('config.file_unreadable', `cannot read ${options.secretAccessKeyFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { status: 400 });
    });
    return text.trim();
  }
  return process.env.PORTICO_AWS_SECRET_ACCESS_KEY ?? process.env.AWS_SECRET_ACCESS_KEY;
}

const statusRows = (rows: Status[], names: Map<string, string>) =>
  rows.map((s) => ({ account: s.accountId, 'permission set': names.get(s.permissionSetId) ?? s.permissionSetId, status: s.status, 'role or message': s.status === 'provisioned' ? (s.roleArn ?? '') : (s.message ?? '') }));

function filterOf(options: { account?: string; permissionSet?: string }): Record<string, string> {
  return { ...(options.account ? { accountId: options.account } : {}), ...(options.permissionSet ? { permissionSetId: options.permissionSet } : {}) };
}

export function registerAwsCommands(program: Command, loadConfig: LoadConfig): void {
  const aws = program
    .command('aws')
    .description('the AWS side: management identity, permission sets provisioned as IAM roles, accounts from AWS Organizations')
    .addHelpText('after', adminExitCodeHelp);
  const management = aws.command('management').description('the AWS identity Portico provisions with').addHelpText('after', SETUP_HELP);

  addAdminOptions(management.command('show').description('show the management identity (never its secret)')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const view = await api.call<Record<string, string | number | boolean | undefined>>('GET', '/aws/management');
      if (json) return printJson(view);
      if (!view.configured) {
        process.stdout.write('No management identity: permission sets are not provisioned into AWS, and accounts are typed in.\n');
        return;
      }
      printFields([
        ['management account', view.managementAccountId],
        ['credentials', view.credentials === 'access_key' ? `access key ${String(view.accessKeyId)}` : view.credentials === 'profile' ? `profile ${String(view.profile)}` : 'default chain'],
        ['role assumed first', view.roleArn],
        ['member-account role', view.memberRoleName],
        ['reserved role path', view.rolePath],
        ['region', view.region],
        ['endpoint', view.endpoint ?? 'AWS'],
        ['sync every (minutes)', view.syncIntervalMinutes === 0 ? 'on demand only' : view.syncIntervalMinutes],
        ['updated', view.updatedAt],
      ]);
    });
  });

  addAdminOptions(
    management
      .command('set')
      .description('set the management identity; AWS checks it (sts:GetCallerIdentity) before it is saved')
      .option('--access-key-id <id>', 'an access key of an IAM user in the management account (secret: see below)')
      .option('--secret-access-key-file <file>', 'file holding the secret access key')
      .option('--profile <name>', "a profile of the host's AWS config, instead of an access key")
      .option('--role-arn <arn>', 'a role to assume with those credentials first')
      .option('--external-id <id>', 'the external id that role requires')
      .option('--region <region>', 'AWS region for STS, IAM and Organizations', 'us-east-1')
      .option('--endpoint <url>', 'one endpoint for STS, IAM and Organizations (an emulator); AWS when absent')
      .option('--member-role <name>', 'the role assumed in each member account', 'OrganizationAccountAccessRole')
      .option('--role-path <path>', 'the reserved IAM path of the roles Portico creates', '/portico/')
      .option('--sync-interval <minutes>', 'read Organizations and check for drift this often; 0 = on demand only', '60'),
  ).action(async (options: SetOptions, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const secret = options.accessKeyId !== undefined ? await secretFrom(options) : undefined;
      if (options.accessKeyId !== undefined && (secret === undefined || secret === '')) throw usageError('--access-key-id needs the secret: --secret-access-key-file, or PORTICO_AWS_SECRET_ACCESS_KEY in the environment');
      const interval = Number(options.syncInterval ?? '60');
      if (!Number.isInteger(interval) || interval < 0) throw usageError('--sync-interval: whole minutes, 0 or more');
      const body = {
        ...(options.accessKeyId !== undefined ? { accessKeyId: options.accessKeyId, secretAccessKey: secret } : {}),
        ...(options.profile !== undefined ? { profile: options.profile } : {}),
        ...(options.roleArn !== undefined ? { roleArn: options.roleArn } : {}),
        ...(options.externalId !== undefined ? { externalId: options.externalId } : {}),
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        region: options.region,
        memberRoleName: options.memberRole,
        rolePath: options.rolePath,
        syncIntervalMinutes: interval,
      };
      const view = await api.call<{ managementAccountId: string }>('PUT', '/aws/management', body);
      if (json) return printJson(view);
      process.stdout.write(`Management identity saved: account ${view.managementAccountId}. Next: portico aws accounts sync\n`);
    });
  });

  addAdminOptions(management.command('clear').description('forget the management identity (roles already created stay in AWS: see docs/aws.md to remove them)')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      await api.call('DELETE', '/aws/management');
      if (json) return printJson({ removed: true });
      process.stdout.write('Management identity removed: nothing is provisioned any more.\n');
    });
  });

  const accounts = aws.command('accounts').description('accounts from AWS Organizations');
  addAdminOptions(accounts.command('sync').description('read the accounts and their OUs from AWS Organizations now')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const result = await api.call<{ created: string[]; updated: string[]; unchanged: string[]; removed: string[]; failed: Array<{ accountId: string; message: string }>; calls: number }>('POST', '/aws/organizations/sync');
      if (json) return printJson(result);
      process.stdout.write(`added ${result.created.length}, updated ${result.updated.length}, unchanged ${result.unchanged.length}, left the organization ${result.removed.length} (${result.calls} AWS calls)\n`);
      for (const failure of result.failed) process.stdout.write(`failed ${failure.accountId}: ${failure.message}\n`);
      return result.failed.length > 0 ? 1 : 0;
    });
  });
  addAdminOptions(accounts.command('list').description('where each account came from, its OU, and the SAML provider Portico keeps there')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const result = await api.call<{ accounts: Array<{ accountId: string; source: string; organizationStatus: string | null; ouPath: string | null; samlProviderArn: string | null }> }>('GET', '/aws/accounts');
      if (json) return printJson(result);
      printTable(result.accounts.map((a) => ({ account: a.accountId, source: a.source, status: a.organizationStatus ?? '', OU: a.ouPath ?? '', 'SAML provider': a.samlProviderArn ?? '' })));
    });
  });

  const provisioning = aws.command('provisioning').description('permission sets provisioned as IAM roles in accounts');
  const names = async (api: { call<T>(method: string, path: string): Promise<T> }) =>
    new Map((await api.call<{ permissionSets: Array<{ id: string; name: string }> }>('GET', '/permission-sets')).permissionSets.map((p) => [p.id, p.name]));
  const withFilter = (cmd: Command) => cmd.option('--account <id>', 'only this account').option('--permission-set <id>', 'only this permission set (its id)');

  addAdminOptions(withFilter(provisioning.command('list').description('status of each permission set in each account: provisioned, failed (with AWS\'s message) or drifted'))).action(
    async (options: { account?: string; permissionSet?: string }, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const query = new URLSearchParams(filterOf(options)).toString();
        const result = await api.call<{ provisioning: Status[] }>('GET', `/aws/provisioning${query ? `?${query}` : ''}`);
        if (json) return printJson(result);
        printTable(statusRows(result.provisioning, await names(api)));
      });
    },
  );
  addAdminOptions(withFilter(provisioning.command('reprovision').description('read the roles from IAM and write what differs (failed and drifted ones included)'))).action(
    async (options: { account?: string; permissionSet?: string }, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const result = await api.call<{ provisioning: Status[]; removed: unknown[]; calls: number }>('POST', '/aws/provisioning/reprovision', filterOf(options));
        if (json) return printJson(result);
        printTable(statusRows(result.provisioning, await names(api)));
        process.stdout.write(`${result.removed.length} removed, ${result.calls} AWS calls\n`);
        return result.provisioning.some((s) => s.status !== 'provisioned') ? 1 : 0;
      });
    },
  );
  addAdminOptions(withFilter(provisioning.command('check').description('drift check: compare the roles in IAM with their permission sets, writing nothing'))).action(
    async (options: { account?: string; permissionSet?: string }, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const result = await api.call<{ provisioning: Status[]; calls: number }>('POST', '/aws/provisioning/check', filterOf(options));
        if (json) return printJson(result);
        printTable(statusRows(result.provisioning, await names(api)));
        process.stdout.write(`${result.calls} AWS calls\n`);
        return result.provisioning.some((s) => s.status !== 'provisioned') ? 1 : 0;
      });
    },
  );
}
