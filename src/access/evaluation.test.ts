import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateEntitlements, walkGroups, type Catalog } from './evaluation.ts';
import type { Assignment } from './model.ts';

const catalog: Catalog = {
  account: (id) => ({ '111122223333': { id, name: 'Production' }, '444455556666': { id, name: 'Audit' } })[id],
  permissionSet: (id) => ({ 'ps-1': { id, name: 'ReadOnly' }, 'ps-2': { id, name: 'Admin' } })[id],
  application: (id) => (id === 'app-1' ? { id, name: 'Wiki' } : undefined),
};

let n = 0;
const assign = (type: 'user' | 'group', guid: string, target: Assignment['target']): Assignment => ({ id: `a${++n}`, principal: { type, guid, name: guid }, target, createdAt: `2026-01-01T00:00:0${n % 10}.000Z` });
const account = (accountId: string, permissionSetId: string) => ({ type: 'account' as const, accountId, permissionSetId });

void describe('evaluateEntitlements', () => {
  const groups = [
    { guid: 'g-sre', qualifiedName: 'SRE@d', path: ['SRE@d'] },
    { guid: 'g-users', qualifiedName: 'Users@d', path: ['SRE@d', 'Eng@d', 'Users@d'] },
  ];

  it('unites the user’s own and their groups’ assignments, deduplicated per account and permission set', () => {
    const result = evaluateEntitlements('u-1', groups, [
      assign('group', 'g-users', account('111122223333', 'ps-1')),
      assign('user', 'u-1', account('111122223333', 'ps-1')),
      assign('group', 'g-sre', account('111122223333', 'ps-2')),
      assign('group', 'g-other', account('444455556666', 'ps-1')),
      assign('user', 'u-2', { type: 'application', applicationId: 'app-1' }),
      assign('group', 'G-SRE', { type: 'application', applicationId: 'app-1' }),
    ], catalog);
    assert.deepEqual(result.accounts.map((a) => [a.account.name, a.permissionSets.map((p) => [p.permissionSet.name, p.grants.length])]), [['Production', [['Admin', 1], ['ReadOnly', 2]]]]);
    assert.deepEqual(result.accounts[0]?.permissionSets[1]?.grants, [{ type: 'group', guid: 'g-users', name: 'Users@d', path: ['SRE@d', 'Eng@d', 'Users@d'] }, { type: 'user' }]);
    assert.deepEqual(result.applications.map((a) => a.application.name), ['Wiki'], 'group GUIDs compare case-insensitively');
  });

  it('grants nothing for records deleted under the assignments, and nothing to others', () => {
    const result = evaluateEntitlements('u-1', [], [assign('user', 'u-1', account('999999999999', 'ps-1')), assign('user', 'u-1', { type: 'application', applicationId: 'gone' })], catalog);
    assert.deepEqual(result, { accounts: [], applications: [], groupsTruncated: false });
  });
});

void describe('walkGroups', () => {
  const graph: Record<string, string[]> = { a: ['b'], b: ['c', 'a'], c: ['a', 'd'], d: [] };
  const node = (guid: string) => ({ guid, qualifiedName: guid.toUpperCase() });
  const next = (g: { guid: string }) => Promise.resolve((graph[g.guid] ?? []).map(node));

  it('terminates on cycles and records the first (shortest) path', async () => {
    const { groups, truncated } = await walkGroups([node('a')], next, 100);
    assert.equal(truncated, false);
    assert.deepEqual(groups.map((g) => [g.guid, g.path.join('>')]), [['a', 'A'], ['b', 'A>B'], ['c', 'A>B>C'], ['d', 'A>B>C>D']]);
  });

  it('stops at the cap and says so; without `next` only the start counts', async () => {
    assert.deepEqual(await walkGroups([node('a')], next, 2).then((r) => [r.groups.length, r.truncated]), [2, true]);
    assert.deepEqual(await walkGroups([node('a'), node('b')], null, 100).then((r) => r.groups.map((g) => g.guid)), ['a', 'b']);
  });
});
