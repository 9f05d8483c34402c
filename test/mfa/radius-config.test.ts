/** `mfa.radius` in the configuration: defaults, the environment, and the refusals. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '#src/config/index.ts';
import { isAppError } from '#src/shared/errors.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-radius-config-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function load(yaml: string, env: Record<string, string> = {}) {
  const path = join(dir, 'portico.yaml');
  await writeFile(path, yaml);
  return loadConfig({ file: path, env, cwd: dir });
}

async function problems(yaml: string, env: Record<string, string> = {}): Promise<string> {
  try {
    await load(yaml, env);
  } catch (error) {
    assert.ok(isAppError(error, 'config.invalid'), String(error));
    return error.message;
  }
  assert.fail('expected config.invalid');
}

void describe('config: mfa.radius', () => {
  void it('is absent unless configured', async () => {
    assert.deepEqual((await load('')).mfa, {});
  });

  void it('fills in the defaults: port 1812, 3 s timeout, 1 retry, NAS-Identifier portico, Message-Authenticator in replies not required', async () => {
    const config = await load(`
mfa:
  radius:
    servers:
      - host: radius1.corp.example.test
      - host: 10.0.0.12
        port: 11812
    secretFile: /run/secrets/radius
`);
    assert.deepEqual(config.mfa.radius, {
      servers: [
        { host: 'radius1.corp.example.test', port: 1812 },
        { host: '10.0.0.12', port: 11812 },
      ],
      secretFile: '/run/secrets/radius',
      timeoutMs: 3000,
      retries: 1,
      nasIdentifier: 'portico',
      requireMessageAuthenticator: false,
    });
  });

  void it('can be set entirely from the environment', async () => {
    const config = await load('', {
      PORTICO_MFA__RADIUS__SERVERS: '[{"host":"::1","port":1812},{"host":"radius2"}]',
      PORTICO_MFA__RADIUS__SECRET_FILE: '/run/secrets/radius',
      PORTICO_MFA__RADIUS__TIMEOUT_MS: '1500',
      PORTICO_MFA__RADIUS__RETRIES: '0',
      PORTICO_MFA__RADIUS__NAS_IDENTIFIER: 'sso-prod',
      PORTICO_MFA__RADIUS__REQUIRE_MESSAGE_AUTHENTICATOR: 'yes',
    });
    assert.deepEqual(config.mfa.radius, {
      servers: [
        { host: '::1', port: 1812 },
        { host: 'radius2', port: 1812 },
      ],
      secretFile: '/run/secrets/radius',
      timeoutMs: 1500,
      retries: 0,
      nasIdentifier: 'sso-prod',
      requireMessageAuthenticator: true,
    });
  });

  void it('refuses bad values, naming each key', async () => {
    const message = await problems(`
mfa:
  radius:
    servers:
      - host: radius://x
      - host: ok.example
        port: 0
    timeoutMs: 50
    retries: 11
`);
    assert.match(message, /mfa\.radius\.servers\.0\.host: must be a host name or an IP address/);
    assert.match(message, /mfa\.radius\.servers\.1\.port: must be from 1 to 65535/);
    assert.match(message, /mfa\.radius\.timeoutMs: must be from 100 to 60000/);
    assert.match(message, /mfa\.radius\.retries: must be from 0 to 10/);
    assert.match(message, /mfa\.radius\.secretFile/);
    assert.match(await problems('mfa:\n  radius:\n    servers: []\n    secretFile: /s\n'), /mfa\.radius\.servers: name at least one RADIUS server/);
    // A typo is caught rather than ignored.
    assert.match(await problems('mfa:\n  radius:\n    servers: [{host: a}]\n    secretFile: /s\n    secret: plain\n'), /mfa\.radius\.secret\b/);
  });
});
