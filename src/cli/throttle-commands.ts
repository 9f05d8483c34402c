/**
 * `portico throttle list|clear`: the help desk's view of the sign-in throttle — who is being
 * held back after failed sign-ins, and a way to let one person (or address) try again — through
 * a running Portico's admin API, so that a clearing is audited like the console's.
 */
import type { Command } from 'commander';
import { addAdminOptions, adminExitCodeHelp, withAdminApi, type LoadConfig } from './admin-client.ts';
import { printJson, printTable } from './output.ts';

interface ThrottleEntry {
  kind: 'account' | 'name' | 'address';
  key: string;
  label: string;
  failures: number;
  maxFailures: number;
  throttled: boolean;
  retryAfterSeconds: number | null;
  throttledUntil: string | null;
  lastFailureAt: string;
}

const ABOUT = `
Portico counts failed sign-ins per account (whatever spelling of the name was typed), per user
name that designates no account, and per client address (IPv6 by /64). Past the limit, attempts
are refused before they reach Active Directory until the oldest failure leaves the window, so
that nobody can lock AD accounts through Portico. The counters are kept in Portico's database:
they survive a restart and are shared by every instance on that database.
`;

/** "14 min", "45 s". */
function waitText(seconds: number | null): string {
  if (seconds === null) return '-';
  return seconds >= 120 ? `${Math.ceil(seconds / 60)} min` : `${seconds} s`;
}

function rows(entries: ThrottleEntry[]) {
  return entries.map((e) => ({
    kind: e.kind,
    label: e.label,
    failures: `${e.failures}/${e.maxFailures}`,
    'retry after': e.throttled ? waitText(e.retryAfterSeconds) : '-',
    until: e.throttledUntil ?? '-',
    key: e.key,
  }));
}

export function registerThrottleCommands(program: Command, loadConfig: LoadConfig): void {
  const throttle = program
    .command('throttle')
    .description('failed sign-ins held back by Portico: list them, clear one')
    .addHelpText('after', `${ABOUT}${adminExitCodeHelp}`);

  addAdminOptions(
    throttle
      .command('list')
      .description('accounts, user names and client addresses with recent failed sign-ins, throttled ones first')
      .option('--throttled', 'only those refused right now'),
    `
Columns: KIND (account, name: a spelling that designates no account, address), LABEL (the UPN,
the spelling typed, or the address), FAILURES (counted / limit), RETRY AFTER and UNTIL (when the
next attempt is allowed, if throttled), KEY (what \`portico throttle clear\` accepts).
`,
  ).action(async (options: { throttled?: boolean }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { entries } = await api.call<{ entries: ThrottleEntry[] }>('GET', `/throttle${options.throttled ? '?throttled=true' : ''}`);
      if (json) return printJson({ entries });
      if (entries.length === 0) {
        process.stdout.write(options.throttled ? 'Nobody is throttled.\n' : 'No recent failed sign-ins.\n');
        return;
      }
      printTable(rows(entries));
    });
  });

  addAdminOptions(
    throttle
      .command('clear')
      .argument('<subject-or-address>', 'a KEY or LABEL as listed (account:<objectGUID>, name:<spelling>, a UPN), or a client IP address')
      .description("forget the failed sign-ins of one account, user name or client address (audited as auth.throttle.cleared); AD's own lockout is not changed"),
    `
Examples:
  portico throttle clear alice@corp.example.test
  portico throttle clear account:6f1c2a52-0c1e-4b8e-9a57-6a3f0f1e2d01
  portico throttle clear 2001:db8:1:2::17      (clears the address's /64)
`,
  ).action(async (target: string, _options: unknown, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const { cleared } = await api.call<{ cleared: ThrottleEntry[] }>('POST', '/throttle/clear', { target });
      if (json) return printJson({ cleared });
      for (const entry of cleared) process.stdout.write(`Cleared ${entry.failures} failed sign-in${entry.failures === 1 ? '' : 's'} of ${entry.kind} ${entry.label} (${entry.key}).\n`);
    });
  });
}
