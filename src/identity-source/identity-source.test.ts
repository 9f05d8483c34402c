/* eslint-disable @typescript-eslint/require-await -- the fakes answer at once, behind the ports' async signatures */
/**
 * Changing the identity source and the AD sync's scope: another directory clears the scope (its
 * objectGUIDs and USNs name objects of the old directory); the same domain with new connection
 * settings keeps it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditLog } from '#src/audit/index.ts';
import type { DirectoryConnectionStore, StoredDirectoryConnection } from '#src/directory/connection-store.ts';
import type { DirectoryConnectionOptions } from '#src/directory/options.ts';
import type { DirectoryCheck } from '#src/directory/types.ts';
import type { IdentityUserWriter } from '#src/identity-store/user.ts';
import { changeIdentitySource, IDENTITY_SOURCE_CONNECTION } from './identity-source.ts';

const corp = { domain: 'corp.example.test', urls: ['ldaps://dc1.corp.example.test'] } as unknown as DirectoryConnectionOptions;
const corpOtherDc = { domain: 'CORP.example.test', urls: ['ldaps://dc2.corp.example.test'] } as unknown as DirectoryConnectionOptions;
const partner = { domain: 'partner.example.test', urls: ['ldaps://dc1.partner.example.test'] } as unknown as DirectoryConnectionOptions;

function deps(stored: DirectoryConnectionOptions | null) {
  let connection: DirectoryConnectionOptions | null = stored;
  const cleared: string[] = [];
  const events: Array<{ action: string; details?: Record<string, unknown> }> = [];
  return {
    cleared,
    events,
    deps: {
      connections: {
        get: async (name: string) => (name === IDENTITY_SOURCE_CONNECTION && connection ? ({ name, options: connection } as unknown as StoredDirectoryConnection) : undefined),
        save: async (c: { options: DirectoryConnectionOptions }) => ((connection = c.options), c as unknown as StoredDirectoryConnection),
        remove: async () => ((connection = null), true),
        list: async () => [],
      } as unknown as DirectoryConnectionStore,
      users: { count: async () => 0, removeAll: async () => 0 } as unknown as IdentityUserWriter,
      revokeAllSessions: async () => 0,
      audit: { record: async (e: { action: string; details?: Record<string, unknown> }) => void events.push(e) } as unknown as AuditLog,
      validate: async () => ({ verdict: { accepted: true, reason: 'ok', warnings: [] } }) as unknown as DirectoryCheck,
      clearSyncScope: async (actor: string) => (cleared.push(actor), 2),
    },
  };
}

void describe('changing the identity source and the sync scope', () => {
  void it('clears the scope when the source becomes another directory (connector → connector, connector → managed, managed → connector)', async () => {
    for (const [from, to] of [
      [corp, { kind: 'connector', options: partner }],
      [corp, { kind: 'managed' }],
      [null, { kind: 'connector', options: corp }],
    ] as const) {
      const d = deps(from);
      const result = await changeIdentitySource(d.deps, undefined, { to, confirmDeletion: true, actor: 'admin:test' });
      assert.equal(result.changed, true);
      assert.equal(result.clearedSyncScope, 2);
      assert.deepEqual(d.cleared, ['admin:test']);
      assert.equal(d.events.at(-1)?.details?.clearedSyncScope, 2, 'the count is audited with the change');
    }
  });

  void it('keeps the scope when the same domain only gets new connection settings, and when managed stays managed', async () => {
    for (const [from, to] of [
      [corp, { kind: 'connector', options: corpOtherDc }],
      [null, { kind: 'managed' }],
    ] as const) {
      const d = deps(from);
      const result = await changeIdentitySource(d.deps, undefined, { to, confirmDeletion: false, actor: 'admin:test' });
      assert.equal(result.changed, false);
      assert.equal(result.clearedSyncScope, 0);
      assert.deepEqual(d.cleared, []);
    }
  });
});
