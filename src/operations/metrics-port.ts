/**
 * What the instance measures, as the composition root's decorators report it. Nothing outside
 * src/operations/metrics.ts knows the metrics library: domains are measured from the outside
 * (their ports wrapped in app.ts), so that no domain carries instrumentation.
 */

/** A step of a sign-in or of an assertion, timed on its own. */
export type MeasuredStep = 'resolve' | 'bind' | 'groups' | 'store' | 'signing';

export interface ControllerGauge {
  url: string;
  up: boolean;
  open: { service: number; bind: number };
}

export interface DatabasePoolGauge {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

export interface PorticoMetrics {
  signIn(outcome: 'success' | 'failure', reason: string): void;
  signInDuration(outcome: 'success' | 'failure', seconds: number): void;
  step(step: MeasuredStep, seconds: number): void;
  throttleHit(scope: string): void;
  samlResponse(kind: 'application' | 'aws', target: string, outcome: 'success' | 'failure'): void;
  /** OpenID provider, per client id: tokens issued or refused (by grant type), authorizations refused, logout tokens sent. */
  oidcToken(client: string, grantType: string, outcome: 'success' | 'failure'): void;
  oidcRefusal(client: string, code: string): void;
  oidcBackchannelLogout(client: string, outcome: 'success' | 'failure'): void;
  identityStoreCall(operation: string, status: number): void;
  /** AD sync: runs by mode and outcome, objects written by kind and change, object errors. */
  syncRun(mode: 'full' | 'incremental', outcome: 'success' | 'failure', seconds: number): void;
  syncObjects(kind: 'user' | 'group', change: 'created' | 'updated' | 'deleted' | 'removed', count: number): void;
  syncErrors(count: number): void;
  /** Read when scraped: seconds since the state the store reflects was read from AD (null before the first run). */
  observeSyncLag(read: () => number | null): void;
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  /** Read when scraped: the connector's controllers, the database pool. */
  observeControllers(read: () => ControllerGauge[]): void;
  observeDatabasePool(read: () => DatabasePoolGauge | null): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
  /** Stops the background collectors (event-loop lag sampling). */
  close(): void;
}
