/**
 * The seam between the managed directory's LDAP server (protocol/, server/) and its directory
 * engine (engine/). The server decodes requests into these shapes, asks the backend, and encodes
 * the answers; the engine knows nothing about BER or sockets. Values are bytes (Buffer) as LDAP
 * carries them; attribute names keep the client's spelling and are matched case-insensitively.
 */

/** LDAP result codes (RFC 4511 §4.1.9) that Portico uses. */
export const ResultCode = {
  success: 0,
  operationsError: 1,
  protocolError: 2,
  timeLimitExceeded: 3,
  sizeLimitExceeded: 4,
  compareFalse: 5,
  compareTrue: 6,
  authMethodNotSupported: 7,
  strongerAuthRequired: 8,
  adminLimitExceeded: 11,
  unavailableCriticalExtension: 12,
  confidentialityRequired: 13,
  noSuchAttribute: 16,
  undefinedAttributeType: 17,
  inappropriateMatching: 18,
  constraintViolation: 19,
  attributeOrValueExists: 20,
  invalidAttributeSyntax: 21,
  noSuchObject: 32,
  invalidDNSyntax: 34,
  inappropriateAuthentication: 48,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
  unwillingToPerform: 53,
  namingViolation: 64,
  objectClassViolation: 65,
  notAllowedOnNonLeaf: 66,
  notAllowedOnRDN: 67,
  entryAlreadyExists: 68,
  other: 80,
} as const;
export type ResultCodeValue = (typeof ResultCode)[keyof typeof ResultCode];

export interface LdapResult {
  resultCode: ResultCodeValue;
  matchedDN?: string;
  /** For failed binds this carries AD's text: "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1". */
  diagnosticMessage?: string;
}

export interface Control {
  oid: string;
  critical: boolean;
  value?: Buffer;
}

/** RFC 4511 filter, as decoded from BER. Assertion values are raw bytes. */
export type Filter =
  | { type: 'and'; filters: Filter[] }
  | { type: 'or'; filters: Filter[] }
  | { type: 'not'; filter: Filter }
  | { type: 'equality' | 'greaterOrEqual' | 'lessOrEqual' | 'approx'; attribute: string; value: Buffer }
  | { type: 'substrings'; attribute: string; initial?: Buffer; any: Buffer[]; final?: Buffer }
  | { type: 'present'; attribute: string }
  | { type: 'extensible'; rule?: string; attribute?: string; value: Buffer; dnAttributes: boolean };

export type SearchScope = 'base' | 'one' | 'sub';

export interface SearchRequest {
  baseObject: string;
  scope: SearchScope;
  derefAliases: number;
  /** 0 = no limit requested; the backend applies its own cap as well. */
  sizeLimit: number;
  /** Seconds; 0 = no limit requested. */
  timeLimit: number;
  typesOnly: boolean;
  filter: Filter;
  /** As requested: may include '*', '+', '1.1' and ranged names such as 'member;range=0-1499'. */
  attributes: string[];
}

export interface PartialAttribute {
  /** The name as returned, e.g. 'member;range=0-1499' or 'member;range=1500-*'. */
  type: string;
  values: Buffer[];
}

export interface SearchResultEntry {
  objectName: string;
  attributes: PartialAttribute[];
}

/** Who is on the other end of one LDAP connection. */
export interface Session {
  readonly id: string;
  /** DN of the bound identity; null while anonymous. */
  boundDn: string | null;
  /** TLS (LDAPS or after StartTLS). */
  secure: boolean;
  remoteAddress: string;
}

export interface SearchSink {
  /**
   * Resolves when the entry was written to the socket (back-pressure); rejects with the
   * server's SearchAbortedError once `signal` is aborted, which stops a blocked producer.
   */
  entry(entry: SearchResultEntry): Promise<void>;
  /** Aborted by an Abandon request, the time limit, or the connection closing. */
  signal: AbortSignal;
}

export interface Modification {
  operation: 'add' | 'delete' | 'replace';
  type: string;
  values: Buffer[];
}

export interface AddRequest {
  entry: string;
  attributes: Array<{ type: string; values: Buffer[] }>;
}

export interface ModifyDnRequest {
  entry: string;
  newRdn: string;
  deleteOldRdn: boolean;
  newSuperior?: string;
}

/** RFC 3062 Password Modify; identity and old password are optional as in the RFC. */
export interface PasswordModifyRequest {
  userIdentity?: string;
  oldPassword?: string;
  newPassword?: string;
}

export interface DirectoryBackend {
  /**
   * Simple bind. `name` is as sent (a DN, a UPN or DOMAIN\name); an empty name with an empty
   * password is an anonymous bind. On success `boundDn` is the entry's DN.
   */
  bind(session: Session, name: string, password: Buffer): Promise<{ result: LdapResult; boundDn?: string | null }>;
  /** A search, including the rootDSE (base '' scope base); handles the paged-results control. */
  search(session: Session, request: SearchRequest, controls: Control[], sink: SearchSink): Promise<{ result: LdapResult; controls?: Control[] }>;
  add(session: Session, request: AddRequest): Promise<LdapResult>;
  modify(session: Session, dn: string, changes: Modification[]): Promise<LdapResult>;
  delete(session: Session, dn: string): Promise<LdapResult>;
  modifyDn(session: Session, request: ModifyDnRequest): Promise<LdapResult>;
  compare(session: Session, dn: string, attribute: string, value: Buffer): Promise<LdapResult>;
  /** Returns the generated password when the request asked for one (no newPassword). */
  passwordModify(session: Session, request: PasswordModifyRequest): Promise<{ result: LdapResult; genPassword?: string }>;
  /** Forgets what the backend keeps per connection (open paged searches) once it closes. */
  closeSession?(sessionId: string): void;
}

export const oids = {
  pagedResults: '1.2.840.113556.1.4.319',
  matchingRuleInChain: '1.2.840.113556.1.4.1941',
  startTls: '1.3.6.1.4.1.1466.20037',
  whoAmI: '1.3.6.1.4.1.4203.1.11.3',
  passwordModify: '1.3.6.1.4.1.4203.1.11.1',
  noticeOfDisconnection: '1.3.6.1.4.1.1466.20036',
} as const;
