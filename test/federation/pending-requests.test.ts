/**
 * Which client a waiting SAML request counts against. The store's bounds (count, bytes, lifetime,
 * a client's share) are part of the PendingRequestStore contract (test/contract/saml-state.contract.ts),
 * run on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientKey } from '#src/federation/pending-requests.ts';

void describe('waiting SAML requests', () => {
  it('counts IPv4 by address and IPv6 by /64 network', () => {
    assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
    assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  });
});
