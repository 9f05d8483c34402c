/**
 * Changing a password on Portico's managed directory, end to end over HTTP: a user who must
 * change their password is told so at sign-in, changes it on the password page (with its CSRF
 * token, its confirmation and the directory's policy), then signs in with the new one; the JSON
 * API does the same. The connected-AD side (a page that only points to AD) is in
 * test/auth/password-change-http.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { directoryAdmin, type DirectoryAdmin } from '../support/directory-admin.ts';
import { browser, hiddenField, signInWithForm, type Browser } from '../auth/harness.ts';

type ErrorBody = { error: { code: string; message: string } };

void describe("changing a password: Portico's managed directory", () => {
  let app: PorticoApp;
  let admin: DirectoryAdmin;
  let dataDir: string;
  const run = `p${randomBytes(3).toString('hex')}`;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portico-password-'));
    const administratorPassword = 'Managed-Admin-2026!';
    const env = {
      PORTICO_DATA_DIR: dataDir,
      PORTICO_LOG__LEVEL: 'silent',
      PORTICO_MANAGEDDIRECTORY__ADMINISTRATORPASSWORD: administratorPassword,
      PORTICO_MANAGEDDIRECTORY__DEMOFOREST: 'false',
    };
    app = await startApp(
      loadConfig({ env: { ...env, PORTICO_HTTP__PORT: '0', PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0', PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0' } }),
    );
    const managed = app.managedDirectory;
    if (!managed) throw new Error('the managed directory did not start');
    admin = await directoryAdmin({
      ldapsUrl: managed.ldapsUrl.replace('0.0.0.0', '127.0.0.1'),
      ca: managed.certificatePem,
      baseDn: 'DC=portico,DC=test',
      domain: 'portico.test',
      netbiosName: 'PORTICO',
      admin: { username: managed.administrator.upn, password: administratorPassword },
    });
  });
  after(async () => {
    await admin?.close();
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** What the default attribute mappings need to provision the user at sign-in. */
  const person = (givenName: string, sn: string, sam: string) => ({ givenName, sn, initials: 'B', displayName: `${givenName} ${sn}`, mail: `${sam}@mail.example.test`, department: 'Research' });

  const apiSignIn = async (client: Browser, username: string, password: string) => {
    const response = await client.json('/api/sign-in', { username, password });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  async function changeWithForm(client: Browser, fields: { username: string; currentPassword: string; newPassword: string; confirmPassword?: string }) {
    const page = await client.get('/change-password');
    assert.equal(page.status, 200);
    const csrf = hiddenField(await page.text(), 'csrf');
    const response = await client.form('/change-password', { csrf, confirmPassword: fields.newPassword, ...fields });
    return { status: response.status, html: await response.text() };
  }

  void it('a must-change user is sent to the password page, changes the password there, and signs in with the new one', async () => {
    const user = await admin.createUser(`${run}must`, person('Ada', 'Lovelace', `${run}must`));
    await admin.replace(user.dn, 'pwdLastSet', '0');
    const client = browser(app.url);

    const refused = await apiSignIn(client, user.upn, user.password);
    assert.equal(refused.status, 401);
    const error = (refused.body as ErrorBody).error;
    assert.equal(error.code, 'auth.password_must_change');
    assert.match(error.message, /Change it on the password page, then sign in again\./);
    const signInPage = await signInWithForm(client, { username: user.upn, password: user.password });
    assert.equal(signInPage.status, 401);
    assert.match(await signInPage.text(), /<a href="\/change-password\?username=[^"]+">Change your password<\/a>/);

    const wrong = await changeWithForm(client, { username: user.upn, currentPassword: 'Not-The-Password-1', newPassword: 'Fresh-Start-2026!' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.html, /The user name or current password is incorrect\./);

    const differs = await changeWithForm(client, { username: user.upn, currentPassword: user.password, newPassword: 'Fresh-Start-2026!', confirmPassword: 'Fresh-Start-2026?' });
    assert.equal(differs.status, 400);
    assert.match(differs.html, /The new password and its confirmation differ/);

    const tooShort = await changeWithForm(client, { username: user.upn, currentPassword: user.password, newPassword: 'Ab1!' });
    assert.equal(tooShort.status, 400);
    assert.match(tooShort.html, /does not meet the password policy: the password is shorter than 7 characters/);
    const tooSimple = await changeWithForm(client, { username: user.upn, currentPassword: user.password, newPassword: 'onlylowercaseletters' });
    assert.equal(tooSimple.status, 400);
    assert.match(tooSimple.html, /does not meet the password policy: the password does not meet the complexity requirements/);

    // Still the old password: nothing above changed it, and it still must change.
    assert.equal((await apiSignIn(client, user.upn, user.password)).status, 401);

    const changed = await changeWithForm(client, { username: user.upn, currentPassword: user.password, newPassword: 'Fresh-Start-2026!' });
    assert.equal(changed.status, 200, changed.html);
    assert.match(changed.html, /Your password was changed\. Sign in with your new password\./);
    assert.match(changed.html, /<a href="\/sign-in">/);

    const signedIn = await apiSignIn(client, user.upn, 'Fresh-Start-2026!');
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    assert.equal(signedIn.body.userName, user.upn);
    assert.equal((await apiSignIn(browser(app.url), user.upn, user.password)).status, 401, 'the old password no longer works');

    const events = await app.audit.list({ limit: 20, action: 'auth.password_change' });
    const mine = events.filter((event) => event.target === user.upn);
    assert.deepEqual(
      mine.map((event) => event.errorCode),
      [null, 'auth.password_rejected', 'auth.password_rejected', 'auth.invalid_credentials'],
      'the directory was asked four times (not for the differing confirmation), each audited',
    );
  });

  void it('the JSON API changes a password: 204, then the new one signs in; a wrong current password is 401', async () => {
    const user = await admin.createUser(`${run}api`, person('Alan', 'Turing', `${run}api`));
    await admin.replace(user.dn, 'pwdLastSet', '0');
    const client = browser(app.url);

    const wrong = await client.json('/api/change-password', { username: user.upn, currentPassword: 'Not-The-Password-1', newPassword: 'Api-Changed-2026!' });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as ErrorBody).error.code, 'auth.invalid_credentials');

    const rejected = await client.json('/api/change-password', { username: user.upn, currentPassword: user.password, newPassword: 'short' });
    assert.equal(rejected.status, 400);
    const body = (await rejected.json()) as ErrorBody;
    assert.equal(body.error.code, 'auth.password_rejected');
    assert.match(body.error.message, /shorter than 7 characters/);

    const changed = await client.json('/api/change-password', { username: user.upn, currentPassword: user.password, newPassword: 'Api-Changed-2026!' });
    assert.equal(changed.status, 204);
    assert.equal((await apiSignIn(client, user.upn, 'Api-Changed-2026!')).status, 200);
  });
});
