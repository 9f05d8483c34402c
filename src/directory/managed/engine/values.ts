/**
 * Small readers and formats over stored attributes (first value, integers, AD's time formats,
 * object classes) that every engine module uses; pure functions, no engine state.
 */
import { dateToFiletime } from '#src/directory/ad-codec.ts';
import type { AttributeMap, AttributeValue, StoredEntry } from './store.ts';

// eslint-disable-next-line no-control-regex -- control characters are what is refused
export const controlCharacters = /[\u0000-\u001f\u007f]/;

export function generalizedTime(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}.0Z`;
}

export function filetime(date: Date): string {
  return dateToFiletime(date).toString();
}

export function first(attributes: AttributeMap, name: string): string | undefined {
  const value = attributes[name]?.[0];
  return value === undefined ? undefined : value.toString();
}

export function int(attributes: AttributeMap, name: string, otherwise = 0): number {
  const value = Number(first(attributes, name));
  return Number.isFinite(value) ? value : otherwise;
}

export function bigint(attributes: AttributeMap, name: string): bigint {
  const value = first(attributes, name);
  return value !== undefined && /^-?\d+$/.test(value) ? BigInt(value) : 0n;
}

export function classesOf(entry: StoredEntry): string[] {
  return (entry.attributes.objectClass ?? []).map((v) => v.toString().toLowerCase());
}

export function isUser(entry: StoredEntry): boolean {
  return classesOf(entry).includes('user');
}

export function isGroup(entry: StoredEntry): boolean {
  return classesOf(entry).includes('group');
}

export function toBuffer(value: AttributeValue): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
}
