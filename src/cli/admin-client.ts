/**
 * How the admin commands (accounts, permission sets, applications, assignments, access) reach a
 * running Portico: over HTTP, through the admin API under /admin/api, never the database. The URL
 * comes from --url, else $PORTICO_URL, else the configuration's http.host and http.port; the
 * token from --token-file, else $PORTICO_ADMIN_TOKEN. The token is only ever sent in the
 * Authorization header: no message, log or output contains it.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Config } from '#src/config/index.ts';
import { AppError, type ErrorCode } from '#src/shared/errors.ts';
import { exitCodeHelp, exitCodes, printJson, reportError } from './output.ts';

export type LoadConfig = (file: string | undefined) => Config;

export const ADMIN_API_PATH = '/admin/api';
const REQUEST_TIMEOUT_MS = 60_000;

/** The exit codes of output.ts (one table for every command). */
export const adminExitCodes = exitCodes;

export const adminExitCodeHelp = `${exitCodeHelp}

Environment:
  PORTICO_URL          Portico's address (default: http://<http.host>:<http.port> of the configuration)
  PORTICO_ADMIN_TOKEN  the bootstrap token (pbt_…) printed at the first start; or --token-file`;

/** Options every admin command takes (see addAdminOptions). */
export interface AdminConnectionOptions {
  url?: string;
  tokenFile?: string;
  config?: string;
}

/** An error answered by the admin API (or the failure to reach it), with its exit code. */
export class AdminApiError extends AppError {
  readonly exitCode: number;
  /** The API's own code: the server may be newer than this CLI and answer codes it does not know. */
  readonly apiCode: string;

  constructor(apiCode: string, message: string, status: number, exitCode: number) {
    super(apiCode as ErrorCode, message, { status, expose: true });
    this.name = 'AdminApiError';
    this.apiCode = apiCode;
    this.exitCode = exitCode;
  }
}

/** Refusals the API answers with 400 or 409 that are "refused" (3) in the exit code table, not "invalid" or "conflict". */
const refusedCodes = new Set(['directory.refused', 'identity_source.change_refused']);

/** The API's error (code and HTTP status) to an exit code, as output.ts defines them. */
export function exitCodeForStatus(status: number, code?: string): number {
  if (code !== undefined && refusedCodes.has(code)) return adminExitCodes.refused;
  // An import stopped at a bad entry: entries before it stay, as when some failed (1).
  if (code === 'directory.import_failed') return adminExitCodes.failure;
  if (status === 400 || status === 413 || status === 415 || status === 422) return adminExitCodes.usage;
  if (status === 401 || status === 403) return adminExitCodes.refused;
  if (status === 404) return adminExitCodes.notFound;
  if (status === 409) return adminExitCodes.conflict;
  if (status >= 500) return adminExitCodes.unreachable;
  return adminExitCodes.failure;
}

export interface AdminClient {
  /** The base URL (without credentials), for messages. */
  readonly url: string;
  /** Parsed JSON, or undefined for 204; throws AdminApiError with the API's code and message. */
  call<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

const usage = (message: string): AppError => new AppError('config.invalid', message, { status: 400 });

/** The address without credentials, path or trailing slash (what messages show). */
function displayUrl(url: URL): string {
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

function parseUrl(text: string, from: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`${from}: "${text.slice(0, 200)}" is not an absolute URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`${from}: must be an http:// or https:// URL`);
  return url;
}

/** --url, else $PORTICO_URL, else the configuration's listener (a wildcard host is reached on loopback). */
export function resolveAdminUrl(options: AdminConnectionOptions, loadConfig: LoadConfig, env: NodeJS.ProcessEnv = process.env): URL {
  if (options.url !== undefined) return parseUrl(options.url, '--url');
  const fromEnv = env.PORTICO_URL?.trim();
  if (fromEnv) return parseUrl(fromEnv, 'PORTICO_URL');
  const { http } = loadConfig(options.config);
  const host = http.host === '0.0.0.0' ? '127.0.0.1' : http.host === '::' || http.host === '[::]' ? '[::1]' : http.host.includes(':') && !http.host.startsWith('[') ? `[${http.host}]` : http.host;
  return parseUrl(`${http.tls ? 'https' : 'http'}://${host}:${http.port}`, 'the configuration (http.host, http.port)');
}

/** --token-file, else $PORTICO_ADMIN_TOKEN. */
export async function resolveAdminToken(options: AdminConnectionOptions, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let token: string;
  let from: string;
  if (options.tokenFile !== undefined) {
    from = `the token file ${options.tokenFile}`;
    token = await readFile(options.tokenFile, 'utf8').then(
      (text) => text.trim(),
      (error: unknown) => {
        throw new AppError('config.file_unreadable', `cannot read the token file ${options.tokenFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { status: 400 });
      },
    );
  } else {
    from = 'PORTICO_ADMIN_TOKEN';
    token = env.PORTICO_ADMIN_TOKEN?.trim() ?? '';
    if (token === '') {
      throw new AdminApiError('admin.unauthenticated', 'no admin token: set PORTICO_ADMIN_TOKEN to the bootstrap token (pbt_…) printed at the first start, or pass --token-file <file>', 401, adminExitCodes.refused);
    }
  }
  // What the API accepts in "Bearer <token>"; anything else is refused here without being echoed.
  if (!/^[\w-]{1,200}$/.test(token)) throw new AdminApiError('admin.unauthenticated', `${from} does not hold a token (expected pbt_… on one line)`, 401, adminExitCodes.refused);
  return token;
}

function unavailable(url: string, detail: string): AdminApiError {
  return new AdminApiError('api.unavailable', `cannot reach Portico at ${url} (${detail}): is Portico running at ${url}?`, 503, adminExitCodes.unreachable);
}

function networkDetail(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

export function createAdminClient(baseUrl: URL, token: string, fetchImpl: typeof fetch = fetch): AdminClient {
  const shown = displayUrl(baseUrl);
  const base = `${baseUrl.protocol}//${baseUrl.host}${baseUrl.pathname.replace(/\/+$/, '')}${ADMIN_API_PATH}`;
  return {
    url: shown,
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await fetchImpl(`${base}${path}`, {
          method,
          headers,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          redirect: 'error',
        });
      } catch (error) {
        if (error instanceof DOMException && error.name === 'TimeoutError') throw unavailable(shown, `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
        throw unavailable(shown, networkDetail(error));
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw unavailable(shown, `the answer was cut off: ${networkDetail(error)}`);
      }
      let parsed: unknown = undefined;
      if (text.trim() !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      if (response.ok) {
        if (response.status === 204) return undefined as T;
        if (parsed === undefined) throw new AdminApiError('api.invalid_response', `${shown} answered HTTP ${response.status} without JSON: is it Portico's address?`, 502, adminExitCodes.failure);
        return parsed as T;
      }
      const apiError = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (typeof apiError?.code === 'string' && typeof apiError.message === 'string') {
        throw new AdminApiError(apiError.code, apiError.message, response.status, exitCodeForStatus(response.status, apiError.code));
      }
      // Not the admin API's error shape: a proxy, another server, or an older Portico without /admin/api.
      const what = response.status >= 500 ? `${shown} answered HTTP ${response.status}` : `${shown} answered HTTP ${response.status} to ${method} ${ADMIN_API_PATH}${path}: is it Portico's address, and a version with the admin API?`;
      throw new AdminApiError(`http.${response.status}`, what, response.status, exitCodeForStatus(response.status));
    },
  };
}

/** Adds --url, --token-file and --json to an admin command, and the exit codes to its help. */
export function addAdminOptions(command: Command, help = ''): Command {
  return command
    .option('--url <url>', "Portico's address (default: $PORTICO_URL, else http://<http.host>:<http.port> of the configuration)")
    .option('--token-file <file>', 'read the admin token from this file (default: $PORTICO_ADMIN_TOKEN)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', `${help}${adminExitCodeHelp}`);
}

/** Prints an error as the other commands do, and returns its exit code. */
export function reportAdminError(error: unknown, json: boolean): number {
  if (error instanceof AdminApiError) {
    if (json) printJson({ error: { code: error.apiCode, message: error.message } });
    else process.stderr.write(`portico: ${error.message} [${error.apiCode}]\n`);
    return error.exitCode;
  }
  return reportError(error, json);
}

/**
 * Runs one admin command: resolves the URL and token, calls `work` with the client, and sets the
 * exit code (work's, or the error's).
 */
export async function withAdminApi(command: Command, loadConfig: LoadConfig, work: (api: AdminClient, json: boolean) => Promise<number | void>): Promise<void> {
  const options = command.optsWithGlobals<AdminConnectionOptions & { json?: boolean }>();
  await reporting(options.json ?? false, async () => {
    const url = resolveAdminUrl(options, loadConfig);
    const token = await resolveAdminToken(options);
    return work(createAdminClient(url, token), options.json ?? false);
  });
}

/** Runs a command's work and sets the exit code: work's, or its error's (reported as every command reports errors). */
export async function reporting(json: boolean, work: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await work()) ?? adminExitCodes.ok;
  } catch (error) {
    process.exitCode = reportAdminError(error, json);
  }
}

/** A local problem with the arguments (exit code 2). */
export function usageError(message: string): AppError {
  return usage(message);
}
