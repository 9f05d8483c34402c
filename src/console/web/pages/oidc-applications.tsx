/**
 * OIDC applications (relying parties of Portico's OpenID provider): list, register, edit
 * (#/oidc-applications/<id>), disable or enable, rotate the client secret, delete. A confidential
 * client's secret appears once, in the answer that created or rotated it: the page shows it in a
 * panel that takes the focus and is gone once dismissed or left. Assignments are made on the
 * Assignments page, as for SAML applications.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Schemas } from '../api.ts';
import { api, errorText, InputError } from '../api.ts';
import type { PageProps } from '../page.ts';
import { Alert, Badge, Checkbox, confirmAction, DeleteButton, Field, flash, FormCard, Hidden, lines, LoadState, Mono, navigate, Table, useLoad, useUid, valueOf, checked } from '../ui.tsx';

type OidcApplication = Schemas['OidcApplication'];
type GrantType = OidcApplication['grantTypes'][number];
type ClaimMapping = OidcApplication['claimMappings'][number];

const GRANT_TYPES: ReadonlyArray<{ value: GrantType; label: string }> = [
  { value: 'authorization_code', label: 'Authorization code (people signing in)' },
  { value: 'refresh_token', label: 'Refresh tokens (with the authorization code)' },
  { value: 'client_credentials', label: 'Client credentials (a machine client, no person; confidential only)' },
];
const MAPPABLE: readonly string[] = ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'email', 'locale', 'zoneinfo', 'phone_number'];

export function OidcApplicationsPage(props: PageProps) {
  if (props.segments.length > 1) return <EditOidcApplication id={props.segments.slice(1).join('/')} setHeading={props.setHeading} />;
  return <OidcApplicationList />;
}

/** The secret, once: a read-only field that selects itself, and a button that drops it. */
function SecretPanel({ clientId, secret, what, onDone }: { clientId: string; secret: string; what: string; onDone: () => void }) {
  const headingId = useUid('secret-title');
  const sectionRef = useRef<HTMLElement>(null);
  useEffect(() => sectionRef.current?.focus(), [secret]);
  return (
    <section class="card secret" aria-labelledby={headingId} tabIndex={-1} ref={sectionRef}>
      <h2 id={headingId}>{`Client secret of ${what}`}</h2>
      <p>
        Shown this once: store it in the application now. Portico keeps it sealed and cannot show it again (rotate it to get a new one).
      </p>
      <Field name="shownClientId" label="Client ID" value={clientId} readOnly mono onFocus={(event) => (event.currentTarget as HTMLInputElement).select()} />
      <Field name="shownClientSecret" label="Client secret" value={secret} readOnly mono onFocus={(event) => (event.currentTarget as HTMLInputElement).select()} />
      <div class="actions">
        <button type="button" onClick={onDone}>
          I have stored the secret
        </button>
      </div>
    </section>
  );
}

/** "claim = ${user:…}" per line. */
function parseClaimMappings(text: string): ClaimMapping[] {
  return lines(text).map((line, index) => {
    const at = line.indexOf('=');
    const claim = at <= 0 ? '' : line.slice(0, at).trim();
    if (!MAPPABLE.includes(claim)) throw new InputError(`claimMappings: line ${index + 1} must be claim = template, the claim one of ${MAPPABLE.join(', ')}`, 'claimMappings');
    return { claim: claim as ClaimMapping['claim'], value: line.slice(at + 1).trim() };
  });
}
const claimMappingsText = (mappings: readonly ClaimMapping[] | undefined) => (mappings ?? []).map((m) => `${m.claim} = ${m.value}`).join('\n');

/** The fields of an application shared by the registration and the edit form (name and client type only at registration). */
function OidcFields({ application }: { application?: OidcApplication }) {
  const grants = new Set<GrantType>(application?.grantTypes ?? ['authorization_code', 'refresh_token']);
  return (
    <>
      {application ? null : (
        <>
          <Field name="name" label="Name" />
          <Field
            name="clientType"
            label="Client type"
            options={[
              { value: 'confidential', label: 'Confidential (a server-side application with a client secret)' },
              { value: 'public', label: 'Public (a browser or native application: no secret, PKCE S256 required)' },
            ]}
            value="confidential"
          />
        </>
      )}
      <Field name="description" label="Description" optional value={application?.description} />
      <Field name="redirectUris" label="Redirect URIs" rows={2} mono hint="One per line, matched exactly; https, or http on loopback only. Needed for the authorization code grant." value={application?.redirectUris.join('\n')} />
      <Field name="postLogoutRedirectUris" label="Post-logout redirect URIs" optional rows={2} mono hint="One per line: where RP-initiated logout may return." value={application?.postLogoutRedirectUris.join('\n')} />
      <fieldset>
        <legend>Grant types</legend>
        {GRANT_TYPES.map((grant) => (
          <Checkbox name={`grant-${grant.value}`} label={grant.label} checked={grants.has(grant.value)} />
        ))}
      </fieldset>
      <Field
        name="tokenEndpointAuthMethod"
        label="Client authentication (confidential clients)"
        options={[
          { value: 'client_secret_basic', label: 'client_secret_basic (HTTP Basic)' },
          { value: 'client_secret_post', label: 'client_secret_post (in the form body)' },
        ]}
        value={application?.tokenEndpointAuthMethod ?? 'client_secret_basic'}
      />
      <fieldset>
        <legend>Token lifetimes</legend>
        <p class="hint">ISO-8601 durations: PT5M to PT24H for access and ID tokens, PT15M to PT2160H for refresh tokens.</p>
        <Field name="accessTokenLifetime" label="Access token" value={application?.accessTokenLifetime ?? 'PT1H'} />
        <Field name="idTokenLifetime" label="ID token" value={application?.idTokenLifetime ?? 'PT1H'} />
        <Field name="refreshTokenLifetime" label="Refresh token" value={application?.refreshTokenLifetime ?? 'PT336H'} />
      </fieldset>
      <Field
        name="claimMappings"
        label="Claim mappings"
        optional
        rows={3}
        mono
        hint={
          <>
            One <code>claim = template</code> per line over the defaults, e.g. <code>{'nickname = ${user:enterprise.department}'}</code>; claims: {MAPPABLE.join(', ')}.
          </>
        }
        value={claimMappingsText(application?.claimMappings)}
      />
      <fieldset>
        <legend>Groups claim</legend>
        <Checkbox name="groupsEnabled" label="Send the groups claim (scope groups): AD security groups, nested membership resolved" checked={application?.groupsClaim.enabled ?? true} />
        <Field name="groupsPrefix" label="Only groups whose name starts with" optional value={application?.groupsClaim.prefix} />
        <Checkbox name="groupsAssignedOnly" label="Only the groups the application is assigned to" checked={application?.groupsClaim.assignedOnly ?? false} />
      </fieldset>
      <Field
        name="subjectType"
        label="Subject (sub)"
        options={[
          { value: 'pairwise', label: 'Pairwise: a different sub for each application (default)' },
          { value: 'public', label: 'Public: the same sub for every application' },
        ]}
        value={application?.subjectType ?? 'pairwise'}
      />
      <Field
        name="idTokenSigningAlg"
        label="ID token signature"
        options={[
          { value: 'ES256', label: 'ES256 (default)' },
          { value: 'RS256', label: 'RS256 (for relying parties that only do RSA)' },
        ]}
        value={application?.idTokenSigningAlg ?? 'ES256'}
      />
      <Field name="backchannelLogoutUri" label="Back-channel logout URI" optional type="url" hint="Where Portico POSTs a logout token when the person's Portico session ends; https, or http on loopback." value={application?.backchannelLogoutUri} />
      <Field name="initiateLoginUri" label="Initiate login URI" optional type="url" hint="The application's own login start, where the portal tile sends people." value={application?.initiateLoginUri} />
    </>
  );
}

type Editable = Pick<OidcApplication, 'redirectUris' | 'postLogoutRedirectUris' | 'grantTypes' | 'tokenEndpointAuthMethod' | 'accessTokenLifetime' | 'idTokenLifetime' | 'refreshTokenLifetime' | 'claimMappings' | 'groupsClaim' | 'subjectType' | 'idTokenSigningAlg'>;
const OPTIONAL = ['description', 'backchannelLogoutUri', 'initiateLoginUri'] as const;
type Optional = (typeof OPTIONAL)[number];

/** The form's fields as the API takes them. */
function readOidcApplication(form: HTMLFormElement): Editable {
  const groupsPrefix = valueOf(form, 'groupsPrefix');
  return {
    redirectUris: lines(valueOf(form, 'redirectUris')),
    postLogoutRedirectUris: lines(valueOf(form, 'postLogoutRedirectUris')),
    grantTypes: GRANT_TYPES.filter((grant) => checked(form, `grant-${grant.value}`)).map((grant) => grant.value),
    tokenEndpointAuthMethod: valueOf(form, 'tokenEndpointAuthMethod') as Editable['tokenEndpointAuthMethod'],
    accessTokenLifetime: valueOf(form, 'accessTokenLifetime'),
    idTokenLifetime: valueOf(form, 'idTokenLifetime'),
    refreshTokenLifetime: valueOf(form, 'refreshTokenLifetime'),
    claimMappings: parseClaimMappings(valueOf(form, 'claimMappings')),
    groupsClaim: { enabled: checked(form, 'groupsEnabled'), assignedOnly: checked(form, 'groupsAssignedOnly'), ...(groupsPrefix === '' ? {} : { prefix: groupsPrefix }) },
    subjectType: valueOf(form, 'subjectType') as Editable['subjectType'],
    idTokenSigningAlg: valueOf(form, 'idTokenSigningAlg') as Editable['idTokenSigningAlg'],
  };
}

/** Optional fields: sent when filled, left out when empty. */
function filledOptionals(form: HTMLFormElement): Partial<Record<Optional, string>> {
  const result: Partial<Record<Optional, string>> = {};
  for (const name of OPTIONAL) if (valueOf(form, name) !== '') result[name] = valueOf(form, name);
  return result;
}

/** Optional fields of the edit form: an empty one is sent as null, which removes it. */
function editedOptionals(form: HTMLFormElement): Record<Optional, string | null> {
  const value = (name: Optional) => (valueOf(form, name) === '' ? null : valueOf(form, name));
  return { description: value('description'), backchannelLogoutUri: value('backchannelLogoutUri'), initiateLoginUri: value('initiateLoginUri') };
}

function OidcApplicationList() {
  const [loaded, reload] = useLoad(() => api('get', '/oidc-applications'));
  const [alert, setAlert] = useState('');
  const [secret, setSecret] = useState<{ clientId: string; secret: string; name: string } | null>(null);

  const focusCaption = () => setTimeout(() => document.getElementById('oidc-applications-caption')?.focus(), 0);

  async function remove(application: OidcApplication) {
    setAlert('');
    if (!(await confirmAction({ title: 'Delete OIDC application?', message: `Delete the OIDC application ${application.name}? Its tokens stop working. Applications with assignments cannot be deleted.` }))) return;
    try {
      await api('delete', '/oidc-applications/{id}', { params: { id: application.id } });
      flash.say(`OIDC application ${application.name} deleted.`);
      await reload();
      focusCaption();
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  async function toggle(application: OidcApplication) {
    setAlert('');
    const disabling = !application.disabled;
    if (disabling && !(await confirmAction({ title: 'Disable OIDC application?', message: `Disable ${application.name}? It gets no new tokens and its refresh tokens stop working until it is enabled again.`, confirm: 'Disable' }))) return;
    try {
      await api('patch', '/oidc-applications/{id}', { params: { id: application.id }, body: { disabled: disabling } });
      flash.say(`OIDC application ${application.name} ${disabling ? 'disabled' : 'enabled'}.`);
      await reload();
      focusCaption();
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  return (
    <>
      <p class="intro">
        Applications that sign people in through Portico's OpenID provider (OpenID Connect). Assign people and groups to them on the <a href="#/assignments">Assignments</a> page.
      </p>
      {secret ? <SecretPanel clientId={secret.clientId} secret={secret.secret} what={secret.name} onDone={() => (setSecret(null), focusCaption())} /> : null}
      <Alert message={alert} />
      <div>
        {loaded.state === 'ready' ? (
          <Table
            caption={`OIDC applications (${loaded.data.applications.length})`}
            captionId="oidc-applications-caption"
            empty="No OIDC applications yet."
            rows={loaded.data.applications}
            columns={[
              { label: 'Name', cell: (a) => <strong>{a.name}</strong> },
              { label: 'Client ID', cell: (a) => <Mono>{a.id}</Mono> },
              { label: 'Type', cell: (a) => (a.clientType === 'public' ? 'Public' : 'Confidential') },
              { label: 'Grant types', cell: (a) => a.grantTypes.join(', ') },
              {
                label: 'Redirect URIs',
                cell: (a) =>
                  a.redirectUris.length === 0 ? (
                    '—'
                  ) : (
                    <ul>
                      {a.redirectUris.map((url) => (
                        <li>
                          <Mono>{url}</Mono>
                        </li>
                      ))}
                    </ul>
                  ),
              },
              { label: 'Back-channel logout', cell: (a) => (a.backchannelLogoutUri ? <Mono>{a.backchannelLogoutUri}</Mono> : '—') },
              { label: 'Status', cell: (a) => (a.disabled ? <Badge tone="bad">Disabled</Badge> : <Badge tone="ok">Enabled</Badge>) },
              {
                label: 'Actions',
                cell: (a) => (
                  <div class="actions">
                    <a href={`#/access?${new URLSearchParams({ application: a.id })}`}>
                      Who can reach<Hidden> {a.name}</Hidden>
                    </a>
                    <a href={`#/oidc-applications/${encodeURIComponent(a.id)}`}>
                      Edit<Hidden> {a.name}</Hidden>
                    </a>
                    <button type="button" class="secondary small" onClick={() => void toggle(a)}>
                      {a.disabled ? 'Enable' : 'Disable'}
                      <Hidden> {a.name}</Hidden>
                    </button>
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
      <FormCard
        title="Register an OIDC application"
        submitLabel="Register application"
        submit={async (form) => {
          const body = { name: valueOf(form, 'name'), clientType: valueOf(form, 'clientType') as OidcApplication['clientType'], ...readOidcApplication(form), ...filledOptionals(form) };
          const created = await api('post', '/oidc-applications', { body });
          form.reset();
          await reload();
          if (created.clientSecret !== null) setSecret({ clientId: created.application.id, secret: created.clientSecret, name: created.application.name });
          return `OIDC application ${created.application.name} registered (client ID ${created.application.id}).`;
        }}
      >
        <OidcFields />
      </FormCard>
    </>
  );
}

function EditOidcApplication({ id, setHeading }: { id: string; setHeading: PageProps['setHeading'] }) {
  const [loaded] = useLoad(async () => {
    const application = await api('get', '/oidc-applications/{id}', { params: { id } });
    setHeading(`OIDC application ${application.name}`, `${application.name} · OIDC applications`);
    return application;
  });
  return (
    <>
      <p>
        <a href="#/oidc-applications">← All OIDC applications</a>
      </p>
      {loaded.state === 'ready' ? <EditOidcForm application={loaded.data} /> : <LoadState loaded={loaded} />}
    </>
  );
}

function EditOidcForm({ application }: { application: OidcApplication }) {
  const [secret, setSecret] = useState<string | null>(null);
  const [alert, setAlert] = useState('');

  async function rotate() {
    setAlert('');
    if (!(await confirmAction({ title: 'Rotate the client secret?', message: `A new secret for ${application.name}: the current one stops working at once.`, confirm: 'Rotate secret' }))) return;
    try {
      setSecret((await api('post', '/oidc-applications/{id}/secret', { params: { id: application.id } })).clientSecret);
      flash.say(`A new client secret for ${application.name}; the old one no longer works.`);
    } catch (error) {
      setAlert(errorText(error));
    }
  }

  return (
    <>
      <section class="card" aria-labelledby="oidc-client-title">
        <h2 id="oidc-client-title">Client</h2>
        <dl class="summary">
          <dt>Client ID</dt>
          <dd>
            <Mono>{application.id}</Mono>
          </dd>
          <dt>Client type</dt>
          <dd>{application.clientType === 'public' ? 'Public (PKCE S256, no secret)' : 'Confidential'}</dd>
        </dl>
        <Alert message={alert} />
        {application.clientType === 'confidential' ? (
          <button type="button" class="secondary" onClick={() => void rotate()}>
            Rotate client secret
          </button>
        ) : null}
      </section>
      {secret ? <SecretPanel clientId={application.id} secret={secret} what={application.name} onDone={() => setSecret(null)} /> : null}
      <FormCard
        title="Edit the application"
        intro="The name and the client type cannot change. An optional field left empty is removed."
        submitLabel="Save application"
        submit={async (form) => {
          const body = { ...readOidcApplication(form), ...editedOptionals(form), disabled: checked(form, 'disabled') };
          const saved = await api('patch', '/oidc-applications/{id}', { params: { id: application.id }, body });
          navigate('#/oidc-applications', `OIDC application ${saved.name} saved.`);
        }}
      >
        <OidcFields application={application} />
        <Checkbox name="disabled" label="Disabled: no new tokens, and its refresh tokens stop working" checked={application.disabled} />
      </FormCard>
    </>
  );
}
