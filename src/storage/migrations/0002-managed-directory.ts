/** The managed directory: entries, group membership links, credentials, counters. */
import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

export const managedDirectory: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
    await db.schema
      .createTable('dir_entries')
      .addColumn('guid', 'text', (column) => column.primaryKey())
      .addColumn('dn', 'text', (column) => column.notNull())
      .addColumn('ndn', 'text', (column) => column.notNull())
      // Root-first normalised DN: a subtree is a contiguous range of it. Byte order ("C") on
      // PostgreSQL, whose default collation would not keep ',' and '-' adjacent; SQLite's
      // default (BINARY) already is byte order.
      .addColumn('ndn_rev', 'text', (column) => (postgres ? column.notNull().modifyEnd(sql`collate "C"`) : column.notNull()))
      .addColumn('parent_ndn', 'text')
      .addColumn('sid', 'text')
      .addColumn('sam_key', 'text')
      .addColumn('upn_key', 'text')
      .addColumn('mail_key', 'text')
      .addColumn('usn_created', 'bigint', (column) => column.notNull())
      .addColumn('usn_changed', 'bigint', (column) => column.notNull())
      .addColumn('attributes_json', 'text', (column) => column.notNull())
      .addUniqueConstraint('dir_entries_ndn_key', ['ndn'])
      .addUniqueConstraint('dir_entries_usn_created_key', ['usn_created'])
      .addUniqueConstraint('dir_entries_sid_key', ['sid'])
      .addUniqueConstraint('dir_entries_sam_key_key', ['sam_key'])
      .addUniqueConstraint('dir_entries_upn_key_key', ['upn_key'])
      .execute();
    // Equality look-ups (sAMAccountName, UPN, GUID, SID and DN are covered by the keys above).
    await db.schema.createIndex('dir_entries_mail_key_idx').on('dir_entries').column('mail_key').execute();
    await db.schema.createIndex('dir_entries_parent_idx').on('dir_entries').columns(['parent_ndn', 'usn_created']).execute();
    await db.schema.createIndex('dir_entries_ndn_rev_idx').on('dir_entries').columns(['ndn_rev']).execute();

    await db.schema
      .createTable('dir_links')
      .addColumn('group_guid', 'text', (column) => column.notNull().references('dir_entries.guid').onDelete('cascade'))
      .addColumn('member_guid', 'text', (column) => column.notNull().references('dir_entries.guid').onDelete('cascade'))
      .addPrimaryKeyConstraint('dir_links_pkey', ['group_guid', 'member_guid'])
      .execute();
    await db.schema.createIndex('dir_links_member_idx').on('dir_links').columns(['member_guid', 'group_guid']).execute();

    await db.schema
      .createTable('dir_credentials')
      .addColumn('guid', 'text', (column) => column.primaryKey().references('dir_entries.guid').onDelete('cascade'))
      .addColumn('password_hash', 'text')
      .addColumn('history_json', 'text', (column) => column.notNull())
      .execute();

    await db.schema
      .createTable('dir_counters')
      .addColumn('name', 'text', (column) => column.primaryKey())
      .addColumn('value', 'bigint', (column) => column.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('dir_counters').execute();
    await db.schema.dropTable('dir_credentials').execute();
    await db.schema.dropTable('dir_links').execute();
    await db.schema.dropTable('dir_entries').execute();
  },
};
