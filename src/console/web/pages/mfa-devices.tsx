/**
 * A person's MFA devices, for the help desk: list them, remove one, or reset them all (the lost
 * phone: every device and recovery code goes, and the person registers again at their next
 * sign-in, as the policy says). Found by any key the users API accepts (user name, user ID).
 */
import { useState } from 'preact/hooks';
import type { ApiResult } from '../api.ts';
import { api, errorText } from '../api.ts';
import type { PageProps } from '../page.ts';
import { Alert, confirmAction, DeleteButton, Field, FormCard, LoadState, Mono, navigate, Table, Time, useLoad, valueOf } from '../ui.tsx';

type Devices = ApiResult<'/users/{id}/mfa-devices', 'get'>;
type Device = Devices['devices'][number];

const TYPES: Readonly<Record<string, string>> = { totp: 'Authenticator app', webauthn: 'Passkey or security key' };

const here = (key: string) => `#/mfa-devices/${encodeURIComponent(key)}`;

export function MfaDevicesPage(props: PageProps) {
  const key = props.segments.slice(1).join('/');
  return (
    <>
      <p class="intro">
        The second-factor devices of one person. Remove a device they lost; reset everything when they lost their phone and their recovery codes. They register again at their next sign-in (unless the policy blocks people without a device). Each change is recorded in the audit
        log.
      </p>
      <FormCard title="Find a person" submitLabel="Show devices" submit={(form) => Promise.resolve(navigate(here(valueOf(form, 'user'))))}>
        <Field name="user" label="User name or user ID" hint="Someone who has signed in to Portico at least once." value={key} type="search" />
      </FormCard>
      {key === '' ? null : <UserDevices key={key} userKey={key} setHeading={props.setHeading} />}
    </>
  );
}

function UserDevices({ userKey, setHeading }: { userKey: string; setHeading: PageProps['setHeading'] }) {
  const [loaded] = useLoad(async () => {
    const found = await api('get', '/users/{id}/mfa-devices', { params: { id: userKey } });
    setHeading(`MFA devices of ${found.userName}`, `${found.userName} · MFA devices`);
    return found;
  });
  const [alert, setAlert] = useState('');
  if (loaded.state !== 'ready') return <LoadState loaded={loaded} />;
  const { userName, devices, recoveryCodes } = loaded.data;

  async function remove(device: Device) {
    setAlert('');
    const message = `Remove “${device.name}” (${TYPES[device.type] ?? device.type}) from ${userName}? It stops working at once.`;
    if (!(await confirmAction({ title: 'Remove MFA device?', message, confirm: 'Remove device' }))) return;
    try {
      await api('delete', '/users/{id}/mfa-devices/{deviceId}', { params: { id: userKey, deviceId: device.id } });
      navigate(here(userKey), `Removed the MFA device “${device.name}” of ${userName}.`);
    } catch (error) {
      setAlert(errorText(error));
    }
  }
  async function reset() {
    setAlert('');
    const message = `Remove every MFA device and recovery code of ${userName}? Do this when they lost their phone: they register a new device at their next sign-in.`;
    if (!(await confirmAction({ title: 'Reset MFA?', message, confirm: 'Reset MFA' }))) return;
    try {
      const { removed } = await api('post', '/users/{id}/mfa-devices/reset', { params: { id: userKey } });
      navigate(here(userKey), `Reset the MFA of ${userName}: ${removed} device${removed === 1 ? '' : 's'} and the recovery codes removed.`);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  return (
    <div>
      <Alert message={alert} />
      <Table
        caption={`Devices of ${userName} (${devices.length})`}
        empty="No MFA devices."
        rows={devices}
        columns={[
          { label: 'Name', cell: (d) => d.name },
          { label: 'Type', cell: (d) => TYPES[d.type] ?? d.type },
          { label: 'Registered', cell: (d) => <Time iso={d.createdAt} /> },
          { label: 'Last used', cell: (d) => (d.lastUsedAt ? <Time iso={d.lastUsedAt} /> : 'Never') },
          { label: 'Device ID', cell: (d) => <Mono>{d.id}</Mono> },
          { label: 'Actions', hideLabel: true, cell: (d) => <DeleteButton label={d.name} text="Remove" onClick={() => void remove(d)} /> },
        ]}
      />
      <section class="card" aria-labelledby="mfa-reset">
        <h2 id="mfa-reset">Lost phone</h2>
        <p>
          {userName} has {recoveryCodes} unused recovery code{recoveryCodes === 1 ? '' : 's'}.
        </p>
        <div class="actions">
          <button type="button" class="danger" onClick={() => void reset()}>
            Reset all MFA devices
          </button>
        </div>
      </section>
    </div>
  );
}
