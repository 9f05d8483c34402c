/**
 * One error model for the whole product: a stable, namespaced code, an HTTP status and whether
 * the message may be shown to the caller. Protocol edges (LDAP result codes, SAML status) map
 * these codes to their own vocabulary; nothing else inspects message text.
 */
export type ErrorCode =
  | 'config.invalid'
  | 'config.file_unreadable'
  | 'config.tls_invalid'
  | 'start.listen_failed'
  | 'start.failed'
  | 'backup.target_exists'
  | 'backup.invalid'
  | 'backup.key_mismatch'
  | 'console.not_built'
  | 'storage.unavailable'
  | 'storage.not_found'
  | 'storage.conflict'
  | 'storage.corrupt_record'
  | 'storage.migration_failed'
  | 'storage.schema_too_new'
  | 'secrets.key_invalid'
  | 'secrets.key_unavailable'
  | 'secrets.key_file_insecure'
  | 'secrets.decrypt_failed'
  | 'audit.invalid_query'
  | 'directory.unreachable'
  | 'directory.timeout'
  | 'directory.tls_failed'
  | 'directory.insecure_transport'
  | 'directory.service_account_rejected'
  | 'directory.refused'
  | 'directory.user_not_found'
  | 'directory.ambiguous_user'
  | 'directory.invalid_input'
  | 'directory.protocol_error'
  | 'directory.trust_unavailable'
  | 'directory.import_failed'
  | 'directory.operation_failed'
  | 'identity.email_conflict'
  | 'identity.mapping_invalid'
  | 'identity.mapping_value_missing'
  | 'identity.user_not_found'
  | 'sync.directory_unavailable'
  | 'sync.scope_not_found'
  | 'sync.scope_exists'
  | 'sync.invalid_request'
  | 'identity_source.change_refused'
  | 'identity_source.unavailable'
  | 'auth.invalid_credentials'
  | 'auth.account_disabled'
  | 'auth.account_locked'
  | 'auth.account_expired'
  | 'auth.password_expired'
  | 'auth.password_must_change'
  | 'auth.not_permitted'
  | 'auth.throttled'
  | 'auth.directory_unavailable'
  | 'auth.directory_refused'
  | 'auth.session_invalid'
  | 'auth.csrf_failed'
  | 'auth.invalid_request'
  | 'auth.password_rejected'
  | 'auth.throttle_not_found'
  | 'access.invalid'
  | 'access.not_found'
  | 'access.conflict'
  | 'access.limit_exceeded'
  | 'access.metadata_invalid'
  | 'access.principal_not_found'
  | 'access.distribution_group'
  | 'admin.unauthenticated'
  | 'admin.forbidden'
  | 'admin.origin_refused'
  | 'api.invalid_request'
  | 'api.unsupported_media_type'
  | 'api.unauthorized'
  | 'api.not_found'
  | 'saml.request_malformed'
  | 'saml.request_too_large'
  | 'saml.relay_state_too_long'
  | 'saml.request_dtd_forbidden'
  | 'saml.unknown_application'
  | 'saml.acs_url_not_registered'
  | 'saml.binding_unsupported'
  | 'saml.destination_mismatch'
  | 'saml.request_expired'
  | 'saml.request_not_yet_valid'
  | 'saml.request_replayed'
  | 'saml.signature_required'
  | 'saml.signature_invalid'
  | 'saml.signature_algorithm_unsupported'
  | 'saml.name_id_unavailable'
  | 'saml.certificate_invalid'
  | 'saml.key_state'
  | 'saml.key_invalid'
  | 'saml.request_unknown'
  | 'saml.replay_cache_full'
  | 'saml.pending_full'
  | 'saml.no_authn_context'
  | 'access.not_assigned'
  | 'federation.role_name_invalid'
  | 'federation.sts_refused'
  | 'federation.sts_unavailable'
  | 'aws_sso.invalid_request'
  | 'aws_sso.invalid_client'
  | 'aws_sso.invalid_client_metadata'
  | 'aws_sso.invalid_redirect_uri'
  | 'aws_sso.invalid_grant'
  | 'aws_sso.unsupported_grant_type'
  | 'aws_sso.invalid_scope'
  | 'aws_sso.authorization_pending'
  | 'aws_sso.slow_down'
  | 'aws_sso.expired_token'
  | 'aws_sso.access_denied'
  | 'aws_sso.unauthorized'
  | 'aws_sso.not_found'
  | 'mfa.invalid_code'
  | 'mfa.throttled'
  | 'mfa.device_limit'
  | 'mfa.device_not_found'
  | 'mfa.invalid_name'
  | 'mfa.factor_not_allowed'
  | 'mfa.policy_invalid'
  | 'mfa.enrolment_required'
  | 'mfa.blocked'
  | 'mfa.required'
  | 'mfa.unavailable'
  | 'access.accounts_from_organizations'
  | 'aws.not_configured'
  | 'aws.management_invalid'
  | 'aws.call_failed'
  | OidcErrorCode;

/** The OpenID provider's codes: Portico's own, and the OAuth `error` values it audits. */
export const OIDC_PROTOCOL_ERRORS = ['invalid_grant', 'invalid_client', 'invalid_request', 'invalid_scope', 'invalid_token', 'invalid_redirect_uri', 'access_denied', 'login_required', 'consent_required', 'interaction_required', 'unauthorized_client', 'unsupported_grant_type', 'unsupported_response_type', 'server_error'] as const;
export type OidcErrorCode = 'oidc.user_unknown' | 'oidc.application_unknown' | 'oidc.application_disabled' | 'oidc.key_state' | 'oidc.interaction_unknown' | 'oidc.backchannel_logout_failed' | 'oidc.error' | `oidc.${(typeof OIDC_PROTOCOL_ERRORS)[number]}`;

/** An OAuth `error` value as an audit code (unknown values become `oidc.error`). */
export function oidcErrorCode(error: string | undefined): OidcErrorCode {
  return error !== undefined && (OIDC_PROTOCOL_ERRORS as readonly string[]).includes(error) ? (`oidc.${error}` as OidcErrorCode) : 'oidc.error';
}

export interface AppErrorOptions {
  status?: number;
  /** Whether `message` is safe to show to the caller (never for internals or secrets). */
  expose?: boolean;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? this.status < 500;
    this.details = options.details;
  }
}

export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}
