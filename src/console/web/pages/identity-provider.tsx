/** Identity provider: where service providers find Portico, and the rotation of its signing key. */
import { useState } from 'preact/hooks';
import type { ApiResult } from '../api.ts';
import { api, errorText, InputError } from '../api.ts';
import { Alert, Badge, confirmAction, Field, FormCard, LoadState, Mono, navigate, Summary, Table, Time, useLoad, valueOf } from '../ui.tsx';
import { fingerprint } from './directory.tsx';

const KEY_STATES = {
  current: { label: 'Current', note: 'Signs now', tone: 'ok' },
  next: { label: 'Next', note: 'Published, does not sign yet', tone: 'neutral' },
  previous: { label: 'Previous', note: 'Published, no longer signs', tone: 'neutral' },
} as const;

const HERE = '#/identity-provider';

export function IdentityProviderPage() {
  const [loaded] = useLoad(() => api('get', '/saml'));
  return (
    <>
      <p class="intro">Portico as a SAML identity provider. Give service providers the metadata URL: it carries the entity ID, both endpoints and the signing certificates.</p>
      <div>{loaded.state === 'ready' ? <IdentityProvider idp={loaded.data} /> : <LoadState loaded={loaded} />}</div>
    </>
  );
}

function IdentityProvider({ idp }: { idp: ApiResult<'/saml', 'get'> }) {
  const next = idp.certificates.find((c) => c.state === 'next');
  const previous = idp.certificates.find((c) => c.state === 'previous');
  const [alert, setAlert] = useState('');

  /** Runs a rotation step, then shows the page again with what changed. */
  async function step(work: () => Promise<string>) {
    setAlert('');
    try {
      navigate(HERE, await work());
    } catch (error) {
      setAlert(errorText(error));
    }
  }
  async function activate() {
    if (!next) return;
    setAlert('');
    const message = `Sign with the next key (SHA-256 ${fingerprint(next.sha256)}) from now on? Service providers that have not read the metadata since it was staged will refuse the signatures. The current key stays in the metadata as the previous one.`;
    if (!(await confirmAction({ title: 'Activate the next key?', message, confirm: 'Activate next key' }))) return;
    await step(async () => {
      const activated = await api('post', '/saml/certificates/activate');
      return `The next key signs now (SHA-256 ${fingerprint(activated.sha256)}). Retire the previous key once every service provider has the current one.`;
    });
  }
  async function retire() {
    if (!previous) return;
    setAlert('');
    const message = `Remove the previous key (SHA-256 ${fingerprint(previous.sha256)}) from the metadata? It no longer signs; its private key is deleted.`;
    if (!(await confirmAction({ title: 'Retire the previous key?', message, confirm: 'Retire previous key' }))) return;
    await step(async () => {
      const retired = await api('delete', '/saml/certificates/previous');
      return `Previous key retired (SHA-256 ${fingerprint(retired.sha256)}): it is no longer in the metadata.`;
    });
  }

  return (
    <>
      <section class="card" aria-labelledby="idp-endpoints">
        <h2 id="idp-endpoints">Endpoints</h2>
        <Summary
          pairs={[
            ['Entity ID', <Mono>{idp.entityId}</Mono>],
            [
              'Metadata',
              <a href={idp.metadataUrl} class="mono">
                {idp.metadataUrl}
              </a>,
            ],
            ['Single sign-on (HTTP-Redirect, HTTP-POST)', <Mono>{idp.ssoUrl}</Mono>],
            ['Single logout (HTTP-Redirect)', <Mono>{idp.sloUrl}</Mono>],
          ]}
        />
        <div class="copy">
          <Field name="metadataUrl" label="Metadata URL, to copy" value={idp.metadataUrl} readOnly onFocus={(event) => (event.currentTarget as HTMLInputElement).select()} />
        </div>
      </section>
      <Table
        caption={`Signing certificates (${idp.certificates.length})`}
        captionId="certificates-caption"
        empty="No signing certificate."
        rows={idp.certificates}
        columns={[
          {
            label: 'State',
            cell: (c) => (
              <span>
                <Badge tone={KEY_STATES[c.state].tone}>{KEY_STATES[c.state].label}</Badge>
                <span class="path">{KEY_STATES[c.state].note}</span>
              </span>
            ),
          },
          { label: 'SHA-256', cell: (c) => <Mono>{fingerprint(c.sha256)}</Mono> },
          { label: 'Not after', cell: (c) => <Time iso={c.notAfter} /> },
          { label: 'Added', cell: (c) => <Time iso={c.createdAt} /> },
        ]}
      />
      <section class="card" aria-labelledby="idp-rotation">
        <h2 id="idp-rotation">Rotate the signing key</h2>
        <ol class="steps">
          <li>
            <strong>Stage</strong> a next key: it is published in the metadata beside the current one; nothing else changes.
          </li>
          <li>Let every service provider read the metadata again (some do it on their own, others need it uploaded).</li>
          <li>
            <strong>Activate</strong> it: the next key signs; the old one stays in the metadata as the previous key.
          </li>
          <li>
            <strong>Retire</strong> the previous key: it leaves the metadata.
          </li>
        </ol>
        <p>
          {next
            ? 'A next key is staged: activate it once every service provider has read the metadata again.'
            : previous
              ? 'The previous key is still in the metadata: retire it once every service provider has the current one.'
              : 'Only the current key is published.'}
        </p>
        <Alert message={alert} />
        <div class="actions">
          {next ? null : (
            <button
              type="button"
              onClick={() =>
                void step(async () => {
                  const staged = await api('post', '/saml/certificates', { body: {} });
                  return `Next key staged (SHA-256 ${fingerprint(staged.sha256)}). It is in the metadata now: activate it once every service provider has read the metadata again.`;
                })
              }
            >
              Stage next key
            </button>
          )}
          {next ? (
            <button type="button" onClick={() => void activate()}>
              Activate next key
            </button>
          ) : null}
          {previous ? (
            <button type="button" class="danger" onClick={() => void retire()}>
              Retire previous key
            </button>
          ) : null}
        </div>
      </section>
      {next ? null : (
        <FormCard
          title="Stage your own key"
          intro="Instead of a generated one: an unencrypted RSA private key of 2048 bits or more and its certificate, not expired, both PEM."
          submitLabel="Stage this key"
          submit={async (form) => {
            const body = { keyPem: valueOf(form, 'keyPem'), certificatePem: valueOf(form, 'certificatePem') };
            if (body.keyPem === '') throw new InputError('keyPem: paste the private key', 'keyPem');
            if (body.certificatePem === '') throw new InputError('certificatePem: paste the certificate', 'certificatePem');
            const staged = await api('post', '/saml/certificates', { body });
            navigate(HERE, `Your key is staged as the next key (SHA-256 ${fingerprint(staged.sha256)}). It is in the metadata now: activate it once every service provider has read the metadata again.`);
          }}
        >
          <Field name="keyPem" label="Private key (PEM)" rows={6} mono hint="-----BEGIN PRIVATE KEY----- … It is sealed in the database and never shown again." />
          <Field name="certificatePem" label="Certificate (PEM)" rows={6} mono hint="-----BEGIN CERTIFICATE----- …" />
        </FormCard>
      )}
    </>
  );
}
