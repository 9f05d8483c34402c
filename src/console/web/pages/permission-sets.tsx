/** Permission sets: list, create, edit (#/permission-sets/<id>), delete. */
import { useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText } from '../api.ts';
import type { PageProps } from '../page.ts';
import { Alert, confirmAction, DeleteButton, Field, flash, FormCard, Hidden, LoadState, Mono, navigate, optional, parseTags, lines, Table, TagsField, tagsText, useLoad, valueOf } from '../ui.tsx';

type PermissionSet = Schemas['PermissionSet'];

export function PermissionSetsPage(props: PageProps) {
  if (props.segments.length > 1) return <EditPermissionSet id={props.segments.slice(1).join('/')} setHeading={props.setHeading} />;
  return <PermissionSetList />;
}

function PermissionSetFields({ set }: { set?: PermissionSet }) {
  return (
    <>
      {set ? null : <Field name="name" label="Name" hint="1 to 32 letters, digits and +=,.@_- (it cannot be changed later)." />}
      <Field name="description" label="Description" optional rows={2} value={set?.description} />
      <Field name="sessionDuration" label="Session duration" value={set?.sessionDuration ?? 'PT1H'} hint="ISO-8601, from PT1H to PT12H (e.g. PT4H, PT8H30M)." />
      <Field name="relayState" label="Relay state" optional hint="Where the AWS console opens, e.g. https://console.aws.amazon.com/s3/" value={set?.relayState} />
      <Field name="managedPolicies" label="AWS managed policies" optional rows={3} mono hint="One ARN per line, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess" value={set?.managedPolicies.join('\n')} />
      <Field name="inlinePolicy" label="Inline policy" optional rows={8} mono hint={'A JSON policy document: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", …}]}'} value={set?.inlinePolicy} />
      <TagsField value={set ? tagsText(set.tags) : undefined} />
    </>
  );
}

function readPermissionSet(form: HTMLFormElement) {
  const body = { sessionDuration: valueOf(form, 'sessionDuration'), managedPolicies: lines(valueOf(form, 'managedPolicies')), tags: parseTags(valueOf(form, 'tags')) };
  optional(body, 'description', valueOf(form, 'description'));
  optional(body, 'relayState', valueOf(form, 'relayState'));
  optional(body, 'inlinePolicy', valueOf(form, 'inlinePolicy'));
  return body;
}

function PermissionSetList() {
  const [loaded, reload] = useLoad(() => api('get', '/permission-sets'));
  const [alert, setAlert] = useState('');

  async function remove(set: PermissionSet) {
    setAlert('');
    if (!(await confirmAction({ title: 'Delete permission set?', message: `Delete the permission set ${set.name}? Permission sets with assignments cannot be deleted.` }))) return;
    try {
      await api('delete', '/permission-sets/{id}', { params: { id: set.id } });
      flash.say(`Permission set ${set.name} deleted.`);
      await reload();
      setTimeout(() => document.getElementById('permission-sets-caption')?.focus(), 0);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  return (
    <>
      <p class="intro">What people may do in an account: AWS managed policies and an inline policy. With an AWS management identity, each becomes an IAM role in every account it is assigned in (see AWS provisioning).</p>
      <Alert message={alert} />
      <div>
        {loaded.state === 'ready' ? (
          <Table
            caption={`Permission sets (${loaded.data.permissionSets.length})`}
            captionId="permission-sets-caption"
            empty="No permission sets yet."
            rows={loaded.data.permissionSets}
            columns={[
              { label: 'Name', cell: (p) => <strong>{p.name}</strong> },
              { label: 'Description', cell: (p) => p.description || '—' },
              { label: 'Session duration', cell: (p) => p.sessionDuration },
              {
                label: 'Policies',
                cell: (p) => {
                  const items = [
                    ...p.managedPolicies.map((arn) => (
                      <li>
                        <Mono>{arn}</Mono>
                      </li>
                    )),
                    ...p.customerManagedPolicies.map((c) => <li>{`Customer managed: ${c.path}${c.name}`}</li>),
                    ...(p.inlinePolicy ? [<li>Inline policy</li>] : []),
                  ];
                  return items.length > 0 ? <ul>{items}</ul> : 'None';
                },
              },
              {
                label: 'Actions',
                cell: (p) => (
                  <div class="actions">
                    <a href={`#/permission-sets/${encodeURIComponent(p.id)}`}>
                      Edit<Hidden> {p.name}</Hidden>
                    </a>
                    <DeleteButton label={p.name} onClick={() => void remove(p)} />
                  </div>
                ),
              },
            ]}
          />
        ) : (
          <LoadState loaded={loaded} />
        )}
      </div>
      <FormCard
        title="Create a permission set"
        submitLabel="Create permission set"
        submit={async (form) => {
          const created = await api('post', '/permission-sets', { body: { name: valueOf(form, 'name'), ...readPermissionSet(form) } });
          form.reset();
          await reload();
          return `Permission set ${created.name} created.`;
        }}
      >
        <PermissionSetFields />
      </FormCard>
    </>
  );
}

function EditPermissionSet({ id, setHeading }: { id: string; setHeading: PageProps['setHeading'] }) {
  const [loaded] = useLoad(async () => {
    const set = await api('get', '/permission-sets/{id}', { params: { id } });
    setHeading(`Permission set ${set.name}`, `${set.name} · Permission sets`);
    return set;
  });
  return (
    <>
      <p>
        <a href="#/permission-sets">← All permission sets</a>
      </p>
      {loaded.state === 'ready' ? (
        <FormCard
          title="Edit the permission set"
          intro="The name cannot change."
          submitLabel="Save permission set"
          submit={async (form) => {
            const saved = await api('patch', '/permission-sets/{id}', { params: { id }, body: readPermissionSet(form) });
            navigate('#/permission-sets', `Permission set ${saved.name} saved.`);
          }}
        >
          <PermissionSetFields set={loaded.data} />
        </FormCard>
      ) : (
        <LoadState loaded={loaded} />
      )}
    </>
  );
}
