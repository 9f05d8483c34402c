/**
 * Settings of RADIUS MFA (`mfa.radius` in the configuration): the organisation's RADIUS servers,
 * asked in order, and how long Portico waits for each. The shared secret is never a setting
 * itself: it is read from `secretFile` (a mounted container secret, a file of mode 0600), so it
 * stays out of the configuration file, the environment and the logs.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

// A DNS name (RFC 1123 labels) or an IP address; no scheme, no port.
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

export const radiusServerSchema = z.object({
  host: z
    .string()
    .refine((value) => isIP(value) !== 0 || HOST_NAME.test(value), 'must be a host name or an IP address (no scheme, no port)'),
  port: z.number().int('must be a whole number').min(1, 'must be from 1 to 65535').max(65535, 'must be from 1 to 65535').default(1812),
});

export const radiusOptionsSchema = z.object({
  /** Asked in this order: the next only when one gives no usable answer. */
  servers: z.array(radiusServerSchema).min(1, 'name at least one RADIUS server').max(10, 'at most 10 RADIUS servers'),
  /** A file holding the shared secret (one trailing newline dropped); relative paths resolve against the working directory. */
  secretFile: z.string().min(1, 'must be a file path'),
  /** How long to wait for an answer to one transmission. */
  timeoutMs: z.number().int('must be a whole number of milliseconds').min(100, 'must be from 100 to 60000').max(60_000, 'must be from 100 to 60000').default(3000),
  /** Retransmissions to the same server after the first send, before moving to the next server. */
  retries: z.number().int('must be a whole number').min(0, 'must be from 0 to 10').max(10, 'must be from 0 to 10').default(1),
  /** Sent as NAS-Identifier (RFC 2865 §5.32): lets the RADIUS server tell Portico's requests apart. */
  nasIdentifier: z.string().min(1).max(253).default('portico'),
  /**
   * Refuse replies without a Message-Authenticator (the Blast-RADIUS defence, CVE-2024-3596).
   * Off by default: servers from before mid-2024 (FreeRADIUS < 3.2.5, Debian 12's 3.2.1) send it
   * only with EAP. Replies that carry one are always checked.
   */
  requireMessageAuthenticator: z.boolean().default(false),
});

export type RadiusServer = z.output<typeof radiusServerSchema>;
export type RadiusConfig = z.output<typeof radiusOptionsSchema>;
