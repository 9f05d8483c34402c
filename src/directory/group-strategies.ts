/**
 * The three ways the connector finds a user's transitive groups (options.groupResolution):
 * tokenGroups (the DC constructs the token), LDAP_MATCHING_RULE_IN_CHAIN (the DC walks `member`,
 * the group rule prunes), and a recursive memberOf walk (one batched search per nesting level).
 * Each applies the group rule of group-rule.ts; they read the directory only through GroupReads,
 * which the connector implements over one service connection and its group cache.
 */
import { carriesAccess, securityClosure } from './group-rule.ts';
import { filter } from './names.ts';
import type { GroupResolutionMethod } from './options.ts';
import { matchingRuleInChainOid } from './rootdse.ts';
import type { DirectoryGroup, DirectoryUser } from './types.ts';

/** DNs per search clause list. */
const batchSize = 100;
/** Nesting levels the recursive walk follows at most. */
const maxNestingDepth = 64;

/** A group entry found by a search, with its memberOf read on demand (all ranges). */
export interface GroupWithParents {
  dn: string;
  /** null when the entry is not a usable group (no GUID or SID). */
  group: DirectoryGroup | null;
  parents: () => Promise<string[]>;
}

export interface GroupReads {
  /** The naming context searched (for warnings). */
  baseDn: string;
  /** The tokenGroups SIDs of an entry (a base-scope read); empty when the entry is not found. */
  tokenGroupSids(dn: string): Promise<Buffer[]>;
  /** The groups of these SIDs in this domain; SIDs that are no group here resolve to nothing. */
  groupsBySids(sids: Buffer[]): Promise<DirectoryGroup[]>;
  /** The user's primary group (not in `member`), or none. */
  primaryGroup(user: DirectoryUser): Promise<DirectoryGroup[]>;
  /** Every memberOf value of an entry, all ranges read. */
  memberOf(dn: string): Promise<string[]>;
  /** Groups of this domain matching an extra filter clause (ANDed with the group filter). */
  searchGroups(clause: string): Promise<GroupWithParents[]>;
}

/** Breadth-first over memberOf, one batched search per nesting level, cycle-safe. */
async function recursiveGroups(reads: GroupReads, start: string[], cap: number): Promise<DirectoryGroup[]> {
  const seen = new Set<string>();
  const found: DirectoryGroup[] = [];
  let frontier = start;
  for (let depth = 0; frontier.length > 0 && depth < maxNestingDepth && found.length <= cap; depth += 1) {
    const fresh = frontier.filter((dn) => !seen.has(dn.toLowerCase()));
    fresh.forEach((dn) => seen.add(dn.toLowerCase()));
    const next: string[] = [];
    for (let i = 0; i < fresh.length; i += batchSize) {
      const clauses = fresh.slice(i, i + batchSize).map((dn) => filter`(distinguishedName=${dn})`).join('');
      for (const { group, parents } of await reads.searchGroups(`(|${clauses})`)) {
        // The group rule: distribution groups are neither counted nor walked through (as tokenGroups).
        if (!group || !carriesAccess(group)) continue;
        found.push(group);
        next.push(...(await parents()));
      }
    }
    frontier = next;
  }
  return found;
}

/**
 * The groups `method` finds for the user, before de-duplication and the cap (the recursive walk
 * stops once past the cap); warnings for what it could not resolve.
 */
export async function transitiveGroupsBy(method: GroupResolutionMethod, user: DirectoryUser, reads: GroupReads, cap: number): Promise<{ groups: DirectoryGroup[]; warnings: string[] }> {
  switch (method) {
    case 'tokenGroups': {
      // Constructed by the DC: the SIDs of every security group reached through security groups, primary group included.
      const sids = await reads.tokenGroupSids(user.dn);
      const resolved = await reads.groupsBySids(sids);
      const warnings =
        resolved.length < sids.length ? [`${sids.length - resolved.length} group SIDs are outside ${reads.baseDn} (well-known or other domains) and were not resolved`] : [];
      return { groups: resolved, warnings };
    }
    case 'matchingRuleInChain': {
      // The primary group is not in `member`, so its own nesting is followed separately.
      const primary = await reads.primaryGroup(user);
      const chains = await Promise.all([user.dn, ...primary.map((g) => g.dn)].map((dn) => reads.searchGroups(`(member:${matchingRuleInChainOid}:=${filter`${dn}`})`)));
      // The chain ignores group type; the group rule keeps what is reached through security groups only.
      const byDn = new Map<string, { group: DirectoryGroup; parents: string[] }>();
      for (const { dn, group, parents } of chains.flat()) {
        const read = await parents();
        if (group) byDn.set(dn.toLowerCase(), { group, parents: read });
      }
      // The primary group itself is not in its own chain: its parents are read here.
      for (const group of primary) byDn.set(group.dn.toLowerCase(), { group, parents: await reads.memberOf(group.dn) });
      const direct = await reads.memberOf(user.dn);
      return { groups: securityClosure([...primary.map((g) => g.dn), ...direct], (dn) => byDn.get(dn)), warnings: [] };
    }
    case 'recursive': {
      const primary = await reads.primaryGroup(user);
      const direct = await reads.memberOf(user.dn);
      return { groups: await recursiveGroups(reads, [...direct, ...primary.map((g) => g.dn)], cap), warnings: [] };
    }
  }
}
