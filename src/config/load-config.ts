/**
 * Loads the instance configuration: defaults < file < environment, validated once against
 * `configSchema`. Any problem fails start-up with `config.invalid`, listing every bad key by its
 * full path and the file or variable it came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { AppError } from '#src/shared/errors.ts';
import { addLeaf, describeSchema, findUnknownKeys, isPlainObject } from './key-tree.ts';
import { configInputSchema, configSchema, type Config } from './schema.ts';
import {
  deepMerge,
  getPath,
  readConfigFile,
  readEnv,
  setPath,
  type SourcedValue,
  type SourceProblem,
} from './sources.ts';

export const DEFAULT_CONFIG_FILE = 'portico.yaml';

const PASSWORD_PATH = ['directory', 'serviceAccount', 'password'];
const PASSWORD_FILE_PATH = ['directory', 'serviceAccount', 'passwordFile'];

export interface LoadConfigOptions {
  /** Config file (YAML, or JSON by its .json extension). Default: env PORTICO_CONFIG, else ./portico.yaml if it exists. */
  file?: string | undefined;
  /** Environment to read `PORTICO_*` variables from. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory relative config file and `passwordFile` paths resolve against. Default: process.cwd(). */
  cwd?: string;
}

export interface ConfigIssue {
  /** Full dotted path of the setting, e.g. `directory.urls.0`. */
  path: string;
  message: string;
  /** `file <path>` or `env <NAME>`; undefined when the setting was not provided anywhere. */
  source: string | undefined;
}

// Built once: the schema is static. passwordFile is consumed here, before the schema sees it.
const keyTree = describeSchema(configInputSchema);
addLeaf(keyTree, PASSWORD_FILE_PATH, 'string');

/**
 * @example
 * const config = loadConfig({ file: program.opts().config });
 * logger.info({ config: redactConfig(config) }, 'configuration loaded');
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = pickConfigFile(options.file ?? env.PORTICO_CONFIG, cwd);

  const fileValue = file === undefined ? {} : readConfigFile(file);
  const fileSource = `file ${file ?? ''}`;
  const fromEnv = readEnv(env, keyTree);
  const problems: SourceProblem[] = [...fromEnv.problems];
  const sourced: SourcedValue[] = [...fromEnv.sourced];

  // Where the value at `path` came from; undefined when no source set it (a missing key).
  const sourceOf = (path: readonly string[]): string | undefined => {
    const covering = sourced.filter((entry) => isPrefix(entry.path, path)).sort((a, b) => b.path.length - a.path.length)[0];
    if (covering) return covering.source;
    if (file !== undefined && getPath(fileValue, path) !== undefined) return fileSource;
    // An object assembled from variables that each set one of its keys.
    return sourced.find((entry) => isPrefix(path, entry.path))?.source;
  };

  // A private copy: resolving passwordFile edits it, and fileValue must keep naming sources.
  const merged = structuredClone(deepMerge(fileValue, fromEnv.value));

  for (const path of findUnknownKeys(keyTree, merged)) {
    problems.push({ path, message: 'no such setting', source: sourceOf(path) ?? fileSource });
  }
  readPasswordFile(merged, cwd, sourceOf, sourced, problems);

  const issues: ConfigIssue[] = problems.map((problem) => ({ ...problem, path: problem.path.join('.') }));
  const result = configSchema.safeParse(merged, { error: requiredMessage });
  if (result.success && issues.length === 0) return result.data;

  for (const issue of result.error?.issues ?? []) {
    const path = issue.path.map(String);
    const dotted = path.join('.');
    // A value a source problem already explains (e.g. an unparsable variable) is not reported twice.
    if (issues.some((known) => dotted === known.path || dotted.startsWith(`${known.path}.`))) continue;
    issues.push({ path: dotted || '(root)', message: issue.message, source: sourceOf(path) });
  }
  throw configInvalid(issues);
}

function pickConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit !== undefined && explicit !== '') return resolve(cwd, explicit);
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(fallback) ? fallback : undefined;
}

/**
 * `directory.serviceAccount.passwordFile` names a file holding the service account's password
 * (a mounted container secret); its content, without the trailing newline, becomes `password`.
 */
function readPasswordFile(
  merged: Record<string, unknown>,
  cwd: string,
  sourceOf: (path: readonly string[]) => string | undefined,
  sourced: SourcedValue[],
  problems: SourceProblem[],
): void {
  const passwordFile = getPath(merged, PASSWORD_FILE_PATH);
  if (passwordFile === undefined) return;
  const serviceAccount = getPath(merged, PASSWORD_FILE_PATH.slice(0, -1));
  if (isPlainObject(serviceAccount)) delete serviceAccount.passwordFile;
  const source = sourceOf(PASSWORD_FILE_PATH);
  if (typeof passwordFile !== 'string' || passwordFile === '') {
    problems.push({ path: PASSWORD_FILE_PATH, message: 'must be a file path', source });
    return;
  }
  if (getPath(merged, PASSWORD_PATH) !== undefined) {
    problems.push({
      path: PASSWORD_FILE_PATH,
      message: `set either password (${sourceOf(PASSWORD_PATH) ?? 'unknown source'}) or passwordFile, not both`,
      source,
    });
    return;
  }
  const path = resolve(cwd, passwordFile);
  try {
    setPath(merged, PASSWORD_PATH, readFileSync(path, 'utf8').replace(/\r?\n$/, ''));
    sourced.push({ path: PASSWORD_PATH, source: `file ${path} (passwordFile)` });
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unknown error';
    problems.push({ path: PASSWORD_FILE_PATH, message: `cannot read ${path} (${code})`, source });
  }
}

/** zod's default for a missing key ("expected string, received undefined") reads poorly in a config error. */
function requiredMessage(issue: z.core.$ZodRawIssue): string | undefined {
  return issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined;
}

function isPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((key, index) => path[index] === key);
}

function configInvalid(issues: ConfigIssue[]): AppError {
  const lines = issues.map((issue) => `  - ${issue.path}: ${issue.message}${issue.source ? ` (${issue.source})` : ' (not set)'}`);
  return new AppError('config.invalid', `invalid configuration:\n${lines.join('\n')}`, {
    details: { issues },
  });
}
