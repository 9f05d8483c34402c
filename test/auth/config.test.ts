/** The settings of sessions, sign-in throttling and the HTTP transport, as the loader reads them. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { cookieSecurity, httpServerOptions } from '#src/auth/http/transport.ts';
import { loadConfig, type ConfigIssue } from '#src/config/index.ts';
import { parseIsoDuration, sessionTimings } from '#src/sessions/index.ts';
import { isAppError } from '#src/shared/errors.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-auth-config-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const load = (env: Record<string, string>) => loadConfig({ env, cwd: dir });

function issues(env: Record<string, string>): ConfigIssue[] {
  try {
    load(env);
  } catch (error) {
    assert.ok(isAppError(error, 'config.invalid'), String(error));
    return error.details?.issues as ConfigIssue[];
  }
  assert.fail('expected config.invalid');
}

void describe('sessions settings', () => {
  void it('default to 8 hours, re-checked every 5 minutes', () => {
    const config = load({});
    assert.deepEqual(config.sessions, { duration: 'PT8H', recheckMinutes: 5 });
    assert.deepEqual(sessionTimings(config.sessions), { durationMs: 8 * 3_600_000, recheckMs: 5 * 60_000 });
  });

  void it('take an ISO-8601 duration from 15 minutes to 90 days', () => {
    assert.equal(sessionTimings(load({ PORTICO_SESSIONS__DURATION: 'PT15M' }).sessions).durationMs, 15 * 60_000);
    assert.equal(sessionTimings(load({ PORTICO_SESSIONS__DURATION: 'P90D' }).sessions).durationMs, 90 * 86_400_000);
    assert.equal(sessionTimings(load({ PORTICO_SESSIONS__DURATION: 'P1DT12H' }).sessions).durationMs, 36 * 3_600_000);
    assert.equal(load({ PORTICO_SESSIONS__RECHECK_MINUTES: '60' }).sessions.recheckMinutes, 60);
  });

  void it('refuse other formats and out-of-range values with a message saying what is expected', () => {
    for (const value of ['8h', '480', 'P1M', 'P1Y', 'PT', 'P', 'P1DT', 'PT8.5H']) {
      const [issue] = issues({ PORTICO_SESSIONS__DURATION: value });
      assert.equal(issue?.path, 'sessions.duration', value);
      assert.match(issue?.message ?? '', /ISO-8601 duration such as PT8H/, value);
    }
    for (const value of ['PT14M', 'P91D']) {
      assert.match(issues({ PORTICO_SESSIONS__DURATION: value })[0]?.message ?? '', /from 15 minutes \(PT15M\) to 90 days \(P90D\)/);
    }
    assert.match(issues({ PORTICO_SESSIONS__RECHECKMINUTES: '0' })[0]?.message ?? '', /from 1 to 60/);
    assert.match(issues({ PORTICO_SESSIONS__RECHECKMINUTES: '61' })[0]?.message ?? '', /from 1 to 60/);
  });

  void it('parse durations case-insensitively, weeks included', () => {
    assert.equal(parseIsoDuration('pt8h'), 8 * 3_600_000);
    assert.equal(parseIsoDuration('P2W'), 14 * 86_400_000);
    assert.equal(parseIsoDuration('PT90S'), 90_000);
    assert.equal(parseIsoDuration('8 hours'), undefined);
  });
});

void describe('sign-in throttle settings', () => {
  void it('default per address to 20 failures in 15 minutes, and per user name to a 30-minute window', () => {
    assert.deepEqual(load({}).signIn.throttle, { perUsername: { windowMinutes: 30 }, perAddress: { maxFailures: 20, windowMinutes: 15 } });
    const config = load({ PORTICO_SIGN_IN__THROTTLE__PER_USERNAME__MAX_FAILURES: '4', PORTICO_SIGNIN__THROTTLE__PERADDRESS__WINDOWMINUTES: '5' });
    assert.deepEqual(config.signIn.throttle, { perUsername: { maxFailures: 4, windowMinutes: 30 }, perAddress: { maxFailures: 20, windowMinutes: 5 } });
  });

  void it('refuse zero and fractions', () => {
    assert.match(issues({ PORTICO_SIGNIN__THROTTLE__PERADDRESS__MAXFAILURES: '0' })[0]?.message ?? '', /from 1 to 1000/);
    assert.match(issues({ PORTICO_SIGNIN__THROTTLE__PERUSERNAME__WINDOWMINUTES: '2.5' })[0]?.message ?? '', /whole number/);
  });
});

void describe('HTTP transport settings', () => {
  void it('default to plain HTTP trusting no proxy', () => {
    const config = load({});
    assert.deepEqual(config.http.trustedProxies, []);
    assert.deepEqual(httpServerOptions(config), { trustProxy: false });
    assert.equal(cookieSecurity(config), 'auto');
  });

  void it('take trusted proxies as addresses, CIDR ranges and proxy-addr names, from a comma list', () => {
    const config = load({ PORTICO_HTTP__TRUSTED_PROXIES: '10.0.0.5, 10.1.0.0/16,fd00::/8,loopback' });
    assert.deepEqual(config.http.trustedProxies, ['10.0.0.5', '10.1.0.0/16', 'fd00::/8', 'loopback']);
    assert.deepEqual(httpServerOptions(config).trustProxy, ['10.0.0.5', '10.1.0.0/16', 'fd00::/8', 'loopback']);
    for (const bad of ['proxy.example.com', '10.0.0.0/33', '10.0.0.1/8/2', '*']) {
      const [issue] = issues({ PORTICO_HTTP__TRUSTEDPROXIES: bad });
      assert.equal(issue?.path, 'http.trustedProxies.0', bad);
      assert.match(issue?.message ?? '', /IP address or CIDR range/);
    }
  });

  void it('need the TLS certificate and key together, and read them for https', async () => {
    assert.match(issues({ PORTICO_HTTP__TLS__CERTFILE: '/etc/portico/cert.pem' })[0]?.message ?? '', /required together with http\.tls\.certFile/);
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    await writeFile(certFile, 'CERT');
    await writeFile(keyFile, 'KEY');
    const config = load({ PORTICO_HTTP__TLS__CERTFILE: certFile, PORTICO_HTTP__TLS__KEYFILE: keyFile });
    assert.deepEqual(httpServerOptions(config).https, { cert: 'CERT', key: 'KEY' });
    assert.equal(cookieSecurity(config), 'always');
    const missing = load({ PORTICO_HTTP__TLS__CERTFILE: join(dir, 'nope.pem'), PORTICO_HTTP__TLS__KEYFILE: keyFile });
    assert.throws(() => httpServerOptions(missing), (error) => isAppError(error, 'config.file_unreadable') && /http\.tls\.certFile/.test(error.message));
  });

  void it('take a public URL, making cookies always Secure when it is https', () => {
    assert.equal(cookieSecurity(load({ PORTICO_HTTP__PUBLIC_URL: 'https://sso.example.com' })), 'always');
    assert.equal(cookieSecurity(load({ PORTICO_HTTP__PUBLIC_URL: 'http://localhost:8080' })), 'auto');
    for (const bad of ['sso.example.com', 'ftp://sso.example.com', 'https://sso.example.com/?x=1', `https://u:${randomBytes(4).toString('hex')}@sso.example.com`]) {
      assert.match(issues({ PORTICO_HTTP__PUBLICURL: bad })[0]?.message ?? '', /absolute http:\/\/ or https:\/\/ URL/, bad);
    }
  });
});
