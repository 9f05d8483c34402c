/**
 * `portico mfa policy|devices|rename-device|remove-device|reset`: multi-factor authentication through a
 * running Portico's admin API (every change audited there, like the console's).
 */
import type { Command } from 'commander';
import { addAdminOptions, adminExitCodeHelp, withAdminApi, type LoadConfig } from './admin-client.ts';
import { printJson, printTable } from './output.ts';

interface Policy {
  mode: string;
  withoutDevice: string;
  factors: string[];
  rememberDeviceDays: number;
  applications: Record<string, string>;
  permissionSets: Record<string, string>;
}

interface Devices {
  userGuid: string;
  userName: string;
  devices: Array<{ id: string; type: string; name: string; createdAt: string; lastUsedAt: string | null }>;
  recoveryCodes: number;
}

const ABOUT = `
After the password (the AD bind), Portico can ask for a second factor: an authenticator app
(TOTP), a passkey or security key (WebAuthn), a one-time code checked by the organisation's RADIUS
server, or a one-time recovery code. The policy decides when (mode), what happens to people
without a device, which factor types count, and which applications and permission sets demand
MFA (or a phishing-resistant factor) whatever the mode. Devices are keyed on the user's
objectGUID; at most 8 per person. See docs/mfa.md.
`;

function printPolicy(policy: Policy): void {
  const requirements = (record: Record<string, string>) => (Object.keys(record).length === 0 ? '-' : Object.entries(record).map(([id, r]) => `${id}=${r}`).join(', '));
  printTable([
    { setting: 'mode', value: policy.mode },
    { setting: 'without device', value: policy.withoutDevice },
    { setting: 'factors', value: policy.factors.join(', ') },
    { setting: 'remember device (days)', value: String(policy.rememberDeviceDays) },
    { setting: 'applications', value: requirements(policy.applications) },
    { setting: 'permission sets', value: requirements(policy.permissionSets) },
  ]);
}

function requirementList(values: string[] | undefined): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  const record: Record<string, string> = {};
  for (const value of values) {
    if (value === 'none') continue;
    const [id, requirement = 'mfa'] = value.split('=');
    if (id) record[id] = requirement;
  }
  return record;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerMfaCommands(program: Command, loadConfig: LoadConfig): void {
  const mfa = program.command('mfa').description('multi-factor authentication: the policy, and people\'s devices (the help desk)').addHelpText('after', `${ABOUT}${adminExitCodeHelp}`);

  addAdminOptions(mfa.command('policy').description('show the MFA policy')).action(async (_options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const policy = await api.call<Policy>('GET', '/mfa/policy');
      if (json) return printJson(policy);
      printPolicy(policy);
    });
  });

  addAdminOptions(
    mfa
      .command('set-policy')
      .description('change the MFA policy (options left out keep their value; audited as mfa.policy.updated)')
      .option('--mode <mode>', 'always | context-aware | never')
      .option('--without-device <rule>', 'register-at-sign-in | block | allow')
      .option('--factors <list>', 'comma-separated: totp, webauthn, radius')
      .option('--remember-days <days>', 'context-aware mode: how long a browser is remembered (1-365)')
      .option('--application <id=requirement>', 'an application that demands mfa or phishing-resistant (repeat; "none" clears the list)', collect)
      .option('--permission-set <id=requirement>', 'a permission set that demands mfa or phishing-resistant (repeat; "none" clears the list)', collect),
    `
Examples:
  portico mfa set-policy --mode context-aware --without-device register-at-sign-in
  portico mfa set-policy --factors totp,webauthn --application 3f2a…=phishing-resistant
  portico mfa set-policy --application none
`,
  ).action(async (options: { mode?: string; withoutDevice?: string; factors?: string; rememberDays?: string; application?: string[]; permissionSet?: string[] }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const body: Record<string, unknown> = {};
      if (options.mode !== undefined) body.mode = options.mode;
      if (options.withoutDevice !== undefined) body.withoutDevice = options.withoutDevice;
      if (options.factors !== undefined) body.factors = options.factors.split(',').map((f) => f.trim()).filter(Boolean);
      if (options.rememberDays !== undefined) body.rememberDeviceDays = Number(options.rememberDays);
      const applications = requirementList(options.application);
      if (applications) body.applications = applications;
      const permissionSets = requirementList(options.permissionSet);
      if (permissionSets) body.permissionSets = permissionSets;
      const policy = await api.call<Policy>('PUT', '/mfa/policy', body);
      if (json) return printJson(policy);
      printPolicy(policy);
    });
  });

  addAdminOptions(
    mfa.command('devices').argument('<user>', 'UPN, sAMAccountName, DOMAIN\\name, objectGUID or UserId of a user who signed in').description("a user's MFA devices and unused recovery codes"),
  ).action(async (user: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const result = await api.call<Devices>('GET', `/users/${encodeURIComponent(user)}/mfa-devices`);
      if (json) return printJson(result);
      process.stdout.write(`${result.userName} (${result.userGuid}): ${result.devices.length} device${result.devices.length === 1 ? '' : 's'}, ${result.recoveryCodes} unused recovery code${result.recoveryCodes === 1 ? '' : 's'}\n`);
      if (result.devices.length > 0) printTable(result.devices.map((d) => ({ id: d.id, type: d.type, name: d.name, registered: d.createdAt, 'last used': d.lastUsedAt ?? '-' })));
    });
  });

  addAdminOptions(
    mfa
      .command('rename-device')
      .argument('<user>', 'the user (as for `portico mfa devices`)')
      .argument('<device-id>', 'the ID `portico mfa devices` lists')
      .argument('<name>', 'the new name (1 to 64 characters)')
      .description('rename one MFA device of a user (audited as mfa.device.renamed)'),
  ).action(async (user: string, deviceId: string, name: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const device = await api.call<Devices['devices'][number]>('PATCH', `/users/${encodeURIComponent(user)}/mfa-devices/${encodeURIComponent(deviceId)}`, { name });
      if (json) return printJson(device);
      process.stdout.write(`MFA device ${device.id} is now called "${device.name}".\n`);
    });
  });

  addAdminOptions(
    mfa.command('remove-device').argument('<user>', 'the user (as for `portico mfa devices`)').argument('<device-id>', 'the ID `portico mfa devices` lists').description('remove one MFA device of a user (audited as mfa.device.removed)'),
  ).action(async (user: string, deviceId: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      await api.call('DELETE', `/users/${encodeURIComponent(user)}/mfa-devices/${encodeURIComponent(deviceId)}`);
      if (json) return printJson({ removed: deviceId });
      process.stdout.write(`Removed MFA device ${deviceId}.\n`);
    });
  });

  addAdminOptions(
    mfa
      .command('reset')
      .argument('<user>', 'the user (as for `portico mfa devices`)')
      .description('remove every MFA device and recovery code of a user — a lost phone; they register again at their next sign-in (audited as mfa.devices.reset)'),
  ).action(async (user: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const result = await api.call<{ removed: number }>('POST', `/users/${encodeURIComponent(user)}/mfa-devices/reset`);
      if (json) return printJson(result);
      process.stdout.write(`Removed ${result.removed} MFA device${result.removed === 1 ? '' : 's'} and every recovery code.\n`);
    });
  });
}
