/**
 * The per-account throttle suite against the real Samba AD DC. Wrong passwords go to the fixture's
 * tlock1 and tlock2 only (reserved for lockout tests); their counts are reset after each test.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { directoryAdmin } from '../support/directory-admin.ts';
import { fixtureUser, resetBadPasswordCounts, sambaDirectoryEnv, sambaRuntime } from '../support/samba.ts';
import { accountThrottleSuite, type ThrottleAccount } from './account-throttle-suite.ts';

const account = (key: string): ThrottleAccount => {
  const user = fixtureUser(key) as ReturnType<typeof fixtureUser> & { dn: string };
  return { sam: user.sAMAccountName, upn: user.upn, dn: user.dn, password: user.password };
};

accountThrottleSuite({
  name: 'Samba AD DC',
  async start(clock) {
    const dc = sambaRuntime();
    const dataDir = mkdtempSync(join(tmpdir(), 'portico-throttle-'));
    const env = { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'silent', ...sambaDirectoryEnv(dc) };
    const app = await startApp(loadConfig({ env: { ...env, PORTICO_HTTP__PORT: '0', PORTICO_HTTP__TRUSTEDPROXIES: '["127.0.0.1"]' } }), { clock, showBootstrapToken: () => undefined });
    const admin = await directoryAdmin({ ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin });
    const service = await app.directory?.findUser(dc.serviceAccount.username);
    if (!service) throw new Error('the service account is not readable');
    return {
      app,
      domain: dc.domain,
      netbiosName: dc.netbiosName,
      lockoutThreshold: 5,
      victims: [account('tlock1'), account('tlock2')],
      implicit: [account('ursula'), account('carol')],
      serviceAccount: { username: dc.serviceAccount.username, sam: service.samAccountName, dn: service.dn },
      read: (dn, attribute) => admin.read(dn, attribute),
      resetVictims: () => resetBadPasswordCounts(['tlock1', 'tlock2']),
      cliEnv: env,
      passwordChange: false,
      async stop() {
        await admin.close();
        await app.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
});
