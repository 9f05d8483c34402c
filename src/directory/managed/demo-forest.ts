/**
 * The demo forest seeded into a new managed directory, so that a first start has people to sign
 * in as: a few OUs, users, nested groups, one disabled and one locked user. It goes in through
 * the same LDAP operations an administrator's tools use.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '#src/shared/errors.ts';
import type { DirectoryBackend, Session } from './backend.ts';
import { ResultCode } from './backend.ts';

export const demoPassword = 'Portico-Demo-2026!';

interface DemoUser {
  sam: string;
  given: string;
  surname: string;
  ou: string;
  title: string;
  department: string;
  disabled?: boolean;
  locked?: boolean;
}

const users: DemoUser[] = [
  { sam: 'alice', given: 'Alice', surname: 'Anderson', ou: 'OU=Engineering,OU=People', title: 'Staff Engineer', department: 'Engineering' },
  { sam: 'bob', given: 'Bob', surname: 'Brown', ou: 'OU=Sales,OU=People', title: 'Account Executive', department: 'Sales' },
  { sam: 'carol', given: 'Carol', surname: 'Chen', ou: 'OU=Engineering,OU=People', title: 'Platform Engineer', department: 'Engineering' },
  { sam: 'dave', given: 'Dave', surname: 'Disabled', ou: 'OU=Sales,OU=People', title: 'Former Employee', department: 'Sales', disabled: true },
  { sam: 'erin', given: 'Erin', surname: 'Locked', ou: 'OU=Engineering,OU=People', title: 'Engineer', department: 'Engineering', locked: true },
];

/** Groups, parents before children: `members` names users by sAMAccountName and groups by cn. */
const groups: Array<{ cn: string; security: boolean; members: string[] }> = [
  { cn: 'Engineering', security: true, members: [] },
  { cn: 'Platform', security: true, members: [] },
  { cn: 'SRE', security: true, members: ['alice'] },
  { cn: 'Sales', security: true, members: ['bob', 'dave'] },
  { cn: 'Portico-Admins', security: true, members: ['carol'] },
  { cn: 'All-Staff', security: false, members: ['alice', 'bob', 'carol', 'dave', 'erin'] },
];
const nesting: Array<[parent: string, child: string]> = [
  ['Engineering', 'Platform'],
  ['Platform', 'SRE'],
  ['Engineering', 'erin'],
  ['Platform', 'carol'],
];

const text = (value: string): Buffer[] => [Buffer.from(value, 'utf8')];

export async function seedDemoForest(backend: DirectoryBackend, administratorDn: string, baseDn: string, domain: string): Promise<{ users: string[] }> {
  const session: Session = { id: `seed-${randomUUID()}`, boundDn: administratorDn, secure: true, remoteAddress: 'internal' };
  const root = `OU=Portico Demo,${baseDn}`;
  const expect = async (what: string, pending: Promise<{ resultCode: number; diagnosticMessage?: string }>): Promise<void> => {
    const result = await pending;
    if (result.resultCode !== ResultCode.success) {
      throw new AppError('directory.protocol_error', `seeding the demo forest failed at ${what}: ${result.diagnosticMessage ?? result.resultCode}`, { status: 500 });
    }
  };

  for (const ou of [root, `OU=People,${root}`, `OU=Engineering,OU=People,${root}`, `OU=Sales,OU=People,${root}`, `OU=Groups,${root}`]) {
    await expect(ou, backend.add(session, { entry: ou, attributes: [{ type: 'objectClass', values: text('organizationalUnit') }] }));
  }
  const dnOf = new Map<string, string>();
  for (const user of users) {
    const cn = `${user.given} ${user.surname}`;
    const dn = `CN=${cn},${user.ou},${root}`;
    dnOf.set(user.sam, dn);
    await expect(
      dn,
      backend.add(session, {
        entry: dn,
        attributes: [
          { type: 'objectClass', values: text('user') },
          { type: 'sAMAccountName', values: text(user.sam) },
          { type: 'userPrincipalName', values: text(`${user.sam}@${domain}`) },
          { type: 'givenName', values: text(user.given) },
          { type: 'sn', values: text(user.surname) },
          // Mappings read initials into middleName (the identity-center preset refuses sign-in without it).
          { type: 'initials', values: text(user.surname.charAt(0)) },
          { type: 'displayName', values: text(cn) },
          { type: 'mail', values: text(`${user.sam}@${domain}`) },
          { type: 'title', values: text(user.title) },
          { type: 'department', values: text(user.department) },
          { type: 'unicodePwd', values: [Buffer.from(`"${demoPassword}"`, 'utf16le')] },
          { type: 'userAccountControl', values: text(String(user.disabled ? 0x202 : 0x200)) },
        ],
      }),
    );
  }
  for (const group of groups) {
    const dn = `CN=${group.cn},OU=Groups,${root}`;
    dnOf.set(group.cn, dn);
    await expect(
      dn,
      backend.add(session, {
        entry: dn,
        attributes: [
          { type: 'objectClass', values: text('group') },
          { type: 'sAMAccountName', values: text(group.cn) },
          // Global scope; the sign bit marks a security group, as AD encodes groupType.
          { type: 'groupType', values: text(String(group.security ? -2147483646 : 2)) },
          ...(group.members.length ? [{ type: 'member', values: group.members.map((m) => Buffer.from(dnOf.get(m) ?? m)) }] : []),
        ],
      }),
    );
  }
  for (const [parent, child] of nesting) {
    await expect(
      `${child} in ${parent}`,
      backend.modify(session, dnOf.get(parent) ?? parent, [{ operation: 'add', type: 'member', values: [Buffer.from(dnOf.get(child) ?? child)] }]),
    );
  }
  // Lock erin the way AD does: wrong passwords up to the lockout threshold.
  for (const user of users.filter((u) => u.locked)) {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const probe: Session = { id: `seed-${randomUUID()}`, boundDn: null, secure: true, remoteAddress: 'internal' };
      const { result } = await backend.bind(probe, `${user.sam}@${domain}`, Buffer.from('not-the-password'));
      if (result.diagnosticMessage?.includes('data 775')) break;
    }
  }
  return { users: users.map((u) => `${u.sam}@${domain}`) };
}
