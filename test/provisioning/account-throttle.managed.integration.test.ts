/**
 * The per-account throttle suite against Portico's managed directory (the embedded default).
 * The accounts mirror the Samba fixture's: one whose UPN is sam@domain, one whose UPN has another
 * prefix and an alternative suffix, created by the directory's Administrator as an admin would.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { directoryAdmin } from '../support/directory-admin.ts';
import { accountThrottleSuite, type ThrottleAccount } from './account-throttle-suite.ts';

accountThrottleSuite({
  name: "Portico's managed directory",
  async start(clock) {
    const dataDir = mkdtempSync(join(tmpdir(), 'portico-throttle-'));
    const administratorPassword = 'Managed-Admin-2026!';
    const env = {
      PORTICO_DATA_DIR: dataDir,
      PORTICO_LOG__LEVEL: 'silent',
      PORTICO_MANAGEDDIRECTORY__ADMINISTRATORPASSWORD: administratorPassword,
      PORTICO_MANAGEDDIRECTORY__DEMOFOREST: 'false',
    };
    // The CLI is a client of this Portico's admin API, with the first start's bootstrap token.
    let token = '';
    const app = await startApp(
      loadConfig({
        env: { ...env, PORTICO_HTTP__PORT: '0', PORTICO_HTTP__TRUSTEDPROXIES: '["127.0.0.1"]', PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0', PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0' },
      }),
      { clock, showBootstrapToken: (shown) => (token = shown) },
    );
    const managed = app.managedDirectory;
    if (!managed) throw new Error('the managed directory did not start');
    const domain = 'portico.test';
    const admin = await directoryAdmin({
      ldapsUrl: managed.ldapsUrl.replace('0.0.0.0', '127.0.0.1'),
      ca: managed.certificatePem,
      baseDn: 'DC=portico,DC=test',
      domain,
      netbiosName: 'PORTICO',
      admin: { username: managed.administrator.upn, password: administratorPassword },
    });
    const run = randomBytes(3).toString('hex');
    const create = async (sam: string, upn: string, givenName: string): Promise<ThrottleAccount> => {
      const user = await admin.createUser(sam, { userPrincipalName: upn, givenName, sn: 'Lock', displayName: `${givenName} Lock`, mail: `${sam}@mail.example.test` });
      return { sam: user.sam, upn, dn: user.dn, password: user.password };
    };
    const victims: [ThrottleAccount, ThrottleAccount] = [await create(`tl1${run}`, `tl1${run}@${domain}`, 'Tom'), await create(`tl2${run}`, `tara.${run}@corpmail.example`, 'Tara')];
    const implicit = [await create(`ur${run}`, `u.${run}@corpmail.example`, 'Ursula'), await create(`cd${run}`, `carol.${run}@${domain}`, 'Carol')];
    // Portico binds to its managed directory as its own service account, not as Administrator.
    const service = await app.directory?.findUser(managed.serviceAccount.upn);
    if (!service) throw new Error('the service account is not readable');
    return {
      app,
      domain,
      netbiosName: 'PORTICO',
      lockoutThreshold: 5,
      victims,
      implicit,
      serviceAccount: { username: managed.serviceAccount.upn, sam: service.samAccountName, dn: service.dn },
      read: (dn, attribute) => admin.read(dn, attribute),
      async resetVictims() {
        for (const victim of victims) await admin.replace(victim.dn, 'lockoutTime', '0');
      },
      cliEnv: { ...env, PORTICO_URL: app.url, PORTICO_ADMIN_TOKEN: token },
      passwordChange: true,
      async stop() {
        await admin.close();
        await app.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
});
