/**
 * Portico's own account in its managed directory. Portico reads the directory through the same
 * connector as any AD, and binding that connector as the domain's Administrator gave every read
 * full rights and put the most powerful account behind Portico's availability. Instead, a plain
 * user — no admin group, so the engine refuses its writes with insufficientAccessRights — is
 * provisioned at first start and on upgrade of an existing directory, with a random password
 * sealed under the instance key in the settings store (never logged, never in a file), so every
 * Portico instance on one database binds with it.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { SecretBox } from '#src/secrets/index.ts';
import type { SettingsStore } from '#src/settings/settings-store.ts';
import { AppError } from '#src/shared/errors.ts';
import { escapeDnValue } from '#src/directory/names.ts';
import type { DirectoryBackend, Session } from './backend.ts';
import { ResultCode } from './backend.ts';

/** sAMAccountName of the account (the UPN is this @ the domain). */
export const SERVICE_ACCOUNT_NAME = 'portico-service';
const SETTING = 'managed_directory_service_account';
const SEAL_CONTEXT = 'managed_directory_service_account';
/** NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD: a machine's password does not age like a person's. */
const UAC = 0x200 | 0x10000;

export interface ServiceAccount {
  dn: string;
  upn: string;
  password: string;
}

interface Stored {
  sealedPassword: string;
}

export interface EnsureServiceAccountInput {
  backend: DirectoryBackend;
  /** A session of the domain's Administrator (in process; never over the network). */
  admin: Session;
  baseDn: string;
  domain: string;
  settings: SettingsStore;
  box: SecretBox;
  logger: Logger;
  now?: () => Date;
}

/** 144 random bits; the prefix and suffix satisfy AD's complexity rule (upper, lower, digit, symbol). */
function generatePassword(): string {
  return `Sv-${randomBytes(18).toString('base64url')}-7q`;
}

const text = (value: string): Buffer[] => [Buffer.from(value, 'utf8')];
const unicodePwd = (password: string): Buffer[] => [Buffer.from(`"${password}"`, 'utf16le')];

function failed(what: string, result: { resultCode: number; diagnosticMessage?: string }): AppError {
  return new AppError('directory.operation_failed', `${what}: ${result.diagnosticMessage ?? `LDAP result ${result.resultCode}`}`, { status: 500 });
}

async function findAccount(input: EnsureServiceAccountInput): Promise<string | null> {
  const found: string[] = [];
  const { result } = await input.backend.search(
    input.admin,
    {
      baseObject: input.baseDn,
      scope: 'sub',
      derefAliases: 0,
      sizeLimit: 2,
      timeLimit: 10,
      typesOnly: false,
      filter: { type: 'equality', attribute: 'sAMAccountName', value: Buffer.from(SERVICE_ACCOUNT_NAME) },
      attributes: ['1.1'],
    },
    [],
    { entry: (entry) => (found.push(entry.objectName), Promise.resolve()), signal: new AbortController().signal },
  );
  if (result.resultCode !== ResultCode.success) throw failed(`looking up ${SERVICE_ACCOUNT_NAME}`, result);
  return found[0] ?? null;
}

/**
 * Makes sure the service account exists and that its password is the sealed one, creating either
 * as needed (two instances starting together on one database agree: the add that succeeds wins). An account an administrator disabled or locked stays so (health reports it); one
 * that was deleted is created again, and a password that cannot be unsealed (another instance
 * key) is replaced — Portico owns this directory, so it never ends up without a way to read it.
 */
export async function ensureServiceAccount(input: EnsureServiceAccountInput): Promise<ServiceAccount> {
  const { backend, admin, settings, box, logger } = input;
  const now = input.now ?? (() => new Date());
  const upn = `${SERVICE_ACCOUNT_NAME}@${input.domain}`;
  const stored = (await settings.get(SETTING)) as Stored | undefined;
  let password: string | null = null;
  if (stored?.sealedPassword) {
    try {
      password = box.open(stored.sealedPassword, SEAL_CONTEXT);
    } catch {
      logger.warn({ account: upn }, 'the managed directory service account password could not be unsealed (another instance key?); setting a new one');
    }
  }
  const existing = await findAccount(input);
  if (password !== null && existing !== null) {
    // One in-process bind per start: a password reset by hand (52e) is replaced; a disabled or
    // locked-out account is the administrator's choice and stays (health reports it).
    const { result } = await backend.bind({ id: 'portico-service-check', boundDn: null, secure: true, remoteAddress: 'portico' }, upn, Buffer.from(password, 'utf8'));
    if (result.resultCode !== ResultCode.invalidCredentials || !/\bdata 52e\b/.test(result.diagnosticMessage ?? '')) return { dn: existing, upn, password };
    logger.warn({ account: upn }, 'the managed directory service account no longer has the sealed password (reset by hand?); setting a new one');
    password = null;
  }

  const seal = async (value: string): Promise<void> => settings.set(SETTING, { sealedPassword: box.seal(value, SEAL_CONTEXT) } satisfies Stored, now());
  if (existing === null) {
    // The directory decides who provisions: the add that succeeds seals its password. A crash in
    // between leaves an account without a readable password, which the next start resets.
    const created = password ?? generatePassword();
    const dn = `CN=${escapeDnValue(SERVICE_ACCOUNT_NAME)},CN=Users,${input.baseDn}`;
    const result = await backend.add(admin, {
      entry: dn,
      attributes: [
        { type: 'objectClass', values: text('user') },
        { type: 'sAMAccountName', values: text(SERVICE_ACCOUNT_NAME) },
        { type: 'userPrincipalName', values: text(upn) },
        { type: 'displayName', values: text('Portico service account') },
        { type: 'description', values: text('Portico reads the directory as this account: no administrative rights. Created and kept by Portico.') },
        { type: 'unicodePwd', values: unicodePwd(created) },
        { type: 'userAccountControl', values: text(String(UAC)) },
      ],
    });
    if (result.resultCode === ResultCode.entryAlreadyExists || result.resultCode === ResultCode.constraintViolation) {
      // Another Portico on the same database created it a moment ago: use the password it seals.
      const theirs = await waitForSealedPassword(input);
      const found = await findAccount(input);
      if (theirs !== null && found !== null) return { dn: found, upn, password: theirs };
    }
    if (result.resultCode !== ResultCode.success) throw failed(`creating ${dn}`, result);
    if (created !== password) await seal(created);
    logger.info({ account: upn, dn }, 'created the managed directory service account Portico binds as');
    return { dn, upn, password: created };
  }
  // The account exists but its password is not ours to read: set a new one.
  const fresh = generatePassword();
  const result = await backend.modify(admin, existing, [{ operation: 'replace', type: 'unicodePwd', values: unicodePwd(fresh) }]);
  if (result.resultCode !== ResultCode.success) throw failed(`setting the password of ${existing}`, result);
  await seal(fresh);
  logger.info({ account: upn, dn: existing }, 'set a new password for the managed directory service account');
  return { dn: existing, upn, password: fresh };
}

/** Polls the settings store for a few seconds while another instance finishes provisioning. */
async function waitForSealedPassword(input: EnsureServiceAccountInput): Promise<string | null> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const stored = (await input.settings.get(SETTING)) as Stored | undefined;
    if (stored?.sealedPassword) {
      try {
        return input.box.open(stored.sealedPassword, SEAL_CONTEXT);
      } catch {
        // Still the old value sealed under another key: the other instance has not sealed yet.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
}
