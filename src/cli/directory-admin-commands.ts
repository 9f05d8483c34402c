/**
 * `portico directory user|group|ou …`: administer the managed directory — create, update and
 * delete users, groups and OUs, set passwords, enable, disable, unlock, manage members. Each
 * command is one LDAP operation of the engine, as the Administrator, so the directory's own rules
 * (password policy, uniqueness, referential integrity) apply exactly as over LDAP. Passwords are
 * read from standard input, never from the command line.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Config } from '#src/config/index.ts';
import type { DirectoryBackend, Filter, LdapResult, Modification, Session } from '#src/directory/managed/backend.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';
import { escapeDnValue } from '#src/directory/names.ts';
import { AppError } from '#src/shared/errors.ts';
import { withManagedEngine } from './managed-engine.ts';
import { exitCodeHelp, exitCodes } from './output.ts';

type LoadConfig = (file: string | undefined) => Config;

const text = (value: string): Buffer[] => [Buffer.from(value, 'utf8')];

function check(what: string, result: LdapResult): void {
  if (result.resultCode === ResultCode.success) return;
  throw new AppError(result.resultCode === ResultCode.noSuchObject ? 'directory.user_not_found' : 'directory.operation_failed', `${what}: ${result.diagnosticMessage ?? `LDAP result ${result.resultCode}`}`, {
    status: 400,
  });
}

export async function readStdinPassword(): Promise<string> {
  if (process.stdin.isTTY) throw new AppError('config.invalid', '--password-stdin expects the password on standard input (e.g. from a file or a secret manager)', { status: 400 });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!password) throw new AppError('config.invalid', 'no password on standard input', { status: 400 });
  return password;
}

const equals = (attribute: string, value: string): Filter => ({ type: 'equality', attribute, value: Buffer.from(value, 'utf8') });
const kinds: Record<'user' | 'group', Filter> = { user: equals('sAMAccountType', '805306368'), group: equals('objectClass', 'group') };

/** The DN of a user or group named by UPN, DOMAIN\name, sAMAccountName, or a DN itself. */
async function resolveDn(backend: DirectoryBackend, session: Session, baseDn: string, name: string, kind: 'user' | 'group' | 'any'): Promise<string> {
  if (/^(CN|OU)=/i.test(name)) return name;
  // The filter is built as a tree of values, so nothing in `name` can change its shape.
  const bare = name.includes('\\') ? name.slice(name.indexOf('\\') + 1) : name;
  const byName: Filter = name.includes('@') ? { type: 'or', filters: [equals('userPrincipalName', name), equals('sAMAccountName', bare)] } : equals('sAMAccountName', bare);
  const ofKind: Filter = kind === 'any' ? { type: 'or', filters: [kinds.user, kinds.group] } : kinds[kind];
  const found: string[] = [];
  const { result } = await backend.search(
    session,
    { baseObject: baseDn, scope: 'sub', derefAliases: 0, sizeLimit: 2, timeLimit: 10, typesOnly: false, filter: { type: 'and', filters: [ofKind, byName] }, attributes: ['1.1'] },
    [],
    { entry: (entry) => (found.push(entry.objectName), Promise.resolve()), signal: new AbortController().signal },
  );
  if (result.resultCode !== ResultCode.success && result.resultCode !== ResultCode.sizeLimitExceeded) check(`looking up ${name}`, result);
  if (found.length !== 1) {
    throw new AppError(found.length === 0 ? 'directory.user_not_found' : 'directory.ambiguous_user', found.length === 0 ? `no ${kind === 'any' ? 'user or group' : kind} named "${name}"` : `"${name}" names more than one entry`, { status: 404 });
  }
  return found[0] as string;
}

/** The user attributes `create` and `update` accept: option → AD attribute. */
const userAttributeOptions = [
  ['--given-name <name>', 'givenName', 'givenName'],
  ['--surname <name>', 'surname', 'sn'],
  ['--display-name <name>', 'displayName', 'displayName'],
  ['--mail <address>', 'mail', 'mail'],
  ['--title <title>', 'title', 'title'],
  ['--department <department>', 'department', 'department'],
] as const;

function withUserAttributes(command: Command): Command {
  for (const [flags] of userAttributeOptions) command.option(flags);
  return command;
}

function userAttributes(options: Record<string, string | boolean | undefined>): Array<{ type: string; values: Buffer[] }> {
  return userAttributeOptions.filter(([, key]) => typeof options[key] === 'string').map(([, key, type]) => ({ type, values: text(options[key] as string) }));
}

export function registerDirectoryAdminCommands(directory: Command, loadConfig: LoadConfig): void {
  const run = (command: Command, work: (backend: DirectoryBackend, session: Session, baseDn: string, domain: string) => Promise<string>): Promise<void> =>
    withManagedEngine(command, loadConfig, false, async ({ engine }, session) => {
      const domain = loadConfig(command.optsWithGlobals<{ config?: string }>().config).managedDirectory.domain;
      process.stdout.write(`${await work(engine, session, engine.baseDn, domain)}\n`);
      return exitCodes.ok;
    });
  const help = `\nManaged directory only; names are UPNs, DOMAIN\\name, sAMAccountName or DNs.${exitCodeHelp}`;

  const user = directory.command('user').description('manage users of the managed directory').addHelpText('after', help);
  withUserAttributes(user.command('create').argument('<sAMAccountName>'))
    .option('--ou <dn>', 'where to create the user (default CN=Users)')
    .option('--password-stdin', 'read the initial password from standard input; without it the user is created disabled')
    .option('--must-change', 'the user must change the password at the next sign-in')
    .description('create a user (sAMAccountName@domain as UPN)')
    .action(async (sam: string, options: Record<string, string | boolean | undefined>, command: Command) => {
      await run(command, async (backend, session, baseDn, domain) => {
        const password = options.passwordStdin ? await readStdinPassword() : null;
        const display = (options.displayName as string | undefined) ?? ([options.givenName, options.surname].filter(Boolean).join(' ') || sam);
        const dn = `CN=${escapeDnValue(display)},${(options.ou as string | undefined) ?? `CN=Users,${baseDn}`}`;
        const optional = userAttributes(options).filter((a) => a.type !== 'displayName'); // set below, with its default
        check(
          `creating ${dn}`,
          await backend.add(session, {
            entry: dn,
            attributes: [
              { type: 'objectClass', values: text('user') },
              { type: 'sAMAccountName', values: text(sam) },
              { type: 'userPrincipalName', values: text(`${sam}@${domain}`) },
              { type: 'displayName', values: text(display) },
              ...optional,
              ...(password ? [{ type: 'unicodePwd', values: [Buffer.from(`"${password}"`, 'utf16le')] }] : []),
              { type: 'userAccountControl', values: text(password ? '512' : '514') },
            ],
          }),
        );
        if (options.mustChange) check('requiring a password change', await backend.modify(session, dn, [{ operation: 'replace', type: 'pwdLastSet', values: text('0') }]));
        return `created ${dn}${password ? '' : ' (disabled: no password yet)'}`;
      });
    });

  const userChange = (name: string, description: string, changes: (dn: string) => Promise<Modification[]> | Modification[]): void => {
    user
      .command(name)
      .argument('<user>')
      .description(description)
      .action(async (who: string, _options: unknown, command: Command) => {
        await run(command, async (backend, session, baseDn) => {
          const dn = await resolveDn(backend, session, baseDn, who, 'user');
          check(`${name} ${dn}`, await backend.modify(session, dn, await changes(dn)));
          return `${name}: ${dn}`;
        });
      });
  };
  userChange('enable', 'allow the user to sign in', () => [{ operation: 'replace', type: 'userAccountControl', values: text('512') }]);
  userChange('disable', 'stop the user from signing in (AD answers 533)', () => [{ operation: 'replace', type: 'userAccountControl', values: text('514') }]);
  userChange('unlock', 'clear a lockout', () => [{ operation: 'replace', type: 'lockoutTime', values: text('0') }]);

  user
    .command('set-password')
    .argument('<user>')
    .requiredOption('--password-stdin', 'read the new password from standard input')
    .option('--must-change', 'the user must change it at the next sign-in')
    .description("reset a user's password (the domain's password policy applies)")
    .action(async (who: string, options: { mustChange?: boolean }, command: Command) => {
      await run(command, async (backend, session, baseDn) => {
        const password = await readStdinPassword();
        const dn = await resolveDn(backend, session, baseDn, who, 'user');
        check(`setting the password of ${dn}`, await backend.modify(session, dn, [{ operation: 'replace', type: 'unicodePwd', values: [Buffer.from(`"${password}"`, 'utf16le')] }]));
        if (options.mustChange) check('requiring a password change', await backend.modify(session, dn, [{ operation: 'replace', type: 'pwdLastSet', values: text('0') }]));
        return `password set: ${dn}`;
      });
    });

  withUserAttributes(user.command('update').argument('<user>'))
    .description("change a user's attributes")
    .action(async (who: string, options: Record<string, string | undefined>, command: Command) => {
      await run(command, async (backend, session, baseDn) => {
        const changes = userAttributes(options).map((a): Modification => ({ operation: 'replace', ...a }));
        if (changes.length === 0) throw new AppError('config.invalid', 'nothing to change: give at least one attribute option', { status: 400 });
        const dn = await resolveDn(backend, session, baseDn, who, 'user');
        check(`updating ${dn}`, await backend.modify(session, dn, changes));
        return `updated ${dn}`;
      });
    });

  const remove = (parent: Command, kind: 'user' | 'group'): void => {
    parent
      .command('delete')
      .argument(`<${kind}>`)
      .description(`delete a ${kind} (memberships are removed with it)`)
      .action(async (who: string, _options: unknown, command: Command) => {
        await run(command, async (backend, session, baseDn) => {
          const dn = await resolveDn(backend, session, baseDn, who, kind);
          check(`deleting ${dn}`, await backend.delete(session, dn));
          return `deleted ${dn}`;
        });
      });
  };
  remove(user, 'user');

  const group = directory.command('group').description('manage groups of the managed directory').addHelpText('after', help);
  group
    .command('create')
    .argument('<name>')
    .option('--ou <dn>', 'where to create the group (default CN=Users)')
    .addOption(new Option('--scope <scope>', 'group scope').choices(['global', 'domainLocal', 'universal']).default('global'))
    .option('--distribution', 'a distribution group (no security: not in tokenGroups)')
    .description('create a group')
    .action(async (name: string, options: { ou?: string; scope: 'global' | 'domainLocal' | 'universal'; distribution?: boolean }, command: Command) => {
      await run(command, async (backend, session, baseDn) => {
        const scope = { global: 0x2, domainLocal: 0x4, universal: 0x8 }[options.scope];
        const groupType = (scope | (options.distribution ? 0 : 0x80000000)) | 0;
        const dn = `CN=${escapeDnValue(name)},${options.ou ?? `CN=Users,${baseDn}`}`;
        check(
          `creating ${dn}`,
          await backend.add(session, {
            entry: dn,
            attributes: [
              { type: 'objectClass', values: text('group') },
              { type: 'sAMAccountName', values: text(name) },
              { type: 'groupType', values: text(String(groupType)) },
            ],
          }),
        );
        return `created ${dn}`;
      });
    });
  remove(group, 'group');
  for (const [name, operation] of [
    ['add-member', 'add'],
    ['remove-member', 'delete'],
  ] as const) {
    group
      .command(name)
      .argument('<group>')
      .argument('<member>', 'a user or a group')
      .description(`${operation === 'add' ? 'add a user or group to' : 'remove a user or group from'} a group`)
      .action(async (groupName: string, member: string, _options: unknown, command: Command) => {
        await run(command, async (backend, session, baseDn) => {
          const groupDn = await resolveDn(backend, session, baseDn, groupName, 'group');
          const memberDn = await resolveDn(backend, session, baseDn, member, 'any');
          check(`${name} ${memberDn}`, await backend.modify(session, groupDn, [{ operation, type: 'member', values: [Buffer.from(memberDn)] }]));
          return `${name}: ${memberDn} ${operation === 'add' ? 'in' : 'no longer in'} ${groupDn}`;
        });
      });
  }

  const ou = directory.command('ou').description('manage organizational units of the managed directory').addHelpText('after', help);
  ou.command('create')
    .argument('<name>')
    .option('--parent <dn>', 'parent OU or container (default the domain root)')
    .description('create an organizational unit')
    .action(async (name: string, options: { parent?: string }, command: Command) => {
      await run(command, async (backend, session, baseDn) => {
        const dn = `OU=${escapeDnValue(name)},${options.parent ?? baseDn}`;
        check(`creating ${dn}`, await backend.add(session, { entry: dn, attributes: [{ type: 'objectClass', values: text('organizationalUnit') }] }));
        return `created ${dn}`;
      });
    });
  ou.command('delete')
    .argument('<dn>')
    .description('delete an empty organizational unit')
    .action(async (dn: string, _options: unknown, command: Command) => {
      await run(command, async (backend, session) => {
        check(`deleting ${dn}`, await backend.delete(session, dn));
        return `deleted ${dn}`;
      });
    });
}
