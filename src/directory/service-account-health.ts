/**
 * Whether the service account can still bind: the one fact that decides if Portico can read its
 * directory, and one that changes under a running Portico (the password is changed in AD, the
 * account is disabled or locked out). Pooled connections bound earlier keep working for a while
 * and hide it, so the probe binds on a fresh connection of its own, at most once per `ttlMs`
 * however often /status and /readyz are asked.
 *
 * A wrong password is never retried: every bind with it would count toward the account's
 * lockout, and a health probe must not be what locks the service account. That verdict stays
 * until Portico is given another password (restart, or a new connection configuration). States
 * that a bind with the right password reports (disabled 533, locked 775, expired 701/532, must
 * change 773) cost no bad-password count, so they are probed again and clear once fixed.
 */
import net from 'node:net';
import { Client, ResultCodeError } from 'ldapts';
import { bindOutcomeFromDiagnostic } from './ad-codec.ts';
import type { DirectoryConnectionOptions } from './options.ts';
import { createSecureConnector } from './tls.ts';

export interface ServiceAccountHealth {
  ok: boolean;
  /** The account the probe bound as (never its password). */
  account: string;
  checkedAt: string;
  /** The controller that answered. */
  controller?: string;
  /** When not ok: `directory.service_account_rejected` (the DC answered no) or `directory.unreachable`. */
  code?: string;
  /** When not ok: why, in words, with AD's sub-code where there is one. */
  reason?: string;
}

export interface ServiceAccountProbe {
  /** The last verdict if younger than the TTL, else a new bind (one at a time). */
  check(): Promise<ServiceAccountHealth>;
}

export interface ServiceAccountProbeOptions {
  /** How long a verdict is reused (default 10 s). */
  ttlMs?: number;
  now?: () => Date;
}

const outcomeText: Record<string, string> = {
  invalidCredentials: 'its user name or password is wrong',
  disabled: 'the account is disabled',
  locked: 'the account is locked out',
  expired: 'the account has expired',
  mustChangePassword: 'the account must change its password',
  passwordExpired: 'its password has expired',
  notPermitted: 'the account may not sign in now or from here',
};

type Attempt = { kind: 'bound' } | { kind: 'refused'; reason: string; sticky: boolean } | { kind: 'down'; reason: string };

async function bindOnce(options: DirectoryConnectionOptions, url: string): Promise<Attempt> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const client = new Client({
    url,
    timeout: options.timeouts.operationMs,
    connectTimeout: options.timeouts.connectMs,
    strictDN: false,
    createConnection: ((port: number, h: string) => net.connect(port, h)) as typeof net.connect,
    createSecureConnection: createSecureConnector(options.tls, host),
  });
  try {
    if (url.startsWith('ldap:') && options.tls.startTls) await client.startTLS();
    await client.bind(options.serviceAccount.username, options.serviceAccount.password);
    return { kind: 'bound' };
  } catch (error) {
    if (error instanceof ResultCodeError) {
      if (error.code === 49) {
        const { outcome, subCode } = bindOutcomeFromDiagnostic(error.message);
        const words = outcomeText[outcome] ?? 'the bind was refused';
        return { kind: 'refused', reason: `the service account cannot bind: ${words}${subCode ? ` (AD ${subCode})` : ''}`, sticky: outcome === 'invalidCredentials' };
      }
      return { kind: 'refused', reason: `the service account cannot bind: LDAP result ${error.code}`, sticky: false };
    }
    return { kind: 'down', reason: `${url}: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    client.unbind().catch(() => undefined);
  }
}

export function createServiceAccountProbe(options: DirectoryConnectionOptions, probeOptions: ServiceAccountProbeOptions = {}): ServiceAccountProbe {
  const ttlMs = probeOptions.ttlMs ?? 10_000;
  const now = probeOptions.now ?? (() => new Date());
  const account = options.serviceAccount.username;
  let last: { health: ServiceAccountHealth; at: number; sticky: boolean } | null = null;
  let running: Promise<ServiceAccountHealth> | null = null;

  async function probe(): Promise<ServiceAccountHealth> {
    const checkedAt = now().toISOString();
    const failures: string[] = [];
    // In configured order, like the connector: the first controller that answers decides.
    for (const url of options.urls) {
      const attempt = await bindOnce(options, url);
      if (attempt.kind === 'down') {
        failures.push(attempt.reason);
        continue;
      }
      const health: ServiceAccountHealth =
        attempt.kind === 'bound'
          ? { ok: true, account, checkedAt, controller: url }
          : { ok: false, account, checkedAt, controller: url, code: 'directory.service_account_rejected', reason: attempt.reason };
      last = { health, at: now().getTime(), sticky: attempt.kind === 'refused' && attempt.sticky };
      return health;
    }
    const health: ServiceAccountHealth = { ok: false, account, checkedAt, code: 'directory.unreachable', reason: `no domain controller answered (${failures.join('; ')})` };
    last = { health, at: now().getTime(), sticky: false };
    return health;
  }

  return {
    check() {
      if (last && (last.sticky || now().getTime() - last.at < ttlMs)) return Promise.resolve(last.health);
      running ??= probe().finally(() => {
        running = null;
      });
      return running;
    },
  };
}
