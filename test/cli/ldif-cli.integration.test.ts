/**
 * `portico directory import|export` on the managed directory, as an administrator runs them:
 * through the admin API of a running Portico.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runPortico, startPorticoForCli, type CliPortico } from '../support/cli.ts';
import type { CliRun } from '../support/cli.ts';

const root = mkdtempSync(join(tmpdir(), 'portico-ldif-'));
/** One running Portico per data directory, started at its first command (the CLI calls its admin API). */
const servers = new Map<string, Promise<CliPortico>>();
after(async () => {
  for (const server of servers.values()) await (await server).stop();
  rmSync(root, { recursive: true, force: true });
});

async function portico(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  if (!servers.has(dataDir)) servers.set(dataDir, startPorticoForCli({ PORTICO_DATA_DIR: dataDir, ...env }));
  return runPortico(args, (await servers.get(dataDir))!.env);
}

const base = 'DC=portico,DC=test';
const people = 300;

function generatedLdif(): string {
  const records = [`dn: OU=Imported,${base}\nobjectClass: organizationalUnit\n`];
  // Groups first, members after: the import links members in a second pass.
  records.push(`dn: CN=Imported-All,OU=Imported,${base}\nobjectClass: group\nsAMAccountName: Imported-All\nmember: CN=Imported-Team-0,OU=Imported,${base}\n`);
  for (let t = 0; t < 3; t += 1) {
    const members = Array.from({ length: people / 3 }, (_, i) => `member: CN=user${String(t * 100 + i).padStart(4, '0')},OU=Imported,${base}`).join('\n');
    records.push(`dn: CN=Imported-Team-${t},OU=Imported,${base}\nobjectClass: group\nsAMAccountName: Imported-Team-${t}\n${members}\n`);
  }
  for (let i = 0; i < people; i += 1) {
    const name = `user${String(i).padStart(4, '0')}`;
    const password = i === 0 ? `unicodePwd:: ${Buffer.from('"Imported-Pass-1!"', 'utf16le').toString('base64')}\nuserAccountControl: 512\n` : 'userAccountControl: 546\n';
    records.push(`dn: CN=${name},OU=Imported,${base}\nobjectClass: user\nsAMAccountName: ${name}\nuserPrincipalName: ${name}@portico.test\ngivenName: User\nsn: ${name}\n${password}`);
  }
  return `version: 1\n\n${records.join('\n')}`;
}

describe('portico directory import/export (CLI)', () => {
  const dataDir = join(root, 'main');

  it('imports an LDIF file with groups before their members, reporting progress', async () => {
    const file = join(root, 'import.ldif');
    writeFileSync(file, generatedLdif());
    const run = await portico(dataDir, ['directory', 'import', file]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`imported ${people + 5} entries and ${people + 1} memberships`));
    assert.match(run.stderr, /import: 100% 305\/305 entries/);
    const groups = await portico(dataDir, ['directory', 'groups-of', 'user0042@portico.test', '--method', 'recursive']);
    assert.equal(groups.status, 0, groups.stderr);
    assert.match(groups.stdout, /Imported-Team-0@portico\.test/);
    assert.match(groups.stdout, /Imported-All@portico\.test/);
  });

  it('stops at a bad record and names its line; already imported entries stay', async () => {
    const file = join(root, 'bad.ldif');
    writeFileSync(file, `dn: CN=fine,OU=Imported,${base}\nobjectClass: user\nsAMAccountName: fine\n\ndn: CN=broken,OU=Nowhere,${base}\nobjectClass: user\nsAMAccountName: broken\n`);
    const run = await portico(dataDir, ['directory', 'import', file]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /LDIF line 5 \(CN=broken,OU=Nowhere,DC=portico,DC=test\): .*1 entries were imported before it/);
    const found = await portico(dataDir, ['directory', 'find-user', 'PORTICO\\fine']);
    assert.equal(found.status, 0, found.stderr);
  });

  it('exports without what the directory owns, and the export imports into a new directory', async () => {
    const exported = join(root, 'export.ldif');
    const run = await portico(dataDir, ['directory', 'export', '--output', exported]);
    assert.equal(run.status, 0, run.stderr);
    const text = readFileSync(exported, 'utf8').replace(/\n /g, ''); // unfold RFC 2849 continuation lines
    assert.match(text, /dn: CN=Alice Anderson,OU=Engineering,OU=People,OU=Portico Demo,DC=portico,DC=test/);
    assert.doesNotMatch(text, /objectGUID|objectSid|unicodePwd|uSNChanged|CN=Administrator/i);

    const fresh = join(root, 'fresh');
    const imported = await portico(fresh, ['directory', 'import', exported], { PORTICO_MANAGED_DIRECTORY__DEMO_FOREST: 'false' });
    assert.equal(imported.status, 0, imported.stderr + imported.stdout);
    const groups = await portico(fresh, ['directory', 'groups-of', 'alice@portico.test'], { PORTICO_MANAGED_DIRECTORY__DEMO_FOREST: 'false' });
    assert.match(groups.stdout, /SRE@portico\.test/);
  });

  it('imports a file above the admin API\'s usual 3 MiB body limit (that route only), and refuses an unauthenticated upload', async () => {
    const file = join(root, 'large.ldif');
    // 5 MiB of comment lines around one record: the size without the cost of 20,000 entries.
    const padding = `# ${'x'.repeat(1000)}\n`.repeat(5 * 1024);
    writeFileSync(file, `version: 1\n${padding}\ndn: OU=Large,${base}\nobjectClass: organizationalUnit\n`);
    const run = await portico(dataDir, ['directory', 'import', file]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /imported 1 entries/);

    const { env } = (await servers.get(dataDir))!;
    const body = JSON.stringify({ ldif: `version: 1\n${padding}` });
    const anonymous = await fetch(`${env.PORTICO_URL}/admin/api/directory/managed/import`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(anonymous.status, 401);
    const elsewhere = await fetch(`${env.PORTICO_URL}/admin/api/mappings/preview`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${env.PORTICO_ADMIN_TOKEN}` }, body });
    assert.equal(elsewhere.status, 413, 'other routes keep the usual limit');
  });

  it('refuses to import into a connected AD', async () => {
    const run = await portico(join(root, 'connector'), ['directory', 'import', join(root, 'import.ldif')], {
      PORTICO_DIRECTORY__DOMAIN: 'corp.example.test',
      PORTICO_DIRECTORY__URLS: '["ldaps://127.0.0.1:9"]',
      PORTICO_DIRECTORY__SERVICEACCOUNT__USERNAME: 'svc',
      PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: 'x',
    });
    assert.equal(run.status, 3);
    assert.match(run.stderr, /never writes to a connected AD/);
  });
});
