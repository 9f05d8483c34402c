/**
 * `portico mappings check`: applies the mapping table to a bounded sample of the directory's users
 * and counts, per mapping, the users it would refuse at sign-in and why (which attributes are
 * empty), with a few example names — so that an administrator learns before anyone signs in that
 * a table does not fit the domain. Reads only (a paged search that stops at the limit); audited.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { DirectoryConnector } from '#src/directory/types.ts';
import { AppError, isAppError } from '#src/shared/errors.ts';
import type { MappingSettings } from './mapping-settings.ts';
import { mappingRefusals, mappingUserLabel, referencedAttributes, type MappingTable } from './mappings.ts';
import type { MappingTarget } from './user.ts';

export const defaultCheckLimit = 1000;
export const maxCheckLimit = 10_000;
const defaultExamples = 5;

export interface MappingCheckProblem {
  reason: 'empty' | 'tooLong';
  /** The AD attributes that were all empty (none for `tooLong`). */
  attributes: string[];
  /** One line saying why, e.g. `"initials" is empty`. */
  description: string;
  users: number;
  /** A few of those users, by UPN. */
  examples: string[];
}

export interface MappingCheckRow {
  target: MappingTarget;
  template: string;
  /** Users of the sample this mapping refuses. */
  refused: number;
  problems: MappingCheckProblem[];
}

export interface MappingCheckReport {
  isDefault: boolean;
  limit: number;
  /** Users read from the directory. */
  sampled: number;
  /** True when the directory has more users than the sample: the counts are a lower bound. */
  more: boolean;
  /** Disabled accounts are read but not counted: they cannot sign in anyway. */
  disabled: number;
  checked: number;
  /** Users at least one mapping refuses: they cannot sign in with this table. */
  refusedUsers: number;
  mappings: MappingCheckRow[];
}

export function checkLimit(value: unknown): number {
  const limit = value === undefined ? defaultCheckLimit : Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxCheckLimit) {
    throw new AppError('config.invalid', `the sample limit must be a whole number from 1 to ${maxCheckLimit.toLocaleString('en')}`, { status: 400 });
  }
  return limit;
}

function describe(reason: 'empty' | 'tooLong', attributes: string[]): string {
  if (reason === 'tooLong') return 'the value is longer than the identity store holds (1,024 characters)';
  const quoted = attributes.map((a) => `"${a}"`);
  return quoted.length === 1 ? `${quoted[0] ?? ''} is empty` : `${quoted.join(', ')} are all empty`;
}

/** Samples the directory and applies `table` to every enabled user of the sample. */
export async function checkMappings(directory: DirectoryConnector, table: MappingTable, options: { limit: number; isDefault: boolean; examples?: number }): Promise<MappingCheckReport> {
  const examples = options.examples ?? defaultExamples;
  const sample = await directory.sampleUsers({ limit: options.limit, attributes: referencedAttributes(table) });
  const rows = new Map<MappingTarget, MappingCheckRow>(Object.entries(table).map(([target, template]) => [target as MappingTarget, { target: target as MappingTarget, template: template ?? '', refused: 0, problems: [] }]));
  let disabled = 0;
  let refusedUsers = 0;
  for (const user of sample.users) {
    if (user.account.conditions.includes('disabled')) {
      disabled += 1;
      continue;
    }
    const refusals = mappingRefusals(table, user);
    if (refusals.length > 0) refusedUsers += 1;
    for (const refusal of refusals) {
      const row = rows.get(refusal.target);
      if (!row) continue;
      row.refused += 1;
      const description = describe(refusal.reason, refusal.attributes);
      let problem = row.problems.find((p) => p.description === description);
      if (!problem) {
        problem = { reason: refusal.reason, attributes: refusal.attributes, description, users: 0, examples: [] };
        row.problems.push(problem);
      }
      problem.users += 1;
      if (problem.examples.length < examples) problem.examples.push(mappingUserLabel(user));
    }
  }
  return {
    isDefault: options.isDefault,
    limit: options.limit,
    sampled: sample.users.length,
    more: sample.more,
    disabled,
    checked: sample.users.length - disabled,
    refusedUsers,
    mappings: [...rows.values()],
  };
}

/** The check as the CLI, the admin API and `identity-source connect` run it: the table in force, audited. */
export async function runMappingCheck(
  deps: { directory: DirectoryConnector; mappings: MappingSettings; audit: AuditLog },
  options: { limit: number; actor: string; trigger: 'on-demand' | 'identity-source-connect' },
): Promise<MappingCheckReport> {
  const { table, isDefault } = await deps.mappings.current();
  let report: MappingCheckReport;
  try {
    report = await checkMappings(deps.directory, table, { limit: options.limit, isDefault });
  } catch (error) {
    if (isAppError(error)) {
      await deps.audit.record({ actor: options.actor, action: 'identity.mappings.checked', outcome: 'failure', errorCode: error.code, details: { trigger: options.trigger, limit: options.limit, reason: error.message } });
    }
    throw error;
  }
  await deps.audit.record({
    actor: options.actor,
    action: 'identity.mappings.checked',
    outcome: 'success',
    details: {
      trigger: options.trigger,
      limit: report.limit,
      sampled: report.sampled,
      more: report.more,
      checked: report.checked,
      disabled: report.disabled,
      refusedUsers: report.refusedUsers,
      refusedByMapping: Object.fromEntries(report.mappings.filter((m) => m.refused > 0).map((m) => [m.target, m.refused])),
    },
  });
  return report;
}
