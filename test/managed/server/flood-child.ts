/**
 * A managed directory in its own process, so that a test can measure the server's memory (RSS)
 * while many clients misbehave, and count the lines it logs. Prints `{"port":…}` once listening;
 * answers each `rss` line on stdin with `{"rss":…}`. Its log (pino, JSON lines) goes to stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { startManagedDirectory } from '#src/directory/managed/index.ts';
import { managedDirectoryOptionsSchema } from '#src/directory/managed/options.ts';
import { createDatabase, createManagedDirectoryStores, migrateToLatest } from '#src/storage/index.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'portico-flood-'));
const db = createDatabase({ driver: 'sqlite', sqlite: { file: join(dataDir, 'portico.db') } });
await migrateToLatest(db);
const directory = await startManagedDirectory({
  options: managedDirectoryOptionsSchema.parse({ listen: { host: '127.0.0.1', ldapPort: 0, ldapsPort: 0 }, demoForest: false, administratorPassword: 'Flood-Admin-2026!' }),
  stores: createManagedDirectoryStores(db),
  dataDir,
  logger: pino({ level: 'info' }, process.stderr),
});
process.stdout.write(`${JSON.stringify({ port: directory.server.address().port })}\n`);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'rss') process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss })}\n`);
});
lines.on('close', () => {
  void directory
    .close()
    .then(() => db.destroy())
    .finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
});
