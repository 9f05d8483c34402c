/**
 * Issue 15, "directory failover under load": Portico connected to two domain controllers (two TCP
 * relays in front of the CORP Samba DC), 16 concurrent sign-ins through the HTTP API while the
 * first dies (every connection cut, its port closed) and comes back. Right passwords of fixture
 * users only, so nobody's lockout count moves. Figures: bench/dc-failover.bench.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFailoverScenario } from '../support/dc-failover.ts';

describe('domain controller failover under load', { timeout: 60_000 }, () => {
  it('no sign-in started after the first controller died fails; at most those in flight on it do; it fails back', async () => {
    const healthCheckIntervalMs = 500;
    const figures = await runFailoverScenario({ concurrency: 16, steadyMs: 2000, downMs: 4000, afterMs: 3000, healthCheckIntervalMs });
    const summary = JSON.stringify({ ...figures, failed: figures.failed.slice(0, 5) });
    assert.ok(figures.total >= 16, `sign-ins ran: ${summary}`);
    assert.equal(figures.failedAfterKill, 0, `every sign-in started after the kill succeeded on the second controller: ${summary}`);
    assert.ok(figures.failed.length <= figures.inFlightAtKill, `failures bounded by the sign-ins in flight at the kill: ${summary}`);
    assert.ok(figures.answeredWhileDown >= 16, `sign-ins went on while the first controller was down: ${summary}`);
    assert.notEqual(figures.controllerDownDetectedMs, null, 'the first controller was marked down');
    // A probe is a TLS handshake and a rootDSE read: on a saturated test machine it can take seconds.
    assert.ok(figures.failBackMs !== null && figures.failBackMs <= 2 * healthCheckIntervalMs + 2500, `failed back within two probe intervals (+ a slow probe): ${summary}`);
    assert.ok(figures.preferredBindConnectionsAtEnd > 0, `sign-ins bind on the first controller again after fail-back: ${summary}`);
  });
});
