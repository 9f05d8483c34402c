/**
 * Measuring the domains from the outside: decorators over the ports the composition root hands
 * them (the audit log, the directory connector, the sign-in service, the transaction runner), so
 * that no domain imports anything of metrics. Each decorator keeps the port's behaviour exactly.
 */
import type { AuditEvent, AuditEventInput, AuditLog } from '#src/audit/index.ts';
import type { DirectoryConnector } from '#src/directory/types.ts';
import type { SignInService } from '#src/auth/sign-in.ts';
import type { SyncBatch, SyncRun } from '#src/sync/sync-engine.ts';
import type { MeasuredStep, PorticoMetrics } from './metrics-port.ts';
import { currentRequestId } from './request-context.ts';

const seconds = (startedAt: bigint): number => Number(process.hrtime.bigint() - startedAt) / 1e9;

export async function timed<T>(metrics: PorticoMetrics, step: MeasuredStep, work: () => Promise<T>): Promise<T> {
  const startedAt = process.hrtime.bigint();
  try {
    return await work();
  } finally {
    metrics.step(step, seconds(startedAt));
  }
}

/**
 * The audit log, with the request id added to every event recorded during a request, and the
 * events that metrics count (sign-in outcomes, throttle refusals, SAML responses) counted.
 */
export function instrumentedAuditLog(audit: AuditLog, metrics: PorticoMetrics | null): AuditLog {
  return {
    async record(event: AuditEventInput): Promise<AuditEvent> {
      const requestId = currentRequestId();
      const recorded = await audit.record(requestId === null ? event : { ...event, details: { ...event.details, requestId } });
      if (metrics !== null) count(metrics, event);
      return recorded;
    },
    list: (query) => audit.list(query),
  };
}

function count(metrics: PorticoMetrics, event: AuditEventInput): void {
  switch (event.action) {
    case 'auth.user.signed_in':
      metrics.signIn(event.outcome, event.outcome === 'success' ? 'ok' : (event.errorCode ?? 'unknown'));
      if (event.errorCode === 'auth.throttled') metrics.throttleHit(typeof event.details?.scope === 'string' ? event.details.scope : 'unknown');
      break;
    case 'saml.assertion.issued':
      metrics.samlResponse('application', event.target ?? 'unknown', event.outcome);
      break;
    case 'saml.aws_assertion.issued':
      metrics.samlResponse('aws', event.target ?? 'unknown', event.outcome);
      break;
    // The OpenID provider's events: the target is a registered client id (the library resolved
    // it), so the label stays bounded; the grant type is one the provider accepts.
    case 'oidc.token.granted':
    case 'oidc.token.refreshed': {
      const grantType = typeof event.details?.grantType === 'string' ? event.details.grantType : 'unknown';
      metrics.oidcToken(event.target ?? 'unknown', ['authorization_code', 'refresh_token', 'client_credentials'].includes(grantType) ? grantType : 'other', event.outcome);
      break;
    }
    case 'oidc.authorization.refused':
    case 'oidc.refresh_token.reused':
      metrics.oidcRefusal(event.target ?? 'unknown', event.action === 'oidc.refresh_token.reused' ? 'oidc.refresh_token_reused' : (event.errorCode ?? 'unknown'));
      break;
    case 'oidc.backchannel_logout.sent':
      metrics.oidcBackchannelLogout(event.target ?? 'unknown', event.outcome);
      break;
    default:
  }
}

/** The connector, with its round trips timed: resolve (name → account), bind (as the user), groups. */
export function instrumentedConnector<C extends DirectoryConnector>(connector: C, metrics: PorticoMetrics): C {
  return new Proxy(connector, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const step: MeasuredStep | null = property === 'authenticate' ? 'bind' : property === 'groupsOf' ? 'groups' : property === 'resolveAccount' ? 'resolve' : null;
      if (step === null) return value.bind(target) as unknown;
      return (...args: unknown[]) => timed(metrics, step, () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
}

/** The sign-in service, timed end to end by outcome. */
export function instrumentedSignIn(service: SignInService, metrics: PorticoMetrics): SignInService {
  return {
    async signIn(request) {
      const startedAt = process.hrtime.bigint();
      let outcome: 'success' | 'failure' = 'failure';
      try {
        const result = await service.signIn(request);
        outcome = result.ok ? 'success' : 'failure';
        return result;
      } finally {
        metrics.signInDuration(outcome, seconds(startedAt));
      }
    },
  };
}

/** The AD sync's runs and batches, counted as they finish. */
export function syncMetrics(metrics: PorticoMetrics): { onRun: (run: SyncRun) => void; onBatch: (batch: SyncBatch) => void } {
  return {
    onBatch(batch) {
      metrics.syncObjects('user', 'created', batch.created);
      metrics.syncObjects('user', 'updated', batch.updated);
      metrics.syncErrors(batch.errors);
    },
    onRun(run) {
      // Users created and updated are counted per batch; deletions and groups per run.
      metrics.syncObjects('user', 'deleted', run.usersDeleted);
      metrics.syncObjects('group', 'updated', run.groupsWritten);
      metrics.syncObjects('group', 'removed', run.groupsRemoved);
      metrics.syncRun(run.mode, run.errors.length > 0 ? 'failure' : 'success', (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000);
    },
  };
}
