/**
 * Apache httpd with mod_auth_openidc (Debian's packages) as a real OpenID Connect relying party,
 * started for one test: a self-contained configuration in a temporary directory, one process in
 * the foreground (-X) on a free loopback port, protecting /protected/ with a CGI page that echoes
 * the OIDC_CLAIM_* variables mod_auth_openidc passes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const APACHE = '/usr/sbin/apache2';
export const MOD_AUTH_OPENIDC = '/usr/lib/apache2/modules/mod_auth_openidc.so';
const MODULES = '/usr/lib/apache2/modules';

export interface ApacheRp {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The redirect URI to register at the provider. */
  redirectUri: string;
  /** Where logout returns (register it as a post-logout redirect URI). */
  loggedOutUrl: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/** The URLs the relying party will use on `port` (to register the client before Apache starts). */
export function apacheRpUrls(port: number): { url: string; redirectUri: string; loggedOutUrl: string } {
  const url = `http://127.0.0.1:${port}`;
  return { url, redirectUri: `${url}/protected/redirect_uri`, loggedOutUrl: `${url}/logged-out.html` };
}

const CLAIMS_CGI = `#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\r\\n\\r\\n'
echo "protected page"
env | grep '^OIDC_CLAIM_' | sort
`;

export async function startApacheRp(options: { port: number; metadataUrl: string; clientId: string; clientSecret: string; scope?: string }): Promise<ApacheRp> {
  // Portico loads the OpenID library at its first /oidc request, which takes seconds on a loaded
  // machine; mod_auth_openidc gives discovery 5 s. Ask once first, as an administrator would.
  const discovery = await fetch(options.metadataUrl, { signal: AbortSignal.timeout(60_000) });
  if (!discovery.ok) throw new Error(`the provider's discovery answered ${discovery.status}`);
  const dir = mkdtempSync(join(tmpdir(), 'portico-apache-'));
  // Apache drops to nobody (it runs as root here): its files must be readable by anyone.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'htdocs'));
  mkdirSync(join(dir, 'cgi'));
  writeFileSync(join(dir, 'htdocs', 'logged-out.html'), '<!doctype html><title>Logged out</title><p>logged out of the relying party</p>\n');
  writeFileSync(join(dir, 'cgi', 'claims.cgi'), CLAIMS_CGI);
  chmodSync(join(dir, 'cgi', 'claims.cgi'), 0o755);
  const { url, redirectUri, loggedOutUrl } = apacheRpUrls(options.port);
  const conf = `
ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${options.port}
PidFile "${dir}/httpd.pid"
ErrorLog "${dir}/error.log"
LogLevel warn auth_openidc:info
${process.getuid?.() === 0 ? 'User nobody\nGroup nogroup' : ''}
LoadModule mpm_prefork_module ${MODULES}/mod_mpm_prefork.so
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule authz_user_module ${MODULES}/mod_authz_user.so
LoadModule alias_module ${MODULES}/mod_alias.so
LoadModule cgi_module ${MODULES}/mod_cgi.so
LoadModule auth_openidc_module ${MOD_AUTH_OPENIDC}
DocumentRoot "${dir}/htdocs"
<Directory "${dir}/htdocs">
  Require all granted
</Directory>
ScriptAlias /protected/claims "${dir}/cgi/claims.cgi"
<Directory "${dir}/cgi">
  Options +ExecCGI
  Require all granted
</Directory>

OIDCProviderMetadataURL ${options.metadataUrl}
OIDCClientID ${options.clientId}
OIDCClientSecret ${options.clientSecret}
OIDCRedirectURI ${redirectUri}
OIDCCryptoPassphrase ${randomBytes(24).toString('hex')}
OIDCScope "${options.scope ?? 'openid profile email groups'}"
OIDCPKCEMethod S256
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCPassClaimsAs environment
OIDCClaimDelimiter ,
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
`;
  writeFileSync(join(dir, 'httpd.conf'), conf);
  const child: ChildProcess = spawn(APACHE, ['-f', join(dir, 'httpd.conf'), '-X'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '') + output;

  // Ready once it answers (the logged-out page needs no authentication).
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`apache2 exited (${child.exitCode}): ${errorLog().slice(-2000)}`);
    try {
      const response = await fetch(loggedOutUrl);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`apache2 did not answer within 15 s: ${errorLog().slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    redirectUri,
    loggedOutUrl,
    errorLog,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
