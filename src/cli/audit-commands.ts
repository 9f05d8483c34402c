/**
 * `portico audit list|export`: the audit log read through a running Portico's admin API
 * (GET /admin/api/audit), for people (a table) and for log pipelines (JSON lines).
 */
import type { Command } from 'commander';
import { addAdminOptions, usageError, withAdminApi, type AdminClient, type LoadConfig } from './admin-client.ts';
import { printJson, printTable } from './output.ts';

interface AuditEvent {
  id: string;
  occurredAt: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: 'success' | 'failure';
  errorCode: string | null;
  details: Record<string, unknown>;
}

interface Filters {
  since?: string;
  until?: string;
  action?: string;
  actor?: string;
  target?: string;
}

const PAGE = 1000;
const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** ISO-8601 with a time zone, or a age like 30m, 24h, 7d (meaning: that long ago). */
export function parseSince(text: string, now = new Date()): string {
  const relative = /^(\d{1,6})([mhd])$/.exec(text.trim());
  if (relative) return new Date(now.getTime() - Number(relative[1]) * (UNITS[relative[2] ?? 'm'] ?? 60_000)).toISOString();
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text) || Number.isNaN(Date.parse(text))) {
    throw usageError(`"${text.slice(0, 60)}" is not a time: give ISO-8601 with a time zone (2026-05-01T00:00:00Z) or an age (30m, 24h, 7d)`);
  }
  return new Date(text).toISOString();
}

function query(filters: Filters, limit: number, before?: string): string {
  const params = new URLSearchParams({ limit: String(limit) });
  for (const [key, value] of Object.entries(filters) as Array<[string, string | undefined]>) if (value !== undefined) params.set(key, value);
  if (before !== undefined) params.set('before', before);
  return `/audit?${params.toString()}`;
}

function filtersFrom(options: { since?: string; until?: string; action?: string; actor?: string; target?: string }): Filters {
  return {
    ...(options.since !== undefined ? { since: parseSince(options.since) } : {}),
    ...(options.until !== undefined ? { until: parseSince(options.until) } : {}),
    ...(options.action !== undefined ? { action: options.action } : {}),
    ...(options.actor !== undefined ? { actor: options.actor } : {}),
    ...(options.target !== undefined ? { target: options.target } : {}),
  };
}

/** Every event matching, newest first, page by page (the API's cursor). */
async function* allEvents(api: AdminClient, filters: Filters): AsyncGenerator<AuditEvent> {
  let before: string | undefined;
  for (;;) {
    const { events } = await api.call<{ events: AuditEvent[] }>('GET', query(filters, PAGE, before));
    yield* events;
    if (events.length < PAGE) return;
    before = events[events.length - 1]?.id;
  }
}

const FILTER_HELP = `
Times: ISO-8601 with a time zone (2026-05-01T00:00:00Z) or an age (30m, 24h, 7d).
--action matches the current and legacy names of an action (auth.user.signed_in, saml.assertion.issued, …).
Each event recorded while serving a request carries details.requestId (the X-Request-Id of that request).
`;

function addFilters(command: Command): Command {
  return command
    .option('--since <time>', 'only events at or after this time')
    .option('--until <time>', 'only events before this time')
    .option('--action <action>', 'only this action')
    .option('--actor <actor>', 'only events by this actor')
    .option('--target <target>', 'only events about this target');
}

export function registerAuditCommands(program: Command, loadConfig: LoadConfig): void {
  const audit = program.command('audit').description('read the audit log of a running Portico (admin API)');

  addAdminOptions(
    addFilters(audit.command('list').description('recent audit events, newest first, as a table (or --json)')).option('--limit <n>', 'at most this many events (1–1000)', '50'),
    FILTER_HELP,
  ).action(async (options: Filters & { limit: string }, command: Command) => {
    await withAdminApi(command, loadConfig, async (api, json) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > PAGE) throw usageError('--limit must be a whole number from 1 to 1000');
      const { events } = await api.call<{ events: AuditEvent[] }>('GET', query(filtersFrom(options), limit));
      if (json) return printJson({ events });
      if (events.length === 0) {
        process.stdout.write('No audit events match.\n');
        return;
      }
      printTable(events.map((e) => ({ time: e.occurredAt, actor: e.actor, action: e.action, target: e.target ?? '-', outcome: e.outcome, code: e.errorCode ?? '-' })));
    });
  });

  addAdminOptions(
    addFilters(audit.command('export').description('every matching audit event as JSON lines on standard output, newest first (all pages)')),
    `${FILTER_HELP}
One JSON object per line: id, occurredAt, actor, action, target, outcome, errorCode, details.
Example (a day of sign-ins for a log pipeline):
  portico audit export --since 24h --action auth.user.signed_in > sign-ins.jsonl
`,
  ).action(async (options: Filters, command: Command) => {
    await withAdminApi(command, loadConfig, async (api) => {
      const filters = filtersFrom(options);
      for await (const event of allEvents(api, filters)) process.stdout.write(`${JSON.stringify(event)}\n`);
    });
  });
}
