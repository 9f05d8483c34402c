/**
 * `portico directory import|export`: LDIF in and out of the managed directory. Refused when a
 * self-managed AD is the identity source: Portico never writes to a connected AD.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { Config } from '#src/config/index.ts';
import { parseLdif } from '#src/directory/managed/ldif.ts';
import { exportLdif, importLdif } from '#src/directory/managed/ldif-transfer.ts';
import type { ImportProgress } from '#src/directory/managed/ldif-transfer.ts';
import { withManagedEngine } from './managed-engine.ts';
import { exitCodeHelp, exitCodes, printJson } from './output.ts';

type LoadConfig = (file: string | undefined) => Config;

/** Records in an LDIF file: its `dn:` lines at the start of a line (folded lines start with a space). */
async function countRecords(file: string): Promise<number> {
  let count = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (/^dn::?/i.test(line)) count += 1;
  return count;
}

/** A progress bar on a terminal; a line every 10 % otherwise, so logs stay readable. */
function progressReporter(): { update: (progress: ImportProgress) => void; finish: () => void } {
  const started = performance.now();
  let lastDecile = -1;
  let lastDraw = 0;
  const tty = process.stderr.isTTY;
  return {
    update({ entries, total, failed }) {
      const rate = entries / Math.max((performance.now() - started) / 1000, 0.001);
      const fraction = total ? entries / total : 0;
      const label = `${entries.toLocaleString('en')}${total ? `/${total.toLocaleString('en')}` : ''} entries, ${Math.round(rate).toLocaleString('en')}/s${failed ? `, ${failed} failed` : ''}`;
      if (tty) {
        if (performance.now() - lastDraw < 100 && entries !== total) return;
        lastDraw = performance.now();
        const width = 30;
        const filled = Math.round(fraction * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(fraction * 100)}% ${label}   `);
      } else if (total) {
        const decile = Math.floor(fraction * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          process.stderr.write(`import: ${decile * 10}% ${label}\n`);
        }
      }
    },
    finish() {
      if (tty) process.stderr.write('\n');
    },
  };
}

export function registerLdifCommands(directory: Command, loadConfig: LoadConfig): void {
  directory
    .command('import')
    .description('add the entries of an LDIF file to the managed directory (groups may come before their members)')
    .argument('<file>', 'LDIF content records (RFC 2849); passwords as unicodePwd or userPassword')
    .option('--continue-on-error', 'import what can be imported and list the failures')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `\nEntries are added one by one; a failure stops the import (already added entries stay) unless --continue-on-error.${exitCodeHelp}`)
    .action(async (file: string, options: { json?: boolean; continueOnError?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withManagedEngine(command, loadConfig, json, async ({ engine }, session) => {
        const total = await countRecords(file);
        const progress = progressReporter();
        const started = performance.now();
        const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
        try {
          const report = await importLdif(engine, session, parseLdif(lines), { total, continueOnError: options.continueOnError ?? false, onProgress: progress.update });
          progress.finish();
          const seconds = (performance.now() - started) / 1000;
          if (json) printJson({ ...report, seconds });
          else {
            process.stdout.write(`imported ${report.added} entries and ${report.memberships} memberships in ${seconds.toFixed(1)} s\n`);
            for (const failure of report.failures) process.stdout.write(`failed: line ${failure.line} ${failure.dn}: ${failure.message}\n`);
          }
          return report.failures.length > 0 ? exitCodes.failure : exitCodes.ok;
        } finally {
          progress.finish();
          lines.close();
        }
      });
    });

  directory
    .command('export')
    .description('write the managed directory (or a subtree) as LDIF, without what the directory owns (GUIDs, SIDs, passwords)')
    .option('--base <dn>', 'subtree to export (default: the whole domain)')
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .addHelpText('after', exitCodeHelp)
    .action(async (options: { base?: string; output?: string }, command: Command) => {
      await withManagedEngine(command, loadConfig, false, async ({ engine }, session) => {
        const out = options.output ? createWriteStream(options.output, { mode: 0o600 }) : process.stdout;
        for await (const chunk of exportLdif(engine, session, options.base ?? engine.baseDn)) {
          if (!out.write(chunk)) await once(out, 'drain');
        }
        if (out !== process.stdout) {
          out.end();
          await once(out, 'finish');
        }
        return exitCodes.ok;
      });
    });
}
