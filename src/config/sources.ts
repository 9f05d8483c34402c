/**
 * The raw configuration sources: one YAML or JSON file and `PORTICO_*` environment variables.
 * Nothing here validates values; it only produces plain objects plus, for every value, the
 * source it came from, so validation errors can say where to fix them.
 *
 * Messages never quote the values read: a config file or variable may hold a password.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { AppError } from '#src/shared/errors.ts';
import { isPlainObject, type KeyNode } from './key-tree.ts';

export const ENV_PREFIX = 'PORTICO_';
/** Variables with the prefix that are not settings. */
export const RESERVED_ENV = new Set(['PORTICO_CONFIG']);

/** Where a value came from, as shown to the operator: `file ./portico.yaml`, `env PORTICO_HTTP__PORT`. */
export interface SourcedValue {
  path: string[];
  source: string;
}

export interface SourceProblem {
  path: string[];
  message: string;
  source: string | undefined;
}

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unknown error';
    throw new AppError('config.file_unreadable', `cannot read the configuration file ${file} (${code})`, { cause: error });
  }

  let value: unknown;
  if (extname(file).toLowerCase() === '.json') {
    try {
      value = JSON.parse(text);
    } catch {
      // V8's JSON messages quote the text around the error, which may be a secret.
      throw new AppError('config.invalid', `${file}: not valid JSON`);
    }
  } else {
    const document = parseDocument(text, { prettyErrors: false });
    const [first] = document.errors;
    if (first) {
      // Position only: yaml's pretty messages quote the offending line, which may hold a password.
      const before = text.slice(0, first.pos[0]);
      const line = before.split('\n').length;
      const column = first.pos[0] - before.lastIndexOf('\n');
      throw new AppError('config.invalid', `${file}:${line}:${column}: not valid YAML (${first.code})`);
    }
    value = document.toJS() as unknown;
  }

  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw new AppError('config.invalid', `${file}: the top level must be a mapping of settings`);
  return value;
}

export interface EnvReading {
  value: Record<string, unknown>;
  sourced: SourcedValue[];
  problems: SourceProblem[];
}

/**
 * Reads `PORTICO_<PATH>` variables: path segments are joined by `__`, each matched to a schema
 * key ignoring case and single underscores (`SERVICEACCOUNT` and `SERVICE_ACCOUNT` both name
 * `serviceAccount`). Values are coerced to the type the schema expects at that key.
 *
 * A single-segment name that matches no setting is ignored, since tools and scripts use
 * `PORTICO_SOMETHING` variables of their own; a multi-segment one is reported as a typo.
 * Empty values count as unset, as container tooling often passes them for unset variables.
 */
export function readEnv(env: Readonly<Record<string, string | undefined>>, tree: KeyNode): EnvReading {
  const value: Record<string, unknown> = {};
  const sourced: SourcedValue[] = [];
  const problems: SourceProblem[] = [];
  const found: Array<{ name: string; path: string[]; node: KeyNode; raw: string }> = [];

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || RESERVED_ENV.has(name) || raw === undefined || raw === '') continue;
    const segments = name.slice(ENV_PREFIX.length).split('__');
    const resolved = resolvePath(tree, segments);
    if (resolved) {
      found.push({ name, raw, ...resolved });
    } else if (segments.length > 1) {
      problems.push({ path: segments.map((s) => s.toLowerCase()), message: 'no such setting', source: `env ${name}` });
    }
  }

  // Shorter paths first, so PORTICO_HTTP__PORT refines a whole PORTICO_HTTP='{…}' object.
  found.sort((a, b) => a.path.length - b.path.length);
  for (const { name, path, node, raw } of found) {
    const source = `env ${name}`;
    const coerced = coerce(raw, node);
    if ('problem' in coerced) {
      problems.push({ path, message: coerced.problem, source });
      continue;
    }
    setPath(value, path, coerced.value);
    sourced.push({ path, source });
  }
  return { value, sourced, problems };
}

function resolvePath(tree: KeyNode, segments: string[]): { path: string[]; node: KeyNode } | undefined {
  const path: string[] = [];
  let node = tree;
  for (const segment of segments) {
    if (node.kind !== 'object' || segment === '') return undefined;
    const wanted = normalizeKey(segment);
    const match = [...node.children.entries()].find(([key]) => normalizeKey(key) === wanted);
    if (!match) return undefined;
    path.push(match[0]);
    node = match[1];
  }
  return { path, node };
}

function normalizeKey(key: string): string {
  return key.replaceAll('_', '').toLowerCase();
}

type Coerced = { value: unknown } | { problem: string };

function coerce(raw: string, node: KeyNode): Coerced {
  const text = raw.trim();
  switch (node.kind) {
    case 'object': {
      if (!text.startsWith('{')) return { problem: 'expects a JSON object; or set its keys one by one with __' };
      const parsed = parseJson(text);
      if ('problem' in parsed) return parsed;
      return isPlainObject(parsed.value) ? parsed : { problem: 'expects a JSON object' };
    }
    case 'array': {
      if (text.startsWith('[')) {
        const parsed = parseJson(text);
        if ('problem' in parsed) return parsed;
        return Array.isArray(parsed.value) ? parsed : { problem: 'expects a JSON array or a comma-separated list' };
      }
      const items: unknown[] = [];
      for (const item of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
        const element = coerce(item, node.element);
        if ('problem' in element) return element;
        items.push(element.value);
      }
      return { value: items };
    }
    case 'leaf':
      switch (node.type) {
        case 'number':
          // Anything else is left as a string for the schema to reject with its own message.
          return { value: /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : raw };
        case 'boolean': {
          const lower = text.toLowerCase();
          if (['true', '1', 'yes', 'on'].includes(lower)) return { value: true };
          if (['false', '0', 'no', 'off'].includes(lower)) return { value: false };
          return { value: raw };
        }
        case 'record': {
          if (!text.startsWith('{')) return { problem: 'expects a JSON object' };
          const parsed = parseJson(text);
          if ('problem' in parsed) return parsed;
          return isPlainObject(parsed.value) ? parsed : { problem: 'expects a JSON object' };
        }
        case 'string':
        case 'other':
          // Verbatim: surrounding spaces may be part of a password.
          return { value: raw };
      }
  }
}

function parseJson(text: string): Coerced {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { problem: 'is not valid JSON' };
  }
}

export function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (isPlainObject(next)) {
      node = next;
    } else {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    }
  }
  const last = path.at(-1);
  if (last !== undefined) node[last] = value;
}

export function getPath(target: unknown, path: readonly string[]): unknown {
  let node = target;
  for (const key of path) {
    if (isPlainObject(node)) node = node[key];
    else if (Array.isArray(node)) node = node[Number(key)] as unknown;
    else return undefined;
  }
  return node;
}

/** Deep merge of plain objects; arrays and scalars in `override` replace those in `base`. */
export function deepMerge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const existing = merged[key];
    merged[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return merged;
}
