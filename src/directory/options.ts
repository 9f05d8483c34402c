/**
 * What an administrator configures to reach a self-managed AD domain. The schema is the single
 * source of truth: the config file, the stored connection and the CLI flags all parse through it.
 */
import { z } from 'zod';

export const groupResolutionMethods = ['tokenGroups', 'matchingRuleInChain', 'recursive'] as const;
export type GroupResolutionMethod = (typeof groupResolutionMethods)[number];

const ldapUrl = z
  .string()
  .regex(/^ldaps?:\/\/[^/\s]+\/?$/i, 'must look like ldaps://host[:port] or ldap://host[:port]');

export const directoryConnectionOptionsSchema = z
  .object({
    /** DNS name of the AD domain, e.g. corp.example.test. */
    domain: z.string().min(1).regex(/^[a-z0-9.-]+$/i, 'must be a DNS domain name'),
    /** NetBIOS name (CORP) accepted in DOMAIN\\name sign-ins; discovered when omitted. */
    netbiosName: z.string().min(1).max(15).optional(),
    /** Domain controllers in order of preference; the first healthy one serves. */
    urls: z.array(ldapUrl).min(1),
    /** Search base; the rootDSE's defaultNamingContext when omitted. */
    baseDn: z.string().min(1).optional(),
    serviceAccount: z.object({
      /** UPN (svc@corp.example.test), DOMAIN\\name or a DN. */
      username: z.string().min(1),
      password: z.string().min(1),
    }),
    tls: z
      .object({
        /** Upgrade ldap:// URLs with StartTLS (the default for ldap:// URLs). */
        startTls: z.boolean().default(true),
        /** PEM bundle of the CAs that issued the domain controllers' certificates. */
        caFile: z.string().min(1).optional(),
        /** SHA-256 fingerprints (hex, colons optional) of accepted leaf certificates. */
        pinnedSha256: z.array(z.string().regex(/^([0-9a-f]{2}:?){32}$/i)).optional(),
        /** Expected certificate host name when it differs from the URL's host. */
        serverName: z.string().min(1).optional(),
        /** Certificate verification; turning it off is refused unless pinning is configured. */
        verify: z.boolean().default(true),
      })
      .prefault({}),
    /** Plain, unencrypted LDAP: passwords cross the network in clear. Never in production. */
    allowPlainLdap: z.boolean().default(false),
    /** Lab override: accept a Samba4-based directory (Simple AD). Never in production. */
    allowSamba: z.boolean().default(false),
    timeouts: z
      .object({
        connectMs: z.number().int().positive().default(5000),
        operationMs: z.number().int().positive().default(10000),
      })
      .prefault({}),
    pool: z
      .object({
        /** Connections kept open per domain controller. */
        size: z.number().int().min(1).max(64).default(4),
        idleMs: z.number().int().positive().default(60000),
      })
      .prefault({}),
    /** How often a failed controller is probed so that service fails back to it. */
    healthCheckIntervalMs: z.number().int().positive().default(15000),
    /** Entries per page of a paged search; Windows AD caps pages at 1,000. */
    pageSize: z.number().int().min(1).max(1000).default(500),
    /** Values per range of a multi-valued attribute; Windows AD returns at most 1,500. */
    rangeSize: z.number().int().min(1).max(1500).default(1500),
    groupResolution: z.enum(groupResolutionMethods).default('tokenGroups'),
    /** Groups evaluated per user, as Identity Center caps it. */
    maxGroups: z.number().int().min(1).max(1000).default(1000),
  })
  .superRefine((value, ctx) => {
    const plain = value.urls.some((url) => url.toLowerCase().startsWith('ldap://'));
    if (plain && !value.tls.startTls && !value.allowPlainLdap) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'startTls'],
        message: 'ldap:// without StartTLS sends passwords in clear; set allowPlainLdap: true to accept that',
      });
    }
    if (!value.tls.verify && !value.tls.pinnedSha256?.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'verify'],
        message: 'certificate verification can only be turned off when pinnedSha256 is set',
      });
    }
  });

export type DirectoryConnectionOptions = z.output<typeof directoryConnectionOptionsSchema>;
export type DirectoryConnectionInput = z.input<typeof directoryConnectionOptionsSchema>;
