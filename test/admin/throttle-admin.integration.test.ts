/**
 * Clearing a throttled sign-in, as the help desk does it: through the admin API and through
 * `portico throttle list|clear` (child processes), on a Portico started for real on its embedded
 * managed directory (in process; the per-user limit set to 2), with the first start's token.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PorticoApp } from '#src/app.ts';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { runPortico, startPorticoForCli, type CliRun } from '../support/cli.ts';
import { adminApi } from '../support/saml-http.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-throttle-admin-'));
const NOT_FOUND = 4;

let app: PorticoApp;
let token = '';

before(async () => {
  ({ app, token } = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir, PORTICO_SIGNIN__THROTTLE__PERUSERNAME__MAXFAILURES: '2' }));
});

after(async () => {
  await app.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Entry {
  kind: string;
  key: string;
  label: string;
  failures: number;
  maxFailures: number;
  throttled: boolean;
  retryAfterSeconds: number | null;
  throttledUntil: string | null;
}

async function signIn(username: string, password: string): Promise<{ status: number; code: string | null }> {
  const response = await fetch(`${app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await response.json()) as { error?: { code: string } };
  return { status: response.status, code: body.error?.code ?? null };
}

/** Two wrong passwords: the user is throttled (the limit is 2). */
async function throttle(username: string): Promise<void> {
  for (let i = 0; i < 2; i += 1) assert.equal((await signIn(username, `wrong-${i}`)).code, 'auth.invalid_credentials');
  assert.equal((await signIn(username, demoPassword)).code, 'auth.throttled');
}

const byLabel = (entries: Entry[], label: string): Entry | undefined => entries.find((e) => e.label.toLowerCase() === label.toLowerCase());

void describe('throttle administration through the admin API', () => {
  void it('lists the throttled user with its failures and wait, clears it (audited), and refuses what matches nothing', async () => {
    await throttle('alice@portico.test');
    const { entries } = await adminApi<{ entries: Entry[] }>(app.url, token, 'GET', '/throttle');
    const alice = byLabel(entries, 'alice@portico.test');
    assert.ok(alice, JSON.stringify(entries));
    assert.equal(alice.kind === 'account' || alice.kind === 'name', true);
    assert.deepEqual([alice.failures, alice.maxFailures, alice.throttled], [2, 2, true]);
    assert.ok((alice.retryAfterSeconds ?? 0) > 25 * 60 && (alice.retryAfterSeconds ?? 0) <= 30 * 60, String(alice.retryAfterSeconds));
    assert.ok(alice.throttledUntil !== null && Date.parse(alice.throttledUntil) > Date.now());
    // The client address is listed too (not throttled: its limit is 20).
    const address = entries.find((e) => e.kind === 'address');
    assert.ok(address && address.failures >= 2 && !address.throttled, JSON.stringify(entries));
    // Throttled ones first.
    assert.equal(entries[0]?.throttled, true);
    const onlyThrottled = await adminApi<{ entries: Entry[] }>(app.url, token, 'GET', '/throttle?throttled=true');
    assert.ok(onlyThrottled.entries.every((e) => e.throttled) && byLabel(onlyThrottled.entries, 'alice@portico.test'));

    const cleared = await adminApi<{ cleared: Entry[] }>(app.url, token, 'POST', '/throttle/clear', { target: alice.key }, 200);
    assert.deepEqual(cleared.cleared.map((e) => e.key), [alice.key]);
    assert.equal((await signIn('alice@portico.test', demoPassword)).status, 200);

    const missing = await fetch(`${app.url}/admin/api/throttle/clear`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: 'nobody-was-here' }) });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'auth.throttle_not_found');
    const invalid = await fetch(`${app.url}/admin/api/throttle/clear`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: '  ' }) });
    assert.equal(invalid.status, 400);

    const audit = await adminApi<{ events: Array<{ actor: string; target: string; outcome: string; errorCode: string | null }> }>(app.url, token, 'GET', '/audit?action=auth.throttle.cleared');
    assert.deepEqual(audit.events.map((e) => [e.target, e.outcome, e.errorCode]), [['nobody-was-here', 'failure', 'auth.throttle_not_found'], [alice.key, 'success', null]]);
    assert.ok(audit.events.every((e) => e.actor.length > 0));
    const unauthenticated = await fetch(`${app.url}/admin/api/throttle`);
    assert.equal(unauthenticated.status, 401);
  });
});

void describe('portico throttle list|clear (CLI)', () => {
  const portico = (args: string[]): Promise<CliRun> => runPortico(args, { PORTICO_URL: app.url, PORTICO_ADMIN_TOKEN: token });

  void it('lists throttled sign-ins as a table and as JSON, clears one by its label, and exits 4 when nothing matches', async () => {
    await throttle('bob@portico.test');
    const table = await portico(['throttle', 'list', '--throttled']);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^KIND\s+LABEL\s+FAILURES\s+RETRY AFTER\s+UNTIL\s+KEY$/m);
    assert.match(table.stdout, /bob@portico\.test\s+2\/2\s+\d+ min\s+\d{4}-\d\d-\d\dT/i);
    const json = await portico(['throttle', 'list', '--json']);
    assert.equal(json.status, 0, json.stderr);
    const bob = byLabel((JSON.parse(json.stdout) as { entries: Entry[] }).entries, 'bob@portico.test');
    assert.ok(bob?.throttled);

    const cleared = await portico(['throttle', 'clear', 'BOB@portico.test']);
    assert.equal(cleared.status, 0, cleared.stderr);
    assert.match(cleared.stdout, /^Cleared 2 failed sign-ins of (account|name) bob@portico\.test \(.+\)\.$/im);
    assert.equal((await signIn('bob@portico.test', demoPassword)).status, 200);

    const again = await portico(['throttle', 'clear', 'bob@portico.test']);
    assert.equal(again.status, NOT_FOUND);
    assert.match(again.stderr, /no recent failed sign-ins for bob@portico\.test \[auth\.throttle_not_found\]/);

    // The client address, by its IP: cleared, and gone from the list.
    const address = await portico(['throttle', 'clear', '127.0.0.1']);
    assert.equal(address.status, 0, address.stderr);
    assert.match(address.stdout, /of address 127\.0\.0\.1/);
    const after = JSON.parse((await portico(['throttle', 'list', '--json'])).stdout) as { entries: Entry[] };
    assert.equal(after.entries.find((e) => e.kind === 'address'), undefined);

    const help = await portico(['throttle', 'clear', '--help']);
    assert.match(help.stdout, /<subject-or-address>/);
    assert.match(help.stdout, /auth\.throttle\.cleared/);
  });
});
