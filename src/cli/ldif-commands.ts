/**
 * `portico directory import|export`: LDIF in and out of the managed directory, through the admin
 * API (admin/ldif-routes.ts): the file goes up in one JSON request (the route accepts up to
 * 256 MiB), the export comes back in one answer. Refused (exit code 3) when a self-managed AD is
 * the identity source: Portico never writes to a connected AD.
 */
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { AppError } from '#src/shared/errors.ts';
import { addAdminOptions, withAdminApi, type LoadConfig } from './admin-client.ts';
import { exitCodes, printJson } from './output.ts';

/** What the import route accepts (LDIF_IMPORT_BODY_LIMIT), less room for the JSON around it. */
const MAX_IMPORT_BYTES = 200 * 1024 * 1024;

/** Records in an LDIF file: its `dn:` lines at the start of a line (folded lines start with a space). */
async function countRecords(file: string): Promise<number> {
  let count = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (/^dn::?/i.test(line)) count += 1;
  return count;
}

interface ImportReport {
  added: number;
  memberships: number;
  failures: Array<{ line: number; dn: string; message: string }>;
  seconds: number;
}

export function registerLdifCommands(directory: Command, loadConfig: LoadConfig): void {
  addAdminOptions(
    directory
      .command('import')
      .description('add the entries of an LDIF file to the managed directory (groups may come before their members; via the admin API)')
      .argument('<file>', 'LDIF content records (RFC 2849); passwords as unicodePwd or userPassword')
      .option('--continue-on-error', 'import what can be imported and list the failures'),
    `\nEntries are added one by one; a failure stops the import (already added entries stay) unless --continue-on-error.
The file is sent in one request (at most ${MAX_IMPORT_BYTES / 1024 / 1024} MiB); the import runs on the server and its outcome is printed at the end.
Exit code 1 when an entry failed.`,
  ).action(async (file: string, options: { continueOnError?: boolean }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const ldif = await readFile(file, 'utf8').catch((error: unknown) => {
        throw new AppError('config.file_unreadable', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { status: 400 });
      });
      if (Buffer.byteLength(ldif) > MAX_IMPORT_BYTES) throw new AppError('config.invalid', `${file} is larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MiB: split it (groups may come before their members only within one file)`, { status: 400 });
      const total = await countRecords(file);
      process.stderr.write(`import: sending ${total.toLocaleString('en')} entries to ${api.url}\n`);
      const report = await api.call<ImportReport>('POST', '/directory/managed/import', { ldif, continueOnError: options.continueOnError ?? false });
      const done = report.added + report.failures.length;
      process.stderr.write(`import: 100% ${done.toLocaleString('en')}/${total.toLocaleString('en')} entries, ${Math.round(report.added / Math.max(report.seconds, 0.001)).toLocaleString('en')}/s${report.failures.length ? `, ${report.failures.length} failed` : ''}\n`);
      if (json) printJson(report);
      else {
        process.stdout.write(`imported ${report.added} entries and ${report.memberships} memberships in ${report.seconds.toFixed(1)} s\n`);
        for (const failure of report.failures) process.stdout.write(`failed: line ${failure.line} ${failure.dn}: ${failure.message}\n`);
      }
      return report.failures.length > 0 ? exitCodes.failure : exitCodes.ok;
    });
  });

  addAdminOptions(
    directory
      .command('export')
      .description('write the managed directory (or a subtree) as LDIF, without what the directory owns (GUIDs, SIDs, passwords; via the admin API)')
      .option('--base <dn>', 'subtree to export (default: the whole domain)')
      .option('-o, --output <file>', 'write to a file (created 0600) instead of standard output'),
  ).action(async (options: { base?: string; output?: string }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { ldif } = await api.call<{ ldif: string }>('GET', `/directory/managed/export${options.base ? `?base=${encodeURIComponent(options.base)}` : ''}`);
      if (options.output) await writeFile(options.output, ldif, { mode: 0o600 });
      else if (json) printJson({ ldif });
      else process.stdout.write(ldif);
    });
  });
}
