/**
 * ApplicationCredentialStore on Kysely. The secret is sealed with the secret box, bound to its
 * access key id (the box's authenticated context): a sealed secret copied onto another key's row
 * fails to open instead of letting that key sign with someone else's secret.
 */
import type { Kysely, Selectable } from 'kysely';
import {
  credentialNameProblem,
  isAccessKeyId,
  newAccessKeyId,
  newSecretAccessKey,
  type ApplicationCredential,
  type ApplicationCredentialStore,
} from '#src/identity-store/application-credentials.ts';
import type { SecretBox } from '#src/secrets/index.ts';
import { AppError } from '#src/shared/errors.ts';
import { isUniqueViolation, translateStorageErrors } from './errors.ts';
import type { ApplicationCredentialsTable, Database } from './tables.ts';

export interface KyselyApplicationCredentialStoreOptions {
  clock?: () => Date;
  generateAccessKeyId?: () => string;
  generateSecret?: () => string;
}

type Row = Selectable<ApplicationCredentialsTable>;

// 80 random bits make a collision absurd; a retry keeps even that from surfacing as an error.
const CREATE_ATTEMPTS = 3;
/** Opened secrets kept per key; a bound on memory only (an instance has a handful of keys). */
const OPENED_ENTRIES = 1000;

export function createKyselyApplicationCredentialStore(
  db: Kysely<Database>,
  box: SecretBox,
  { clock = () => new Date(), generateAccessKeyId = newAccessKeyId, generateSecret = newSecretAccessKey }: KyselyApplicationCredentialStoreOptions = {},
): ApplicationCredentialStore {
  // Every signed request needs its key's secret. The row is still read each time (a revocation,
  // here or on another instance, counts at once); only the AES-GCM open is skipped while the row
  // holds the very sealed text that was opened before, for the same key (the seal's context).
  const opened = new Map<string, { sealed: string; secret: string }>();
  const open = (accessKeyId: string, sealed: string): string => {
    const known = opened.get(accessKeyId);
    if (known !== undefined && known.sealed === sealed) return known.secret;
    const secret = box.open(sealed, sealContext(accessKeyId));
    if (opened.size >= OPENED_ENTRIES) opened.clear();
    opened.set(accessKeyId, { sealed, secret });
    return secret;
  };

  return {
    create: (name) =>
      translateStorageErrors('issuing an application credential', async () => {
        const problem = credentialNameProblem(name);
        if (problem) throw new AppError('api.invalid_request', `application credential: ${problem}`, { status: 400 });
        const createdAt = clock();
        for (let attempt = 1; ; attempt += 1) {
          const accessKeyId = generateAccessKeyId();
          const secretAccessKey = generateSecret();
          try {
            await db
              .insertInto('application_credentials')
              .values({
                access_key_id: accessKeyId,
                name: name.trim(),
                secret_sealed: box.seal(secretAccessKey, sealContext(accessKeyId)),
                created_at: createdAt.toISOString(),
                last_used_at: null,
                revoked_at: null,
              })
              .execute();
            return { accessKeyId, secretAccessKey, name: name.trim(), createdAt, lastUsedAt: null, revokedAt: null };
          } catch (error) {
            if (!isUniqueViolation(error) || attempt >= CREATE_ATTEMPTS) throw error;
          }
        }
      }),

    getSecret: (accessKeyId) =>
      translateStorageErrors('reading an application credential', async () => {
        // Malformed ids never reach the database: the API passes whatever a client sent.
        if (!isAccessKeyId(accessKeyId)) return undefined;
        const row = await db
          .selectFrom('application_credentials')
          .select(['access_key_id', 'secret_sealed', 'revoked_at'])
          .where('access_key_id', '=', accessKeyId)
          .executeTakeFirst();
        if (row === undefined || row.revoked_at !== null) return undefined;
        return open(row.access_key_id, row.secret_sealed);
      }),

    list: () =>
      translateStorageErrors('listing application credentials', async () => {
        const rows = await db
          .selectFrom('application_credentials')
          .select(['access_key_id', 'name', 'created_at', 'last_used_at', 'revoked_at'])
          .execute();
        // Sorted here, not by SQL: text collation differs between SQLite and PostgreSQL servers.
        return rows.map(toCredential).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || compare(a.accessKeyId, b.accessKeyId));
      }),

    revoke: (accessKeyId) =>
      translateStorageErrors('revoking an application credential', async () => {
        const result = await db
          .updateTable('application_credentials')
          .set({ revoked_at: clock().toISOString() })
          .where('access_key_id', '=', accessKeyId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      }),

    markUsed: (accessKeyId, at) =>
      translateStorageErrors('recording the use of an application credential', async () => {
        await db.updateTable('application_credentials').set({ last_used_at: at.toISOString() }).where('access_key_id', '=', accessKeyId).execute();
      }),
  };
}

function sealContext(accessKeyId: string): string {
  return `application_credentials:${accessKeyId}`;
}

function toCredential(row: Omit<Row, 'secret_sealed'>): ApplicationCredential {
  return {
    accessKeyId: row.access_key_id,
    name: row.name,
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
