/**
 * A managed directory started in-process on ephemeral loopback ports, loaded with the same
 * fixture as the Samba DC (test/samba/fixture.json), so that suites run unchanged against both.
 * The fixture goes in through the LDAP operations an administrator's tools use.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { dateToFiletime } from '#src/directory/ad-codec.ts';
import { ResultCode } from '#src/directory/managed/backend.ts';
import type { DirectoryBackend, Session } from '#src/directory/managed/backend.ts';
import { startManagedDirectory } from '#src/directory/managed/index.ts';
import type { ManagedDirectory } from '#src/directory/managed/index.ts';
import { managedDirectoryOptionsSchema } from '#src/directory/managed/options.ts';
import { createDatabase, createManagedDirectoryStores, migrateToLatest } from '#src/storage/index.ts';
import type { SambaRuntime } from './samba.ts';

interface RawFixture {
  domain: { dnsName: string; netbiosName: string; baseDn: string };
  adminPassword: string;
  passwordPolicy: { lockoutThreshold: number; lockoutDurationMinutes: number; lockoutObservationWindowMinutes: number; maxPasswordAgeDays: number; minPasswordAgeDays: number };
  serviceAccount: { dn: string; sAMAccountName: string; upn: string; displayName: string; password: string };
  ous: string[];
  users: Array<Record<string, unknown> & { key: string; dn: string; sAMAccountName: string; upn: string; password: string; state: string; memberOf: string[]; accountExpires?: string; passwordAgeDays?: number }>;
  groups: Array<{ key: string; dn: string; sAMAccountName: string; type: string; scope: string; memberOf: string[]; mail?: string; description?: string }>;
  bigGroup?: { dn?: string; name: string; sAMAccountName: string; ou: string; memberCount: number; memberPrefix: string; memberDigits: number; memberOu: string };
}

export interface ManagedFixture {
  runtime: SambaRuntime;
  directory: ManagedDirectory;
  /** Clears bad-password counts of fixture users (lockoutTime = 0, as an administrator). */
  resetBadPasswordCounts(keys: string[]): Promise<void>;
  stop(): Promise<void>;
}

const text = (value: string): Buffer[] => [Buffer.from(value, 'utf8')];
const userAttributeNames = ['givenName', 'sn', 'displayName', 'mail', 'department', 'title', 'employeeID', 'initials', 'telephoneNumber', 'cn'];
const groupTypes: Record<string, number> = { global: 0x2, domainLocal: 0x4, universal: 0x8 };

async function ok(what: string, pending: Promise<{ resultCode: number; diagnosticMessage?: string }>): Promise<void> {
  const result = await pending;
  if (result.resultCode !== ResultCode.success) throw new Error(`fixture: ${what} failed (${result.resultCode}): ${result.diagnosticMessage ?? ''}`);
}

export async function startManagedFixture(): Promise<ManagedFixture> {
  const fixture = JSON.parse(await readFile(new URL('../samba/fixture.json', import.meta.url), 'utf8')) as RawFixture;
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-managed-'));
  const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
  await migrateToLatest(db);
  let offsetMs = 0;
  const directory = await startManagedDirectory({
    options: managedDirectoryOptionsSchema.parse({
      domain: fixture.domain.dnsName,
      netbiosName: fixture.domain.netbiosName,
      listen: { host: '127.0.0.1', ldapPort: 0, ldapsPort: 0 },
      demoForest: false,
      administratorPassword: fixture.adminPassword,
    }),
    stores: createManagedDirectoryStores(db),
    dataDir,
    logger: pino({ level: 'silent' }),
    clock: () => new Date(Date.now() + offsetMs),
  });
  const loaded = await loadManagedFixture(directory, (ms) => (offsetMs = ms));
  const base = fixture.domain.baseDn;

  const caFile = join(dataDir, 'ca.pem');
  writeFileSync(caFile, directory.certificatePem);
  const runtime: SambaRuntime = {
    ldapsUrl: directory.ldapsUrl,
    ldapUrl: directory.ldapUrl,
    caFile,
    certSha256: directory.certificateSha256,
    baseDn: base,
    domain: fixture.domain.dnsName,
    netbiosName: fixture.domain.netbiosName,
    admin: { username: directory.administrator.upn, password: fixture.adminPassword },
    serviceAccount: { username: fixture.serviceAccount.upn, password: fixture.serviceAccount.password },
  };
  return {
    runtime,
    directory,
    resetBadPasswordCounts: loaded.resetBadPasswordCounts,
    async stop() {
      await directory.close();
      await db.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Loads the fixture into a managed directory already running (for instance the one a Portico
 * started in managed mode for corp.example.test serves): `setClockOffset` moves that directory's
 * clock for the expired-password user when the caller controls it.
 */
export async function loadManagedFixture(directory: ManagedDirectory, setClockOffset: (ms: number) => void = () => {}): Promise<Pick<ManagedFixture, 'resetBadPasswordCounts'>> {
  const fixture = JSON.parse(await readFile(new URL('../samba/fixture.json', import.meta.url), 'utf8')) as RawFixture;
  const backend: DirectoryBackend = directory.engine;
  const admin: Session = { id: 'fixture-admin', boundDn: directory.administrator.dn, secure: true, remoteAddress: 'fixture' };
  const base = fixture.domain.baseDn;
  const day = 86_400_000;

  const policy = fixture.passwordPolicy;
  const interval = (ms: number): Buffer[] => text((-(BigInt(ms) * 10_000n)).toString());
  await ok(
    'password policy',
    backend.modify(admin, base, [
      { operation: 'replace', type: 'lockoutThreshold', values: text(String(policy.lockoutThreshold)) },
      { operation: 'replace', type: 'lockoutDuration', values: interval(policy.lockoutDurationMinutes * 60_000) },
      { operation: 'replace', type: 'lockOutObservationWindow', values: interval(policy.lockoutObservationWindowMinutes * 60_000) },
      { operation: 'replace', type: 'maxPwdAge', values: interval(policy.maxPasswordAgeDays * day) },
    ]),
  );
  for (const ou of fixture.ous) {
    await ok(ou, backend.add(admin, { entry: `${ou},${base}`, attributes: [{ type: 'objectClass', values: text('organizationalUnit') }] }));
  }

  const addUser = async (user: { dn: string; sAMAccountName: string; upn?: string; password?: string; attributes?: Record<string, unknown>; uac: number }): Promise<void> => {
    const attributes = [
      { type: 'objectClass', values: text('user') },
      { type: 'sAMAccountName', values: text(user.sAMAccountName) },
      ...(user.upn ? [{ type: 'userPrincipalName', values: text(user.upn) }] : []),
      ...userAttributeNames.filter((name) => typeof user.attributes?.[name] === 'string').map((name) => ({ type: name, values: text(user.attributes?.[name] as string) })),
      ...(user.password ? [{ type: 'unicodePwd', values: [Buffer.from(`"${user.password}"`, 'utf16le')] }] : []),
      { type: 'userAccountControl', values: text(String(user.uac)) },
    ];
    await ok(user.dn, backend.add(admin, { entry: user.dn, attributes }));
  };

  await addUser({ ...fixture.serviceAccount, uac: 0x200 | 0x10000 });
  for (const user of fixture.users) {
    // The expired-password user's password was set before the maximum age: time moves back for it.
    if (user.passwordAgeDays) setClockOffset(-user.passwordAgeDays * day);
    await addUser({ dn: user.dn, sAMAccountName: user.sAMAccountName, upn: user.upn, password: user.password, attributes: user, uac: user.state === 'disabled' ? 0x202 : 0x200 });
    setClockOffset(0);
    if (user.state === 'expired' && user.accountExpires) {
      await ok(`${user.key} expiry`, backend.modify(admin, user.dn, [{ operation: 'replace', type: 'accountExpires', values: text(dateToFiletime(new Date(user.accountExpires)).toString()) }]));
    }
    if (user.state === 'mustChange') {
      await ok(`${user.key} must change`, backend.modify(admin, user.dn, [{ operation: 'replace', type: 'pwdLastSet', values: text('0') }]));
    }
  }

  const big = fixture.bigGroup;
  const bulk: string[] = [];
  if (big) {
    for (let i = 1; i <= big.memberCount; i += 1) {
      const name = `${big.memberPrefix}${String(i).padStart(big.memberDigits, '0')}`;
      const dn = `CN=${name},${big.memberOu},${base}`;
      bulk.push(dn);
      await addUser({ dn, sAMAccountName: name, uac: 0x202 | 0x20 });
    }
  }

  const groupDn = new Map(fixture.groups.map((g) => [g.key, g.dn]));
  for (const group of fixture.groups) {
    const groupType = (groupTypes[group.scope] ?? 0x2) | (group.type === 'security' ? 0x80000000 : 0);
    await ok(
      group.dn,
      backend.add(admin, {
        entry: group.dn,
        attributes: [
          { type: 'objectClass', values: text('group') },
          { type: 'sAMAccountName', values: text(group.sAMAccountName) },
          { type: 'groupType', values: text(String(groupType | 0)) },
          ...(group.mail ? [{ type: 'mail', values: text(group.mail) }] : []),
        ],
      }),
    );
  }
  if (big) {
    const dn = big.dn ?? `CN=${big.name},${big.ou},${base}`;
    await ok(dn, backend.add(admin, { entry: dn, attributes: [{ type: 'objectClass', values: text('group') }, { type: 'sAMAccountName', values: text(big.sAMAccountName) }, { type: 'groupType', values: text(String(0x80000002 | 0)) }, { type: 'member', values: bulk.map((m) => Buffer.from(m)) }] }));
  }
  const memberships: Array<[group: string, member: string]> = [
    ...fixture.users.flatMap((u) => u.memberOf.map((g): [string, string] => [g, u.dn])),
    ...fixture.groups.flatMap((g) => g.memberOf.map((parent): [string, string] => [parent, g.dn])),
  ];
  for (const [groupKey, member] of memberships) {
    const dn = groupDn.get(groupKey);
    if (!dn) throw new Error(`fixture: unknown group ${groupKey}`);
    await ok(`${member} in ${groupKey}`, backend.modify(admin, dn, [{ operation: 'add', type: 'member', values: [Buffer.from(member)] }]));
  }

  // Lock the locked user the way AD does: wrong passwords up to the threshold.
  for (const user of fixture.users.filter((u) => u.state === 'locked')) {
    for (let attempt = 0; attempt < policy.lockoutThreshold; attempt += 1) {
      await backend.bind({ id: `lock-${attempt}`, boundDn: null, secure: true, remoteAddress: 'fixture' }, user.upn, Buffer.from('Wrong-Password-0!'));
    }
  }
  return {
    async resetBadPasswordCounts(keys) {
      for (const key of keys) {
        const user = fixture.users.find((u) => u.key === key);
        if (user) await ok(`unlock ${key}`, backend.modify(admin, user.dn, [{ operation: 'replace', type: 'lockoutTime', values: text('0') }]));
      }
    },
  };
}
