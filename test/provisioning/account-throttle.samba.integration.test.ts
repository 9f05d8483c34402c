/**
 * The per-account throttle suite against the real Samba AD DC. Wrong passwords go to the fixture's
 * tlock1 and tlock2 only (reserved for lockout tests); their counts are reset after each test.
 * Samba-only: a fine-grained password policy (PSO) with a lower threshold, applied to tlock2 for
 * the length of one test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { createAdConnector } from '#src/directory/connector.ts';
import { directoryAdmin } from '../support/directory-admin.ts';
import { fixtureUser, resetBadPasswordCounts, sambaDirectoryEnv, sambaOptions, sambaRuntime } from '../support/samba.ts';
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
    // The CLI is a client of this Portico's admin API, with the first start's bootstrap token.
    let token = '';
    const app = await startApp(loadConfig({ env: { ...env, PORTICO_HTTP__PORT: '0', PORTICO_HTTP__TRUSTEDPROXIES: '["127.0.0.1"]' } }), { clock, showBootstrapToken: (shown) => (token = shown) });
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
      cliEnv: { ...env, PORTICO_URL: app.url, PORTICO_ADMIN_TOKEN: token },
      passwordChange: false,
      async stop() {
        await admin.close();
        await app.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
});

/** Runs `work` while a password settings object with this lockout threshold applies to the account. */
async function withPso(appliesTo: string, lockoutThreshold: number, work: () => Promise<void>): Promise<void> {
  const { Client } = await import('ldapts');
  const dc = sambaRuntime();
  const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: readFileSync(dc.caFile) } });
  await client.bind(dc.admin.username, dc.admin.password);
  const dn = `CN=Portico-Throttle-Test-${process.pid},CN=Password Settings Container,CN=System,${dc.baseDn}`;
  const halfHour = String(-30n * 60n * 10_000_000n);
  try {
    await client.add(dn, {
      objectClass: ['msDS-PasswordSettings'],
      'msDS-PasswordSettingsPrecedence': '10',
      'msDS-PasswordReversibleEncryptionEnabled': 'FALSE',
      'msDS-PasswordHistoryLength': '0',
      'msDS-PasswordComplexityEnabled': 'TRUE',
      'msDS-MinimumPasswordLength': '7',
      'msDS-MinimumPasswordAge': '0',
      'msDS-MaximumPasswordAge': '-9223372036854775808',
      'msDS-LockoutThreshold': String(lockoutThreshold),
      'msDS-LockoutObservationWindow': halfHour,
      'msDS-LockoutDuration': halfHour,
      'msDS-PSOAppliesTo': appliesTo,
    });
    await work();
  } finally {
    await client.del(dn).catch(() => undefined);
    await client.unbind();
  }
}

describe('a fine-grained password policy with a lower lockout threshold (msDS-ResultantPSO)', () => {
  const tara = account('tlock2');
  after(() => resetBadPasswordCounts(['tlock2']));

  it("keeps the per-account limit below the PSO's threshold where it is readable, and says so where it is not", async () => {
    await resetBadPasswordCounts(['tlock2']);
    const dc = sambaRuntime();
    await withPso(tara.dn, 3, async () => {
      // AD (and Samba) let only administrators read PSOs: the least-privilege account falls back, with a warning.
      const warnings: string[] = [];
      const least = createAdConnector(sambaOptions(), { warn: (message) => warnings.push(message) });
      try {
        assert.equal((await least.resolveAccount(tara.upn))?.lockoutThreshold, 5);
        assert.match(warnings.join('\n'), /cannot read msDS-LockoutThreshold of the password settings object/);
      } finally {
        await least.close();
      }

      // A service account that may read PSOs (here the domain's Administrator, used read-only) gets the PSO's threshold.
      const dataDir = mkdtempSync(join(tmpdir(), 'portico-throttle-pso-'));
      const env = {
        PORTICO_DATA_DIR: dataDir,
        PORTICO_LOG__LEVEL: 'silent',
        ...sambaDirectoryEnv(dc),
        PORTICO_DIRECTORY__SERVICEACCOUNT__USERNAME: dc.admin.username,
        PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: dc.admin.password,
      };
      const app = await startApp(loadConfig({ env: { ...env, PORTICO_HTTP__PORT: '0' } }), { showBootstrapToken: () => undefined });
      try {
        assert.equal((await app.directory?.resolveAccount(tara.upn))?.lockoutThreshold, 3);
        const codes: number[] = [];
        for (const spelling of [tara.upn, 'CORP\\tlock2', 'tlock2@corp.example.test', tara.dn]) {
          const response = await fetch(`${app.url}/api/sign-in`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: spelling, password: 'Wrong-Password-1!x' }),
          });
          codes.push(response.status);
        }
        assert.deepEqual(codes, [401, 401, 429, 429], 'two failures (PSO threshold 3 − 1), then throttled');
        const admin = await directoryAdmin({ ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin });
        try {
          const badPwdCount = Number((await admin.read(tara.dn, 'badPwdCount')) ?? '0');
          process.stdout.write(`# PSO threshold 3: badPwdCount tlock2=${badPwdCount}\n`);
          assert.equal(badPwdCount, 2);
          assert.equal(Number((await admin.read(tara.dn, 'lockoutTime')) ?? '0'), 0);
        } finally {
          await admin.close();
        }
      } finally {
        await app.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
