/**
 * `portico app-credentials create|list|revoke` as a script runs it, and the key it prints used by
 * the real AWS SDK against the IdentityStore API on the same instance data.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IdentitystoreClient, ListUsersCommand } from '@aws-sdk/client-identitystore';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { loadConfig } from '#src/config/index.ts';
import { deriveIdentityStoreId, registerIdentityStoreApi } from '#src/identity-store-api/index.ts';
import { createSecretBox, loadOrCreateSecretKey } from '#src/secrets/index.ts';
import { createDatabase, createKyselyApplicationCredentialStore, createKyselyAuditLog, createKyselyIdentityUserStore, type Database } from '#src/storage/index.ts';

// The SDK warns that its releases from 2027 on need Node 22; this pinned one runs on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const harness = new URL('./support/app-credentials-cli.ts', import.meta.url).pathname;
const root = new URL('../../', import.meta.url).pathname;
let dataDir: string;

async function portico(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', harness, ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', PORTICO_DATADIR: dataDir } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr };
}

/** The API served on the instance data the CLI wrote: same database, same secret key. */
async function serve(): Promise<{ http: FastifyInstance; db: Kysely<Database>; endpoint: string; identityStoreId: string }> {
  const config = loadConfig({ env: { PORTICO_DATADIR: dataDir }, cwd: root });
  const key = (await loadOrCreateSecretKey(config)).key;
  const db = createDatabase(config.database);
  const http = Fastify();
  const identityStoreId = deriveIdentityStoreId(key);
  await registerIdentityStoreApi(http, {
    users: createKyselyIdentityUserStore(db),
    groups: () => null,
    credentials: createKyselyApplicationCredentialStore(db, createSecretBox(key)),
    identityStoreId,
  });
  return { http, db, endpoint: `${await http.listen({ host: '127.0.0.1', port: 0 })}/identitystore`, identityStoreId };
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'portico-app-credentials-'));
});

after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('portico app-credentials (CLI)', () => {
  it('issues, lists and revokes keys that the AWS SDK signs with', async () => {
    const created = await portico(['app-credentials', 'create', 'reporting', '--json']);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stderr, /generated a new secret key/);
    const issued = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string; name: string; identityStoreId: string };
    assert.match(issued.accessKeyId, /^PKIA[A-Z2-7]{16}$/);
    assert.equal(issued.secretAccessKey.length, 40);
    assert.equal(issued.name, 'reporting');
    assert.match(issued.identityStoreId, /^d-[0-9a-f]{10}$/);

    const human = await portico(['app-credentials', 'create', 'wiki']);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /access key id\s+PKIA[A-Z2-7]{16}/);
    assert.match(human.stdout, /secret access key\s+\S{40}/);
    assert.match(human.stdout, /shown only now/);
    assert.doesNotMatch(human.stderr, /generated a new secret key/);

    const listed = await portico(['app-credentials', 'list', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    const parsed = JSON.parse(listed.stdout) as { identityStoreId: string; credentials: Array<{ accessKeyId: string; name: string; revokedAt: string | null }> };
    assert.equal(parsed.identityStoreId, issued.identityStoreId);
    assert.deepEqual(parsed.credentials.map((c) => c.name), ['reporting', 'wiki']);
    assert.ok(!listed.stdout.includes(issued.secretAccessKey));
    const table = await portico(['app-credentials', 'list']);
    assert.match(table.stdout, new RegExp(`${issued.accessKeyId}\\s+reporting\\s+\\S+\\s+never\\s+active`));

    const server = await serve();
    try {
      assert.equal(server.identityStoreId, issued.identityStoreId);
      const client = new IdentitystoreClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: issued, maxAttempts: 1 });
      assert.deepEqual((await client.send(new ListUsersCommand({ IdentityStoreId: issued.identityStoreId }))).Users, []);

      const revoked = await portico(['app-credentials', 'revoke', issued.accessKeyId]);
      assert.equal(revoked.status, 0, revoked.stderr);
      assert.match(revoked.stdout, new RegExp(`revoked ${issued.accessKeyId}`));
      await assert.rejects(client.send(new ListUsersCommand({ IdentityStoreId: issued.identityStoreId })), (error: Error) => error.name === 'UnrecognizedClientException');

      const again = await portico(['app-credentials', 'revoke', issued.accessKeyId, '--json']);
      assert.equal(again.status, 4);
      assert.match(again.stdout, /already revoked/);

      const events = await createKyselyAuditLog(server.db).list({ limit: 50 });
      assert.deepEqual(
        events.filter((e) => e.target === issued.accessKeyId).map((e) => e.action),
        ['identitystore.credential.revoked', 'identitystore.credential.created'],
      );
      assert.ok(!JSON.stringify(events).includes(issued.secretAccessKey));
    } finally {
      await server.http.close();
      await server.db.destroy();
    }
  });

  it('refuses an empty name as a usage error', async () => {
    const run = await portico(['app-credentials', 'create', '  ']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /name must not be empty/);
  });
});
