/**
 * `portico saml …`: Portico as a SAML identity provider — where service providers find it, and
 * the rotation of its signing key (stage → activate → retire), through a running Portico's
 * admin API so that every step is audited.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { AppError } from '#src/shared/errors.ts';
import { addAdminOptions, adminExitCodeHelp, usageError, withAdminApi, type LoadConfig } from './admin-client.ts';
import { printFields, printJson, printTable } from './output.ts';

interface Certificate {
  id: string;
  state: string;
  sha256: string;
  subject: string;
  notBefore: string;
  notAfter: string;
}

interface IdentityProvider {
  entityId: string;
  metadataUrl: string;
  ssoUrl: string;
  sloUrl: string;
  certificates: Certificate[];
}

const ROTATION_HELP = `
Rotating the signing key without breaking any service provider:
  1. portico saml stage      the next key appears in the metadata beside the current one
  2. (let every service provider re-read the metadata, or give them the new certificate)
  3. portico saml activate   the next key signs; the old one stays in the metadata
  4. portico saml retire     the old key leaves the metadata
`;

function certificateRows(certificates: Certificate[]) {
  return certificates.map((c) => ({ state: c.state, 'SHA-256': c.sha256, 'not after': c.notAfter.slice(0, 10), id: c.id }));
}

async function readPem(file: string, what: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: unknown) => {
    throw new AppError('config.file_unreadable', `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { status: 400 });
  });
}

export function registerSamlCommands(program: Command, loadConfig: LoadConfig): void {
  const saml = program
    .command('saml')
    .description('Portico as a SAML identity provider: endpoints and signing-key rotation')
    .addHelpText('after', `${ROTATION_HELP}${adminExitCodeHelp}`);

  addAdminOptions(saml.command('show').description('entity ID, metadata/SSO/SLO URLs and the signing certificates')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const idp = await api.call<IdentityProvider>('GET', '/saml');
      if (json) return printJson(idp);
      printFields([['entity ID', idp.entityId], ['metadata', idp.metadataUrl], ['single sign-on', idp.ssoUrl], ['single logout', idp.sloUrl]]);
      process.stdout.write('\n');
      printTable(certificateRows(idp.certificates));
    });
  });

  addAdminOptions(
    saml
      .command('stage')
      .description('stage the next signing key (published in the metadata, not used yet): generated, or your own with --key-file and --certificate-file')
      .option('--key-file <file>', 'PEM private key (RSA, 2048 bits or more, unencrypted)')
      .option('--certificate-file <file>', 'PEM certificate of that key'),
  ).action(async (options: { keyFile?: string; certificateFile?: string }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      if ((options.keyFile === undefined) !== (options.certificateFile === undefined)) throw usageError('--key-file and --certificate-file: give both, or neither to generate a key');
      const body =
        options.keyFile !== undefined && options.certificateFile !== undefined
          ? { keyPem: await readPem(options.keyFile, 'the key file'), certificatePem: await readPem(options.certificateFile, 'the certificate file') }
          : {};
      const staged = await api.call<Certificate>('POST', '/saml/certificates', body);
      if (json) return printJson(staged);
      process.stdout.write(`Staged the next signing key (SHA-256 ${staged.sha256}).\nService providers that read Portico's metadata now see both certificates; run \`portico saml activate\` once they have it.\n`);
    });
  });

  addAdminOptions(saml.command('activate').description('sign with the staged key from now on; the old key stays in the metadata as the previous one')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const current = await api.call<Certificate>('POST', '/saml/certificates/activate');
      if (json) return printJson(current);
      process.stdout.write(`Portico now signs with ${current.sha256}.\nRun \`portico saml retire\` once every service provider has the new metadata.\n`);
    });
  });

  addAdminOptions(saml.command('retire').description('remove the previous signing key from the metadata')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const retired = await api.call<Certificate>('DELETE', '/saml/certificates/previous');
      if (json) return printJson({ retired });
      process.stdout.write(`Retired ${retired.sha256}: the metadata lists the current certificate only.\n`);
    });
  });
}
