/**
 * `portico mfa …` through the admin API of a running Portico on its managed directory: the
 * policy shown and changed (an invalid value refused with exit code 2), and the help desk's
 * device list, rename and reset for a user who enrolled an authenticator app (and renamed it
 * herself on /mfa/devices).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoPassword } from '#src/directory/managed/demo-forest.ts';
import { totpCode } from '#src/mfa/totp.ts';
import { get, postForm } from '../support/saml-http.ts';
import { runPortico, startPorticoForCli, type CliPortico } from '../support/cli.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-mfa-cli-'));
let server: CliPortico;
const portico = (args: string[]) => runPortico(args, server.env);

before(async () => {
  server = await startPorticoForCli({ PORTICO_DATA_DIR: dataDir });
});
after(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('portico mfa (CLI)', () => {
  it('shows and changes the policy; refuses an invalid mode with exit code 2', async () => {
    const shown = await portico(['mfa', 'policy', '--json']);
    assert.equal(shown.status, 0, shown.stderr);
    assert.equal((JSON.parse(shown.stdout) as { mode: string }).mode, 'never');
    const set = await portico(['mfa', 'set-policy', '--mode', 'always', '--without-device', 'register-at-sign-in', '--factors', 'totp,webauthn', '--json']);
    assert.equal(set.status, 0, set.stderr);
    assert.deepEqual(JSON.parse(set.stdout), { mode: 'always', withoutDevice: 'register-at-sign-in', factors: ['totp', 'webauthn'], rememberDeviceDays: 30, applications: {}, permissionSets: {} });
    const bad = await portico(['mfa', 'set-policy', '--mode', 'sometimes']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /mode/);
  });

  it('lists a user’s devices and resets them (a lost phone)', async () => {
    // alice enrols an authenticator app at sign-in (the form flow, as a browser without JavaScript).
    const base = server.app.url;
    const page = await get(`${base}/sign-in`);
    const csrfCookie = page.setCookie.map((c) => c.split(';')[0]).find((c) => c?.startsWith('portico_csrf=')) ?? '';
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const signedIn = await postForm(`${base}/sign-in`, { csrf, returnTo: '/portal', username: 'alice@portico.test', password: demoPassword }, csrfCookie);
    assert.equal(signedIn.location, '/mfa/enrol?returnTo=%2Fportal');
    const session = signedIn.setCookie.map((c) => c.split(';')[0]).find((c) => c?.startsWith('portico_session=')) ?? '';
    const enrol = await get(`${base}/mfa/enrol?returnTo=%2Fportal`, session);
    const field = (name: string) => /name="NAME" value="([^"]*)"/.exec(enrol.text.replace(/name="(\w+)" value/g, (m, n: string) => (n === name ? 'name="NAME" value' : m)))?.[1] ?? '';
    const secret = (/id="totp-secret">([^<]+)</.exec(enrol.text)?.[1] ?? '').replace(/\s/g, '');
    const done = await postForm(`${base}/mfa/enrol`, { csrf: field('csrf'), returnTo: '/portal', deviceId: field('deviceId'), name: 'Work phone', code: totpCode(secret, new Date()) }, session);
    assert.equal(done.status, 200, done.text.slice(0, 200));

    // alice renames it herself on /mfa/devices (her second factor is fresh).
    const fresh = done.setCookie.map((c) => c.split(';')[0]).find((c) => c?.startsWith('portico_session=')) ?? session;
    const own = await get(`${base}/mfa/devices`, fresh);
    assert.equal(own.status, 200);
    const ownCsrf = /name="csrf" value="([^"]+)"/.exec(own.text)?.[1] ?? '';
    const ownDevice = /action="\/mfa\/devices\/rename">[^]*?name="deviceId" value="([^"]+)"/.exec(own.text)?.[1] ?? '';
    assert.notEqual(ownDevice, '', own.text.slice(0, 2000));
    const renamedByAlice = await postForm(`${base}/mfa/devices/rename`, { csrf: ownCsrf, deviceId: ownDevice, name: 'Pixel' }, fresh);
    assert.equal(renamedByAlice.status, 200);
    assert.match(renamedByAlice.text, /The device is now called “Pixel”\./);
    const empty = await postForm(`${base}/mfa/devices/rename`, { csrf: ownCsrf, deviceId: ownDevice, name: '  ' }, fresh);
    assert.match(empty.text, /Give the device a name\. Nothing was changed\./);

    const listed = await portico(['mfa', 'devices', 'alice', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    const devices = JSON.parse(listed.stdout) as { devices: Array<{ id: string; type: string; name: string }>; recoveryCodes: number };
    assert.deepEqual(devices.devices.map((d) => [d.type, d.name]), [['totp', 'Pixel']]);
    assert.equal(devices.recoveryCodes, 10);
    const table = await portico(['mfa', 'devices', 'PORTICO\\alice']);
    assert.match(table.stdout, /1 device, 10 unused recovery codes/);
    assert.match(table.stdout, /Pixel/);

    // The help desk renames it.
    const id = devices.devices[0]?.id ?? '';
    const renamed = await portico(['mfa', 'rename-device', 'alice', id, 'Old phone']);
    assert.equal(renamed.status, 0, renamed.stderr);
    assert.equal(renamed.stdout, `MFA device ${id} is now called "Old phone".\n`);
    const tooLong = await portico(['mfa', 'rename-device', 'alice', id, 'x'.repeat(65)]);
    assert.equal(tooLong.status, 2);
    assert.match(tooLong.stderr, /name: 1 to 64 characters/);
    assert.equal(((JSON.parse((await portico(['mfa', 'devices', 'alice', '--json'])).stdout) as { devices: Array<{ name: string }> }).devices[0])?.name, 'Old phone');
    const audit = await fetch(`${base}/admin/api/audit?action=mfa.device.renamed`, { headers: { authorization: `Bearer ${server.env.PORTICO_ADMIN_TOKEN}` } });
    const events = ((await audit.json()) as { events: Array<{ outcome: string; actor: string; details: Record<string, unknown> }> }).events;
    assert.deepEqual(events.filter((e) => e.outcome === 'success').map((e) => [e.details.before, e.details.after]).sort(), [['Pixel', 'Old phone'], ['Work phone', 'Pixel']]);

    const missing = await portico(['mfa', 'remove-device', 'alice', 'no-such-device']);
    assert.equal(missing.status, 4);
    const reset = await portico(['mfa', 'reset', 'alice@portico.test']);
    assert.equal(reset.status, 0, reset.stderr);
    assert.match(reset.stdout, /Removed 1 MFA device and every recovery code/);
    assert.deepEqual((JSON.parse((await portico(['mfa', 'devices', 'alice', '--json'])).stdout) as { devices: unknown[] }).devices, []);
  });
});
