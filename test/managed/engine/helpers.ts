/**
 * Test harness for the directory engine: an engine over a chosen store with a controllable
 * clock and cheap Argon2id parameters, hand-built sessions, a collecting SearchSink, and an
 * RFC 4515 filter-text parser so tests read like ldapsearch.
 */
import { randomUUID } from 'node:crypto';
import type { Control, Filter, LdapResult, SearchRequest, SearchResultEntry, Session } from '#src/directory/managed/backend.ts';
import { ResultCode, oids } from '#src/directory/managed/backend.ts';
import { decodePagedResults, encodePagedResults } from '#src/directory/managed/engine/controls.ts';
import { escapeDnValue } from '#src/directory/managed/engine/dn.ts';
import { createDirectoryEngine, type DirectoryEngine, type DirectoryEngineOptions } from '#src/directory/managed/engine/engine.ts';
import { createMemoryDirectoryStore } from '#src/directory/managed/engine/memory-store.ts';
import { createPasswordHasher, encodeUnicodePwd, type PasswordHasher } from '#src/directory/managed/engine/password.ts';
import type { DirectoryPolicy } from '#src/directory/managed/engine/policy.ts';
import type { DirectoryStore } from '#src/directory/managed/engine/store.ts';

export const BASE = 'DC=corp,DC=example,DC=test';
export const USERS = `CN=Users,${BASE}`;
export const ADMIN_DN = `CN=Administrator,${USERS}`;
export const ADMIN_PASSWORD = 'Admin-Pa55word!';
export const DOMAIN_SID = 'S-1-5-21-1111111111-2222222222-3333333333';
export const T0 = new Date('2026-03-02T10:00:00.000Z');

/** Argon2id at the library's smallest sensible cost (64 KiB, one pass): rules, not cost. */
export function cheapHasher(): PasswordHasher {
  return createPasswordHasher({ argon2: { memoryKiB: 64, timeCost: 1, parallelism: 1 } });
}

export interface Clock {
  now: Date;
  advance(ms: number): void;
}

export function createClock(start = T0): Clock {
  const clock = {
    now: new Date(start),
    advance(ms: number) {
      clock.now = new Date(clock.now.getTime() + ms);
    },
  };
  return clock;
}

export interface Harness {
  engine: DirectoryEngine;
  store: DirectoryStore;
  clock: Clock;
  admin: Session;
}

export async function createHarness(
  options: { store?: DirectoryStore; policy?: Partial<DirectoryPolicy>; engine?: Partial<DirectoryEngineOptions> } = {},
): Promise<Harness> {
  const clock = createClock();
  const store = options.store ?? createMemoryDirectoryStore();
  const engine = createDirectoryEngine({
    store,
    domain: { dnsName: 'corp.example.test', netbiosName: 'CORP', domainSid: DOMAIN_SID },
    policy: { lockoutThreshold: 3, ...options.policy },
    clock: () => clock.now,
    // Cheap hashing: these tests are about rules, not cost.
    passwordHasher: cheapHasher(),
    ...options.engine,
  });
  await engine.bootstrap({ administratorPassword: ADMIN_PASSWORD });
  const admin = session();
  const bound = await engine.bind(admin, ADMIN_DN, Buffer.from(ADMIN_PASSWORD));
  if (bound.result.resultCode !== 0) throw new Error(`admin bind failed: ${JSON.stringify(bound.result)}`);
  admin.boundDn = bound.boundDn ?? null;
  return { engine, store, clock, admin };
}

export function session(boundDn: string | null = null, secure = true): Session {
  return { id: randomUUID(), boundDn, secure, remoteAddress: '127.0.0.1' };
}

export async function bindAs(engine: DirectoryEngine, name: string, password: string): Promise<{ result: LdapResult; session: Session }> {
  const s = session();
  const { result, boundDn } = await engine.bind(s, name, Buffer.from(password));
  s.boundDn = boundDn ?? null;
  return { result, session: s };
}

export function subCode(result: LdapResult): string | null {
  return /data ([0-9a-f]+), v1db1$/.exec(result.diagnosticMessage ?? '')?.[1] ?? null;
}

// ---------------------------------------------------------------- filters

/** Parses RFC 4515 filter text (with \xx escapes) into the backend's Filter shape. */
export function parseFilterText(text: string): Filter {
  let i = 0;
  const unescape = (raw: string): Buffer => {
    const bytes: number[] = [];
    for (let j = 0; j < raw.length; j += 1) {
      if (raw[j] === '\\') {
        bytes.push(parseInt(raw.slice(j + 1, j + 3), 16));
        j += 2;
      } else bytes.push(...Buffer.from(raw[j] as string, 'utf8'));
    }
    return Buffer.from(bytes);
  };
  const parse = (): Filter => {
    if (text[i] !== '(') throw new Error(`expected ( at ${i} in ${text}`);
    i += 1;
    const c = text[i];
    if (c === '&' || c === '|') {
      i += 1;
      const filters: Filter[] = [];
      while (text[i] === '(') filters.push(parse());
      i += 1;
      return { type: c === '&' ? 'and' : 'or', filters };
    }
    if (c === '!') {
      i += 1;
      const inner = parse();
      i += 1;
      return { type: 'not', filter: inner };
    }
    let end = i;
    while (end < text.length && text[end] !== ')') {
      if (text[end] === '\\') end += 2;
      end += 1;
    }
    const item = text.slice(i, end);
    i = end + 1;
    const match = /^([^=<>~:]*)((?::dn)?(?::[\d.]+)?:=|>=|<=|~=|=)(.*)$/s.exec(item);
    if (!match) throw new Error(`bad item ${item}`);
    const [, attribute = '', op = '', value = ''] = match;
    if (op.endsWith(':=')) {
      const rule = /:([\d.]+):=$/.exec(op)?.[1];
      return { type: 'extensible', ...(attribute ? { attribute } : {}), ...(rule ? { rule } : {}), value: unescape(value), dnAttributes: op.startsWith(':dn') };
    }
    if (op === '>=') return { type: 'greaterOrEqual', attribute, value: unescape(value) };
    if (op === '<=') return { type: 'lessOrEqual', attribute, value: unescape(value) };
    if (op === '~=') return { type: 'approx', attribute, value: unescape(value) };
    if (value === '*') return { type: 'present', attribute };
    if (value.includes('*')) {
      const parts = value.split('*');
      const initial = parts.shift() as string;
      const final = parts.pop() as string;
      return {
        type: 'substrings',
        attribute,
        ...(initial ? { initial: unescape(initial) } : {}),
        any: parts.filter(Boolean).map(unescape),
        ...(final ? { final: unescape(final) } : {}),
      };
    }
    return { type: 'equality', attribute, value: unescape(value) };
  };
  return parse();
}

// ---------------------------------------------------------------- search

export interface Collected {
  entries: SearchResultEntry[];
  result: LdapResult;
  controls: Control[];
}

export async function search(
  engine: DirectoryEngine,
  s: Session,
  request: Partial<Omit<SearchRequest, 'filter'>> & { filter?: string | Filter },
  controls: Control[] = [],
): Promise<Collected> {
  const entries: SearchResultEntry[] = [];
  const full: SearchRequest = {
    baseObject: request.baseObject ?? BASE,
    scope: request.scope ?? 'sub',
    derefAliases: 0,
    sizeLimit: request.sizeLimit ?? 0,
    timeLimit: request.timeLimit ?? 0,
    typesOnly: request.typesOnly ?? false,
    filter: typeof request.filter === 'string' ? parseFilterText(request.filter) : (request.filter ?? { type: 'present', attribute: 'objectClass' }),
    attributes: request.attributes ?? [],
  };
  const controller = new AbortController();
  const { result, controls: out = [] } = await engine.search(s, full, controls, {
    entry: (entry) => {
      entries.push(entry);
      return Promise.resolve();
    },
    signal: controller.signal,
  });
  return { entries, result, controls: out };
}

export function pagedControl(size: number, cookie: Buffer = Buffer.alloc(0)): Control {
  return { oid: oids.pagedResults, critical: true, value: encodePagedResults(size, cookie) };
}

export function cookieOf(controls: Control[]): Buffer {
  const control = controls.find((c) => c.oid === oids.pagedResults);
  if (!control?.value) throw new Error('no paged-results control in the response');
  return decodePagedResults(control.value).cookie;
}

export function values(entry: SearchResultEntry | undefined, type: string): string[] {
  return entry?.attributes.find((a) => a.type.toLowerCase() === type.toLowerCase())?.values.map((v) => v.toString('utf8')) ?? [];
}

export function rawValues(entry: SearchResultEntry | undefined, type: string): Buffer[] {
  return entry?.attributes.find((a) => a.type.toLowerCase() === type.toLowerCase())?.values ?? [];
}

export function names(collected: Collected): string[] {
  return collected.entries.map((e) => e.objectName);
}

// ---------------------------------------------------------------- writes

export function attrs(record: Record<string, string | string[] | Buffer>): Array<{ type: string; values: Buffer[] }> {
  return Object.entries(record).map(([type, value]) => ({
    type,
    values: Buffer.isBuffer(value) ? [value] : (Array.isArray(value) ? value : [value]).map((v) => Buffer.from(v, 'utf8')),
  }));
}

export async function addUser(
  h: Harness,
  cn: string,
  options: { password?: string; parent?: string; extra?: Record<string, string | string[] | Buffer> } = {},
): Promise<string> {
  const dn = `CN=${escapeDnValue(cn)},${options.parent ?? USERS}`;
  const record: Record<string, string | string[] | Buffer> = {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    sAMAccountName: cn.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 20),
    userPrincipalName: `${cn.toLowerCase().replace(/[^a-z0-9]/g, '')}@corp.example.test`,
    ...options.extra,
  };
  if (options.password !== undefined) record.unicodePwd = encodeUnicodePwd(options.password);
  const result = await h.engine.add(h.admin, { entry: dn, attributes: attrs(record) });
  if (result.resultCode !== ResultCode.success) throw new Error(`add ${dn}: ${JSON.stringify(result)}`);
  return dn;
}

export async function addGroup(h: Harness, cn: string, options: { members?: string[]; groupType?: number; parent?: string } = {}): Promise<string> {
  const dn = `CN=${cn},${options.parent ?? USERS}`;
  const record: Record<string, string | string[]> = { objectClass: 'group', sAMAccountName: cn };
  if (options.groupType !== undefined) record.groupType = String(options.groupType);
  if (options.members && options.members.length > 0) record.member = options.members;
  const result = await h.engine.add(h.admin, { entry: dn, attributes: attrs(record) });
  if (result.resultCode !== ResultCode.success) throw new Error(`add ${dn}: ${JSON.stringify(result)}`);
  return dn;
}

export async function addMembers(h: Harness, group: string, members: string[]): Promise<void> {
  const result = await h.engine.modify(h.admin, group, [{ operation: 'add', type: 'member', values: members.map((m) => Buffer.from(m)) }]);
  if (result.resultCode !== ResultCode.success) throw new Error(`add members to ${group}: ${JSON.stringify(result)}`);
}
