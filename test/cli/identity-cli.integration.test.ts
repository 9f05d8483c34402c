/**
 * `portico identity-source`, `mappings` and `users` as an administrator runs them: through the
 * admin API of a running Portico, against the real Samba DC once connected (and restarted).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toProvisionedUser } from '#src/identity-store/user.ts';
import { createDatabase, createKyselyAuditLog, createKyselyIdentityUserStore, migrateToLatest } from '#src/storage/index.ts';
import { runPortico, startPorticoForCli, type CliPortico } from '../support/cli.ts';
import { fixture, fixtureUser, sambaRuntime } from '../support/samba.ts';

const dc = sambaRuntime();
const dataDir = mkdtempSync(join(tmpdir(), 'portico-identity-cli-'));
let server: CliPortico & { token: string };
const portico = (args: string[], stdin = '') => runPortico(args, server.env, stdin);
/** A new identity source is used after a restart (the same data directory, the first start's token). */
const restart = async () => {
  await server.stop();
  server = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir }, server.token);
};
/** CLI JSON output, read field by field. */
type Output = Record<string, unknown> & { mappings?: Array<{ target: string; value: string; sources: Array<{ attribute: string }> }> & Record<string, string>; users?: unknown[] };
const json = (text: string) => JSON.parse(text) as Output;
const connection = (extra: Record<string, unknown>) => {
  const file = join(dataDir, `conn-${Object.keys(extra).join('-') || 'plain'}.json`);
  writeFileSync(file, JSON.stringify({ domain: dc.domain, urls: [dc.ldapsUrl], serviceAccount: { username: dc.serviceAccount.username }, tls: { caFile: dc.caFile }, ...extra }));
  return file;
};

before(async () => {
  server = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir });
});
after(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('portico identity-source, mappings and users', () => {
  it('starts on the managed directory', async () => {
    const shown = await portico(['identity-source', 'show', '--json']);
    assert.equal(shown.status, 0, shown.stderr);
    assert.deepEqual(json(shown.stdout), { kind: 'managed', provisionedUsers: 0 });
  });

  it('refuses to connect Samba (Simple AD) and stores nothing', async () => {
    const refused = await portico(['identity-source', 'connect', '--file', connection({}), '--password-stdin'], dc.serviceAccount.password);
    assert.equal(refused.status, 3, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /Simple AD \(Samba4\) is not supported/);
    assert.equal(json((await portico(['identity-source', 'show', '--json'])).stdout).kind, 'managed');
  });

  it('refuses a wrong service-account password, naming the problem, and stores nothing', async () => {
    const refused = await portico(['identity-source', 'connect', '--file', connection({ allowSamba: true }), '--password-stdin'], 'not-the-password');
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /service account/i);
    assert.ok(!refused.stderr.includes('not-the-password'));
    assert.equal(json((await portico(['identity-source', 'show', '--json'])).stdout).kind, 'managed');
  });

  it('connects the domain (lab override), validates it, checks the mappings against its users, and previews them for a real user', async () => {
    const connected = await portico(['identity-source', 'connect', '--file', connection({ allowSamba: true }), '--password-stdin', '--check-limit', '5000', '--json'], dc.serviceAccount.password);
    assert.equal(connected.status, 0, connected.stderr);
    assert.equal(json(connected.stdout).changed, true);
    // The default table fits the domain: the check run at connect time says so.
    const check = json(connected.stdout).mappingCheck as { sampled: number; more: boolean; refusedUsers: number; limit: number };
    assert.equal(check.limit, 5000);
    assert.equal(check.more, false);
    assert.ok(check.sampled > fixture.users.length, `sampled ${check.sampled}`);
    assert.equal(check.refusedUsers, 0);
    const shown = json((await portico(['identity-source', 'show', '--json'])).stdout) as Record<string, unknown>;
    assert.equal(shown.kind, 'connector');
    assert.equal(shown.domain, dc.domain);
    assert.equal(shown.origin, 'stored');
    assert.ok(!JSON.stringify(shown).includes(dc.serviceAccount.password));
    await restart();

    const preview = await portico(['mappings', 'preview', 'alice', '--json']);
    assert.equal(preview.status, 0, preview.stderr);
    const rows = json(preview.stdout).mappings ?? [];
    const row = (target: string) => rows.find((r) => r.target === target);
    assert.equal(row('email')?.value, fixtureUser('alice').upn);
    assert.equal(row('email')?.sources[0]?.attribute, 'userPrincipalName');
    assert.equal(row('familyName')?.value, fixtureUser('alice').sn);

    // bob has no initials: the default table leaves middleName unset for him.
    const bob = await portico(['mappings', 'preview', 'bob', '--json']);
    assert.equal(bob.status, 0, bob.stdout);
    assert.equal((json(bob.stdout).mappings ?? []).find((r) => r.target === 'middleName')?.value, null);
  });

  it("mappings check: Identity Center's preset refuses the users without initials, with examples; --json, --limit, exit codes, audit", async () => {
    const preset = await portico(['mappings', 'set', '--preset', 'identity-center', '--json']);
    assert.equal(preset.status, 0, preset.stderr);
    assert.equal(json(preset.stdout).mappings?.middleName, '${dir:initials}');
    assert.equal(json((await portico(['mappings', 'show', '--json'])).stdout).isDefault, false);
    assert.equal((await portico(['mappings', 'preview', 'bob'])).status, 3, 'bob has no initials');

    const text = await portico(['mappings', 'check', '--limit', '5000']);
    assert.equal(text.status, 3, text.stderr);
    assert.match(text.stdout, /^ATTRIBUTE\s+TEMPLATE\s+REFUSED\s+WHY\s+EXAMPLES$/m);
    assert.match(text.stdout, /^middleName\s+\$\{dir:initials\}\s+\d+\s+"initials" is empty\s+\S+@/m);
    assert.match(text.stdout, /^email\s+\$\{dir:windowsUpn\}\s+0$/m);
    assert.match(text.stdout, /Checked all [\d,]+ users, [\d,]+ disabled not counted: \d+ of \d+ would be refused at sign-in\.$/m);

    const report = json((await portico(['mappings', 'check', '--limit', '5000', '--json'])).stdout) as unknown as { refusedUsers: number; mappings: Array<{ target: string; refused: number; problems: Array<{ attributes: string[]; users: number; examples: string[] }> }> };
    const middleName = report.mappings.find((m) => m.target === 'middleName');
    const withoutInitials = fixture.users.filter((u) => u.state !== 'disabled' && !(u as { initials?: string }).initials).length;
    assert.ok((middleName?.refused ?? 0) >= withoutInitials, `middleName refuses ${middleName?.refused}`);
    assert.deepEqual(middleName?.problems[0]?.attributes, ['initials']);
    assert.equal(middleName?.problems[0]?.examples.length, 5);
    assert.ok(!middleName?.problems[0]?.examples.includes(fixtureUser('alice').upn), 'alice has initials');

    const small = json((await portico(['mappings', 'check', '--limit', '2', '--json'])).stdout) as unknown as { sampled: number; more: boolean };
    assert.deepEqual({ sampled: small.sampled, more: small.more }, { sampled: 2, more: true });
    const bad = await portico(['mappings', 'check', '--limit', '0']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /from 1 to 10,000/);

    const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
    try {
      const events = await createKyselyAuditLog(db).list({ limit: 10, action: 'identity.mappings.checked' });
      const onDemand = events.filter((e) => e.details.trigger === 'on-demand' && e.outcome === 'success');
      assert.ok(onDemand.length >= 3);
      assert.ok(onDemand.some((e) => e.details.limit === 5000 && e.details.refusedUsers === report.refusedUsers && e.details.sampled === json(JSON.stringify(report)).sampled));
      assert.ok(events.some((e) => e.details.trigger === 'identity-source-connect'), 'the check run at connect time is audited too');
      // The CLI acts through the admin API: as the bootstrap token it authenticated with.
      assert.ok(events.every((e) => e.actor === 'bootstrap-token'), events.map((e) => e.actor).join(', '));
    } finally {
      await db.destroy();
    }

    const back = await portico(['mappings', 'set', '--preset', 'default', '--json']);
    assert.equal(back.status, 0, back.stderr);
    assert.equal(json((await portico(['mappings', 'show', '--json'])).stdout).isDefault, true);
    assert.equal((await portico(['mappings', 'check', '--limit', '5000'])).status, 0);
    assert.equal((await portico(['mappings', 'set', '--preset', 'nope'])).status, 2);
  });

  it('validates a mapping when it is saved, pointing at the character', async () => {
    const bad = await portico(['mappings', 'set', 'email=${dir:emial}']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /"emial".*character 7/);
    const unknownTarget = await portico(['mappings', 'set', 'shoeSize=${dir:email}']);
    assert.equal(unknownTarget.status, 2);
    const good = await portico(['mappings', 'set', 'email=${dir:email|windowsUpn}', '--json']);
    assert.equal(good.status, 0, good.stderr);
    assert.equal(json(good.stdout).mappings?.email, '${dir:email|windowsUpn}');
    assert.equal(json((await portico(['mappings', 'show', '--json'])).stdout).isDefault, false);
  });

  it('refuses to change the identity source while users exist, until the deletion is confirmed', async () => {
    const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
    await migrateToLatest(db);
    await createKyselyIdentityUserStore(db).upsert(
      toProvisionedUser({ guid: '00000000-0000-4000-8000-000000000042', sid: 'S-1-5-21-1-2-3-1042', userPrincipalName: `someone@${dc.domain}`, domain: dc.domain }, { email: `someone@${dc.domain}` }),
      new Date(),
    );
    await db.destroy();

    const refused = await portico(['identity-source', 'connect', '--managed']);
    assert.equal(refused.status, 3);
    assert.match(refused.stderr, /1 provisioned user\(s\) exist/);
    assert.equal(json((await portico(['users', 'list', '--json'])).stdout).users?.length, 1);

    const confirmed = await portico(['identity-source', 'connect', '--managed', '--delete-existing-users', '--json']);
    assert.equal(confirmed.status, 0, confirmed.stderr);
    assert.equal(json(confirmed.stdout).deletedUsers, 1);
    assert.deepEqual(json((await portico(['identity-source', 'show', '--json'])).stdout), { kind: 'managed', provisionedUsers: 0 });
    assert.equal((await portico(['users', 'show', `someone@${dc.domain}`])).status, 4);
  });
});
