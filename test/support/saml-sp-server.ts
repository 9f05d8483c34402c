/**
 * A service provider on loopback for browser tests, built on @node-saml/node-saml (not ours):
 * GET /app starts an SP-initiated sign-in, POST /acs validates the Response and greets the user,
 * POST /aws/saml plays AWS sign-in (audience urn:amazon:webservices) and shows the role.
 * A refused assertion answers 403 with node-saml's reason.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';

export interface TestServiceProvider {
  url: string;
  entityId: string;
  acsUrl: string;
  awsSignInUrl: string;
  close(): Promise<void>;
}

const escape = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;

export async function startServiceProvider(options: { idpBaseUrl: string; idpCertificates: () => string[] }): Promise<TestServiceProvider> {
  let base = '';
  const entityId = 'https://wiki.browser.test/saml';
  const saml = () =>
    new SAML({
      callbackUrl: `${base}/acs`,
      entryPoint: `${options.idpBaseUrl}/saml/sso`,
      issuer: entityId,
      audience: entityId,
      idpIssuer: `${options.idpBaseUrl}/saml/metadata`,
      idpCert: options.idpCertificates(),
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      signatureAlgorithm: 'sha256',
      validateInResponseTo: ValidateInResponseTo.ifPresent,
      requestIdExpirationPeriodMs: 10 * 60_000,
      cacheProvider: cache,
    });
  const aws = () =>
    new SAML({
      callbackUrl: `${base}/aws/saml`,
      issuer: 'urn:amazon:webservices',
      audience: 'urn:amazon:webservices',
      idpIssuer: `${options.idpBaseUrl}/saml/metadata`,
      idpCert: options.idpCertificates(),
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      validateInResponseTo: ValidateInResponseTo.never,
    });
  // One InResponseTo cache across requests (node-saml keeps it per SAML instance otherwise).
  const ids = new Map<string, string>();
  const cache = {
    saveAsync: (key: string, value: string) => Promise.resolve((ids.set(key, value), { value, createdAt: Date.now() })),
    getAsync: (key: string) => Promise.resolve(ids.get(key) ?? null),
    removeAsync: (key: string | null) => Promise.resolve(key !== null && ids.delete(key) ? key : null),
  };

  const server: Server = createServer((request, response) => {
    const send = (status: number, html: string) => response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    void (async () => {
      if (request.method === 'GET' && request.url === '/app') {
        const location = await saml().getAuthorizeUrlAsync('/app', undefined, {});
        response.writeHead(302, { location }).end();
        return;
      }
      if (request.method === 'POST' && (request.url === '/acs' || request.url === '/aws/saml')) {
        let body = '';
        for await (const chunk of request) body += String(chunk);
        const fields = Object.fromEntries(new URLSearchParams(body));
        try {
          if (request.url === '/acs') {
            const { profile } = await saml().validatePostResponseAsync(fields);
            send(200, page('Wiki', `<p id="who">Welcome ${escape(String(profile?.email ?? profile?.nameID ?? ''))}</p><p id="relay">${escape(fields.RelayState ?? '')}</p>`));
          } else {
            const { profile } = await aws().validatePostResponseAsync(fields);
            const attribute = (name: string) => {
              const value = profile?.[`https://aws.amazon.com/SAML/Attributes/${name}`];
              return escape(typeof value === 'string' ? value : '');
            };
            send(200, page('AWS sign-in', `<p id="role">${attribute('Role')}</p><p id="session">${attribute('RoleSessionName')}</p><p id="relay">${escape(fields.RelayState ?? '')}</p>`));
          }
        } catch (error) {
          send(403, page('Refused', `<p id="error">${escape((error as Error).message)}</p>`));
        }
        return;
      }
      send(404, page('Not found', ''));
    })().catch((error: unknown) => send(500, page('Error', escape(String(error)))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    entityId,
    acsUrl: `${base}/acs`,
    awsSignInUrl: `${base}/aws/saml`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
