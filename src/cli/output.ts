/**
 * How every command speaks: a table or lines for people, JSON for scripts, and exit codes that
 * scripts can rely on.
 */
import { isAppError } from '#src/shared/errors.ts';

export const exitCodes = {
  ok: 0,
  failure: 1,
  usage: 2,
  refused: 3,
  notFound: 4,
  unreachable: 5,
  conflict: 6,
} as const;

/** The one table of exit codes, for every command's --help (and the README's "Commands"). */
export const exitCodeHelp = `
Exit codes:
  0  success
  1  unexpected failure (or some entries of an import failed)
  2  invalid input, configuration or arguments (the message names the field and the rule)
  3  refused: not authenticated or not allowed (no, wrong or disabled token), the directory failed
     validation, a change needs confirmation, Portico never writes to a connected AD, or a check
     found users that would be refused
  4  not found (user, group, account, permission set, application, assignment, access key)
  5  unavailable: nothing answers at Portico's URL, or its database or no domain controller answers
     (for start: the database does not answer; a port already in use exits 1)
  6  conflict: it already exists or is already assigned, is still assigned or in use, or a limit is reached`;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(rows: Array<Record<string, string>>): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0] as object);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((c) => row[c] ?? ''))}\n`);
}

export function printFields(fields: Array<[string, string | number | boolean | null | undefined]>): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [key, value] of fields) process.stdout.write(`${key.padEnd(width)}  ${value ?? '-'}\n`);
}

/** Maps an error to a message and an exit code; never prints a stack or a secret. */
export function reportError(error: unknown, json: boolean): number {
  const code = isAppError(error) ? error.code : 'internal';
  const message = isAppError(error) && error.expose ? error.message : isAppError(error) ? error.message : String((error as Error)?.message ?? error);
  if (json) printJson({ error: { code, message } });
  else process.stderr.write(`portico: ${message} [${code}]\n`);
  if (!isAppError(error)) return exitCodes.failure;
  if (error.code.startsWith('config.')) return exitCodes.usage;
  switch (error.code) {
    case 'directory.refused':
    case 'identity_source.change_refused':
      return exitCodes.refused;
    case 'directory.user_not_found':
    case 'identity.user_not_found':
      return exitCodes.notFound;
    case 'identity.mapping_invalid':
      return exitCodes.usage;
    case 'directory.unreachable':
    case 'directory.timeout':
    case 'directory.tls_failed':
    case 'storage.unavailable':
      return exitCodes.unreachable;
    default:
      return exitCodes.failure;
  }
}
