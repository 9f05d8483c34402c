/**
 * AwsSsoStore on Kysely (src/portal/aws-sso/store.ts). Each operation is one statement; the
 * once-only transitions are conditional updates whose affected-row count says who won.
 */
import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import type { AuthorizationCode, AwsSsoStore, DeviceCode, DeviceCodeStatus, SsoClient, SsoGrant, SsoPrincipal } from '#src/portal/aws-sso/store.ts';
import { AppError } from '#src/shared/errors.ts';
import { translateStorageErrors } from './errors.ts';
import type { AwsSsoAuthorizationCodesTable, AwsSsoClientsTable, AwsSsoDeviceCodesTable, AwsSsoGrantsTable, Database } from './tables.ts';

const principalSchema = z.object({
  userId: z.string(),
  userGuid: z.string(),
  userName: z.string(),
  displayName: z.string().nullable(),
  groups: z.array(z.object({ guid: z.string(), qualifiedName: z.string() })),
  groupsTruncated: z.boolean(),
  signedInAt: z.string(),
});
const scopesSchema = z.array(z.string());

function parseJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new AppError('storage.corrupt_record', `a stored ${what} is not readable`, { status: 500 });
  return parsed.data;
}

const storedPrincipal = (principal: SsoPrincipal): string => JSON.stringify({ ...principal, signedInAt: principal.signedInAt.toISOString() });
const readPrincipal = (text: string): SsoPrincipal => {
  const value = parseJson(principalSchema, text, 'AWS SSO principal');
  return { ...value, signedInAt: new Date(value.signedInAt) };
};
const date = (text: string): Date => new Date(text);
const optionalDate = (text: string | null): Date | null => (text === null ? null : new Date(text));

function toClient(row: Selectable<AwsSsoClientsTable>): SsoClient {
  return {
    clientId: row.client_id,
    secretHash: row.secret_hash,
    name: row.name,
    scopes: parseJson(scopesSchema, row.scopes_json, 'AWS SSO client'),
    registeredAt: date(row.registered_at),
    expiresAt: date(row.expires_at),
    revokedAt: optionalDate(row.revoked_at),
    registeredFrom: row.registered_from,
    grantTypes: row.grant_types_json === null ? [] : parseJson(scopesSchema, row.grant_types_json, 'AWS SSO client'),
    redirectUris: row.redirect_uris_json === null ? [] : parseJson(scopesSchema, row.redirect_uris_json, 'AWS SSO client'),
    issuerUrl: row.issuer_url,
  };
}

function toAuthorizationCode(row: Selectable<AwsSsoAuthorizationCodesTable>): AuthorizationCode {
  return {
    codeHash: row.code_hash,
    clientId: row.client_id,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    scopes: parseJson(scopesSchema, row.scopes_json, 'AWS SSO authorization code'),
    principal: readPrincipal(row.principal_json),
    createdAt: date(row.created_at),
    expiresAt: date(row.expires_at),
    redeemedAt: optionalDate(row.redeemed_at),
    grantId: row.grant_id,
  };
}

function toDeviceCode(row: Selectable<AwsSsoDeviceCodesTable>): DeviceCode {
  return {
    deviceCodeHash: row.device_code_hash,
    userCode: row.user_code,
    clientId: row.client_id,
    startUrl: row.start_url,
    createdAt: date(row.created_at),
    expiresAt: date(row.expires_at),
    intervalSeconds: row.interval_seconds,
    lastPolledAt: optionalDate(row.last_polled_at),
    status: row.status as DeviceCodeStatus,
    decidedAt: optionalDate(row.decided_at),
    principal: row.principal_json === null ? null : readPrincipal(row.principal_json),
  };
}

function toGrant(row: Selectable<AwsSsoGrantsTable>): SsoGrant {
  return {
    id: row.id,
    clientId: row.client_id,
    accessTokenHash: row.access_token_hash,
    accessExpiresAt: date(row.access_expires_at),
    refreshTokenHash: row.refresh_token_hash,
    expiresAt: date(row.expires_at),
    scopes: parseJson(scopesSchema, row.scopes_json, 'AWS SSO grant'),
    principal: readPrincipal(row.principal_json),
    createdAt: date(row.created_at),
    checkedAt: date(row.checked_at),
    revokedAt: optionalDate(row.revoked_at),
  };
}

const affected = (result: { numUpdatedRows: bigint } | undefined): number => Number(result?.numUpdatedRows ?? 0n);

export function createKyselyAwsSsoStore(db: Kysely<Database>): AwsSsoStore {
  return {
    createClient: (client) =>
      translateStorageErrors('registering an AWS SSO client', async () => {
        await db
          .insertInto('aws_sso_clients')
          .values({
            client_id: client.clientId,
            secret_hash: client.secretHash,
            name: client.name,
            scopes_json: JSON.stringify(client.scopes),
            registered_at: client.registeredAt.toISOString(),
            expires_at: client.expiresAt.toISOString(),
            revoked_at: client.revokedAt?.toISOString() ?? null,
            registered_from: client.registeredFrom,
            grant_types_json: client.grantTypes.length === 0 ? null : JSON.stringify(client.grantTypes),
            redirect_uris_json: client.redirectUris.length === 0 ? null : JSON.stringify(client.redirectUris),
            issuer_url: client.issuerUrl,
          })
          .execute();
      }),

    getClient: (clientId) =>
      translateStorageErrors('reading an AWS SSO client', async () => {
        const row = await db.selectFrom('aws_sso_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
        return row === undefined ? undefined : toClient(row);
      }),

    revokeClient: (clientId, at) =>
      translateStorageErrors('revoking an AWS SSO client', async () => {
        const result = await db.updateTable('aws_sso_clients').set({ revoked_at: at.toISOString() }).where('client_id', '=', clientId).where('revoked_at', 'is', null).executeTakeFirst();
        return affected(result) > 0;
      }),

    listClients: (at) =>
      translateStorageErrors('listing AWS SSO clients', async () => {
        const rows = await db.selectFrom('aws_sso_clients').selectAll().where('revoked_at', 'is', null).where('expires_at', '>', at.toISOString()).orderBy('registered_at', 'desc').limit(1000).execute();
        return rows.map(toClient);
      }),

    countClientsRegisteredSince: (address, since) =>
      translateStorageErrors('counting AWS SSO client registrations', async () => {
        const row = await db.selectFrom('aws_sso_clients').select((eb) => eb.fn.countAll<string | number>().as('n')).where('registered_from', '=', address).where('registered_at', '>=', since.toISOString()).executeTakeFirst();
        return Number(row?.n ?? 0);
      }),

    createDeviceCode: (code) =>
      translateStorageErrors('starting an AWS SSO device authorization', async () => {
        await db
          .insertInto('aws_sso_device_codes')
          .values({
            device_code_hash: code.deviceCodeHash,
            user_code: code.userCode,
            client_id: code.clientId,
            start_url: code.startUrl,
            created_at: code.createdAt.toISOString(),
            expires_at: code.expiresAt.toISOString(),
            interval_seconds: code.intervalSeconds,
            last_polled_at: code.lastPolledAt?.toISOString() ?? null,
            status: code.status,
            decided_at: code.decidedAt?.toISOString() ?? null,
            principal_json: code.principal === null ? null : storedPrincipal(code.principal),
          })
          .execute();
      }),

    findDeviceCode: (hash) =>
      translateStorageErrors('reading an AWS SSO device code', async () => {
        const row = await db.selectFrom('aws_sso_device_codes').selectAll().where('device_code_hash', '=', hash).executeTakeFirst();
        return row === undefined ? undefined : toDeviceCode(row);
      }),

    findDeviceCodeByUserCode: (userCode) =>
      translateStorageErrors('reading an AWS SSO device code', async () => {
        const row = await db.selectFrom('aws_sso_device_codes').selectAll().where('user_code', '=', userCode).executeTakeFirst();
        return row === undefined ? undefined : toDeviceCode(row);
      }),

    countDeviceCodesSince: (clientId, since) =>
      translateStorageErrors('counting AWS SSO device authorizations', async () => {
        const row = await db.selectFrom('aws_sso_device_codes').select((eb) => eb.fn.countAll<string | number>().as('n')).where('client_id', '=', clientId).where('created_at', '>=', since.toISOString()).executeTakeFirst();
        return Number(row?.n ?? 0);
      }),

    recordPoll: (hash, at, intervalSeconds) =>
      translateStorageErrors('recording an AWS SSO token poll', async () => {
        await db.updateTable('aws_sso_device_codes').set({ last_polled_at: at.toISOString(), interval_seconds: intervalSeconds }).where('device_code_hash', '=', hash).execute();
      }),

    decideDeviceCode: (userCode, decision, at) =>
      translateStorageErrors('deciding an AWS SSO device code', async () => {
        const result = await db
          .updateTable('aws_sso_device_codes')
          .set({ status: decision.status, decided_at: at.toISOString(), principal_json: decision.status === 'approved' ? storedPrincipal(decision.principal) : null })
          .where('user_code', '=', userCode)
          .where('status', '=', 'pending')
          .where('expires_at', '>', at.toISOString())
          .executeTakeFirst();
        return affected(result) > 0;
      }),

    redeemDeviceCode: (hash, _at) =>
      translateStorageErrors('redeeming an AWS SSO device code', async () => {
        const result = await db.updateTable('aws_sso_device_codes').set({ status: 'redeemed' }).where('device_code_hash', '=', hash).where('status', '=', 'approved').executeTakeFirst();
        return affected(result) > 0;
      }),

    createAuthorizationCode: (code) =>
      translateStorageErrors('issuing an AWS SSO authorization code', async () => {
        await db
          .insertInto('aws_sso_authorization_codes')
          .values({
            code_hash: code.codeHash,
            client_id: code.clientId,
            redirect_uri: code.redirectUri,
            code_challenge: code.codeChallenge,
            scopes_json: JSON.stringify(code.scopes),
            principal_json: storedPrincipal(code.principal),
            created_at: code.createdAt.toISOString(),
            expires_at: code.expiresAt.toISOString(),
            redeemed_at: code.redeemedAt?.toISOString() ?? null,
            grant_id: code.grantId,
          })
          .execute();
      }),

    findAuthorizationCode: (hash) =>
      translateStorageErrors('reading an AWS SSO authorization code', async () => {
        const row = await db.selectFrom('aws_sso_authorization_codes').selectAll().where('code_hash', '=', hash).executeTakeFirst();
        return row === undefined ? undefined : toAuthorizationCode(row);
      }),

    redeemAuthorizationCode: (hash, at, grantId) =>
      translateStorageErrors('redeeming an AWS SSO authorization code', async () => {
        const result = await db
          .updateTable('aws_sso_authorization_codes')
          .set({ redeemed_at: at.toISOString(), grant_id: grantId })
          .where('code_hash', '=', hash)
          .where('redeemed_at', 'is', null)
          .executeTakeFirst();
        return affected(result) > 0;
      }),

    createGrant: (grant) =>
      translateStorageErrors('issuing an AWS SSO token', async () => {
        await db
          .insertInto('aws_sso_grants')
          .values({
            id: grant.id,
            client_id: grant.clientId,
            access_token_hash: grant.accessTokenHash,
            access_expires_at: grant.accessExpiresAt.toISOString(),
            refresh_token_hash: grant.refreshTokenHash,
            expires_at: grant.expiresAt.toISOString(),
            scopes_json: JSON.stringify(grant.scopes),
            user_guid: grant.principal.userGuid,
            principal_json: storedPrincipal(grant.principal),
            created_at: grant.createdAt.toISOString(),
            checked_at: grant.checkedAt.toISOString(),
            revoked_at: grant.revokedAt?.toISOString() ?? null,
          })
          .execute();
      }),

    findGrantByAccessToken: (hash) =>
      translateStorageErrors('reading an AWS SSO token', async () => {
        const row = await db.selectFrom('aws_sso_grants').selectAll().where('access_token_hash', '=', hash).executeTakeFirst();
        return row === undefined ? undefined : toGrant(row);
      }),

    findGrantByRefreshToken: (hash) =>
      translateStorageErrors('reading an AWS SSO token', async () => {
        const row = await db.selectFrom('aws_sso_grants').selectAll().where('refresh_token_hash', '=', hash).executeTakeFirst();
        return row === undefined ? undefined : toGrant(row);
      }),

    rotateGrant: (id, fromRefreshHash, next) =>
      translateStorageErrors('refreshing an AWS SSO token', async () => {
        const result = await db
          .updateTable('aws_sso_grants')
          .set({ access_token_hash: next.accessTokenHash, access_expires_at: next.accessExpiresAt.toISOString(), refresh_token_hash: next.refreshTokenHash })
          .where('id', '=', id)
          .where('refresh_token_hash', '=', fromRefreshHash)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return affected(result) > 0;
      }),

    markGrantChecked: (id, at) =>
      translateStorageErrors('marking an AWS SSO token checked', async () => {
        await db.updateTable('aws_sso_grants').set({ checked_at: at.toISOString() }).where('id', '=', id).where('checked_at', '<', at.toISOString()).execute();
      }),

    revokeGrant: (id, at) =>
      translateStorageErrors('revoking an AWS SSO token', async () => {
        const result = await db.updateTable('aws_sso_grants').set({ revoked_at: at.toISOString() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
        return affected(result) > 0;
      }),

    revokeGrantsOfUser: (userGuid, at) =>
      translateStorageErrors('revoking AWS SSO tokens', async () => {
        const result = await db.updateTable('aws_sso_grants').set({ revoked_at: at.toISOString() }).where('user_guid', '=', userGuid).where('revoked_at', 'is', null).executeTakeFirst();
        return affected(result);
      }),

    revokeGrantsOfClient: (clientId, at) =>
      translateStorageErrors('revoking AWS SSO tokens', async () => {
        const result = await db.updateTable('aws_sso_grants').set({ revoked_at: at.toISOString() }).where('client_id', '=', clientId).where('revoked_at', 'is', null).executeTakeFirst();
        return affected(result);
      }),

    purge: (before) =>
      translateStorageErrors('purging AWS SSO records', async () => {
        const cutoff = before.toISOString();
        const codes = await db.deleteFrom('aws_sso_device_codes').where('expires_at', '<', cutoff).executeTakeFirst();
        const authorizationCodes = await db.deleteFrom('aws_sso_authorization_codes').where('expires_at', '<', cutoff).executeTakeFirst();
        const grants = await db
          .deleteFrom('aws_sso_grants')
          .where((eb) => eb.or([eb('expires_at', '<', cutoff), eb('revoked_at', '<', cutoff)]))
          .executeTakeFirst();
        const clients = await db
          .deleteFrom('aws_sso_clients')
          .where((eb) => eb.or([eb('expires_at', '<', cutoff), eb('revoked_at', '<', cutoff)]))
          .executeTakeFirst();
        return Number(codes.numDeletedRows) + Number(authorizationCodes.numDeletedRows) + Number(grants.numDeletedRows) + Number(clients.numDeletedRows);
      }),
  };
}
