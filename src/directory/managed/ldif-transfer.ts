/**
 * LDIF import into and export from the managed directory, through the same operations an
 * administrator's LDAP tools use. Imports run in two passes — entries, then group members — so a
 * file may list a group before its members; exports leave out what the directory owns (GUIDs,
 * SIDs, USNs, computed attributes, the objects it provisions itself) so they import again.
 */
import { AppError } from '#src/shared/errors.ts';
import type { DirectoryBackend, SearchResultEntry, Session } from './backend.ts';
import { oids, ResultCode } from './backend.ts';
import { decodePagedResults, encodePagedResults } from './engine/controls.ts';
import { attributeType } from './engine/schema.ts';
import { formatLdifRecord } from './ldif.ts';
import type { LdifRecord } from './ldif.ts';
import { SERVICE_ACCOUNT_NAME } from './service-account.ts';

export interface ImportProgress {
  entries: number;
  /** Records in the file when known (for a percentage). */
  total: number | null;
  failed: number;
}

export interface ImportFailure {
  line: number;
  dn: string;
  message: string;
}

export interface ImportReport {
  added: number;
  memberships: number;
  failures: ImportFailure[];
}

const linkBatch = 500;

export async function importLdif(
  backend: DirectoryBackend,
  session: Session,
  records: AsyncIterable<LdifRecord>,
  options: { total?: number; continueOnError?: boolean; onProgress?: (progress: ImportProgress) => void } = {},
): Promise<ImportReport> {
  const failures: ImportFailure[] = [];
  const links: Array<{ dn: string; line: number; members: Buffer[] }> = [];
  let added = 0;
  const fail = (failure: ImportFailure): void => {
    failures.push(failure);
    if (!options.continueOnError) {
      throw new AppError('directory.import_failed', `LDIF line ${failure.line} (${failure.dn}): ${failure.message}; ${added} entries were imported before it`, {
        status: 400,
        details: { added },
      });
    }
  };

  for await (const record of records) {
    const members = record.attributes.filter((a) => a.type.toLowerCase() === 'member').flatMap((a) => a.values);
    const attributes = record.attributes.filter((a) => a.type.toLowerCase() !== 'member');
    const result = await backend.add(session, { entry: record.dn, attributes });
    if (result.resultCode === ResultCode.success) {
      added += 1;
      if (members.length > 0) links.push({ dn: record.dn, line: record.line, members });
    } else {
      fail({ line: record.line, dn: record.dn, message: result.diagnosticMessage ?? `LDAP result ${result.resultCode}` });
    }
    options.onProgress?.({ entries: added + failures.length, total: options.total ?? null, failed: failures.length });
  }

  let memberships = 0;
  for (const group of links) {
    for (let i = 0; i < group.members.length; i += linkBatch) {
      const values = group.members.slice(i, i + linkBatch);
      const result = await backend.modify(session, group.dn, [{ operation: 'add', type: 'member', values }]);
      if (result.resultCode === ResultCode.success) memberships += values.length;
      else fail({ line: group.line, dn: group.dn, message: `members: ${result.diagnosticMessage ?? `LDAP result ${result.resultCode}`}` });
    }
  }
  return { added, memberships, failures };
}

/** Account state (lockout, password age) belongs to the directory the entry lives in. */
const stateAttributes = new Set(['pwdlastset', 'lockouttime', 'iscriticalsystemobject']);

/** What an administrator may write: the directory's own and computed attributes are not exported. */
function isWritable(type: string): boolean {
  const known = attributeType(type.split(';')[0] ?? type);
  return (known?.owner === 'user' || known?.owner === 'special') && !stateAttributes.has(known.name.toLowerCase());
}

function isExportable(entry: SearchResultEntry): boolean {
  const has = (type: string, value: string): boolean => entry.attributes.some((a) => a.type.toLowerCase() === type && a.values.some((v) => v.toString().toLowerCase() === value));
  // Portico's service account is provisioned by every directory itself (with its own password).
  return !has('iscriticalsystemobject', 'true') && !has('samaccountname', SERVICE_ACCOUNT_NAME);
}

/** Every entry under `baseDn` as LDIF text, page by page (parents come before their children). */
export async function* exportLdif(backend: DirectoryBackend, session: Session, baseDn: string): AsyncGenerator<string> {
  let cookie: Buffer = Buffer.alloc(0);
  do {
    const page: SearchResultEntry[] = [];
    const { result, controls } = await backend.search(
      session,
      { baseObject: baseDn, scope: 'sub', derefAliases: 0, sizeLimit: 0, timeLimit: 0, typesOnly: false, filter: { type: 'present', attribute: 'objectClass' }, attributes: ['*'] },
      [{ oid: oids.pagedResults, critical: true, value: encodePagedResults(500, cookie) }],
      { entry: (entry) => (page.push(entry), Promise.resolve()), signal: new AbortController().signal },
    );
    if (result.resultCode !== ResultCode.success) {
      throw new AppError('directory.protocol_error', `export failed: ${result.diagnosticMessage ?? `LDAP result ${result.resultCode}`}`, { status: 500 });
    }
    // Shallower entries first, so that an import creates parents before children.
    page.sort((a, b) => a.objectName.split(',').length - b.objectName.split(',').length);
    for (const entry of page.filter(isExportable)) {
      yield formatLdifRecord({ dn: entry.objectName, attributes: entry.attributes.filter((a) => isWritable(a.type)) });
    }
    const paged = controls?.find((c) => c.oid === oids.pagedResults);
    cookie = paged?.value ? decodePagedResults(paged.value).cookie : Buffer.alloc(0);
  } while (cookie.length > 0);
}
