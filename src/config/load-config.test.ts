import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AppError, isAppError } from '#src/shared/errors.ts';
import { loadConfig, type ConfigIssue } from './load-config.ts';

const PASSWORD = 'Svc-Password-9d2c';

const DIRECTORY_YAML = `
directory:
  domain: corp.example.test
  urls: [ldaps://dc1.corp.example.test]
  serviceAccount:
    username: svc@corp.example.test
`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-config-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** Runs loadConfig expecting config.invalid, and returns the reported issues. */
function issuesOf(run: () => unknown): { message: string; issues: ConfigIssue[] } {
  try {
    run();
  } catch (error) {
    assert.ok(isAppError(error, 'config.invalid'), `expected config.invalid, got ${String(error)}`);
    return { message: error.message, issues: error.details?.issues as ConfigIssue[] };
  }
  assert.fail('expected loadConfig to throw');
}

void describe('loadConfig: defaults', () => {
  void it('needs no file and no variables', () => {
    assert.deepEqual(loadConfig({ env: {}, cwd: dir }), {
      dataDir: './data',
      http: { host: '127.0.0.1', port: 8080, trustedProxies: [], shutdownGraceSeconds: 10 },
      database: { driver: 'sqlite', sqlite: { file: join('./data', 'portico.db') } },
      secrets: {},
      log: { level: 'info', format: 'auto' },
      audit: {},
      metrics: { enabled: true },
      managedDirectory: {
        domain: 'portico.test',
        netbiosName: 'PORTICO',
        listen: { host: '127.0.0.1', ldapPort: 3389, ldapsPort: 6636 },
        tls: {},
        allowPlainLdap: false,
        lockOutAdministrator: false,
        demoForest: true,
        passwordHashing: { memoryKiB: 19456, timeCost: 2, parallelism: 1 },
        trusts: [],
        tombstoneLifetimeDays: 180,
      },
      sessions: { duration: 'PT8H', recheckMinutes: 5 },
      signIn: { throttle: { perUsername: { windowMinutes: 30 }, perAddress: { maxFailures: 20, windowMinutes: 15 } }, failureFloor: { enabled: true, initialMs: 100, maxMs: 1000 } },
      admin: { groups: [] },
      access: { groupMembership: 'transitive', cacheMinutes: 5 },
      sync: { pollSeconds: 5, fullEveryMinutes: 360, batchSize: 500, concurrency: 2, pauseMs: 10 },
      federation: { saml: {}, aws: { samlProviderName: 'Portico', roleName: '{permissionSet}', accessControlAttributes: {} } },
      mfa: {},
      awsSso: {
        region: 'us-east-1',
        sts: { region: 'us-east-1', timeoutSeconds: 10 },
        accessTokenMinutes: 60,
        deviceCodeMinutes: 10,
        pollIntervalSeconds: 5,
        clientRegistrationDays: 90,
        deviceAuthorizationsPerClientPerMinute: 10,
        registrationsPerAddressPerMinute: 20,
      },
    });
  });

  void it('puts the SQLite file in dataDir unless configured', () => {
    assert.deepEqual(loadConfig({ env: { PORTICO_DATADIR: '/var/lib/portico' }, cwd: dir }).database, {
      driver: 'sqlite',
      sqlite: { file: '/var/lib/portico/portico.db' },
    });
    assert.deepEqual(
      loadConfig({ env: { PORTICO_DATADIR: '/var/lib/portico', PORTICO_DATABASE__SQLITE__FILE: '/db/p.db' }, cwd: dir }).database,
      { driver: 'sqlite', sqlite: { file: '/db/p.db' } },
    );
  });

  void it('treats an empty file as all defaults', async () => {
    const path = await file('portico.yaml', '# nothing configured yet\n');
    assert.deepEqual(loadConfig({ file: path, env: {} }), loadConfig({ env: {}, cwd: dir }));
  });
});

void describe('loadConfig: sources', () => {
  void it('reads ./portico.yaml from the working directory when it exists', async () => {
    await file('portico.yaml', 'http:\n  port: 9000\n');
    assert.equal(loadConfig({ env: {}, cwd: dir }).http.port, 9000);
  });

  void it('reads the file named by PORTICO_CONFIG, or by the file option over it', async () => {
    const fromEnv = await file('env.yaml', 'http:\n  port: 9001\n');
    const fromOption = await file('option.yaml', 'http:\n  port: 9002\n');
    assert.equal(loadConfig({ env: { PORTICO_CONFIG: fromEnv }, cwd: dir }).http.port, 9001);
    assert.equal(loadConfig({ file: fromOption, env: { PORTICO_CONFIG: fromEnv }, cwd: dir }).http.port, 9002);
  });

  void it('reads JSON files', async () => {
    const path = await file('portico.json', JSON.stringify({ http: { port: 9003 }, log: { level: 'debug' } }));
    const config = loadConfig({ file: path, env: {} });
    assert.equal(config.http.port, 9003);
    assert.equal(config.log.level, 'debug');
  });

  void it('fails with config.file_unreadable when a named file is missing', () => {
    assert.throws(
      () => loadConfig({ file: join(dir, 'missing.yaml'), env: {} }),
      (error) => isAppError(error, 'config.file_unreadable') && error.message.includes('missing.yaml'),
    );
  });

  void it('merges the file with the environment, section by section', async () => {
    const path = await file('portico.yaml', `http:\n  host: 0.0.0.0\n${DIRECTORY_YAML}`);
    const config = loadConfig({
      file: path,
      env: { PORTICO_HTTP__PORT: '9443', PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: PASSWORD, HOME: '/root' },
    });
    assert.deepEqual(config.http, { host: '0.0.0.0', port: 9443, trustedProxies: [], shutdownGraceSeconds: 10 });
    assert.equal(config.directory?.domain, 'corp.example.test');
    assert.deepEqual(config.directory?.serviceAccount, { username: 'svc@corp.example.test', password: PASSWORD });
    // Defaults from src/directory/options.ts apply under the merged values.
    assert.equal(config.directory?.pageSize, 500);
    assert.equal(config.directory?.tls.verify, true);
  });

  void it('lets the environment override the file', async () => {
    const path = await file('portico.yaml', `http:\n  port: 9000\nlog:\n  level: warn\n${DIRECTORY_YAML}    password: from-file\n`);
    const config = loadConfig({
      file: path,
      env: {
        PORTICO_HTTP__PORT: '9100',
        PORTICO_LOG__LEVEL: 'debug',
        PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: PASSWORD,
        PORTICO_DIRECTORY__URLS: '["ldaps://a.corp.example.test","ldaps://b.corp.example.test:3269"]',
      },
    });
    assert.equal(config.http.port, 9100);
    assert.equal(config.log.level, 'debug');
    assert.equal(config.directory?.serviceAccount.password, PASSWORD);
    assert.deepEqual(config.directory?.urls, ['ldaps://a.corp.example.test', 'ldaps://b.corp.example.test:3269']);
  });
});

void describe('loadConfig: environment variables', () => {
  const directoryEnv = {
    PORTICO_DIRECTORY__DOMAIN: 'corp.example.test',
    PORTICO_DIRECTORY__URLS: 'ldaps://a.corp.example.test, ldaps://b.corp.example.test',
    PORTICO_DIRECTORY__SERVICEACCOUNT__USERNAME: 'svc@corp.example.test',
  };

  void it('matches keys ignoring case and single underscores, and coerces by the schema type', () => {
    const config = loadConfig({
      cwd: dir,
      env: {
        ...directoryEnv,
        PORTICO_DATA_DIR: '/srv/portico',
        PORTICO_HTTP__PORT: '9000',
        PORTICO_DIRECTORY__SERVICE_ACCOUNT__PASSWORD: '123456',
        PORTICO_DIRECTORY__ALLOWSAMBA: 'true',
        PORTICO_DIRECTORY__TLS__PINNED_SHA256: 'ab'.repeat(32),
        PORTICO_DIRECTORY__TLS__VERIFY: 'false',
        PORTICO_DIRECTORY__TIMEOUTS__CONNECTMS: '2500',
      },
    });
    assert.equal(config.dataDir, '/srv/portico');
    assert.equal(config.http.port, 9000);
    assert.deepEqual(config.directory?.urls, ['ldaps://a.corp.example.test', 'ldaps://b.corp.example.test']);
    // A numeric-looking password stays a string: coercion follows the schema, not the value.
    assert.equal(config.directory?.serviceAccount.password, '123456');
    assert.equal(config.directory?.allowSamba, true);
    assert.deepEqual(config.directory?.tls.pinnedSha256, ['ab'.repeat(32)]);
    assert.equal(config.directory?.tls.verify, false);
    assert.equal(config.directory?.timeouts.connectMs, 2500);
  });

  void it('reads a free-form map (session tags) from a JSON object in one variable', () => {
    const env = (value: string) => ({ PORTICO_FEDERATION__AWS__ACCESS_CONTROL_ATTRIBUTES: value });
    const config = loadConfig({ cwd: dir, env: env('{"Department":"${path:enterprise.department}"}') });
    assert.deepEqual(config.federation.aws.accessControlAttributes, { Department: '${path:enterprise.department}' });
    for (const bad of ['Department=x', '["x"]']) {
      const { message } = issuesOf(() => loadConfig({ cwd: dir, env: env(bad) }));
      assert.match(message, /federation\.aws\.accessControlAttributes: expects a JSON object \(env PORTICO_FEDERATION__AWS__ACCESS_CONTROL_ATTRIBUTES\)/);
    }
  });

  void it('selects PostgreSQL', () => {
    const config = loadConfig({
      cwd: dir,
      env: { PORTICO_DATABASE__DRIVER: 'postgres', PORTICO_DATABASE__POSTGRES__URL: 'postgres://portico:pw@db:5432/portico' },
    });
    assert.deepEqual(config.database, {
      driver: 'postgres',
      postgres: { url: 'postgres://portico:pw@db:5432/portico', poolSize: 10, statementTimeoutMs: 30_000, changePollSeconds: 5 },
    });
  });

  void it('ignores empty values and unrelated PORTICO_ variables, and refuses unknown nested settings', () => {
    assert.equal(loadConfig({ cwd: dir, env: { PORTICO_HTTP__PORT: '', PORTICO_TEST_SOMETHING: 'x' } }).http.port, 8080);
    const { issues } = issuesOf(() => loadConfig({ cwd: dir, env: { PORTICO_HTTP__PROT: '9000' } }));
    assert.deepEqual(issues, [{ path: 'http.prot', message: 'no such setting', source: 'env PORTICO_HTTP__PROT' }]);
  });

  void it('reports unparsable JSON without quoting the value', () => {
    const secretish = '["ldaps://a", Leaked-Value';
    const { message } = issuesOf(() => loadConfig({ cwd: dir, env: { ...directoryEnv, PORTICO_DIRECTORY__URLS: secretish } }));
    assert.match(message, /directory\.urls: is not valid JSON \(env PORTICO_DIRECTORY__URLS\)/);
    assert.doesNotMatch(message, /Leaked-Value/);
  });
});

void describe('loadConfig: passwordFile', () => {
  void it('reads the service account password from a file, without its trailing newline', async () => {
    const secretFile = await file('bind-password', `${PASSWORD}\n`);
    const path = await file('portico.yaml', `${DIRECTORY_YAML}    passwordFile: ${secretFile}\n`);
    const config = loadConfig({ file: path, env: {} });
    assert.equal(config.directory?.serviceAccount.password, PASSWORD);
    assert.ok(!('passwordFile' in (config.directory?.serviceAccount ?? {})));
  });

  void it('resolves a relative passwordFile against the working directory, also from the environment', async () => {
    await file('bind-password', PASSWORD);
    const path = await file('portico.yaml', DIRECTORY_YAML);
    const config = loadConfig({ file: path, cwd: dir, env: { PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORDFILE: 'bind-password' } });
    assert.equal(config.directory?.serviceAccount.password, PASSWORD);
  });

  void it('refuses both password and passwordFile, and a missing file', async () => {
    const path = await file('portico.yaml', `${DIRECTORY_YAML}    passwordFile: ${join(dir, 'nope')}\n`);
    const both = issuesOf(() => loadConfig({ file: path, env: { PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: PASSWORD } }));
    assert.match(both.message, /directory\.serviceAccount\.passwordFile: set either password \(env PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD\) or passwordFile, not both/);
    assert.doesNotMatch(both.message, new RegExp(PASSWORD));

    const missing = issuesOf(() => loadConfig({ file: path, env: {} }));
    assert.match(missing.message, /directory\.serviceAccount\.passwordFile: cannot read .*nope \(ENOENT\) \(file .*portico\.yaml\)/);
  });
});

void describe('loadConfig: invalid configuration', () => {
  void it('names every bad key by its full path and its source, in one error', async () => {
    const path = await file(
      'portico.yaml',
      `http:\n  port: 70000\n  hots: typo\n${DIRECTORY_YAML}    password: ${PASSWORD}\n  pageSize: 5000\n`,
    );
    const { message, issues } = issuesOf(() =>
      loadConfig({
        file: path,
        env: {
          PORTICO_DIRECTORY__URLS: '["ldaps://ok.corp.example.test","https://dc2.corp.example.test"]',
          PORTICO_LOG__LEVEL: 'loud',
          PORTICO_DATABASE__DRIVER: 'postgres',
        },
      }),
    );
    const byPath = new Map(issues.map((issue) => [issue.path, issue]));
    assert.deepEqual(
      [...byPath.keys()].sort(),
      ['database.postgres.url', 'directory.pageSize', 'directory.urls.1', 'http.hots', 'http.port', 'log.level'],
    );
    assert.deepEqual(byPath.get('directory.urls.1'), {
      path: 'directory.urls.1',
      message: 'must look like ldaps://host[:port] or ldap://host[:port]',
      source: 'env PORTICO_DIRECTORY__URLS',
    });
    assert.equal(byPath.get('http.port')?.source, `file ${path}`);
    assert.equal(byPath.get('http.hots')?.message, 'no such setting');
    assert.equal(byPath.get('log.level')?.source, 'env PORTICO_LOG__LEVEL');
    assert.equal(byPath.get('database.postgres.url')?.message, "required when database.driver is 'postgres'");
    assert.equal(byPath.get('database.postgres.url')?.source, undefined);
    assert.match(message, /^invalid configuration:\n/);
    assert.match(message, / {2}- directory\.urls\.1: must look like ldaps:\/\/host\[:port\] or ldap:\/\/host\[:port\] \(env PORTICO_DIRECTORY__URLS\)/);
    assert.doesNotMatch(message, new RegExp(PASSWORD));
  });

  void it('says "required" for a missing key', () => {
    const { message, issues } = issuesOf(() =>
      loadConfig({ cwd: dir, env: { PORTICO_DIRECTORY__DOMAIN: 'corp.example.test', PORTICO_DIRECTORY__URLS: 'ldaps://a' } }),
    );
    assert.deepEqual(issues, [{ path: 'directory.serviceAccount', message: 'required', source: undefined }]);
    assert.match(message, / {2}- directory\.serviceAccount: required \(not set\)/);
  });

  void it('refuses a secret key that is not 32 bytes of base64, without echoing it', () => {
    const key = randomBytes(31).toString('base64');
    const { message } = issuesOf(() => loadConfig({ cwd: dir, env: { PORTICO_SECRETS__KEY: key } }));
    assert.match(message, /secrets\.key: must be 32 random bytes in base64/);
    assert.ok(!message.includes(key));
    const good = randomBytes(32).toString('base64');
    assert.equal(loadConfig({ cwd: dir, env: { PORTICO_SECRETS__KEY: good } }).secrets.key, good);
  });

  void it('reports a YAML syntax error by position, not by content', async () => {
    const path = await file('portico.yaml', `http:\n  port: 9000\n password: "${PASSWORD}\n`);
    assert.throws(
      () => loadConfig({ file: path, env: {} }),
      (error) => error instanceof AppError && error.code === 'config.invalid' && /portico\.yaml:3:\d+: not valid YAML/.test(error.message) && !error.message.includes(PASSWORD),
    );
  });

  void it('refuses a file whose top level is not a mapping', async () => {
    const path = await file('portico.yaml', '- a\n- b\n');
    assert.throws(() => loadConfig({ file: path, env: {} }), (error) => isAppError(error, 'config.invalid'));
  });
});
