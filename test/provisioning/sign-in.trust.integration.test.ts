/**
 * A user of a trusted forest signs in to Portico on its managed directory: the bind goes to that
 * forest's own DC (the PARTNER Samba forest), and the record carries that forest's domain.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { partnerFixture, partnerRuntime } from '../support/samba.ts';

const partner = partnerRuntime();
const pia = partnerFixture.users.find((u) => u.key === 'pia');
const dina = partnerFixture.users.find((u) => u.key === 'dina');

describe('sign-in of a trusted forest user', () => {
  let app: PorticoApp;
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-signin-trust-'));
  before(async () => {
    app = await startApp(
      loadConfig({
        env: {
          PORTICO_DATA_DIR: dataDir,
          PORTICO_LOG__LEVEL: 'silent',
          PORTICO_HTTP__PORT: '0',
          PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0',
          PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0',
          PORTICO_MANAGEDDIRECTORY__TRUSTS: JSON.stringify([
            { connection: { domain: partner.domain, urls: [partner.ldapsUrl], serviceAccount: partner.serviceAccount, tls: { caFile: partner.caFile }, allowSamba: true } },
          ]),
        },
      }),
    );
  });
  after(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const signIn = async (username: string, password: string) => {
    const response = await fetch(`${app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('authenticates against the trusted forest and provisions the user with that forest as the issuer', async () => {
    assert.ok(pia && dina);
    const result = await signIn(pia.upn, pia.password);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    const user = await app.users.findByUserName(pia.upn);
    assert.equal(user?.activeDirectory.domain, partner.domain);
    assert.deepEqual(user?.externalIds, [{ issuer: `ad:${partner.domain}`, id: user?.activeDirectory.guid }]);
    assert.equal(user?.displayName, pia.displayName);

    const disabled = await signIn(dina.upn, dina.password);
    assert.equal(disabled.status, 401);
    assert.equal((disabled.body.error as { code: string }).code, 'auth.account_disabled');
  });
});
