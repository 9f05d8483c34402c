/**
 * Runs the `portico` command as a script would: a separate process, a given environment and
 * standard input, never blocking this process's event loop (in-process servers must answer).
 */
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { startApp, type PorticoApp } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';

const bin = new URL('../../bin/portico.js', import.meta.url).pathname;

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export async function runPortico(args: string[], env: Record<string, string>, stdin = ''): Promise<CliRun> {
  const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr };
}

/** A Portico started for the CLI to call: its URL and first-start bootstrap token, as a script's environment. */
export interface CliPortico {
  app: PorticoApp;
  /** PORTICO_URL and PORTICO_ADMIN_TOKEN for runPortico. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts Portico in this process on ephemeral ports (HTTP and the managed directory's listeners)
 * over `env` (PORTICO_DATA_DIR and any other setting). A restart of the same data directory gets
 * no new token: pass the first start's `token` again.
 */
export async function startPorticoForCli(env: Record<string, string>, token?: string): Promise<CliPortico & { token: string }> {
  let shown = token ?? '';
  const app = await startApp(
    loadConfig({
      env: {
        PORTICO_LOG__LEVEL: 'silent',
        PORTICO_HTTP__PORT: '0',
        PORTICO_MANAGED_DIRECTORY__LISTEN__LDAP_PORT: '0',
        PORTICO_MANAGED_DIRECTORY__LISTEN__LDAPS_PORT: '0',
        ...env,
      },
    }),
    { logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }), showBootstrapToken: (issued) => (shown = issued) },
  );
  if (shown === '') {
    await app.stop();
    throw new Error('no bootstrap token: pass the first start\'s token when restarting a data directory');
  }
  return { app, token: shown, env: { PORTICO_URL: app.url, PORTICO_ADMIN_TOKEN: shown }, stop: () => app.stop() };
}
