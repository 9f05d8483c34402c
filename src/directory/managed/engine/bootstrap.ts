/**
 * Provisioning: the domain a new managed directory starts with, as AD creates it (the domain
 * object carrying the password policy, CN=Users, CN=Builtin and CN=Deleted Objects, Domain Admins, Domain Users,
 * BUILTIN\Administrators and Users, the Administrator, the configuration and schema partitions),
 * written in one transaction so a crash leaves no half domain.
 */
import { randomInt } from 'node:crypto';
import { filetimeNever } from '#src/directory/ad-codec.ts';
import { AppError } from '#src/shared/errors.ts';
import { categoryDn, domainEntry, type EngineContext } from './context.ts';
import { formatDn, normalizeRdns, parentNdn, parseDn } from './dn.ts';
import { passwordProblem } from './password.ts';
import { policyAttributes } from './policy.ts';
import { attributeType, groupTypeBits, objectClassDef, samAccountType, samAccountTypeForGroup, uacFlags, wellKnownRids, type AttributeType, type ObjectClassDef } from './schema.ts';
import type { AttributeMap } from './store.ts';
import type { BootstrapOptions } from './types.ts';
import { filetime, generalizedTime } from './values.ts';
import { newGuid } from './writes.ts';

export async function bootstrap(ctx: EngineContext, { administratorPassword }: BootstrapOptions): Promise<{ created: boolean; domainSid: string }> {
  // Warm the dummy hash now, so the first bind of an unknown name costs what later ones do.
  await ctx.hasher.dummyHash();
  const { baseDn, configDn, schemaDn, partitionsDn, dnsName, netbiosName, configuredPolicy } = ctx;
  const existing = await domainEntry(ctx);
  if (existing) return { created: false, domainSid: existing.sid ?? '' };
  const domainSid = ctx.configuredDomainSid ?? `S-1-5-21-${[0, 1, 2].map(() => randomInt(1, 2 ** 32 - 1)).join('-')}`;
  if (!/^S-1-5-21-\d+-\d+-\d+$/.test(domainSid)) throw new AppError('config.invalid', 'domainSid must have the form S-1-5-21-x-y-z');
  const problem = passwordProblem(administratorPassword, { minLength: configuredPolicy.minPwdLength, complexity: configuredPolicy.complexity }, 'Administrator');
  if (problem) throw new AppError('config.invalid', `the Administrator password does not meet the password policy: ${problem}`);
  const hash = await ctx.hasher.hash(administratorPassword);
  const now = ctx.clock();
  const stamp = generalizedTime(now);
  const usersDn = `CN=Users,${baseDn}`;
  const builtinDn = `CN=Builtin,${baseDn}`;

  const created = await ctx.store.transaction(async (tx) => {
    if (await tx.getByNdn(ctx.baseNdn)) return false;
    const put = async (dn: string, className: string, extra: AttributeMap, sid: string | null = null): Promise<string> => {
      const def = objectClassDef(className) as ObjectClassDef;
      const rdns = parseDn(dn);
      const ndn = normalizeRdns(rdns);
      const usn = await tx.nextCounter('usn');
      const value = (rdns[0]?.[0]?.value ?? '');
      const guid = newGuid();
      const attributes: AttributeMap = {
        objectClass: [...def.chain],
        [(attributeType(def.rdnType) as AttributeType).name]: [value],
        name: [value],
        objectCategory: [categoryDn(ctx, def)],
        instanceType: [ctx.namingContexts.includes(ndn) ? '5' : '4'],
        whenCreated: [stamp],
        whenChanged: [stamp],
        ...extra,
      };
      await tx.insert({ guid, dn: formatDn(rdns), ndn, parentNdn: ctx.namingContexts.includes(ndn) ? null : parentNdn(ndn), sid, usnCreated: usn, usnChanged: usn, attributes });
      return guid;
    };
    const critical = { isCriticalSystemObject: ['TRUE'] };
    const group = (sam: string, groupType: number, description: string): AttributeMap => ({
      sAMAccountName: [sam],
      groupType: [String(groupType | 0)],
      sAMAccountType: [String(samAccountTypeForGroup(groupType))],
      description: [description],
      ...critical,
    });
    const globalSecurity = groupTypeBits.security | groupTypeBits.global;
    const builtinLocal = groupTypeBits.security | groupTypeBits.builtinLocal | groupTypeBits.domainLocal;

    await put(baseDn, 'domainDNS', { ...policyAttributes(configuredPolicy), ...critical }, domainSid);
    await put(usersDn, 'container', { description: ['Default container for upgraded user accounts'], ...critical });
    await put(builtinDn, 'builtinDomain', critical, 'S-1-5-32');
    // As AD: the container of tombstones (tombstones.ts), itself deleted so that only Show Deleted shows it.
    await put(`CN=Deleted Objects,${baseDn}`, 'container', { isDeleted: ['TRUE'], showInAdvancedViewOnly: ['TRUE'], ...critical });
    const domainAdmins = await put(`CN=Domain Admins,${usersDn}`, 'group', group('Domain Admins', globalSecurity, 'Designated administrators of the domain'), `${domainSid}-${wellKnownRids.domainAdmins}`);
    const domainUsers = await put(`CN=Domain Users,${usersDn}`, 'group', group('Domain Users', globalSecurity, 'All domain users'), `${domainSid}-${wellKnownRids.domainUsers}`);
    const administrators = await put(`CN=Administrators,${builtinDn}`, 'group', group('Administrators', builtinLocal, 'Administrators have complete and unrestricted access to the domain'), 'S-1-5-32-544');
    const builtinUsers = await put(`CN=Users,${builtinDn}`, 'group', group('Users', builtinLocal, 'Users are prevented from making accidental or intentional system-wide changes'), 'S-1-5-32-545');
    const administrator = await put(
      `CN=Administrator,${usersDn}`,
      'user',
      {
        sAMAccountName: ['Administrator'],
        userPrincipalName: [`Administrator@${dnsName}`],
        description: ['Built-in account for administering the computer/domain'],
        userAccountControl: [String(uacFlags.normalAccount | uacFlags.dontExpirePassword)],
        sAMAccountType: [String(samAccountType.user)],
        primaryGroupID: [String(wellKnownRids.domainUsers)],
        accountExpires: [filetimeNever.toString()],
        pwdLastSet: [filetime(now)],
        badPwdCount: ['0'],
        badPasswordTime: ['0'],
        lockoutTime: ['0'],
        logonCount: ['0'],
        ...critical,
      },
      `${domainSid}-${wellKnownRids.administrator}`,
    );
    await tx.addLinks([
      { group: domainAdmins, member: administrator },
      { group: administrators, member: domainAdmins },
      { group: administrators, member: administrator },
      { group: builtinUsers, member: domainUsers },
    ]);
    await tx.setCredentials(administrator, { hash, history: [] });
    await put(configDn, 'configuration', critical);
    await put(schemaDn, 'dMD', critical);
    await put(partitionsDn, 'crossRefContainer', critical);
    await put(`CN=${netbiosName},${partitionsDn}`, 'crossRef', {
      nETBIOSName: [netbiosName],
      nCName: [baseDn],
      dnsRoot: [dnsName],
      systemFlags: ['3'],
    });
    return true;
  });
  return { created, domainSid: created ? domainSid : ((await domainEntry(ctx))?.sid ?? '') };
}
