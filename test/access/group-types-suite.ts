/**
 * The group rule end to end, run unchanged against the Samba AD DC and against Portico's managed
 * directory loaded with the same fixture: for every group type the fixture's ursula is in (global,
 * domain-local and universal security groups; a global and a universal distribution group; a
 * security group she reaches only through a distribution group), in `transitive` and `direct`
 * modes, her session, `access explain` and `access who` agree with one another and with AD's
 * tokenGroups; distribution groups are refused at assignment and marked in the picker; a group
 * converted to distribution after it was assigned grants nothing; and `access who` on the
 * 1,600-member Big-Group says how many users it lists by objectGUID only (API and CLI).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PorticoApp } from '#src/app.ts';
import { runPortico } from '../support/cli.ts';
import { directoryAdmin, type DirectoryAdmin, type DirectoryAdminTarget } from '../support/directory-admin.ts';
import { fixture, fixtureUser } from '../support/samba.ts';

export interface GroupTypesTarget {
  app: PorticoApp;
  token: string;
  admin: DirectoryAdminTarget;
  stop(): Promise<void>;
}

export interface GroupTypesSuiteOptions {
  name: string;
  /** Starts Portico on the directory (loaded with the fixture) in the given mode, with a clock the tests can move. */
  start: (mode: 'transitive' | 'direct', clock: () => Date) => Promise<GroupTypesTarget>;
}

type ErrorBody = { error: { code: string; message: string } };
type Applications = { applications: Array<{ application: { id: string; name: string } }> };
type Who = { users: Array<{ guid: string; userName: string | null }>; truncated: boolean; groupsTruncated: boolean; unnamedUsers: number };

const groupName = (key: string): string => {
  const group = fixture.groups.find((g) => g.key === key);
  if (!group) throw new Error(`no fixture group ${key}`);
  return `${group.sAMAccountName}@${fixture.domain.dnsName}`;
};
/** The security groups of the matrix (one application each) and the distribution groups (refused). */
const SECURITY = ['grp-global', 'grp-universal', 'grp-domainlocal', 'grp-via-dist'];
const DISTRIBUTION = ['grp-dist-global', 'all-staff'];
/** What ursula reaches, as her tokenGroups has it: Grp-Via-Dist only through Grp-Dist-Global, so not. */
const URSULA_REACHES = ['App-grp-domainlocal', 'App-grp-global', 'App-grp-universal'];

export function groupTypesSuite({ name, start }: GroupTypesSuiteOptions): void {
  for (const mode of ['transitive', 'direct'] as const) {
    describe(`the group rule (${mode}): ${name}`, () => {
      let target: GroupTypesTarget;
      let directory: DirectoryAdmin;
      let offsetMs = 0;
      const clock = () => new Date(Date.now() + offsetMs);
      const applications = new Map<string, string>();
      const ursula = fixtureUser('ursula');

      async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, cookie?: string): Promise<{ status: number; body: T }> {
        const headers: Record<string, string> = cookie ? { cookie } : { authorization: `Bearer ${target.token}` };
        if (body !== undefined) headers['content-type'] = 'application/json';
        const response = await fetch(`${target.app.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
        const text = await response.text();
        return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
      }
      async function signIn(username: string, password: string): Promise<string> {
        const response = await fetch(`${target.app.url}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
        assert.equal(response.status, 200, `${username} signs in: ${await response.clone().text()}`);
        const cookie = response.headers.get('set-cookie')?.split(';')[0];
        assert.ok(cookie);
        return cookie;
      }
      const appNames = (list: Applications['applications']) => list.map((a) => a.application.name).filter((n) => n.startsWith('App-')).sort();
      async function createApplication(label: string): Promise<string> {
        const created = await api<{ id: string }>('POST', '/admin/api/applications', { name: `App-${label}`, entityId: `urn:test:${label}`, acsUrls: [`https://${label}.example.test/acs`] });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        applications.set(label, created.body.id);
        return created.body.id;
      }
      async function assign(group: string, applicationId: string) {
        return api<ErrorBody & { assignment: unknown }>('POST', '/admin/api/assignments', { principal: { type: 'group', id: group }, target: { type: 'application', applicationId } });
      }
      /** The three answers for one user: the session's, explain's and who's (over every application). */
      async function threeAnswers(userName: string, password: string, guid: string): Promise<{ session: string[]; explain: string[]; who: string[] }> {
        const cookie = await signIn(userName, password);
        const mine = await fetch(`${target.app.url}/api/me/access`, { headers: { cookie } });
        assert.equal(mine.status, 200);
        const session = appNames(((await mine.json()) as Applications).applications);
        const explained = await api<{ entitlements: Applications }>('GET', `/admin/api/access/users/${encodeURIComponent(userName)}`);
        assert.equal(explained.status, 200, JSON.stringify(explained.body));
        const explain = appNames(explained.body.entitlements.applications);
        const who: string[] = [];
        for (const [label, id] of applications) {
          const reply = await api<Who>('GET', `/admin/api/applications/${id}/access`);
          assert.equal(reply.status, 200, JSON.stringify(reply.body));
          if (reply.body.users.some((u) => u.guid === guid)) who.push(`App-${label}`);
        }
        return { session, explain, who: who.sort() };
      }

      before(async () => {
        target = await start(mode, clock);
        directory = await directoryAdmin(target.admin);
        // A mapping table that does not require initials (ursula has none).
        const { body } = await api<{ table: Record<string, string> }>('GET', '/admin/api/mappings');
        const saved = await api('PUT', '/admin/api/mappings', { table: { ...body.table, middleName: '${dir:initials|""}' } });
        assert.equal(saved.status, 200, JSON.stringify(saved.body));
        for (const key of SECURITY) {
          const assigned = await assign(groupName(key), await createApplication(key));
          assert.equal(assigned.status, 201, JSON.stringify(assigned.body));
        }
      });
      after(async () => {
        await directory?.close();
        await target?.stop();
      });

      it('refuses to assign a distribution group (global and universal) with access.distribution_group, audited, nothing written', async () => {
        const count = async () => (await api<{ assignments: unknown[] }>('GET', '/admin/api/assignments')).body.assignments.length;
        const before = await count();
        const applicationId = applications.get('grp-global') as string;
        for (const key of DISTRIBUTION) {
          const refused = await assign(groupName(key), applicationId);
          assert.equal(refused.status, 422, JSON.stringify(refused.body));
          assert.equal(refused.body.error.code, 'access.distribution_group');
          assert.match(refused.body.error.message, new RegExp(`${groupName(key)} is a distribution group.*grant nothing`));
        }
        // The CLI gets the same refusal: a usage error (exit 2) with the API's message.
        const cli = await runPortico(['assignments', 'create', '--group', groupName('grp-dist-global'), '--application', applicationId], { PORTICO_URL: target.app.url, PORTICO_ADMIN_TOKEN: target.token, PORTICO_LOG__LEVEL: 'silent' });
        assert.equal(cli.status, 2, cli.stdout + cli.stderr);
        assert.match(cli.stderr, /is a distribution group: distribution groups carry no access/);
        assert.equal(await count(), before);
        const audit = await api<{ events: Array<{ outcome: string; errorCode: string | null; target: string }> }>('GET', '/admin/api/audit?action=access.assignment.created');
        const refusals = audit.body.events.filter((e) => e.errorCode === 'access.distribution_group');
        assert.deepEqual(refusals.map((e) => e.outcome), ['failure', 'failure', 'failure']);
      });

      it('the picker lists distribution groups marked as granting nothing, security groups of every scope as granting', async () => {
        const found = await api<{ principals: Array<{ name: string; grantsAccess: boolean; groupKind: string | null }> }>('GET', '/admin/api/directory/principals?q=Grp-&type=group&limit=50');
        assert.equal(found.status, 200, JSON.stringify(found.body));
        const byName = new Map(found.body.principals.map((p) => [p.name.toLowerCase(), p]));
        for (const key of SECURITY) assert.equal(byName.get(groupName(key).toLowerCase())?.grantsAccess, true, key);
        assert.deepEqual(byName.get(groupName('grp-dist-global').toLowerCase()), { ...byName.get(groupName('grp-dist-global').toLowerCase()), grantsAccess: false, groupKind: 'distribution' });
        const staff = await api<{ principals: Array<{ name: string; grantsAccess: boolean }> }>('GET', '/admin/api/directory/principals?q=All-Staff&type=group');
        assert.equal(staff.body.principals.find((p) => p.name.toLowerCase() === groupName('all-staff').toLowerCase())?.grantsAccess, false);
      });

      it("ursula's session, explain and who agree with tokenGroups: every security scope grants, nothing through a distribution group", async () => {
        const user = await api<{ user: { guid: string } }>('GET', `/admin/api/access/users/${encodeURIComponent(ursula.upn)}`);
        const guid = user.body.user.guid;
        const first = await threeAnswers(ursula.upn, ursula.password, guid);
        assert.deepEqual(first, { session: URSULA_REACHES, explain: URSULA_REACHES, who: URSULA_REACHES });
        // Once the session's groups age out they are read again from the directory (the `direct` path too).
        offsetMs += 6 * 60_000;
        const cookie = await signIn(ursula.upn, ursula.password);
        offsetMs += 6 * 60_000;
        const mine = await fetch(`${target.app.url}/api/me/access`, { headers: { cookie } });
        assert.deepEqual(appNames(((await mine.json()) as Applications).applications), URSULA_REACHES, 'read again from the directory');
      });

      it('a group assigned as security and converted to distribution since grants nothing anywhere', async () => {
        const run = randomBytes(3).toString('hex');
        const group = await directory.createGroup(`conv-${run}`, 0x80000008 | 0); // universal security
        const person = await directory.createUser(`conv${run}`, { givenName: 'Conv', sn: 'Erted', displayName: 'Conv Erted', mail: `conv${run}@mail.example.test` });
        await directory.addMember(group.dn, person.dn);
        const applicationId = await createApplication(`converted-${run}`);
        const assigned = await assign(group.qualifiedName, applicationId);
        assert.equal(assigned.status, 201, JSON.stringify(assigned.body));
        const guid = (await api<{ user: { guid: string } }>('GET', `/admin/api/access/users/${encodeURIComponent(person.upn)}`)).body.user.guid;
        const granted = await threeAnswers(person.upn, person.password, guid);
        assert.deepEqual(granted, { session: [`App-converted-${run}`], explain: [`App-converted-${run}`], who: [`App-converted-${run}`] }, 'a security group grants');
        await directory.replace(group.dn, 'groupType', String(0x8)); // universal distribution
        assert.deepEqual(await threeAnswers(person.upn, person.password, guid), { session: [], explain: [], who: [] });
        applications.delete(`converted-${run}`);
      });

      if (mode === 'transitive') {
        it('who on the 1,600-member Big-Group lists everyone and says how many are by objectGUID only (API and CLI)', async () => {
          const applicationId = await createApplication('big');
          applications.delete('big');
          const assigned = await assign(`${fixture.bigGroup.sAMAccountName}@${fixture.domain.dnsName}`, applicationId);
          assert.equal(assigned.status, 201, JSON.stringify(assigned.body));
          const who = await api<Who>('GET', `/admin/api/applications/${applicationId}/access`);
          assert.equal(who.status, 200);
          assert.equal(who.body.users.length, fixture.bigGroup.memberCount);
          assert.equal(who.body.unnamedUsers, fixture.bigGroup.memberCount - 500);
          assert.equal(who.body.users.filter((u) => u.userName === null).length, who.body.unnamedUsers);
          assert.equal(who.body.truncated, true);
          assert.equal(who.body.groupsTruncated, false);
          const cli = await runPortico(['access', 'who', '--application', applicationId], { PORTICO_URL: target.app.url, PORTICO_ADMIN_TOKEN: target.token, PORTICO_LOG__LEVEL: 'silent' });
          assert.equal(cli.status, 0, cli.stderr);
          assert.match(cli.stdout, new RegExp(`warning: ${fixture.bigGroup.memberCount - 500} of ${fixture.bigGroup.memberCount} users are listed by objectGUID only`));
        });
      }
    });
  }
}
