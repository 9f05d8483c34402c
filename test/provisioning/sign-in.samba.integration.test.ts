/** The sign-in suite against the real Samba AD DC, connected as a self-managed domain. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { sambaDirectoryEnv, sambaRuntime } from '../support/samba.ts';
import { signInSuite } from './sign-in-suite.ts';

signInSuite({
  name: 'Samba AD DC',
  async start(clock) {
    const dc = sambaRuntime();
    const dataDir = mkdtempSync(join(tmpdir(), 'portico-signin-'));
    const env = {
      PORTICO_DATA_DIR: dataDir,
      PORTICO_LOG__LEVEL: 'silent',
      ...sambaDirectoryEnv(dc),
    };
    // The CLI is a client of this Portico's admin API, with the first start's bootstrap token.
    let token = '';
    const app = await startApp(loadConfig({ env: { ...env, PORTICO_HTTP__PORT: '0' } }), { clock, showBootstrapToken: (shown) => (token = shown) });
    return {
      app,
      admin: { ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin },
      cliEnv: { ...env, PORTICO_URL: app.url, PORTICO_ADMIN_TOKEN: token },
      passwordChange: /Change it in Active Directory/,
      async stop() {
        await app.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
});
