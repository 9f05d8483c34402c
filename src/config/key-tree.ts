/**
 * The keys a zod schema accepts, as a plain tree. The loader uses it to map environment variable
 * names onto camelCase keys, to coerce their string values by the type the schema expects (so a
 * numeric password stays a string), and to reject keys the schema does not know (typos).
 */
import { z } from 'zod';

export type KeyNode =
  | { kind: 'object'; children: Map<string, KeyNode> }
  | { kind: 'array'; element: KeyNode }
  | { kind: 'leaf'; type: 'string' | 'number' | 'boolean' | 'record' | 'other' };

export function describeSchema(schema: z.ZodType): KeyNode {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    const children = new Map<string, KeyNode>();
    for (const [key, child] of Object.entries(inner.shape)) {
      children.set(key, describeSchema(child as z.ZodType));
    }
    return { kind: 'object', children };
  }
  if (inner instanceof z.ZodArray) return { kind: 'array', element: describeSchema(inner.element as z.ZodType) };
  if (inner instanceof z.ZodNumber) return { kind: 'leaf', type: 'number' };
  if (inner instanceof z.ZodBoolean) return { kind: 'leaf', type: 'boolean' };
  if (inner instanceof z.ZodString || inner instanceof z.ZodEnum) return { kind: 'leaf', type: 'string' };
  // Free-form keys (e.g. session tag names): a JSON object in an environment variable.
  if (inner instanceof z.ZodRecord) return { kind: 'leaf', type: 'record' };
  return { kind: 'leaf', type: 'other' };
}

/** Sees through the wrappers that do not change which keys are accepted. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodReadonly ||
      current instanceof z.ZodCatch
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

/** Adds a key the schema does not declare but the loader consumes itself (e.g. passwordFile). */
export function addLeaf(tree: KeyNode, path: readonly string[], type: 'string'): void {
  let node = tree;
  for (const [index, key] of path.entries()) {
    if (node.kind !== 'object') throw new Error(`cannot add ${path.join('.')}: ${key} is not an object`);
    if (index === path.length - 1) {
      node.children.set(key, { kind: 'leaf', type });
      return;
    }
    const next = node.children.get(key);
    if (next === undefined) throw new Error(`cannot add ${path.join('.')}: no ${key}`);
    node = next;
  }
}

/** Paths of the keys in `value` that `tree` does not accept. */
export function findUnknownKeys(tree: KeyNode, value: unknown, path: string[] = []): string[][] {
  if (tree.kind === 'object' && isPlainObject(value)) {
    return Object.entries(value).flatMap(([key, child]) => {
      const node = tree.children.get(key);
      return node === undefined ? [[...path, key]] : findUnknownKeys(node, child, [...path, key]);
    });
  }
  if (tree.kind === 'array' && Array.isArray(value)) {
    return value.flatMap((item: unknown, index) => findUnknownKeys(tree.element, item, [...path, String(index)]));
  }
  // Wrong types are the schema's to report, with a better message.
  return [];
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
