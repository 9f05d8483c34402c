/**
 * `portico app-credentials …`: the access keys integrated applications sign IdentityStore API
 * requests with. They work on the instance's database in this process; a running server sees a
 * new or revoked key at its next request. The secret is printed once, at creation.
 */
import type { Command } from 'commander';
import type { AuditLog } from '#src/audit/index.ts';
import type { Config } from '#src/config/index.ts';
import { deriveIdentityStoreId } from '#src/identity-store-api/identity-store-id.ts';
import { credentialNameProblem, type ApplicationCredential, type ApplicationCredentialStore } from '#src/identity-store/application-credentials.ts';
import { createSecretBox, loadOrCreateSecretKey } from '#src/secrets/index.ts';
import { createDatabase, createKyselyApplicationCredentialStore, createKyselyAuditLog, migrateToLatest } from '#src/storage/index.ts';
import { exitCodes, printFields, printJson, printTable, reportError } from './output.ts';

type LoadConfig = (file: string | undefined) => Config;

interface Opened {
  credentials: ApplicationCredentialStore;
  audit: AuditLog;
  identityStoreId: string;
}

const actor = `cli:${process.env.USER ?? 'unknown'}`;

const exitHelp = `
Exit codes:
  0  success
  1  unexpected failure
  2  invalid configuration or arguments (an empty name)
  4  no live access key has that id`;

async function withCredentials(command: Command, loadConfig: LoadConfig, json: boolean, work: (opened: Opened) => Promise<number>): Promise<void> {
  let close = (): Promise<void> => Promise.resolve();
  try {
    const config = loadConfig(command.optsWithGlobals<{ config?: string }>().config);
    const secretKey = await loadOrCreateSecretKey(config);
    if (secretKey.origin === 'generated') {
      process.stderr.write(`portico: generated a new secret key in ${secretKey.file ?? 'the data directory'}; back it up: stored secrets cannot be read without it\n`);
    }
    const db = createDatabase(config.database);
    close = () => db.destroy();
    await migrateToLatest(db);
    process.exitCode = await work({
      credentials: createKyselyApplicationCredentialStore(db, createSecretBox(secretKey.key)),
      audit: createKyselyAuditLog(db),
      identityStoreId: deriveIdentityStoreId(secretKey.key),
    });
  } catch (error) {
    process.exitCode = reportError(error, json);
  } finally {
    await close();
  }
}

function status(credential: ApplicationCredential): string {
  return credential.revokedAt ? `revoked ${credential.revokedAt.toISOString()}` : 'active';
}

export function registerAppCredentialCommands(program: Command, loadConfig: LoadConfig): void {
  const group = program
    .command('app-credentials')
    .description("access keys for integrated applications: they sign requests to Portico's IdentityStore API (AWS SigV4)")
    .addHelpText('after', exitHelp);

  group
    .command('create')
    .description('issue a new access key; its secret is printed once, now')
    .argument('<name>', 'what the key is for, e.g. the application using it')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nConfigure the application as for AWS: the access key id and secret as its credentials, any region, and the endpoint http(s)://<portico>/identitystore.' +
        exitHelp,
    )
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      const problem = credentialNameProblem(name);
      if (problem) {
        if (json) printJson({ error: { code: 'api.invalid_request', message: problem } });
        else process.stderr.write(`portico: ${problem}\n`);
        process.exitCode = exitCodes.usage;
        return;
      }
      await withCredentials(command, loadConfig, json, async ({ credentials, audit, identityStoreId }) => {
        const issued = await credentials.create(name);
        await audit.record({ actor, action: 'identitystore.credential.created', target: issued.accessKeyId, outcome: 'success', details: { name: issued.name } });
        if (json) {
          printJson({ accessKeyId: issued.accessKeyId, secretAccessKey: issued.secretAccessKey, name: issued.name, createdAt: issued.createdAt, identityStoreId });
        } else {
          printFields([
            ['access key id', issued.accessKeyId],
            ['secret access key', issued.secretAccessKey],
            ['name', issued.name],
            ['identity store id', identityStoreId],
          ]);
          process.stdout.write('The secret access key is shown only now: store it with the application. Revoke the key if it is lost.\n');
        }
        return exitCodes.ok;
      });
    });

  group
    .command('list')
    .description('list the access keys, revoked ones included (never their secrets)')
    .option('--json', 'print JSON')
    .addHelpText('after', exitHelp)
    .action(async (options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withCredentials(command, loadConfig, json, async ({ credentials, identityStoreId }) => {
        const listed = await credentials.list();
        if (json) printJson({ identityStoreId, credentials: listed });
        else if (listed.length === 0) process.stdout.write('no access keys; issue one with `portico app-credentials create <name>`\n');
        else {
          printTable(
            listed.map((c) => ({
              'access key id': c.accessKeyId,
              name: c.name,
              created: c.createdAt.toISOString(),
              'last used': c.lastUsedAt?.toISOString() ?? 'never',
              status: status(c),
            })),
          );
          process.stdout.write(`identity store id: ${identityStoreId}\n`);
        }
        return exitCodes.ok;
      });
    });

  group
    .command('revoke')
    .description('revoke an access key for good: requests it signs are refused from now on')
    .argument('<accessKeyId>', 'the key to revoke (PKIA…)')
    .option('--json', 'print JSON')
    .addHelpText('after', exitHelp)
    .action(async (accessKeyId: string, options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withCredentials(command, loadConfig, json, async ({ credentials, audit }) => {
        const revoked = await credentials.revoke(accessKeyId);
        if (!revoked) {
          const message = `no live access key ${accessKeyId} (unknown, or already revoked)`;
          if (json) printJson({ error: { code: 'api.not_found', message } });
          else process.stderr.write(`portico: ${message}\n`);
          return exitCodes.notFound;
        }
        await audit.record({ actor, action: 'identitystore.credential.revoked', target: accessKeyId, outcome: 'success' });
        if (json) printJson({ accessKeyId, revoked: true });
        else process.stdout.write(`revoked ${accessKeyId}\n`);
        return exitCodes.ok;
      });
    });
}
