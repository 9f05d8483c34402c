/**
 * Helper for bench/directory.bench.ts (first-bind rates, issue 21): a managed directory on a fresh
 * SQLite database, its verified-password cache off, holding `--users` users who all have the same
 * password, hashed the way `--hashing` says:
 *   scrypt   — the pre-issue-21 engine: scrypt N=2^15, r=8, p=1, no bound on verifications;
 *   argon2id — today's: Argon2id m=19 MiB, t=2, p=1, at most one verification per core at once;
 *   upgrade  — today's engine over scrypt hashes: each first bind verifies scrypt, then re-hashes.
 * The one hash is computed once and given to every user (loading N users does not pay N hashes;
 * a bind costs the same whatever salt the hash has). Prints one JSON line
 * `{ pid, ldapsUrl, caPem, upnSuffix, users, password, hashing }` and stops when stdin closes or on SIGTERM.
 * Run: node --import tsx bench/managed-binds-server.ts --hashing argon2id --users 1500
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ResultCode } from '#src/directory/managed/backend.ts';
import { startManagedDirectory } from '#src/directory/managed/index.ts';
import { managedDirectoryOptionsSchema } from '#src/directory/managed/options.ts';
import { createPasswordHasher, encodeUnicodePwd, hashPassword, hashPasswordScrypt, type PasswordHasher } from '#src/directory/managed/engine/password.ts';
import { createDatabase, createManagedDirectoryStores, migrateToLatest } from '#src/storage/index.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] as string) : fallback;
};
const hashing = arg('hashing', 'argon2id');
const users = Number(arg('users', '1500'));
if (!['scrypt', 'argon2id', 'upgrade'].includes(hashing)) throw new Error(`--hashing scrypt|argon2id|upgrade, not ${hashing}`);

const password = 'Bench-Pa55word!';
const real = createPasswordHasher(hashing === 'scrypt' ? { legacyScrypt: true } : {});
const shared = hashing === 'argon2id' ? await hashPassword(password) : await hashPasswordScrypt(password);
let loading = true;
// While loading, every new password gets the precomputed hash; afterwards the real hasher works.
const hasher: PasswordHasher = { ...real, hash: (pw) => (loading && pw === password ? Promise.resolve(shared) : real.hash(pw)) };

const dataDir = mkdtempSync(join(tmpdir(), 'portico-bench-binds-'));
const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
await migrateToLatest(db);
const directory = await startManagedDirectory({
  options: managedDirectoryOptionsSchema.parse({
    domain: 'bench.test',
    netbiosName: 'BENCH',
    listen: { host: '127.0.0.1', ldapPort: 0, ldapsPort: 0 },
    demoForest: false,
    administratorPassword: 'Admin-Pa55word!',
  }),
  stores: createManagedDirectoryStores(db),
  dataDir,
  logger: pino({ level: 'silent' }),
  engine: { passwordHasher: hasher, passwordCache: { maxEntries: 0 } },
});
const admin = { id: 'bench-loader', boundDn: directory.administrator.dn, secure: true, remoteAddress: 'bench' };
for (let i = 0; i < users; i += 1) {
  const name = `rush${i}`;
  const result = await directory.engine.add(admin, {
    entry: `CN=${name},CN=Users,${directory.engine.baseDn}`,
    attributes: [
      { type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'].map((v) => Buffer.from(v)) },
      { type: 'sAMAccountName', values: [Buffer.from(name)] },
      { type: 'userPrincipalName', values: [Buffer.from(`${name}@bench.test`)] },
      { type: 'unicodePwd', values: [encodeUnicodePwd(password)] },
    ],
  });
  if (result.resultCode !== ResultCode.success) throw new Error(`add ${name}: ${JSON.stringify(result)}`);
}
loading = false;

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await directory.close();
  await db.destroy();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ pid: process.pid, ldapsUrl: directory.ldapsUrl, caPem: directory.certificatePem, upnSuffix: '@bench.test', users, password, hashing })}\n`);
