/**
 * `portico directory …` on the embedded default: the managed directory of a running Portico (read
 * through its admin API), and its trusted forest (the PARTNER Samba forest, accepted through the
 * lab override).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runPortico, startPorticoForCli } from '../support/cli.ts';
import type { CliRun } from '../support/cli.ts';
import { partnerRuntime } from '../support/samba.ts';

const partner = partnerRuntime();
const dataDir = mkdtempSync(join(tmpdir(), 'portico-managed-cli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function trust(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify([
    {
      connection: {
        domain: partner.domain,
        urls: [partner.ldapsUrl],
        serviceAccount: partner.serviceAccount,
        tls: { caFile: partner.caFile },
        allowSamba: true,
        timeouts: { connectMs: 1000, operationMs: 3000 },
        ...overrides,
      },
    },
  ]);
}

let started = 0;
/** Runs the command against a Portico started with `env` (its own data directory), then stops it. */
async function portico(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  started += 1;
  const server = await startPorticoForCli({ PORTICO_DATA_DIR: join(dataDir, String(started)), ...env });
  try {
    return await runPortico(args, server.env);
  } finally {
    await server.stop();
  }
}

describe('portico directory on the managed directory (CLI)', () => {
  it('checks the managed directory and its trusted forest', async () => {
    const run = await portico(['directory', 'check'], { PORTICO_MANAGED_DIRECTORY__TRUSTS: trust() });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^MANAGED: Portico's managed directory portico\.test/);
    assert.match(run.stdout, /trust partner\.example\.test: OK/);
  });

  it('reports a broken trust clearly, with exit code 3', async () => {
    const run = await portico(['directory', 'check'], { PORTICO_MANAGED_DIRECTORY__TRUSTS: trust({ urls: ['ldaps://127.0.0.2:9'] }) });
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stdout, /trust partner\.example\.test: BROKEN: The trusted forest partner\.example\.test does not answer/);
  });

  it('finds demo users and trusted-forest users alike', async () => {
    const local = await portico(['directory', 'find-user', '--json', 'PORTICO\\dave'], { PORTICO_MANAGED_DIRECTORY__TRUSTS: trust() });
    assert.equal(local.status, 0, local.stderr);
    assert.equal((JSON.parse(local.stdout) as { account: { state: string } }).account.state, 'disabled');
    const remote = await portico(['directory', 'groups-of', 'pia@partner.example.test'], { PORTICO_MANAGED_DIRECTORY__TRUSTS: trust() });
    assert.equal(remote.status, 0, remote.stderr);
    assert.match(remote.stdout, /Partner-Eng@partner\.example\.test/);
  });
});
