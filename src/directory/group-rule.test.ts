import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupKind } from './ad-codec.ts';
import { carriesAccess, securityClosure, securityGroupsOnly } from './group-rule.ts';

interface G {
  name: string;
  kind: GroupKind;
}

/** The Samba fixture's group-type matrix, keyed by lower-cased DN-like keys, with nesting and a cycle. */
const graph: Record<string, { group: G; parents: string[] }> = {
  'cn=grp-global': { group: { name: 'Grp-Global', kind: 'security' }, parents: ['CN=Outer'] },
  'cn=grp-universal': { group: { name: 'Grp-Universal', kind: 'security' }, parents: [] },
  'cn=grp-domainlocal': { group: { name: 'Grp-DomainLocal', kind: 'security' }, parents: [] },
  'cn=grp-dist-global': { group: { name: 'Grp-Dist-Global', kind: 'distribution' }, parents: ['CN=Grp-Via-Dist'] },
  'cn=all-staff': { group: { name: 'All-Staff', kind: 'distribution' }, parents: [] },
  'cn=grp-via-dist': { group: { name: 'Grp-Via-Dist', kind: 'security' }, parents: [] },
  'cn=outer': { group: { name: 'Outer', kind: 'security' }, parents: ['CN=Cycle'] },
  'cn=cycle': { group: { name: 'Cycle', kind: 'security' }, parents: ['CN=Outer', 'CN=Dist-Above'] },
  'cn=dist-above': { group: { name: 'Dist-Above', kind: 'distribution' }, parents: ['CN=Sec-Above-Dist'] },
  'cn=sec-above-dist': { group: { name: 'Sec-Above-Dist', kind: 'security' }, parents: [] },
};
const lookup = (key: string) => graph[key];
const names = (groups: G[]) => groups.map((g) => g.name).sort();

void describe('the group rule', () => {
  it('only security groups carry access, whatever their scope', () => {
    assert.equal(carriesAccess({ kind: 'security' }), true);
    assert.equal(carriesAccess({ kind: 'distribution' }), false);
    assert.deepEqual(names(securityGroupsOnly(Object.values(graph).map((n) => n.group))), ['Cycle', 'Grp-DomainLocal', 'Grp-Global', 'Grp-Universal', 'Grp-Via-Dist', 'Outer', 'Sec-Above-Dist']);
  });

  it('follows nesting through security groups only, as tokenGroups does', () => {
    const direct = ['CN=Grp-Global', 'CN=Grp-Universal', 'CN=Grp-DomainLocal', 'CN=Grp-Dist-Global', 'CN=All-Staff'];
    // Grp-Via-Dist (only through a distribution group) and Sec-Above-Dist (above Dist-Above) are out; the cycle terminates.
    assert.deepEqual(names(securityClosure(direct, lookup)), ['Cycle', 'Grp-DomainLocal', 'Grp-Global', 'Grp-Universal', 'Outer']);
  });

  it('a user only in distribution groups has no group that carries access', () => {
    assert.deepEqual(securityClosure(['CN=Grp-Dist-Global', 'CN=All-Staff'], lookup), []);
  });

  it('ignores unknown keys and duplicates, compares keys case-insensitively', () => {
    assert.deepEqual(names(securityClosure(['cn=GRP-VIA-DIST', 'CN=grp-via-dist', 'CN=Nowhere'], lookup)), ['Grp-Via-Dist']);
  });
});
