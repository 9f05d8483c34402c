/**
 * The Samba AD domain controller that `npm test` starts (test/samba/dc.sh), as the integration
 * suites see it. A missing DC fails the suite: integration tests are never skipped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { directoryConnectionOptionsSchema } from '#src/directory/options.ts';
import type { DirectoryConnectionInput, DirectoryConnectionOptions } from '#src/directory/options.ts';
import { refuseInUnitTier } from './tier.ts';

export interface SambaRuntime {
  ldapsUrl: string;
  ldapUrl: string;
  caFile: string;
  certSha256: string;
  baseDn: string;
  domain: string;
  netbiosName: string;
  admin: { username: string; password: string };
  serviceAccount: { username: string; password: string };
}

export interface FixtureUser {
  key: string;
  cn: string;
  sAMAccountName: string;
  upn: string;
  givenName: string;
  sn: string;
  displayName: string;
  mail: string;
  password: string;
  state: 'ok' | 'disabled' | 'locked' | 'expired' | 'mustChange' | 'passwordExpired';
  memberOf: string[];
}

export interface FixtureGroup {
  key: string;
  name: string;
  sAMAccountName: string;
  type: 'security' | 'distribution';
  scope: string;
  memberOf: string[];
}

export interface Fixture {
  domain: { dnsName: string; netbiosName: string; baseDn: string };
  bindSubcodes: Record<string, string>;
  users: FixtureUser[];
  groups: FixtureGroup[];
  bigGroup: { name: string; sAMAccountName: string; memberCount: number; memberPrefix: string };
  manyGroupsUser: { user: string; directGroups: number; transitiveGroups: number };
}

function readRuntime(dir: string, start: string): SambaRuntime {
  try {
    return JSON.parse(readFileSync(join(dir, 'runtime.json'), 'utf8')) as SambaRuntime;
  } catch (cause) {
    throw new Error(`The Samba AD DC is not running (no ${dir}/runtime.json). Start it with: ${start}`, { cause });
  }
}

export function sambaRuntime(): SambaRuntime {
  refuseInUnitTier('The Samba AD DC');
  return readRuntime(process.env.PORTICO_SAMBA_DIR ?? '/tmp/portico-samba', 'bash test/samba/dc.sh start');
}

/** The second, independent forest PARTNER.EXAMPLE.TEST on 127.0.0.2, for trust tests. */
export function partnerRuntime(): SambaRuntime {
  refuseInUnitTier('The Samba AD DC PARTNER');
  return readRuntime(process.env.PORTICO_PARTNER_DIR ?? '/tmp/portico-samba-partner', 'PORTICO_SAMBA_INSTANCE=partner bash test/samba/dc.sh start');
}

/** The PORTICO_* environment that makes the Samba DC Portico's self-managed AD (with the lab override for Samba). */
export function sambaDirectoryEnv(dc: SambaRuntime = sambaRuntime()): Record<string, string> {
  return {
    PORTICO_DIRECTORY__DOMAIN: dc.domain,
    PORTICO_DIRECTORY__URLS: JSON.stringify([dc.ldapsUrl]),
    PORTICO_DIRECTORY__SERVICEACCOUNT__USERNAME: dc.serviceAccount.username,
    PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: dc.serviceAccount.password,
    PORTICO_DIRECTORY__TLS__CAFILE: dc.caFile,
    PORTICO_DIRECTORY__ALLOWSAMBA: 'true',
  };
}

export const fixture = JSON.parse(readFileSync(new URL('../samba/fixture.json', import.meta.url), 'utf8')) as Fixture;
export const partnerFixture = JSON.parse(readFileSync(new URL('../samba/partner-fixture.json', import.meta.url), 'utf8')) as Omit<Fixture, 'bigGroup' | 'manyGroupsUser'>;

export function fixtureUser(key: string): FixtureUser {
  const user = fixture.users.find((u) => u.key === key);
  if (!user) throw new Error(`fixture has no user ${key}`);
  return user;
}

/** Connector options for the test DC; Samba is accepted only through the explicit lab override. */
export function sambaOptions(overrides: Partial<DirectoryConnectionInput> = {}, dc: SambaRuntime = sambaRuntime()): DirectoryConnectionOptions {
  return directoryConnectionOptionsSchema.parse({
    domain: dc.domain,
    urls: [dc.ldapsUrl],
    serviceAccount: dc.serviceAccount,
    tls: { caFile: dc.caFile },
    allowSamba: true,
    ...overrides,
  });
}

/**
 * Clears the bad-password count of fixture users as the domain administrator (writing
 * lockoutTime = 0), so that wrong-password tests can run again against the same DC without
 * locking anyone out. This writes to the test DC only; Portico itself never writes to AD.
 */
export async function resetBadPasswordCounts(keys: string[], forest: 'corp' | 'partner' = 'corp'): Promise<void> {
  const { Attribute, Change, Client } = await import('ldapts');
  const dc = forest === 'corp' ? sambaRuntime() : partnerRuntime();
  const users = forest === 'corp' ? fixture.users : partnerFixture.users;
  const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: readFileSync(dc.caFile) } });
  try {
    await client.bind(dc.admin.username, dc.admin.password);
    for (const key of keys) {
      const user = users.find((u) => u.key === key);
      if (!user) throw new Error(`${forest} fixture has no user ${key}`);
      const { searchEntries } = await client.search(dc.baseDn, { filter: `(sAMAccountName=${user.sAMAccountName})`, attributes: ['dn'] });
      const dn = searchEntries[0]?.dn;
      if (!dn) throw new Error(`fixture user ${key} not found on the ${forest} DC`);
      await client.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'lockoutTime', values: ['0'] }) }));
    }
  } finally {
    await client.unbind();
  }
}
