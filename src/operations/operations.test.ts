import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import type { AuditEvent, AuditEventInput, AuditLog } from '#src/audit/index.ts';
import { registerProbes } from './http-face.ts';
import { instrumentedAuditLog } from './instrumentation.ts';
import { loggerFormat } from './logging.ts';
import type { PorticoMetrics } from './metrics-port.ts';
import { createPrometheusMetrics } from './metrics.ts';
import { currentRequestId, requestIdFrom, runInRequest } from './request-context.ts';
import { openedResources } from './lifecycle.ts';

function memoryAudit(): AuditLog & { recorded: AuditEventInput[] } {
  const recorded: AuditEventInput[] = [];
  return {
    recorded,
    record(event) {
      recorded.push(event);
      return Promise.resolve({ id: String(recorded.length), occurredAt: new Date(), actor: event.actor, action: event.action, target: event.target ?? null, outcome: event.outcome, errorCode: event.errorCode ?? null, details: {} } satisfies AuditEvent);
    },
    list: () => Promise.resolve([]),
  };
}

describe('operations', () => {
  it('counts sign-ins, throttle hits and SAML responses from audit events, and stamps the request id', async () => {
    const metrics = createPrometheusMetrics({ version: 'test' });
    const inner = memoryAudit();
    const audit = instrumentedAuditLog(inner, metrics);
    await runInRequest({ requestId: 'req-1' }, () => audit.record({ actor: 'a', action: 'auth.user.signed_in', outcome: 'failure', errorCode: 'auth.throttled', details: { scope: 'username' } }));
    await audit.record({ actor: 'a', action: 'saml.assertion.issued', target: 'app-1', outcome: 'success' });
    assert.equal(inner.recorded[0]?.details?.requestId, 'req-1');
    assert.equal(inner.recorded[1]?.details, undefined, 'outside a request nothing is added');
    const { body } = await metrics.render();
    assert.match(body, /portico_sign_ins_total\{outcome="failure",reason="auth\.throttled"\} 1/);
    assert.match(body, /portico_throttle_hits_total\{scope="username"\} 1/);
    assert.match(body, /portico_saml_responses_total\{kind="application",target="app-1",outcome="success"\} 1/);
    metrics.close();
  });

  it('counts the OpenID provider\'s grants, refreshes, refusals and logout tokens per client', async () => {
    const metrics = createPrometheusMetrics({ version: 'test' });
    const audit = instrumentedAuditLog(memoryAudit(), metrics);
    await audit.record({ actor: 'alice', action: 'oidc.token.granted', target: 'oidc-1', outcome: 'success', details: { grantType: 'authorization_code' } });
    await audit.record({ actor: 'alice', action: 'oidc.token.refreshed', target: 'oidc-1', outcome: 'success', details: { grantType: 'refresh_token' } });
    await audit.record({ actor: 'alice', action: 'oidc.token.refreshed', target: 'oidc-1', outcome: 'failure', errorCode: 'oidc.invalid_grant', details: { grantType: 'refresh_token' } });
    await audit.record({ actor: 'x', action: 'oidc.token.granted', target: 'oidc-2', outcome: 'success', details: { grantType: 'urn:made:up' } });
    await audit.record({ actor: 'bob', action: 'oidc.authorization.refused', target: 'oidc-1', outcome: 'failure', errorCode: 'access.not_assigned' });
    await audit.record({ actor: 'bob', action: 'oidc.refresh_token.reused', target: 'oidc-1', outcome: 'failure', errorCode: 'oidc.invalid_grant' });
    await audit.record({ actor: 'system', action: 'oidc.backchannel_logout.sent', target: 'oidc-1', outcome: 'failure', errorCode: 'oidc.backchannel_logout_failed' });
    const { body } = await metrics.render();
    assert.match(body, /portico_oidc_tokens_total\{client="oidc-1",grant_type="authorization_code",outcome="success"\} 1/);
    assert.match(body, /portico_oidc_tokens_total\{client="oidc-1",grant_type="refresh_token",outcome="success"\} 1/);
    assert.match(body, /portico_oidc_tokens_total\{client="oidc-1",grant_type="refresh_token",outcome="failure"\} 1/);
    assert.match(body, /portico_oidc_tokens_total\{client="oidc-2",grant_type="other",outcome="success"\} 1/);
    assert.match(body, /portico_oidc_refusals_total\{client="oidc-1",code="access.not_assigned"\} 1/);
    assert.match(body, /portico_oidc_refusals_total\{client="oidc-1",code="oidc.refresh_token_reused"\} 1/);
    assert.match(body, /portico_oidc_backchannel_logouts_total\{client="oidc-1",outcome="failure"\} 1/);
    metrics.close();
  });

  it('caps the IdentityStore operation label', async () => {
    const metrics: PorticoMetrics = createPrometheusMetrics({ version: 'test' });
    for (let i = 0; i < 100; i += 1) metrics.identityStoreCall(`Op${i}`, 400);
    const { body } = await metrics.render();
    assert.match(body, /portico_identitystore_api_calls_total\{operation="other",status="400"\} 36/);
    metrics.close();
  });

  it('/readyz answers 503 with each failing check and its reason', async () => {
    const http = Fastify();
    registerProbes(http, {
      version: '1',
      startedAt: new Date(),
      directory: () => Promise.resolve({ state: 'unavailable', health: 'failing', code: 'directory.unreachable', reason: 'no domain controller answered' }),
      database: () => Promise.reject(new Error('ECONNREFUSED')),
      signingKey: () => ({ ok: true }),
    });
    const response = await http.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 503);
    const body = response.json<{ status: string; directory: { code: string }; checks: Record<string, { ok: boolean; reason?: string }> }>();
    assert.equal(body.status, 'not_ready');
    assert.equal(body.directory.code, 'directory.unreachable');
    assert.equal(body.checks.database?.ok, false);
    assert.match(body.checks.database?.reason ?? '', /ECONNREFUSED/);
    assert.equal(body.checks.signingKey?.ok, true);
    await http.close();
  });

  it('request ids: a sane header is kept, anything else replaced', () => {
    assert.equal(requestIdFrom('abc-123_x.y:z'), 'abc-123_x.y:z');
    assert.notEqual(requestIdFrom('a b'), 'a b');
    assert.notEqual(requestIdFrom('x'.repeat(129)), 'x'.repeat(129));
    assert.equal(currentRequestId(), null);
  });

  it('log format: pretty on a terminal only when auto', () => {
    assert.equal(loggerFormat('auto', true), 'pretty');
    assert.equal(loggerFormat('auto', false), 'json');
    assert.equal(loggerFormat('json', true), 'json');
    assert.equal(loggerFormat('pretty', false), 'pretty');
  });

  it('opened resources close last-opened first, once, past a failing close', async () => {
    const order: string[] = [];
    const failures: string[] = [];
    const opened = openedResources();
    opened.add('db', () => void order.push('db'));
    opened.add('ldap', () => {
      throw new Error('boom');
    });
    opened.add('http', () => void order.push('http'));
    await opened.closeAll((what) => failures.push(what));
    await opened.closeAll((what) => failures.push(what));
    assert.deepEqual(order, ['http', 'db']);
    assert.deepEqual(failures, ['ldap']);
  });
});
