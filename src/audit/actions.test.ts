/** The audit action names: one scheme, and every legacy name mapped to a current one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUDIT_ACTIONS, currentAuditAction, isAuditAction, LEGACY_AUDIT_ACTIONS, storedAuditActions } from './actions.ts';

void describe('audit actions', () => {
  void it('all follow <domain>[.<area>].<object>.<verb>: lower-case snake_case words, at least two, no duplicates', () => {
    for (const action of AUDIT_ACTIONS) assert.match(action, /^[a-z][a-z_]*(\.[a-z][a-z_]*)+$/, action);
    assert.equal(new Set(AUDIT_ACTIONS).size, AUDIT_ACTIONS.length);
  });

  void it('maps every legacy name to a current one, and no legacy name is current', () => {
    for (const [legacy, current] of Object.entries(LEGACY_AUDIT_ACTIONS)) {
      assert.ok(isAuditAction(current), current);
      assert.ok(!isAuditAction(legacy), legacy);
      assert.equal(currentAuditAction(legacy), current);
    }
    assert.equal(currentAuditAction('auth.sign_in'), 'auth.user.signed_in');
    assert.equal(currentAuditAction('some.future.action'), 'some.future.action');
  });

  void it('a filter by a current or a legacy name matches the rows stored under both', () => {
    assert.deepEqual(storedAuditActions('saml.logout.handled'), ['saml.logout.handled', 'saml.logout']);
    assert.deepEqual(storedAuditActions('saml.logout'), ['saml.logout.handled', 'saml.logout']);
    assert.deepEqual(storedAuditActions('access.account.created'), ['access.account.created']);
  });
});
