/**
 * Trusted forests: a directory extended to self-managed forests, as AWS extends its managed AD
 * with a trust. Users of a trusted forest — recognised by UPN suffix or NetBIOS domain name —
 * authenticate against that forest's own domain controllers, and their attributes and groups are
 * read from there. Everything else goes to the local directory. Portico reads trusted forests
 * with a read-only service account and never writes to them.
 */
import { z } from 'zod';
import { AppError, isAppError } from '#src/shared/errors.ts';
import { isGuid } from './ad-codec.ts';
import { compareGroups, createAdConnector } from './connector.ts';
import type { ConnectorDependencies } from './connector.ts';
import { domainOfDn, parseAccountName } from './account-name.ts';
import { directoryConnectionOptionsSchema } from './options.ts';
import type { DirectoryCheck, DirectoryConnector, DirectoryGroup, DirectoryUser, PrincipalSearchResult } from './types.ts';

export const trustedForestSchema = z.object({
  /** Extra UPN suffixes of the forest besides its DNS name (alternative UPN suffixes). */
  upnSuffixes: z.array(z.string().regex(/^[a-z0-9.-]+$/i)).default([]),
  connection: directoryConnectionOptionsSchema,
});
export type TrustedForestOptions = z.output<typeof trustedForestSchema>;

interface Forest {
  /** Set when validation refused the forest: it is never used, and sign-ins say why. */
  refused: string | null;
  domain: string;
  netbiosName: string | null;
  suffixes: Set<string>;
  connector: DirectoryConnector;
}

export interface TrustCheck {
  domain: string;
  ok: boolean;
  /** What an administrator reads: why the trust cannot be used, or what was verified. */
  reason: string;
  check: DirectoryCheck | null;
}

export interface ForestCheck extends DirectoryCheck {
  trusts: TrustCheck[];
}

export interface TrustingDirectory extends DirectoryConnector {
  check(): Promise<ForestCheck>;
}

/** Validates one trusted forest: it answers, passes directory validation, and its account reads users. */
export async function checkTrust(domain: string, connector: DirectoryConnector): Promise<TrustCheck> {
  try {
    const check = await connector.check();
    if (!check.verdict.accepted) return { domain, ok: false, reason: `The trusted forest ${domain} is refused: ${check.verdict.reason}`, check };
    if (!check.canReadUsers) {
      return { domain, ok: false, reason: `The service account for ${domain} cannot read users and their userAccountControl`, check };
    }
    return { domain, ok: true, reason: `${domain} answers and its service account reads users (${check.info.netbiosName})`, check };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { domain, ok: false, reason: `The trusted forest ${domain} does not answer: ${detail}`, check: null };
  }
}

/**
 * Opens every configured trusted forest for a directory. A forest that validation refuses is kept
 * only to say why at sign-in and in `check`; one that does not answer now is kept and retried.
 */
export async function openTrustedForests(
  trusts: TrustedForestOptions[],
  deps: ConnectorDependencies = {},
): Promise<Array<{ options: TrustedForestOptions; connector: DirectoryConnector; refused?: string; check: TrustCheck }>> {
  return Promise.all(
    trusts.map(async (options) => {
      const connector = createAdConnector(options.connection, deps);
      const check = await checkTrust(options.connection.domain, connector);
      const refused = !check.ok && check.check !== null ? check.reason : undefined;
      return { options, connector, check, ...(refused ? { refused } : {}) };
    }),
  );
}

/** Opens and validates a trusted forest; refuses it with the reason when validation fails. */
export async function connectTrustedForest(options: TrustedForestOptions, deps: ConnectorDependencies = {}): Promise<DirectoryConnector> {
  const connector = createAdConnector(options.connection, deps);
  const trust = await checkTrust(options.connection.domain, connector);
  if (!trust.ok) {
    await connector.close();
    throw new AppError('directory.trust_unavailable', trust.reason, { status: 400 });
  }
  return connector;
}

export function createTrustingDirectory(
  local: DirectoryConnector,
  trusts: Array<{ options: TrustedForestOptions; connector: DirectoryConnector; refused?: string }>,
): TrustingDirectory {
  const forests: Forest[] = trusts.map(({ options, connector, refused }) => ({
    refused: refused ?? null,
    domain: options.connection.domain.toLowerCase(),
    netbiosName: options.connection.netbiosName?.toUpperCase() ?? null,
    suffixes: new Set([options.connection.domain.toLowerCase(), ...options.upnSuffixes.map((s) => s.toLowerCase())]),
    connector,
  }));

  /** Errors of a trusted forest name the forest, so a broken trust is clear at sign-in. */
  async function viaForest<T>(forest: Forest, work: (connector: DirectoryConnector) => Promise<T>): Promise<T> {
    if (forest.refused) throw new AppError('directory.trust_unavailable', forest.refused, { status: 503 });
    try {
      return await work(forest.connector);
    } catch (error) {
      if (isAppError(error) && ['directory.unreachable', 'directory.timeout', 'directory.tls_failed', 'directory.service_account_rejected'].includes(error.code)) {
        throw new AppError('directory.trust_unavailable', `The trusted forest ${forest.domain} is unavailable: ${error.message}`, {
          status: 503,
          cause: error,
        });
      }
      throw error;
    }
  }

  async function netbiosOf(forest: Forest): Promise<string> {
    forest.netbiosName ??= (await viaForest(forest, (c) => c.discover())).netbiosName;
    return forest.netbiosName;
  }

  /**
   * The forest a spelling belongs to; null for the local directory (a bare sAMAccountName, or a
   * GUID, which the callers look for in each directory). `PARTNER\\bob`, `PARTNER.TEST\\bob`, a UPN
   * with one of the forest's suffixes and a DN under its domain all route to the forest.
   */
  async function forestOf(name: string): Promise<Forest | null> {
    const parsed = parseAccountName(name);
    if (!parsed || parsed.kind === 'samAccountName' || parsed.kind === 'guid') return null;
    for (const forest of forests) {
      if (parsed.kind === 'upn' && forest.suffixes.has(parsed.suffix)) return forest;
      if (parsed.kind === 'dn' && domainOfDn(parsed.dn) === forest.domain) return forest;
      if (parsed.kind === 'downLevel') {
        if (parsed.domain.toLowerCase() === forest.domain) return forest;
        if (parsed.domain.toUpperCase() === (await netbiosOf(forest))) return forest;
      }
    }
    return null;
  }

  /** A GUID names no forest: it is looked for in the local directory, then in each forest. */
  async function acrossForests<T>(work: (connector: DirectoryConnector) => Promise<T | null>): Promise<T | null> {
    const own = await work(local);
    if (own) return own;
    for (const forest of forests) {
      const found = await viaForest(forest, work);
      if (found) return found;
    }
    return null;
  }

  function forestOfGroup(group: DirectoryGroup): Forest | undefined {
    return forests.find((f) => group.qualifiedName.toLowerCase().endsWith(`@${f.domain}`));
  }

  function forestOfUser(user: DirectoryUser): Forest | null {
    return forests.find((f) => f.domain === user.domain) ?? null;
  }

  return {
    discover: () => local.discover(),
    async check() {
      const [own, ...others] = await Promise.all([
        local.check(),
        ...forests.map((f) => (f.refused ? Promise.resolve({ domain: f.domain, ok: false, reason: f.refused, check: null }) : checkTrust(f.domain, f.connector))),
      ]);
      return { ...own, trusts: others };
    },
    async findUser(name, options) {
      const forest = await forestOf(name);
      if (forest) return viaForest(forest, (c) => c.findUser(name, options));
      return isGuid(name.trim()) ? acrossForests((c) => c.findUser(name, options)) : local.findUser(name, options);
    },
    findUserByGuid(guid, options) {
      return acrossForests((c) => c.findUserByGuid(guid, options));
    },
    async findUsersByGuids(guids, options) {
      // A GUID names no forest: the local directory first, then each forest for those still missing.
      const found = await local.findUsersByGuids(guids, options);
      for (const forest of forests) {
        const seen = new Set(found.map((u) => u.guid.toLowerCase()));
        const missing = guids.filter((g) => !seen.has(g.toLowerCase()));
        if (missing.length === 0) break;
        found.push(...(await viaForest(forest, (c) => c.findUsersByGuids(missing, options))));
      }
      return found;
    },
    async resolveAccount(name) {
      // Each forest resolves (and caches) its own users' spellings, and knows its own service account.
      const forest = await forestOf(name);
      if (forest) return viaForest(forest, (c) => c.resolveAccount(name));
      return isGuid(name.trim()) ? acrossForests((c) => c.resolveAccount(name)) : local.resolveAccount(name);
    },
    async authenticate(name, password, options) {
      const forest = await forestOf(name);
      if (forest) return viaForest(forest, (c) => c.authenticate(name, password, options));
      if (isGuid(name.trim())) {
        // The directory that resolves the GUID binds it; none does: a wrong name, like any other.
        const account = options?.account ?? (await acrossForests((c) => c.resolveAccount(name)));
        const owner = account ? forests.find((f) => f.domain === account.domain) : undefined;
        return owner ? viaForest(owner, (c) => c.authenticate(name, password, { ...options, account })) : local.authenticate(name, password, { ...options, account });
      }
      return local.authenticate(name, password, options);
    },
    groupsOf(user, method) {
      const forest = forestOfUser(user);
      return forest ? viaForest(forest, (c) => c.groupsOf(user, method)) : local.groupsOf(user, method);
    },
    async findGroup(name) {
      const at = name.lastIndexOf('@');
      const forest = at > 0 ? forests.find((f) => f.domain === name.slice(at + 1).toLowerCase()) : undefined;
      if (forest) return viaForest(forest, (c) => c.findGroup(name));
      const own = await local.findGroup(name);
      // A bare objectGUID names no forest: like a user's, it is looked for in each of them.
      if (own || !isGuid(name)) return own;
      for (const other of forests) {
        const found = await viaForest(other, (c) => c.findGroup(name));
        if (found) return found;
      }
      return null;
    },
    groupMembers(group) {
      const forest = forestOfGroup(group);
      return forest ? viaForest(forest, (c) => c.groupMembers(group)) : local.groupMembers(group);
    },
    async searchPrincipals(prefix, options = {}) {
      // Pickers list every forest; a forest that does not answer is left out rather than
      // hiding the others, and its absence shows in `directory check`.
      const usable = forests.filter((f) => !f.refused).map((f) => f.connector);
      const results = await Promise.allSettled([local, ...usable].map((c) => c.searchPrincipals(prefix, options)));
      const first = results[0];
      if (first?.status === 'rejected') throw first.reason;
      const limit = options.limit ?? 50;
      const principals = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.principals : []));
      const merged: PrincipalSearchResult = {
        principals: principals.slice(0, limit),
        more: principals.length > limit || results.some((r) => r.status === 'fulfilled' && r.value.more),
      };
      return merged;
    },
    async listGroups(options) {
      // Each directory returns its next page in the shared order; merged, the first `limit` are
      // the next page of the whole. A forest that does not answer is left out, as in pickers.
      const usable = forests.filter((f) => !f.refused).map((f) => f.connector);
      const results = await Promise.allSettled([local, ...usable].map((c) => c.listGroups(options)));
      const first = results[0];
      if (first?.status === 'rejected') throw first.reason;
      const groups = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.groups : [])).sort(compareGroups);
      return {
        groups: groups.slice(0, options.limit),
        more: groups.length > options.limit || results.some((r) => r.status === 'fulfilled' && r.value.more),
      };
    },
    async sampleUsers(options) {
      // The local domain first, then each usable forest with what is left of the budget.
      const sample = await local.sampleUsers(options);
      for (const forest of forests.filter((f) => !f.refused)) {
        if (sample.more) break;
        if (sample.users.length >= options.limit) {
          // The budget is spent before this forest was read: it has users (at least its accounts).
          sample.more = true;
          break;
        }
        const more = await forest.connector.sampleUsers({ ...options, limit: options.limit - sample.users.length });
        sample.users.push(...more.users);
        sample.more = more.more;
      }
      return sample;
    },
    groupUserGuids(group) {
      const forest = forestOfGroup(group);
      return forest ? viaForest(forest, (c) => c.groupUserGuids(group)) : local.groupUserGuids(group);
    },
    directGroupsOf(user) {
      const forest = forestOfUser(user);
      return forest ? viaForest(forest, (c) => c.directGroupsOf(user)) : local.directGroupsOf(user);
    },
    parentGroupsOf(group) {
      const forest = forestOfGroup(group);
      return forest ? viaForest(forest, (c) => c.parentGroupsOf(group)) : local.parentGroupsOf(group);
    },
    childGroupsOf(group) {
      const forest = forestOfGroup(group);
      return forest ? viaForest(forest, (c) => c.childGroupsOf(group)) : local.childGroupsOf(group);
    },
    // The sync tracks the managed directory's own changes; trusted forests are read at sign-in.
    readChanges: (sinceUsn, options) => local.readChanges(sinceUsn, options),
    // The sync scope's OUs are the local directory's.
    findOrganizationalUnit: (name) => local.findOrganizationalUnit(name),
    organizationalUnitUserGuids: (ou) => local.organizationalUnitUserGuids(ou),
    status: () => [...local.status(), ...forests.flatMap((f) => f.connector.status())],
    async close() {
      await Promise.all([local.close(), ...forests.map((f) => f.connector.close())]);
    },
  };
}

