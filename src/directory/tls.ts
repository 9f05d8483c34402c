/**
 * TLS for domain controller connections: verification on by default against the system store or
 * a custom CA bundle, with optional pinning of leaf certificate SHA-256 fingerprints.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { AppError } from '#src/shared/errors.ts';
import type { DirectoryConnectionOptions } from './options.ts';

export type SecureConnect = (...args: unknown[]) => tls.TLSSocket;

function normalizeFingerprint(value: string): string {
  return value.replace(/:/g, '').toLowerCase();
}

export function certificateFingerprint(socket: tls.TLSSocket): string | null {
  const cert = socket.getPeerCertificate();
  return cert.fingerprint256 ? normalizeFingerprint(cert.fingerprint256) : null;
}

/**
 * Builds the secure-socket factory for one domain controller. ldapts calls it either as
 * (port, host, options) for ldaps:// or as (options) when upgrading with StartTLS.
 */
export function createSecureConnector(options: DirectoryConnectionOptions['tls'], host: string): SecureConnect {
  let ca: Buffer | undefined;
  if (options.caFile) {
    try {
      ca = readFileSync(options.caFile);
    } catch (cause) {
      throw new AppError('directory.tls_failed', `cannot read the CA bundle ${options.caFile}`, { cause, status: 400 });
    }
  }
  const pins = new Set((options.pinnedSha256 ?? []).map(normalizeFingerprint));
  const serverName = options.serverName ?? host;
  const base: tls.ConnectionOptions = {
    rejectUnauthorized: options.verify,
    minVersion: 'TLSv1.2',
    ...(ca ? { ca } : {}),
    // SNI must not carry an IP address (RFC 6066); identity checks still use it through `host`.
    ...(net.isIP(serverName) ? {} : { servername: serverName }),
    checkServerIdentity: (hostname, cert) => tls.checkServerIdentity(options.serverName ?? hostname, cert),
  };

  return (...args: unknown[]) => {
    const socket =
      typeof args[0] === 'number'
        ? tls.connect({ ...base, ...(args[2] as tls.ConnectionOptions), port: args[0], host: args[1] as string })
        : tls.connect({ host, ...(args[0] as tls.ConnectionOptions), ...base });
    if (pins.size > 0) {
      // Reject before the LDAP client sees a connected socket: the pin is checked on the
      // handshake's own event, and a mismatch surfaces as a connection error.
      const emit = socket.emit.bind(socket) as (event: string | symbol, ...rest: unknown[]) => boolean;
      socket.emit = ((event: string | symbol, ...rest: unknown[]): boolean => {
        if (event === 'secureConnect') {
          const fingerprint = certificateFingerprint(socket);
          if (!fingerprint || !pins.has(fingerprint)) {
            socket.destroy(
              Object.assign(new Error(`certificate fingerprint ${fingerprint ?? 'unknown'} is not pinned`), {
                code: 'ERR_PORTICO_CERT_NOT_PINNED',
              }),
            );
            return false;
          }
        }
        return emit(event, ...rest);
      }) as typeof socket.emit;
    }
    return socket;
  };
}
