/** The sign-in suite against Portico's managed directory, the embedded default identity source. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { signInSuite } from './sign-in-suite.ts';

signInSuite({
  name: "Portico's managed directory",
  async start(clock) {
    const dataDir = mkdtempSync(join(tmpdir(), 'portico-signin-'));
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
      loadConfig({ env: { ...env, PORTICO_HTTP__PORT: '0', PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0', PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0' } }),
      { clock, showBootstrapToken: (shown) => (token = shown) },
    );
    const managed = app.managedDirectory;
    if (!managed) throw new Error('the managed directory did not start');
    const domain = 'portico.test';
    return {
      app,
      admin: {
        ldapsUrl: managed.ldapsUrl.replace('0.0.0.0', '127.0.0.1'),
        ca: managed.certificatePem,
        baseDn: 'DC=portico,DC=test',
        domain,
        netbiosName: 'PORTICO',
        admin: { username: managed.administrator.upn, password: administratorPassword },
      },
      cliEnv: { ...env, PORTICO_URL: app.url, PORTICO_ADMIN_TOKEN: token },
      passwordChange: /Change it on the password page/,
      async stop() {
        await app.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
});
