/**
 * RADIUS MFA: the one-time code checked by the organisation's RADIUS servers (RFC 2865 PAP with
 * RFC 3579 Message-Authenticator). The MFA domain codes against this file only.
 */
export { createRadiusVerifier, type RadiusFailureCode, type RadiusLogger, type RadiusOutcome, type RadiusVerifier, type RadiusVerifierDeps } from './verifier.ts';
export { radiusOptionsSchema, radiusServerSchema, type RadiusConfig, type RadiusServer } from './options.ts';
