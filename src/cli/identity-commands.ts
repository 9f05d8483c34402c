/**
 * `portico identity-source …`, `portico users …` and `portico mappings …`: the identity source,
 * the users it provisioned, and the attribute mappings that fill them. They work on the instance's
 * database in this process; a running server sees the changes at the next sign-in (a new identity
 * source after a restart).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { connectDirectory } from '#src/directory/connector.ts';
import { directoryConnectionOptionsSchema, type DirectoryConnectionOptions } from '#src/directory/options.ts';
import type { DirectoryConnector } from '#src/directory/types.ts';
import { changeIdentitySource, chooseIdentitySource, describeChoice, type IdentitySourceChoice } from '#src/identity-source/identity-source.ts';
import { checkLimit, defaultCheckLimit, maxCheckLimit, runMappingCheck, type MappingCheckReport } from '#src/identity-store/mapping-check.ts';
import { explainMappings, mappingPresetNames, referencedAttributes, type MappingTable } from '#src/identity-store/mappings.ts';
import { findProvisionedUser, type IdentityUser } from '#src/identity-store/user.ts';
import { AppError } from '#src/shared/errors.ts';
import { readStdinPassword } from './directory-admin-commands.ts';
import { cliActor, withInstance, type LoadConfig } from './instance.ts';
import { exitCodeHelp, exitCodes, printFields, printJson, printTable } from './output.ts';

function summary(choice: IdentitySourceChoice): Record<string, unknown> {
  if (choice.kind === 'managed') return { kind: 'managed' };
  const { serviceAccount, ...options } = choice.options;
  return { kind: 'connector', origin: choice.origin, domain: options.domain, urls: options.urls, serviceAccount: serviceAccount.username, allowSamba: options.allowSamba, allowPlainLdap: options.allowPlainLdap };
}

async function connectionFrom(options: { file?: string; domain?: string; url?: string[]; serviceAccount?: string; allowSamba?: boolean; allowPlainLdap?: boolean; pinnedSha256?: string[]; caFile?: string }, password: string): Promise<DirectoryConnectionOptions> {
  let input: Record<string, unknown> = {};
  if (options.file) {
    const text = await readFile(options.file, 'utf8').catch((error: unknown) => {
      throw new AppError('config.file_unreadable', `cannot read ${options.file}: ${(error as Error).message}`, { status: 400 });
    });
    const parsed: unknown = parseYaml(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AppError('config.invalid', `${options.file} must hold a connection object`, { status: 400 });
    input = parsed as Record<string, unknown>;
  }
  const tls = { ...(input.tls as object | undefined), ...(options.caFile ? { caFile: options.caFile } : {}), ...(options.pinnedSha256 ? { pinnedSha256: options.pinnedSha256 } : {}) };
  const merged = {
    ...input,
    ...(options.domain ? { domain: options.domain } : {}),
    ...(options.url ? { urls: options.url } : {}),
    ...(options.allowSamba ? { allowSamba: true } : {}),
    ...(options.allowPlainLdap ? { allowPlainLdap: true } : {}),
    tls,
    serviceAccount: { ...(input.serviceAccount as object | undefined), ...(options.serviceAccount ? { username: options.serviceAccount } : {}), password },
  };
  const result = directoryConnectionOptionsSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw new AppError('config.invalid', `invalid connection: ${problems}`, { status: 400 });
  }
  return result.data;
}

function registerIdentitySourceCommands(program: Command, loadConfig: LoadConfig): void {
  const source = program
    .command('identity-source')
    .description('the one directory this instance signs people in with: the managed directory, or a self-managed AD domain')
    .addHelpText('after', exitCodeHelp);

  source
    .command('show')
    .description('print the identity source and how many users it provisioned')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const choice = await chooseIdentitySource(instance.config.directory, instance.connections);
        const users = await instance.users.count();
        if (json) printJson({ ...summary(choice), provisionedUsers: users });
        else printFields([...Object.entries(summary(choice)).map(([k, v]): [string, string] => [k, Array.isArray(v) ? v.join(', ') : String(v)]), ['provisioned users', users]]);
        return exitCodes.ok;
      });
    });

  source
    .command('validate')
    .description('connect to the identity source and run the directory validation (Simple AD / Samba4 is refused)')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const { choice, connector } = await instance.openSource();
        const check = await connector.check();
        const accepted = choice.kind === 'managed' || check.verdict.accepted;
        if (json) printJson({ ...summary(choice), accepted, verdict: check.verdict, canReadUsers: check.canReadUsers, controllers: check.controllers });
        else {
          process.stdout.write(`${accepted ? 'ACCEPTED' : 'REFUSED'}: ${describeChoice(choice)} — ${check.verdict.reason}\n`);
          for (const warning of check.verdict.warnings) process.stdout.write(`warning: ${warning}\n`);
        }
        return accepted ? exitCodes.ok : exitCodes.refused;
      });
    });

  source
    .command('connect')
    .description('connect a self-managed AD domain (validated first; Simple AD / Samba4 is refused), or go back to the managed directory with --managed')
    .option('--managed', "use Portico's managed directory again")
    .option('-f, --file <file>', 'connection settings (YAML or JSON, the `directory` section of the configuration without the password)')
    .option('--domain <dns-name>', 'the AD domain, e.g. corp.example.com')
    .option('--url <url...>', 'domain controllers, ldaps://host[:636] or ldap://host (StartTLS), tried in order')
    .option('--service-account <upn>', 'read-only service account, e.g. svc-portico@corp.example.com')
    .option('--ca-file <file>', 'CA bundle that signed the controllers\u2019 certificates')
    .option('--pinned-sha256 <fingerprint...>', 'pin controller certificates by SHA-256')
    .option('--password-stdin', "read the service account's password from standard input (required for a domain)")
    .option('--delete-existing-users', 'confirm that changing the identity source deletes every provisioned user and their sessions')
    .option('--no-mapping-check', 'do not run `portico mappings check` on the newly connected source')
    .option('--check-limit <n>', `users the mapping check samples (1 to ${maxCheckLimit})`, String(defaultCheckLimit))
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nThe password is stored encrypted with the instance key. Restart Portico to sign in with the new source.\nOnce connected, the attribute mappings are checked against a sample of its users (see `portico mappings check`);\na failed check does not undo the connection.')
    .action(async (options: { managed?: boolean; file?: string; domain?: string; url?: string[]; serviceAccount?: string; caFile?: string; pinnedSha256?: string[]; passwordStdin?: boolean; deleteExistingUsers?: boolean; mappingCheck: boolean; checkLimit: string; json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const limit = checkLimit(options.checkLimit);
        let to: { kind: 'managed' } | { kind: 'connector'; options: DirectoryConnectionOptions };
        if (options.managed) to = { kind: 'managed' };
        else {
          if (!options.passwordStdin) throw new AppError('config.invalid', "--password-stdin is required: the service account's password is read from standard input", { status: 400 });
          to = { kind: 'connector', options: await connectionFrom(options, await readStdinPassword()) };
        }
        const result = await changeIdentitySource(
          {
            connections: instance.connections,
            users: instance.users,
            revokeAllSessions: () => instance.sessions.revokeAll(new Date()),
            audit: instance.audit,
            validate: async (connection) => {
              const { connector, check } = await connectDirectory(connection, { warn: (message) => process.stderr.write(`${message}\n`) });
              await connector.close();
              return check;
            },
          },
          instance.config.directory,
          { to, confirmDeletion: options.deleteExistingUsers ?? false, actor: cliActor },
        );
        const now = to.kind === 'managed' ? 'the managed directory' : `the AD domain ${to.options.domain}`;
        // The connection is made; a check that cannot run is reported, never undoes it.
        let mappingCheck: MappingCheckReport | { error: { code: string; message: string } } | null = null;
        if (options.mappingCheck) {
          try {
            const { connector } = await instance.openSource();
            mappingCheck = await runMappingCheck({ directory: connector, mappings: instance.mappings, audit: instance.audit }, { limit, actor: cliActor, trigger: 'identity-source-connect' });
          } catch (error) {
            mappingCheck = { error: { code: error instanceof AppError ? error.code : 'internal', message: error instanceof Error ? error.message : String(error) } };
          }
        }
        if (json) printJson({ identitySource: to.kind === 'managed' ? { kind: 'managed' } : { kind: 'connector', domain: to.options.domain }, changed: result.changed, deletedUsers: result.deletedUsers, verdict: result.check?.verdict ?? null, mappingCheck });
        else {
          process.stdout.write(`${result.changed ? 'Connected' : 'Updated'}: the identity source is ${now}${result.check ? ` (${result.check.verdict.reason})` : ''}.\n`);
          if (result.deletedUsers > 0) process.stdout.write(`Deleted ${result.deletedUsers} provisioned user(s) of ${describeChoice(result.from)}.\n`);
          if (mappingCheck && 'error' in mappingCheck) process.stdout.write(`The mapping check could not run: ${mappingCheck.error.message}\n`);
          else if (mappingCheck) {
            process.stdout.write('\nAttribute mappings, checked against its users:\n');
            printMappingCheck(mappingCheck);
          }
          process.stdout.write('Restart Portico for the server to use it.\n');
        }
        return exitCodes.ok;
      });
    });
}

function userRow(user: IdentityUser): Record<string, string> {
  return {
    userId: user.userId,
    userName: user.userName,
    displayName: user.displayName ?? '',
    email: user.emails[0]?.value ?? '',
    provisioned: user.provisionedAt.toISOString(),
  };
}


function registerUserCommands(program: Command, loadConfig: LoadConfig): void {
  const users = program
    .command('users')
    .description('users provisioned into the identity store at sign-in (removing one never touches AD)')
    .addHelpText('after', exitCodeHelp);

  users
    .command('list')
    .description('list provisioned users, with when each was last provisioned')
    .option('--prefix <text>', 'only user names starting with this')
    .option('--limit <n>', 'at most this many', (v) => Number.parseInt(v, 10), 100)
    .option('--after <userId>', 'continue after this UserId (the previous page\u2019s last)')
    .option('--json', 'machine-readable output')
    .action(async (options: { prefix?: string; limit: number; after?: string; json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > 1000) throw new AppError('config.invalid', '--limit must be 1 to 1000', { status: 400 });
        const page = await instance.users.list({ limit: options.limit, after: options.after, userNamePrefix: options.prefix });
        if (json) printJson({ users: page.users, next: page.next });
        else if (page.users.length === 0) process.stdout.write('no provisioned users\n');
        else {
          printTable(page.users.map(userRow));
          if (page.next) process.stdout.write(`more: --after ${page.next}\n`);
        }
        return exitCodes.ok;
      });
    });

  users
    .command('show <user>')
    .description('show one provisioned user (by UserId, user name, objectGUID or email) and their live sessions')
    .option('--json', 'machine-readable output')
    .action(async (key: string, options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const user = await findProvisionedUser(instance.users, key);
        const sessions = await instance.sessions.listForUser(user.activeDirectory.guid, new Date());
        if (json) printJson({ user, sessions: sessions.map((s) => ({ id: s.id, createdAt: s.createdAt, expiresAt: s.expiresAt, clientAddress: s.data.clientAddress })) });
        else {
          printFields([
            ['userId', user.userId],
            ['userName', user.userName],
            ['displayName', user.displayName],
            ['email', user.emails[0]?.value],
            ['objectGUID', user.activeDirectory.guid],
            ['objectSid', user.activeDirectory.sid],
            ['domain', user.activeDirectory.domain],
            ['created', user.createdAt.toISOString()],
            ['last provisioned', user.provisionedAt.toISOString()],
            ['live sessions', sessions.length],
          ]);
          process.stdout.write('\nmapped attributes:\n');
          printFields(Object.entries(user.attributes).map(([k, v]): [string, string] => [k, v ?? '']));
        }
        return exitCodes.ok;
      });
    });

  users
    .command('remove <user>')
    .description('remove a provisioned user and end their sessions; AD is not touched, and a user still in AD comes back (with a new UserId) at their next sign-in')
    .option('--json', 'machine-readable output')
    .action(async (key: string, options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const user = await findProvisionedUser(instance.users, key);
        const now = new Date();
        await instance.users.remove(user.userId, now);
        const sessions = await instance.sessions.revokeForUser(user.activeDirectory.guid, now);
        await instance.audit.record({ actor: cliActor, action: 'identity.user.removed', target: user.userId, outcome: 'success', details: { userName: user.userName, guid: user.activeDirectory.guid, sessionsRevoked: sessions } });
        if (json) printJson({ removed: user.userId, userName: user.userName, sessionsRevoked: sessions });
        else process.stdout.write(`Removed ${user.userName} (${user.userId}); ${sessions} session(s) ended. Active Directory was not changed.\n`);
        return exitCodes.ok;
      });
    });

  users
    .command('revoke-sessions <user>')
    .description("end every portal session of a provisioned user (they can sign in again)")
    .option('--json', 'machine-readable output')
    .action(async (key: string, options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const user = await findProvisionedUser(instance.users, key);
        const sessions = await instance.sessions.revokeForUser(user.activeDirectory.guid, new Date());
        await instance.audit.record({ actor: cliActor, action: 'session.revoked', target: user.activeDirectory.guid, outcome: 'success', details: { userName: user.userName, reason: 'revoked', sessions } });
        if (json) printJson({ userName: user.userName, sessionsRevoked: sessions });
        else process.stdout.write(`Ended ${sessions} session(s) of ${user.userName}.\n`);
        return exitCodes.ok;
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

function registerMappingCommands(program: Command, loadConfig: LoadConfig): void {
  const mappings = program
    .command('mappings')
    .description('attribute mappings from AD to the identity store (${dir:…} and ${attribute} templates); see docs/attribute-mappings.md')
    .addHelpText('after', exitCodeHelp);

  mappings
    .command('show')
    .description('print the mapping table in use')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const { table, isDefault } = await instance.mappings.current();
        if (json) printJson({ mappings: table, isDefault });
        else printTableOf(table, isDefault);
        return exitCodes.ok;
      });
    });

  mappings
    .command('set [assignments...]')
    .description('change mappings: `attribute=template` pairs (merged into the table), --file for a whole table, --unset to stop mapping an attribute, --preset for a named table, --reset for the default')
    .option('-f, --file <file>', 'the whole table as YAML or JSON (replaces it)')
    .option('--unset <attribute...>', 'stop mapping these attributes')
    .option('--reset', "go back to Portico's default table (the same as --preset default)")
    .option('--preset <name>', `a named table: ${mappingPresetNames.join(', ')} (Identity Center's own table, which refuses users without initials)`)
    .option('--json', 'machine-readable output')
    .addHelpText('after', "\nExamples:\n  portico mappings set 'email=${dir:email|windowsUpn}' 'name=${dir:lastname}, ${dir:firstname}'\n  portico mappings set --preset identity-center")
    .action(async (assignments: string[], options: { file?: string; unset?: string[]; reset?: boolean; preset?: string; json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        let table: MappingTable;
        if (options.preset !== undefined && (options.reset || options.file || assignments.length > 0 || options.unset)) {
          throw new AppError('config.invalid', '--preset replaces the whole table: give it alone', { status: 400 });
        }
        if (options.preset !== undefined) table = await instance.mappings.usePreset(options.preset, cliActor);
        else if (options.reset) table = await instance.mappings.reset(cliActor);
        else {
          const next: Record<string, unknown> = options.file ? await readMappingFile(options.file) : { ...(await instance.mappings.current()).table };
          for (const assignment of assignments) {
            const at = assignment.indexOf('=');
            if (at <= 0) throw new AppError('identity.mapping_invalid', `"${assignment}" is not attribute=template`, { status: 400 });
            next[assignment.slice(0, at).trim()] = assignment.slice(at + 1);
          }
          for (const name of options.unset ?? []) delete next[name];
          table = await instance.mappings.save(next, cliActor);
        }
        if (json) printJson({ mappings: table });
        else printTableOf(table, (options.reset ?? false) || options.preset === 'default');
        return exitCodes.ok;
      });
    });

  mappings
    .command('preview <user>')
    .description('read a user from the identity source and show every mapped value and the AD attribute it came from')
    .option('--json', 'machine-readable output')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const { table } = await instance.mappings.current();
        const { connector } = await instance.openSource();
        const rows = await preview(connector, table, name);
        const failing = rows.filter((row) => row.error !== null).length;
        if (json) printJson({ user: name, mappings: rows, ok: failing === 0 });
        else {
          printTable(rows.map((row) => ({ attribute: row.target, template: row.template, value: row.value ?? '', from: row.error ?? row.sources.map((s) => s.attribute ?? 'literal').join(' + ') })));
          if (failing > 0) process.stdout.write(`${failing} mapping(s) fail for this user: their sign-in would be refused.\n`);
        }
        return failing === 0 ? exitCodes.ok : exitCodes.refused;
      });
    });

  registerMappingCheck(mappings, loadConfig);
}

function registerMappingCheck(mappings: Command, loadConfig: LoadConfig): void {
  mappings
    .command('check')
    .description('apply the mapping table to a sample of the directory\u2019s users and count, per mapping, the users it would refuse at sign-in and why')
    .option('--limit <n>', `at most this many users, read with a paged search (1 to ${maxCheckLimit})`, String(defaultCheckLimit))
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExit code 3 when some user of the sample would be refused. Disabled accounts are not counted.')
    .action(async (options: { limit: string; json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withInstance(command, loadConfig, json, async (instance) => {
        const limit = checkLimit(options.limit);
        const { connector } = await instance.openSource();
        const report = await runMappingCheck({ directory: connector, mappings: instance.mappings, audit: instance.audit }, { limit, actor: cliActor, trigger: 'on-demand' });
        if (json) printJson(report);
        else printMappingCheck(report);
        return report.refusedUsers === 0 ? exitCodes.ok : exitCodes.refused;
      });
    });
}

async function preview(connector: DirectoryConnector, table: MappingTable, name: string): Promise<ReturnType<typeof explainMappings>> {
  const user = await connector.findUser(name, { attributes: referencedAttributes(table) });
  if (!user) throw new AppError('directory.user_not_found', `no user ${name} in the identity source`, { status: 404 });
  return explainMappings(table, user);
}

export function registerIdentityCommands(program: Command, loadConfig: LoadConfig): void {
  registerIdentitySourceCommands(program, loadConfig);
  registerUserCommands(program, loadConfig);
  registerMappingCommands(program, loadConfig);
}
