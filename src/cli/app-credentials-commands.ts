/**
 * `portico app-credentials …`: the access keys integrated applications sign IdentityStore API
 * requests with, issued, listed and revoked through the admin API (admin/app-credential-routes.ts),
 * which audits each change. The secret is printed once, at creation.
 */
import type { Command } from 'commander';
import { credentialNameProblem } from '#src/identity-store/application-credentials.ts';
import { AppError } from '#src/shared/errors.ts';
import { addAdminOptions, withAdminApi, type LoadConfig } from './admin-client.ts';
import { printFields, printJson, printTable } from './output.ts';

interface Credential {
  accessKeyId: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export function registerAppCredentialCommands(program: Command, loadConfig: LoadConfig): void {
  const group = program.command('app-credentials').description("access keys for integrated applications: they sign requests to Portico's IdentityStore API (AWS SigV4); via the admin API");

  addAdminOptions(
    group.command('create').description('issue a new access key; its secret is printed once, now').argument('<name>', 'what the key is for, e.g. the application using it'),
    '\nConfigure the application as for AWS: the access key id and secret as its credentials, any region, and the endpoint http(s)://<portico>/identitystore.',
  ).action(async (name: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      // Said here, before a token or a server is needed.
      const problem = credentialNameProblem(name);
      if (problem) throw new AppError('config.invalid', problem, { status: 400 });
      const issued = await api.call<{ accessKeyId: string; secretAccessKey: string; name: string; createdAt: string; identityStoreId: string }>('POST', '/app-credentials', { name });
      if (json) return printJson(issued);
      printFields([
        ['access key id', issued.accessKeyId],
        ['secret access key', issued.secretAccessKey],
        ['name', issued.name],
        ['identity store id', issued.identityStoreId],
      ]);
      process.stdout.write('The secret access key is shown only now: store it with the application. Revoke the key if it is lost.\n');
    });
  });

  addAdminOptions(group.command('list').description('list the access keys, revoked ones included (never their secrets)')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const listed = await api.call<{ identityStoreId: string; credentials: Credential[] }>('GET', '/app-credentials');
      if (json) return printJson(listed);
      if (listed.credentials.length === 0) process.stdout.write('no access keys; issue one with `portico app-credentials create <name>`\n');
      else {
        printTable(
          listed.credentials.map((c) => ({
            'access key id': c.accessKeyId,
            name: c.name,
            created: c.createdAt,
            'last used': c.lastUsedAt ?? 'never',
            status: c.revokedAt ? `revoked ${c.revokedAt}` : 'active',
          })),
        );
        process.stdout.write(`identity store id: ${listed.identityStoreId}\n`);
      }
    });
  });

  addAdminOptions(group.command('revoke').description('revoke an access key for good: requests it signs are refused from now on').argument('<accessKeyId>', 'the key to revoke (PKIA…)')).action(
    async (accessKeyId: string, _options: unknown, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        await api.call('DELETE', `/app-credentials/${encodeURIComponent(accessKeyId)}`);
        if (json) printJson({ accessKeyId, revoked: true });
        else process.stdout.write(`revoked ${accessKeyId}\n`);
      });
    },
  );
}
