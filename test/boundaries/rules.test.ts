/**
 * Proves the dependency rules in .dependency-cruiser.cjs bite (issue 14): a forbidden import for
 * each rule is written into src/ for the length of one dependency-cruiser run, and every rule must
 * report its probe. The clean tree itself is checked by `npm run boundaries` in scripts/test.sh.
 * No server is started: this is a unit-tier test.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const probeName = `zz-boundary-probe-${process.pid}`;

/** One forbidden import per rule: [rule, file under src/ (without .ts), source]. */
const probes: Array<{ rule: string; file: string; source: string }> = [
  { rule: 'no-domain-cycles', file: 'sessions/P', source: "import { createSignInFlow } from '#src/auth/sign-in-flow.ts';\nexport const probe = createSignInFlow;\n" },
  { rule: 'no-file-cycles', file: 'shared/P-a', source: "import { b } from './P-b.ts';\nexport const a = (): unknown => b;\n" },
  { rule: 'no-file-cycles', file: 'shared/P-b', source: "import { a } from './P-a.ts';\nexport const b = (): unknown => a;\n" },
  { rule: 'only-storage-imports-database-drivers', file: 'access/P', source: "import Database from 'better-sqlite3';\nexport const probe = Database;\n" },
  { rule: 'only-directory-imports-ldapts', file: 'portal/P-ldap', source: "import { Client } from 'ldapts';\nexport const probe = Client;\n" },
  { rule: 'storage-is-wired-by-the-root', file: 'admin/P', source: "import { createKyselyAuditLog } from '#src/storage/index.ts';\nexport const probe = createKyselyAuditLog;\n" },
  { rule: 'cli-never-imports-storage', file: 'cli/P', source: "import { createDatabase } from '#src/storage/index.ts';\nexport const probe = createDatabase;\n" },
  { rule: 'the-root-is-imported-by-the-entry-only', file: 'portal/P-root', source: "import { startApp } from '#src/app.ts';\nexport const probe = startApp;\n" },
  { rule: 'saml-core-imports-no-domain', file: 'federation/saml/P', source: "import { applicationInput } from '#src/access/model.ts';\nexport const probe = applicationInput;\n" },
  { rule: 'saml-core-reads-the-user-as-a-type-only', file: 'federation/saml/P-user', source: "import { toProvisionedUser } from '#src/identity-store/user.ts';\nexport const probe = toProvisionedUser;\n" },
  { rule: 'identity-store-api-reads-the-directory-through-identity-store', file: 'identity-store-api/P', source: "import { isGuid } from '#src/directory/ad-codec.ts';\nexport const probe = isGuid;\n" },
  { rule: 'provisioning-is-the-jit-step-only', file: 'provisioning/P', source: "import type { SignInService } from '#src/auth/sign-in.ts';\nexport type Probe = SignInService;\n" },
];

const pathOf = (file: string): string => `src/${file.replace(/P/g, probeName)}.ts`;

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
  /** For cycles: the modules or folders the loop passes. */
  cycle?: Array<{ name: string }>;
}

describe('dependency rules (.dependency-cruiser.cjs)', () => {
  let violations: Violation[] = [];

  before(async () => {
    try {
      for (const probe of probes) {
        const file = join(root, pathOf(probe.file));
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, probe.source.replace(/P(-[ab])/g, `${probeName}$1`));
      }
      const cruiser = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
      // Exit code 1 (violations found) is the expected outcome here; the report is on stdout.
      const result = await promisify(execFile)(process.execPath, [cruiser, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: root, maxBuffer: 64 * 1024 * 1024 }).catch(
        (error: { stdout?: string; code?: number }) => {
          if (typeof error.stdout !== 'string' || error.stdout.length === 0) throw error;
          return { stdout: error.stdout };
        },
      );
      violations = (JSON.parse(result.stdout) as { summary: { violations: Violation[] } }).summary.violations;
    } finally {
      await Promise.all(probes.map((probe) => rm(join(root, pathOf(probe.file)), { force: true })));
    }
  });

  after(async () => {
    await Promise.all(probes.map((probe) => rm(join(root, pathOf(probe.file)), { force: true })));
  });

  for (const probe of probes) {
    it(`${probe.rule} refuses ${pathOf(probe.file)}`, () => {
      const path = pathOf(probe.file);
      const folder = dirname(path);
      const found = violations.filter((v) => v.rule.name === probe.rule && (v.from === path || v.to === path || v.from === folder));
      assert.ok(found.length > 0, `no ${probe.rule} violation for ${path}; violations: ${violations.map((v) => `${v.rule.name} ${v.from} → ${v.to}`).join('; ')}`);
    });
  }

  it('reports nothing that no probe caused (the tree itself keeps the rules)', () => {
    const probeFolders = new Set(probes.map((probe) => dirname(pathOf(probe.file))));
    const touched = (name: string): boolean => name.includes(probeName) || probeFolders.has(name);
    const unexplained = violations.filter((v) => !touched(v.from) && !touched(v.to) && !(v.cycle ?? []).some((step) => touched(step.name)));
    assert.deepEqual(
      unexplained.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`),
      [],
    );
  });
});
