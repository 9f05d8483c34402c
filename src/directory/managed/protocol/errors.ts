/**
 * The one error the codec throws. Everything a peer can get wrong on the wire ends here, so the
 * server can answer any decoding failure the same way (Notice of Disconnection, protocolError)
 * and the fuzz tests can assert that nothing else ever escapes the decoder.
 */
import { AppError } from '../../../shared/errors.ts';

/** Stable sub-codes: tests and logs match on these, never on message text. */
export type ProtocolErrorReason =
  | 'ber.unsupported_tag'
  | 'ber.indefinite_length'
  | 'ber.length_too_long'
  | 'ber.truncated'
  | 'ber.unexpected_tag'
  | 'ber.invalid_integer'
  | 'ber.integer_too_large'
  | 'ber.invalid_boolean'
  | 'ber.invalid_null'
  | 'ber.invalid_utf8'
  | 'ldap.message_too_large'
  | 'ldap.not_a_message'
  | 'ldap.invalid_message_id'
  | 'ldap.unknown_operation'
  | 'ldap.invalid_enum'
  | 'ldap.invalid_filter'
  | 'ldap.filter_too_deep'
  | 'ldap.invalid_value';

export class ProtocolError extends AppError {
  readonly reason: ProtocolErrorReason;

  constructor(reason: ProtocolErrorReason, message: string) {
    // Wire errors are the peer's fault and say nothing secret: safe to show (status 400).
    super('directory.protocol_error', message, { status: 400, expose: true, details: { reason } });
    this.name = 'ProtocolError';
    this.reason = reason;
  }
}
