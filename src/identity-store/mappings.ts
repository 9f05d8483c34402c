/**
 * The attribute-mapping engine, directory → identity store: parses `${dir:…}` and `${ldapName}`
 * templates, validates a mapping table, and evaluates it against one AD user. Pure, so that
 * `portico mappings preview` and sign-in compute exactly the same values.
 */
import type { DirectoryUser } from '#src/directory/types.ts';
import { AppError } from '#src/shared/errors.ts';
import { mappingTargets } from './user.ts';
import type { MappedAttributes, MappingTarget } from './user.ts';
import { directorySourceNames, directorySources, findAttribute, hasText, isDirectorySource, refusedAttributes, typedFields, type DirectorySource, type SourceReading } from './paths.ts';

export { directorySourceNames, type DirectorySource };

/** Target → template. A target absent from the table is not filled. */
export type MappingTable = Partial<Record<MappingTarget, string>>;

/**
 * Identity Center's default table for an AD identity source, kept by name (the
 * `identity-center` preset): it refuses every user whose `initials`, `givenName`, `sn` or
 * `displayName` is empty, as Identity Center does.
 */
export const identityCenterMappings: Readonly<MappingTable> = Object.freeze({
  AD_GUID: '${dir:guid}',
  email: '${dir:windowsUpn}',
  familyName: '${dir:lastname}',
  givenName: '${dir:firstname}',
  middleName: '${dir:initials}',
  name: '${dir:displayname}',
  preferredUsername: '${dir:displayname}',
  subject: '${dir:windowsUpn}',
});

/**
 * Portico's default: Identity Center's table, made to work on a typical AD. The identity store
 * needs a user name, a display name, a given and a family name (AWS's CreateUser refuses a user
 * without them), so those fall back, in order, to other attributes that AD always has
 * (sAMAccountName last); optional attributes (initials) are left unset when empty. A user that
 * Identity Center's table accepts gets exactly the same values from this one.
 */
export const defaultMappings: Readonly<MappingTable> = Object.freeze({
  AD_GUID: '${dir:guid}',
  email: '${dir:windowsUpn}',
  familyName: '${dir:lastname|displayname|samAccountName}',
  givenName: '${dir:firstname|displayname|samAccountName}',
  middleName: '${dir:initials|""}',
  name: '${dir:displayname|fullname|samAccountName}',
  preferredUsername: '${dir:displayname|fullname|samAccountName}',
  subject: '${dir:windowsUpn}',
  formattedName: '${dir:fullname|displayname|samAccountName}',
});

/** Tables an administrator can choose by name (`portico mappings set --preset <name>`). */
export const mappingPresets = Object.freeze({ default: defaultMappings, 'identity-center': identityCenterMappings });
export type MappingPreset = keyof typeof mappingPresets;
export const mappingPresetNames = Object.keys(mappingPresets) as MappingPreset[];

/** Identity-store strings hold at most 1,024 characters (AWS's limit); templates share it. */
export const maxTemplateLength = 1024;
export const maxValueLength = 1024;


const attributeName = /^[A-Za-z][A-Za-z0-9-]*$/;

export type PlaceholderAlternative = { kind: 'directory'; source: DirectorySource } | { kind: 'attribute'; name: string };

export type TemplatePart =
  | { kind: 'literal'; text: string }
  | {
      kind: 'placeholder';
      /** As written, e.g. `${dir:email|windowsUpn}`. */
      text: string;
      /** 1-based character position of its `$` in the template. */
      position: number;
      /** Tried in order; the first with a non-blank value wins. */
      alternatives: PlaceholderAlternative[];
      /** The quoted default used when every alternative is empty; null when there is none. */
      fallback: string | null;
    };

/** A syntax problem, before it is told whose template it is. */
class TemplateProblem extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

function problemAt(template: string, reason: string, index: number, hint?: string): TemplateProblem {
  const position = index + 1;
  return new TemplateProblem(`${reason} at character ${position} of ${JSON.stringify(template)}${hint ? ` (${hint})` : ''}`, position);
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f]/;

/** Parses on code points, so that positions count characters as a person does. */
function parse(template: string): TemplatePart[] {
  const chars = Array.from(template);
  if (chars.length > maxTemplateLength) {
    throw new TemplateProblem(
      `the template is ${count(chars.length)} characters long; the limit is ${count(maxTemplateLength)}`,
      maxTemplateLength + 1,
    );
  }
  if (template.trim() === '') throw new TemplateProblem('the template is empty; remove the mapping instead', 1);
  const control = chars.findIndex((c) => controlCharacter.test(c));
  if (control >= 0) throw problemAt(template, 'control character', control, 'templates are one line of text');

  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < chars.length) {
    const c = chars[i];
    const next = chars[i + 1];
    if (c === '$' && next === '$') {
      literal += '$';
      i += 2;
    } else if (c === '$' && next === '{') {
      if (literal) parts.push({ kind: 'literal', text: literal });
      literal = '';
      const { part, end } = parsePlaceholder(template, chars, i);
      parts.push(part);
      i = end;
    } else {
      // A `$` before anything but `{` or `$` cannot start a placeholder, so it is plain text.
      literal += c;
      i += 1;
    }
  }
  if (literal) parts.push({ kind: 'literal', text: literal });
  return parts;
}

function parsePlaceholder(template: string, chars: string[], start: number): { part: TemplatePart; end: number } {
  const unterminated = () =>
    problemAt(template, 'unterminated placeholder', start, 'a placeholder ends with }; write $$ for a literal $');
  const inDirectory = chars.slice(start + 2, start + 6).join('') === 'dir:';
  const alternatives: PlaceholderAlternative[] = [];
  let i = inDirectory ? start + 6 : start + 2;
  const done = (fallback: string | null, end: number) => ({
    part: { kind: 'placeholder' as const, text: chars.slice(start, end).join(''), position: start + 1, alternatives, fallback },
    end,
  });

  for (;;) {
    if (chars[i] === '"') {
      if (alternatives.length === 0) {
        throw problemAt(template, 'a quoted default needs an attribute before it', i, 'write ${dir:email|"…"}; text outside ${…} is literal');
      }
      let j = i + 1;
      let text = '';
      for (;;) {
        const ch = chars[j];
        if (ch === undefined) throw problemAt(template, 'unterminated quoted default', i, 'close it with "');
        if (ch === '"') break;
        if (ch === '\\') {
          const escaped = chars[j + 1];
          if (escaped !== '"' && escaped !== '\\') throw problemAt(template, 'unknown escape in a quoted default', j, 'only \\" and \\\\ are escapes');
          text += escaped;
          j += 2;
        } else {
          text += ch;
          j += 1;
        }
      }
      const after = j + 1;
      if (chars[after] === '}') return done(text, after + 1);
      if (chars[after] === undefined) throw unterminated();
      if (chars[after] === '|') throw problemAt(template, 'a quoted default must be the last alternative', after);
      throw problemAt(template, 'expected } after the quoted default', after);
    }

    let j = i;
    while (j < chars.length && chars[j] !== '|' && chars[j] !== '}') {
      // `${dir:email ${dir:x}`: the first placeholder lost its brace; say so, not "bad name".
      if (chars[j] === '$' && chars[j + 1] === '{') throw unterminated();
      j += 1;
    }
    if (j >= chars.length) throw unterminated();
    const name = chars.slice(i, j).join('');
    if (name === '') {
      if (alternatives.length === 0 && chars[j] === '}') {
        if (inDirectory) throw problemAt(template, 'empty directory source', i, `known: ${directorySourceNames.join(', ')}`);
        throw problemAt(template, 'empty placeholder', start, 'write ${dir:source} or ${ldapAttribute}; $$ stands for a literal $');
      }
      throw problemAt(template, 'empty alternative', i, 'alternatives are separated by a single |');
    }
    const space = Array.from(name).findIndex((c) => /\s/.test(c));
    if (space >= 0) throw problemAt(template, 'unexpected space inside a placeholder', i + space);
    alternatives.push(inDirectory ? directoryAlternative(template, name, i) : attributeAlternative(template, name, i, alternatives.length));
    if (chars[j] === '}') return done(null, j + 1);
    i = j + 1;
  }
}

function directoryAlternative(template: string, name: string, index: number): PlaceholderAlternative {
  if (isDirectorySource(name)) return { kind: 'directory', source: name };
  const sameLetters = directorySourceNames.find((s) => s.toLowerCase() === name.toLowerCase());
  if (sameLetters) {
    throw problemAt(template, `unknown directory source "${name}"`, index, `did you mean "${sameLetters}"? source names are case-sensitive`);
  }
  throw problemAt(template, `unknown directory source "${name}"`, index, `known: ${directorySourceNames.join(', ')}`);
}

function attributeAlternative(template: string, name: string, index: number, earlier: number): PlaceholderAlternative {
  const colon = name.indexOf(':');
  if (colon >= 0) {
    const namespace = name.slice(0, colon);
    if (namespace === 'dir' && earlier > 0) {
      throw problemAt(template, 'a raw-attribute placeholder cannot fall back to a directory source', index, 'inside ${…} alternatives are AD attribute names; inside ${dir:…} they are directory sources');
    }
    const hint =
      namespace === 'user'
        ? '${user:…} belongs in application attribute mappings; directory mappings read ${dir:source} or ${ldapAttribute}'
        : isDirectorySource(name)
          ? `did you mean \${dir:${name}}?`
          : namespace.toLowerCase() === 'dir'
            ? 'write dir: in lower case'
            : 'placeholders are ${dir:source} or ${ldapAttribute}';
    throw problemAt(template, `unknown placeholder namespace "${namespace}"`, index, hint);
  }
  if (!attributeName.test(name)) {
    const chars = Array.from(name);
    const bad = /[A-Za-z]/.test(chars[0] ?? '') ? chars.findIndex((c) => !/[A-Za-z0-9-]/.test(c)) : 0;
    throw problemAt(template, `invalid attribute name "${name}"`, index + bad, 'an AD attribute name starts with a letter and holds only letters, digits and hyphens');
  }
  const refused = refusedAttributes.get(name.toLowerCase());
  if (refused) throw problemAt(template, `the attribute "${name}" cannot be mapped`, index, refused);
  return { kind: 'attribute', name };
}

/** Parses one template; throws identity.mapping_invalid with the 1-based character position. */
export function parseTemplate(template: string): TemplatePart[] {
  try {
    return parse(template);
  } catch (error) {
    if (!(error instanceof TemplateProblem)) throw error;
    throw new AppError('identity.mapping_invalid', error.message, { status: 400, details: { template, position: error.position } });
  }
}

interface CompiledMapping {
  target: MappingTarget;
  template: string;
  parts: TemplatePart[];
}

function isMappingTarget(name: string): name is MappingTarget {
  return (mappingTargets as readonly string[]).includes(name);
}

function invalid(message: string, target: string | null, template: unknown, position: number | null): AppError {
  return new AppError('identity.mapping_invalid', message, {
    status: 400,
    details: { target, template: typeof template === 'string' ? template : null, position },
  });
}

/** Validates and parses every row, in the order of `mappingTargets`. */
function compile(table: Record<string, unknown>): CompiledMapping[] {
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw invalid('the mapping table must be an object of target → template', null, null, null);
  }
  for (const [target, template] of Object.entries(table)) {
    if (isMappingTarget(target)) continue;
    const sameLetters = mappingTargets.find((t) => t.toLowerCase() === target.toLowerCase());
    const hint = sameLetters ? `did you mean "${sameLetters}"? targets are case-sensitive` : `known: ${mappingTargets.join(', ')}`;
    throw invalid(`unknown mapping target "${target}" (${hint})`, target, template, null);
  }
  const compiled: CompiledMapping[] = [];
  for (const target of mappingTargets) {
    if (!Object.hasOwn(table, target)) continue;
    const template = table[target];
    if (template === undefined) continue; // a Partial record may carry explicit undefineds
    if (typeof template !== 'string') {
      throw invalid(`mapping "${target}": the template must be a string, not ${template === null ? 'null' : typeof template}`, target, template, null);
    }
    try {
      compiled.push({ target, template, parts: parse(template) });
    } catch (error) {
      if (!(error instanceof TemplateProblem)) throw error;
      throw invalid(`mapping "${target}": ${error.message}`, target, template, error.position);
    }
  }
  return compiled;
}

/**
 * Compiled frozen tables (the stored table, the default): a sign-in asks for its table's
 * attributes and then applies it, which compiled the same table twice per sign-in. Only a frozen
 * table is kept, since nothing can change it afterwards.
 */
const compiledTables = new WeakMap<object, CompiledMapping[]>();

function compiled(table: MappingTable): CompiledMapping[] {
  if (!Object.isFrozen(table)) return compile(table);
  let mappings = compiledTables.get(table);
  if (mappings === undefined) {
    mappings = compile(table);
    compiledTables.set(table, mappings);
  }
  return mappings;
}

/**
 * Checks a table read from an administrator or from storage; returns it typed, in the order of
 * `mappingTargets`. Throws identity.mapping_invalid naming the target, template and position.
 */
export function validateMappings(table: Record<string, unknown>): MappingTable {
  const valid: MappingTable = {};
  for (const { target, template } of compile(table)) valid[target] = template;
  return valid;
}

/**
 * The LDAP attributes the connector must read for these mappings, deduplicated
 * case-insensitively (first spelling kept). Includes attributes the connector always reads
 * (objectGUID, distinguishedName, userPrincipalName) so the list is complete on its own.
 */
export function referencedAttributes(table: MappingTable): string[] {
  const seen = new Set<string>();
  const names: string[] = [];
  for (const { parts } of compiled(table)) {
    for (const part of parts) {
      if (part.kind !== 'placeholder') continue;
      for (const alternative of part.alternatives) {
        const attributes = alternative.kind === 'directory' ? directorySources[alternative.source].attributes : [alternative.name];
        for (const name of attributes) {
          if (seen.has(name.toLowerCase())) continue;
          seen.add(name.toLowerCase());
          names.push(name);
        }
      }
    }
  }
  return names;
}

export interface MappedValueSource {
  /** The placeholder as written in the template. */
  placeholder: string;
  /** The AD attribute that supplied the value; null when the quoted default did. */
  attribute: string | null;
  value: string;
}

export interface MappingOutcome {
  values: MappedAttributes;
  sources: Partial<Record<MappingTarget, MappedValueSource[]>>;
}

export interface MappingExplanation {
  target: MappingTarget;
  template: string;
  /** The value the target gets; null when it is missing, too long, or left empty by a `""` default. */
  value: string | null;
  sources: MappedValueSource[];
  error: string | null;
}

interface Evaluation {
  value: string | null;
  sources: MappedValueSource[];
  /** Set when the mapping cannot produce a value; the AppError sign-in would raise. */
  problem: AppError | null;
}


function readAlternative(alternative: PlaceholderAlternative, user: DirectoryUser): SourceReading {
  if (alternative.kind === 'directory') return directorySources[alternative.source].read(user);
  const found = findAttribute(user, alternative.name);
  if (found) return { value: found.value, attribute: found.name };
  const typed = typedFields[alternative.name.toLowerCase()]?.(user) ?? null;
  return { value: hasText(typed) ? typed : null, attribute: alternative.name };
}

function primaryAttribute(alternative: PlaceholderAlternative): string {
  return alternative.kind === 'directory' ? (directorySources[alternative.source].attributes[0] ?? alternative.source) : alternative.name;
}

/** How a user is named in messages: the UPN a person signs in with, implicit one included. */
function userLabel(user: DirectoryUser): string {
  return directorySources.windowsUpn.read(user).value ?? user.dn;
}

function quotedList(names: string[]): string {
  const quoted = names.map((n) => `"${n}"`);
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1) ?? ''}`;
}

function count(n: number): string {
  return n.toLocaleString('en');
}

function evaluate(mapping: CompiledMapping, user: DirectoryUser): Evaluation {
  const { target, template } = mapping;
  const sources: MappedValueSource[] = [];
  let text = '';
  let problem: AppError | null = null;
  for (const part of mapping.parts) {
    if (part.kind === 'literal') {
      text += part.text;
      continue;
    }
    let resolved = false;
    for (const alternative of part.alternatives) {
      const reading = readAlternative(alternative, user);
      // A blank value is as good as none: it cannot identify or describe anyone.
      if (!hasText(reading.value)) continue;
      sources.push({ placeholder: part.text, attribute: reading.attribute, value: reading.value });
      text += reading.value;
      resolved = true;
      break;
    }
    if (resolved) continue;
    if (part.fallback !== null) {
      sources.push({ placeholder: part.text, attribute: null, value: part.fallback });
      text += part.fallback;
      continue;
    }
    // Keep going after the first gap so a preview shows every placeholder that did resolve.
    if (problem) continue;
    const attributes = [...new Set(part.alternatives.map(primaryAttribute))];
    const one = attributes.length === 1;
    problem = new AppError(
      'identity.mapping_value_missing',
      `the ${one ? 'attribute' : 'attributes'} ${quotedList(attributes)} (${part.text}) of ${userLabel(user)} ${one ? 'is' : 'are'} empty, and the mapping "${target}" needs ${one ? 'it' : 'one of them'}`,
      { status: 422, details: { target, template, attribute: attributes[0] ?? null, attributes, placeholder: part.text } },
    );
  }
  if (problem) return { value: null, sources, problem };

  const value = text.trim();
  // Only an explicit empty default (`${dir:initials|""}`) can leave the whole value empty:
  // the administrator asked for the target to stay unset rather than block sign-in.
  if (value === '') return { value: null, sources, problem: null };
  const length = Array.from(value).length;
  if (length > maxValueLength) {
    return {
      value: null,
      sources,
      problem: new AppError(
        'identity.mapping_value_missing',
        `the mapping "${target}" produced ${count(length)} characters for ${userLabel(user)}; the identity store holds at most ${count(maxValueLength)}`,
        { status: 422, details: { target, template, attribute: null, length, limit: maxValueLength } },
      ),
    };
  }
  return { value, sources, problem: null };
}

/**
 * Computes every mapped value of one user, as JIT provisioning stores it. Throws
 * identity.mapping_invalid for a bad table and identity.mapping_value_missing for the first
 * target (in `mappingTargets` order) that cannot get a value.
 */
export function applyMappings(table: MappingTable, user: DirectoryUser): MappingOutcome {
  const outcome: MappingOutcome = { values: {}, sources: {} };
  for (const mapping of compiled(table)) {
    const { value, sources, problem } = evaluate(mapping, user);
    if (problem) throw problem;
    outcome.sources[mapping.target] = sources;
    if (value !== null) outcome.values[mapping.target] = value;
  }
  return outcome;
}

/**
 * One row per mapped target for `portico mappings preview`: value problems are reported per row,
 * never thrown. A bad table still throws identity.mapping_invalid.
 */
export function explainMappings(table: MappingTable, user: DirectoryUser): MappingExplanation[] {
  return compiled(table).map((mapping) => {
    const { value, sources, problem } = evaluate(mapping, user);
    return { target: mapping.target, template: mapping.template, value, sources, error: problem ? problem.message : null };
  });
}

/** Why one mapping refuses one user, in the terms `portico mappings check` groups by. */
export interface MappingRefusal {
  target: MappingTarget;
  template: string;
  /** The AD attributes that are all empty (the first placeholder with no value); empty for `tooLong`. */
  attributes: string[];
  reason: 'empty' | 'tooLong';
  message: string;
}

/** Every mapping that would refuse this user at sign-in (none: the user can be provisioned). */
export function mappingRefusals(table: MappingTable, user: DirectoryUser): MappingRefusal[] {
  const refusals: MappingRefusal[] = [];
  for (const mapping of compiled(table)) {
    const { problem } = evaluate(mapping, user);
    if (!problem) continue;
    const attributes = problem.details?.attributes;
    refusals.push({
      target: mapping.target,
      template: mapping.template,
      attributes: Array.isArray(attributes) ? (attributes as string[]) : [],
      reason: Array.isArray(attributes) ? 'empty' : 'tooLong',
      message: problem.message,
    });
  }
  return refusals;
}

/** The name a user is shown by in reports: their UPN, the implicit one included. */
export function mappingUserLabel(user: DirectoryUser): string {
  return userLabel(user);
}
