/**
 * Issue 13: a failed sign-in must not tell by its timing whether the name exists. Against the
 * Samba DC an unknown name fails in ~1–10 ms and a wrong password in ~25–60 ms; through Portico
 * both must now take the same time (the failure floor, src/auth/failure-floor.ts), while a
 * successful sign-in is not held.
 *
 * Interleaved samples over HTTP (`POST /api/sign-in`): an unknown name, a wrong password for
 * `tlock1` (the one Samba account we may get wrong: one at a time, only while its badPwdCount is
 * 0, reset right after — it is never locked), and alice's right password. Asserted, robustly for
 * a noisy shared machine: medians within 10%, p10 within 10%, p90 within 25%, and no threshold
 * on the time tells the two kinds apart better than 75% of the time (two-sample KS distance ≤ 0.5).
 * Twice: with the default initial floor (100 ms, above this DC's wrong passwords), and with a low
 * initial floor (40 ms) after 25 wrong passwords, so that the floor is the one learnt from the DC.
 *
 * It fails without the floor: `PORTICO_TEST_FAILURE_FLOOR=off` runs the same test with
 * `signIn.failureFloor.enabled: false` (medians ~10 ms vs ~45 ms).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatSummary, summarise, timed, tlock1Guard, unknownName, type Summary, type Tlock1Guard } from '../support/failure-timing.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { fixtureUser, sambaRuntime } from '../support/samba.ts';

const ROUNDS = 30;
const floorOff = process.env.PORTICO_TEST_FAILURE_FLOOR === 'off';

async function signIn(url: string, username: string, password: string): Promise<number> {
  const response = await fetch(new URL('/api/sign-in', url), { method: 'POST', body: JSON.stringify({ username, password }), headers: { 'content-type': 'application/json' } });
  await response.arrayBuffer();
  return response.status;
}

/** The largest gap between the two empirical distributions: how well one threshold separates them. */
function ksDistance(a: number[], b: number[]): number {
  let worst = 0;
  for (const t of [...a, ...b]) {
    const below = (xs: number[]) => xs.filter((x) => x <= t).length / xs.length;
    worst = Math.max(worst, Math.abs(below(a) - below(b)));
  }
  return worst;
}

const within = (a: number, b: number, share: number) => Math.abs(a - b) <= share * Math.max(a, b);

void describe('failed sign-ins take the same time whether the name exists or not (Samba DC)', () => {
  let guard: Tlock1Guard;
  const dc = sambaRuntime();
  const alice = fixtureUser('alice');

  before(async () => {
    guard = await tlock1Guard(dc);
  });
  after(async () => {
    await guard?.close();
  });

  const wrongPassword = (url: string) => guard.once(() => timed(async () => assert.equal(await signIn(url, guard.upn, 'Wrong-Password-1!'), 401)));
  // tlock1's right password clears Portico's per-name count (its sign-in then stops at the
  // attribute mappings, which is irrelevant here).
  const clearThrottle = (url: string) => signIn(url, guard.upn, guard.password);

  /** A Portico on the DC; `learn` wrong passwords first (unmeasured); then interleaved rounds, asserted. */
  async function compare(floorEnv: Record<string, string>, learn: number): Promise<void> {
    const portico: SambaPortico = await startSambaPortico({
      // Every sample comes from 127.0.0.1: the per-address limit would otherwise stop the run.
      PORTICO_SIGNIN__THROTTLE__PERADDRESS__MAXFAILURES: '1000',
      ...floorEnv,
      ...(floorOff ? { PORTICO_SIGNIN__FAILUREFLOOR__ENABLED: 'false' } : {}),
    });
    try {
      const url = portico.app.url;
      const unknown: number[] = [];
      const wrong: number[] = [];
      const success: number[] = [];
      // Warm-up: pooled connections open, the domain read.
      assert.equal(await signIn(url, alice.upn, alice.password), 200);
      assert.equal(await signIn(url, unknownName(dc.domain), 'Wrong-Password-1!'), 401);
      for (let i = 0; i < learn; i++) {
        await wrongPassword(url);
        await clearThrottle(url);
      }

      for (let i = 0; i < ROUNDS; i++) {
        const steps = [
          async () => unknown.push(await timed(async () => assert.equal(await signIn(url, unknownName(dc.domain), 'Wrong-Password-1!'), 401))),
          async () => wrong.push(await wrongPassword(url)),
          async () => success.push(await timed(async () => assert.equal(await signIn(url, alice.upn, alice.password), 200))),
        ];
        for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
        await clearThrottle(url);
      }

      const [u, w, s] = [summarise(unknown), summarise(wrong), summarise(success)];
      const report = [formatSummary('unknown name', u), formatSummary('wrong password (tlock1)', w), formatSummary('right password (alice)', s)].join('\n');
      console.log(`${floorOff ? 'failure floor OFF' : `failure floor on ${JSON.stringify(floorEnv)}, ${learn} wrong passwords to learn from first`}\n${report}`);
      const ks = ksDistance(unknown, wrong);
      const check = (what: string, pick: (x: Summary) => number, share: number) =>
        assert.ok(within(pick(u), pick(w), share), `${what} differ by more than ${share * 100}%: unknown ${pick(u).toFixed(1)} ms, wrong ${pick(w).toFixed(1)} ms\n${report}`);
      check('medians', (x) => x.median, 0.1);
      check('p10s', (x) => x.p10, 0.1);
      check('p90s', (x) => x.p90, 0.25);
      assert.ok(ks <= 0.5, `a threshold on the time tells unknown names from wrong passwords (KS distance ${ks.toFixed(2)})\n${report}`);
      // Successes are not held to the floor.
      assert.ok(s.median < u.median, `successful sign-ins are as slow as failures\n${report}`);
    } finally {
      await portico.stop();
    }
  }

  void it(`with the initial floor: same median, same spread (${ROUNDS} interleaved rounds)`, { timeout: 90_000 }, () => compare({}, 0));

  void it(`with a floor learnt from the DC (initialMs 40, then the DC's p95): same median, same spread`, { timeout: 90_000 }, () =>
    compare({ PORTICO_SIGNIN__FAILUREFLOOR__INITIALMS: '40' }, 25),
  );
});
