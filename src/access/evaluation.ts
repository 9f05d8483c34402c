/**
 * "What can this person reach?" as a pure function: a user's own assignments plus those of every
 * group they are in, deduplicated per account × permission set and per application, each with
 * the ways it was granted (directly, or through a group and the nesting path that leads to it).
 */
import type { Assignment } from './model.ts';

export interface UserGroup {
  guid: string;
  qualifiedName: string;
  /** From the group the user is directly in up to this group (qualified names); [self] when direct or unknown. */
  path: string[];
}

export type Grant = { type: 'user' } | { type: 'group'; guid: string; name: string; path: string[] };

export interface CatalogEntry {
  id: string;
  name: string;
}

export interface Catalog {
  account(id: string): CatalogEntry | undefined;
  permissionSet(id: string): CatalogEntry | undefined;
  application(id: string): CatalogEntry | undefined;
}

export interface Entitlements {
  accounts: Array<{ account: CatalogEntry; permissionSets: Array<{ permissionSet: CatalogEntry; grants: Grant[] }> }>;
  applications: Array<{ application: CatalogEntry; grants: Grant[] }>;
  /** The user is in more groups than are evaluated: assignments to the rest are not counted. */
  groupsTruncated: boolean;
}

export function evaluateEntitlements(
  userGuid: string,
  groups: readonly UserGroup[],
  assignments: readonly Assignment[],
  catalog: Catalog,
  groupsTruncated = false,
): Entitlements {
  const groupsByGuid = new Map(groups.map((g) => [g.guid.toLowerCase(), g]));
  const accounts = new Map<string, { account: CatalogEntry; sets: Map<string, { permissionSet: CatalogEntry; grants: Grant[] }> }>();
  const applications = new Map<string, { application: CatalogEntry; grants: Grant[] }>();

  for (const assignment of assignments) {
    const grant = grantOf(assignment, userGuid.toLowerCase(), groupsByGuid);
    if (grant === null) continue;
    const { target } = assignment;
    if (target.type === 'account') {
      const account = catalog.account(target.accountId);
      const permissionSet = catalog.permissionSet(target.permissionSetId);
      // A record deleted under a cached assignment list grants nothing.
      if (account === undefined || permissionSet === undefined) continue;
      let entry = accounts.get(account.id);
      if (entry === undefined) accounts.set(account.id, (entry = { account, sets: new Map() }));
      let set = entry.sets.get(permissionSet.id);
      if (set === undefined) entry.sets.set(permissionSet.id, (set = { permissionSet, grants: [] }));
      set.grants.push(grant);
    } else {
      const application = catalog.application(target.applicationId);
      if (application === undefined) continue;
      let entry = applications.get(application.id);
      if (entry === undefined) applications.set(application.id, (entry = { application, grants: [] }));
      entry.grants.push(grant);
    }
  }

  const byName = <T>(name: (item: T) => string) => (a: T, b: T) => name(a).localeCompare(name(b));
  return {
    accounts: [...accounts.values()]
      .map(({ account, sets }) => ({ account, permissionSets: [...sets.values()].sort(byName((s) => s.permissionSet.name)) }))
      .sort(byName((a) => a.account.name)),
    applications: [...applications.values()].sort(byName((a) => a.application.name)),
    groupsTruncated,
  };
}

function grantOf(assignment: Assignment, userGuid: string, groups: Map<string, UserGroup>): Grant | null {
  const { principal } = assignment;
  if (principal.type === 'user') return principal.guid.toLowerCase() === userGuid ? { type: 'user' } : null;
  const group = groups.get(principal.guid.toLowerCase());
  return group === undefined ? null : { type: 'group', guid: group.guid, name: group.qualifiedName, path: group.path };
}

/**
 * Breadth-first over a graph of groups with nesting paths, cycle-safe and capped: used both
 * upwards (a user's groups and the groups they are in) and downwards (the groups inside an
 * assigned group). `next` gives the neighbours of a group.
 */
export async function walkGroups<G extends { guid: string; qualifiedName: string }>(
  start: readonly G[],
  next: ((group: G) => Promise<G[]>) | null,
  cap: number,
): Promise<{ groups: Array<G & { path: string[] }>; truncated: boolean }> {
  const seen = new Map<string, G & { path: string[] }>();
  let frontier = start.map((group) => ({ ...group, path: [group.qualifiedName] }));
  let truncated = false;
  while (frontier.length > 0) {
    const fresh: Array<G & { path: string[] }> = [];
    for (const group of frontier) {
      const key = group.guid.toLowerCase();
      if (seen.has(key)) continue;
      if (seen.size >= cap) {
        truncated = true;
        break;
      }
      seen.set(key, group);
      fresh.push(group);
    }
    if (truncated || next === null) break;
    frontier = [];
    for (const group of fresh) {
      for (const neighbour of await next(group)) {
        if (!seen.has(neighbour.guid.toLowerCase())) frontier.push({ ...neighbour, path: [...group.path, neighbour.qualifiedName] });
      }
    }
  }
  return { groups: [...seen.values()], truncated };
}
