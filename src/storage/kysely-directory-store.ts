/**
 * The managed directory's DirectoryStore on Kysely (SQLite and PostgreSQL). Entries are rows with
 * their indexed keys in columns and every other attribute in JSON; membership links are rows
 * keyed by GUID, so a rename never touches them. Every write transaction begins by bumping a
 * counter row, which on PostgreSQL serialises writers (row lock) and on SQLite is already the case.
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import {
  decodeAttributes,
  encodeAttributes,
  entryIndexKeys,
  type Counter,
  type Credentials,
  type DirectoryReads,
  type DirectoryStore,
  type DirectoryWrites,
  type LinkedEntry,
  type LookupIndex,
  type MembershipLink,
  type ScanRequest,
  type StoredEntry,
} from '#src/directory/managed/engine/store.ts';
import { reverseNdn } from '#src/directory/managed/engine/dn.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database, DirEntriesTable } from './tables.ts';

type Db = Kysely<Database> | Transaction<Database>;
type Row = Selectable<DirEntriesTable>;

/** Rows per IN (…) list: well under SQLite's and PostgreSQL's parameter limits. */
const chunkSize = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += chunkSize) out.push(items.slice(i, i + chunkSize));
  return out;
}

function toEntry(row: Row): StoredEntry {
  let attributes;
  try {
    attributes = decodeAttributes(row.attributes_json);
  } catch (error) {
    throw new AppError('storage.corrupt_record', `directory entry ${row.guid}: attributes are not valid JSON`, { cause: error });
  }
  return {
    guid: row.guid,
    dn: row.dn,
    ndn: row.ndn,
    parentNdn: row.parent_ndn,
    sid: row.sid,
    usnCreated: Number(row.usn_created),
    usnChanged: Number(row.usn_changed),
    attributes,
  };
}

function toRow(entry: StoredEntry): Omit<Row, 'usn_created' | 'usn_changed'> & { usn_created: number; usn_changed: number } {
  const keys = entryIndexKeys(entry);
  return {
    guid: entry.guid,
    dn: entry.dn,
    ndn: entry.ndn,
    ndn_rev: reverseNdn(entry.ndn),
    parent_ndn: entry.parentNdn,
    sid: entry.sid === null ? null : entry.sid.toUpperCase(),
    sam_key: keys.sam,
    upn_key: keys.upn,
    mail_key: keys.mail,
    usn_created: entry.usnCreated,
    usn_changed: entry.usnChanged,
    attributes_json: encodeAttributes(entry.attributes),
  };
}

const lookupColumn: Record<LookupIndex, 'guid' | 'sid' | 'sam_key' | 'upn_key' | 'mail_key'> = {
  objectGUID: 'guid',
  objectSid: 'sid',
  sAMAccountName: 'sam_key',
  userPrincipalName: 'upn_key',
  mail: 'mail_key',
};

function reads(db: Db): DirectoryReads {
  return {
    getByNdn: (ndn) =>
      translateStorageErrors('reading a directory entry', async () => {
        const row = await db.selectFrom('dir_entries').selectAll().where('ndn', '=', ndn).executeTakeFirst();
        return row === undefined ? undefined : toEntry(row);
      }),

    getByGuids: (guids) =>
      translateStorageErrors('reading directory entries', async () => {
        const out: StoredEntry[] = [];
        for (const part of chunks([...new Set(guids)])) {
          const rows = await db.selectFrom('dir_entries').selectAll().where('guid', 'in', part).execute();
          out.push(...rows.map(toEntry));
        }
        return out.sort((a, b) => a.usnCreated - b.usnCreated);
      }),

    lookup: (index, key) =>
      translateStorageErrors('looking up directory entries', async () => {
        const rows = await db.selectFrom('dir_entries').selectAll().where(lookupColumn[index], '=', key).orderBy('usn_created').execute();
        return rows.map(toEntry);
      }),

    scan: ({ subtree, parent, afterUsn, limit }: ScanRequest) =>
      translateStorageErrors('scanning directory entries', async () => {
        let query = db.selectFrom('dir_entries').selectAll().where('usn_created', '>', afterUsn);
        if (parent !== undefined) query = query.where('parent_ndn', '=', parent);
        if (subtree !== undefined && subtree !== '') {
          const prefix = reverseNdn(subtree);
          // ',' (0x2c) and '-' (0x2d) are adjacent: [prefix',', prefix'-') is exactly the descendants.
          const low = `${prefix},`;
          const high = `${prefix}-`;
          query = query.where((eb) => eb.or([eb('ndn_rev', '=', prefix), eb.and([eb('ndn_rev', '>=', low), eb('ndn_rev', '<', high)])]));
        }
        const rows = await query.orderBy('usn_created').limit(limit).execute();
        return rows.map(toEntry);
      }),

    countSubtree: (ndn, cap) =>
      translateStorageErrors('counting directory entries', async () => {
        const prefix = reverseNdn(ndn);
        const rows = await db
          .selectFrom('dir_entries')
          .select('guid')
          .where((eb) => eb.or([eb('ndn_rev', '=', prefix), eb.and([eb('ndn_rev', '>=', `${prefix},`), eb('ndn_rev', '<', `${prefix}-`)])]))
          .limit(cap + 1)
          .execute();
        return Math.min(rows.length, cap + 1);
      }),

    hasChildren: (ndn) =>
      translateStorageErrors('reading directory entries', async () => {
        const row = await db.selectFrom('dir_entries').select('guid').where('parent_ndn', '=', ndn).limit(1).executeTakeFirst();
        return row !== undefined;
      }),

    linksOfGroups: (groups) =>
      translateStorageErrors('reading group members', async () => {
        const out: MembershipLink[] = [];
        for (const part of chunks([...new Set(groups)])) {
          const rows = await db.selectFrom('dir_links').select(['group_guid', 'member_guid']).where('group_guid', 'in', part).execute();
          out.push(...rows.map((r) => ({ group: r.group_guid, member: r.member_guid })));
        }
        return out;
      }),

    linksOfMembers: (members) =>
      translateStorageErrors('reading group memberships', async () => {
        const out: MembershipLink[] = [];
        for (const part of chunks([...new Set(members)])) {
          const rows = await db.selectFrom('dir_links').select(['group_guid', 'member_guid']).where('member_guid', 'in', part).execute();
          out.push(...rows.map((r) => ({ group: r.group_guid, member: r.member_guid })));
        }
        return out;
      }),

    linked: (guid, direction) =>
      translateStorageErrors('reading linked entries', async () => {
        const [mine, other] = direction === 'member' ? (['group_guid', 'member_guid'] as const) : (['member_guid', 'group_guid'] as const);
        const rows = await db
          .selectFrom('dir_links')
          .innerJoin('dir_entries', 'dir_entries.guid', `dir_links.${other}`)
          .select(['dir_entries.guid as guid', 'dir_entries.dn as dn'])
          .where(`dir_links.${mine}`, '=', guid)
          .orderBy('dir_entries.usn_created')
          .execute();
        return rows.map((r): LinkedEntry => ({ guid: r.guid, dn: r.dn }));
      }),

    getCredentials: (guid) =>
      translateStorageErrors('reading credentials', async () => {
        const row = await db.selectFrom('dir_credentials').selectAll().where('guid', '=', guid).executeTakeFirst();
        if (row === undefined) return undefined;
        return { hash: row.password_hash, history: JSON.parse(row.history_json) as string[] } satisfies Credentials;
      }),

    currentCounter: (counter: Counter) =>
      translateStorageErrors('reading a counter', async () => {
        const row = await db.selectFrom('dir_counters').select('value').where('name', '=', counter).executeTakeFirst();
        return row === undefined ? 0 : Number(row.value);
      }),
  };
}

function writes(trx: Transaction<Database>): DirectoryWrites {
  return {
    ...reads(trx),
    nextCounter: async (counter) => {
      const row = await trx
        .insertInto('dir_counters')
        .values({ name: counter, value: 1 })
        .onConflict((conflict) => conflict.column('name').doUpdateSet({ value: sql<number>`dir_counters.value + 1` }))
        .returning('value')
        .executeTakeFirstOrThrow();
      return Number(row.value);
    },
    insert: async (entry) => {
      await trx.insertInto('dir_entries').values(toRow(entry)).execute();
    },
    update: async (entry) => {
      const { guid, ...changes } = toRow(entry);
      const result = await trx.updateTable('dir_entries').set(changes).where('guid', '=', guid).executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new AppError('storage.not_found', `directory entry ${guid} does not exist`, { status: 404 });
    },
    remove: async (guid) => {
      // Explicit, not only by cascade: a database without foreign keys enforced must agree.
      await trx.deleteFrom('dir_links').where((eb) => eb.or([eb('group_guid', '=', guid), eb('member_guid', '=', guid)])).execute();
      await trx.deleteFrom('dir_credentials').where('guid', '=', guid).execute();
      await trx.deleteFrom('dir_entries').where('guid', '=', guid).execute();
    },
    addLinks: async (links) => {
      for (const part of chunks(links)) {
        await trx
          .insertInto('dir_links')
          .values(part.map((l) => ({ group_guid: l.group, member_guid: l.member })))
          .execute();
      }
    },
    removeLinks: async (links) => {
      for (const link of links) {
        await trx.deleteFrom('dir_links').where('group_guid', '=', link.group).where('member_guid', '=', link.member).execute();
      }
    },
    setCredentials: async (guid, credentials) => {
      const values = { password_hash: credentials.hash, history_json: JSON.stringify(credentials.history) };
      await trx
        .insertInto('dir_credentials')
        .values({ guid, ...values })
        .onConflict((conflict) => conflict.column('guid').doUpdateSet(values))
        .execute();
    },
  };
}

export function createKyselyDirectoryStore(db: Kysely<Database>): DirectoryStore {
  return {
    ...reads(db),
    transaction: (work) => translateStorageErrors('writing the directory', () => db.transaction().execute((trx) => work(writes(trx)))),
  };
}
