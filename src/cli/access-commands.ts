/**
 * `portico accounts|permission-sets|applications|assignments|access …`: the access model, through
 * a running Portico's admin API (admin-client.ts), so that every change is validated, limited and
 * audited by the server exactly as the console's are. Tables and fields for people, the API's
 * JSON with --json.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { z } from 'zod';
import type * as schemas from '#src/admin/schemas.ts';
import { AppError } from '#src/shared/errors.ts';
import { addAdminOptions, adminExitCodeHelp, adminExitCodes, usageError, withAdminApi, type AdminClient, type LoadConfig } from './admin-client.ts';
import { printFields, printJson, printTable } from './output.ts';

type Account = z.output<typeof schemas.account>;
type PermissionSet = z.output<typeof schemas.permissionSet>;
type Application = z.output<typeof schemas.application>;
type Assignment = z.output<typeof schemas.assignment>;
type Grant = z.output<typeof schemas.userAccess>['entitlements']['applications'][number]['grants'][number];
type UserAccess = z.output<typeof schemas.userAccess>;
type WhoCanReach = z.output<typeof schemas.whoCanReach>;

const seg = (value: string): string => encodeURIComponent(value);
/** For repeatable options: `--tag a=1 --tag b=2`. */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function keyValues(pairs: readonly string[], option: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw usageError(`${option}: "${pair.slice(0, 100)}" is not key=value`);
    result[pair.slice(0, at).trim()] = pair.slice(at + 1);
  }
  return result;
}

async function readText(file: string, what: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: unknown) => {
    throw new AppError('config.file_unreadable', `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { status: 400 });
  });
}

/** Only the fields given: PATCH changes those and keeps the rest. */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

const tagsText = (tags: Record<string, string> | undefined): string =>
  Object.entries(tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

/** "via user", or "via group A ← B ← C": the assigned group first, down to the user's own group. */
export function describeGrant(grant: Grant): string {
  if (grant.type === 'user') return 'via user';
  const path = grant.path.length > 0 ? [...grant.path].reverse() : [grant.name];
  return `via group ${path.join(' ← ')}`;
}

function group(program: Command, name: string, description: string): Command {
  return program.command(name).description(description).addHelpText('after', adminExitCodeHelp);
}

/** A leaf command with --url, --token-file, --json and the exit codes in its help. */
function leaf(parent: Command, nameAndArgs: string, description: string, help = ''): Command {
  return addAdminOptions(parent.command(nameAndArgs).description(description), help);
}

function deleted(json: boolean, what: string, id: string): number {
  if (json) printJson({ deleted: id });
  else process.stdout.write(`Deleted ${what} ${id}.\n`);
  return adminExitCodes.ok;
}

// ---- accounts -------------------------------------------------------------------------------

interface AccountOptions {
  id?: string;
  name?: string;
  email?: string;
  ou?: string;
  signInUrl?: string;
  tag?: string[];
}

function accountFields(options: AccountOptions): Record<string, unknown> {
  return defined({
    id: options.id,
    name: options.name,
    email: options.email,
    organizationalUnit: options.ou,
    signInUrl: options.signInUrl,
    tags: options.tag ? keyValues(options.tag, '--tag') : undefined,
  });
}

function printAccount(account: Account): void {
  printFields([
    ['id', account.id],
    ['name', account.name],
    ['email', account.email],
    ['organizational unit', account.organizationalUnit],
    ['sign-in URL', account.signInUrl ?? "AWS's sign-in endpoint"],
    ['tags', tagsText(account.tags) || '-'],
  ]);
}

function registerAccountCommands(program: Command, loadConfig: LoadConfig): void {
  const accounts = group(program, 'accounts', 'cloud accounts people reach through permission sets (through the admin API of a running Portico)');

  leaf(accounts, 'list', 'list the accounts').action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { accounts: listed } = await api.call<{ accounts: Account[] }>('GET', '/accounts');
      if (json) printJson({ accounts: listed });
      else if (listed.length === 0) process.stdout.write('no accounts; add one with `portico accounts create --id <12 digits> --name <name> --email <email>`\n');
      else printTable(listed.map((a) => ({ id: a.id, name: a.name, email: a.email, 'organizational unit': a.organizationalUnit ?? '', tags: tagsText(a.tags) })));
    });
  });

  leaf(accounts, 'show <account>', 'show one account (by id or name) and the permission sets assigned in it (their IAM roles: portico aws provisioning list)').action(async (key: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const shown = await api.call<{ account: Account; provisioned: Array<{ permissionSetId: string; provisionedAt: string }> }>('GET', `/accounts/${seg(key)}`);
      if (json) return printJson(shown);
      printAccount(shown.account);
      if (shown.provisioned.length === 0) {
        process.stdout.write('\nno permission sets assigned in this account (assign one with `portico assignments create`)\n');
        return;
      }
      const { permissionSets } = await api.call<{ permissionSets: PermissionSet[] }>('GET', '/permission-sets');
      const names = new Map(permissionSets.map((p) => [p.id, p.name]));
      process.stdout.write('\npermission sets assigned in this account:\n');
      printTable(shown.provisioned.map((p) => ({ 'permission set': names.get(p.permissionSetId) ?? '', id: p.permissionSetId, since: p.provisionedAt })));
    });
  });

  leaf(accounts, 'create', 'add a cloud account')
    .requiredOption('--id <id>', 'the AWS account id (12 digits)')
    .requiredOption('--name <name>', 'a unique name, 1–50 characters')
    .requiredOption('--email <email>', "the account's root email address")
    .option('--ou <name>', 'organizational unit')
    .option('--sign-in-url <url>', "where console assertions are posted (default: AWS's sign-in endpoint)")
    .option('--tag <key=value>', 'a tag (repeatable)', collect)
    .action(async (options: AccountOptions, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const account = await api.call<Account>('POST', '/accounts', { tags: {}, ...accountFields(options) });
        if (json) printJson(account);
        else process.stdout.write(`Created account ${account.name} (${account.id}).\n`);
      });
    });

  leaf(accounts, 'update <account>', 'change an account (by id or name); the id stays. Only the options given change; --tag replaces all tags')
    .option('--name <name>', 'a unique name, 1–50 characters')
    .option('--email <email>', "the account's root email address")
    .option('--ou <name>', 'organizational unit')
    .option('--sign-in-url <url>', 'where console assertions are posted')
    .option('--tag <key=value>', 'a tag (repeatable; replaces all tags)', collect)
    .option('--clear-tags', 'remove every tag')
    .action(async (key: string, options: AccountOptions & { clearTags?: boolean }, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const patch = { ...accountFields(options), ...(options.clearTags ? { tags: {} } : {}) };
        if (Object.keys(patch).length === 0) throw usageError('nothing to change: give --name, --email, --ou, --sign-in-url, --tag or --clear-tags');
        const account = await api.call<Account>('PATCH', `/accounts/${seg(key)}`, patch);
        if (json) printJson(account);
        else process.stdout.write(`Updated account ${account.name} (${account.id}).\n`);
      });
    });

  leaf(accounts, 'delete <account>', 'remove an account (by id or name); refused while it has assignments').action(async (key: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      await api.call('DELETE', `/accounts/${seg(key)}`);
      return deleted(json, 'account', key);
    });
  });
}

// ---- permission sets ------------------------------------------------------------------------

interface PermissionSetOptions {
  description?: string;
  sessionDuration?: string;
  relayState?: string;
  managedPolicy?: string[];
  inlinePolicyFile?: string;
  customerManagedPolicy?: string[];
  permissionsBoundary?: string;
  tag?: string[];
}

/** `name[:path]`: the path (default /) must start and end with a slash. */
function customerManagedPolicy(text: string): { name: string; path?: string } {
  const at = text.indexOf(':');
  return at < 0 ? { name: text } : { name: text.slice(0, at), path: text.slice(at + 1) };
}

async function permissionSetFields(options: PermissionSetOptions): Promise<Record<string, unknown>> {
  const boundary = options.permissionsBoundary;
  return defined({
    description: options.description,
    sessionDuration: options.sessionDuration,
    relayState: options.relayState,
    managedPolicies: options.managedPolicy,
    // Sent as written: the server checks it is a JSON policy document and says where it is not.
    inlinePolicy: options.inlinePolicyFile === undefined ? undefined : await readText(options.inlinePolicyFile, 'the inline policy file'),
    customerManagedPolicies: options.customerManagedPolicy?.map(customerManagedPolicy),
    permissionsBoundary: boundary === undefined ? undefined : boundary.startsWith('arn:') ? { managedPolicyArn: boundary } : { customerManagedPolicy: customerManagedPolicy(boundary) },
    tags: options.tag ? keyValues(options.tag, '--tag') : undefined,
  });
}

function permissionSetOptions(command: Command, replacing: boolean): Command {
  const lists = replacing ? ' (repeatable; replaces the list)' : ' (repeatable)';
  return command
    .option('--description <text>', 'what it is for (up to 700 characters)')
    .option('--session-duration <duration>', 'console session length, ISO-8601: PT1H (default) to PT12H, e.g. PT4H')
    .option('--relay-state <url>', 'where the console opens after sign-in')
    .option('--managed-policy <arn>', `an AWS managed policy ARN, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess${lists}`, collect)
    .option('--inline-policy-file <file>', 'a JSON IAM policy document to embed')
    .option('--customer-managed-policy <name[:path]>', `a customer managed policy by name and path (default /)${lists}`, collect)
    .option('--permissions-boundary <arn|name[:path]>', 'a permissions boundary: an AWS managed policy ARN, or a customer managed policy name[:path]')
    .option('--tag <key=value>', `a tag${lists}`, collect);
}

function printPermissionSet(set: PermissionSet): void {
  const boundary = set.permissionsBoundary;
  printFields([
    ['id', set.id],
    ['name', set.name],
    ['description', set.description],
    ['session duration', set.sessionDuration],
    ['relay state', set.relayState],
    ['managed policies', set.managedPolicies.join(', ') || '-'],
    ['customer managed policies', set.customerManagedPolicies.map((p) => `${p.path}${p.name}`).join(', ') || '-'],
    ['permissions boundary', boundary === undefined ? undefined : 'managedPolicyArn' in boundary ? boundary.managedPolicyArn : `${boundary.customerManagedPolicy.path}${boundary.customerManagedPolicy.name}`],
    ['inline policy', set.inlinePolicy === undefined ? undefined : `${Buffer.byteLength(set.inlinePolicy)} bytes`],
    ['tags', tagsText(set.tags) || '-'],
  ]);
  if (set.inlinePolicy !== undefined) process.stdout.write(`\ninline policy:\n${set.inlinePolicy.trimEnd()}\n`);
}

function registerPermissionSetCommands(program: Command, loadConfig: LoadConfig): void {
  const sets = group(program, 'permission-sets', 'permission sets: the policies people get in an account they are assigned to (through the admin API of a running Portico)');

  leaf(sets, 'list', 'list the permission sets').action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { permissionSets } = await api.call<{ permissionSets: PermissionSet[] }>('GET', '/permission-sets');
      if (json) printJson({ permissionSets });
      else if (permissionSets.length === 0) process.stdout.write('no permission sets; create one with `portico permission-sets create <name>`\n');
      else {
        printTable(
          permissionSets.map((p) => ({
            id: p.id,
            name: p.name,
            session: p.sessionDuration,
            policies: [`${p.managedPolicies.length} managed`, `${p.customerManagedPolicies.length} customer`, p.inlinePolicy === undefined ? '' : 'inline'].filter(Boolean).join(', '),
            description: p.description ?? '',
          })),
        );
      }
    });
  });

  leaf(sets, 'show <permission-set>', 'show one permission set (by id or name)').action(async (key: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const set = await api.call<PermissionSet>('GET', `/permission-sets/${seg(key)}`);
      if (json) printJson(set);
      else printPermissionSet(set);
    });
  });

  permissionSetOptions(leaf(sets, 'create <name>', 'create a permission set (name: 1–32 of letters, digits and +=,.@_-)'), false).action(async (name: string, options: PermissionSetOptions, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const set = await api.call<PermissionSet>('POST', '/permission-sets', { name, ...(await permissionSetFields(options)) });
      if (json) printJson(set);
      else process.stdout.write(`Created permission set ${set.name} (${set.id}).\n`);
    });
  });

  permissionSetOptions(leaf(sets, 'update <permission-set>', 'change a permission set (by id or name); the name stays. Only the options given change'), true).action(
    async (key: string, options: PermissionSetOptions, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const patch = await permissionSetFields(options);
        if (Object.keys(patch).length === 0) throw usageError('nothing to change: give at least one option (see --help)');
        const set = await api.call<PermissionSet>('PATCH', `/permission-sets/${seg(key)}`, patch);
        if (json) printJson(set);
        else process.stdout.write(`Updated permission set ${set.name} (${set.id}).\n`);
      });
    },
  );

  leaf(sets, 'delete <permission-set>', 'delete a permission set (by id or name); refused while it has assignments').action(async (key: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      await api.call('DELETE', `/permission-sets/${seg(key)}`);
      return deleted(json, 'permission set', key);
    });
  });
}

// ---- applications ---------------------------------------------------------------------------

interface ApplicationOptions {
  name?: string;
  description?: string;
  entityId?: string;
  acsUrl?: string[];
  nameIdFormat?: string;
  startUrl?: string;
  relayState?: string;
  sessionDuration?: string;
  attribute?: string[];
  signingCertificateFile?: string;
  encryptionCertificateFile?: string;
  signResponse?: boolean;
  logoutUrl?: string;
  tag?: string[];
}

async function applicationFields(options: ApplicationOptions): Promise<Record<string, unknown>> {
  return defined({
    name: options.name,
    description: options.description,
    entityId: options.entityId,
    acsUrls: options.acsUrl,
    nameIdFormat: options.nameIdFormat,
    startUrl: options.startUrl,
    relayState: options.relayState,
    sessionDuration: options.sessionDuration,
    attributeMappings: options.attribute?.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw usageError(`--attribute: "${pair.slice(0, 100)}" is not name=template (e.g. email=\${user:email})`);
      return { name: pair.slice(0, at), value: pair.slice(at + 1) };
    }),
    signingCertificate: options.signingCertificateFile === undefined ? undefined : await readText(options.signingCertificateFile, 'the signing certificate file'),
    encryptionCertificate: options.encryptionCertificateFile === undefined ? undefined : await readText(options.encryptionCertificateFile, 'the encryption certificate file'),
    signResponse: options.signResponse,
    logoutUrl: options.logoutUrl,
    tags: options.tag ? keyValues(options.tag, '--tag') : undefined,
  });
}

/** The options every way of creating or changing an application shares. */
function applicationOptions(command: Command, replacing: boolean): Command {
  const lists = replacing ? ' (repeatable; replaces the list)' : ' (repeatable)';
  return command
    .option('--description <text>', 'what it is (up to 700 characters)')
    .option('--name-id-format <format>', 'persistent (default), emailAddress, unspecified or transient')
    .option('--start-url <url>', "where the portal tile sends people: the application's own sign-in page (it then asks Portico); without it the tile posts an unsolicited assertion")
    .option('--relay-state <text>', 'relay state sent with IdP-initiated assertions')
    .option('--sign-response', 'sign the Response as well as the assertion (some service providers require it)')
    .option('--logout-url <url>', "the SP's single-logout URL (HTTP-Redirect), where LogoutResponses go")
    .option('--session-duration <duration>', 'ISO-8601: PT15M to PT12H (default PT1H)')
    .option('--attribute <name=template>', `an assertion attribute, e.g. email=\${user:email}${lists}`, collect)
    .option('--signing-certificate-file <file>', "the SP's signing certificate (PEM): its AuthnRequests must then be signed")
    .option('--encryption-certificate-file <file>', "the SP's encryption certificate (PEM): assertions are then encrypted")
    .option('--tag <key=value>', `a tag${lists}`, collect);
}

function printApplication(app: Application): void {
  printFields([
    ['id', app.id],
    ['name', app.name],
    ['description', app.description],
    ['entity id', app.entityId],
    ['ACS URLs', app.acsUrls.join(', ')],
    ['NameID format', app.nameIdFormat],
    ['start URL', app.startUrl],
    ['relay state', app.relayState],
    ['session duration', app.sessionDuration],
    ['signed requests', app.signingCertificate === undefined ? 'not required' : 'required'],
    ['encrypted assertions', app.encryptionCertificate === undefined ? 'no' : 'yes'],
    ['signed Response', app.signResponse ? 'yes' : 'no (the assertion is signed)'],
    ['logout URL', app.logoutUrl],
    ['tags', tagsText(app.tags) || '-'],
  ]);
  if (app.attributeMappings.length > 0) {
    process.stdout.write('\nattributes:\n');
    printTable(app.attributeMappings.map((m) => ({ name: m.name, value: m.value, format: m.format })));
  }
}

function registerApplicationCommands(program: Command, loadConfig: LoadConfig): void {
  const apps = group(program, 'applications', 'SAML applications people sign in to through Portico (through the admin API of a running Portico)');

  leaf(apps, 'list', 'list the applications').action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { applications } = await api.call<{ applications: Application[] }>('GET', '/applications');
      if (json) printJson({ applications });
      else if (applications.length === 0) process.stdout.write('no applications; add one with `portico applications create` or `portico applications import-metadata`\n');
      else printTable(applications.map((a) => ({ id: a.id, name: a.name, 'entity id': a.entityId, 'ACS URL': a.acsUrls[0] ?? '', 'name id': a.nameIdFormat })));
    });
  });

  leaf(apps, 'show <application>', 'show one application (by id or name)').action(async (key: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const app = await api.call<Application>('GET', `/applications/${seg(key)}`);
      if (json) printJson(app);
      else printApplication(app);
    });
  });

  applicationOptions(
    leaf(apps, 'create', 'register a SAML service provider by hand')
      .requiredOption('--name <name>', 'a unique name')
      .requiredOption('--entity-id <id>', "the SP's entity ID (the audience of its assertions)")
      .option('--acs-url <url>', 'an assertion consumer service URL, https (http only on loopback); repeatable, the first is the default', collect),
    false,
  ).action(async (options: ApplicationOptions, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const app = await api.call<Application>('POST', '/applications', { acsUrls: [], ...(await applicationFields(options)) });
      if (json) printJson(app);
      else process.stdout.write(`Created application ${app.name} (${app.id}).\n`);
    });
  });

  applicationOptions(
    leaf(apps, 'import-metadata <file>', "register a SAML service provider from its metadata XML (entity ID, ACS URLs, NameID format and certificates); the options add or override fields")
      .requiredOption('--name <name>', 'a unique name')
      .option('--acs-url <url>', 'ACS URLs instead of the metadata\u2019s (repeatable)', collect),
    false,
  ).action(async (file: string, options: ApplicationOptions, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const metadata = await readText(file, 'the metadata file');
      const app = await api.call<Application>('POST', '/applications/from-metadata', { metadata, application: await applicationFields(options) });
      if (json) printJson(app);
      else process.stdout.write(`Created application ${app.name} (${app.id}) for ${app.entityId}.\n`);
    });
  });

  applicationOptions(
    leaf(apps, 'update <application>', 'change an application (by id or name); the name stays. Only the options given change')
      .option('--entity-id <id>', "the SP's entity ID")
      .option('--acs-url <url>', 'an assertion consumer service URL (repeatable; replaces the list)', collect),
    true,
  ).action(async (key: string, options: ApplicationOptions, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const patch = await applicationFields(options);
      if (Object.keys(patch).length === 0) throw usageError('nothing to change: give at least one option (see --help)');
      const app = await api.call<Application>('PATCH', `/applications/${seg(key)}`, patch);
      if (json) printJson(app);
      else process.stdout.write(`Updated application ${app.name} (${app.id}).\n`);
    });
  });

  leaf(apps, 'delete <application>', 'delete an application (by id or name); refused while it has assignments').action(async (key: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      await api.call('DELETE', `/applications/${seg(key)}`);
      return deleted(json, 'application', key);
    });
  });
}

// ---- assignments ----------------------------------------------------------------------------

/** An objectGUID as is; a UPN or name@domain looked up in the directory (exact name, case-insensitive). */
async function principalGuid(api: AdminClient, name: string): Promise<string> {
  if (GUID.test(name)) return name;
  const bare = name.includes('\\') ? name.slice(name.indexOf('\\') + 1) : name.includes('@') ? name.slice(0, name.indexOf('@')) : name;
  const { principals } = await api.call<{ principals: Array<{ type: string; guid: string; name: string }> }>('GET', `/directory/principals?q=${seg(bare)}&limit=200`);
  const wanted = name.toLowerCase();
  const found = principals.filter((p) => p.name.toLowerCase() === wanted);
  if (found.length !== 1) {
    throw new AppError('access.principal_not_found', found.length === 0 ? `no user or group named "${name.slice(0, 100)}" (give a UPN, name@domain or objectGUID)` : `"${name.slice(0, 100)}" names more than one principal: give its objectGUID`, { status: 404 });
  }
  return (found[0] as { guid: string }).guid;
}

interface Names {
  account(id: string): string;
  permissionSet(id: string): string;
  application(id: string): string;
}

async function loadNames(api: AdminClient): Promise<Names> {
  const [{ accounts }, { permissionSets }, { applications }] = await Promise.all([
    api.call<{ accounts: Account[] }>('GET', '/accounts'),
    api.call<{ permissionSets: PermissionSet[] }>('GET', '/permission-sets'),
    api.call<{ applications: Application[] }>('GET', '/applications'),
  ]);
  const index = (items: Array<{ id: string; name: string }>) => new Map(items.map((i) => [i.id, i.name]));
  const [a, p, s] = [index(accounts), index(permissionSets), index(applications)];
  return { account: (id) => a.get(id) ?? id, permissionSet: (id) => p.get(id) ?? id, application: (id) => s.get(id) ?? id };
}

function describeTarget(assignment: Assignment, names: Names): string {
  const { target } = assignment;
  return target.type === 'account'
    ? `account ${names.account(target.accountId)} (${target.accountId}) with ${names.permissionSet(target.permissionSetId)}`
    : `application ${names.application(target.applicationId)}`;
}

interface AssignmentListOptions {
  account?: string;
  permissionSet?: string;
  application?: string;
  principal?: string;
}

interface AssignmentCreateOptions {
  user?: string;
  group?: string;
  account?: string;
  permissionSet?: string;
  application?: string;
}

function assignmentInput(options: AssignmentCreateOptions): Record<string, unknown> {
  if ((options.user === undefined) === (options.group === undefined)) throw usageError('give exactly one of --user <upn> or --group <name@domain>');
  const principal = options.user !== undefined ? { type: 'user', id: options.user } : { type: 'group', id: options.group };
  if (options.application !== undefined) {
    if (options.account !== undefined || options.permissionSet !== undefined) throw usageError('--application cannot be combined with --account or --permission-set');
    return { principal, target: { type: 'application', applicationId: options.application } };
  }
  if (options.account === undefined || options.permissionSet === undefined) throw usageError('give --account <id> with --permission-set <id|name>, or --application <id|name>');
  return { principal, target: { type: 'account', accountId: options.account, permissionSetId: options.permissionSet } };
}

function registerAssignmentCommands(program: Command, loadConfig: LoadConfig): void {
  const assignments = group(program, 'assignments', 'who (an AD user or group) gets what (an account with a permission set, or an application), through the admin API of a running Portico');

  leaf(assignments, 'list', 'list assignments, optionally only those of an account, permission set, application or principal')
    .option('--account <id|name>', 'only this account')
    .option('--permission-set <id|name>', 'only this permission set')
    .option('--application <id|name>', 'only this application')
    .option('--principal <upn|name@domain|objectGUID>', 'only this user or group (its own assignments; not those of the groups it is in: see `portico access explain`)')
    .action(async (options: AssignmentListOptions, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const query = new URLSearchParams();
        // The filters take ids: names are resolved first, so that a typo is "not found" rather than an empty list.
        if (options.account !== undefined) query.set('accountId', (await api.call<{ account: Account }>('GET', `/accounts/${seg(options.account)}`)).account.id);
        if (options.permissionSet !== undefined) query.set('permissionSetId', (await api.call<PermissionSet>('GET', `/permission-sets/${seg(options.permissionSet)}`)).id);
        if (options.application !== undefined) query.set('applicationId', (await api.call<Application>('GET', `/applications/${seg(options.application)}`)).id);
        if (options.principal !== undefined) query.set('principal', await principalGuid(api, options.principal));
        const search = query.toString() === '' ? '' : `?${query.toString()}`;
        const { assignments: listed } = await api.call<{ assignments: Assignment[] }>('GET', `/assignments${search}`);
        if (json) return printJson({ assignments: listed });
        if (listed.length === 0) {
          process.stdout.write('no assignments\n');
          return;
        }
        const names = await loadNames(api);
        printTable(
          listed.map((a) => ({
            id: a.id,
            principal: `${a.principal.type} ${a.principal.name}`,
            target: a.target.type === 'account' ? `account ${names.account(a.target.accountId)} (${a.target.accountId})` : `application ${names.application(a.target.applicationId)}`,
            'permission set': a.target.type === 'account' ? names.permissionSet(a.target.permissionSetId) : '',
            created: a.createdAt,
          })),
        );
      });
    });

  leaf(
    assignments,
    'create',
    'assign a user or group to an account with a permission set, or to an application',
    '\nExamples:\n  portico assignments create --group Engineering@corp.example.com --account 111122223333 --permission-set ReadOnly\n  portico assignments create --user alice@corp.example.com --application Wiki\n',
  )
    .option('--user <upn>', 'an AD user: UPN, DOMAIN\\name or objectGUID')
    .option('--group <name@domain>', 'an AD security group: name@domain or objectGUID (nested security groups count; a distribution group is refused: it carries no access)')
    .option('--account <id|name>', 'the account (with --permission-set)')
    .option('--permission-set <id|name>', 'the permission set people get in the account')
    .option('--application <id|name>', 'the application (instead of --account)')
    .action(async (options: AssignmentCreateOptions, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const body = assignmentInput(options);
        const created = await api.call<{ assignment: Assignment; provisioned: boolean; provisioning: { status: string; message: string | null; roleArn: string | null } | null }>('POST', '/assignments', body);
        if (json) return printJson(created);
        const { assignment } = created;
        process.stdout.write(`Assigned ${assignment.principal.type} ${assignment.principal.name} to ${describeTarget(assignment, await loadNames(api))} (assignment ${assignment.id}).\n`);
        // Said only once the IAM role exists (AWS provisioning with a management identity).
        if (created.provisioned) process.stdout.write(`The permission set was provisioned into the account (${created.provisioning?.roleArn ?? 'IAM role'}).\n`);
        else if (created.provisioning !== null) process.stdout.write(`Provisioning into the account ${created.provisioning.status}: ${created.provisioning.message ?? ''}\nFix the cause, then: portico aws provisioning reprovision --account ${assignment.target.type === 'account' ? assignment.target.accountId : ''}\n`);
      });
    });

  leaf(assignments, 'delete <id>', 'remove an assignment (its id, from `portico assignments list`)').action(async (id: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      await api.call('DELETE', `/assignments/${seg(id)}`);
      return deleted(json, 'assignment', id);
    });
  });
}

// ---- access ---------------------------------------------------------------------------------

function registerAccessQueryCommands(program: Command, loadConfig: LoadConfig): void {
  const access = group(program, 'access', 'what a person can reach, and who can reach an account or application, with the AD group paths (read from AD now)');

  leaf(access, 'explain <user>', 'what a user (UPN, DOMAIN\\name or objectGUID) can reach: each account and permission set, and each application, with how: "via user" or "via group A ← B ← C" (the assigned group A first, down to the group the user is directly in)').action(
    async (user: string, _options: unknown, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const result = await api.call<UserAccess>('GET', `/access/users/${seg(user)}`);
        if (json) return printJson(result);
        const { entitlements } = result;
        process.stdout.write(`${result.user.userName}${result.user.displayName ? ` (${result.user.displayName})` : ''}: in ${result.groups.length} group(s)\n`);
        process.stdout.write('\naccounts:\n');
        if (entitlements.accounts.length === 0) process.stdout.write('  none\n');
        for (const { account, permissionSets } of entitlements.accounts) {
          for (const { permissionSet, grants } of permissionSets) {
            for (const grant of grants) process.stdout.write(`  ${account.name} (${account.id}) → ${permissionSet.name}: ${describeGrant(grant)}\n`);
          }
        }
        process.stdout.write('\napplications:\n');
        if (entitlements.applications.length === 0) process.stdout.write('  none\n');
        for (const { application, grants } of entitlements.applications) {
          for (const grant of grants) process.stdout.write(`  ${application.name} (${application.id}): ${describeGrant(grant)}\n`);
        }
        if (entitlements.groupsTruncated) process.stdout.write('\nwarning: the user is in more groups than are evaluated; assignments to the others are not counted\n');
      });
    },
  );

  leaf(access, 'who <target>', 'who can reach an account (id or name), or with --application an application, with which permission set and through which group')
    .option('--application', 'the target is an application, not an account')
    .action(async (target: string, options: { application?: boolean }, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const result = await api.call<WhoCanReach>('GET', `/${options.application ? 'applications' : 'accounts'}/${seg(target)}/access`);
        if (json) return printJson(result);
        if (result.users.length === 0) process.stdout.write('nobody\n');
        else {
          printTable(
            result.users.flatMap((u) =>
              u.grants.map((g) => ({
                user: u.userName ?? u.guid,
                name: u.displayName ?? '',
                ...(options.application ? {} : { 'permission set': g.permissionSet?.name ?? '' }),
                how: describeGrant(g.grant),
              })),
            ),
          );
        }
        if (result.groupsTruncated) process.stdout.write('warning: a group has more nested groups than are evaluated; the list may be incomplete\n');
        if (result.unnamedUsers > 0) process.stdout.write(`warning: ${result.unnamedUsers} of ${result.users.length} users are listed by objectGUID only (names are looked up for the first 500)\n`);
      });
    });
}

export function registerAccessCommands(program: Command, loadConfig: LoadConfig): void {
  registerAccountCommands(program, loadConfig);
  registerPermissionSetCommands(program, loadConfig);
  registerApplicationCommands(program, loadConfig);
  registerAssignmentCommands(program, loadConfig);
  registerAccessQueryCommands(program, loadConfig);
}
