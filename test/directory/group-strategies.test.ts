/**
 * Unit test of the connector's three group strategies over a fake GroupReads (the real reads are
 * covered by the connector suites against Samba and the managed directory): each applies the
 * group rule the same way on one graph with a distribution group, a cycle and a nested primary group.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupKind } from '#src/directory/ad-codec.ts';
import { transitiveGroupsBy, type GroupReads } from '#src/directory/group-strategies.ts';
import type { DirectoryGroup, DirectoryUser } from '#src/directory/types.ts';

const dn = (name: string): string => `CN=${name},CN=Users,DC=corp,DC=test`;
const group = (name: string, kind: GroupKind): DirectoryGroup => ({
  guid: name.toLowerCase().padEnd(32, '0'),
  sid: `S-1-5-21-1-2-3-${name.charCodeAt(0)}`,
  dn: dn(name),
  name,
  qualifiedName: `${name}@corp.test`,
  kind,
  scope: 'global',
});

// U ∈ A (security), U ∈ D (distribution); A ∈ B ∈ A (a cycle); D ∈ C (security, reached only
// through the distribution group: not in the token); primary group P ∈ Q.
const groups = new Map([
  ['A', group('A', 'security')],
  ['B', group('B', 'security')],
  ['C', group('C', 'security')],
  ['D', group('D', 'distribution')],
  ['P', group('P', 'security')],
  ['Q', group('Q', 'security')],
]);
const memberOf = new Map<string, string[]>([
  [dn('U'), [dn('A'), dn('D')]],
  [dn('A'), [dn('B')]],
  [dn('B'), [dn('A')]],
  [dn('D'), [dn('C')]],
  [dn('P'), [dn('Q')]],
]);
const byDn = new Map([...groups.values()].map((g) => [g.dn.toLowerCase(), g]));
const user = { dn: dn('U'), primaryGroupId: 80 } as DirectoryUser;

function above(start: string): string[] {
  const seen = new Set<string>();
  let frontier = [start];
  while (frontier.length > 0) {
    frontier = frontier.flatMap((d) => memberOf.get(d) ?? []).filter((d) => !seen.has(d));
    frontier.forEach((d) => seen.add(d));
  }
  return [...seen];
}

function fakeReads(): GroupReads & { searches: string[] } {
  const searches: string[] = [];
  const found = (dns: string[]) =>
    dns.flatMap((d) => {
      const g = byDn.get(d.toLowerCase());
      return g ? [{ dn: g.dn, group: g, parents: () => Promise.resolve(memberOf.get(g.dn) ?? []) }] : [];
    });
  return {
    searches,
    baseDn: 'DC=corp,DC=test',
    tokenGroupSids: () => Promise.resolve(['A', 'B', 'P', 'Q'].map((n) => Buffer.from(n)).concat(Buffer.from('well-known'))),
    groupsBySids: (sids) => Promise.resolve(sids.map((s) => groups.get(s.toString())).filter((g): g is DirectoryGroup => g !== undefined)),
    primaryGroup: () => Promise.resolve([groups.get('P') as DirectoryGroup]),
    memberOf: (d) => Promise.resolve(memberOf.get(d) ?? []),
    searchGroups: (clause) => {
      searches.push(clause);
      const chain = /^\(member:1\.2\.840\.113556\.1\.4\.1941:=(.*)\)$/.exec(clause);
      const dns = chain ? above(chain[1] as string) : [...clause.matchAll(/\(distinguishedName=([^)]*)\)/g)].map((m) => m[1] as string);
      return Promise.resolve(found(dns));
    },
  };
}

const names = (list: DirectoryGroup[]): string[] => [...new Set(list.map((g) => g.name))].sort();

describe('group strategies', () => {
  it('tokenGroups: the SIDs the DC constructed, resolved; unresolved SIDs are a warning', async () => {
    const result = await transitiveGroupsBy('tokenGroups', user, fakeReads(), 100);
    assert.deepEqual(names(result.groups), ['A', 'B', 'P', 'Q']);
    assert.deepEqual(result.warnings, ['1 group SIDs are outside DC=corp,DC=test (well-known or other domains) and were not resolved']);
  });

  it('matchingRuleInChain: the chain ignores group type, the group rule prunes it (no C through D)', async () => {
    const reads = fakeReads();
    const result = await transitiveGroupsBy('matchingRuleInChain', user, reads, 100);
    assert.deepEqual(names(result.groups), ['A', 'B', 'P', 'Q']);
    assert.equal(reads.searches.length, 2, 'one chain search for the user, one for the primary group');
  });

  it('recursive: a memberOf walk that neither counts nor walks through distribution groups, cycle-safe', async () => {
    const reads = fakeReads();
    const result = await transitiveGroupsBy('recursive', user, reads, 100);
    assert.deepEqual(names(result.groups), ['A', 'B', 'P', 'Q']);
    assert.ok(reads.searches.every((s) => !s.includes(dn('C'))), 'C is never searched: D is not walked through');
    assert.deepEqual(result.warnings, []);
  });
});
