/**
 * MFA policy: the mode, what happens to people without a device, the factor types allowed, how
 * long a browser is remembered, and which applications and permission sets demand MFA (or a
 * phishing-resistant factor) whatever the mode. Saving sends every field (PUT /mfa/policy); the
 * API validates and audits the change.
 */
import type { Schemas } from '../api.ts';
import { api, InputError } from '../api.ts';
import type { Catalog } from '../catalog.ts';
import { loadCatalog } from '../catalog.ts';
import { Checkbox, checked, Field, FormCard, LoadState, navigate, useLoad, valueOf } from '../ui.tsx';

type Policy = Schemas['MfaPolicy'];
type Requirement = Policy['applications'][string];

const HERE = '#/mfa';

const MODES = [
  { value: 'never', label: 'Never: password only' },
  { value: 'context-aware', label: 'Context-aware: when the browser is new or the address class changed' },
  { value: 'always', label: 'Always: at every sign-in' },
] as const;

const WITHOUT_DEVICE = [
  { value: 'register-at-sign-in', label: 'Register a device at sign-in' },
  { value: 'block', label: 'Refuse the sign-in' },
  { value: 'allow', label: 'Let them in with the password' },
] as const;

const FACTORS = [
  { value: 'totp', label: 'Authenticator apps (TOTP codes)' },
  { value: 'webauthn', label: 'Passkeys and security keys (WebAuthn)' },
  { value: 'radius', label: 'One-time codes checked by the RADIUS servers (mfa.radius)' },
] as const;

const REQUIREMENT_OPTIONS = [
  { value: '', label: 'As the mode says' },
  { value: 'mfa', label: 'Requires MFA' },
  { value: 'phishing-resistant', label: 'Requires a passkey or security key' },
];

export function MfaPage() {
  const [loaded] = useLoad(async () => {
    const policy = await api('get', '/mfa/policy');
    // Without the catalog the page still edits the policy; the targets' requirements are kept as they are.
    const catalog = await loadCatalog().catch(() => null);
    return { policy, catalog };
  });
  return (
    <>
      <p class="intro">
        Multi-factor authentication after the password. People manage their own devices on their portal (/mfa/devices); the help desk removes or resets a person&apos;s devices from their page under Users. Every change here is recorded in the audit log.
      </p>
      <div>{loaded.state === 'ready' ? <PolicyForm policy={loaded.data.policy} catalog={loaded.data.catalog} /> : <LoadState loaded={loaded} />}</div>
    </>
  );
}

/** The selected requirement of each target, with the ones the catalog does not list kept as they were. */
function requirements(form: HTMLFormElement, prefix: string, ids: string[], current: Record<string, Requirement>): Record<string, Requirement> {
  const result: Record<string, Requirement> = {};
  for (const [id, requirement] of Object.entries(current)) if (!ids.includes(id)) result[id] = requirement;
  for (const id of ids) {
    const value = valueOf(form, `${prefix}:${id}`);
    if (value === 'mfa' || value === 'phishing-resistant') result[id] = value;
  }
  return result;
}

function PolicyForm({ policy, catalog }: { policy: Policy; catalog: Catalog | null }) {
  const applications = catalog?.applications ?? [];
  const permissionSets = catalog?.permissionSets ?? [];
  return (
    <FormCard
      title="Policy"
      submitLabel="Save policy"
      submit={async (form) => {
        const factors = FACTORS.filter((f) => checked(form, `factor:${f.value}`)).map((f) => f.value);
        if (factors.length === 0) throw new InputError('factors: choose at least one factor type', 'factor:totp');
        const daysText = valueOf(form, 'rememberDeviceDays');
        const days = /^\d{1,3}$/.test(daysText) ? Number(daysText) : Number.NaN;
        if (!Number.isInteger(days) || days < 1 || days > 365) throw new InputError('rememberDeviceDays: a whole number of days, 1 to 365', 'rememberDeviceDays');
        const saved = await api('put', '/mfa/policy', {
          body: {
            mode: valueOf(form, 'mode') as Policy['mode'],
            withoutDevice: valueOf(form, 'withoutDevice') as Policy['withoutDevice'],
            factors,
            rememberDeviceDays: days,
            ...(catalog === null
              ? {}
              : {
                  applications: requirements(form, 'app', applications.map((a) => a.id), policy.applications),
                  permissionSets: requirements(form, 'ps', permissionSets.map((p) => p.id), policy.permissionSets),
                }),
          },
        });
        navigate(HERE, `MFA policy saved: mode ${saved.mode}, ${saved.factors.length} factor type${saved.factors.length === 1 ? '' : 's'} allowed.`);
      }}
    >
      <Field name="mode" label="When to ask for a second factor" options={[...MODES]} value={policy.mode} />
      <Field name="withoutDevice" label="People without a device" hint="When a second factor is asked of someone who has not registered one." options={[...WITHOUT_DEVICE]} value={policy.withoutDevice} />
      <fieldset>
        <legend>Factor types people may use</legend>
        {FACTORS.map((f) => (
          <Checkbox name={`factor:${f.value}`} label={f.label} checked={policy.factors.includes(f.value)} />
        ))}
      </fieldset>
      <Field name="rememberDeviceDays" label="Remember a browser for (days)" hint="Context-aware mode: 1 to 365 days." inputMode="numeric" value={String(policy.rememberDeviceDays)} />
      {catalog === null ? (
        <p class="note">The applications and permission sets could not be listed; their MFA requirements are kept as they are.</p>
      ) : (
        <>
          <fieldset>
            <legend>Applications</legend>
            {applications.length === 0 ? <p class="note">No applications.</p> : null}
            {applications.map((a) => (
              <Field name={`app:${a.id}`} label={a.name} options={REQUIREMENT_OPTIONS} value={policy.applications[a.id] ?? ''} />
            ))}
          </fieldset>
          <fieldset>
            <legend>Permission sets</legend>
            {permissionSets.length === 0 ? <p class="note">No permission sets.</p> : null}
            {permissionSets.map((p) => (
              <Field name={`ps:${p.id}`} label={p.name} options={REQUIREMENT_OPTIONS} value={policy.permissionSets[p.id] ?? ''} />
            ))}
          </fieldset>
        </>
      )}
    </FormCard>
  );
}
