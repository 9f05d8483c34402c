/**
 * Group membership as the engine reads it: transitive walks up and down the member links (for the
 * LDAP_MATCHING_RULE_IN_CHAIN filters), the token groups of an entry (AD's security-only rule),
 * and who counts as an administrator (Domain Admins or BUILTIN\Administrators in the token).
 */
import { ResultCode, type Session } from '../backend.ts';
import { currentPolicy, entryByDn, type EngineContext } from './context.ts';
import type { FilterResolver } from './filter.ts';
import { insufficientText, LdapFailure, notBoundText } from './results.ts';
import { groupTypeBits, wellKnownRids } from './schema.ts';
import { indexKey, type DirectoryReads, type StoredEntry } from './store.ts';
import { first, int } from './values.ts';

/** Every GUID reachable from `start` by `step` (one hop of links), transitively; cycle-safe. */
async function reachable(start: string[], step: (frontier: string[]) => Promise<string[]>): Promise<Set<string>> {
  const seen = new Set<string>();
  let frontier = start;
  while (frontier.length > 0) {
    const next = await step(frontier);
    frontier = [];
    for (const guid of next) {
      if (!seen.has(guid)) {
        seen.add(guid);
        frontier.push(guid);
      }
    }
  }
  return seen;
}

/** GUIDs of every group containing one of `start`, transitively. */
function groupsAbove(start: string[], reads: DirectoryReads): Promise<Set<string>> {
  return reachable(start, async (frontier) => (await reads.linksOfMembers(frontier)).map((link) => link.group));
}

/** GUIDs of every member of `group`, transitively. */
function membersBelow(group: string, reads: DirectoryReads): Promise<Set<string>> {
  return reachable([group], async (frontier) => (await reads.linksOfGroups(frontier)).map((link) => link.member));
}

async function primaryGroupOf(entry: StoredEntry, domainSid: string | null, reads: DirectoryReads): Promise<StoredEntry | undefined> {
  const rid = first(entry.attributes, 'primaryGroupID');
  if (rid === undefined || domainSid === null) return undefined;
  return (await reads.lookup('objectSid', indexKey('objectSid', `${domainSid}-${rid}`)))[0];
}

/** Every group the entry is in, transitively, the primary group and its nesting included. */
export async function tokenGroupEntries(ctx: EngineContext, entry: StoredEntry, reads: DirectoryReads = ctx.store): Promise<StoredEntry[]> {
  const { domainSid } = await currentPolicy(ctx, reads);
  const primary = await primaryGroupOf(entry, domainSid, reads);
  // As AD builds a token: only security groups, reached through security groups only (a
  // security group the entry is in only by way of a distribution group is not in it).
  const found = new Map<string, StoredEntry>(primary ? [[primary.guid, primary]] : []);
  let frontier = [entry.guid, ...(primary ? [primary.guid] : [])];
  while (frontier.length > 0) {
    const above = [...new Set((await reads.linksOfMembers(frontier)).map((link) => link.group))].filter((guid) => !found.has(guid) && guid !== entry.guid);
    const read: StoredEntry[] = [];
    for (let i = 0; i < above.length; i += 500) read.push(...(await reads.getByGuids(above.slice(i, i + 500))));
    const security = read.filter((g) => (int(g.attributes, 'groupType') >>> 0) & groupTypeBits.security);
    for (const group of security) found.set(group.guid, group);
    frontier = security.map((g) => g.guid);
  }
  return [...found.values()];
}

export function resolverFor(ctx: EngineContext, reads: DirectoryReads = ctx.store): FilterResolver {
  return {
    schemaNdn: ctx.schemaNdn,
    guidOfDn: async (dn) => (await entryByDn(ctx, dn, reads))?.guid ?? null,
    groupsInChain: (guid) => groupsAbove([guid], reads),
    membersInChain: (guid) => membersBelow(guid, reads),
    directGroups: async (guid) => new Set((await reads.linksOfMembers([guid])).map((l) => l.group)),
    directMembers: async (guid) => new Set((await reads.linksOfGroups([guid])).map((l) => l.member)),
  };
}

/** The bound entry when its token holds Domain Admins or BUILTIN\Administrators, else null. */
export async function isAdministrator(ctx: EngineContext, session: Session): Promise<StoredEntry | null> {
  if (session.boundDn === null) return null;
  const entry = await entryByDn(ctx, session.boundDn);
  if (!entry) return null;
  const { domainSid } = await currentPolicy(ctx);
  if (domainSid === null) return null;
  const admins = `${domainSid}-${wellKnownRids.domainAdmins}`.toUpperCase();
  const groups = await tokenGroupEntries(ctx, entry);
  return groups.some((g) => g.sid?.toUpperCase() === admins || g.sid === 'S-1-5-32-544') ? entry : null;
}

export function requireBound(session: Session): void {
  if (session.boundDn === null) throw new LdapFailure(ResultCode.operationsError, notBoundText);
}

export async function requireAdmin(ctx: EngineContext, session: Session): Promise<StoredEntry> {
  requireBound(session);
  const admin = await isAdministrator(ctx, session);
  if (!admin) throw new LdapFailure(ResultCode.insufficientAccessRights, insufficientText);
  return admin;
}
