/**
 * The identity source as an administrator changes it, behind the admin API (`portico
 * identity-source …` and the console call it): show it, validate it, connect a domain or go back
 * to the managed directory. The change itself is changeIdentitySource (identity-source.ts); this
 * service adds what a change needs around it in a running server — a fresh connection to validate
 * with, and the mapping check against the newly connected source — so there is one audit trail.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { DirectoryConnectionStore } from '#src/directory/connection-store.ts';
import { connectDirectory, createAdConnector } from '#src/directory/connector.ts';
import type { DirectoryConnectionOptions } from '#src/directory/options.ts';
import type { DirectoryCheck, DirectoryConnector } from '#src/directory/types.ts';
import { runMappingCheck, type MappingCheckReport } from '#src/identity-store/mapping-check.ts';
import type { MappingSettings } from '#src/identity-store/mapping-settings.ts';
import type { IdentityUserWriter } from '#src/identity-store/user.ts';
import { AppError } from '#src/shared/errors.ts';
import { changeIdentitySource, chooseIdentitySource, describeChoice, type IdentitySourceChoice } from './identity-source.ts';

export interface IdentitySourceSummary {
  kind: 'managed' | 'connector';
  origin?: 'config' | 'stored';
  domain?: string;
  urls?: string[];
  serviceAccount?: string;
  allowSamba?: boolean;
  allowPlainLdap?: boolean;
}

export interface IdentitySourceAdminDeps {
  /** The `directory` section of the configuration, which wins over a stored connection. */
  configured: DirectoryConnectionOptions | undefined;
  connections: DirectoryConnectionStore;
  users: IdentityUserWriter;
  revokeAllSessions: () => Promise<number>;
  /** Empties the AD sync's scope when the source changes to another directory. */
  clearSyncScope?: (actor: string) => Promise<number>;
  mappings: MappingSettings;
  audit: AuditLog;
  /** The source this server runs on (null while it is refused or unreachable). */
  connector: () => DirectoryConnector | null;
  /** Which kind of source this server started with (a change applies after a restart). */
  running: 'managed' | 'connector';
  warn?: (message: string) => void;
}

export interface IdentitySourceChangeOutcome {
  identitySource: { kind: 'managed' } | { kind: 'connector'; domain: string };
  changed: boolean;
  deletedUsers: number;
  from: string;
  verdict: DirectoryCheck['verdict'] | null;
  mappingCheck: MappingCheckReport | { error: { code: string; message: string } } | null;
}

export interface IdentitySourceAdmin {
  show(): Promise<IdentitySourceSummary & { provisionedUsers: number }>;
  validate(): Promise<IdentitySourceSummary & { accepted: boolean; verdict: DirectoryCheck['verdict']; canReadUsers: boolean; controllers: DirectoryCheck['controllers'] }>;
  change(
    to: { kind: 'managed' } | { kind: 'connector'; options: DirectoryConnectionOptions },
    options: { confirmDeletion: boolean; mappingCheckLimit: number | null; actor: string },
  ): Promise<IdentitySourceChangeOutcome>;
}

export function summarise(choice: IdentitySourceChoice): IdentitySourceSummary {
  if (choice.kind === 'managed') return { kind: 'managed' };
  const { options } = choice;
  return { kind: 'connector', origin: choice.origin, domain: options.domain, urls: options.urls, serviceAccount: options.serviceAccount.username, allowSamba: options.allowSamba, allowPlainLdap: options.allowPlainLdap };
}

/**
 * Why a candidate domain could not be connected is the administrator's to read (a wrong password,
 * a controller that does not answer): shown, never hidden as an internal error. A refused bind is
 * the caller's input (400); the controller's unavailability stays a 5xx.
 */
function candidateError(error: unknown): never {
  if (!(error instanceof AppError) || error.expose) throw error;
  const status = error.code === 'directory.service_account_rejected' || error.code === 'directory.insecure_transport' ? 400 : error.status;
  throw new AppError(error.code, error.message, { status, expose: true, cause: error });
}

export function createIdentitySourceAdmin(deps: IdentitySourceAdminDeps): IdentitySourceAdmin {
  const warn = deps.warn ?? (() => undefined);
  const choose = () => chooseIdentitySource(deps.configured, deps.connections);
  return {
    async show() {
      return { ...summarise(await choose()), provisionedUsers: await deps.users.count() };
    },

    async validate() {
      const choice = await choose();
      // The running connector when it is the stored source; a fresh one for a source chosen since.
      const runningSame = (choice.kind === 'managed') === (deps.running === 'managed') && deps.connector() !== null;
      let check: DirectoryCheck;
      if (runningSame) check = await (deps.connector() as DirectoryConnector).check();
      else if (choice.kind === 'connector') {
        const connector = createAdConnector(choice.options, { warn });
        try {
          check = await connector.check();
        } finally {
          await connector.close();
        }
      } else throw new AppError('identity_source.unavailable', 'the managed directory runs after a restart: restart Portico, then validate', { status: 503 });
      const accepted = choice.kind === 'managed' || check.verdict.accepted;
      return { ...summarise(choice), accepted, verdict: check.verdict, canReadUsers: check.canReadUsers, controllers: check.controllers };
    },

    async change(to, options) {
      const result = await changeIdentitySource(
        {
          connections: deps.connections,
          users: deps.users,
          revokeAllSessions: deps.revokeAllSessions,
          ...(deps.clearSyncScope ? { clearSyncScope: deps.clearSyncScope } : {}),
          audit: deps.audit,
          validate: async (connection) => {
            const { connector, check } = await connectDirectory(connection, { warn }).catch(candidateError);
            await connector.close();
            return check;
          },
        },
        deps.configured,
        { to, confirmDeletion: options.confirmDeletion, actor: options.actor },
      );
      // The connection is made; a check that cannot run is reported, never undoes it.
      let mappingCheck: IdentitySourceChangeOutcome['mappingCheck'] = null;
      if (options.mappingCheckLimit !== null) {
        const run = (directory: DirectoryConnector) => runMappingCheck({ directory, mappings: deps.mappings, audit: deps.audit }, { limit: options.mappingCheckLimit as number, actor: options.actor, trigger: 'identity-source-connect' });
        try {
          if (to.kind === 'connector') {
            const { connector } = await connectDirectory(to.options, { warn });
            try {
              mappingCheck = await run(connector);
            } finally {
              await connector.close();
            }
          } else if (deps.running === 'managed' && deps.connector() !== null) mappingCheck = await run(deps.connector() as DirectoryConnector);
          else throw new AppError('identity_source.unavailable', 'the managed directory starts with the next restart: run `portico mappings check` then', { status: 503 });
        } catch (error) {
          mappingCheck = { error: { code: error instanceof AppError ? error.code : 'internal', message: error instanceof Error ? error.message : String(error) } };
        }
      }
      return {
        identitySource: to.kind === 'managed' ? { kind: 'managed' } : { kind: 'connector', domain: to.options.domain },
        changed: result.changed,
        deletedUsers: result.deletedUsers,
        from: describeChoice(result.from),
        verdict: result.check?.verdict ?? null,
        mappingCheck,
      };
    },
  };
}
