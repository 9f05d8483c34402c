/**
 * Regression tests for issue 12's resource bounds on the unauthenticated SAML endpoints, against
 * Portico started for real (Samba DC as the identity source): a flood of waiting requests with
 * huge RelayStates must not grow memory, a tiny HTTP-Redirect request inflating to deeply nested
 * elements and a POST with a fake signature over tens of thousands of elements must be refused in
 * milliseconds, without stalling /healthz. Each test prints its figures (node:test diagnostics).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { deflateRawSync } from 'node:zlib';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { adminApi, get } from '../support/saml-http.ts';
import { authnRequestXml, spSigningCert, stored } from './saml-fixtures.ts';

const FLOOD = 'https://flood.example.test/saml';
const FLOOD_ACS = 'http://127.0.0.1:9/flood/acs';
const SIGNED = 'https://signed-bounds.example.test/saml';
const SIGNED_ACS = 'http://127.0.0.1:9/signed/acs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let portico: SambaPortico | undefined;
let base: string;
let token: string;

async function settledMemory(): Promise<{ rss: number; heap: number }> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function auditCodes(action: string): Promise<string[]> {
  const page = await adminApi<{ events: Array<{ errorCode: string | null }> }>(base, token, 'GET', `/audit?action=${action}&limit=200`);
  return page.events.map((e) => e.errorCode ?? '');
}

/**
 * Sends a request and keeps asking /healthz every 2 ms until it is answered; returns the
 * request's time and the slowest /healthz answer (Portico runs in this process: a handler that
 * blocks the event loop delays the probe sent just before it by as long as it blocks).
 */
async function withHealthProbe(send: () => Promise<Response>): Promise<{ status: number; text: string; requestMs: number; healthMs: number }> {
  const started = performance.now();
  let done = false;
  const pending = send().then(async (response) => {
    const answer = { status: response.status, text: await response.text(), at: performance.now() };
    done = true;
    return answer;
  });
  const probes: Array<Promise<number>> = [];
  while (!done) {
    const sent = performance.now();
    probes.push(fetch(`${base}/healthz`).then(async (response) => {
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      return performance.now() - sent;
    }));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const answer = await pending;
  const healthMs = Math.max(...(await Promise.all(probes)));
  return { status: answer.status, text: answer.text, requestMs: answer.at - started, healthMs };
}

before(async () => {
  portico = await startSambaPortico();
  base = portico.app.url;
  token = portico.token;
  await adminApi(base, token, 'POST', '/applications', { name: 'Flood', entityId: FLOOD, acsUrls: [FLOOD_ACS] });
  await adminApi(base, token, 'POST', '/applications', { name: 'Signed', entityId: SIGNED, acsUrls: [SIGNED_ACS], signingCertificate: stored(spSigningCert.certPem) });
});

after(async () => {
  await portico?.stop();
});

describe('bounded work for unauthenticated SAML requests', () => {
  it('1,000 POSTs with a 380 KiB RelayState are refused and leave memory where it was', async (t) => {
    const relayState = 'r'.repeat(380 * 1024);
    // Warm up (JIT, pools), then measure.
    for (let i = 0; i < 5; i++) await postSso(authnRequestXml({ ID: `_warm${i}` }, FLOOD), 'short');
    const start = await settledMemory();
    const statuses = new Map<number, number>();
    const started = performance.now();
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const response = await postSso(authnRequestXml({ ID: `_flood${batch}_${i}`, IssueInstant: new Date().toISOString() }, FLOOD), relayState);
          await response.text();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }),
      );
    }
    const elapsed = performance.now() - started;
    const end = await settledMemory();
    t.diagnostic(`RelayState flood: statuses ${JSON.stringify(Object.fromEntries(statuses))}; ${elapsed.toFixed(0)} ms; RSS ${mib(start.rss)} → ${mib(end.rss)} (+${mib(end.rss - start.rss)}); heap ${mib(start.heap)} → ${mib(end.heap)} (+${mib(end.heap - start.heap)})`);
    assert.deepEqual([...statuses.keys()].sort(), [413], 'every flood request is refused as too large');
    assert.ok(end.heap - start.heap < 32 * 1024 * 1024, `heap grew by ${mib(end.heap - start.heap)}`);
    assert.ok(end.rss - start.rss < 96 * 1024 * 1024, `RSS grew by ${mib(end.rss - start.rss)}`);
    assert.ok((await auditCodes('saml.request')).includes('saml.request_too_large'), 'the refusal is audited');
  });

  it('a RelayState just over 1 KiB is refused with a clear page and audited; 1 KiB is accepted', async () => {
    const over = await postSso(authnRequestXml({ ID: '_relay_over', IssueInstant: new Date().toISOString() }, FLOOD), 'x'.repeat(1025));
    assert.equal(over.status, 400);
    assert.match(await over.text(), /RelayState is longer than 1024 bytes/);
    const redirect = await get(`${base}/saml/sso?SAMLRequest=${encodeURIComponent(deflateRawSync(authnRequestXml({ ID: '_relay_over2', IssueInstant: new Date().toISOString() }, FLOOD)).toString('base64'))}&RelayState=${'y'.repeat(2000)}`);
    assert.equal(redirect.status, 400);
    const within = await postSso(authnRequestXml({ ID: '_relay_ok', IssueInstant: new Date().toISOString() }, FLOOD), 'z'.repeat(1024));
    assert.equal(within.status, 303, 'a waiting request goes to the sign-in page');
    const codes = await auditCodes('saml.request');
    assert.ok(codes.filter((c) => c === 'saml.relay_state_too_long').length >= 2);
  });

  it('a tiny HTTP-Redirect request inflating to 256 KiB of nested elements is refused in milliseconds, and so is one nested within the size limit', async (t) => {
    const head = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_nest" Version="2.0" IssueInstant="${new Date().toISOString()}">`;
    for (const [size, refusal] of [[256 * 1024, /inflates to more than 64 KiB/], [60 * 1024, /nested more than 24 deep/]] as const) {
      const xml = head + '<a>'.repeat(Math.floor((size - head.length) / 3));
      const compressed = deflateRawSync(xml, { level: 9 });
      const timings: number[] = [];
      let last: { status: number; text: string; requestMs: number; healthMs: number } | undefined;
      for (let i = 0; i < 5; i++) {
        last = await withHealthProbe(() => fetch(`${base}/saml/sso?SAMLRequest=${encodeURIComponent(compressed.toString('base64'))}`, { redirect: 'manual' }));
        timings.push(last.requestMs);
      }
      assert.ok(last);
      t.diagnostic(`nested Redirect: ${compressed.length} bytes compressed, ${xml.length} inflated; status ${last.status}; request ${timings.map((m) => m.toFixed(1)).join(', ')} ms; /healthz during it ${last.healthMs.toFixed(1)} ms`);
      assert.equal(last.status, 400);
      assert.match(last.text, refusal);
      assert.ok(Math.min(...timings) < 50, `refused in ${Math.min(...timings).toFixed(1)} ms`);
    }
    assert.ok((await auditCodes('saml.request')).includes('saml.request_too_large'));
  });

  it('a POST with a fake ds:Signature over 36,000 elements is refused in < 50 ms and /healthz answers during it', async (t) => {
    const id = '_bigsigned';
    const signature =
      `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>` +
      `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
      `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>` +
      `<ds:Reference URI="#${id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>` +
      `<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
      `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>${randomBytes(32).toString('base64')}</ds:DigestValue></ds:Reference>` +
      `</ds:SignedInfo><ds:SignatureValue>${randomBytes(256).toString('base64')}</ds:SignatureValue></ds:Signature>`;
    const xml =
      `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}">` +
      `<saml:Issuer>${SIGNED}</saml:Issuer>${signature}<samlp:Extensions>${'<eeee/>'.repeat(36_000)}</samlp:Extensions></samlp:AuthnRequest>`;
    const body = new URLSearchParams({ SAMLRequest: Buffer.from(xml).toString('base64') }).toString();
    const timings: number[] = [];
    const health: number[] = [];
    let last: { status: number; text: string } | undefined;
    for (let i = 0; i < 3; i++) {
      const probe = await withHealthProbe(() => fetch(`${base}/saml/sso`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }));
      timings.push(probe.requestMs);
      health.push(probe.healthMs);
      last = probe;
    }
    assert.ok(last);
    t.diagnostic(`fake-signature POST: ${xml.length} bytes of XML, ${body.length} bytes posted; status ${last.status}; request ${timings.map((m) => m.toFixed(1)).join(', ')} ms; /healthz during it ${health.map((m) => m.toFixed(1)).join(', ')} ms`);
    assert.ok([400, 413].includes(last.status), `refused (${last.status})`);
    assert.doesNotMatch(last.text, /SAMLResponse/);
    assert.ok(Math.min(...timings) < 50, `refused in ${Math.min(...timings).toFixed(1)} ms`);
    // Before the bounds /healthz waited 4.7 s behind this request; 250 ms leaves room for a busy test machine.
    assert.ok(Math.max(...health) < 250, `/healthz answered in ${Math.max(...health).toFixed(1)} ms`);
  });

  it('a POST with 12,000 elements within the size limit is refused for its element count before any signature work', async (t) => {
    const id = '_manysigned';
    const xml =
      `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}">` +
      `<saml:Issuer>${SIGNED}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/><samlp:Extensions>${'<e/>'.repeat(12_000)}</samlp:Extensions></samlp:AuthnRequest>`;
    const timings: number[] = [];
    let last: { status: number; text: string } | undefined;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const response = await fetch(`${base}/saml/sso`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLRequest: Buffer.from(xml).toString('base64') }).toString() });
      last = { status: response.status, text: await response.text() };
      timings.push(performance.now() - started);
    }
    assert.ok(last);
    t.diagnostic(`12,000 elements in ${xml.length} bytes: status ${last.status}, ${timings.map((m) => m.toFixed(1)).join(', ')} ms`);
    assert.equal(last.status, 400);
    assert.match(last.text, /more than \d+ elements/);
    assert.ok(Math.min(...timings) < 50, `refused in ${Math.min(...timings).toFixed(1)} ms`);
  });
});

function postSso(xml: string, relayState: string): Promise<Response> {
  return fetch(`${base}/saml/sso`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ SAMLRequest: Buffer.from(xml).toString('base64'), RelayState: relayState }).toString(),
  });
}
