/**
 * What an AD administrator does to a test directory between sign-ins: create, change and delete
 * users over LDAPS as the domain's Administrator. Works the same on the Samba DC and on Portico's
 * managed directory. Only tests write to a directory; Portico itself never writes to a connected AD.
 */
import { Attribute, Change, Client } from 'ldapts';
import { dateToFiletime } from '#src/directory/ad-codec.ts';

export interface DirectoryAdminTarget {
  ldapsUrl: string;
  ca: string | Buffer;
  baseDn: string;
  domain: string;
  netbiosName: string;
  admin: { username: string; password: string };
}

export interface TestUser {
  sam: string;
  upn: string;
  dn: string;
  password: string;
}

export interface DirectoryAdmin {
  /** A user in CN=Users, or in `parent` (an OU's DN); deleted at close. */
  createUser(sam: string, attributes?: Record<string, string>, parent?: string): Promise<TestUser>;
  /** An OU under the domain root (deleted at close, after what was created in it). */
  createOu(name: string): Promise<{ dn: string }>;
  /** Moves an entry under another parent (modify DN); returns its new DN. */
  move(dn: string, parent: string): Promise<string>;
  /** A group in CN=Users (deleted at close); `groupType` as AD's signed integer (-2147483640: universal security). */
  createGroup(sam: string, groupType: number): Promise<{ dn: string; qualifiedName: string }>;
  replace(dn: string, attribute: string, value: string): Promise<void>;
  /** lockoutTime in the past or accountExpires, as FILETIME. */
  expire(dn: string): Promise<void>;
  read(dn: string, attribute: string): Promise<string | null>;
  delete(dn: string): Promise<void>;
  addMember(groupDn: string, memberDn: string): Promise<void>;
  removeMember(groupDn: string, memberDn: string): Promise<void>;
  /** Binds as the user with a wrong password `times` times (what locks an account out). */
  failBinds(upn: string, times: number): Promise<void>;
  close(): Promise<void>;
}

const password = 'Sign-In-Test-2026!x';

export async function directoryAdmin(target: DirectoryAdminTarget): Promise<DirectoryAdmin> {
  const connect = () => new Client({ url: target.ldapsUrl, tlsOptions: { ca: target.ca, checkServerIdentity: () => undefined } });
  const client = connect();
  await client.bind(target.admin.username, target.admin.password);
  const created: string[] = [];

  return {
    async createUser(sam, attributes = {}, parent = `CN=Users,${target.baseDn}`) {
      const upn = `${sam}@${target.domain}`;
      const dn = `CN=${sam},${parent}`;
      await client.add(dn, {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        sAMAccountName: sam,
        userPrincipalName: upn,
        ...attributes,
      });
      created.push(dn);
      await client.modify(dn, [
        new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [Buffer.from(`"${password}"`, 'utf16le')] }) }),
        new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: ['512'] }) }),
      ]);
      return { sam, upn, dn, password };
    },
    async createGroup(sam, groupType) {
      const dn = `CN=${sam},CN=Users,${target.baseDn}`;
      await client.add(dn, { objectClass: ['top', 'group'], sAMAccountName: sam, groupType: String(groupType | 0) });
      created.push(dn);
      return { dn, qualifiedName: `${sam}@${target.domain}` };
    },
    async replace(dn, attribute, value) {
      await client.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: attribute, values: [value] }) }));
    },
    async expire(dn) {
      const yesterday = new Date(Date.now() - 24 * 3600_000);
      await client.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'accountExpires', values: [dateToFiletime(yesterday).toString()] }) }));
    },
    async read(dn, attribute) {
      const { searchEntries } = await client.search(dn, { scope: 'base', attributes: [attribute] });
      const value = searchEntries[0]?.[attribute];
      if (value === undefined) return null;
      const first = Array.isArray(value) ? value[0] : value;
      return first === undefined ? null : Buffer.isBuffer(first) ? first.toString('utf8') : first;
    },
    async createOu(name) {
      const dn = `OU=${name},${target.baseDn}`;
      await client.add(dn, { objectClass: ['top', 'organizationalUnit'] });
      created.push(dn);
      return { dn };
    },
    async move(dn, parent) {
      const moved = `${dn.slice(0, dn.indexOf(','))},${parent}`;
      await client.modifyDN(dn, moved);
      created.splice(created.indexOf(dn), 1, moved);
      return moved;
    },
    async delete(dn) {
      await client.del(dn);
      created.splice(created.indexOf(dn), 1);
    },
    async addMember(groupDn, memberDn) {
      await client.modify(groupDn, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [memberDn] }) }));
    },
    async removeMember(groupDn, memberDn) {
      await client.modify(groupDn, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [memberDn] }) }));
    },
    async failBinds(upn, times) {
      for (let i = 0; i < times; i++) {
        const user = connect();
        await user.bind(upn, 'definitely-wrong').catch(() => undefined);
        await user.unbind().catch(() => undefined);
      }
    },
    async close() {
      // Newest first: what was created in an OU goes before the OU.
      for (const dn of created.splice(0).reverse()) await client.del(dn).catch(() => undefined);
      await client.unbind();
    },
  };
}
