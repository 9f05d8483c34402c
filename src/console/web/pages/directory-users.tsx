/**
 * Directory users: administration of Portico's own managed directory (never of a connected AD,
 * where the API answers 409): create a user, reset a password, unlock, enable or disable. Shown
 * in the menu only when the managed directory is the identity source. The admin API has no route
 * that lists the directory's users, so a user is named (sAMAccountName, UPN or DN).
 */
import { InputError, api } from '../api.ts';
import { Checkbox, Field, FormCard, checked, optional, valueOf } from '../ui.tsx';

const USER_HINT = 'The sAMAccountName (bob), the UPN (bob@example.com) or the DN.';
const ACTIONS = [
  { value: 'unlock', label: 'Unlock (clear a lockout)' },
  { value: 'enable', label: 'Enable (allow sign-in)' },
  { value: 'disable', label: 'Disable (refuse sign-in)' },
];
const DONE: Readonly<Record<string, string>> = { unlock: 'Unlocked', enable: 'Enabled', disable: 'Disabled' };

function userName(form: HTMLFormElement): string {
  const name = valueOf(form, 'user');
  if (name === '') throw new InputError('user: required', 'user');
  return name;
}

export function DirectoryUsersPage() {
  return (
    <>
      <p class="intro">Users of the directory Portico runs itself. Every change is recorded in the audit log under your name; passwords never are.</p>
      <div class="grid-2">
        <FormCard
          title="Create a user"
          intro="Without an initial password the user is created disabled. The domain's password policy applies."
          submitLabel="Create user"
          submit={async (form) => {
            const body = optional({ sam: valueOf(form, 'sam') }, 'password', valueOf(form, 'password'));
            for (const field of ['givenName', 'surname', 'displayName', 'mail', 'ou'] as const) optional(body, field, valueOf(form, field));
            const created = await api('post', '/directory/managed/users', { body: checked(form, 'mustChange') ? { ...body, mustChange: true } : body });
            form.reset();
            return `User created: ${created.dn} (${created.enabled ? 'enabled' : 'disabled: no password yet'}).`;
          }}
        >
          <Field name="sam" label="User name (sAMAccountName)" hint="Up to 20 characters; the user signs in as name@domain." />
          <Field name="password" label="Initial password" optional type="password" autoComplete="new-password" />
          <Checkbox name="mustChange" label="Must change the password at the next sign-in" />
          <Field name="givenName" label="Given name" optional />
          <Field name="surname" label="Surname" optional />
          <Field name="displayName" label="Display name" optional />
          <Field name="mail" label="Email" optional type="email" />
          <Field name="ou" label="Organizational unit (DN)" optional hint="Where to create the user, e.g. OU=Staff,DC=example,DC=com; CN=Users by default." />
        </FormCard>
        <div>
          <FormCard
            title="Unlock, enable or disable"
            submitLabel="Apply"
            submit={async (form) => {
              const name = userName(form);
              const action = valueOf(form, 'action');
              const params = { params: { name } };
              const result =
                action === 'unlock'
                  ? await api('post', '/directory/managed/users/{name}/unlock', params)
                  : action === 'enable'
                    ? await api('post', '/directory/managed/users/{name}/enable', params)
                    : await api('post', '/directory/managed/users/{name}/disable', params);
              return `${DONE[action] ?? action}: ${result.dn}.`;
            }}
          >
            <Field name="user" label="User" hint={USER_HINT} />
            <Field name="action" label="Action" options={ACTIONS} value="unlock" />
          </FormCard>
          <FormCard
            title="Reset a password"
            intro="The domain's password policy applies; a refusal names the rule."
            submitLabel="Reset password"
            submit={async (form) => {
              const name = userName(form);
              const password = valueOf(form, 'password');
              if (password === '') throw new InputError('password: required', 'password');
              const result = await api('post', '/directory/managed/users/{name}/password', { params: { name }, body: { password, mustChange: checked(form, 'mustChange') } });
              form.reset();
              return `Password reset for ${result.dn}.`;
            }}
          >
            <Field name="user" label="User" hint={USER_HINT} />
            <Field name="password" label="New password" type="password" autoComplete="new-password" />
            <Checkbox name="mustChange" label="Must change the password at the next sign-in" />
          </FormCard>
        </div>
      </div>
    </>
  );
}
