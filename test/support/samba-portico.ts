/**
 * Portico started for real against the Samba DC, as most integration and browser suites need
 * it: a fresh data directory, an ephemeral port, Portico-Admins as the admin group, and the
 * first start's bootstrap token captured.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type PorticoApp, type StartOptions } from '#src/app.ts';
import { loadConfig } from '#src/config/index.ts';
import { sambaDirectoryEnv, sambaRuntime } from './samba.ts';

export interface SambaPortico {
  app: PorticoApp;
  /** The admin bootstrap token of the first start. */
  token: string;
  stop(): Promise<void>;
}

export async function startSambaPortico(env: Record<string, string> = {}, options: Omit<StartOptions, 'showBootstrapToken'> = {}): Promise<SambaPortico> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-samba-'));
  let token = '';
  const app = await startApp(
    loadConfig({
      env: {
        PORTICO_DATA_DIR: dataDir,
        PORTICO_LOG__LEVEL: 'silent',
        PORTICO_HTTP__PORT: '0',
        ...sambaDirectoryEnv(sambaRuntime()),
        PORTICO_ADMIN__GROUPS: JSON.stringify(['Portico-Admins@corp.example.test']),
        ...env,
      },
    }),
    { ...options, showBootstrapToken: (t) => (token = t) },
  ).catch((error: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  return {
    app,
    token,
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
