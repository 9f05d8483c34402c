/**
 * The Prometheus face of PorticoMetrics, on a registry of the instance's own (never prom-client's
 * global one: tests start several instances in one process). Labels stay bounded: reasons are
 * stable error codes, routes are route patterns, targets are configured applications/accounts,
 * and any label fed by a request (an IdentityStore operation name) is capped.
 */
import client from 'prom-client';
import type { ControllerGauge, DatabasePoolGauge, MeasuredStep, PorticoMetrics } from './metrics-port.ts';

const MAX_OPERATIONS = 64;

export function createPrometheusMetrics(labels: { version: string }): PorticoMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });

  new client.Gauge({ name: 'portico_build_info', help: 'Always 1; the running version as a label', labelNames: ['version'], registers: [registry] }).set({ version: labels.version }, 1);
  const signIns = new client.Counter({ name: 'portico_sign_ins_total', help: 'Sign-ins by outcome and reason (the stable failure code, or ok)', labelNames: ['outcome', 'reason'], registers: [registry] });
  const signInSeconds = new client.Histogram({
    name: 'portico_sign_in_duration_seconds',
    help: 'Time to answer a sign-in, from the form to the session (failures include the failure floor)',
    labelNames: ['outcome'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const steps = new client.Histogram({
    name: 'portico_step_duration_seconds',
    help: 'Time per step: resolve (name to account), bind (as the user), groups (transitive), store (JIT record, session, audit in one transaction), signing (SAML response built and signed)',
    labelNames: ['step'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const throttleHits = new client.Counter({ name: 'portico_throttle_hits_total', help: 'Sign-in attempts refused by the throttle, by scope', labelNames: ['scope'], registers: [registry] });
  const samlResponses = new client.Counter({ name: 'portico_saml_responses_total', help: 'SAML responses issued or refused, by application id (kind application) or AWS account id (kind aws)', labelNames: ['kind', 'target', 'outcome'], registers: [registry] });
  const oidcTokens = new client.Counter({ name: 'portico_oidc_tokens_total', help: 'OpenID provider token requests (code exchange, refresh, client credentials) by client id, grant type and outcome', labelNames: ['client', 'grant_type', 'outcome'], registers: [registry] });
  const oidcRefusals = new client.Counter({ name: 'portico_oidc_refusals_total', help: 'OpenID provider authorizations refused and refresh tokens reused, by client id and error code', labelNames: ['client', 'code'], registers: [registry] });
  const oidcLogouts = new client.Counter({ name: 'portico_oidc_backchannel_logouts_total', help: 'Back-channel logout tokens sent, by client id and outcome', labelNames: ['client', 'outcome'], registers: [registry] });
  const identityStore = new client.Counter({ name: 'portico_identitystore_api_calls_total', help: 'IdentityStore API calls by operation and HTTP status', labelNames: ['operation', 'status'], registers: [registry] });
  const httpRequests = new client.Histogram({
    name: 'portico_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const syncRuns = new client.Histogram({
    name: 'portico_sync_run_duration_seconds',
    help: 'AD sync runs by mode (full reconciliation or incremental) and outcome (failure: the run failed or some objects did)',
    labelNames: ['mode', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  });
  const syncObjects = new client.Counter({ name: 'portico_sync_objects_total', help: 'Objects the AD sync wrote to the identity store, by kind (user, group) and change', labelNames: ['kind', 'change'], registers: [registry] });
  const syncErrors = new client.Counter({ name: 'portico_sync_errors_total', help: 'AD objects the sync could not write (each failure of each object)', registers: [registry] });
  let syncLag: () => number | null = () => null;
  new client.Gauge({
    name: 'portico_sync_lag_seconds',
    help: 'Seconds since the AD state the identity store reflects was read (the start of the last successful sync run); absent before the first',
    registers: [registry],
    collect() {
      this.reset();
      const lag = syncLag();
      if (lag !== null) this.set(lag);
    },
  });
  let controllers: () => ControllerGauge[] = () => [];
  new client.Gauge({
    name: 'portico_directory_controller_up',
    help: 'Whether each domain controller of the identity source answers (1) or is marked down (0)',
    labelNames: ['controller'],
    registers: [registry],
    collect() {
      this.reset();
      for (const controller of controllers()) this.set({ controller: controller.url }, controller.up ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'portico_directory_pool_connections',
    help: 'Open pooled connections per domain controller: service (searches as the service account) and bind (user binds)',
    labelNames: ['controller', 'pool'],
    registers: [registry],
    collect() {
      this.reset();
      for (const controller of controllers()) {
        this.set({ controller: controller.url, pool: 'service' }, controller.open.service);
        this.set({ controller: controller.url, pool: 'bind' }, controller.open.bind);
      }
    },
  });
  let pool: () => DatabasePoolGauge | null = () => null;
  new client.Gauge({
    name: 'portico_db_pool_connections',
    help: 'PostgreSQL pool: total, idle, waiting (clients queued for a connection) and max; absent with SQLite',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      const stats = pool();
      if (stats === null) return;
      for (const state of ['total', 'idle', 'waiting', 'max'] as const) this.set({ state }, stats[state]);
    },
  });
  const operations = new Set<string>();

  return {
    signIn: (outcome, reason) => signIns.inc({ outcome, reason }),
    signInDuration: (outcome, seconds) => signInSeconds.observe({ outcome }, seconds),
    step: (step: MeasuredStep, seconds) => steps.observe({ step }, seconds),
    throttleHit: (scope) => throttleHits.inc({ scope }),
    samlResponse: (kind, target, outcome) => samlResponses.inc({ kind, target, outcome }),
    oidcToken: (clientId, grantType, outcome) => oidcTokens.inc({ client: clientId, grant_type: grantType, outcome }),
    oidcRefusal: (clientId, code) => oidcRefusals.inc({ client: clientId, code }),
    oidcBackchannelLogout: (clientId, outcome) => oidcLogouts.inc({ client: clientId, outcome }),
    identityStoreCall(operation, status) {
      if (!operations.has(operation) && operations.size >= MAX_OPERATIONS) operation = 'other';
      operations.add(operation);
      identityStore.inc({ operation, status: String(status) });
    },
    syncRun: (mode, outcome, seconds) => syncRuns.observe({ mode, outcome }, seconds),
    syncObjects: (kind, change, count) => {
      if (count > 0) syncObjects.inc({ kind, change }, count);
    },
    syncErrors: (count) => {
      if (count > 0) syncErrors.inc(count);
    },
    observeSyncLag(read) {
      syncLag = read;
    },
    httpRequest: (route, method, status, seconds) => httpRequests.observe({ route, method, status: String(status) }, seconds),
    observeControllers(read) {
      controllers = read;
    },
    observeDatabasePool(read) {
      pool = read;
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    close() {
      registry.clear();
    },
  };
}
