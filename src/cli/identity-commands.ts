/**
 * `portico identity-source …`, `portico users …` and `portico mappings …`: the identity source,
 * the users it provisioned, and the attribute mappings that fill them. Each command calls the
 * running server's admin API (admin-client.ts), so every change has the API's one audit trail; a
 * running server applies mapping and user changes at once, and a new identity source after a
 * restart.
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { checkLimit, defaultCheckLimit, maxCheckLimit, type MappingCheckReport } from '#src/identity-store/mapping-check.ts';
import { mappingPresetNames, type MappingTable } from '#src/identity-store/mappings.ts';
import type { IdentityUser } from '#src/identity-store/user.ts';
import { AppError } from '#src/shared/errors.ts';
import { addAdminOptions, withAdminApi, type LoadConfig } from './admin-client.ts';
import { readStdinPassword } from './directory-admin-commands.ts';
import { exitCodes, printFields, printJson, printTable } from './output.ts';

const path = encodeURIComponent;

function summaryFields(summary: Record<string, unknown>): Array<[string, string]> {
  return Object.entries(summary)
    .filter(([k, v]) => v !== undefined && k !== 'provisionedUsers')
    .map(([k, v]): [string, string] => [k, Array.isArray(v) ? v.join(', ') : String(v)]);
}

/** The connection as the configuration's `directory` section, from --file and the options (validated by the server). */
async function connectionFrom(options: { file?: string; domain?: string; dcUrl?: string[]; serviceAccount?: string; allowSamba?: boolean; allowPlainLdap?: boolean; pinnedSha256?: string[]; caFile?: string }, password: string): Promise<Record<string, unknown>> {
  let input: Record<string, unknown> = {};
  if (options.file) {
    const text = await readFile(options.file, 'utf8').catch((error: unknown) => {
      throw new AppError('config.file_unreadable', `cannot read ${options.file}: ${(error as Error).message}`, { status: 400 });
    });
    const parsed: unknown = parseYaml(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AppError('config.invalid', `${options.file} must hold a connection object`, { status: 400 });
    input = parsed as Record<string, unknown>;
  }
  const tls = { ...(input.tls as object | undefined), ...(options.caFile ? { caFile: resolvePath(options.caFile) } : {}), ...(options.pinnedSha256 ? { pinnedSha256: options.pinnedSha256 } : {}) };
  const merged = {
    ...input,
    ...(options.domain ? { domain: options.domain } : {}),
    ...(options.dcUrl ? { urls: options.dcUrl } : {}),
    ...(options.allowSamba ? { allowSamba: true } : {}),
    ...(options.allowPlainLdap ? { allowPlainLdap: true } : {}),
    tls,
    serviceAccount: { ...(input.serviceAccount as object | undefined), ...(options.serviceAccount ? { username: options.serviceAccount } : {}), password },
  };
  return merged;
}

interface Verdict {
  accepted: boolean;
  reason: string;
  warnings: string[];
}

function registerIdentitySourceCommands(program: Command, loadConfig: LoadConfig): void {
  const source = program
    .command('identity-source')
    .description('the one directory this instance signs people in with: the managed directory, or a self-managed AD domain (via the admin API)');

  addAdminOptions(source.command('show').description('print the identity source and how many users it provisioned')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const shown = await api.call<Record<string, unknown> & { provisionedUsers: number }>('GET', '/identity-source');
      if (json) printJson(shown);
      else printFields([...summaryFields(shown), ['provisioned users', shown.provisionedUsers]]);
    });
  });

  addAdminOptions(source.command('validate').description('connect to the identity source and run the directory validation (Simple AD / Samba4 is refused)'), '\nExit code 3 when the directory is refused.').action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const result = await api.call<Record<string, unknown> & { accepted: boolean; verdict: Verdict; kind: string; domain?: string }>('POST', '/identity-source/validate');
      if (json) printJson(result);
      else {
        const what = result.kind === 'managed' ? 'the managed directory' : `the AD domain ${result.domain ?? ''}`;
        process.stdout.write(`${result.accepted ? 'ACCEPTED' : 'REFUSED'}: ${what} — ${result.verdict.reason}\n`);
        for (const warning of result.verdict.warnings) process.stdout.write(`warning: ${warning}\n`);
      }
      return result.accepted ? exitCodes.ok : exitCodes.refused;
    });
  });

  addAdminOptions(
    source
      .command('connect')
      .description('connect a self-managed AD domain (validated first; Simple AD / Samba4 is refused), or go back to the managed directory with --managed')
      .option('--managed', "use Portico's managed directory again")
      .option('-f, --file <file>', 'connection settings (YAML or JSON, the `directory` section of the configuration without the password)')
      .option('--domain <dns-name>', 'the AD domain, e.g. corp.example.com')
      .option('--dc-url <url...>', 'domain controllers, ldaps://host[:636] or ldap://host (StartTLS), tried in order')
      .option('--service-account <upn>', 'read-only service account, e.g. svc-portico@corp.example.com')
      .option('--ca-file <file>', "CA bundle that signed the controllers' certificates (a path Portico's server can read)")
      .option('--pinned-sha256 <fingerprint...>', 'pin controller certificates by SHA-256')
      .option('--allow-samba', 'lab override: accept a Samba4-based directory (Simple AD); never in production')
      .option('--password-stdin', "read the service account's password from standard input (required for a domain)")
      .option('--delete-existing-users', 'confirm that changing the identity source deletes every provisioned user and their sessions')
      .option('--no-mapping-check', 'do not run `portico mappings check` on the newly connected source')
      .option('--check-limit <n>', `users the mapping check samples (1 to ${maxCheckLimit})`, String(defaultCheckLimit)),
    '\nPortico validates the domain and stores the password encrypted with the instance key. Restart Portico to sign in with the new source.\nAnother directory also clears the AD sync scope (`portico sync status`), its watermarks and synced groups; the same domain keeps them.\nOnce connected, the attribute mappings are checked against a sample of its users (see `portico mappings check`);\na failed check does not undo the connection. Without users to delete, exit code 3 means the domain was refused or the deletion needs --delete-existing-users.',
  ).action(async (options: { managed?: boolean; file?: string; domain?: string; dcUrl?: string[]; serviceAccount?: string; caFile?: string; pinnedSha256?: string[]; allowSamba?: boolean; passwordStdin?: boolean; deleteExistingUsers?: boolean; mappingCheck: boolean; checkLimit: string }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const limit = checkLimit(options.checkLimit);
      let to: { kind: 'managed' } | { kind: 'connector'; connection: Record<string, unknown> };
      if (options.managed) to = { kind: 'managed' };
      else {
        if (!options.passwordStdin) throw new AppError('config.invalid', "--password-stdin is required: the service account's password is read from standard input", { status: 400 });
        to = { kind: 'connector', connection: await connectionFrom(options, await readStdinPassword()) };
      }
      const result = await api.call<{ identitySource: { kind: string; domain?: string }; changed: boolean; deletedUsers: number; from: string; verdict: Verdict | null; mappingCheck: MappingCheckReport | { error: { code: string; message: string } } | null }>('PUT', '/identity-source', {
        to,
        confirmDeletion: options.deleteExistingUsers ?? false,
        mappingCheck: options.mappingCheck ? { limit } : null,
      });
      if (json) return printJson(result);
      const now = result.identitySource.kind === 'managed' ? 'the managed directory' : `the AD domain ${result.identitySource.domain ?? ''}`;
      process.stdout.write(`${result.changed ? 'Connected' : 'Updated'}: the identity source is ${now}${result.verdict ? ` (${result.verdict.reason})` : ''}.\n`);
      if (result.deletedUsers > 0) process.stdout.write(`Deleted ${result.deletedUsers} provisioned user(s) of ${result.from}.\n`);
      const check = result.mappingCheck;
      if (check && 'error' in check) process.stdout.write(`The mapping check could not run: ${check.error.message}\n`);
      else if (check) {
        process.stdout.write('\nAttribute mappings, checked against its users:\n');
        printMappingCheck(check);
      }
      process.stdout.write('Restart Portico for the server to use it.\n');
    });
  });
}

function userRow(user: IdentityUser): Record<string, string> {
  return {
    userId: user.userId,
    userName: user.userName,
    displayName: user.displayName ?? '',
    email: user.emails[0]?.value ?? '',
    provisioned: String(user.provisionedAt),
  };
}

function registerUserCommands(program: Command, loadConfig: LoadConfig): void {
  const users = program.command('users').description('users provisioned into the identity store at sign-in (removing one never touches AD; via the admin API)');

  addAdminOptions(
    users
      .command('list')
      .description('list provisioned users, with when each was last provisioned')
      .option('--prefix <text>', 'only user names starting with this')
      .option('--limit <n>', 'at most this many (1 to 1000)', '100')
      .option('--after <userId>', "continue after this UserId (the previous page's last)"),
  ).action(async (options: { prefix?: string; limit: string; after?: string }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const query = new URLSearchParams({ limit: options.limit, ...(options.prefix ? { prefix: options.prefix } : {}), ...(options.after ? { after: options.after } : {}) });
      const page = await api.call<{ users: IdentityUser[]; next: string | null }>('GET', `/users?${query.toString()}`);
      if (json) return printJson(page);
      if (page.users.length === 0) process.stdout.write('no provisioned users\n');
      else {
        printTable(page.users.map(userRow));
        if (page.next) process.stdout.write(`more: --after ${page.next}\n`);
      }
    });
  });

  const spellings = 'a UserId, user name, objectGUID or email, or as `access explain` takes it: alice, CORP\\alice, alice@corp.example.com';
  addAdminOptions(users.command('show').argument('<user>', spellings).description('show one provisioned user and their live sessions')).action(async (key: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { user, sessions } = await api.call<{ user: IdentityUser; sessions: unknown[] }>('GET', `/users/${path(key)}`);
      if (json) return printJson({ user, sessions });
      printFields([
        ['userId', user.userId],
        ['userName', user.userName],
        ['displayName', user.displayName],
        ['email', user.emails[0]?.value],
        ['objectGUID', user.activeDirectory.guid],
        ['objectSid', user.activeDirectory.sid],
        ['domain', user.activeDirectory.domain],
        ['created', String(user.createdAt)],
        ['last provisioned', String(user.provisionedAt)],
        ['live sessions', sessions.length],
      ]);
      process.stdout.write('\nmapped attributes:\n');
      printFields(Object.entries(user.attributes).map(([k, v]): [string, string] => [k, v ?? '']));
    });
  });

  addAdminOptions(
    users
      .command('remove')
      .argument('<user>', spellings)
      .description('remove a provisioned user and end their sessions; AD is not touched, and a user still in AD comes back (with a new UserId) at their next sign-in'),
  ).action(async (key: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const removed = await api.call<{ removed: string; userName: string; sessionsRevoked: number }>('DELETE', `/users/${path(key)}`);
      if (json) return printJson(removed);
      process.stdout.write(`Removed ${removed.userName} (${removed.removed}); ${removed.sessionsRevoked} session(s) ended. Active Directory was not changed.\n`);
    });
  });

  addAdminOptions(users.command('revoke-sessions').argument('<user>', spellings).description('end every portal session of a provisioned user (they can sign in again)')).action(async (key: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const revoked = await api.call<{ userName: string; sessionsRevoked: number }>('POST', `/users/${path(key)}/revoke-sessions`);
      if (json) return printJson(revoked);
      process.stdout.write(`Ended ${revoked.sessionsRevoked} session(s) of ${revoked.userName}.\n`);
    });
  });
}

function printTableOf(table: MappingTable, isDefault: boolean): void {
  printTable(Object.entries(table).map(([target, template]) => ({ attribute: target, value: template ?? '' })));
  if (isDefault) process.stdout.write("(Portico's default table; `--preset identity-center` for Identity Center's)\n");
}

/** One row per mapping and reason: how many users of the sample it refuses, and a few of them. */
export function printMappingCheck(report: MappingCheckReport): void {
  const rows: Array<Record<string, string>> = [];
  for (const mapping of report.mappings) {
    if (mapping.problems.length === 0) rows.push({ attribute: mapping.target, template: mapping.template, refused: '0', why: '', examples: '' });
    for (const problem of mapping.problems) {
      rows.push({ attribute: mapping.target, template: mapping.template, refused: String(problem.users), why: problem.description, examples: problem.examples.join(', ') });
    }
  }
  printTable(rows);
  const n = (v: number) => v.toLocaleString('en');
  const sample = report.more ? `a sample of ${n(report.sampled)} users (the directory has more; raise --limit to read more)` : `all ${n(report.sampled)} users`;
  const disabled = report.disabled > 0 ? `, ${n(report.disabled)} disabled not counted` : '';
  process.stdout.write(`Checked ${sample}${disabled}: `);
  process.stdout.write(report.refusedUsers === 0 ? 'no user would be refused at sign-in.\n' : `${n(report.refusedUsers)} of ${n(report.checked)} would be refused at sign-in.\n`);
}

async function readMappingFile(file: string): Promise<Record<string, unknown>> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new AppError('config.file_unreadable', `cannot read ${file}: ${(error as Error).message}`, { status: 400 });
  });
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new AppError('identity.mapping_invalid', `${file} is not YAML or JSON: ${(error as Error).message}`, { status: 400 });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AppError('identity.mapping_invalid', `${file} must map attributes to templates, e.g. "email: \${dir:email}"`, { status: 400 });
  return parsed as Record<string, unknown>;
}

interface PreviewRow {
  target: string;
  template: string;
  value: string | null;
  error: string | null;
  sources: Array<{ attribute: string | null }>;
}

function registerMappingCommands(program: Command, loadConfig: LoadConfig): void {
  const mappings = program.command('mappings').description('attribute mappings from AD to the identity store (${dir:…} and ${attribute} templates; via the admin API); see docs/attribute-mappings.md');

  addAdminOptions(mappings.command('show').description('print the mapping table in use')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { table, isDefault } = await api.call<{ table: MappingTable; isDefault: boolean }>('GET', '/mappings');
      if (json) printJson({ mappings: table, isDefault });
      else printTableOf(table, isDefault);
    });
  });

  addAdminOptions(
    mappings
      .command('set [assignments...]')
      .description('change mappings: `attribute=template` pairs (merged into the table), --file for a whole table, --unset to stop mapping an attribute, --preset for a named table, --reset for the default')
      .option('-f, --file <file>', 'the whole table as YAML or JSON (replaces it)')
      .option('--unset <attribute...>', 'stop mapping these attributes')
      .option('--reset', "go back to Portico's default table (the same as --preset default)")
      .option('--preset <name>', `a named table: ${mappingPresetNames.join(', ')} (Identity Center's own table, which refuses users without initials)`),
    "\nExamples:\n  portico mappings set 'email=${dir:email|windowsUpn}' 'name=${dir:lastname}, ${dir:firstname}'\n  portico mappings set --preset identity-center",
  ).action(async (assignments: string[], options: { file?: string; unset?: string[]; reset?: boolean; preset?: string }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      if (options.preset !== undefined && (options.reset || options.file || assignments.length > 0 || options.unset)) {
        throw new AppError('config.invalid', '--preset replaces the whole table: give it alone', { status: 400 });
      }
      let result: { table: MappingTable; isDefault?: boolean };
      if (options.preset !== undefined || options.reset) {
        result = await api.call('POST', '/mappings/preset', { name: options.preset ?? 'default' });
      } else {
        const next: Record<string, unknown> = options.file ? await readMappingFile(options.file) : { ...(await api.call<{ table: MappingTable }>('GET', '/mappings')).table };
        for (const assignment of assignments) {
          const at = assignment.indexOf('=');
          if (at <= 0) throw new AppError('identity.mapping_invalid', `"${assignment}" is not attribute=template`, { status: 400 });
          next[assignment.slice(0, at).trim()] = assignment.slice(at + 1);
        }
        for (const name of options.unset ?? []) delete next[name];
        result = await api.call('PUT', '/mappings', { table: next });
      }
      if (json) printJson({ mappings: result.table });
      else printTableOf(result.table, result.isDefault ?? false);
    });
  });

  addAdminOptions(
    mappings.command('preview').argument('<user>', 'alice, CORP\\alice or alice@corp.example.com').description('read a user from the identity source and show every mapped value and the AD attribute it came from'),
    '\nExit code 3 when a mapping fails for this user (their sign-in would be refused).',
  ).action(async (name: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { rows } = await api.call<{ rows: PreviewRow[] }>('POST', '/mappings/preview', { user: name });
      const failing = rows.filter((row) => row.error !== null).length;
      if (json) printJson({ user: name, mappings: rows, ok: failing === 0 });
      else {
        printTable(rows.map((row) => ({ attribute: row.target, template: row.template, value: row.value ?? '', from: row.error ?? row.sources.map((s) => s.attribute ?? 'literal').join(' + ') })));
        if (failing > 0) process.stdout.write(`${failing} mapping(s) fail for this user: their sign-in would be refused.\n`);
      }
      return failing === 0 ? exitCodes.ok : exitCodes.refused;
    });
  });

  addAdminOptions(
    mappings
      .command('check')
      .description("apply the mapping table to a sample of the directory's users and count, per mapping, the users it would refuse at sign-in and why")
      .option('--limit <n>', `at most this many users, read with a paged search (1 to ${maxCheckLimit})`, String(defaultCheckLimit)),
    '\nExit code 3 when some user of the sample would be refused. Disabled accounts are not counted.',
  ).action(async (options: { limit: string }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const report = await api.call<MappingCheckReport>('POST', '/mappings/check', { limit: checkLimit(options.limit) });
      if (json) printJson(report);
      else printMappingCheck(report);
      return report.refusedUsers === 0 ? exitCodes.ok : exitCodes.refused;
    });
  });
}

export function registerIdentityCommands(program: Command, loadConfig: LoadConfig): void {
  registerIdentitySourceCommands(program, loadConfig);
  registerUserCommands(program, loadConfig);
  registerMappingCommands(program, loadConfig);
}
