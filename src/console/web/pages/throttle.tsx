/** Throttled sign-ins: failed sign-ins Portico holds back (per account, unknown name and client address), with a clear button each. */
import { useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText } from '../api.ts';
import { Alert, Badge, confirmAction, Hidden, LoadState, navigate, Table, Time, useLoad } from '../ui.tsx';

type Entry = Schemas['ThrottleEntry'];

// 'name': counted by the spelling typed, because it designates no account.
const KINDS: Readonly<Record<string, string>> = { account: 'Account', name: 'User name as typed', address: 'Client address' };

/** "14 min", "45 s": how long until the next attempt is allowed. */
function waitText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  return seconds >= 120 ? `${Math.ceil(seconds / 60)} min` : `${seconds} s`;
}

export function ThrottlePage() {
  const [loaded] = useLoad(() => api('get', '/throttle'));
  const [alert, setAlert] = useState('');

  async function clear(entry: Entry) {
    setAlert('');
    const message = `Forget the ${entry.failures} failed sign-in${entry.failures === 1 ? '' : 's'} of ${entry.label}? ${entry.kind === 'address' ? 'Sign-ins from this address' : 'This user'} can try again at once. The change is recorded in the audit log.`;
    if (!(await confirmAction({ title: 'Clear failed sign-ins?', message, confirm: 'Clear' }))) return;
    try {
      const { cleared } = await api('post', '/throttle/clear', { body: { target: entry.key } });
      navigate('#/throttle', `Cleared the failed sign-ins of ${cleared.map((c) => c.label).join(', ')}.`);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  return (
    <>
      <p class="intro">
        Accounts, user names and client addresses with recent failed sign-ins. Past the limit, Portico refuses their attempts before they reach Active Directory until the oldest failure leaves the window, so that nobody can lock AD accounts through Portico. Clearing lets them try
        again now; it does not unlock an account that Active Directory itself has locked.
      </p>
      <Alert message={alert} />
      <div>
        {loaded.state === 'ready' ? (
          <Table
            caption={`Recent failed sign-ins (${loaded.data.entries.length}; ${loaded.data.entries.filter((e) => e.throttled).length} throttled)`}
            empty="No recent failed sign-ins."
            rows={loaded.data.entries}
            columns={[
              {
                label: 'Who',
                cell: (e) => (
                  <span>
                    {e.label}
                    {e.key === e.label ? null : <span class="path mono">{e.key}</span>}
                  </span>
                ),
              },
              { label: 'Kind', cell: (e) => KINDS[e.kind] ?? e.kind },
              { label: 'Failures', cell: (e) => `${e.failures} of ${e.maxFailures}` },
              { label: 'State', cell: (e) => (e.throttled ? <Badge tone="bad">Throttled</Badge> : <Badge tone="neutral">Counting</Badge>) },
              {
                label: 'Retry after',
                cell: (e) =>
                  e.throttled ? (
                    <span>
                      {waitText(e.retryAfterSeconds)} (<Time iso={e.throttledUntil} />)
                    </span>
                  ) : (
                    '—'
                  ),
              },
              { label: 'Last failure', cell: (e) => <Time iso={e.lastFailureAt} /> },
              {
                label: 'Actions',
                hideLabel: true,
                cell: (e) => (
                  <button type="button" class="secondary small" onClick={() => void clear(e)}>
                    Clear<Hidden> {e.label}</Hidden>
                  </button>
                ),
              },
            ]}
          />
        ) : (
          <LoadState loaded={loaded} />
        )}
      </div>
    </>
  );
}
