/**
 * `portico directory user|group|ou …` on the managed directory, checked through Portico's own
 * connector view (`find-user`, `groups-of`), all through the admin API of a running Portico.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runPortico, startPorticoForCli, type CliPortico } from '../support/cli.ts';
import type { CliRun } from '../support/cli.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-admin-cli-'));
let server: CliPortico;
// The commands call the admin API of a running Portico on its managed directory.
before(async () => {
  server = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir });
});
after(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function portico(args: string[], stdin?: string): Promise<CliRun> {
  return runPortico(args, server.env, stdin);
}

const state = async (user: string): Promise<string> => (JSON.parse((await portico(['directory', 'find-user', '--json', user])).stdout) as { account: { state: string } }).account.state;

describe('portico directory user|group|ou (CLI)', () => {
  it('creates an OU, a user with a password from stdin, and a group; nests them', async () => {
    assert.equal((await portico(['directory', 'ou', 'create', 'Contractors'])).status, 0);
    const created = await portico(['directory', 'user', 'create', 'zed', '--ou', 'OU=Contractors,DC=portico,DC=test', '--given-name', 'Zed', '--surname', 'Zimmer', '--mail', 'zed@portico.test', '--password-stdin'], 'Quartz-Initial-Pass-1!\n');
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /created CN=Zed Zimmer,OU=Contractors,DC=portico,DC=test/);
    assert.equal((await portico(['directory', 'group', 'create', 'Contractors-All', '--ou', 'OU=Contractors,DC=portico,DC=test'])).status, 0);
    assert.equal((await portico(['directory', 'group', 'add-member', 'Contractors-All', 'zed@portico.test'])).status, 0);
    assert.equal((await portico(['directory', 'group', 'add-member', 'Engineering', 'Contractors-All'])).status, 0);
    const groups = await portico(['directory', 'groups-of', 'zed']);
    assert.match(groups.stdout, /Contractors-All@portico\.test/);
    assert.match(groups.stdout, /Engineering@portico\.test/);
    assert.equal(await state('zed@portico.test'), 'ok');
  });

  it('disables, enables, unlocks and resets passwords under the password policy', async () => {
    assert.equal((await portico(['directory', 'user', 'disable', 'PORTICO\\zed'])).status, 0);
    assert.equal(await state('zed'), 'disabled');
    assert.equal((await portico(['directory', 'user', 'enable', 'zed'])).status, 0);
    assert.equal(await state('zed'), 'ok');
    assert.equal(await state('erin'), 'locked');
    assert.equal((await portico(['directory', 'user', 'unlock', 'erin@portico.test'])).status, 0);
    assert.equal(await state('erin'), 'ok');
    const weak = await portico(['directory', 'user', 'set-password', 'zed', '--password-stdin'], 'short\n');
    assert.equal(weak.status, 2, 'the API answers a policy violation as invalid input, naming the rule');
    assert.match(weak.stderr, /password/i);
    const reset = await portico(['directory', 'user', 'set-password', 'zed', '--password-stdin', '--must-change'], 'Quartz-Second-Pass-2!\n');
    assert.equal(reset.status, 0, reset.stderr);
    assert.equal(await state('zed'), 'mustChangePassword');
  });

  it('updates attributes, removes members, deletes, and says when a name is unknown', async () => {
    assert.equal((await portico(['directory', 'user', 'update', 'zed', '--title', 'Contract Engineer'])).status, 0);
    const found = JSON.parse((await portico(['directory', 'find-user', '--json', 'zed'])).stdout) as { attributes: { title: string[] } };
    assert.deepEqual(found.attributes.title, ['Contract Engineer']);
    assert.equal((await portico(['directory', 'group', 'remove-member', 'Contractors-All', 'zed'])).status, 0);
    assert.doesNotMatch((await portico(['directory', 'groups-of', 'zed'])).stdout, /Contractors-All/);
    assert.equal((await portico(['directory', 'user', 'delete', 'zed'])).status, 0);
    const gone = await portico(['directory', 'user', 'disable', 'zed']);
    assert.equal(gone.status, 4);
    assert.match(gone.stderr, /no user named "zed"/);
    const nonEmpty = await portico(['directory', 'ou', 'delete', 'OU=Contractors,DC=portico,DC=test']);
    assert.equal(nonEmpty.status, 2, 'an OU that still holds the group is not deleted');
  });
});
