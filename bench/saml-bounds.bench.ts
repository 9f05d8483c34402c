/**
 * Issue 12's resource-exhaustion probes against a real Portico in a child process of its own
 * (embedded default: managed directory, fresh SQLite), so that RSS (/proc/<pid>/status) and CPU
 * (/proc/<pid>/stat) are Portico's alone — the regression tests in
 * test/federation/saml-bounds.samba.integration.test.ts run Portico inside the test process,
 * where the client's own allocations blur RSS. Self-contained on purpose: the same file runs
 * against an older checkout to measure "before".
 *
 *   1. 1,000 unauthenticated POSTs to /saml/sso (10 at a time) with a 380 KiB RelayState and a
 *      valid AuthnRequest of a registered application: Portico's RSS before and after.
 *   2. An HTTP-Redirect AuthnRequest of a few hundred bytes inflating to 256 KiB of nested elements.
 *   3. An HTTP-POST AuthnRequest with a fake ds:Signature over 36,000 elements, for an application
 *      with a signing certificate, while /healthz is asked every 2 ms.
 *   4. The worst that fits the bounds: the same fake signature over 490 elements (under 512).
 *
 * Run: node --import tsx bench/saml-bounds.bench.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { generateSelfSignedCertificate } from '#src/shared/certificates.ts';
import { cpuSeconds, freePort, porticoCli, startPortico, type PorticoProcess } from './portico-process.ts';

const FLOOD = 'https://flood.example.test/saml';
const SIGNED = 'https://signed.example.test/saml';

function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

const authnRequest = (id: string, issuer: string, inner = '') =>
  `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}"><saml:Issuer>${issuer}</saml:Issuer>${inner}</samlp:AuthnRequest>`;

async function adminApi(portico: PorticoProcess, token: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${portico.url}/admin/api${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (response.status !== 201) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
}

/** Portico's CPU and the wall time of `send`, with the slowest /healthz asked every 2 ms meanwhile. */
async function probe(portico: PorticoProcess, send: () => Promise<Response>): Promise<{ status: number; wallMs: number; cpuMs: number; healthMs: number }> {
  const cpu = cpuSeconds([portico.pid]);
  const started = performance.now();
  let done = false;
  const answer = send().then(async (response) => {
    await response.arrayBuffer();
    done = true;
    return { status: response.status, at: performance.now() };
  });
  const probes: Array<Promise<number>> = [];
  while (!done) {
    const sent = performance.now();
    probes.push(fetch(`${portico.url}/healthz`).then(async (r) => (await r.arrayBuffer(), performance.now() - sent)));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const { status, at } = await answer;
  const healthMs = Math.max(0, ...(await Promise.all(probes)));
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { status, wallMs: at - started, cpuMs: (cpuSeconds([portico.pid]) - cpu) * 1000, healthMs };
}

const dataDir = mkdtempSync(join(tmpdir(), 'portico-bounds-bench-'));
const env = { PORTICO_DATA_DIR: dataDir, PORTICO_LOG__LEVEL: 'warn', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0', PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0' };
let portico: PorticoProcess | null = null;
try {
  console.log(`# SAML bounds bench — ${new Date().toISOString()}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const running = await startPortico(env, await freePort());
  portico = running;
  const { token } = JSON.parse(await porticoCli(['admin', 'bootstrap-token', '--reset', '--json'], env)) as { token: string };
  const spCert = generateSelfSignedCertificate({ commonName: 'bench sp', altNames: [], validDays: 2 });
  await adminApi(running, token, '/applications', { name: 'Flood', entityId: FLOOD, acsUrls: ['http://127.0.0.1:9/flood'] });
  await adminApi(running, token, '/applications', { name: 'Signed', entityId: SIGNED, acsUrls: ['http://127.0.0.1:9/signed'], signingCertificate: spCert.certPem.replace(/-----[^-]+-----|\s/g, '') });

  // 1. RelayState flood.
  const post = (xml: string, relayState: string) =>
    fetch(`${running.url}/saml/sso`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLRequest: Buffer.from(xml).toString('base64'), RelayState: relayState }).toString() });
  for (let i = 0; i < 20; i++) await (await post(authnRequest(`_warm${i}`, FLOOD), 'short')).arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = memoryOf(running.pid);
  const cpuBefore = cpuSeconds([running.pid]);
  const relayState = 'r'.repeat(380 * 1024);
  const statuses = new Map<number, number>();
  const started = performance.now();
  for (let batch = 0; batch < 100; batch++) {
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const response = await post(authnRequest(`_flood${batch}_${i}`, FLOOD), relayState);
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }),
    );
  }
  const floodMs = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const after = memoryOf(running.pid);
  console.log(
    `1. RelayState flood (1,000 × 380 KiB): statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${(floodMs / 1000).toFixed(1)} s, Portico CPU ${(cpuSeconds([running.pid]) - cpuBefore).toFixed(2)} s; ` +
      `RSS ${before.rss.toFixed(0)} → ${after.rss.toFixed(0)} MiB (+${(after.rss - before.rss).toFixed(0)}), peak ${after.hwm.toFixed(0)} MiB`,
  );

  // 2. Nested elements over HTTP-Redirect.
  const head = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_nest" Version="2.0" IssueInstant="${new Date().toISOString()}">`;
  const nested = deflateRawSync(head + '<a>'.repeat(Math.floor((256 * 1024 - head.length) / 3)), { level: 9 });
  const nestedRuns = [];
  for (let i = 0; i < 5; i++) nestedRuns.push(await probe(running, () => fetch(`${running.url}/saml/sso?SAMLRequest=${encodeURIComponent(nested.toString('base64'))}`, { redirect: 'manual' })));
  console.log(`2. nested Redirect (${nested.length} bytes → 256 KiB): ${nestedRuns.map((r) => `${r.status} ${r.wallMs.toFixed(0)} ms wall / ${r.cpuMs.toFixed(0)} ms CPU / healthz ${r.healthMs.toFixed(0)} ms`).join('; ')}`);

  // 3. Fake signature over 36,000 elements.
  const id = '_bigsigned';
  const signature =
    `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
    `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#${id}"><ds:Transforms>` +
    `<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
    `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>${randomBytes(32).toString('base64')}</ds:DigestValue></ds:Reference></ds:SignedInfo>` +
    `<ds:SignatureValue>${randomBytes(256).toString('base64')}</ds:SignatureValue></ds:Signature>`;
  const big = new URLSearchParams({ SAMLRequest: Buffer.from(authnRequest(id, SIGNED, `${signature}<samlp:Extensions>${'<eeee/>'.repeat(36_000)}</samlp:Extensions>`)).toString('base64') }).toString();
  const bigRuns = [];
  for (let i = 0; i < 5; i++) bigRuns.push(await probe(running, () => fetch(`${running.url}/saml/sso`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: big })));
  console.log(`3. fake signature, 36,000 elements (${(big.length / 1024).toFixed(0)} KiB posted): ${bigRuns.map((r) => `${r.status} ${r.wallMs.toFixed(0)} ms wall / ${r.cpuMs.toFixed(0)} ms CPU / healthz ${r.healthMs.toFixed(0)} ms`).join('; ')}`);
  const atBound = new URLSearchParams({ SAMLRequest: Buffer.from(authnRequest(id, SIGNED, `${signature}<samlp:Extensions>${'<e a="1"/>'.repeat(490)}</samlp:Extensions>`)).toString('base64') }).toString();
  const boundRuns = [];
  // 20 runs: the first ones include compiling the signature path; the last five are shown.
  for (let i = 0; i < 20; i++) boundRuns.push(await probe(running, () => fetch(`${running.url}/saml/sso`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: atBound })));
  console.log(`4. fake signature, 490 elements (${(atBound.length / 1024).toFixed(0)} KiB posted), runs 16–20 of 20: ${boundRuns.slice(-5).map((r) => `${r.status} ${r.wallMs.toFixed(0)} ms wall / ${r.cpuMs.toFixed(0)} ms CPU / healthz ${r.healthMs.toFixed(0)} ms`).join('; ')}`);
  console.log(`load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  await portico?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
