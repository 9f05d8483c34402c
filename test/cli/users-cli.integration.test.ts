/**
 * `portico users show|revoke-sessions|remove` take a user as `access explain` does (sAMAccountName,
 * DOMAIN\name, UPN) besides the identity store's own keys, through the admin API of a running
 * Portico on its managed directory; and "remove user" is one audited operation, whoever calls it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toProvisionedUser } from '#src/identity-store/user.ts';
import { createDatabase, createKyselyIdentityUserStore } from '#src/storage/index.ts';
import { runPortico, startPorticoForCli, type CliPortico } from '../support/cli.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-users-cli-'));
let server: CliPortico;
const portico = (args: string[]) => runPortico(args, server.env);

before(async () => {
  server = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir });
  // alice as her first sign-in provisions her (the demo forest's alice, keyed by her objectGUID).
  const alice = await server.app.directory?.findUser('alice');
  assert.ok(alice, 'the demo forest has alice');
  const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
  try {
    await createKyselyIdentityUserStore(db).upsert(toProvisionedUser({ guid: alice.guid, sid: alice.sid, userPrincipalName: alice.userPrincipalName ?? 'alice@portico.test', domain: 'portico.test' }, { email: 'alice@portico.test' }), new Date());
  } finally {
    await db.destroy();
  }
});
after(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('portico users (CLI) with the spellings of access explain', () => {
  it('shows the same provisioned user for alice, PORTICO\\alice, alice@portico.test and her objectGUID', async () => {
    const ids = new Set<string>();
    for (const spelling of ['alice', 'PORTICO\\alice', 'alice@portico.test']) {
      const run = await portico(['users', 'show', spelling, '--json']);
      assert.equal(run.status, 0, `${spelling}: ${run.stderr}`);
      const shown = JSON.parse(run.stdout) as { user: { userId: string; userName: string; activeDirectory: { guid: string } } };
      assert.equal(shown.user.userName, 'alice@portico.test');
      ids.add(shown.user.userId);
      const byGuid = await portico(['users', 'show', shown.user.activeDirectory.guid, '--json']);
      assert.equal(byGuid.status, 0, byGuid.stderr);
    }
    assert.equal(ids.size, 1);
    const human = await portico(['users', 'show', 'alice']);
    assert.match(human.stdout, /userName\s+alice@portico\.test/);
  });

  it('exits 4 for a user who is in the directory but not provisioned, and for a name nobody has', async () => {
    assert.equal((await portico(['users', 'show', 'bob'])).status, 4);
    const nobody = await portico(['users', 'show', 'nobody-at-all', '--json']);
    assert.equal(nobody.status, 4);
    assert.equal((JSON.parse(nobody.stdout) as { error: { code: string } }).error.code, 'identity.user_not_found');
  });

  it('removes by a directory spelling, audited once under the admin the CLI authenticated as', async () => {
    const removed = await portico(['users', 'remove', 'PORTICO\\alice', '--json']);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal((JSON.parse(removed.stdout) as { userName: string }).userName, 'alice@portico.test');
    assert.equal((await portico(['users', 'show', 'alice'])).status, 4);
    const audit = await fetch(`${server.env.PORTICO_URL}/admin/api/audit?action=identity.user.removed`, { headers: { authorization: `Bearer ${server.env.PORTICO_ADMIN_TOKEN}` } });
    const events = ((await audit.json()) as { events: Array<{ actor: string; details: { userName: string } }> }).events;
    assert.deepEqual(events.map((e) => [e.actor, e.details.userName]), [['bootstrap-token', 'alice@portico.test']]);
  });
});
