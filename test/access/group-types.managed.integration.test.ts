/**
 * The group-rule suite against Portico's managed directory: Portico started in managed mode for
 * the fixture's domain, and the Samba fixture loaded into that directory (test/support/managed.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { loadManagedFixture } from '../support/managed.ts';
import { fixture } from '../support/samba.ts';
import { groupTypesSuite } from './group-types-suite.ts';

/** The fixture's Administrator password (test/samba/fixture.json). */
const administratorPassword = 'Admin-Secret-Corp-1!';

groupTypesSuite({
  name: "Portico's managed directory",
  async start(mode, clock) {
    const dataDir = mkdtempSync(join(tmpdir(), 'portico-group-types-'));
    let token = '';
    const app = await startApp(
      loadConfig({
        env: {
          PORTICO_DATA_DIR: dataDir,
          PORTICO_LOG__LEVEL: 'silent',
          PORTICO_HTTP__PORT: '0',
          PORTICO_ACCESS__GROUPMEMBERSHIP: mode,
          PORTICO_MANAGEDDIRECTORY__DOMAIN: fixture.domain.dnsName,
          PORTICO_MANAGEDDIRECTORY__NETBIOSNAME: fixture.domain.netbiosName,
          PORTICO_MANAGEDDIRECTORY__ADMINISTRATORPASSWORD: administratorPassword,
          PORTICO_MANAGEDDIRECTORY__DEMOFOREST: 'false',
          PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0',
          PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0',
        },
      }),
      { clock, showBootstrapToken: (t) => (token = t) },
    );
    const managed = app.managedDirectory;
    if (!managed) throw new Error('the managed directory did not start');
    await loadManagedFixture(managed);
    return {
      app,
      token,
      admin: {
        ldapsUrl: managed.ldapsUrl.replace('0.0.0.0', '127.0.0.1'),
        ca: managed.certificatePem,
        baseDn: fixture.domain.baseDn,
        domain: fixture.domain.dnsName,
        netbiosName: fixture.domain.netbiosName,
        admin: { username: managed.administrator.upn, password: administratorPassword },
      },
      async stop() {
        await app.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
});
