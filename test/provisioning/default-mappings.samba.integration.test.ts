/**
 * The default mapping table on the fixture's real users, against the Samba DC: users without
 * initials (most of them, as on a typical AD) sign in with it, and Identity Center's table (the
 * identity-center preset) refuses them, as Identity Center does. Right passwords only: the DC is
 * shared with other suites.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultMappings, identityCenterMappings } from '#src/identity-store/mappings.ts';
import { fixtureUser } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';

type ErrorBody = { error: { code: string; message: string } };

describe('the default mappings on the Samba fixture', () => {
  let target: SambaPortico;
  before(async () => {
    target = await startSambaPortico();
  });
  after(async () => {
    await target?.stop();
  });

  const signIn = async (user: { upn: string; password: string }) => {
    const response = await fetch(`${target.app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user.upn, password: user.password }) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const putMappings = async (table: Record<string, string | undefined>) => {
    const response = await fetch(`${target.app.url}/admin/api/mappings`, { method: 'PUT', headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ table }) });
    assert.equal(response.status, 200, await response.text());
  };

  it('signs in fixture users without initials, leaving middleName unset and every name as AD has it', async () => {
    for (const key of ['bob', 'zoe', 'ursula']) {
      const user = fixtureUser(key);
      assert.equal((user as { initials?: string }).initials, undefined, `${key} has no initials in the fixture`);
      const result = await signIn(user);
      assert.equal(result.status, 200, JSON.stringify(result.body));
      const stored = await target.app.users.findByUserName(user.upn);
      assert.ok(stored);
      assert.deepEqual(stored.name, { formatted: `${user.givenName} ${user.sn}`, givenName: user.givenName, familyName: user.sn, middleName: null });
      assert.equal(stored.displayName, user.displayName);
      assert.equal(stored.attributes.middleName, undefined);
    }
    const alice = fixtureUser('alice');
    assert.equal((await signIn(alice)).status, 200);
    assert.equal((await target.app.users.findByUserName(alice.upn))?.name.middleName, 'A');
  });

  it('refuses them with the identity-center preset, as Identity Center does; alice (with initials) still signs in', async () => {
    await putMappings({ ...identityCenterMappings });
    try {
      const bob = fixtureUser('bob');
      const refused = await signIn(bob);
      assert.equal(refused.status, 403);
      assert.equal((refused.body as unknown as ErrorBody).error.code, 'identity.mapping_value_missing');
      const [event] = await target.app.audit.list({ limit: 1, action: 'auth.sign_in' });
      assert.equal(event?.errorCode, 'identity.mapping_value_missing');
      assert.equal(event?.details.attribute, 'initials');
      assert.equal(event?.details.target, 'middleName');
      assert.equal((await signIn(fixtureUser('alice'))).status, 200);
    } finally {
      await putMappings({ ...defaultMappings });
    }
    assert.equal((await signIn(fixtureUser('bob'))).status, 200);
  });
});
