/**
 * Request members checked against the constraints of the IdentityStore's service model (botocore
 * `identitystore/2020-06-15`), collecting every violation into one ValidationException worded as
 * AWS words them. Members a request does not define are ignored, as AWS ignores them. Values of
 * string members are not echoed: most of them are sensitive in the model (names, emails).
 */
import { validationError } from './errors.ts';

export interface StringRule {
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: { regex: RegExp; text: string };
}

export const patterns = {
  identityStoreId: {
    regex: /^(d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/,
    text: 'd-[0-9a-f]{10}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
  },
  resourceId: {
    regex: /^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$/,
    text: '([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}',
  },
  nextToken: { regex: /^[-a-zA-Z0-9+=/:_]*$/, text: '[-a-zA-Z0-9+=/:_]*' },
  attributePath: { regex: /^\p{L}+(?:\.\p{L}+){0,2}$/u, text: '\\p{L}+(?:\\.\\p{L}+){0,2}' },
  externalIdIssuer: { regex: /^(?!(arn|aws):)[\p{L}\p{M}\p{S}\p{N}\p{P}]+$/iu, text: '(?!(?i)(arn|aws):)[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+' },
  externalIdId: { regex: /^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$/u, text: '[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+' },
} as const;

/** A request body (or a structure within it) being read; `finish` throws what was found wrong. */
export class Input {
  private readonly problems: string[];
  private readonly body: Record<string, unknown>;
  private readonly path: string;

  constructor(body: Record<string, unknown>, path = '', problems: string[] = []) {
    this.body = body;
    this.path = path;
    this.problems = problems;
  }

  /** AWS names members in camelCase in its messages: `identityStoreId`, `memberId.userId`. */
  private where(member: string): string {
    if (member === '') return this.path; // a list element itself
    const name = member.charAt(0).toLowerCase() + member.slice(1);
    return this.path ? `${this.path}.${name}` : name;
  }

  private fail(member: string, constraint: string, value?: string | number): void {
    const shown = value === undefined ? 'Value' : `Value '${value}'`;
    this.problems.push(`${shown} at '${this.where(member)}' failed to satisfy constraint: ${constraint}`);
  }

  has(member: string): boolean {
    const value = this.body[member];
    return value !== undefined && value !== null;
  }

  string(member: string, rule: StringRule & { required: true }): string;
  string(member: string, rule?: StringRule): string | undefined;
  string(member: string, rule: StringRule = {}): string | undefined {
    const value = this.body[member];
    if (value === undefined || value === null) {
      if (rule.required) this.problems.push(`Value null at '${this.where(member)}' failed to satisfy constraint: Member must not be null`);
      return rule.required ? '' : undefined;
    }
    if (typeof value !== 'string') {
      this.fail(member, 'Member must be a string');
      return '';
    }
    const length = [...value].length;
    if (rule.min !== undefined && length < rule.min) this.fail(member, `Member must have length greater than or equal to ${rule.min}`);
    else if (rule.max !== undefined && length > rule.max) this.fail(member, `Member must have length less than or equal to ${rule.max}`);
    else if (rule.pattern && !rule.pattern.regex.test(value)) this.fail(member, `Member must satisfy regular expression pattern: ${rule.pattern.text}`);
    return value;
  }

  integer(member: string, { min, max }: { min: number; max: number }): number | undefined {
    const value = this.body[member];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.fail(member, 'Member must be an integer');
      return undefined;
    }
    if (value < min) this.fail(member, `Member must have value greater than or equal to ${min}`, value);
    else if (value > max) this.fail(member, `Member must have value less than or equal to ${max}`, value);
    return value;
  }

  /** A nested structure; undefined when absent (and reported when required). */
  structure(member: string, { required = false }: { required?: boolean } = {}): Input | undefined {
    const value = this.body[member];
    if (value === undefined || value === null) {
      if (required) this.problems.push(`Value null at '${this.where(member)}' failed to satisfy constraint: Member must not be null`);
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.fail(member, 'Member must be a structure');
      return undefined;
    }
    return new Input(value as Record<string, unknown>, this.where(member), this.problems);
  }

  /**
   * A list member; `read` gets each element as the member `''` of an Input whose path ends in the
   * element's (1-based) index: `at.string('')`, `at.structure('')`.
   */
  list<T>(member: string, { min, max, required = false }: { min: number; max: number; required?: boolean }, read: (at: Input) => T): T[] | undefined {
    const value = this.body[member];
    if (value === undefined || value === null) {
      if (required) this.problems.push(`Value null at '${this.where(member)}' failed to satisfy constraint: Member must not be null`);
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.fail(member, 'Member must be a list');
      return undefined;
    }
    if (value.length < min) this.fail(member, `Member must have length greater than or equal to ${min}`);
    if (value.length > max) this.fail(member, `Member must have length less than or equal to ${max}`);
    return value.map((element: unknown, index) => read(new Input({ '': element }, `${this.where(member)}.${index + 1}`, this.problems)));
  }

  /** For union structures: exactly one of `members` must be set. */
  oneOf(members: string[]): string | undefined {
    const set = members.filter((member) => this.has(member));
    if (set.length !== 1) {
      this.problems.push(
        `Value at '${this.path || 'request'}' failed to satisfy constraint: Member must have exactly one of ${members.map((m) => this.where(m)).join(', ')} set`,
      );
      return undefined;
    }
    return set[0];
  }

  /** The raw value of a member (a Document, such as UniqueAttribute.AttributeValue). */
  raw(member: string): unknown {
    return this.body[member];
  }

  /** Throws the collected violations as one ValidationException. */
  finish(): void {
    if (this.problems.length > 0) throw validationError(this.problems);
  }
}
