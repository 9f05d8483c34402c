/**
 * A tiny in-memory DirectoryBackend for the server's tests. What is under test is the server
 * (framing, rules, dispatch, back-pressure), so the directory here is deliberately naive: a
 * rootDSE, a handful of entries, one user with a known password, and a few special bases that
 * make a search slow, endless or failing on purpose. The real engine lives in engine/.
 */
import type { Control, DirectoryBackend, Filter, LdapResult, PasswordModifyRequest, SearchRequest, SearchResultEntry, SearchSink, Session } from '../../../src/directory/managed/backend.ts';
import { ResultCode, oids } from '../../../src/directory/managed/backend.ts';
import { decodePagedResultsValue, encodePagedResultsValue } from '../../../src/directory/managed/protocol/index.ts';

export const baseDn = 'DC=corp,DC=example,DC=test';
export const aliceDn = `CN=Alice,CN=Users,${baseDn}`;
export const alicePassword = 'Corr3ct-Horse';
export const invalidCredentials = '80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1';
/** A search here emits one entry, then waits until aborted. */
export const slowBase = `OU=Slow,${baseDn}`;
/** A search here streams `bigEntryCount` entries of about 1 KiB each. */
export const bigBase = `OU=Big,${baseDn}`;
export const bigEntryCount = 100_000;
/** Any operation on this DN makes the backend throw. */
export const boomDn = `CN=Boom,${baseDn}`;
export const boomSecret = 'backend-internal-detail';

type Attributes = Record<string, string[]>;

const b = (text: string): Buffer => Buffer.from(text, 'utf8');

export class StubBackend implements DirectoryBackend {
  password = alicePassword;
  /** Observations for assertions. */
  readonly seen = { bigEntriesProduced: 0, slowAborted: 0, searches: 0, binds: 0 };
  private readonly entries = new Map<string, Attributes>();

  constructor() {
    this.entries.set(baseDn, { objectClass: ['top', 'domain', 'domainDNS'], dc: ['corp'] });
    this.entries.set(`CN=Users,${baseDn}`, { objectClass: ['top', 'container'], cn: ['Users'] });
    this.entries.set(aliceDn, { objectClass: ['top', 'person', 'user'], cn: ['Alice'], sAMAccountName: ['alice'], userPrincipalName: ['alice@corp.example.test'], mail: ['alice@corp.example.test'] });
    for (let i = 1; i <= 12; i += 1) {
      this.entries.set(`CN=User${i},CN=Users,${baseDn}`, { objectClass: ['top', 'person', 'user'], cn: [`User${i}`], sAMAccountName: [`user${i}`] });
    }
  }

  bind(_session: Session, name: string, password: Buffer): Promise<{ result: LdapResult; boundDn?: string | null }> {
    this.seen.binds += 1;
    if (name === '' && password.length === 0) return Promise.resolve({ result: { resultCode: ResultCode.success }, boundDn: null });
    const isAlice = [aliceDn.toLowerCase(), 'alice@corp.example.test', 'corp\\alice'].includes(name.toLowerCase());
    if (isAlice && password.toString('utf8') === this.password) return Promise.resolve({ result: { resultCode: ResultCode.success }, boundDn: aliceDn });
    return Promise.resolve({ result: { resultCode: ResultCode.invalidCredentials, diagnosticMessage: invalidCredentials } });
  }

  async search(session: Session, request: SearchRequest, controls: Control[], sink: SearchSink): Promise<{ result: LdapResult; controls?: Control[] }> {
    this.seen.searches += 1;
    if (request.baseObject === '' && request.scope === 'base') {
      await sink.entry({
        objectName: '',
        attributes: toPartial({
          objectClass: ['top'],
          defaultNamingContext: [baseDn],
          supportedLDAPVersion: ['3'],
          supportedControl: [oids.pagedResults],
          supportedExtension: [oids.startTls, oids.whoAmI, oids.passwordModify],
          supportedCapabilities: ['1.2.840.113556.1.4.800'],
          dnsHostName: ['dc1.corp.example.test'],
        }),
      });
      return { result: { resultCode: ResultCode.success } };
    }
    if (session.boundDn === null) return { result: { resultCode: ResultCode.operationsError, diagnosticMessage: 'stub: bind first' } };
    if (request.baseObject === boomDn) throw new Error(`exploded: ${boomSecret}`);
    if (request.baseObject === slowBase) return this.slowSearch(sink);
    if (request.baseObject === bigBase) return this.bigSearch(sink);

    const matches = [...this.entries.entries()].filter(([dn, attributes]) => inScope(dn, request) && matchesFilter(request.filter, attributes));
    if (matches.length === 0 && !this.entries.has(request.baseObject)) return { result: { resultCode: ResultCode.noSuchObject, matchedDN: baseDn } };
    const paged = controls.find((control) => control.oid === oids.pagedResults);
    let page = matches;
    let responseControls: Control[] | undefined;
    if (paged?.value) {
      const { size, cookie } = decodePagedResultsValue(paged.value);
      const offset = cookie.length > 0 ? Number(cookie.toString('utf8')) : 0;
      page = matches.slice(offset, offset + size);
      const next = offset + size < matches.length ? b(String(offset + size)) : Buffer.alloc(0);
      responseControls = [{ oid: oids.pagedResults, critical: false, value: encodePagedResultsValue({ size: matches.length, cookie: next }) }];
    }
    for (const [dn, attributes] of page) await sink.entry({ objectName: dn, attributes: select(attributes, request) });
    return { result: { resultCode: ResultCode.success }, ...(responseControls && { controls: responseControls }) };
  }

  private async slowSearch(sink: SearchSink): Promise<{ result: LdapResult }> {
    await sink.entry({ objectName: `CN=First,${slowBase}`, attributes: toPartial({ cn: ['First'] }) });
    await new Promise<void>((resolve) => {
      if (sink.signal.aborted) resolve();
      sink.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    this.seen.slowAborted += 1;
    return { result: { resultCode: ResultCode.success } };
  }

  private async bigSearch(sink: SearchSink): Promise<{ result: LdapResult }> {
    const filler = 'x'.repeat(1000);
    for (let i = 0; i < bigEntryCount && !sink.signal.aborted; i += 1) {
      this.seen.bigEntriesProduced += 1;
      await sink.entry({ objectName: `CN=Big${i},${bigBase}`, attributes: toPartial({ cn: [`Big${i}`], description: [filler] }) });
    }
    return { result: { resultCode: ResultCode.success } };
  }

  add(_session: Session, request: { entry: string; attributes: Array<{ type: string; values: Buffer[] }> }): Promise<LdapResult> {
    if (request.entry === boomDn) return Promise.reject(new Error(`exploded: ${boomSecret}`));
    if (this.entries.has(request.entry)) return Promise.resolve({ resultCode: ResultCode.entryAlreadyExists, diagnosticMessage: 'exists' });
    this.entries.set(request.entry, Object.fromEntries(request.attributes.map((a) => [a.type, a.values.map((v) => v.toString('utf8'))])));
    return Promise.resolve({ resultCode: ResultCode.success });
  }

  modify(_session: Session, dn: string, changes: Array<{ operation: 'add' | 'delete' | 'replace'; type: string; values: Buffer[] }>): Promise<LdapResult> {
    const entry = this.entries.get(dn);
    if (!entry) return Promise.resolve({ resultCode: ResultCode.noSuchObject, matchedDN: baseDn });
    for (const change of changes) {
      const values = change.values.map((v) => v.toString('utf8'));
      const current = entry[change.type] ?? [];
      entry[change.type] = change.operation === 'replace' ? values : change.operation === 'add' ? [...current, ...values] : values.length ? current.filter((v) => !values.includes(v)) : [];
    }
    return Promise.resolve({ resultCode: ResultCode.success });
  }

  delete(_session: Session, dn: string): Promise<LdapResult> {
    return Promise.resolve(this.entries.delete(dn) ? { resultCode: ResultCode.success } : { resultCode: ResultCode.noSuchObject });
  }

  modifyDn(_session: Session, request: { entry: string; newRdn: string }): Promise<LdapResult> {
    const entry = this.entries.get(request.entry);
    if (!entry) return Promise.resolve({ resultCode: ResultCode.noSuchObject });
    this.entries.delete(request.entry);
    this.entries.set(`${request.newRdn},${request.entry.split(',').slice(1).join(',')}`, entry);
    return Promise.resolve({ resultCode: ResultCode.success });
  }

  compare(_session: Session, dn: string, attribute: string, value: Buffer): Promise<LdapResult> {
    const entry = this.entries.get(dn);
    if (!entry) return Promise.resolve({ resultCode: ResultCode.noSuchObject });
    const values = valuesOf(entry, attribute);
    return Promise.resolve({ resultCode: values.includes(value.toString('utf8')) ? ResultCode.compareTrue : ResultCode.compareFalse });
  }

  passwordModify(session: Session, request: PasswordModifyRequest): Promise<{ result: LdapResult; genPassword?: string }> {
    const target = request.userIdentity ?? session.boundDn;
    if (target !== aliceDn) return Promise.resolve({ result: { resultCode: ResultCode.noSuchObject } });
    if (request.oldPassword !== undefined && request.oldPassword !== this.password) {
      return Promise.resolve({ result: { resultCode: ResultCode.invalidCredentials, diagnosticMessage: invalidCredentials } });
    }
    if (request.newPassword === undefined) {
      this.password = 'Generated-Pa55';
      return Promise.resolve({ result: { resultCode: ResultCode.success }, genPassword: this.password });
    }
    this.password = request.newPassword;
    return Promise.resolve({ result: { resultCode: ResultCode.success } });
  }
}

function toPartial(attributes: Attributes): SearchResultEntry['attributes'] {
  return Object.entries(attributes).map(([type, values]) => ({ type, values: values.map(b) }));
}

function valuesOf(attributes: Attributes, name: string): string[] {
  const key = Object.keys(attributes).find((k) => k.toLowerCase() === name.toLowerCase());
  return key ? (attributes[key] ?? []) : [];
}

function select(attributes: Attributes, request: SearchRequest): SearchResultEntry['attributes'] {
  const wanted = request.attributes.map((a) => a.toLowerCase());
  const all = wanted.length === 0 || wanted.includes('*');
  return toPartial(Object.fromEntries(Object.entries(attributes).filter(([type]) => all || wanted.includes(type.toLowerCase()))));
}

function inScope(dn: string, request: SearchRequest): boolean {
  const d = dn.toLowerCase();
  const base = request.baseObject.toLowerCase();
  if (request.scope === 'base') return d === base;
  if (!d.endsWith(`,${base}`)) return request.scope === 'sub' && d === base;
  return request.scope === 'sub' || !d.slice(0, -base.length - 1).includes(',');
}

function matchesFilter(filter: Filter, attributes: Attributes): boolean {
  switch (filter.type) {
    case 'and':
      return filter.filters.every((f) => matchesFilter(f, attributes));
    case 'or':
      return filter.filters.some((f) => matchesFilter(f, attributes));
    case 'not':
      return !matchesFilter(filter.filter, attributes);
    case 'present':
      return valuesOf(attributes, filter.attribute).length > 0;
    case 'equality':
      return valuesOf(attributes, filter.attribute).some((v) => v.toLowerCase() === filter.value.toString('utf8').toLowerCase());
    default:
      return true;
  }
}
