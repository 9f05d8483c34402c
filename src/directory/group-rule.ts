/**
 * The one rule for which groups carry access, as AD's own token has it: only security groups, and
 * only as reached through security groups. A distribution group grants nothing, and a security
 * group a user is in only by way of a distribution group grants nothing either (tokenGroups leaves
 * both out; verified on the Samba DC: ursula ∈ Grp-Dist-Global ∈ Grp-Via-Dist, and tokenGroups has
 * no Grp-Via-Dist). Every group-resolution method, the `direct` mode, `access explain`, `access who`
 * and assignment creation apply it through these functions.
 */
import type { GroupKind } from './ad-codec.ts';

/** Whether a group can carry access: a security group (distribution groups are mailing lists). */
export function carriesAccess(group: { kind: GroupKind }): boolean {
  return group.kind === 'security';
}

/** The groups of a list that carry access, in their order. */
export function securityGroupsOnly<G extends { kind: GroupKind }>(groups: readonly G[]): G[] {
  return groups.filter(carriesAccess);
}

/**
 * The security groups reachable from `start` (the groups a user is directly in, the primary group
 * included) by following parents through security groups only: what a transitive set read without
 * regard to group type (LDAP_MATCHING_RULE_IN_CHAIN, a memberOf walk) becomes under the rule.
 * Keys are compared case-insensitively (DNs); unknown keys are ignored; cycles terminate.
 */
export function securityClosure<G extends { kind: GroupKind }>(start: readonly string[], groupOf: (key: string) => { group: G; parents: readonly string[] } | undefined): G[] {
  const seen = new Set<string>();
  const found: G[] = [];
  let frontier = [...start];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const key of frontier) {
      const lower = key.toLowerCase();
      if (seen.has(lower)) continue;
      seen.add(lower);
      const node = groupOf(lower);
      if (node === undefined || !carriesAccess(node.group)) continue;
      found.push(node.group);
      next.push(...node.parents);
    }
    frontier = next;
  }
  return found;
}
