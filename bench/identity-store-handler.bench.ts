/**
 * The IdentityStore API's handler, this tree against another checkout (--baseline, default
 * /tmp/portico-baseline), in one process: no sockets, no SDK (requests signed beforehand), so
 * the CPU per call is the handler's (Fastify, SigV4, storage, shapes) and noise from the rest of
 * the machine hits both sides alike. Both serve one SQLite file loaded here; DescribeUser for
 * random users and ListUsers pages (MaxResults 100) from random points, in alternating rounds.
 * Run: node --import tsx bench/identity-store-handler.bench.ts [users 20000] [calls per round 1500] [rounds 8] [baseline dir]
 */
import { createHash, randomBytes, randomUUID, createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type * as StorageModule from '#src/storage/index.ts';
import type * as SecretsModule from '#src/secrets/index.ts';
import type * as ApiModule from '#src/identity-store-api/index.ts';
import { toProvisionedUser } from '#src/identity-store/user.ts';
import { canonicalRequest, formatAmzDate, signingKey, stringToSign } from '#src/identity-store-api/sigv4.ts';
import { percentile, median } from './portico-process.ts';

const USERS = Number(process.argv[2] ?? 20000);
const PER = Number(process.argv[3] ?? 1500);
const ROUNDS = Number(process.argv[4] ?? 8);
const trees = { this: new URL('..', import.meta.url).pathname, baseline: process.argv[5] ?? '/tmp/portico-baseline' } as const;
const dir = mkdtempSync(join(tmpdir(), 'ab-'));
const file = join(dir, 'p.db');
const key = randomBytes(32);
const STORE = 'd-1234567890';

async function app(root: string) {
  // Each tree's own modules (their #src imports resolve within that tree); typed as this tree's.
  const storage = (await import(`${root}/src/storage/index.ts`)) as typeof StorageModule;
  const secrets = (await import(`${root}/src/secrets/index.ts`)) as typeof SecretsModule;
  const api = (await import(`${root}/src/identity-store-api/index.ts`)) as typeof ApiModule;
  const db = storage.createDatabase({ driver: 'sqlite', sqlite: { file } });
  const box = secrets.createSecretBox(key);
  const credentials = storage.createKyselyApplicationCredentialStore(db, box);
  const users = storage.createKyselyIdentityUserStore(db);
  const http = Fastify();
  await api.registerIdentityStoreApi(http, { users, groups: () => null, credentials, identityStoreId: STORE });
  await http.ready();
  return { db, http, credentials, users, storage };
}

const mine = await app(trees.this);
const base = await app(trees.baseline);
await mine.storage.migrateToLatest(mine.db);
const ids: string[] = [];
for (let from = 0; from < USERS; from += 2000) {
  await mine.db.transaction().execute(async (trx) => {
    const s = mine.storage.createKyselyIdentityUserStore(trx);
    for (let i = from; i < Math.min(USERS, from + 2000); i++) {
      const guid = randomUUID(); const upn = `bench${i}@portico.test`;
      const { user } = await s.upsert(toProvisionedUser({ guid, sid: `S-1-5-21-1-2-3-${10000 + i}`, userPrincipalName: upn, domain: 'portico.test' }, { AD_GUID: guid, email: upn, givenName: 'Bench', familyName: `User ${i}`, middleName: 'B', name: `Bench User ${i}`, preferredUsername: `Bench User ${i}`, subject: upn, title: 'Engineer', phoneNumber: `+1 555 ${i}`, department: `Department ${i % 50}` }), new Date());
      ids.push(user.userId);
    }
  });
}
const issued = await mine.credentials.create('ab');

function signed(operation: string, payload: object) {
  const body = Buffer.from(JSON.stringify(payload));
  const now = new Date();
  const amzDate = formatAmzDate(now);
  const date = amzDate.slice(0, 8);
  const headers: Array<[string, string]> = [['host', 'localhost'], ['content-type', 'application/x-amz-json-1.1'], ['x-amz-target', `AWSIdentityStore.${operation}`], ['x-amz-date', amzDate], ['user-agent', 'aws-sdk-js/3 ab']];
  const names = ['content-type', 'host', 'x-amz-date', 'x-amz-target'];
  const hash = createHash('sha256').update(body).digest('hex');
  const canonical = canonicalRequest({ method: 'POST', path: '/identitystore/', query: '', headers, body }, names, hash);
  const scope = `${date}/us-east-1/identitystore/aws4_request`;
  const sig = createHmac('sha256', signingKey(issued.secretAccessKey, date, 'us-east-1', 'identitystore')).update(stringToSign(amzDate, scope, canonical)).digest('hex');
  const h: Record<string, string> = Object.fromEntries(headers);
  h.authorization = `AWS4-HMAC-SHA256 Credential=${issued.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}`;
  return { headers: h, body };
}

// Page tokens for ListUsers, from a walk.
const tokens: string[] = [];
{
  let token: string | undefined;
  do {
    const r = signed('ListUsers', { IdentityStoreId: STORE, MaxResults: 100, ...(token ? { NextToken: token } : {}) });
    const res = await mine.http.inject({ method: 'POST', url: '/identitystore/', headers: r.headers, payload: r.body });
    token = (JSON.parse(res.body) as { NextToken?: string }).NextToken;
    if (token) tokens.push(token);
  } while (token);
}

type Op = 'DescribeUser' | 'ListUsers';
function request(op: Op) {
  if (op === 'DescribeUser') return signed('DescribeUser', { IdentityStoreId: STORE, UserId: ids[Math.floor(Math.random() * ids.length)] });
  const at = Math.floor(Math.random() * (tokens.length + 1));
  return signed('ListUsers', { IdentityStoreId: STORE, MaxResults: 100, ...(at > 0 ? { NextToken: tokens[at - 1] } : {}) });
}
async function round(which: typeof mine, op: Op, n: number) {
  const reqs = Array.from({ length: n }, () => request(op));
  const lat: number[] = [];
  const c0 = process.cpuUsage();
  for (const r of reqs) {
    const t = performance.now();
    const res = await which.http.inject({ method: 'POST', url: '/identitystore/', headers: r.headers, payload: r.body });
    lat.push(performance.now() - t);
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  }
  const c = process.cpuUsage(c0);
  return { lat, cpuUs: (c.user + c.system) / n };
}
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${USERS} users, ${PER} calls per round, ${ROUNDS} alternating rounds`);
for (const op of ['DescribeUser', 'ListUsers'] as Op[]) {
  const n = op === 'ListUsers' ? Math.ceil(PER / 5) : PER;
  await round(mine, op, n); await round(base, op, n);
  const out = { this: [] as Array<{ lat: number[]; cpuUs: number }>, baseline: [] as Array<{ lat: number[]; cpuUs: number }> };
  for (let i = 0; i < ROUNDS; i++) {
    const order: Array<'this' | 'baseline'> = i % 2 ? ['baseline', 'this'] : ['this', 'baseline'];
    for (const t of order) out[t].push(await round(t === 'this' ? mine : base, op, n));
  }
  for (const t of ['baseline', 'this'] as const) {
    const all = out[t].flatMap((r) => r.lat);
    console.log(`${op} ${t}: CPU µs/call median of rounds ${median(out[t].map((r) => r.cpuUs)).toFixed(0)}; in-process latency p50 ${percentile(all, 50).toFixed(3)} ms, p99 ${percentile(all, 99).toFixed(3)} ms, median round p99 ${median(out[t].map((r) => percentile(r.lat, 99))).toFixed(3)} ms (${all.length} calls)`);
  }
}
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`);
await mine.http.close(); await base.http.close(); await mine.db.destroy(); await base.db.destroy();
