/**
 * Settings of Portico's managed directory: the built-in AD-compatible directory that is the
 * identity source when no connector is configured.
 */
import { z } from 'zod';
import { trustedForestSchema } from '../trust.ts';
import { maxArgon2Parameters, owaspArgon2Parameters, type Argon2Parameters } from './engine/password.ts';

/** One Argon2id parameter: OWASP's recommendation by default, and only raising it is accepted. */
function argon2Setting(key: keyof Argon2Parameters, letter: string) {
  const min = owaspArgon2Parameters[key];
  const max = maxArgon2Parameters[key];
  return z
    .number()
    .int()
    .min(min, `below OWASP's recommended Argon2id parameters (m=${owaspArgon2Parameters.memoryKiB} KiB, t=${owaspArgon2Parameters.timeCost}, p=${owaspArgon2Parameters.parallelism}): ${letter} can only be raised from ${min}`)
    .max(max, `${letter} above ${max} would make every sign-in that slow or that large`)
    .default(min);
}

export const managedDirectoryOptionsSchema = z
  .object({
    /** DNS name of the managed domain; users sign in as name@domain. */
    domain: z.string().regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/i, 'must be a DNS domain name with at least two labels').default('portico.test'),
    /** NetBIOS name for DOMAIN\name sign-ins. */
    netbiosName: z.string().regex(/^[A-Za-z0-9-]{1,15}$/, 'must be 1–15 letters, digits or hyphens').default('PORTICO'),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        /** LDAP with StartTLS (AD's 389); 0 picks a free port. */
        ldapPort: z.number().int().min(0).max(65535).default(3389),
        /** LDAPS (AD's 636); 0 picks a free port. */
        ldapsPort: z.number().int().min(0).max(65535).default(6636),
      })
      .prefault({}),
    tls: z
      .object({
        /** PEM certificate and key for LDAPS/StartTLS; generated self-signed in <dataDir>/managed-directory when absent. */
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .prefault({})
      .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), { message: 'certFile and keyFile go together', path: ['keyFile'] }),
    /** Plain LDAP binds with passwords: never in production (the same opt-in as the connector's). */
    allowPlainLdap: z.boolean().default(false),
    /** Password of the domain's Administrator at provisioning; generated and written to <dataDir>/managed-directory/administrator-password when absent. */
    administratorPassword: z.string().min(1).optional(),
    /**
     * Lock out the domain's Administrator at the lockout threshold like any account. Off by
     * default, as Windows AD does for its built-in RID-500 Administrator: wrong passwords still
     * fail and count, but nobody can lock the domain out of its own administration.
     */
    lockOutAdministrator: z.boolean().default(false),
    /** Seed a demo forest (OUs, users, nested groups, one disabled and one locked user) at first start. */
    demoForest: z.boolean().default(true),
    /**
     * Argon2id for new password hashes (OWASP's m=19 MiB, t=2, p=1 by default; only raising them is
     * accepted) and how many hash verifications run at once (the cores by default; the rest queue).
     */
    passwordHashing: z
      .object({
        /** Memory per hash in KiB (Argon2id's m). */
        memoryKiB: argon2Setting('memoryKiB', 'm'),
        /** Passes over that memory (t). */
        timeCost: argon2Setting('timeCost', 't'),
        /** Lanes (p). */
        parallelism: argon2Setting('parallelism', 'p'),
        maxConcurrentVerifications: z.number().int().min(1).max(256).optional(),
      })
      .prefault({}),
    /**
     * Days a deleted object is kept as a tombstone (visible with the Show Deleted control to
     * administrators and Portico's service account, restorable) before it is purged: AD's
     * tombstoneLifetime, 180 by default.
     */
    tombstoneLifetimeDays: z.number().int().min(1).max(3650).default(180),
    /** Self-managed forests this directory trusts (their users sign in against their own DCs). */
    trusts: z.array(trustedForestSchema).default([]),
  })
  .prefault({});

export type ManagedDirectoryOptions = z.output<typeof managedDirectoryOptionsSchema>;
