/**
 * `portico directory user|group|ou|deleted …`: administer the managed directory — create, update and
 * delete users, groups and OUs, list and restore deleted objects, set passwords, enable, disable, unlock, manage members. Each
 * command calls the admin API's managed-directory routes (admin/directory-routes.ts), which run
 * the operation on the engine as the Administrator, so the directory's own rules (password
 * policy, uniqueness, referential integrity) apply exactly as over LDAP, and audit it. Passwords
 * are read from standard input, never from the command line, and sent only in a request body.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { GroupScope, UserAttributeField } from '#src/directory/managed/administration.ts';
import { AppError } from '#src/shared/errors.ts';
import { addAdminOptions, withAdminApi, type AdminClient, type LoadConfig } from './admin-client.ts';

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

const BASE = '/directory/managed';
const q = encodeURIComponent;

export function registerDirectoryAdminCommands(directory: Command, loadConfig: LoadConfig): void {
  /** One API call; prints its one-line outcome (or the JSON answer under --json). */
  const run = (command: Command, work: (api: AdminClient) => Promise<{ line: string; answer: unknown }>): Promise<void> =>
    withAdminApi(command, loadConfig, async (api, json) => {
      const { line, answer } = await work(api);
      process.stdout.write(json ? `${JSON.stringify(answer ?? {}, null, 2)}\n` : `${line}\n`);
    });
  const help = '\nManaged directory only (via the admin API); names are UPNs, DOMAIN\\name, sAMAccountName or DNs.';
  const admin = (command: Command): Command => addAdminOptions(command, help);

  const user = directory.command('user').description('manage users of the managed directory (via the admin API)');
  admin(
    withUserAttributes(user.command('create').argument('<sAMAccountName>'))
      .option('--ou <dn>', 'where to create the user (default CN=Users)')
      .option('--password-stdin', 'read the initial password from standard input; without it the user is created disabled')
      .option('--must-change', 'the user must change the password at the next sign-in')
      .description('create a user (sAMAccountName@domain as UPN)'),
  ).action(async (sam: string, options: Record<string, string | boolean | undefined>, command: Command) => {
    await run(command, async (api) => {
      const password = options.passwordStdin ? await readStdinPassword() : undefined;
      const created = await api.call<{ dn: string; enabled: boolean }>('POST', `${BASE}/users`, {
        sam,
        ...userAttributes(options),
        ...(typeof options.ou === 'string' ? { ou: options.ou } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(options.mustChange === true ? { mustChange: true } : {}),
      });
      return { line: `created ${created.dn}${created.enabled ? '' : ' (disabled: no password yet)'}`, answer: created };
    });
  });

  const userChange = (name: 'enable' | 'disable' | 'unlock', description: string): void => {
    admin(user.command(name).argument('<user>').description(description)).action(async (who: string, _options: unknown, command: Command) => {
      await run(command, async (api) => {
        const changed = await api.call<{ dn: string }>('POST', `${BASE}/users/${q(who)}/${name}`);
        return { line: `${name}: ${changed.dn}`, answer: changed };
      });
    });
  };
  userChange('enable', 'allow the user to sign in');
  userChange('disable', 'stop the user from signing in (AD answers 533); the Administrator Portico administers as is refused');
  userChange('unlock', 'clear a lockout');

  admin(
    user
      .command('set-password')
      .argument('<user>')
      .requiredOption('--password-stdin', 'read the new password from standard input')
      .option('--must-change', 'the user must change it at the next sign-in')
      .description("reset a user's password (the domain's password policy applies; a violation exits 2 naming the rule)"),
  ).action(async (who: string, options: { mustChange?: boolean }, command: Command) => {
    await run(command, async (api) => {
      const password = await readStdinPassword();
      const changed = await api.call<{ dn: string }>('POST', `${BASE}/users/${q(who)}/password`, { password, ...(options.mustChange === true ? { mustChange: true } : {}) });
      return { line: `password set: ${changed.dn}`, answer: changed };
    });
  });

  admin(withUserAttributes(user.command('update').argument('<user>')).description("change a user's attributes")).action(async (who: string, options: Record<string, string | undefined>, command: Command) => {
    await run(command, async (api) => {
      const changes = userAttributes(options);
      if (Object.keys(changes).length === 0) throw new AppError('config.invalid', 'nothing to change: give at least one attribute option', { status: 400 });
      const changed = await api.call<{ dn: string }>('PATCH', `${BASE}/users/${q(who)}`, changes);
      return { line: `updated ${changed.dn}`, answer: changed };
    });
  });

  const remove = (parent: Command, kind: 'user' | 'group'): void => {
    admin(parent.command('delete').argument(`<${kind}>`).description(`delete a ${kind} (memberships are removed with it)`)).action(async (who: string, _options: unknown, command: Command) => {
      await run(command, async (api) => {
        await api.call('DELETE', `${BASE}/${kind}s/${q(who)}`);
        return { line: `deleted ${who}`, answer: { deleted: who } };
      });
    });
  };
  remove(user, 'user');

  const group = directory.command('group').description('manage groups of the managed directory (via the admin API)');
  admin(
    group
      .command('create')
      .argument('<name>')
      .option('--ou <dn>', 'where to create the group (default CN=Users)')
      .addOption(new Option('--scope <scope>', 'group scope').choices(['global', 'domainLocal', 'universal']).default('global'))
      .option('--distribution', 'a distribution group (no security: not in tokenGroups)')
      .description('create a group'),
  ).action(async (name: string, options: { ou?: string; scope: GroupScope; distribution?: boolean }, command: Command) => {
    await run(command, async (api) => {
      const created = await api.call<{ dn: string }>('POST', `${BASE}/groups`, { name, scope: options.scope, distribution: options.distribution === true, ...(options.ou !== undefined ? { ou: options.ou } : {}) });
      return { line: `created ${created.dn}`, answer: created };
    });
  });
  remove(group, 'group');
  admin(group.command('add-member').argument('<group>').argument('<member>', 'a user or a group').description('add a user or group to a group')).action(async (groupName: string, member: string, _options: unknown, command: Command) => {
    await run(command, async (api) => {
      const changed = await api.call<{ group: string; member: string }>('POST', `${BASE}/groups/${q(groupName)}/members`, { member });
      return { line: `add-member: ${changed.member} in ${changed.group}`, answer: changed };
    });
  });
  admin(group.command('remove-member').argument('<group>').argument('<member>', 'a user or a group').description('remove a user or group from a group')).action(async (groupName: string, member: string, _options: unknown, command: Command) => {
    await run(command, async (api) => {
      await api.call('DELETE', `${BASE}/groups/${q(groupName)}/members/${q(member)}`);
      return { line: `remove-member: ${member} no longer in ${groupName}`, answer: { group: groupName, member } };
    });
  });

  const ou = directory.command('ou').description('manage organizational units of the managed directory (via the admin API)');
  admin(ou.command('create').argument('<name>').option('--parent <dn>', 'parent OU or container (default the domain root)').description('create an organizational unit')).action(
    async (name: string, options: { parent?: string }, command: Command) => {
      await run(command, async (api) => {
        const created = await api.call<{ dn: string }>('POST', `${BASE}/ous`, { name, ...(options.parent !== undefined ? { parent: options.parent } : {}) });
        return { line: `created ${created.dn}`, answer: created };
      });
    },
  );
  admin(ou.command('delete').argument('<dn>').description('delete an empty organizational unit (refused while it holds entries)')).action(async (dn: string, _options: unknown, command: Command) => {
    await run(command, async (api) => {
      await api.call('DELETE', `${BASE}/ous/${q(dn)}`);
      return { line: `deleted ${dn}`, answer: { deleted: dn } };
    });
  });

  const deleted = directory
    .command('deleted')
    .description('deleted objects (tombstones): kept for directory.managed.tombstoneLifetimeDays (180 by default), then purged; restorable until then');
  admin(deleted.command('list').description('the deleted objects still kept, with their objectGUID and last known parent')).action(async (_options: unknown, command: Command) => {
    await run(command, async (api) => {
      const { deleted: objects } = await api.call<{ deleted: Array<{ guid: string; name: string; kind: string; lastKnownParent: string | null; deletedAt: string | null }> }>('GET', `${BASE}/deleted`);
      const lines = objects.map((o) => `${o.guid}  ${o.kind}  ${o.name}  (was under ${o.lastKnownParent ?? '?'}, deleted ${o.deletedAt ?? '?'})`);
      return { line: lines.length > 0 ? lines.join('\n') : 'no deleted objects are kept', answer: { deleted: objects } };
    });
  });
  admin(
    deleted
      .command('restore')
      .argument('<object>', 'objectGUID of the deleted object, or the name (CN) it had')
      .option('--ou <dn>', 'where to restore it (default: its last known parent)')
      .description("restore a deleted object (AD's undelete): same objectGUID and objectSid, its attributes, password and memberships back"),
  ).action(async (name: string, options: { ou?: string }, command: Command) => {
    await run(command, async (api) => {
      const restored = await api.call<{ dn: string; guid: string }>('POST', `${BASE}/deleted/${q(name)}/restore`, options.ou !== undefined ? { ou: options.ou } : {});
      return { line: `restored ${restored.dn} (${restored.guid})`, answer: restored };
    });
  });
}
