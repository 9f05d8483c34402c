/**
 * `portico directory …`: look at the identity source the way Portico sees it. Read-only.
 *
 * With a `directory` section in the configuration, check/find-user/groups-of/search connect to
 * that AD from this process: a pre-flight that works before Portico is started (it needs the
 * configuration file only, never the database). Otherwise — the managed directory, with its
 * trusted forests, or a domain connected at run time — they ask the running server's admin API,
 * which reads through its own connector.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { createAdConnector } from '#src/directory/connector.ts';
import { carriesAccess } from '#src/directory/group-rule.ts';
import type { ForestCheck } from '#src/directory/trust.ts';
import { groupResolutionMethods } from '#src/directory/options.ts';
import type { GroupResolutionMethod } from '#src/directory/options.ts';
import type { DirectoryConnector, DirectoryUser } from '#src/directory/types.ts';
import { AppError } from '#src/shared/errors.ts';
import { addAdminOptions, reporting, withAdminApi, type AdminClient, type LoadConfig } from './admin-client.ts';
import { registerDirectoryAdminCommands } from './directory-admin-commands.ts';
import { registerLdifCommands } from './ldif-commands.ts';
import { exitCodeHelp, exitCodes, printFields, printJson, printTable } from './output.ts';

/** Either this process's connector to the configured AD, or the running server's admin API. */
type Target = { kind: 'local'; connector: DirectoryConnector } | { kind: 'api'; api: AdminClient };

async function withTarget(command: Command, loadConfig: LoadConfig, work: (target: Target, json: boolean) => Promise<number | void>): Promise<void> {
  const options = command.optsWithGlobals<{ config?: string; json?: boolean }>();
  const json = options.json ?? false;
  let connector: DirectoryConnector | null = null;
  await reporting(json, async () => {
    const configured = loadConfig(options.config).directory;
    if (configured === undefined) return withAdminApi(command, loadConfig, (api) => work({ kind: 'api', api }, json)).then(() => process.exitCode as number);
    // The pre-flight: the configured AD, read from this process.
    connector = createAdConnector(configured, { warn: (message) => process.stderr.write(`${message}\n`) });
    try {
      return await work({ kind: 'local', connector }, json);
    } finally {
      await connector.close();
    }
  });
}

const q = encodeURIComponent;

/** A date as the connector gives it (Date) or the API answers it (ISO text). */
const iso = (value: Date | string | null | undefined): string | null => (value === null || value === undefined ? null : value instanceof Date ? value.toISOString() : String(value));

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
    ['accountExpires', iso(user.account.accountExpires) ?? 'never'],
    ['passwordLastSet', iso(user.account.passwordLastSet) ?? (user.attributes.pwdLastSet?.[0] === '0' ? 'must change' : null)],
  ];
}

type Check = Omit<ForestCheck, 'canReadUsers'> & { managed: boolean; canReadUsers: boolean | null };

async function findUser(target: Target, name: string): Promise<DirectoryUser> {
  if (target.kind === 'api') return target.api.call<DirectoryUser>('GET', `/directory/users/${q(name)}`);
  const user = /^[0-9a-f-]{36}$/i.test(name) ? await target.connector.findUserByGuid(name) : await target.connector.findUser(name);
  if (!user) throw new AppError('directory.user_not_found', `no user matches "${name}"`, { status: 404 });
  return user;
}

const where = `
Where: with a \`directory\` section in the configuration, this process connects to that AD (works
before Portico is started; needs no token). Otherwise it asks the running Portico's admin API
(--url or PORTICO_URL, and PORTICO_ADMIN_TOKEN or --token-file): the managed directory and its
trusted forests, or a domain connected with \`portico identity-source connect\`.`;

export function registerDirectoryCommands(program: Command, loadConfig: LoadConfig): void {
  const directory = program
    .command('directory')
    .description('the identity source: inspect it (the configured AD domain, or else the managed directory and its trusts), and administer the managed directory')
    .addHelpText('after', exitCodeHelp);
  registerLdifCommands(directory, loadConfig);
  registerDirectoryAdminCommands(directory, loadConfig);

  addAdminOptions(
    directory.command('check').description('connect, discover the domain from its rootDSE, validate it and print the verdict'),
    `\nA Samba-based directory (Simple AD) is refused unless the lab override \`directory.allowSamba\` is set.\nExit code 3 when the directory is refused or a trusted forest is broken.${where}`,
  ).action(async (_options: unknown, command: Command) => {
    await withTarget(command, loadConfig, async (target, json) => {
      let check: Check;
      if (target.kind === 'api') check = await target.api.call<Check>('GET', '/directory/check');
      else {
        const raw = await target.connector.check();
        check = { ...raw, trusts: [], managed: false, canReadUsers: raw.verdict.accepted ? raw.canReadUsers : null };
      }
      const { managed, trusts } = check;
      const usable = managed || check.verdict.accepted;
      if (json) printJson(check);
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
          ...(managed ? [] : ([['service account reads users', check.canReadUsers ?? 'not tested (the directory was refused)']] as Array<[string, boolean | string]>)),
        ]);
        if (!managed) printTable(check.controllers.map((c) => ({ controller: c.url, state: c.up ? 'up' : 'down', error: c.lastError ?? '' })));
        for (const trust of trusts) process.stdout.write(`trust ${trust.domain}: ${trust.ok ? 'OK' : 'BROKEN'}: ${trust.reason}\n`);
      }
      if (trusts.some((t) => !t.ok)) return exitCodes.refused;
      return usable ? exitCodes.ok : exitCodes.refused;
    });
  });

  addAdminOptions(
    directory
      .command('find-user')
      .description('look a user up by UPN (explicit or implicit sAMAccountName@domain), DOMAIN\\sAMAccountName, sAMAccountName, DN or objectGUID')
      .argument('<user>', 'alice@corp.example.test, CORP\\alice, CORP.EXAMPLE.TEST\\alice, alice, a DN or a GUID'),
    where,
  ).action(async (name: string, _options: unknown, command: Command) => {
    await withTarget(command, loadConfig, async (target, json) => {
      const user = await findUser(target, name);
      if (json) printJson(user);
      else printFields(describeUser(user));
    });
  });

  addAdminOptions(
    directory
      .command('groups-of')
      .description("list a user's groups, transitively (nested groups included)")
      .argument('<user>', 'alice@corp.example.test, CORP\\alice or alice')
      .addOption(new Option('--method <method>', 'how to resolve nesting').choices(groupResolutionMethods)),
    `
Methods:
  tokenGroups          the DC's constructed attribute (default; fastest: one read, ~ms)
  matchingRuleInChain  LDAP_MATCHING_RULE_IN_CHAIN, a diagnostic to cross-check tokenGroups: the DC
                       evaluates the chain for every group of the domain; on a 2,000-user domain this
                       took 5-8 s per user, close to the 10 s operation timeout. Never use it for sign-in.
  recursive            memberOf walked level by level, cycle-safe (one search per nesting level)
Every method gives the same answer: security groups reached through security groups, primary group
included. Distribution groups carry no access in AD and are neither listed nor walked through.
${where}`,
  ).action(async (name: string, options: { method?: GroupResolutionMethod }, command: Command) => {
    await withTarget(command, loadConfig, async (target, json) => {
      type Result = { user: { guid: string; userPrincipalName: string | null }; method: string; groups: Array<{ qualifiedName: string; kind: string; scope: string; guid: string }>; warnings: string[]; elapsedMs: number };
      let result: Result;
      if (target.kind === 'api') result = await target.api.call<Result>('GET', `/directory/users/${q(name)}/groups${options.method ? `?method=${options.method}` : ''}`);
      else {
        const user = await findUser(target, name);
        const started = performance.now();
        const groups = await target.connector.groupsOf(user, options.method);
        result = { user: { guid: user.guid, userPrincipalName: user.userPrincipalName }, ...groups, elapsedMs: Math.round(performance.now() - started) };
      }
      if (json) return printJson(result);
      printTable(result.groups.map((g) => ({ group: g.qualifiedName, kind: g.kind, scope: g.scope, guid: g.guid })));
      process.stdout.write(`${result.groups.length} groups by ${result.method} in ${result.elapsedMs} ms\n`);
      for (const warning of result.warnings) process.stdout.write(`warning: ${warning}\n`);
    });
  });

  addAdminOptions(
    directory
      .command('search')
      .description('find users and groups whose name, UPN, sAMAccountName or mail starts with a prefix')
      .argument('<prefix>', 'the beginning of a name')
      .addOption(new Option('--type <type>', 'only users or only groups').choices(['user', 'group']))
      .option('--limit <n>', 'at most this many results (1 to 200)', (v) => Number.parseInt(v, 10), 50),
    where,
  ).action(async (prefix: string, options: { type?: 'user' | 'group'; limit: number }, command: Command) => {
    await withTarget(command, loadConfig, async (target, json) => {
      type Found = { principals: Array<{ type: 'user' | 'group'; guid: string; name: string; displayName: string | null; mail: string | null; grantsAccess: boolean; groupKind: string | null }>; more: boolean };
      let result: Found;
      if (target.kind === 'api') {
        result = await target.api.call<Found>('GET', `/directory/principals?${String(new URLSearchParams({ q: prefix, limit: String(options.limit), ...(options.type ? { type: options.type } : {}) }))}`);
      } else {
        const found = await target.connector.searchPrincipals(prefix, { limit: options.limit, ...(options.type ? { types: [options.type] } : {}) });
        // The admin API's shape, so that --json reads the same either way.
        result = {
          principals: found.principals.map((p) =>
            p.type === 'user'
              ? { type: 'user', guid: p.guid, name: p.userPrincipalName ?? p.samAccountName, displayName: p.displayName, mail: p.mail, grantsAccess: true, groupKind: null }
              : { type: 'group', guid: p.guid, name: p.qualifiedName, displayName: null, mail: null, grantsAccess: carriesAccess(p), groupKind: p.kind },
          ),
          more: found.more,
        };
      }
      if (json) return printJson(result);
      printTable(result.principals.map((p) => ({ type: p.type, name: p.name, display: p.displayName ?? '', guid: p.guid })));
      if (result.more) process.stdout.write('more results exist; narrow the prefix or raise --limit\n');
    });
  });
}
