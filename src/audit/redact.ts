/**
 * Makes audit details safe to store: keys named like secrets are dropped (at any depth), and
 * values become plain JSON. Values that could embed a secret in their text form (errors, class
 * instances) are reduced to a type marker rather than stringified.
 */
import { isSecretName } from '#src/secrets/index.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

// Deep enough for any event we design; deeper input is a bug or an attack on log size.
const MAX_DEPTH = 8;

export function redactDetails(details: Record<string, unknown>): JsonObject {
  return redactObject(details, 0, new WeakSet());
}

function redactObject(value: object, depth: number, seen: WeakSet<object>): JsonObject {
  const result: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    if (isSecretName(key)) continue;
    const safe = toJson(child, depth + 1, seen);
    if (safe !== undefined) result[key] = safe;
  }
  return result;
}

function toJson(value: unknown, depth: number, seen: WeakSet<object>): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  if (value === null) return null;
  if (depth > MAX_DEPTH) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error) {
    // The code is the stable, safe part; a message may quote anything, a password included.
    const code = 'code' in value && typeof value.code === 'string' ? value.code : undefined;
    return code === undefined ? { error: value.name } : { error: value.name, code };
  }
  if (ArrayBuffer.isView(value)) return `[binary ${value.byteLength} bytes]`;

  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item: unknown) => toJson(item, depth + 1, seen) ?? null);
    }
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype === Object.prototype || prototype === null) return redactObject(value, depth, seen);
    // Class instances (URL, Map, driver objects) have no reliable safe form; keep only their type.
    return `[${value.constructor.name}]`;
  } finally {
    seen.delete(value);
  }
}
