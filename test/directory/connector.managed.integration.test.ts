/**
 * The connector suite, unchanged, against Portico's managed directory loaded with the same
 * fixture as the Samba DC; and the managed directory's own verdict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectDirectory } from '#src/directory/connector.ts';
import { isAppError } from '#src/shared/errors.ts';
import { startManagedFixture } from '../support/managed.ts';
import type { ManagedFixture } from '../support/managed.ts';
import { sambaOptions } from '../support/samba.ts';
import { connectorSuite } from './connector-suite.ts';

let managed: ManagedFixture | null = null;
const current = (): ManagedFixture => {
  if (!managed) throw new Error('the managed directory is not started');
  return managed;
};

connectorSuite({
  name: "Portico's managed directory",
  setup: async () => {
    managed = await startManagedFixture();
  },
  teardown: async () => {
    await managed?.stop();
    managed = null;
  },
  runtime: () => current().runtime,
  resetBadPasswordCounts: (keys) => current().resetBadPasswordCounts(keys),
});

describe('the managed directory as seen by validation', () => {
  it('is recognised as the Portico managed directory, not as an AD to connect to', async () => {
    const fixture = await startManagedFixture();
    try {
      await assert.rejects(connectDirectory(sambaOptions({ allowSamba: false }, fixture.runtime)), (error) => {
        return isAppError(error, 'directory.refused') && /Portico managed directory/.test(error.message);
      });
    } finally {
      await fixture.stop();
    }
  });
});
