/** The managed directory's LDAP/LDAPS server. */
export { createLdapServer, defaultLimits } from './server.ts';
export type { LdapServer, LdapServerLimits, LdapServerOptions } from './server.ts';
export type { LdapServerLogger } from './connection.ts';
export { SearchAbortedError } from './connection.ts';
export { adDiagnostics } from './ad-diagnostics.ts';
