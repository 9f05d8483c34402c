/** The group-rule suite against the real Samba AD DC, connected as a self-managed domain. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { sambaDirectoryEnv, sambaRuntime } from '../support/samba.ts';
import { groupTypesSuite } from './group-types-suite.ts';

groupTypesSuite({
  name: 'Samba AD DC',
  async start(mode, clock) {
    const dc = sambaRuntime();
    const dataDir = mkdtempSync(join(tmpdir(), 'portico-group-types-'));
    let token = '';
    const app = await startApp(
      loadConfig({ env: { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'silent', PORTICO_HTTP__PORT: '0', PORTICO_ACCESS__GROUPMEMBERSHIP: mode, ...sambaDirectoryEnv(dc) } }),
      { clock, showBootstrapToken: (t) => (token = t) },
    );
    return {
      app,
      token,
      admin: { ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin },
      async stop() {
        await app.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
});
