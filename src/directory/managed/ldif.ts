/**
 * LDIF (RFC 2849) content records: parsing for imports, writing for exports. Pure and streaming:
 * `parseLdif` yields one record at a time from lines, so a 100,000-user import never holds the
 * whole file, and errors name the line.
 */

export interface LdifRecord {
  dn: string;
  attributes: Array<{ type: string; values: Buffer[] }>;
  /** 1-based line of the record's `dn:` line, for error messages and progress. */
  line: number;
}

export class LdifSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`LDIF line ${line}: ${message}`);
    this.name = 'LdifSyntaxError';
  }
}

// SAFE-STRING of RFC 2849: no NUL/LF/CR anywhere, no leading space, colon or '<', ASCII only.
// eslint-disable-next-line no-control-regex -- the RFC's character classes are control characters
const safeString = /^(?![ :<])[\x01-\x09\x0b\x0c\x0e-\x7f]*$/;

function decodeValue(raw: string, lineNumber: number): Buffer {
  if (raw.startsWith(':')) {
    const base64 = raw.slice(1).trim();
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new LdifSyntaxError(lineNumber, 'invalid base64 value');
    return Buffer.from(base64, 'base64');
  }
  if (raw.startsWith('<')) throw new LdifSyntaxError(lineNumber, 'URL values (attr:< url) are not accepted');
  return Buffer.from(raw.replace(/^ /, ''), 'utf8');
}

/** Unfolds continuation lines and yields logical lines with the number of their first line. */
async function* logicalLines(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<{ text: string; line: number }> {
  let current: { text: string; line: number } | null = null;
  let number = 0;
  for await (const raw of lines) {
    number += 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith(' ') && current) {
      current.text += line.slice(1);
      continue;
    }
    if (current) yield current;
    current = { text: line, line: number };
  }
  if (current) yield current;
}

export async function* parseLdif(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<LdifRecord> {
  let record: LdifRecord | null = null;
  let sawVersion = false;
  for await (const { text, line } of logicalLines(lines)) {
    if (text === '') {
      if (record) yield record;
      record = null;
      continue;
    }
    if (text.startsWith('#')) continue;
    const colon = text.indexOf(':');
    if (colon <= 0) throw new LdifSyntaxError(line, 'expected "attribute: value"');
    const type = text.slice(0, colon);
    if (!/^[A-Za-z0-9][A-Za-z0-9;=-]*$/.test(type) && !/^\d+(\.\d+)*$/.test(type)) throw new LdifSyntaxError(line, `invalid attribute name "${type}"`);
    const value = decodeValue(text.slice(colon + 1), line);
    if (!record) {
      if (type.toLowerCase() === 'version' && !sawVersion) {
        sawVersion = true;
        if (value.toString().trim() !== '1') throw new LdifSyntaxError(line, 'only LDIF version 1 is supported');
        continue;
      }
      if (type.toLowerCase() !== 'dn') throw new LdifSyntaxError(line, 'a record must start with "dn:"');
      record = { dn: value.toString('utf8'), attributes: [], line };
      continue;
    }
    if (type.toLowerCase() === 'changetype') {
      if (value.toString().trim().toLowerCase() !== 'add') throw new LdifSyntaxError(line, 'only content records and "changetype: add" are accepted');
      continue;
    }
    const existing = record.attributes.find((a) => a.type.toLowerCase() === type.toLowerCase());
    if (existing) existing.values.push(value);
    else record.attributes.push({ type, values: [value] });
  }
  if (record) yield record;
}

function writeLine(type: string, value: Buffer): string {
  const text = value.toString('utf8');
  const line = Buffer.from(text, 'utf8').equals(value) && safeString.test(text) && !text.endsWith(' ') ? `${type}: ${text}` : `${type}:: ${value.toString('base64')}`;
  // Fold at 76 columns as RFC 2849 recommends.
  const parts = [line.slice(0, 76)];
  for (let i = 76; i < line.length; i += 75) parts.push(` ${line.slice(i, i + 75)}`);
  return parts.join('\n');
}

export function formatLdifRecord(record: Omit<LdifRecord, 'line'>): string {
  const lines = [writeLine('dn', Buffer.from(record.dn, 'utf8'))];
  for (const { type, values } of record.attributes) for (const value of values) lines.push(writeLine(type, value));
  return `${lines.join('\n')}\n\n`;
}
