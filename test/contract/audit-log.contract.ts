/**
 * The behaviour every AuditLog must have, whatever stores it. A test file calls
 * `auditLogContract` with a factory for its implementation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditAction, AuditEvent, AuditLog } from '#src/audit/index.ts';
import { isAppError } from '#src/shared/errors.ts';

export interface AuditLogHarness {
  log: AuditLog;
  /** Everything the implementation persisted, serialized: used to prove secrets are not kept. */
  dumpStorage: () => Promise<string>;
  /** Writes an event as an older version did, under a name it used then (bypassing `record`, which takes only current names). */
  storeLegacyRow: (id: string, action: string, at: Date) => Promise<void>;
  dispose: () => Promise<void>;
}

export type AuditLogFactory = (options: { clock: () => Date }) => Promise<AuditLogHarness>;

const T0 = Date.parse('2026-03-04T05:06:07.008Z');

export function auditLogContract(factory: AuditLogFactory): void {
  async function withLog(run: (harness: AuditLogHarness, clock: { now: Date }) => Promise<void>): Promise<void> {
    const clock = { now: new Date(T0) };
    const harness = await factory({ clock: () => clock.now });
    try {
      await run(harness, clock);
    } finally {
      await harness.dispose();
    }
  }

  /** Records events at the given offsets (ms after T0); several may share a timestamp. */
  async function recordAt(log: AuditLog, clock: { now: Date }, offsets: number[], action: AuditAction = 'directory.connection.checked'): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    for (const [index, offset] of offsets.entries()) {
      clock.now = new Date(T0 + offset);
      events.push(await log.record({ actor: 'admin', action, target: `conn-${index}`, outcome: 'success' }));
    }
    return events;
  }

  /** The order list() must return: newest first, ties in a stable order shared by every page. */
  function newestFirst(events: AuditEvent[]): AuditEvent[] {
    return [...events].sort((a, b) => b.occurredAt.getTime() - a.occurredAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  void describe('AuditLog contract', () => {
    void it('records an event stamped with an id and the clock, and lists it back unchanged', () =>
      withLog(async ({ log }) => {
        const recorded = await log.record({
          actor: 'admin@corp.example.test',
          action: 'directory.connection.checked',
          target: 'corp',
          outcome: 'failure',
          errorCode: 'directory.unreachable',
          details: { url: 'ldaps://dc1.corp.example.test', attempts: 3, tls: true, reason: null },
        });
        assert.ok(recorded.id.length > 0);
        assert.deepEqual(recorded.occurredAt, new Date(T0));
        assert.equal(recorded.errorCode, 'directory.unreachable');
        assert.deepEqual(await log.list({ limit: 10 }), [recorded]);
      }));

    void it('defaults target and error code to null and details to {}', () =>
      withLog(async ({ log }) => {
        const recorded = await log.record({ actor: 'system', action: 'directory.trust.validated', outcome: 'success' });
        assert.equal(recorded.target, null);
        assert.equal(recorded.errorCode, null);
        assert.deepEqual(recorded.details, {});
        assert.deepEqual(await log.list({ limit: 1 }), [recorded]);
      }));

    void it('drops secret-named keys from details, at any depth, before storing them', () =>
      withLog(async ({ log, dumpStorage }) => {
        const recorded = await log.record({
          actor: 'admin',
          action: 'identity.mappings.saved',
          target: 'corp',
          outcome: 'success',
          details: {
            username: 'svc@corp.example.test',
            password: 'Leaked-Password-1',
            serviceAccount: { username: 'svc', bindPassword: 'Leaked-Password-2' },
            attempts: [{ access_token: 'Leaked-Token-3', ok: true }],
            clientSecret: 'Leaked-Secret-4',
          },
        });
        const expected = { username: 'svc@corp.example.test', serviceAccount: { username: 'svc' }, attempts: [{ ok: true }] };
        assert.deepEqual(recorded.details, expected);
        assert.deepEqual((await log.list({ limit: 1 }))[0]?.details, expected);
        assert.doesNotMatch(await dumpStorage(), /Leaked-/);
      }));

    void it('lists newest first, limited', () =>
      withLog(async ({ log }, clock) => {
        const events = await recordAt(log, clock, [0, 10, 20, 30]);
        assert.deepEqual(await log.list({ limit: 2 }), newestFirst(events).slice(0, 2));
        assert.deepEqual(await log.list({ limit: 100 }), newestFirst(events));
      }));

    void it('pages with `before` without skipping or repeating events that share a timestamp', () =>
      withLog(async ({ log }, clock) => {
        const events = await recordAt(log, clock, [0, 5, 5, 5, 5, 9, 12, 12]);
        const pages: AuditEvent[][] = [];
        let before: string | undefined;
        for (;;) {
          const page = await log.list({ limit: 3, before });
          if (page.length === 0) break;
          pages.push(page);
          before = page.at(-1)?.id;
        }
        assert.deepEqual(
          pages.map((page) => page.length),
          [3, 3, 2],
        );
        assert.deepEqual(pages.flat(), newestFirst(events));
      }));

    void it('filters by action, also across pages', () =>
      withLog(async ({ log }, clock) => {
        const checks = await recordAt(log, clock, [0, 10, 20], 'directory.connection.checked');
        await recordAt(log, clock, [5, 15, 25], 'identity.mappings.saved');
        const expected = newestFirst(checks);
        assert.deepEqual(await log.list({ limit: 10, action: 'directory.connection.checked' }), expected);
        const second = await log.list({ limit: 10, action: 'directory.connection.checked', before: expected[0]?.id });
        assert.deepEqual(second, expected.slice(1));
        assert.deepEqual(await log.list({ limit: 10, action: 'no.such.action' }), []);
      }));

    void it('filters by actor, target and time (since inclusive, until exclusive), combined with action and across pages', () =>
      withLog(async ({ log }, clock) => {
        const stamp = async (offset: number, actor: string, target: string | null, action: AuditAction = 'directory.connection.checked') => {
          clock.now = new Date(T0 + offset);
          return log.record({ actor, action, target, outcome: 'success' });
        };
        const a0 = await stamp(0, 'alice', 'acct-1');
        const b1 = await stamp(10, 'bob', 'acct-1');
        const a2 = await stamp(20, 'alice', 'acct-2');
        const a3 = await stamp(30, 'alice', 'acct-1', 'access.account.updated');
        const b4 = await stamp(40, 'bob', null);
        assert.deepEqual(await log.list({ limit: 10, actor: 'alice' }), [a3, a2, a0]);
        assert.deepEqual(await log.list({ limit: 10, target: 'acct-1' }), [a3, b1, a0]);
        assert.deepEqual(await log.list({ limit: 10, actor: 'alice', target: 'acct-1', action: 'directory.connection.checked' }), [a0]);
        assert.deepEqual(await log.list({ limit: 10, since: new Date(T0 + 10), until: new Date(T0 + 40) }), [a3, a2, b1]);
        assert.deepEqual(await log.list({ limit: 10, since: new Date(T0 + 40) }), [b4]);
        const first = await log.list({ limit: 1, actor: 'alice' });
        assert.deepEqual(first, [a3]);
        assert.deepEqual(await log.list({ limit: 5, actor: 'alice', before: first[0]?.id }), [a2, a0]);
        assert.deepEqual(await log.list({ limit: 10, actor: 'nobody' }), []);
      }));

    void it('reads rows stored under a legacy action name under the current name, and a filter by either name finds both', () =>
      withLog(async ({ log, storeLegacyRow }, clock) => {
        await storeLegacyRow('legacy-1', 'auth.sign_in', new Date(T0 - 1000));
        const [current] = await recordAt(log, clock, [0], 'auth.user.signed_in');
        await recordAt(log, clock, [5], 'session.revoked');
        const both = await log.list({ limit: 10, action: 'auth.user.signed_in' });
        assert.deepEqual(both.map((event) => [event.id, event.action]), [[current?.id, 'auth.user.signed_in'], ['legacy-1', 'auth.user.signed_in']]);
        assert.deepEqual(await log.list({ limit: 10, action: 'auth.sign_in' }), both);
      }));

    void it('refuses a limit out of range and an unknown cursor with audit.invalid_query', () =>
      withLog(async ({ log }) => {
        for (const limit of [0, -1, 1.5, 1001, Number.NaN]) {
          await assert.rejects(log.list({ limit }), (error) => isAppError(error, 'audit.invalid_query'), `limit ${limit}`);
        }
        await assert.rejects(
          log.list({ limit: 10, before: 'no-such-event' }),
          (error) => isAppError(error, 'audit.invalid_query'),
        );
      }));
  });
}
