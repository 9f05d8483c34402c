/**
 * Applications: list, add by hand or from SP metadata, edit (#/applications/<id>) including the
 * attribute mappings of its assertions, delete.
 */
import { useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText } from '../api.ts';
import type { PageProps } from '../page.ts';
import { Alert, Checkbox, confirmAction, DeleteButton, Field, flash, FormCard, Hidden, lines, LoadState, Mono, navigate, optional, Select, Table, useLoad, useUid, valueOf, checked } from '../ui.tsx';

type Application = Schemas['Application'];
type AttributeMapping = Application['attributeMappings'][number];

const NAME_ID_FORMATS = [
  { value: 'persistent', label: 'Persistent (default)' },
  { value: 'emailAddress', label: 'Email address' },
  { value: 'unspecified', label: 'Unspecified' },
  { value: 'transient', label: 'Transient' },
];
const ATTRIBUTE_FORMATS = ['unspecified', 'uri', 'basic'] as const;

const SignResponseField = ({ value }: { value?: boolean }) => (
  <Checkbox name="signResponse" label="Sign the Response too" hint="The assertion is always signed; some service providers also require a signature on the Response (it costs a second signature)." checked={value} />
);

export function ApplicationsPage(props: PageProps) {
  if (props.segments.length > 1) return <EditApplication id={props.segments.slice(1).join('/')} setHeading={props.setHeading} />;
  return <ApplicationList />;
}

/** The SAML fields of an application, shared by "Add by hand" and the edit form. */
function ApplicationFields({ application }: { application?: Application }) {
  return (
    <>
      {application ? null : <Field name="name" label="Name" />}
      <Field name="description" label="Description" optional value={application?.description} />
      <Field name="entityId" label="Entity ID" hint="The service provider's entity ID (the audience of its assertions)." value={application?.entityId} />
      <Field name="acsUrls" label="ACS URLs" rows={2} mono hint="One per line, the default first; https (http only on loopback)." value={application?.acsUrls.join('\n')} />
      <Field name="nameIdFormat" label="Name ID format" options={NAME_ID_FORMATS} value={application?.nameIdFormat} />
      <Field name="startUrl" label="Start URL" optional type="url" hint="Where the portal sends people to start (service-provider initiated)." value={application?.startUrl} />
      <Field name="sessionDuration" label="Session duration" value={application?.sessionDuration ?? 'PT1H'} hint="ISO-8601, from PT15M to PT12H." />
      <Field name="logoutUrl" label="Logout URL" optional type="url" hint="The service provider's single-logout URL (HTTP-Redirect): where Portico answers its LogoutRequest." value={application?.logoutUrl} />
      <SignResponseField value={application?.signResponse} />
    </>
  );
}

function readApplication(form: HTMLFormElement) {
  const body = {
    entityId: valueOf(form, 'entityId'),
    acsUrls: lines(valueOf(form, 'acsUrls')),
    nameIdFormat: valueOf(form, 'nameIdFormat') as Application['nameIdFormat'],
    sessionDuration: valueOf(form, 'sessionDuration'),
    signResponse: checked(form, 'signResponse'),
  };
  optional(body, 'description', valueOf(form, 'description'));
  optional(body, 'startUrl', valueOf(form, 'startUrl'));
  optional(body, 'logoutUrl', valueOf(form, 'logoutUrl'));
  return body;
}

function ApplicationList() {
  const [loaded, reload] = useLoad(() => api('get', '/applications'));
  const [alert, setAlert] = useState('');

  async function remove(application: Application) {
    setAlert('');
    if (!(await confirmAction({ title: 'Delete application?', message: `Delete the application ${application.name}? Applications with assignments cannot be deleted.` }))) return;
    try {
      await api('delete', '/applications/{id}', { params: { id: application.id } });
      flash.say(`Application ${application.name} deleted.`);
      await reload();
      setTimeout(() => document.getElementById('applications-caption')?.focus(), 0);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  return (
    <>
      <p class="intro">SAML service providers that people sign in to through Portico.</p>
      <Alert message={alert} />
      <div>
        {loaded.state === 'ready' ? (
          <Table
            caption={`Applications (${loaded.data.applications.length})`}
            captionId="applications-caption"
            empty="No applications yet."
            rows={loaded.data.applications}
            columns={[
              { label: 'Name', cell: (a) => <strong>{a.name}</strong> },
              { label: 'Entity ID', cell: (a) => <Mono>{a.entityId}</Mono> },
              {
                label: 'ACS URLs',
                cell: (a) => (
                  <ul>
                    {a.acsUrls.map((url) => (
                      <li>
                        <Mono>{url}</Mono>
                      </li>
                    ))}
                  </ul>
                ),
              },
              { label: 'Name ID', cell: (a) => a.nameIdFormat },
              { label: 'Signed requests', cell: (a) => (a.signingCertificate ? 'Required' : 'No') },
              { label: 'Signed Response', cell: (a) => (a.signResponse ? 'Yes' : 'No') },
              { label: 'Logout URL', cell: (a) => (a.logoutUrl ? <Mono>{a.logoutUrl}</Mono> : '—') },
              {
                label: 'Actions',
                cell: (a) => (
                  <div class="actions">
                    <a href={`#/access?${new URLSearchParams({ application: a.id })}`}>
                      Who can reach<Hidden> {a.name}</Hidden>
                    </a>
                    <a href={`#/applications/${encodeURIComponent(a.id)}`}>
                      Edit<Hidden> {a.name}</Hidden>
                    </a>
                    <DeleteButton label={a.name} onClick={() => void remove(a)} />
                  </div>
                ),
              },
            ]}
          />
        ) : (
          <LoadState loaded={loaded} />
        )}
      </div>
      <div class="grid-2">
        <FromMetadata reload={reload} />
        <FormCard
          title="Add by hand"
          submitLabel="Add application"
          submit={async (form) => {
            const created = await api('post', '/applications', { body: { name: valueOf(form, 'name'), ...readApplication(form) } });
            form.reset();
            await reload();
            return `Application ${created.name} added.`;
          }}
        >
          <ApplicationFields />
        </FormCard>
      </div>
    </>
  );
}

function FromMetadata({ reload }: { reload: () => Promise<void> }) {
  const fileId = useUid('metadata-file');
  const [fileStatus, setFileStatus] = useState('');
  async function loadFile(input: HTMLInputElement) {
    const file = input.files?.[0];
    if (!file) return;
    if (file.size > 2 * 1024 * 1024) {
      setFileStatus(`${file.name} is larger than 2 MiB.`);
      return;
    }
    const metadata = input.form?.elements.namedItem('metadata');
    if (metadata instanceof HTMLTextAreaElement) metadata.value = await file.text();
    setFileStatus(`Loaded ${file.name} (${Math.max(1, Math.round(file.size / 1024))} KB) into the field above.`);
  }
  return (
    <FormCard
      title="Add from SP metadata"
      intro="The entity ID, ACS URLs (HTTP-POST), name ID format, certificates and logout URL (HTTP-Redirect) are read from the metadata."
      submitLabel="Add from metadata"
      submit={async (form) => {
        const application = optional({ name: valueOf(form, 'name') }, 'description', valueOf(form, 'description'));
        const metadata = form.elements.namedItem('metadata');
        const created = await api('post', '/applications/from-metadata', {
          body: { metadata: metadata instanceof HTMLTextAreaElement ? metadata.value : '', application: checked(form, 'signResponse') ? { ...application, signResponse: true } : application },
        });
        form.reset();
        setFileStatus('');
        await reload();
        return `Application ${created.name} added (entity ID ${created.entityId}).`;
      }}
    >
      <Field name="name" label="Name" />
      <Field name="description" label="Description" optional />
      <Field name="metadata" label="SP metadata XML" rows={8} mono hint="Paste the EntityDescriptor, or choose the file below. DOCTYPEs and entities are refused." />
      <div class="field">
        <label for={fileId}>Or upload the metadata file</label>
        <input id={fileId} type="file" accept=".xml,application/xml,text/xml,application/samlmetadata+xml" onChange={(event) => void loadFile(event.currentTarget)} />
        <p class="hint" role="status">
          {fileStatus}
        </p>
      </div>
      <SignResponseField />
    </FormCard>
  );
}

interface MappingRow {
  key: number;
  mapping: AttributeMapping;
}
let rowKeys = 0;

function EditApplication({ id, setHeading }: { id: string; setHeading: PageProps['setHeading'] }) {
  const [loaded] = useLoad(async () => {
    const application = await api('get', '/applications/{id}', { params: { id } });
    setHeading(`Application ${application.name}`, `${application.name} · Applications`);
    return application;
  });
  return (
    <>
      <p>
        <a href="#/applications">← All applications</a>
      </p>
      {loaded.state === 'ready' ? <EditForm application={loaded.data} /> : <LoadState loaded={loaded} />}
    </>
  );
}

function EditForm({ application }: { application: Application }) {
  const [rows, setRows] = useState<MappingRow[]>(() => application.attributeMappings.map((mapping) => ({ key: ++rowKeys, mapping })));
  return (
    <FormCard
      title="Edit the application"
      intro="The name cannot change. Empty optional fields are left as they are."
      submitLabel="Save application"
      submit={async (form) => {
        const attributeMappings = readMappings(form);
        const saved = await api('patch', '/applications/{id}', { params: { id: application.id }, body: { ...readApplication(form), attributeMappings } });
        navigate('#/applications', `Application ${saved.name} saved.`);
      }}
    >
      <ApplicationFields application={application} />
      <fieldset>
        <legend>Attribute mappings</legend>
        <p class="hint">
          The attributes of each assertion: a name and a value made of <code>{'${user:email}'}</code>, <code>{'${user:name.givenName}'}</code>, <code>{'${user:groups}'}</code> and text.
        </p>
        <div class="table-block">
          <table class="stack">
            <caption>{`Attributes (${rows.length})`}</caption>
            <thead>
              <tr>
                <th scope="col">Attribute name</th>
                <th scope="col">Value</th>
                <th scope="col">Format</th>
                <th scope="col">
                  <Hidden>Remove</Hidden>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row, index) => (
                <tr key={row.key} data-mapping-row="">
                  <td data-label="Attribute name">
                    <label class="visually-hidden" for={`attr-name-${row.key}`}>{`Attribute name ${index + 1}`}</label>
                    <input id={`attr-name-${row.key}`} type="text" name="attributeName" defaultValue={row.mapping.name} autoComplete="off" spellcheck={false} autocapitalize="none" />
                  </td>
                  <td data-label="Value">
                    <label class="visually-hidden" for={`attr-value-${row.key}`}>{`Attribute value ${index + 1}`}</label>
                    <input id={`attr-value-${row.key}`} type="text" name="attributeValue" class="mono" defaultValue={row.mapping.value} autoComplete="off" spellcheck={false} autocapitalize="none" />
                  </td>
                  <td data-label="Format">
                    <label class="visually-hidden" for={`attr-format-${row.key}`}>{`Attribute format ${index + 1}`}</label>
                    <Select id={`attr-format-${row.key}`} name="attributeFormat" options={ATTRIBUTE_FORMATS.map((format) => ({ value: format, label: format }))} value={row.mapping.format} />
                  </td>
                  <td data-label="Remove">
                    <button type="button" class="danger small" onClick={() => setRows((current) => current.filter((r) => r.key !== row.key))}>
                      Remove<Hidden>{` attribute ${index + 1}${row.mapping.name ? ` (${row.mapping.name})` : ''}`}</Hidden>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <button type="button" class="secondary" onClick={() => setRows((current) => [...current, { key: ++rowKeys, mapping: { name: '', value: '', format: 'unspecified' } }])}>
          Add an attribute
        </button>
      </fieldset>
    </FormCard>
  );
}

/** The attribute rows as edited; rows left empty are dropped. */
function readMappings(form: HTMLFormElement): AttributeMapping[] {
  const result: AttributeMapping[] = [];
  for (const row of form.querySelectorAll('tr[data-mapping-row]')) {
    const name = row.querySelector<HTMLInputElement>('input[name="attributeName"]')?.value.trim() ?? '';
    const value = row.querySelector<HTMLInputElement>('input[name="attributeValue"]')?.value.trim() ?? '';
    const format = (row.querySelector<HTMLSelectElement>('select[name="attributeFormat"]')?.value ?? 'unspecified') as AttributeMapping['format'];
    if (name === '' && value === '') continue;
    result.push({ name, value, format });
  }
  return result;
}
