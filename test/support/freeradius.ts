/**
 * A real FreeRADIUS 3.2 server (Debian `freeradius`) for the RADIUS MFA tests: a self-contained
 * raddb in a temp dir (nothing under /etc is read or changed), listening on 127.0.0.1 on free
 * ports, started with `freeradius -X` (`-f` for benchmarks) and stopped by the test.
 *
 * Users: `alice` has code 123456, `bob` 654321 (files module, PAP); `carol` is answered with an
 * Access-Challenge for code 111111 (Reply-Message "Enter the second code", a State), then accepted
 * for 222222 with that State. Rejects carry Reply-Message "Wrong code".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refuseInUnitTier } from './tier.ts';

export const FREERADIUS_BINARY = '/usr/sbin/freeradius';
export const CAROL_STATE_HEX = '706f727469636f2d636861726f6c2d31';

export interface FreeRadius {
  /** The auth ports it listens on, one per `listen` section. */
  ports: number[];
  /** The server process, for its CPU time in benchmarks. */
  pid: number;
  /** Everything it printed so far (debug output with -X). */
  output(): string;
  stop(): Promise<void>;
}

export interface FreeRadiusOptions {
  secret: string;
  /** How many auth ports to listen on (default 1). */
  listeners?: number;
  /** Debug output (-X: single-threaded) or quiet multi-threaded (-f) for measurements. */
  debug?: boolean;
  /** More users and their codes (PAP), e.g. an AD user's UPN as Portico sends it. */
  users?: Record<string, string>;
}

/** Free UDP ports on loopback (bound, read, released; FreeRADIUS binds them a moment later). */
async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets = await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      return socket;
    }),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

function radiusdConf(dir: string, ports: number[], secret: string): string {
  const listens = ports.map((port) => `  listen {\n    type = auth\n    ipaddr = 127.0.0.1\n    port = ${port}\n  }\n`).join('');
  // The secret goes between double quotes: refuse what would need escaping rather than escape it.
  if (!/^[\w.@%+=:,-]+$/.test(secret)) throw new Error('use a test secret of letters, digits and . @ % + = : , - _');
  return `
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = ${dir}
confdir = ${dir}
logdir = ${dir}/log
run_dir = ${dir}/run
db_dir = ${dir}
libdir = /usr/lib/freeradius
pidfile = ${dir}/run/radiusd.pid
name = radiusd
max_request_time = 5
cleanup_delay = 2
# Requests are remembered for cleanup_delay (duplicate detection): room for the benchmark's rate.
max_requests = 65536
hostname_lookups = no
correct_escapes = true
log {
  destination = stdout
  colourise = no
  auth = no
}
security {
  allow_core_dumps = no
  max_attributes = 200
  # Rejects answer at once (the default waits 1 s), so the tests stay short.
  reject_delay = 0
  status_server = no
}
thread pool {
  start_servers = 4
  max_servers = 8
  min_spare_servers = 2
  max_spare_servers = 8
  max_requests_per_server = 0
}
client loopback {
  ipaddr = 127.0.0.1
  secret = "${secret}"
  require_message_authenticator = yes
}
modules {
  pap {
    normalise = yes
  }
  files {
    filename = ${dir}/users
  }
  always reject {
    rcode = reject
  }
  always ok {
    rcode = ok
  }
  always handled {
    rcode = handled
  }
}
server default {
${listens}
  authorize {
    # carol: a two-step code, the first answered with an Access-Challenge.
    if (&User-Name == "carol") {
      if (!&State) {
        if (&User-Password == "111111") {
          update reply {
            &Reply-Message := "Enter the second code"
            &State := 0x${CAROL_STATE_HEX}
          }
          update control {
            &Response-Packet-Type := Access-Challenge
          }
          handled
        }
        reject
      }
      if (&State == 0x${CAROL_STATE_HEX} && &User-Password == "222222") {
        update control {
          &Auth-Type := Accept
        }
        ok
      }
      else {
        reject
      }
    }
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
  }
  post-auth {
    Post-Auth-Type REJECT {
      update reply {
        &Reply-Message := "Wrong code"
      }
    }
  }
}
`;
}

const USERS = `alice Cleartext-Password := "123456"
bob Cleartext-Password := "654321"
`;

export async function startFreeRadius(options: FreeRadiusOptions): Promise<FreeRadius> {
  refuseInUnitTier('FreeRADIUS');
  const dir = await mkdtemp(join(tmpdir(), 'portico-freeradius-'));
  await mkdir(join(dir, 'run'));
  await mkdir(join(dir, 'log'));
  const more = Object.entries(options.users ?? {}).map(([name, code]) => {
    if (!/^[\w.@-]+$/.test(name) || !/^\w+$/.test(code)) throw new Error('use test users of letters, digits and . @ - _, codes of letters and digits');
    return `"${name}" Cleartext-Password := "${code}"\n`;
  });
  await writeFile(join(dir, 'users'), USERS + more.join(''));
  // A port taken between our probe and FreeRADIUS's bind makes it exit: try again with new ports.
  for (let attempt = 1; ; attempt++) {
    const ports = await freeUdpPorts(options.listeners ?? 1);
    await writeFile(join(dir, 'radiusd.conf'), radiusdConf(dir, ports, options.secret), { mode: 0o600 });
    const args = options.debug === false ? ['-f', '-l', 'stdout', '-d', dir] : ['-X', '-d', dir];
    const child = spawn(FREERADIUS_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const ready = await waitForReady(child, () => output, 10_000);
    if (ready === 'ready') {
      return {
        ports,
        pid: child.pid ?? -1,
        output: () => output,
        stop: async () => {
          await stopChild(child);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    await stopChild(child);
    if (attempt >= 3 || ready !== 'exited') {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`FreeRADIUS did not start (${ready}):\n${output.slice(-3000)}`);
    }
  }
}

function waitForReady(child: ChildProcess, output: () => string, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  return new Promise((resolve) => {
    // -X prints "Ready to process requests"; -f prints nothing when all is well, so poll the port instead.
    const timer = setTimeout(() => settle('timeout'), timeoutMs);
    const poll = setInterval(() => {
      if (output().includes('Ready to process requests') || (child.exitCode === null && output().includes('Listening on auth'))) settle('ready');
    }, 20);
    const onExit = () => settle('exited');
    child.once('exit', onExit);
    function settle(result: 'ready' | 'exited' | 'timeout') {
      clearTimeout(timer);
      clearInterval(poll);
      child.off('exit', onExit);
      resolve(result);
    }
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
