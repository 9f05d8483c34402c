/**
 * The sync scope resolved against the directory: the administrator's groups with every group
 * nested in them, transitively (a visited set makes cycles harmless), their direct user members,
 * the users anywhere below the OUs, and the single users. An OU brings users only: its groups
 * are not synced unless a scope group holds them.
 */
import type { DirectoryGroup, DirectoryOrganizationalUnit } from '#src/directory/types.ts';
import type { ScopeEntry } from './ports.ts';

export interface ScopeReads {
  /** A group by objectGUID; null when AD has none. */
  group(guid: string): Promise<DirectoryGroup | null>;
  childGroups(group: DirectoryGroup): Promise<DirectoryGroup[]>;
  /** objectGUIDs of the users directly in the group. */
  userGuids(group: DirectoryGroup): Promise<string[]>;
  /** An OU by objectGUID; null when AD has none. */
  ou(guid: string): Promise<DirectoryOrganizationalUnit | null>;
  /** objectGUIDs of the users below the OU, whole subtree. */
  ouUserGuids(ou: DirectoryOrganizationalUnit): Promise<string[]>;
}

export interface ScopedGroup {
  group: DirectoryGroup;
  users: string[];
  groups: string[];
}

export interface ResolvedScope {
  /** Every group in scope by lower-cased objectGUID, with its direct members. */
  groups: Map<string, ScopedGroup>;
  /** Every user in scope (lower-cased objectGUIDs): group members, transitively, and single users. */
  users: Set<string>;
  /** Scope groups and OUs AD no longer has. */
  missing: ScopeEntry[];
}

export async function resolveScope(entries: readonly ScopeEntry[], reads: ScopeReads): Promise<ResolvedScope> {
  const groups = new Map<string, ScopedGroup>();
  const users = new Set<string>();
  const missing: ScopeEntry[] = [];
  const queue: DirectoryGroup[] = [];
  for (const entry of entries) {
    if (entry.kind === 'user') {
      users.add(entry.guid.toLowerCase());
      continue;
    }
    if (entry.kind === 'ou') {
      const ou = await reads.ou(entry.guid);
      if (ou === null) missing.push(entry);
      else for (const guid of await reads.ouUserGuids(ou)) users.add(guid.toLowerCase());
      continue;
    }
    const group = await reads.group(entry.guid);
    if (group === null) missing.push(entry);
    else queue.push(group);
  }
  while (queue.length > 0) {
    const group = queue.shift() as DirectoryGroup;
    const id = group.guid.toLowerCase();
    if (groups.has(id)) continue; // seen already: a cycle or a group nested twice
    const [children, members] = await Promise.all([reads.childGroups(group), reads.userGuids(group)]);
    const memberIds = members.map((g) => g.toLowerCase());
    groups.set(id, { group, users: memberIds, groups: children.map((c) => c.guid.toLowerCase()) });
    for (const guid of memberIds) users.add(guid);
    for (const child of children) if (!groups.has(child.guid.toLowerCase())) queue.push(child);
  }
  return { groups, users, missing };
}
