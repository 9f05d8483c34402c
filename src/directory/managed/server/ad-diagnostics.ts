/**
 * Diagnostic texts the server writes itself, copied from Active Directory so that clients and
 * administrators who grep for AD's codes recognise them (DSID and version are AD's, not ours).
 */
export const adDiagnostics = {
  /** Simple bind with a password on a connection without TLS (AD: LDAP signing required). */
  strongerAuthRequired:
    '00002028: LdapErr: DSID-0C090259, comment: The server requires binds to turn on integrity checking if SSL\\TLS are not already active on the connection, data 0, v4563',
  /** Anything but the rootDSE while anonymous. */
  bindRequired: '000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563',
} as const;
