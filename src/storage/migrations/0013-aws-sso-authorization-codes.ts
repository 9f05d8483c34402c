/**
 * The authorization-code grant with PKCE of the AWS-compatible SSO OIDC API
 * (src/portal/aws-sso): what a client registered for it (grant types, loopback redirect URIs,
 * issuer URL) and the codes issued at the authorize endpoint. Codes are stored as SHA-256 only;
 * `grant_id` names the grant a code was redeemed for, so a second redemption can revoke it.
 */
import type { Kysely, Migration } from 'kysely';

export const awsSsoAuthorizationCodes: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    // Null for registrations made before this migration (device code and refresh token only).
    await db.schema.alterTable('aws_sso_clients').addColumn('grant_types_json', 'text').execute();
    await db.schema.alterTable('aws_sso_clients').addColumn('redirect_uris_json', 'text').execute();
    await db.schema.alterTable('aws_sso_clients').addColumn('issuer_url', 'text').execute();

    await db.schema
      .createTable('aws_sso_authorization_codes')
      .addColumn('code_hash', 'text', (column) => column.primaryKey())
      .addColumn('client_id', 'text', (column) => column.notNull())
      .addColumn('redirect_uri', 'text', (column) => column.notNull())
      .addColumn('code_challenge', 'text', (column) => column.notNull())
      .addColumn('scopes_json', 'text', (column) => column.notNull())
      .addColumn('principal_json', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('expires_at', 'text', (column) => column.notNull())
      .addColumn('redeemed_at', 'text')
      .addColumn('grant_id', 'text')
      .execute();
    await db.schema.createIndex('aws_sso_authorization_codes_expiry_idx').on('aws_sso_authorization_codes').column('expires_at').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('aws_sso_authorization_codes').execute();
    await db.schema.alterTable('aws_sso_clients').dropColumn('issuer_url').execute();
    await db.schema.alterTable('aws_sso_clients').dropColumn('redirect_uris_json').execute();
    await db.schema.alterTable('aws_sso_clients').dropColumn('grant_types_json').execute();
  },
};
