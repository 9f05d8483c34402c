/**
 * The AD connector against a real Samba 4 AD domain controller (test/samba/dc.sh). Samba is
 * refused by default validation; the connector suite then runs through the lab override.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectDirectory, createAdConnector } from '#src/directory/connector.ts';
import { sambaRefusal } from '#src/directory/rootdse.ts';
import { isAppError } from '#src/shared/errors.ts';
import { resetBadPasswordCounts, sambaOptions, sambaRuntime } from '../support/samba.ts';
import { connectorSuite } from './connector-suite.ts';

sambaRuntime(); // fail fast with a clear message when the DC is not running

describe('directory validation against Samba', () => {
  it('refuses Samba by default: "Simple AD (Samba4) is not supported as a connected directory"', async () => {
    const connector = createAdConnector(sambaOptions({ allowSamba: false }));
    try {
      const check = await connector.check();
      assert.equal(check.verdict.accepted, false);
      assert.equal(check.verdict.kind, 'samba');
      assert.ok(check.verdict.reason.startsWith(sambaRefusal), check.verdict.reason);
    } finally {
      await connector.close();
    }
    await assert.rejects(connectDirectory(sambaOptions({ allowSamba: false })), (error) => isAppError(error, 'directory.refused'));
  });

  it('refuses controllers that serve another domain than the configured one', async () => {
    const connector = createAdConnector(sambaOptions({ domain: 'other.example.test' }));
    try {
      const check = await connector.check();
      assert.equal(check.verdict.accepted, false);
      assert.match(check.verdict.reason, /serve corp\.example\.test, not the configured domain other\.example\.test/);
    } finally {
      await connector.close();
    }
  });

  it('accepts Samba only through the lab override, and says so', async () => {
    const { connector, check } = await connectDirectory(sambaOptions());
    try {
      assert.equal(check.verdict.accepted, true);
      assert.match(check.verdict.warnings.join('\n'), /Lab override allowSamba/);
      assert.equal(check.canReadUsers, true);
    } finally {
      await connector.close();
    }
  });
});

connectorSuite({
  name: 'the Samba AD DC (lab override: Samba accepted for testing)',
  setup: () => Promise.resolve(),
  teardown: () => Promise.resolve(),
  runtime: sambaRuntime,
  resetBadPasswordCounts,
});
