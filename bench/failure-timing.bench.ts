/**
 * Does a failed sign-in tell, by its timing, a name that does not exist from a wrong password for
 * a real account? (issue 13 item 3.) Interleaved samples of both, at four levels:
 *
 * - raw: ldapts binds straight to the Samba DC (LDAPS, one open connection): an unknown UPN, a
 *   wrong password for `tlock1`, and tlock1's right password for reference;
 * - samba: `POST /api/sign-in` on a Portico connected to the Samba DC (in this process);
 * - managed: the same on a Portico whose identity source is its managed directory (a user created
 *   for the run, so wrong passwords bother nobody);
 * - managed password change: `POST /api/change-password` with an unknown name vs a wrong current password;
 * - success (only with --only success): alice's right password on two Porticos, floor on and off, alternating.
 *
 * The only Samba account given wrong passwords is tlock1, one at a time, each after its
 * badPwdCount is 0 and followed by a reset (test/support/failure-timing.ts): it is never locked.
 * Portico's per-name throttle is cleared by tlock1's right password after each round.
 *
 * `--no-floor` starts Portico with the failure floor off (PORTICO_SIGNIN__FAILUREFLOOR__ENABLED=false),
 * to show the figures without it in the same build.
 *
 * `--initial-ms N` sets signIn.failureFloor.initialMs (100 by default), e.g. low enough that the floor
 * learns the DC's wrong-password time within the run.
 *
 * Run: node --import tsx bench/failure-timing.bench.ts [--rounds 40] [--no-floor] [--initial-ms 100] [--only raw,samba,managed,change,success]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { startApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { directoryAdmin } from '../test/support/directory-admin.ts';
import { formatSummary, summarise, timed, tlock1Guard, unknownName } from '../test/support/failure-timing.ts';
import { startSambaPortico } from '../test/support/samba-portico.ts';
import { fixtureUser, sambaRuntime } from '../test/support/samba.ts';
import { benchOptions } from './bench-kit.ts';

const { option, num, flag } = benchOptions();
const rounds = num('rounds', 40);
const floorOff = flag('no-floor');
const only = new Set((option('only') ?? 'raw,samba,managed,change').split(','));
const initialMs = option('initial-ms');
const floorEnv: Record<string, string> = {
  ...(floorOff ? { PORTICO_SIGNIN__FAILUREFLOOR__ENABLED: 'false' } : {}),
  ...(initialMs === undefined ? {} : { PORTICO_SIGNIN__FAILUREFLOOR__INITIALMS: initialMs }),
};
const noThrottleByAddress = { PORTICO_SIGNIN__THROTTLE__PERADDRESS__MAXFAILURES: '1000' };

const dc = sambaRuntime();
const alice = fixtureUser('alice');
console.log(`failure timing: ${rounds} interleaved rounds, floor ${floorOff ? 'OFF' : 'on'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);

async function post(url: string, path: string, body: unknown): Promise<number> {
  const response = await fetch(new URL(path, url), { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  await response.arrayBuffer();
  return response.status;
}

function expectStatus(what: string, status: number, expected: number): void {
  if (status !== expected) throw new Error(`${what}: HTTP ${status}, expected ${expected}`);
}

if (only.has('raw')) {
  const guard = await tlock1Guard(dc);
  const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: readFileSync(dc.caFile) } });
  const unknown: number[] = [];
  const wrong: number[] = [];
  const right: number[] = [];
  const failing = (name: string, password: string) => async () => {
    const refused = await client.bind(name, password).then(
      () => false,
      (e: unknown) => {
        if ((e as { code?: number }).code === 49) return true;
        throw e;
      },
    );
    if (!refused) throw new Error(`${name} bound with a wrong password`);
  };
  await client.bind(guard.upn, guard.password); // the connection is open and warm
  for (let i = 0; i < rounds; i++) {
    const steps = [
      async () => unknown.push(await timed(failing(unknownName(dc.domain), 'Wrong-Password-1!'))),
      async () => wrong.push(await guard.once(() => timed(failing(guard.upn, 'Wrong-Password-1!')))),
      async () => right.push(await timed(() => client.bind(guard.upn, guard.password))),
    ];
    for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
  }
  await client.unbind();
  await guard.close();
  console.log(formatSummary('raw LDAP bind: unknown name', summarise(unknown)));
  console.log(formatSummary('raw LDAP bind: wrong password', summarise(wrong)));
  console.log(formatSummary('raw LDAP bind: right password', summarise(right)));
}

if (only.has('samba')) {
  const portico = await startSambaPortico({ ...noThrottleByAddress, ...floorEnv });
  const guard = await tlock1Guard(dc);
  const unknown: number[] = [];
  const wrong: number[] = [];
  const right: number[] = [];
  const url = portico.app.url;
  try {
    // Warm-up: connections open, the domain discovered.
    await post(url, '/api/sign-in', { username: unknownName(dc.domain), password: 'Wrong-Password-1!' });
    for (let i = 0; i < rounds; i++) {
      const steps = [
        async () => unknown.push(await timed(async () => expectStatus('unknown', await post(url, '/api/sign-in', { username: unknownName(dc.domain), password: 'Wrong-Password-1!' }), 401))),
        async () => wrong.push(await guard.once(() => timed(async () => expectStatus('wrong', await post(url, '/api/sign-in', { username: guard.upn, password: 'Wrong-Password-1!' }), 401)))),
      ];
      for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
      right.push(await timed(async () => expectStatus('alice', await post(url, '/api/sign-in', { username: alice.upn, password: alice.password }), 200)));
      // Clears Portico's per-name count (the mapping then refuses tlock1, who has no initials: irrelevant here).
      await post(url, '/api/sign-in', { username: guard.upn, password: guard.password });
    }
  } finally {
    await guard.close();
    await portico.stop();
  }
  console.log(formatSummary('Portico+Samba sign-in: unknown', summarise(unknown)));
  console.log(formatSummary('Portico+Samba sign-in: wrong', summarise(wrong)));
  console.log(formatSummary('Portico+Samba sign-in: alice right', summarise(right)));
}

if (only.has('success')) {
  // Successes are never held: two Porticos on the same DC, floor on and off, alternating.
  const on = await startSambaPortico({ ...noThrottleByAddress });
  const off = await startSambaPortico({ ...noThrottleByAddress, PORTICO_SIGNIN__FAILUREFLOOR__ENABLED: 'false' });
  const times = { on: [] as number[], off: [] as number[] };
  try {
    for (const p of [on, off]) expectStatus('warm-up', await post(p.app.url, '/api/sign-in', { username: alice.upn, password: alice.password }), 200);
    for (let i = 0; i < rounds; i++) {
      const sides = [['on', on], ['off', off]] as const;
      for (const [name, p] of i % 2 === 0 ? sides : [...sides].reverse()) {
        times[name].push(await timed(async () => expectStatus(name, await post(p.app.url, '/api/sign-in', { username: alice.upn, password: alice.password }), 200)));
      }
    }
  } finally {
    await on.stop();
    await off.stop();
  }
  console.log(formatSummary('alice right, floor on', summarise(times.on)));
  console.log(formatSummary('alice right, floor off', summarise(times.off)));
}

if (only.has('managed') || only.has('change')) {
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-failure-timing-'));
  const administratorPassword = 'Managed-Admin-2026!';
  const app = await startApp(
    loadConfig({
      env: {
        PORTICO_DATA_DIR: dataDir,
        PORTICO_LOG__LEVEL: 'silent',
        PORTICO_MANAGEDDIRECTORY__ADMINISTRATORPASSWORD: administratorPassword,
        PORTICO_MANAGEDDIRECTORY__DEMOFOREST: 'false',
        PORTICO_HTTP__PORT: '0',
        PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPPORT: '0',
        PORTICO_MANAGEDDIRECTORY__LISTEN__LDAPSPORT: '0',
        ...noThrottleByAddress,
        ...floorEnv,
      },
    }),
  );
  const managed = app.managedDirectory;
  if (!managed) throw new Error('the managed directory did not start');
  const admin = await directoryAdmin({
    ldapsUrl: managed.ldapsUrl.replace('0.0.0.0', '127.0.0.1'),
    ca: managed.certificatePem,
    baseDn: 'DC=portico,DC=test',
    domain: 'portico.test',
    netbiosName: 'PORTICO',
    admin: { username: managed.administrator.upn, password: administratorPassword },
  });
  const user = await admin.createUser(`timing${Date.now().toString(36)}`, { givenName: 'Tim', sn: 'Ing', initials: 'T', displayName: 'Tim Ing', mail: 'tim@mail.example.test' });
  const url = app.url;
  try {
    await post(url, '/api/sign-in', { username: unknownName('portico.test'), password: 'Wrong-Password-1!' });
    if (only.has('managed')) {
      const unknown: number[] = [];
      const wrong: number[] = [];
      const right: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const steps = [
          async () => unknown.push(await timed(async () => expectStatus('unknown', await post(url, '/api/sign-in', { username: unknownName('portico.test'), password: 'Wrong-Password-1!' }), 401))),
          async () => wrong.push(await timed(async () => expectStatus('wrong', await post(url, '/api/sign-in', { username: user.upn, password: 'Wrong-Password-1!' }), 401))),
        ];
        for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
        await admin.replace(user.dn, 'lockoutTime', '0');
        right.push(await timed(async () => expectStatus('right', await post(url, '/api/sign-in', { username: user.upn, password: user.password }), 200)));
      }
      console.log(formatSummary('Portico+managed sign-in: unknown', summarise(unknown)));
      console.log(formatSummary('Portico+managed sign-in: wrong', summarise(wrong)));
      console.log(formatSummary('Portico+managed sign-in: right', summarise(right)));
    }
    if (only.has('change')) {
      const unknown: number[] = [];
      const wrong: number[] = [];
      const change = (username: string) => ({ username, currentPassword: 'Wrong-Password-1!', newPassword: 'Never-Applied-2026!' });
      for (let i = 0; i < rounds; i++) {
        const steps = [
          async () => unknown.push(await timed(async () => expectStatus('unknown', await post(url, '/api/change-password', change(unknownName('portico.test'))), 401))),
          async () => wrong.push(await timed(async () => expectStatus('wrong', await post(url, '/api/change-password', change(user.upn)), 401))),
        ];
        for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
        await admin.replace(user.dn, 'lockoutTime', '0');
        await post(url, '/api/sign-in', { username: user.upn, password: user.password }); // clears the per-name count
      }
      console.log(formatSummary('managed password change: unknown', summarise(unknown)));
      console.log(formatSummary('managed password change: wrong', summarise(wrong)));
    }
  } finally {
    await admin.close();
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
