/**
 * A real second domain controller of the CORP domain, for the one test that needs two DCs with
 * their own highestCommittedUSN (the sync's failover): `samba-tool domain join … DC` into its
 * own directory, listening on 127.0.0.3 only, started by the test and removed again after it
 * (`samba-tool domain demote --remove-other-dead-server` on DC1). Not part of `dc.sh start`.
 *
 * What the join needs that the shared DC was provisioned without (no DNS server there):
 * - DRS between the DCs resolves `<NTDS GUID>._msdcs.<domain>` and the DCs' host names: they go
 *   into /etc/hosts (marked lines, removed at stop);
 * - Kerberos for DRS: DC1's computer account needs the DRS SPN
 *   `E3514235-4B06-11D1-AB04-00C04FC2DCD2/<NTDS GUID>/<domain>` (samba_spnupdate would add it;
 *   it does not run there), added here and removed at stop; DC2's samba finds the KDC through its
 *   own krb5.conf (KRB5_CONFIG);
 * - replication DC1 → DC2 every 2 s (`dreplsrv:periodic_interval`): DC1 cannot notify DC2.
 * DC2's certificate is signed by the CORP test CA, so the same caFile validates both DCs.
 * Everything written to DC1 is undone by stop(); only tests write to a DC, never Portico.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Attribute, Change, Client } from 'ldapts';
import type { SambaRuntime } from './samba.ts';

const run = promisify(execFile);

export interface SecondDc {
  /** ldaps://127.0.0.3:636 */
  ldapsUrl: string;
  /** Its dsServiceName (lower-cased, as the connector reports controller ids). */
  controllerId: string;
  dir: string;
  /** Resolves once DC2 answers `probe` truthy (replication is asynchronous). */
  waitFor(what: string, probe: (client: Client) => Promise<boolean>, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

const ADDRESS = '127.0.0.3';
const NAME = 'DC2';
const DRS_SPN_CLASS = 'E3514235-4B06-11D1-AB04-00C04FC2DCD2';
const HOSTS_MARK = '# portico-test-dc2';

function guidOf(bytes: Buffer): string {
  const h = bytes.toString('hex');
  const le = (s: string) => s.match(/../g)?.reverse().join('') ?? '';
  return `${le(h.slice(0, 8))}-${le(h.slice(8, 12))}-${le(h.slice(12, 16))}-${h.slice(16, 20)}-${h.slice(20)}`;
}

async function sh(file: string, args: string[], env: Record<string, string> = {}, timeout = 180_000): Promise<string> {
  try {
    const { stdout } = await run(file, args, { env: { ...process.env, ...env }, timeout, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.slice(0, 4).join(' ')} failed: ${e.message}\n${(e.stderr ?? '').slice(-2000)}\n${(e.stdout ?? '').slice(-2000)}`, { cause: error });
  }
}

async function adminClient(url: string, dc: SambaRuntime): Promise<Client> {
  const client = new Client({ url, tlsOptions: { ca: readFileSync(dc.caFile) }, timeout: 10_000, connectTimeout: 5_000 });
  await client.bind(dc.admin.username, dc.admin.password);
  return client;
}

/** The NTDS Settings GUID and DNS host name of the DC `client` is bound to. */
async function controllerOf(client: Client): Promise<{ dsServiceName: string; ntdsGuid: string; hostName: string; computerDn: string }> {
  const root = (await client.search('', { scope: 'base', attributes: ['dsServiceName', 'serverName'] })).searchEntries[0];
  const dsServiceName = String(root?.dsServiceName);
  const serverDn = String(root?.serverName);
  const ntds = (await client.search(dsServiceName, { scope: 'base', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] })).searchEntries[0];
  const server = (await client.search(serverDn, { scope: 'base', attributes: ['dNSHostName', 'serverReference'] })).searchEntries[0];
  return { dsServiceName, ntdsGuid: guidOf(ntds?.objectGUID as Buffer), hostName: String(server?.dNSHostName).toLowerCase(), computerDn: String(server?.serverReference) };
}

function removeHostsLines(): void {
  const hosts = readFileSync('/etc/hosts', 'utf8');
  const kept = hosts.split('\n').filter((line) => !line.includes(HOSTS_MARK));
  if (kept.length !== hosts.split('\n').length) writeFileSync('/etc/hosts', kept.join('\n'));
}

/** Removes a DC2 left behind by an earlier run that did not stop (the join refuses an existing name). */
async function removeStale(dc: SambaRuntime): Promise<void> {
  await sh('samba-tool', ['domain', 'demote', `--remove-other-dead-server=${NAME}`, '-H', `ldap://${new URL(dc.ldapUrl).hostname}`, `-U${dc.admin.username.split('@')[0]}`, '--use-kerberos=off'], { PASSWD: dc.admin.password }).catch(() => undefined);
}

export async function startSecondDc(dc: SambaRuntime): Promise<SecondDc> {
  const dir = process.env.PORTICO_SAMBA_DC2_DIR ?? '/tmp/portico-samba-dc2';
  const dc1Host = new URL(dc.ldapUrl).hostname;
  const adminUser = dc.admin.username.split('@')[0] ?? 'Administrator';
  const cleanups: Array<() => Promise<void>> = [];
  const undo = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(`second DC cleanup: ${String(error)}`));
  };

  try {
    if ((await sh('ip', ['-o', 'addr', 'show', 'dev', 'lo'])).includes(`${ADDRESS}/`) === false) await sh('ip', ['addr', 'add', `${ADDRESS}/8`, 'dev', 'lo']);
    if ((await sh('ss', ['-ltnH', `src ${ADDRESS}:636`])).trim() !== '') throw new Error(`${ADDRESS}:636 is in use: another second DC is running`);
    await removeStale(dc);
    rmSync(dir, { recursive: true, force: true });
    for (const sub of ['etc', 'tls', 'run', 'log', 'private', 'state/sysvol/corp.example.test/scripts', 'cache', 'bind-dns']) mkdirSync(join(dir, sub), { recursive: true });
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));

    // TLS: a certificate for 127.0.0.3 from the CORP test CA.
    const tls = join(dir, 'tls');
    const caDir = dirname(dc.caFile);
    writeFileSync(join(tls, 'ext.cnf'), `subjectAltName=DNS:dc2.${dc.domain},DNS:localhost,IP:${ADDRESS}\nextendedKeyUsage=serverAuth\n`);
    await sh('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=dc2.${dc.domain}`, '-keyout', join(tls, 'dc-key.pem'), '-out', join(tls, 'dc.csr')]);
    await sh('openssl', ['x509', '-req', '-in', join(tls, 'dc.csr'), '-CA', dc.caFile, '-CAkey', join(caDir, 'ca-key.pem'), '-set_serial', `0x${Date.now().toString(16)}`, '-days', '7', '-sha256', '-extfile', join(tls, 'ext.cnf'), '-out', join(tls, 'dc.pem')]);
    await sh('chmod', ['600', join(tls, 'dc-key.pem')]);
    writeFileSync(join(tls, 'ca.pem'), readFileSync(dc.caFile));

    const conf = join(dir, 'etc', 'smb.conf');
    writeFileSync(
      conf,
      `[global]
	netbios name = ${NAME}
	realm = ${dc.domain.toUpperCase()}
	workgroup = ${dc.netbiosName}
	server role = active directory domain controller
	interfaces = ${ADDRESS}/8
	bind interfaces only = yes
	binddns dir = ${dir}/bind-dns
	cache directory = ${dir}/cache
	lock directory = ${dir}
	state directory = ${dir}/state
	private dir = ${dir}/private
	pid directory = ${dir}/run
	ncalrpc dir = ${dir}/run/ncalrpc
	winbindd socket directory = ${dir}/run/winbindd
	ntp signd socket directory = ${dir}/run/ntp_signd
	log file = ${dir}/log/%m.log
	rpc server dynamic port range = 62600-62699
	server services = -dns -nbt -wrepl -dnsupdate -ntp_signd -s3fs -winbindd
	dreplsrv:periodic_interval = 2
	tls enabled = yes
	tls keyfile = ${tls}/dc-key.pem
	tls certfile = ${tls}/dc.pem
	tls cafile = ${tls}/ca.pem

[sysvol]
	path = ${dir}/state/sysvol
	read only = No

[netlogon]
	path = ${dir}/state/sysvol/${dc.domain}/scripts
	read only = No
`,
    );
    const realm = dc.domain.toUpperCase();
    writeFileSync(
      join(dir, 'krb5.conf'),
      `[libdefaults]\n\tdefault_realm = ${realm}\n\tdns_lookup_realm = false\n\tdns_lookup_kdc = false\n[realms]\n\t${realm} = {\n\t\tkdc = ${dc1Host}\n\t}\n\t${dc.domain} = {\n\t\tkdc = ${dc1Host}\n\t}\n[domain_realm]\n\t.${dc.domain} = ${realm}\n\t${dc.domain} = ${realm}\n`,
    );

    // DC1: the DRS SPN on its computer account (taken away again at stop if it was missing).
    const dc1Client = await adminClient(dc.ldapsUrl, dc);
    try {
      const dc1 = await controllerOf(dc1Client);
      const spn = `${DRS_SPN_CLASS}/${dc1.ntdsGuid}/${dc.domain}`;
      const spns = (await dc1Client.search(dc1.computerDn, { scope: 'base', attributes: ['servicePrincipalName'] })).searchEntries[0]?.servicePrincipalName;
      const present = ([] as unknown[]).concat(spns ?? []).some((value) => String(value).toLowerCase() === spn.toLowerCase());
      if (!present) {
        await dc1Client.modify(dc1.computerDn, new Change({ operation: 'add', modification: new Attribute({ type: 'servicePrincipalName', values: [spn] }) }));
        cleanups.push(async () => {
          const client = await adminClient(dc.ldapsUrl, dc);
          try {
            await client.modify(dc1.computerDn, new Change({ operation: 'delete', modification: new Attribute({ type: 'servicePrincipalName', values: [spn] }) }));
          } finally {
            await client.unbind();
          }
        });
      }
      writeFileSync(join(dir, 'dc1.json'), JSON.stringify(dc1));
    } finally {
      await dc1Client.unbind();
    }
    const dc1 = JSON.parse(readFileSync(join(dir, 'dc1.json'), 'utf8')) as Awaited<ReturnType<typeof controllerOf>>;

    // The join (about a minute: it replicates the whole domain), then DC2's own identity.
    cleanups.push(() => removeStale(dc));
    await sh('samba-tool', ['domain', 'join', dc.domain, 'DC', '-s', conf, `--server=${dc1Host}`, `-U${adminUser}`, '--use-kerberos=off', '--dns-backend=NONE'], { PASSWD: dc.admin.password }, 300_000);

    // Names for DRS, both ways (DC1 → DC2 notifications fail harmlessly without them).
    const ntdsGuidScript = 'import sys\nfrom samba.samdb import SamDB\nfrom samba.param import LoadParm\nfrom samba.auth import system_session\nlp = LoadParm()\nlp.load(sys.argv[1])\nprint(SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(), lp=lp).get_ntds_GUID())';
    const dc2Guid = (await sh('/usr/bin/python3', ['-c', ntdsGuidScript, conf])).trim();
    if (!/^[0-9a-f-]{36}$/i.test(dc2Guid)) throw new Error(`DC2's NTDS GUID: ${dc2Guid}`);
    removeHostsLines();
    writeFileSync(
      '/etc/hosts',
      `${readFileSync('/etc/hosts', 'utf8').replace(/\n?$/, '\n')}${dc1Host} ${dc1.hostName} ${dc1.ntdsGuid}._msdcs.${dc.domain} ${HOSTS_MARK}\n${ADDRESS} dc2.${dc.domain} ${dc2Guid}._msdcs.${dc.domain} ${HOSTS_MARK}\n`,
    );
    cleanups.push(() => Promise.resolve(removeHostsLines()));

    // Start it: its own process group, stopped by pid at the end.
    const log = openSync(join(dir, 'samba.log'), 'a');
    const samba = spawn('samba', ['-s', conf, '-i', '-M', 'single'], { detached: true, stdio: ['ignore', log, log], env: { ...process.env, KRB5_CONFIG: join(dir, 'krb5.conf') } });
    closeSync(log);
    const exited = new Promise<void>((resolve) => samba.once('exit', () => resolve()));
    cleanups.push(async () => {
      if (samba.pid !== undefined && samba.exitCode === null) {
        process.kill(-samba.pid, 'SIGTERM');
        const timer = setTimeout(() => samba.pid !== undefined && process.kill(-samba.pid, 'SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    });

    const ldapsUrl = `ldaps://${ADDRESS}:636`;
    const waitFor: SecondDc['waitFor'] = async (what, probe, timeoutMs = 60_000) => {
      const started = Date.now();
      let last: string | null = null;
      for (;;) {
        if (samba.exitCode !== null) throw new Error(`the second DC exited (${samba.exitCode}); see ${dir}/samba.log`);
        try {
          const client = await adminClient(ldapsUrl, dc);
          try {
            if (await probe(client)) return Date.now() - started;
          } finally {
            await client.unbind();
          }
        } catch (error) {
          last = error instanceof Error ? error.message : String(error);
        }
        if (Date.now() - started > timeoutMs) throw new Error(`the second DC: ${what} not within ${timeoutMs} ms${last ? ` (${last})` : ''}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    let controllerId = '';
    await waitFor('LDAPS answers', async (client) => {
      controllerId = (await controllerOf(client)).dsServiceName.toLowerCase();
      return true;
    });
    if (existsSync(join(dir, 'dc1.json'))) rmSync(join(dir, 'dc1.json'));
    return {
      ldapsUrl,
      controllerId,
      dir,
      waitFor,
      stop: undo,
    };
  } catch (error) {
    await undo();
    throw error;
  }
}
