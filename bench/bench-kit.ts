/**
 * What the sign-in benchmarks share: their command-line options, the raw side (ldapts alone,
 * already-open LDAPS connections rebinding), the HTTP floor (`GET /healthz`), and the DC's
 * processes for its CPU time.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { Client } from 'ldapts';
import type { FixtureUser, SambaRuntime } from '../test/support/samba.ts';
import type { PorticoProcess } from './portico-process.ts';

/** `--name value` options and `--flag` switches of this process. */
export function benchOptions(argv: readonly string[] = process.argv.slice(2)) {
  const option = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    option,
    num: (name: string, fallback: number): number => Number(option(name) ?? fallback),
    flag: (name: string): boolean => argv.includes(`--${name}`),
  };
}

/** One side of a comparison: an operation a worker repeats during a pass. */
export interface Side<Name extends string = string> {
  name: Name;
  /** One operation for worker `worker` as `user`; throws WrongPassword on a refused password, returns a failure label otherwise. */
  operate(worker: number, user: FixtureUser): Promise<string | null>;
}

/** A refused password stops the run: the DC locks accounts at 5. */
export class WrongPassword extends Error {}

/** ldapts alone: `concurrency` already-open LDAPS connections, each rebinding as the user. */
export async function rawBindSide(dc: SambaRuntime, users: readonly FixtureUser[], concurrency: number): Promise<Side<'raw'> & { close(): Promise<void> }> {
  const ca = readFileSync(dc.caFile);
  const clients = await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca } });
      const user = users[i % users.length] as FixtureUser;
      await client.bind(user.upn, user.password);
      return client;
    }),
  );
  return {
    name: 'raw',
    async operate(worker, user) {
      try {
        await (clients[worker] as Client).bind(user.upn, user.password);
        return null;
      } catch (error) {
        if ((error as { code?: number }).code === 49) throw new WrongPassword(`raw bind of ${user.upn} refused: ${(error as Error).message}`);
        return `raw ${(error as Error).message}`;
      }
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
    },
  };
}

/** `GET /healthz` on keep-alive connections: the floor of one HTTP exchange with Portico. */
export function healthzSide(portico: PorticoProcess, concurrency: number): Side<'healthz'> & { close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const { hostname, port } = new URL(portico.url);
  return {
    name: 'healthz',
    operate: () =>
      new Promise((resolve) => {
        http
          .get({ agent, host: hostname, port, path: '/healthz' }, (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode === 200 ? null : `healthz ${response.statusCode}`));
          })
          .on('error', (error) => resolve(`http ${error.message}`));
      }),
    close: () => agent.destroy(),
  };
}

/**
 * The DC's processes: its root (runtime.json's pid) and every descendant (the samba workers,
 * smbd, winbindd), so that the partner forest's DC is not counted; without a pid, every process
 * named samba.
 */
export function dcPids(dc: SambaRuntime): number[] {
  const root = (dc as { pid?: number }).pid;
  if (root === undefined) return execFileSync('pgrep', ['-x', 'samba'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended
    }
  }
  const pids: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    pids.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return pids;
}
