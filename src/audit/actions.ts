/**
 * Every action the audit log records, as one typed union, so a new event cannot invent a name
 * and a filter can offer the full list.
 *
 * Naming scheme: `<domain>[.<area>].<object>.<verb>`: dot-separated lower-case snake_case words,
 * starting with the domain that owns the action and ending in a past-tense verb for what was
 * done or attempted (`access.account.created`, `directory.managed.user.unlocked`,
 * `auth.user.signed_in`). Success and refusal share the action; the event's `outcome` (and
 * `errorCode`) tells them apart, so a refusal is never a separate name. Where the domain is the
 * object (`session`), the object is not repeated (`session.revoked`).
 *
 * Names used before this scheme (stored rows keep them) are listed in LEGACY_AUDIT_ACTIONS: the
 * audit log reads them back under their current name, and a filter by either name finds both.
 */

const ACCESS_RECORDS = ['account', 'permission_set', 'application', 'oidc_application'] as const;
const RECORD_VERBS = ['created', 'updated', 'deleted'] as const;

/** The managed directory's administrative changes, below `directory.managed.`. */
export const MANAGED_DIRECTORY_ACTIONS = [
  'user.created',
  'user.updated',
  'user.deleted',
  'user.password_set',
  'user.enabled',
  'user.disabled',
  'user.unlocked',
  'group.created',
  'group.deleted',
  'group.member_added',
  'group.member_removed',
  'ou.created',
  'ou.deleted',
  'object.restored',
  'ldif.imported',
  'ldif.exported',
] as const;
export type ManagedDirectoryAction = (typeof MANAGED_DIRECTORY_ACTIONS)[number];

export const AUDIT_ACTIONS = [
  ...ACCESS_RECORDS.flatMap((record) => RECORD_VERBS.map((verb) => `access.${record}.${verb}` as const)),
  'access.assignment.created',
  'access.assignment.deleted',
  'admin.bootstrap_token.issued',
  'admin.bootstrap_token.disabled',
  'admin.request.refused',
  'aws_sso.client.registered',
  'aws_sso.client.revoked',
  'aws_sso.device.started',
  'aws_sso.device.approved',
  'aws_sso.device.denied',
  'aws_sso.authorize.approved',
  'aws_sso.authorize.denied',
  'aws_sso.authorize.refused',
  'aws_sso.authorization_code.reused',
  'aws_sso.token.issued',
  'aws_sso.token.revoked',
  'aws_sso.portal.refused',
  'aws_sso.credentials.issued',
  'auth.user.signed_in',
  'aws.api.called',
  'aws.management.updated',
  'aws.management.removed',
  'aws.organizations.synced',
  'aws.role.provisioned',
  'aws.role.created',
  'aws.role.updated',
  'aws.role.deleted',
  'aws.saml_provider.updated',
  'aws.saml_provider.deleted',
  'auth.password.changed',
  'auth.throttle.cleared',
  'mfa.policy.updated',
  'mfa.device.registered',
  'mfa.device.removed',
  'mfa.device.renamed',
  'mfa.device.verified',
  'mfa.devices.reset',
  'mfa.recovery_codes.generated',
  'mfa.recovery_code.used',
  'directory.connection.checked',
  'directory.trust.validated',
  'directory.password.rehashed',
  ...MANAGED_DIRECTORY_ACTIONS.map((action) => `directory.managed.${action}` as const),
  'identity.mappings.checked',
  'identity.mappings.saved',
  'identity.user.provisioned',
  'identity.user.reprovisioned',
  'identity.user.updated',
  'identity.user.removed',
  'identity.user.directory_state_changed',
  'identity_source.changed',
  'identity_source.updated',
  'identitystore.api.refused',
  'identitystore.credential.created',
  'identitystore.credential.revoked',
  'saml.request.received',
  'saml.assertion.issued',
  'saml.aws_assertion.issued',
  'saml.logout.handled',
  'saml.key.staged',
  'saml.key.activated',
  'saml.key.retired',
  'oidc.application.secret_rotated',
  'oidc.token.granted',
  'oidc.token.refreshed',
  'oidc.authorization.refused',
  'oidc.logout.handled',
  'oidc.token.revoked',
  'oidc.refresh_token.reused',
  'oidc.backchannel_logout.sent',
  'oidc.key.staged',
  'oidc.key.activated',
  'oidc.key.retired',
  'session.signed_out',
  'session.revoked',
  'sync.scope.added',
  'sync.scope.removed',
  'sync.scope.cleared',
  'sync.run.completed',
  'sync.batch.completed',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Names written before the scheme, and their current names. Never remove an entry: old rows keep the old name. */
export const LEGACY_AUDIT_ACTIONS: Readonly<Record<string, AuditAction>> = {
  'admin.request': 'admin.request.refused',
  'auth.sign_in': 'auth.user.signed_in',
  'auth.password_change': 'auth.password.changed',
  'directory.connect': 'directory.connection.checked',
  'directory.trust.validate': 'directory.trust.validated',
  'identity_source.change': 'identity_source.changed',
  'saml.request': 'saml.request.received',
  'saml.sso': 'saml.assertion.issued',
  'saml.aws_sign_in': 'saml.aws_assertion.issued',
  'saml.logout': 'saml.logout.handled',
};

const known = new Set<string>(AUDIT_ACTIONS);

export function isAuditAction(name: string): name is AuditAction {
  return known.has(name);
}

/** A stored action under its current name (an unknown name, e.g. from a newer version, as it is). */
export function currentAuditAction(stored: string): string {
  return Object.hasOwn(LEGACY_AUDIT_ACTIONS, stored) ? (LEGACY_AUDIT_ACTIONS[stored] as AuditAction) : stored;
}

/** The stored names a filter by `name` (current or legacy) must match: the current name and every legacy name of it. */
export function storedAuditActions(name: string): string[] {
  const current = currentAuditAction(name);
  return [current, ...Object.keys(LEGACY_AUDIT_ACTIONS).filter((legacy) => LEGACY_AUDIT_ACTIONS[legacy] === current)];
}
