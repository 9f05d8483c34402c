/**
 * Shared pieces of the SAML tests: Portico's IdP credentials, service-provider keys, an
 * application record, an identity-store user, and node-saml (an independent SP implementation)
 * configured against them.
 */
import { deflateRawSync } from 'node:zlib';
import { SAML, ValidateInResponseTo, type SamlConfig } from '@node-saml/node-saml';
import type { Application } from '#src/access/model.ts';
import { toProvisionedUser, type IdentityUser } from '#src/identity-store/user.ts';
import { generateSelfSignedCertificate, type GeneratedCertificate } from '#src/shared/certificates.ts';
import { certificateBase64 } from '#src/federation/saml/keys.ts';
import type { IdentityProvider } from '#src/federation/saml/response.ts';

export const IDP_ENTITY_ID = 'https://portico.example.test/saml/metadata';
export const SSO_URL = 'https://portico.example.test/saml/sso';
export const SLO_URL = 'https://portico.example.test/saml/slo';
export const SP_ENTITY_ID = 'https://sp.example.test/metadata';
export const SP_ACS_URL = 'https://sp.example.test/saml/acs';
export const SP_SLO_URL = 'https://sp.example.test/saml/slo';
export const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

// RSA key generation is the slow part (~50 ms each): make each credential once.
const certificate = (commonName: string): GeneratedCertificate => generateSelfSignedCertificate({ commonName, altNames: [], validDays: 30 });
export const idpCert = certificate('portico idp');
export const idpNextCert = certificate('portico idp next');
export const spSigningCert = certificate('sp signing');
export const spEncryptionCert = certificate('sp encryption');
export const otherCert = certificate('someone else');

export const idp: IdentityProvider = { entityId: IDP_ENTITY_ID, signing: { keyPem: idpCert.keyPem, certificate: idpCert.certPem } };

export function application(overrides: Partial<Application> = {}): Application {
  return {
    id: 'app-1',
    name: 'Example SP',
    entityId: SP_ENTITY_ID,
    acsUrls: [SP_ACS_URL, 'https://sp.example.test/saml/acs2'],
    nameIdFormat: 'persistent',
    sessionDuration: 'PT8H',
    attributeMappings: [],
    signResponse: false,
    tags: {},
    ...overrides,
  };
}

/** A finder over a fixed list, as the access store would answer. */
export const finder =
  (...applications: Application[]) =>
  (entityId: string) =>
    Promise.resolve(applications.find((a) => a.entityId === entityId));

export function user(overrides: { guid?: string; email?: string | null } = {}): IdentityUser {
  const guid = overrides.guid ?? '0f5e6b9a-3c2d-4e1f-8a7b-6c5d4e3f2a1b';
  const provisioned = toProvisionedUser(
    { guid, sid: 'S-1-5-21-1-2-3-1105', userPrincipalName: 'alice@corp.example.test', domain: 'corp.example.test' },
    {
      ...(overrides.email === null ? {} : { email: overrides.email ?? 'alice@corp.example.test' }),
      givenName: 'Zoë',
      familyName: 'Hallström',
      name: 'Zoë Hallström',
      subject: 'alice@corp.example.test',
      title: 'Engineer',
      department: 'R&D <core>',
    },
  );
  const at = new Date('2024-01-01T00:00:00Z');
  return { ...provisioned, userId: 'u-1', createdAt: at, provisionedAt: at };
}

/** node-saml as the service provider; override anything per test. */
export function serviceProvider(overrides: Partial<SamlConfig> = {}): SAML {
  return new SAML({
    callbackUrl: SP_ACS_URL,
    entryPoint: SSO_URL,
    logoutUrl: SLO_URL,
    issuer: SP_ENTITY_ID,
    audience: SP_ENTITY_ID,
    idpIssuer: IDP_ENTITY_ID,
    idpCert: idpCert.certPem,
    identifierFormat: PERSISTENT,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    validateInResponseTo: ValidateInResponseTo.always,
    ...overrides,
  });
}

/** The raw query string of a URL (what an HTTP route receives after `?`). */
export const rawQuery = (url: string): string => new URL(url).search.slice(1);

/** An HTTP-Redirect query carrying `xml`, unsigned. */
export const redirectQuery = (xml: string): string => `SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}`;

/** A hand-written AuthnRequest, for shapes node-saml does not produce. */
export function authnRequestXml(attributes: Record<string, string> = {}, issuer = SP_ENTITY_ID): string {
  const all = { ID: '_req1', Version: '2.0', IssueInstant: new Date().toISOString(), ...attributes };
  const rendered = Object.entries(all)
    .map(([name, value]) => ` ${name}="${value}"`)
    .join('');
  return `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"${rendered}><saml:Issuer>${issuer}</saml:Issuer></samlp:AuthnRequest>`;
}

/** An EC (P-256) certificate in base64 DER, like the SP metadata tests use; RSA-OAEP cannot encrypt for it. */
export const EC_CERTIFICATE =
  'MIIBkTCCATegAwIBAgIUSWfUrAe+xLk1t6z/H17eOnBDLukwCgYIKoZIzj0EAwIwHjEcMBoGA1UEAwwTc3AuZXhhbXBsZS5jb20gc2lnbjAeFw0yNjExMjcwMTE0MjFaFw0zNjExMjQwMTE0MjFaMB4xHDAaBgNVBAMME3NwLmV4YW1wbGUuY29tIHNpZ24wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATXAR5CSGGMx8WLHXBYVszR3wUZ8QOG623F0VgN4gA86nmvtQJ8v5KDMNtX1x60aJQoOJFUXYOtmA8bIwJ4kNRao1MwUTAdBgNVHQ4EFgQUgwBs6rS/t9fMV2pT2k0D6doBYdwwHwYDVR0jBBgwFoAUgwBs6rS/t9fMV2pT2k0D6doBYdwwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAd47ZaaMvJNmcDakMs/GHVxFKio2D1Bhc4p65YhyB/KgIhANl7l6qvlfUBfucuz/FFdH+Lj1Mgtbd+CORlcb4T2Nk2';

/** The application record stores certificates as base64 DER. */
export const stored = (pem: string): string => certificateBase64(pem);

/** A P-256 key and self-signed certificate made with openssl for these tests (node:crypto's generator here makes RSA only). */
export const EC_SP_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg75Ra3WwVNsq1ZTvQ
9mp5pVMrmTw3ssl90TYvTlVI912hRANCAAR8UONw3H5VXnFEBRflR23e7+kvV79Y
DFD6v98q5cJedBoPWEy/p9bMIbYdebq4kPn2B9L7lg9J+H1MzGXqXgz3
-----END PRIVATE KEY-----
`;
export const EC_SP_CERT = `-----BEGIN CERTIFICATE-----
MIIBlTCCATugAwIBAgIUOm3O/v657f6j8UlvSYq9Qcxl1+swCgYIKoZIzj0EAwIw
IDEeMBwGA1UEAwwVc3AuZXhhbXBsZS50ZXN0IGVjZHNhMB4XDTI2MTEyNzAyMDUx
OVoXDTM2MTEyNDAyMDUxOVowIDEeMBwGA1UEAwwVc3AuZXhhbXBsZS50ZXN0IGVj
ZHNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfFDjcNx+VV5xRAUX5Udt3u/p
L1e/WAxQ+r/fKuXCXnQaD1hMv6fWzCG2HXm6uJD59gfS+5YPSfh9TMxl6l4M96NT
MFEwHQYDVR0OBBYEFEHgt/p5oCb35usrz19UnlERN8vXMB8GA1UdIwQYMBaAFEHg
t/p5oCb35usrz19UnlERN8vXMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
SAAwRQIgKUqHuTPC4Ezwo23OdkbyZ9kyAs0ndOJUaEIRNXr0vbkCIQCX4aTvtLpN
atpz33NR3Fa+ozABQF2UmqcvDvP9UxYXpQ==
-----END CERTIFICATE-----
`;
