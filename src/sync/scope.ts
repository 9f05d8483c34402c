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
  /** The users below each scope OU, by the OU's lower-cased objectGUID. */
  ouUsers: Map<string, Set<string>>;
}

/**
 * `concurrency` bounds how many groups are read at once (each read holds a service connection):
 * the groups of one nesting level are read in waves of that size.
 */
export async function resolveScope(entries: readonly ScopeEntry[], reads: ScopeReads, concurrency = 1): Promise<ResolvedScope> {
  const groups = new Map<string, ScopedGroup>();
  const users = new Set<string>();
  const missing: ScopeEntry[] = [];
  const ouUsers = new Map<string, Set<string>>();
  const queue: DirectoryGroup[] = [];
  for (const entry of entries) {
    if (entry.kind === 'user') {
      users.add(entry.guid.toLowerCase());
      continue;
    }
    if (entry.kind === 'ou') {
      const ou = await reads.ou(entry.guid);
      if (ou === null) missing.push(entry);
      else {
        const below = new Set((await reads.ouUserGuids(ou)).map((guid) => guid.toLowerCase()));
        ouUsers.set(entry.guid.toLowerCase(), below);
        for (const guid of below) users.add(guid);
      }
      continue;
    }
    const group = await reads.group(entry.guid);
    if (group === null) missing.push(entry);
    else queue.push(group);
  }
  const started = new Set<string>();
  async function visit(group: DirectoryGroup): Promise<void> {
    const [children, members] = await Promise.all([reads.childGroups(group), reads.userGuids(group)]);
    const memberIds = members.map((g) => g.toLowerCase());
    groups.set(group.guid.toLowerCase(), { group, users: memberIds, groups: children.map((c) => c.guid.toLowerCase()) });
    for (const guid of memberIds) users.add(guid);
    for (const child of children) if (!started.has(child.guid.toLowerCase())) queue.push(child);
  }
  while (queue.length > 0) {
    const wave: DirectoryGroup[] = [];
    while (queue.length > 0 && wave.length < Math.max(1, concurrency)) {
      const group = queue.shift() as DirectoryGroup;
      const id = group.guid.toLowerCase();
      if (started.has(id)) continue; // seen already: a cycle or a group nested twice
      started.add(id);
      wave.push(group);
    }
    await Promise.all(wave.map(visit));
  }
  return { groups, users, missing, ouUsers };
}
