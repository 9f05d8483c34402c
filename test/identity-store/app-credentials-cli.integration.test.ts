/**
 * `portico app-credentials create|list|revoke` as a script runs it — through the admin API of a
 * running Portico — and the key it prints used by the real AWS SDK against the same Portico's
 * IdentityStore API.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IdentitystoreClient, ListUsersCommand } from '@aws-sdk/client-identitystore';
import { startPorticoForCli, type CliPortico } from '../support/cli.ts';

// The SDK warns that its releases from 2027 on need Node 22; this pinned one runs on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const harness = new URL('./support/app-credentials-cli.ts', import.meta.url).pathname;
const root = new URL('../../', import.meta.url).pathname;
let dataDir: string;
let server: CliPortico;

async function portico(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', harness, ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', ...server.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr };
}

/** The audit log, as an administrator reads it. */
async function auditEvents(): Promise<Array<{ action: string; target: string | null; actor: string }>> {
  const response = await fetch(`${server.env.PORTICO_URL}/admin/api/audit?limit=50`, { headers: { authorization: `Bearer ${server.env.PORTICO_ADMIN_TOKEN}` } });
  return ((await response.json()) as { events: Array<{ action: string; target: string | null; actor: string }> }).events;
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'portico-app-credentials-'));
  server = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir });
});

after(async () => {
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('portico app-credentials (CLI)', () => {
  it('issues, lists and revokes keys that the AWS SDK signs with', async () => {
    const created = await portico(['app-credentials', 'create', 'reporting', '--json']);
    assert.equal(created.status, 0, created.stderr);
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

    const listed = await portico(['app-credentials', 'list', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    const parsed = JSON.parse(listed.stdout) as { identityStoreId: string; credentials: Array<{ accessKeyId: string; name: string; revokedAt: string | null }> };
    assert.equal(parsed.identityStoreId, issued.identityStoreId);
    assert.deepEqual(parsed.credentials.map((c) => c.name), ['reporting', 'wiki']);
    assert.ok(!listed.stdout.includes(issued.secretAccessKey));
    const table = await portico(['app-credentials', 'list']);
    assert.match(table.stdout, new RegExp(`${issued.accessKeyId}\\s+reporting\\s+\\S+\\s+never\\s+active`));

    const endpoint = `${server.env.PORTICO_URL}/identitystore`;
    const client = new IdentitystoreClient({ endpoint, region: 'us-east-1', credentials: issued, maxAttempts: 1 });
    assert.deepEqual((await client.send(new ListUsersCommand({ IdentityStoreId: issued.identityStoreId }))).Users, []);

    const revoked = await portico(['app-credentials', 'revoke', issued.accessKeyId]);
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked ${issued.accessKeyId}`));
    await assert.rejects(client.send(new ListUsersCommand({ IdentityStoreId: issued.identityStoreId })), (error: Error) => error.name === 'UnrecognizedClientException');

    const again = await portico(['app-credentials', 'revoke', issued.accessKeyId, '--json']);
    assert.equal(again.status, 4);
    assert.match(again.stdout, /already revoked/);

    // The running server also audits the request the revoked key signed (identitystore.api.refused).
    const events = (await auditEvents()).filter((e) => e.action.startsWith('identitystore.credential.'));
    assert.deepEqual(
      events.filter((e) => e.target === issued.accessKeyId).map((e) => e.action),
      ['identitystore.credential.revoked', 'identitystore.credential.created'],
    );
    assert.ok(events.filter((e) => e.target === issued.accessKeyId).every((e) => e.actor === 'bootstrap-token'), 'audited under the admin the CLI authenticated as');
    assert.ok(!JSON.stringify(await auditEvents()).includes(issued.secretAccessKey));
  });

  it('refuses an empty name as a usage error', async () => {
    const run = await portico(['app-credentials', 'create', '  ']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /name must not be empty/);
  });
});
