/**
 * `portico directory …`: look at the identity source the way Portico sees it — the configured
 * self-managed AD domain, or else the managed directory with its trusted forests. Read-only.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { ForestCheck } from '#src/directory/trust.ts';
import { groupResolutionMethods } from '#src/directory/options.ts';
import type { GroupResolutionMethod } from '#src/directory/options.ts';
import type { DirectoryConnector, DirectoryUser } from '#src/directory/types.ts';
import { AppError } from '#src/shared/errors.ts';
import { registerDirectoryAdminCommands } from './directory-admin-commands.ts';
import { withInstance, type LoadConfig } from './instance.ts';
import { registerLdifCommands } from './ldif-commands.ts';
import { exitCodeHelp, exitCodes, printFields, printJson, printTable } from './output.ts';


interface Target {
  connector: DirectoryConnector;
  /** The managed directory (read in-process), rather than a connector to a self-managed AD. */
  managed: boolean;
}

/**
 * The identity source: the configured or connected self-managed AD domain, or else the managed
 * directory, opened in this process on ephemeral loopback listeners.
 */
async function withTarget(command: Command, loadConfig: LoadConfig, json: boolean, work: (target: Target) => Promise<number>): Promise<void> {
  await withInstance(command, loadConfig, json, async (instance) => {
    const { choice, connector } = await instance.openSource();
    return work({ connector, managed: choice.kind === 'managed' });
  });
}

function describeUser(user: DirectoryUser): Array<[string, string | number | null]> {
  return [
    ['guid', user.guid],
    ['sid', user.sid],
    ['dn', user.dn],
    ['userPrincipalName', user.userPrincipalName],
    ['logon name', `${user.netbiosName}\\${user.samAccountName}`],
    ['displayName', user.displayName],
    ['mail', user.mail],
    ['state', user.account.state],
    ['conditions', user.account.conditions.join(', ') || '-'],
    ['accountExpires', user.account.accountExpires?.toISOString() ?? 'never'],
    ['passwordLastSet', user.account.passwordLastSet?.toISOString() ?? (user.attributes.pwdLastSet?.[0] === '0' ? 'must change' : null)],
  ];
}

export function registerDirectoryCommands(program: Command, loadConfig: LoadConfig): void {
  const directory = program
    .command('directory')
    .description('inspect the identity source: the configured AD domain, or else the managed directory and its trusts (read-only)')
    .addHelpText('after', exitCodeHelp);
  registerLdifCommands(directory, loadConfig);
  registerDirectoryAdminCommands(directory, loadConfig);

  directory
    .command('check')
    .description('connect, discover the domain from its rootDSE, validate it and print the verdict')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nA Samba-based directory (Simple AD) is refused unless the lab override `directory.allowSamba` is set.' + exitCodeHelp)
    .action(async (options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withTarget(command, loadConfig, json, async ({ connector, managed }) => {
        const check = await connector.check();
        const trusts = 'trusts' in check ? (check as ForestCheck).trusts : [];
        const usable = managed || check.verdict.accepted;
        if (json) printJson({ ...check, canReadUsers: managed || check.verdict.accepted ? check.canReadUsers : null, managed, trusts: trusts.map(({ domain, ok, reason }) => ({ domain, ok, reason })) });
        else {
          const { info, verdict } = check;
          const headline = managed ? `MANAGED: Portico's managed directory ${info.domain}` : `${verdict.accepted ? 'ACCEPTED' : 'REFUSED'}: ${verdict.reason}`;
          process.stdout.write(`${headline}\n`);
          if (!managed) for (const warning of verdict.warnings) process.stdout.write(`warning: ${warning}\n`);
          printFields([
            ['domain', info.domain],
            ['NetBIOS name', info.netbiosName],
            ['base DN', info.baseDn],
            ['domain SID', info.domainSid],
            ['DNS host name', info.rootDse.dnsHostName],
            ['vendor', info.rootDse.vendorName ?? '(none: Microsoft AD)'],
            ['domain level', info.rootDse.domainFunctionality],
            ['forest level', info.rootDse.forestFunctionality],
            ['global catalog ready', info.rootDse.isGlobalCatalogReady],
            ['naming contexts', info.rootDse.namingContexts.join('; ')],
            ['capabilities', info.rootDse.supportedCapabilities.length],
            ['controls', info.rootDse.supportedControls.length],
            ['lockout threshold', info.lockoutThreshold],
            // Read access is tried only on an accepted directory: a refused one was not tested.
            ...(managed ? [] : ([['service account reads users', verdict.accepted ? check.canReadUsers : 'not tested (the directory was refused)']] as Array<[string, boolean | string]>)),
          ]);
          if (!managed) printTable(check.controllers.map((c) => ({ controller: c.url, state: c.up ? 'up' : 'down', error: c.lastError ?? '' })));
          for (const trust of trusts) process.stdout.write(`trust ${trust.domain}: ${trust.ok ? 'OK' : 'BROKEN'}: ${trust.reason}\n`);
        }
        if (trusts.some((t) => !t.ok)) return exitCodes.refused;
        return usable ? exitCodes.ok : exitCodes.refused;
      });
    });

  directory
    .command('find-user')
    .description('look a user up by UPN (explicit or implicit sAMAccountName@domain), DOMAIN\\sAMAccountName, sAMAccountName, DN or objectGUID')
    .argument('<user>', 'alice@corp.example.test, CORP\\alice, CORP.EXAMPLE.TEST\\alice, alice, a DN or a GUID')
    .option('--json', 'print JSON')
    .addHelpText('after', exitCodeHelp)
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withTarget(command, loadConfig, json, async ({ connector }) => {
        const user = /^[0-9a-f-]{36}$/i.test(name) ? await connector.findUserByGuid(name) : await connector.findUser(name);
        if (!user) throw new AppError('directory.user_not_found', `no user matches "${name}"`, { status: 404 });
        if (json) printJson(user);
        else printFields(describeUser(user));
        return exitCodes.ok;
      });
    });

  directory
    .command('groups-of')
    .description("list a user's groups, transitively (nested groups included)")
    .argument('<user>', 'alice@corp.example.test, CORP\\alice or alice')
    .addOption(new Option('--method <method>', 'how to resolve nesting').choices(groupResolutionMethods))
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Methods:
  tokenGroups          the DC's constructed attribute (default; fastest: one read, ~ms)
  matchingRuleInChain  LDAP_MATCHING_RULE_IN_CHAIN, a diagnostic to cross-check tokenGroups: the DC
                       evaluates the chain for every group of the domain; on a 2,000-user domain this
                       took 5-8 s per user, close to the 10 s operation timeout. Never use it for sign-in.
  recursive            memberOf walked level by level, cycle-safe (one search per nesting level)
Every method gives the same answer: security groups reached through security groups, primary group
included. Distribution groups carry no access in AD and are neither listed nor walked through.
${exitCodeHelp}`,
    )
    .action(async (name: string, options: { json?: boolean; method?: GroupResolutionMethod }, command: Command) => {
      const json = options.json ?? false;
      await withTarget(command, loadConfig, json, async ({ connector }) => {
        const user = await connector.findUser(name);
        if (!user) throw new AppError('directory.user_not_found', `no user matches "${name}"`, { status: 404 });
        const started = performance.now();
        const result = await connector.groupsOf(user, options.method);
        const elapsedMs = Math.round(performance.now() - started);
        if (json) printJson({ user: { guid: user.guid, userPrincipalName: user.userPrincipalName }, ...result, elapsedMs });
        else {
          printTable(result.groups.map((g) => ({ group: g.qualifiedName, kind: g.kind, scope: g.scope, guid: g.guid })));
          process.stdout.write(`${result.groups.length} groups by ${result.method} in ${elapsedMs} ms\n`);
          for (const warning of result.warnings) process.stdout.write(`warning: ${warning}\n`);
        }
        return exitCodes.ok;
      });
    });

  directory
    .command('search')
    .description('find users and groups whose name, UPN, sAMAccountName or mail starts with a prefix')
    .argument('<prefix>', 'the beginning of a name')
    .addOption(new Option('--type <type>', 'only users or only groups').choices(['user', 'group']))
    .option('--limit <n>', 'at most this many results', (v) => Number.parseInt(v, 10), 50)
    .option('--json', 'print JSON')
    .addHelpText('after', exitCodeHelp)
    .action(async (prefix: string, options: { json?: boolean; type?: 'user' | 'group'; limit: number }, command: Command) => {
      const json = options.json ?? false;
      await withTarget(command, loadConfig, json, async ({ connector }) => {
        const result = await connector.searchPrincipals(prefix, {
          limit: options.limit,
          ...(options.type ? { types: [options.type] } : {}),
        });
        if (json) printJson(result);
        else {
          printTable(
            result.principals.map((p) => ({
              type: p.type,
              name: p.type === 'group' ? p.qualifiedName : (p.userPrincipalName ?? p.samAccountName),
              display: p.type === 'group' ? '' : (p.displayName ?? ''),
              guid: p.guid,
            })),
          );
          if (result.more) process.stdout.write(`more results exist; narrow the prefix or raise --limit\n`);
        }
        return exitCodes.ok;
      });
    });
}
