/**
 * Grants (and takes back) "Replicating Directory Changes" (DS-Replication-Get-Changes,
 * 1131f6aa-9c07-11d1-f79f-00c04fc2dcd2) on the Samba DC's domain head to one account, as an AD
 * administrator does for a sync service account that may use DirSync. It adds or removes one
 * object ACE in the domain head's nTSecurityDescriptor through Samba's Python bindings
 * (samba.sd_utils), bound as the DC's Administrator over LDAP with NTLM sealing (Samba refuses
 * sign/seal inside TLS). Only tests write to the DC; Portico itself never does.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SambaRuntime } from './samba.ts';

const run = promisify(execFile);

/** Samba's bindings belong to the Debian python3, not to a python3 earlier on PATH. */
const PYTHON = '/usr/bin/python3';

const script = String.raw`
import os, sys
from samba.samdb import SamDB
from samba.param import LoadParm
from samba.credentials import Credentials, DONT_USE_KERBEROS
from samba.sd_utils import SDUtils
from samba.dcerpc import security
from samba.ndr import ndr_unpack
url, user, base, sam, action = sys.argv[1:]
lp = LoadParm()
creds = Credentials()
creds.guess(lp)
creds.set_username(user)
creds.set_password(os.environ["PORTICO_TEST_ADMIN_PASSWORD"])
creds.set_kerberos_state(DONT_USE_KERBEROS)
samdb = SamDB(url=url, credentials=creds, lp=lp)
found = samdb.search(base=base, expression="(sAMAccountName=%s)" % sam, attrs=["objectSid"])
if len(found) != 1:
    sys.exit("no account %s" % sam)
sid = str(ndr_unpack(security.dom_sid, found[0]["objectSid"][0]))
ace = "(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;%s)" % sid
sd = SDUtils(samdb)
if action == "grant":
    sd.dacl_add_ace(base, ace)
else:
    # dacl_delete_aces does not match object ACEs read back from the DC (Samba 4.17): every ACE
    # of the throwaway account's SID goes instead (it has no other).
    flags = ["sd_flags:1:%d" % security.SECINFO_DACL]
    descriptor = sd.read_sd_on_dn(base, controls=flags)
    descriptor.dacl_del(security.dom_sid(sid))
    sd.modify_sd_on_dn(base, descriptor, controls=flags)
print(sd.get_sd_as_sddl(base).count(ace))
`;

async function change(dc: SambaRuntime, sam: string, action: 'grant' | 'revoke'): Promise<number> {
  const host = new URL(dc.ldapUrl).hostname;
  const user = dc.admin.username.split('@')[0] ?? dc.admin.username;
  const { stdout } = await run(PYTHON, ['-c', script, `ldap://${host}`, user, dc.baseDn, sam, action], {
    env: { ...process.env, PORTICO_TEST_ADMIN_PASSWORD: dc.admin.password },
    timeout: 60_000,
  });
  return Number(stdout.trim());
}

/** Gives `sam` Replicating Directory Changes on the domain head; resolves once the ACE is there. */
export async function grantReplicatingDirectoryChanges(dc: SambaRuntime, sam: string): Promise<void> {
  const count = await change(dc, sam, 'grant');
  if (count < 1) throw new Error(`the ACE for ${sam} is not on ${dc.baseDn} after granting it`);
}

/** Takes the right back (call before deleting the account, or its SID stays in the domain head's ACL). */
export async function revokeReplicatingDirectoryChanges(dc: SambaRuntime, sam: string): Promise<void> {
  const count = await change(dc, sam, 'revoke');
  if (count !== 0) throw new Error(`the ACE for ${sam} is still on ${dc.baseDn}`);
}
