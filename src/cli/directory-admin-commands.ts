/**
 * `portico directory user|group|ou …`: administer the managed directory — create, update and
 * delete users, groups and OUs, set passwords, enable, disable, unlock, manage members. Each
 * command is one operation of src/directory/managed/administration.ts (the admin API runs the
 * same ones), on the engine as the Administrator, so the directory's own rules (password policy,
 * uniqueness, referential integrity) apply exactly as over LDAP. Passwords are read from standard
 * input, never from the command line.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Config } from '#src/config/index.ts';
import * as administration from '#src/directory/managed/administration.ts';
import type { AdministrationTarget, GroupScope, UserAttributeField, UserAttributes } from '#src/directory/managed/administration.ts';
import { AppError } from '#src/shared/errors.ts';
import { withManagedEngine } from './managed-engine.ts';
import { exitCodeHelp, exitCodes } from './output.ts';

type LoadConfig = (file: string | undefined) => Config;

export async function readStdinPassword(): Promise<string> {
  if (process.stdin.isTTY) throw new AppError('config.invalid', '--password-stdin expects the password on standard input (e.g. from a file or a secret manager)', { status: 400 });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!password) throw new AppError('config.invalid', 'no password on standard input', { status: 400 });
  return password;
}

/** The user attributes `create` and `update` accept: option → field of administration.ts. */
const userAttributeOptions: ReadonlyArray<readonly [flags: string, field: UserAttributeField]> = [
  ['--given-name <name>', 'givenName'],
  ['--surname <name>', 'surname'],
  ['--initials <initials>', 'initials'],
  ['--display-name <name>', 'displayName'],
  ['--mail <address>', 'mail'],
  ['--title <title>', 'title'],
  ['--department <department>', 'department'],
];

function withUserAttributes(command: Command): Command {
  for (const [flags] of userAttributeOptions) command.option(flags);
  return command;
}

function userAttributes(options: Record<string, string | boolean | undefined>): Partial<Record<UserAttributeField, string>> {
  const attributes: Partial<Record<UserAttributeField, string>> = {};
  for (const [, field] of userAttributeOptions) {
    const value = options[field];
    if (typeof value === 'string') attributes[field] = value;
  }
  return attributes;
}

export function registerDirectoryAdminCommands(directory: Command, loadConfig: LoadConfig): void {
  const run = (command: Command, work: (target: AdministrationTarget) => Promise<string>): Promise<void> =>
    withManagedEngine(command, loadConfig, false, async ({ engine }, session) => {
      const domain = loadConfig(command.optsWithGlobals<{ config?: string }>().config).managedDirectory.domain;
      process.stdout.write(`${await work({ backend: engine, session, baseDn: engine.baseDn, domain })}\n`);
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
      await run(command, async (target) => {
        const password = options.passwordStdin ? await readStdinPassword() : null;
        const { dn, enabled } = await administration.createUser(target, {
          sam,
          ...userAttributes(options),
          ...(typeof options.ou === 'string' ? { ou: options.ou } : {}),
          password,
          mustChange: options.mustChange === true,
        });
        return `created ${dn}${enabled ? '' : ' (disabled: no password yet)'}`;
      });
    });

  const userChange = (name: 'enable' | 'disable' | 'unlock', description: string, change: (target: AdministrationTarget, who: string) => Promise<string>): void => {
    user
      .command(name)
      .argument('<user>')
      .description(description)
      .action(async (who: string, _options: unknown, command: Command) => {
        await run(command, async (target) => `${name}: ${await change(target, who)}`);
      });
  };
  userChange('enable', 'allow the user to sign in', administration.enableUser);
  userChange('disable', 'stop the user from signing in (AD answers 533)', administration.disableUser);
  userChange('unlock', 'clear a lockout', administration.unlockUser);

  user
    .command('set-password')
    .argument('<user>')
    .requiredOption('--password-stdin', 'read the new password from standard input')
    .option('--must-change', 'the user must change it at the next sign-in')
    .description("reset a user's password (the domain's password policy applies)")
    .action(async (who: string, options: { mustChange?: boolean }, command: Command) => {
      await run(command, async (target) => {
        const password = await readStdinPassword();
        return `password set: ${await administration.setPassword(target, who, password, options.mustChange === true)}`;
      });
    });

  withUserAttributes(user.command('update').argument('<user>'))
    .description("change a user's attributes")
    .action(async (who: string, options: Record<string, string | undefined>, command: Command) => {
      await run(command, async (target) => {
        const changes: UserAttributes = userAttributes(options);
        if (Object.keys(changes).length === 0) throw new AppError('config.invalid', 'nothing to change: give at least one attribute option', { status: 400 });
        return `updated ${await administration.updateUser(target, who, changes)}`;
      });
    });

  const remove = (parent: Command, kind: 'user' | 'group'): void => {
    parent
      .command('delete')
      .argument(`<${kind}>`)
      .description(`delete a ${kind} (memberships are removed with it)`)
      .action(async (who: string, _options: unknown, command: Command) => {
        await run(command, async (target) => `deleted ${await (kind === 'user' ? administration.deleteUser : administration.deleteGroup)(target, who)}`);
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
    .action(async (name: string, options: { ou?: string; scope: GroupScope; distribution?: boolean }, command: Command) => {
      await run(command, async (target) => {
        const dn = await administration.createGroup(target, { name, scope: options.scope, distribution: options.distribution === true, ...(options.ou !== undefined ? { ou: options.ou } : {}) });
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
        await run(command, async (target) => {
          const changed = await (operation === 'add' ? administration.addMember : administration.removeMember)(target, groupName, member);
          return `${name}: ${changed.member} ${operation === 'add' ? 'in' : 'no longer in'} ${changed.group}`;
        });
      });
  }

  const ou = directory.command('ou').description('manage organizational units of the managed directory').addHelpText('after', help);
  ou.command('create')
    .argument('<name>')
    .option('--parent <dn>', 'parent OU or container (default the domain root)')
    .description('create an organizational unit')
    .action(async (name: string, options: { parent?: string }, command: Command) => {
      await run(command, async (target) => `created ${await administration.createOu(target, { name, ...(options.parent !== undefined ? { parent: options.parent } : {}) })}`);
    });
  ou.command('delete')
    .argument('<dn>')
    .description('delete an empty organizational unit')
    .action(async (dn: string, _options: unknown, command: Command) => {
      await run(command, async (target) => `deleted ${await administration.deleteOu(target, dn)}`);
    });
}
