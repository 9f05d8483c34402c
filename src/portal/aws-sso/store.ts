/**
 * What the AWS-compatible SSO OIDC and portal APIs keep: client registrations, device codes and
 * grants (an access token with its refresh token). Everything lives in the database so that every
 * instance on one database accepts what another issued; bearer secrets (client secrets, device
 * codes, access and refresh tokens) are stored only as SHA-256 hashes. The user code is shown to
 * a person and typed by them, so it is stored as it is (short-lived, single-use, useless without
 * the device code the client holds).
 *
 * State changes that must happen once (deciding a device code, redeeming it, rotating a refresh
 * token) are conditional updates that report whether they won, so two instances racing on the
 * same code or token cannot both succeed.
 */

export interface SsoClient {
  clientId: string;
  secretHash: string;
  name: string;
  scopes: string[];
  registeredAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  /** The address the registration came from (rate limit per address). */
  registeredFrom: string;
  /** The grant types it may use; empty for registrations that named none (device code and refresh token). */
  grantTypes: string[];
  /** Loopback redirect URIs for the authorization-code grant (port free, RFC 8252 §7.3). */
  redirectUris: string[];
  issuerUrl: string | null;
}

/** The person who approved a device code, as the grant keeps them (the access evaluation reads the groups). */
export interface SsoPrincipal {
  userId: string;
  userGuid: string;
  userName: string;
  displayName: string | null;
  groups: Array<{ guid: string; qualifiedName: string }>;
  groupsTruncated: boolean;
  /** When the person signed in (their groups were read then). */
  signedInAt: Date;
}

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'redeemed';

export interface DeviceCode {
  deviceCodeHash: string;
  userCode: string;
  clientId: string;
  startUrl: string;
  createdAt: Date;
  expiresAt: Date;
  intervalSeconds: number;
  lastPolledAt: Date | null;
  status: DeviceCodeStatus;
  decidedAt: Date | null;
  principal: SsoPrincipal | null;
}

export interface SsoGrant {
  id: string;
  clientId: string;
  accessTokenHash: string;
  accessExpiresAt: Date;
  refreshTokenHash: string;
  /** The end of the whole sign-in: refresh tokens stop working then (the portal session duration). */
  expiresAt: Date;
  scopes: string[];
  principal: SsoPrincipal;
  createdAt: Date;
  /** When the directory last confirmed that the user exists and may sign in. */
  checkedAt: Date;
  revokedAt: Date | null;
}

/** A code issued at the authorize endpoint (authorization-code grant with PKCE). */
export interface AuthorizationCode {
  codeHash: string;
  clientId: string;
  /** Exactly as the authorize request gave it (with its port): CreateToken must repeat it. */
  redirectUri: string;
  /** S256 challenge: base64url(SHA-256(code verifier)). */
  codeChallenge: string;
  scopes: string[];
  principal: SsoPrincipal;
  createdAt: Date;
  expiresAt: Date;
  redeemedAt: Date | null;
  /** The grant issued for it, once redeemed (revoked when the code is presented again). */
  grantId: string | null;
}

export interface AwsSsoStore {
  createClient(client: SsoClient): Promise<void>;
  getClient(clientId: string): Promise<SsoClient | undefined>;
  /** False when there was no such live registration. */
  revokeClient(clientId: string, at: Date): Promise<boolean>;
  listClients(at: Date): Promise<SsoClient[]>;
  countClientsRegisteredSince(address: string, since: Date): Promise<number>;

  createDeviceCode(code: DeviceCode): Promise<void>;
  findDeviceCode(deviceCodeHash: string): Promise<DeviceCode | undefined>;
  findDeviceCodeByUserCode(userCode: string): Promise<DeviceCode | undefined>;
  countDeviceCodesSince(clientId: string, since: Date): Promise<number>;
  /** Records a poll, and the interval the client must keep from now on. */
  recordPoll(deviceCodeHash: string, at: Date, intervalSeconds: number): Promise<void>;
  /** Approves or denies a pending, unexpired code; false when it was not (any more). */
  decideDeviceCode(userCode: string, decision: { status: 'approved'; principal: SsoPrincipal } | { status: 'denied' }, at: Date): Promise<boolean>;
  /** Marks an approved code redeemed; false when another request redeemed it first. */
  redeemDeviceCode(deviceCodeHash: string, at: Date): Promise<boolean>;

  createAuthorizationCode(code: AuthorizationCode): Promise<void>;
  findAuthorizationCode(codeHash: string): Promise<AuthorizationCode | undefined>;
  /** Marks an unredeemed code redeemed for `grantId`; false when another request redeemed it first. */
  redeemAuthorizationCode(codeHash: string, at: Date, grantId: string): Promise<boolean>;

  createGrant(grant: SsoGrant): Promise<void>;
  findGrantByAccessToken(accessTokenHash: string): Promise<SsoGrant | undefined>;
  findGrantByRefreshToken(refreshTokenHash: string): Promise<SsoGrant | undefined>;
  /** Replaces both tokens when the refresh token is still `fromRefreshHash`; false when it was already used. */
  rotateGrant(id: string, fromRefreshHash: string, next: { accessTokenHash: string; accessExpiresAt: Date; refreshTokenHash: string }): Promise<boolean>;
  markGrantChecked(id: string, at: Date): Promise<void>;
  revokeGrant(id: string, at: Date): Promise<boolean>;
  revokeGrantsOfUser(userGuid: string, at: Date): Promise<number>;
  revokeGrantsOfClient(clientId: string, at: Date): Promise<number>;
  /** Deletes device codes, authorization codes, grants and registrations that ended before `before`. */
  purge(before: Date): Promise<number>;
}
