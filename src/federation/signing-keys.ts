/**
 * The IdP's signing keys: generated at first start (RSA-2048, self-signed certificate), kept in
 * the settings store with the private key sealed under the instance key, and rotated with an
 * overlap so that no service provider sees a signature it cannot check:
 *
 *   stage    — a next key (generated, or the administrator's own key material) is published in
 *              the metadata beside the current one, but not used yet;
 *   activate — once SPs have the new metadata, the next key signs, and the old one stays
 *              published as the previous key (SPs with the new metadata accept both);
 *   retire   — the previous key leaves the metadata.
 *
 * Metadata thus lists one or two certificates, never more.
 *
 * Several instances share the keys (issue 15): each step is a compare-and-set on the stored state
 * (two administrators rotating at once cannot both win), then announced on the change feed, at
 * which every instance reads the keys again — so all sign and publish the same keys.
 */
import { X509Certificate, createPrivateKey, createSign, createVerify, randomUUID } from 'node:crypto';
import type { SecretBox } from '#src/secrets/index.ts';
import type { SharedSettingsStore } from '#src/settings/settings-store.ts';
import type { ChangeFeed } from '#src/shared/change-feed.ts';
import { generateSelfSignedCertificate } from '#src/shared/certificates.ts';
import { AppError } from '#src/shared/errors.ts';
import type { SigningCredential } from './saml/keys.ts';

const SETTING = 'saml_signing_keys';
/** AWS IAM Identity Center's certificates are valid five years as well. */
const CERTIFICATE_DAYS = 5 * 365;

interface StoredKey {
  id: string;
  certificatePem: string;
  sealedKey: string;
  createdAt: string;
}

interface StoredKeys {
  current: StoredKey;
  next?: StoredKey | undefined;
  previous?: StoredKey | undefined;
}

export type KeyState = 'current' | 'next' | 'previous';

export interface SigningKeyView {
  id: string;
  state: KeyState;
  /** SHA-256 of the certificate's DER, colon-separated upper-case hex (as SPs display it). */
  sha256: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  createdAt: string;
  certificatePem: string;
}

export interface KeyMaterial {
  keyPem: string;
  certificatePem: string;
}

export interface SigningKeys {
  /** The credential that signs now. */
  current(): SigningCredential;
  /** The certificates the metadata publishes: the current one, then the next or previous one. */
  published(): string[];
  list(): SigningKeyView[];
  stage(material: KeyMaterial | null, at: Date): Promise<SigningKeyView>;
  activate(at: Date): Promise<SigningKeyView>;
  retire(at: Date): Promise<SigningKeyView>;
  /** Reads the stored keys again (another instance rotated them). */
  reload(): Promise<void>;
}

export async function loadSigningKeys(settings: SharedSettingsStore, box: SecretBox, now: Date, changes?: ChangeFeed, onError?: (error: unknown) => void): Promise<SigningKeys> {
  // First start: of several instances starting together, the first to store a key wins; the others read it.
  if ((await settings.get(SETTING)) === undefined) await settings.create(SETTING, { current: generated(box, now) } satisfies StoredKeys, now);
  const read = async (): Promise<StoredKeys> => {
    const stored = (await settings.get(SETTING)) as StoredKeys | undefined;
    if (stored === undefined) throw new AppError('saml.key_state', 'the SAML signing keys were removed from the database');
    return stored;
  };
  let state = await read();
  let credential = open(box, state.current);

  function use(next: StoredKeys): void {
    if (next.current.id !== state.current.id) credential = open(box, next.current);
    state = next;
  }

  /** One rotation step on the latest stored state; refused when another writer changed it in between. */
  async function change(step: (latest: StoredKeys) => StoredKeys, at: Date): Promise<StoredKeys> {
    const latest = await read();
    use(latest);
    const next = step(latest);
    if (!(await settings.replace(SETTING, latest, next, at))) conflict('the signing keys were changed at the same moment (by another administrator or instance): list them and try again');
    use(next);
    await changes?.announce('signing-keys');
    return next;
  }

  const reload = async (): Promise<void> => use(await read());
  changes?.subscribe('signing-keys', () => {
    reload().catch((error: unknown) => onError?.(error));
  });

  const view = (key: StoredKey, keyState: KeyState): SigningKeyView => {
    const certificate = new X509Certificate(key.certificatePem);
    return {
      id: key.id,
      state: keyState,
      sha256: certificate.fingerprint256,
      subject: certificate.subject,
      notBefore: new Date(certificate.validFrom).toISOString(),
      notAfter: new Date(certificate.validTo).toISOString(),
      createdAt: key.createdAt,
      certificatePem: key.certificatePem,
    };
  };

  return {
    current: () => credential,
    published: () => [state.current, state.next ?? state.previous].filter((key): key is StoredKey => key !== undefined).map((key) => key.certificatePem),
    list: () =>
      [view(state.current, 'current'), ...(state.next ? [view(state.next, 'next')] : []), ...(state.previous ? [view(state.previous, 'previous')] : [])],
    async stage(material, at) {
      const next = material === null ? null : imported(box, material, at);
      const saved = await change((latest) => {
        if (latest.next !== undefined) conflict('a next key is already staged: activate it first');
        // The metadata holds two certificates: staging ends the previous key's overlap.
        return { current: latest.current, next: next ?? generated(box, at) };
      }, at);
      return view(saved.next as StoredKey, 'next');
    },
    async activate(at) {
      const saved = await change((latest) => {
        if (latest.next === undefined) conflict('no next key is staged: stage one first');
        return { current: latest.next, previous: latest.current };
      }, at);
      return view(saved.current, 'current');
    },
    async retire(at) {
      let retired: StoredKey | undefined;
      await change((latest) => {
        if (latest.previous === undefined) conflict('there is no previous key to retire');
        retired = latest.previous;
        return { current: latest.current, next: latest.next };
      }, at);
      return view(retired as StoredKey, 'previous');
    },
    reload,
  };
}

function generated(box: SecretBox, at: Date): StoredKey {
  const { keyPem, certPem } = generateSelfSignedCertificate({ commonName: 'Portico SAML signing', altNames: [], validDays: CERTIFICATE_DAYS });
  return sealed(box, { keyPem, certificatePem: certPem }, at);
}

/** An administrator's own key and certificate: RSA, matching, and not expired. */
function imported(box: SecretBox, material: KeyMaterial, at: Date): StoredKey {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(material.certificatePem);
  } catch {
    invalid('certificatePem is not a PEM X.509 certificate');
  }
  let key;
  try {
    key = createPrivateKey(material.keyPem);
  } catch {
    invalid('keyPem is not a PEM private key (unencrypted PKCS#8 or PKCS#1)');
  }
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) invalid('the key must be RSA, 2048 bits or more (SAML signatures here are RSA-SHA256)');
  const probe = Buffer.from('portico key check');
  const signature = createSign('sha256').update(probe).sign(key);
  if (!createVerify('sha256').update(probe).verify(certificate.publicKey, signature)) invalid('the certificate does not belong to the key');
  if (new Date(certificate.validTo).getTime() <= at.getTime()) invalid(`the certificate expired on ${new Date(certificate.validTo).toISOString()}`);
  return sealed(box, { keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(), certificatePem: certificate.toString() }, at);
}

function sealed(box: SecretBox, material: KeyMaterial, at: Date): StoredKey {
  const id = randomUUID();
  return { id, certificatePem: material.certificatePem, sealedKey: box.seal(material.keyPem, `${SETTING}:${id}`), createdAt: at.toISOString() };
}

function open(box: SecretBox, key: StoredKey): SigningCredential {
  return { keyPem: box.open(key.sealedKey, `${SETTING}:${key.id}`), certificate: key.certificatePem };
}

function conflict(message: string): never {
  throw new AppError('saml.key_state', message, { status: 409 });
}

function invalid(message: string): never {
  throw new AppError('saml.key_invalid', message, { status: 400 });
}
