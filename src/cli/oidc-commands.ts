/**
 * `portico oidc …`: Portico as an OpenID provider — its endpoints, the rotation of its signing
 * keys (stage → activate → retire), and OIDC applications (relying parties), through a running
 * Portico's admin API so that every step is audited. A client secret is printed once, when the
 * application is created or its secret rotated.
 */
import type { Command } from 'commander';
import { addAdminOptions, adminExitCodeHelp, withAdminApi, type LoadConfig } from './admin-client.ts';
import { printFields, printJson, printTable } from './output.ts';

interface KeyView {
  kid: string;
  alg: string;
  state: string;
  createdAt: string;
}
interface Provider {
  issuer: string;
  discoveryUrl: string;
  jwksUri: string;
  keys: KeyView[];
}
interface OidcApplication {
  id: string;
  name: string;
  clientType: string;
  grantTypes: string[];
  redirectUris: string[];
  disabled: boolean;
}

const ROTATION_HELP = `
Rotating the signing keys without breaking any relying party:
  1. portico oidc stage      a new ES256 + RS256 pair appears in the JWKS, not signing yet
  2. (wait until relying parties refreshed their JWKS cache: openid-client keeps it 5 minutes)
  3. portico oidc activate   the new pair signs; the old pair stays in the JWKS as previous
  4. portico oidc retire     the old pair leaves the JWKS once the tokens it signed expired
`;

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function keyRows(keys: KeyView[]) {
  return keys.map((k) => ({ state: k.state, alg: k.alg, kid: k.kid, created: k.createdAt.slice(0, 19) }));
}

export function registerOidcCommands(program: Command, loadConfig: LoadConfig): void {
  const oidc = program
    .command('oidc')
    .description('Portico as an OpenID provider: endpoints, signing-key rotation and OIDC applications')
    .addHelpText('after', `${ROTATION_HELP}${adminExitCodeHelp}`);

  addAdminOptions(oidc.command('show').description('issuer, discovery and JWKS URLs, and the signing keys')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const provider = await api.call<Provider>('GET', '/oidc');
      if (json) return printJson(provider);
      printFields([['issuer', provider.issuer], ['discovery', provider.discoveryUrl], ['JWKS', provider.jwksUri]]);
      process.stdout.write('\n');
      printTable(keyRows(provider.keys));
    });
  });

  const keyStep = (name: string, description: string, method: 'POST' | 'DELETE', path: string, done: string) =>
    addAdminOptions(oidc.command(name).description(description)).action(async (_options: unknown, command: Command) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const { keys } = await api.call<{ keys: KeyView[] }>(method, path);
        if (json) return printJson({ keys });
        process.stdout.write(`${done}\n\n`);
        printTable(keyRows(keys));
      });
    });
  keyStep('stage', 'publish a new signing key pair in the JWKS (not signing yet)', 'POST', '/oidc/keys/next', 'Staged a new key pair; run `portico oidc activate` once relying parties refreshed their JWKS.');
  keyStep('activate', 'sign with the staged pair from now on; the old pair stays published as previous', 'POST', '/oidc/keys/activate', 'The new key pair signs now.');
  keyStep('retire', 'remove the previous key pair from the JWKS', 'DELETE', '/oidc/keys/previous', 'Retired the previous key pair.');

  const apps = oidc.command('apps').description('OIDC applications (relying parties); assign people with `portico assignments create --user|--group … --application <client id|name>`');

  addAdminOptions(apps.command('list').description('every OIDC application')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { applications } = await api.call<{ applications: OidcApplication[] }>('GET', '/oidc-applications');
      if (json) return printJson({ applications });
      printTable(applications.map((a) => ({ 'client id': a.id, name: a.name, type: a.clientType, grants: a.grantTypes.join(','), disabled: a.disabled ? 'yes' : '' })));
    });
  });

  addAdminOptions(
    apps
      .command('create')
      .description('register an OIDC application; prints a confidential client\'s secret once')
      .requiredOption('--name <name>', 'its name (unique)')
      .option('--redirect-uri <uri>', 'an exact redirect URI (repeatable; https, or http on loopback)', collect)
      .option('--post-logout-uri <uri>', 'a post-logout redirect URI (repeatable)', collect)
      .option('--public', 'a public client (no secret; PKCE S256 required)')
      .option('--grant <type>', 'authorization_code, refresh_token or client_credentials (repeatable; default: authorization_code and refresh_token)', collect)
      .option('--groups-prefix <prefix>', 'only AD groups whose name starts with this in the groups claim')
      .option('--groups-assigned-only', 'only the AD groups the application is assigned to in the groups claim (with --groups-prefix: both)')
      .option('--backchannel-logout-uri <uri>', 'where Portico POSTs a logout token when the person\'s Portico session ends (OIDC Back-Channel Logout)')
      .option('--public-subject', 'the same `sub` for every application (default: pairwise, one per application)')
      .option('--initiate-login-uri <uri>', 'where the portal tile sends people (the application\'s own login start)'),
  ).action(
    async (
      options: { name: string; redirectUri?: string[]; postLogoutUri?: string[]; public?: boolean; grant?: string[]; groupsPrefix?: string; groupsAssignedOnly?: boolean; backchannelLogoutUri?: string; publicSubject?: boolean; initiateLoginUri?: string },
      command: Command,
    ) => {
      await withAdminApi(command, loadConfig, async (api, json) => {
        const body = {
          name: options.name,
          ...(options.redirectUri ? { redirectUris: options.redirectUri } : {}),
          ...(options.postLogoutUri ? { postLogoutRedirectUris: options.postLogoutUri } : {}),
          ...(options.public ? { clientType: 'public' } : {}),
          ...(options.grant ? { grantTypes: options.grant } : {}),
          ...(options.groupsPrefix !== undefined || options.groupsAssignedOnly
            ? { groupsClaim: { enabled: true, ...(options.groupsPrefix !== undefined ? { prefix: options.groupsPrefix } : {}), ...(options.groupsAssignedOnly ? { assignedOnly: true } : {}) } }
            : {}),
          ...(options.backchannelLogoutUri !== undefined ? { backchannelLogoutUri: options.backchannelLogoutUri } : {}),
          ...(options.publicSubject ? { subjectType: 'public' } : {}),
          ...(options.initiateLoginUri !== undefined ? { initiateLoginUri: options.initiateLoginUri } : {}),
        };
        const created = await api.call<{ application: OidcApplication; clientSecret: string | null }>('POST', '/oidc-applications', body);
        if (json) return printJson(created);
        printFields([['client id', created.application.id], ['client secret', created.clientSecret ?? '(public client: none)']]);
        if (created.clientSecret !== null) process.stdout.write('\nThe secret is shown this once: store it in the application now.\n');
      });
    },
  );

  addAdminOptions(apps.command('show').description('one OIDC application (client id or name)').argument('<id>')).action(async (id: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api) => {
      printJson(await api.call('GET', `/oidc-applications/${encodeURIComponent(id)}`));
    });
  });

  const toggle = (name: string, disabled: boolean) =>
    addAdminOptions(apps.command(name).description(disabled ? 'refuse new tokens and refreshes for this application' : 'let this application get tokens again').argument('<id>')).action(
      async (id: string, _options: unknown, command: Command) => {
        await withAdminApi(command, loadConfig, async (api, json) => {
          const updated = await api.call<OidcApplication>('PATCH', `/oidc-applications/${encodeURIComponent(id)}`, { disabled });
          if (json) return printJson(updated);
          process.stdout.write(`${updated.name} is ${disabled ? 'disabled' : 'enabled'}.\n`);
        });
      },
    );
  toggle('disable', true);
  toggle('enable', false);

  addAdminOptions(apps.command('rotate-secret').description('a new client secret, printed once; the old one stops working at once').argument('<id>')).action(async (id: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { clientSecret } = await api.call<{ clientSecret: string }>('POST', `/oidc-applications/${encodeURIComponent(id)}/secret`);
      if (json) return printJson({ clientSecret });
      printFields([['client secret', clientSecret]]);
    });
  });

  addAdminOptions(apps.command('delete').description('delete an OIDC application without assignments').argument('<id>')).action(async (id: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api) => {
      await api.call('DELETE', `/oidc-applications/${encodeURIComponent(id)}`);
      process.stdout.write(`Deleted ${id}.\n`);
    });
  });
}
