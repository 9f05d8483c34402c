/**
 * `portico directory …`: look at the configured AD domain the way Portico sees it. Read-only:
 * nothing here writes to the directory.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Config } from '#src/config/index.ts';
import { createAdConnector } from '#src/directory/connector.ts';
import { groupResolutionMethods } from '#src/directory/options.ts';
import type { GroupResolutionMethod } from '#src/directory/options.ts';
import type { DirectoryConnector, DirectoryUser } from '#src/directory/types.ts';
import { AppError } from '#src/shared/errors.ts';
import { exitCodeHelp, exitCodes, printFields, printJson, printTable, reportError } from './output.ts';

interface GlobalOptions {
  config?: string;
}

type LoadConfig = (file: string | undefined) => Config;

async function withConnector(
  command: Command,
  loadConfig: LoadConfig,
  json: boolean,
  work: (connector: DirectoryConnector) => Promise<number>,
): Promise<void> {
  let connector: DirectoryConnector | null = null;
  try {
    const config = loadConfig(command.optsWithGlobals<GlobalOptions>().config);
    if (!config.directory) {
      throw new AppError('config.invalid', 'no directory is configured: set the `directory` section (see README, "Connecting a directory")', {
        status: 400,
      });
    }
    connector = createAdConnector(config.directory, { warn: (message) => process.stderr.write(`${message}\n`) });
    process.exitCode = await work(connector);
  } catch (error) {
    process.exitCode = reportError(error, json);
  } finally {
    await connector?.close();
  }
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
    .description('inspect the configured Active Directory domain (read-only)')
    .addHelpText('after', exitCodeHelp);

  directory
    .command('check')
    .description('connect, discover the domain from its rootDSE, validate it and print the verdict')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nA Samba-based directory (Simple AD) is refused unless the lab override `directory.allowSamba` is set.' + exitCodeHelp)
    .action(async (options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withConnector(command, loadConfig, json, async (connector) => {
        const check = await connector.check();
        if (json) printJson(check);
        else {
          const { info, verdict } = check;
          process.stdout.write(`${verdict.accepted ? 'ACCEPTED' : 'REFUSED'}: ${verdict.reason}\n`);
          for (const warning of verdict.warnings) process.stdout.write(`warning: ${warning}\n`);
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
            ['service account reads users', check.canReadUsers],
          ]);
          printTable(check.controllers.map((c) => ({ controller: c.url, state: c.up ? 'up' : 'down', error: c.lastError ?? '' })));
        }
        return check.verdict.accepted ? exitCodes.ok : exitCodes.refused;
      });
    });

  directory
    .command('find-user')
    .description('look a user up by UPN, DOMAIN\\sAMAccountName, sAMAccountName or objectGUID')
    .argument('<user>', 'alice@corp.example.test, CORP\\alice, alice or a GUID')
    .option('--json', 'print JSON')
    .addHelpText('after', exitCodeHelp)
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const json = options.json ?? false;
      await withConnector(command, loadConfig, json, async (connector) => {
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
  tokenGroups          the DC's constructed attribute: security groups only, primary group included (default; fastest)
  matchingRuleInChain  LDAP_MATCHING_RULE_IN_CHAIN: security and distribution groups, plus the primary group (slow on large domains)
  recursive            memberOf walked level by level, cycle-safe: security and distribution groups, plus the primary group
${exitCodeHelp}`,
    )
    .action(async (name: string, options: { json?: boolean; method?: GroupResolutionMethod }, command: Command) => {
      const json = options.json ?? false;
      await withConnector(command, loadConfig, json, async (connector) => {
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
      await withConnector(command, loadConfig, json, async (connector) => {
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
