/** Directory: the identity source, its verdict and its domain controllers (or trusts). */
import { api } from '../api.ts';
import { Badge, LoadState, Mono, Summary, Table, Time, useLoad } from '../ui.tsx';

/** The admin API describes this answer as an open object: these are the fields the console knows. */
interface DirectoryStatus {
  kind?: string;
  state?: string;
  domain?: string;
  code?: string;
  reason?: string;
  ldapUrl?: string;
  ldapsUrl?: string;
  certificateSha256?: string;
  verdict?: { accepted?: boolean; kind?: string; reason?: string; warnings?: string[] } | null;
  controllers?: Array<{ url: string; up: boolean; since?: string; lastError?: string | null; open?: { service: number; bind: number } | null }>;
  trusts?: Array<{ domain: string; ok: boolean; reason?: string | null }>;
  /** Whether Portico's service account binds now (a running directory can still be failing). */
  health?: string;
  serviceAccount?: { account?: string } | null;
  [key: string]: unknown;
}

const KNOWN = new Set(['kind', 'state', 'domain', 'verdict', 'controllers', 'code', 'reason', 'ldapUrl', 'ldapsUrl', 'certificateSha256', 'trusts', 'health', 'serviceAccount']);

export function DirectoryPage() {
  const [loaded, reload] = useLoad(async () => (await api('get', '/directory')) as DirectoryStatus);
  return (
    <>
      <p class="intro">The identity source Portico reads users and groups from, whether it was accepted, and the state of each domain controller.</p>
      <div>{loaded.state === 'ready' ? <Status status={loaded.data} /> : <LoadState loaded={loaded} />}</div>
      <div class="actions">
        <button type="button" class="secondary" onClick={() => void reload()}>
          Refresh
        </button>
      </div>
    </>
  );
}

function Status({ status }: { status: DirectoryStatus }) {
  const good = status.state === 'connected' || status.state === 'running';
  const verdict = status.verdict && typeof status.verdict === 'object' ? status.verdict : null;
  const kind = status.kind === 'managed' ? 'Portico managed directory' : status.kind === 'connector' ? 'Active Directory, connected (connector)' : String(status.kind);
  return (
    <>
      <section class="card" aria-labelledby="directory-source">
        <h2 id="directory-source">Identity source</h2>
        <Summary
          pairs={[
            ['Kind', kind],
            ['State', <Badge tone={good ? 'ok' : 'bad'}>{String(status.state)}</Badge>],
            ['Health', status.health ? <Badge tone={status.health === 'ok' ? 'ok' : 'bad'}>{status.health}</Badge> : null],
            ['Service account', status.serviceAccount?.account ?? null],
            ['Domain', status.domain ?? null],
            ['LDAP URL', status.ldapUrl ?? null],
            ['LDAPS URL', status.ldapsUrl ?? null],
            // The CLI's format: colon-separated upper-case hex.
            ['Certificate SHA-256', status.certificateSha256 ? <Mono>{fingerprint(status.certificateSha256)}</Mono> : null],
            ...Object.entries(status)
              .filter(([key]) => !KNOWN.has(key))
              .map(([key, value]): [string, string] => [key, typeof value === 'string' ? value : JSON.stringify(value)]),
          ]}
        />
        {status.reason ? (
          <div class="alert" role="alert">
            {`${status.code ? `${status.code}: ` : ''}${status.reason}`}
          </div>
        ) : null}
      </section>
      {verdict ? (
        <section class="card" aria-labelledby="directory-verdict">
          <h2 id="directory-verdict">Validation verdict</h2>
          <Summary
            pairs={[
              ['Verdict', <Badge tone={verdict.accepted ? 'ok' : 'bad'}>{verdict.accepted ? 'Accepted' : 'Refused'}</Badge>],
              ['Directory', verdict.kind ?? null],
              ['Reason', verdict.reason ?? null],
              [
                'Warnings',
                Array.isArray(verdict.warnings) && verdict.warnings.length > 0 ? (
                  <ul>
                    {verdict.warnings.map((warning) => (
                      <li>{warning}</li>
                    ))}
                  </ul>
                ) : (
                  'None'
                ),
              ],
            ]}
          />
        </section>
      ) : null}
      {Array.isArray(status.controllers) ? (
        <Table
          caption={`Domain controllers (${status.controllers.length})`}
          empty="No domain controllers."
          rows={status.controllers}
          columns={[
            { label: 'Controller', cell: (c) => <Mono>{c.url}</Mono> },
            { label: 'State', cell: (c) => <Badge tone={c.up ? 'ok' : 'bad'}>{c.up ? 'Up' : 'Down'}</Badge> },
            { label: 'Since', cell: (c) => <Time iso={c.since} /> },
            { label: 'Last error', cell: (c) => c.lastError ?? 'None' },
            { label: 'Open connections', cell: (c) => (c.open ? `${c.open.service} service, ${c.open.bind} sign-in` : '—') },
          ]}
        />
      ) : null}
      {Array.isArray(status.trusts) ? (
        <Table
          caption={`Trusted forests (${status.trusts.length})`}
          empty="No trusted forests."
          rows={status.trusts}
          columns={[
            { label: 'Forest', cell: (t) => t.domain },
            { label: 'State', cell: (t) => <Badge tone={t.ok ? 'ok' : 'bad'}>{t.ok ? 'Usable' : 'Unusable'}</Badge> },
            { label: 'Reason', cell: (t) => t.reason ?? '' },
          ]}
        />
      ) : null}
    </>
  );
}

/** A SHA-256 fingerprint as the CLI prints it: upper-case hex pairs separated by colons. */
export function fingerprint(value: string): string {
  const hex = value.replace(/[^0-9a-fA-F]/g, '');
  if (hex.length !== 64) return value;
  return hex.toUpperCase().match(/.{2}/g)!.join(':');
}
