/**
 * `mappings check` against real directories: the Samba DC and Portico's managed directory, loaded
 * with the same fixture (users without initials, a disabled user, 1,600 disabled bulk users). The
 * default table refuses nobody; Identity Center's refuses exactly the enabled users without
 * initials; the sample is read with a paged search that stops at the limit; the check is audited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent, AuditLog } from '#src/audit/index.ts';
import { createAdConnector } from '#src/directory/connector.ts';
import type { DirectoryConnector, LdapOperationEvent } from '#src/directory/types.ts';
import { checkMappings, runMappingCheck } from '#src/identity-store/mapping-check.ts';
import type { MappingSettings } from '#src/identity-store/mapping-settings.ts';
import { defaultMappings, identityCenterMappings } from '#src/identity-store/mappings.ts';
import { startManagedFixture, type ManagedFixture } from '../support/managed.ts';
import { fixture, sambaOptions, sambaRuntime, type SambaRuntime } from '../support/samba.ts';

type FixtureRecord = (typeof fixture.users)[number] & { initials?: string };
const users = fixture.users as FixtureRecord[];
const enabled = users.filter((u) => u.state !== 'disabled');
const withoutInitials = enabled.filter((u) => !u.initials).map((u) => u.upn);
const withInitials = enabled.filter((u) => u.initials).map((u) => u.upn);
const disabled = users.filter((u) => u.state === 'disabled').map((u) => u.upn);
const bulk = fixture.bigGroup?.memberCount ?? 0;

function memoryAudit(): AuditLog & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    events,
    record(input) {
      const event = { id: String(events.length + 1), occurredAt: new Date(), target: null, errorCode: null, details: {}, ...input } as AuditEvent;
      events.push(event);
      return Promise.resolve(event);
    },
    list: () => Promise.resolve([...events]),
  };
}

function suite(name: string, runtime: () => Promise<{ dc: SambaRuntime; stop: () => Promise<void> }>): void {
  describe(`mappings check: ${name}`, () => {
    let stop: () => Promise<void> = () => Promise.resolve();
    let connector: DirectoryConnector;
    let operations: LdapOperationEvent[] = [];

    before(async () => {
      const started = await runtime();
      stop = started.stop;
      connector = createAdConnector(sambaOptions({}, started.dc), { onOperation: (event) => operations.push(event) });
    });
    after(async () => {
      await connector?.close();
      await stop();
    });

    it('the default table refuses nobody in the whole directory; disabled accounts are not counted', async () => {
      const report = await checkMappings(connector, defaultMappings, { limit: 10_000, isDefault: true });
      assert.equal(report.more, false);
      assert.ok(report.sampled >= users.length + bulk, `sampled ${report.sampled}`);
      assert.ok(report.disabled >= disabled.length + bulk, `disabled ${report.disabled}`);
      assert.equal(report.checked, report.sampled - report.disabled);
      assert.equal(report.refusedUsers, 0);
      assert.deepEqual(report.mappings.map((m) => [m.target, m.refused]), Object.keys(defaultMappings).map((t) => [t, 0]));
    });

    it("Identity Center's table refuses every enabled user without initials, for that reason, and nobody else for it", async () => {
      const report = await checkMappings(connector, identityCenterMappings, { limit: 10_000, isDefault: false, examples: 10_000 });
      const middleName = report.mappings.find((m) => m.target === 'middleName');
      assert.ok(middleName);
      assert.equal(middleName.problems.length, 1);
      const [problem] = middleName.problems;
      assert.deepEqual({ reason: problem?.reason, attributes: problem?.attributes, description: problem?.description }, { reason: 'empty', attributes: ['initials'], description: '"initials" is empty' });
      const refused = new Set(problem?.examples);
      for (const upn of withoutInitials) assert.ok(refused.has(upn), `${upn} has no initials`);
      for (const upn of [...withInitials, ...disabled]) assert.ok(!refused.has(upn), `${upn} is not refused for initials`);
      assert.equal(middleName.refused, problem?.users);
      assert.equal(refused.size, problem?.users);
      assert.ok(report.refusedUsers >= withoutInitials.length);
      // Accounts the fixture did not create (Administrator) have no names either: refused by name too.
      assert.ok((report.mappings.find((m) => m.target === 'givenName')?.refused ?? 0) >= 1);
      // The default number of examples is a few.
      const few = await checkMappings(connector, identityCenterMappings, { limit: 10_000, isDefault: false });
      assert.equal(few.mappings.find((m) => m.target === 'middleName')?.problems[0]?.examples.length, 5);
    });

    it('reads at most the limit, with a paged search it leaves there', async () => {
      operations = [];
      const report = await checkMappings(connector, identityCenterMappings, { limit: 3, isDefault: false });
      assert.equal(report.sampled, 3);
      assert.equal(report.more, true);
      const searches = operations.filter((o) => o.operation === 'search' && o.scope === 'sub');
      assert.ok(searches.length > 0);
      assert.ok(searches.every((o) => o.paged === true), 'every subtree search is paged');
      const read = searches.reduce((sum, o) => sum + (o.entries ?? 0), 0);
      assert.ok(read <= 4, `read ${read} entries for a limit of 3`);
    });

    it('is audited with who ran it and the counts', async () => {
      const audit = memoryAudit();
      const mappings: MappingSettings = {
        current: () => Promise.resolve({ table: identityCenterMappings, isDefault: false }),
        save: () => Promise.reject(new Error('not used')),
        reset: () => Promise.reject(new Error('not used')),
        usePreset: () => Promise.reject(new Error('not used')),
      };
      const report = await runMappingCheck({ directory: connector, mappings, audit }, { limit: 10_000, actor: 'admin@example.test', trigger: 'on-demand' });
      assert.equal(audit.events.length, 1);
      const [event] = audit.events;
      assert.equal(event?.action, 'identity.mappings.checked');
      assert.equal(event?.actor, 'admin@example.test');
      assert.equal(event?.outcome, 'success');
      assert.deepEqual(event?.details, {
        trigger: 'on-demand',
        limit: 10_000,
        sampled: report.sampled,
        more: false,
        checked: report.checked,
        disabled: report.disabled,
        refusedUsers: report.refusedUsers,
        refusedByMapping: Object.fromEntries(report.mappings.filter((m) => m.refused > 0).map((m) => [m.target, m.refused])),
      });
      assert.ok(!JSON.stringify(event).includes('@corp') && !JSON.stringify(event).includes('@portico'), 'counts only: no user names in the audit');
    });
  });
}

suite('Samba AD DC', () => Promise.resolve({ dc: sambaRuntime(), stop: () => Promise.resolve() }));

let managed: ManagedFixture | null = null;
suite("Portico's managed directory (same fixture)", async () => {
  managed = await startManagedFixture();
  const started = managed;
  return { dc: started.runtime, stop: () => started.stop() };
});
