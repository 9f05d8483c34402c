/**
 * DirectoryConnectionStore on Kysely. The password is sealed with the secret box, bound to the
 * connection's name (the box's authenticated context): a sealed value copied onto another row
 * fails to open instead of handing that connection someone else's password.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type {
  DirectoryConnectionStore,
  DirectoryConnectionSummary,
  StoredDirectoryConnection,
} from '#src/directory/connection-store.ts';
import { withoutPassword } from '#src/directory/connection-store.ts';
import { directoryConnectionOptionsSchema, type DirectoryConnectionOptions } from '#src/directory/options.ts';
import type { SecretBox } from '#src/secrets/index.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { Database, DirectoryConnectionsTable } from './tables.ts';

export interface KyselyDirectoryConnectionStoreOptions {
  clock?: () => Date;
  generateId?: () => string;
}

type Row = Selectable<DirectoryConnectionsTable>;

export function createKyselyDirectoryConnectionStore(
  db: Kysely<Database>,
  box: SecretBox,
  { clock = () => new Date(), generateId = randomUUID }: KyselyDirectoryConnectionStoreOptions = {},
): DirectoryConnectionStore {
  return {
    save: ({ name, options }) =>
      translateStorageErrors('saving a directory connection', async () => {
        const stored = withoutPassword(options);
        const now = clock().toISOString();
        const changes = {
          domain: options.domain,
          options_json: JSON.stringify(stored.options),
          bind_password_sealed: box.seal(stored.password, sealContext(name)),
          updated_at: now,
        };
        // One statement, so concurrent saves of a new name cannot both insert.
        const row = await db
          .insertInto('directory_connections')
          .values({ id: generateId(), name, created_at: now, ...changes })
          .onConflict((conflict) => conflict.column('name').doUpdateSet(changes))
          .returning(['id', 'created_at', 'updated_at'])
          .executeTakeFirstOrThrow();
        return { id: row.id, name, options, createdAt: new Date(row.created_at), updatedAt: new Date(row.updated_at) };
      }),

    get: (name) =>
      translateStorageErrors('reading a directory connection', async () => {
        const row = await db.selectFrom('directory_connections').selectAll().where('name', '=', name).executeTakeFirst();
        if (row === undefined) return undefined;
        const password = box.open(row.bind_password_sealed, sealContext(row.name));
        return toStored(row, password);
      }),

    list: () =>
      translateStorageErrors('listing directory connections', async () => {
        const rows = await db
          .selectFrom('directory_connections')
          .select(['id', 'name', 'options_json', 'created_at', 'updated_at'])
          .execute();
        // Sorted here, not by SQL: text collation differs between SQLite and PostgreSQL servers.
        return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(toSummary);
      }),

    remove: (name) =>
      translateStorageErrors('removing a directory connection', async () => {
        const result = await db.deleteFrom('directory_connections').where('name', '=', name).executeTakeFirst();
        return result.numDeletedRows > 0n;
      }),
  };
}

function sealContext(name: string): string {
  return `directory_connections:${name}`;
}

function toStored(row: Row, password: string): StoredDirectoryConnection {
  const stored = parseStoredOptions(row);
  const options = parseOptions({ ...stored, serviceAccount: { ...stored.serviceAccount, password } }, row.name);
  return { id: row.id, name: row.name, options, createdAt: new Date(row.created_at), updatedAt: new Date(row.updated_at) };
}

function toSummary(row: Pick<Row, 'id' | 'name' | 'options_json' | 'created_at' | 'updated_at'>): DirectoryConnectionSummary {
  const stored = parseStoredOptions(row);
  // The schema requires a password; a placeholder lets it validate and fill defaults, and is
  // dropped again, so listing never needs to decrypt anything.
  const parsed = parseOptions({ ...stored, serviceAccount: { ...stored.serviceAccount, password: 'unused' } }, row.name);
  return {
    id: row.id,
    name: row.name,
    options: withoutPassword(parsed).options,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function parseStoredOptions(row: Pick<Row, 'name' | 'options_json'>): { serviceAccount?: object } & Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(row.options_json);
  } catch (error) {
    throw corrupt(row.name, error);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(row.name);
  return value as Record<string, unknown>;
}

/**
 * Stored options are parsed again on every read: defaults added to the schema since the row was
 * written apply, and a row the schema no longer accepts fails loudly instead of misbehaving.
 */
function parseOptions(value: unknown, name: string): DirectoryConnectionOptions {
  const result = directoryConnectionOptionsSchema.safeParse(value);
  if (!result.success) {
    const paths = result.error.issues.map((issue) => issue.path.join('.') || '(root)');
    throw new AppError('storage.corrupt_record', `directory connection ${name}: stored options are invalid at ${paths.join(', ')}`);
  }
  return result.data;
}

function corrupt(name: string, cause?: unknown): AppError {
  return new AppError('storage.corrupt_record', `directory connection ${name}: stored options are not a JSON object`, { cause });
}
