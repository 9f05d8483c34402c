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
 * as needed. An account an administrator disabled or locked stays so (health reports it); one
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
  if (password !== null && existing !== null) return { dn: existing, upn, password };

  const fresh = password === null;
  if (password === null) {
    password = generatePassword();
    // Sealed before the directory changes: a crash in between leaves a password we set next start.
    await settings.set(SETTING, { sealedPassword: box.seal(password, SEAL_CONTEXT) } satisfies Stored, now());
  }
  if (existing === null) {
    const dn = `CN=${escapeDnValue(SERVICE_ACCOUNT_NAME)},CN=Users,${input.baseDn}`;
    const result = await backend.add(admin, {
      entry: dn,
      attributes: [
        { type: 'objectClass', values: text('user') },
        { type: 'sAMAccountName', values: text(SERVICE_ACCOUNT_NAME) },
        { type: 'userPrincipalName', values: text(upn) },
        { type: 'displayName', values: text('Portico service account') },
        { type: 'description', values: text('Portico reads the directory as this account: no administrative rights. Created and kept by Portico.') },
        { type: 'unicodePwd', values: unicodePwd(password) },
        { type: 'userAccountControl', values: text(String(UAC)) },
      ],
    });
    if (result.resultCode !== ResultCode.success) throw failed(`creating ${dn}`, result);
    logger.info({ account: upn, dn }, 'created the managed directory service account Portico binds as');
    return { dn, upn, password };
  }
  if (fresh) {
    const result = await backend.modify(admin, existing, [{ operation: 'replace', type: 'unicodePwd', values: unicodePwd(password) }]);
    if (result.resultCode !== ResultCode.success) throw failed(`setting the password of ${existing}`, result);
    logger.info({ account: upn, dn: existing }, 'set a new password for the managed directory service account');
  }
  return { dn: existing, upn, password };
}
