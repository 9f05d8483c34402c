/**
 * Issue 12: unauthenticated LDAP clients must cost the managed directory bounded memory and
 * bounded log output. A real managed directory runs in a child process (flood-child.ts) so its
 * RSS is its own; 300 clients that never bind each start a ~1 MiB message and stop short, then a
 * burst of malformed messages is sent from many connections.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';

const CONNECTIONS = 300;
/** Declared length of each partial message: just under the authenticated cap of 1 MiB. */
const DECLARED = 1_000_000;
const SENT = DECLARED - 1000;

let child: ChildProcessWithoutNullStreams;
let port = 0;
let stderr = '';
const replies: Array<(value: Record<string, number>) => void> = [];

async function rss(): Promise<number> {
  const reply = new Promise<Record<string, number>>((resolve) => replies.push(resolve));
  child.stdin.write('rss\n');
  return (await reply).rss as number;
}

/** A BER SEQUENCE header announcing `length` bytes (long form, 3 length octets), then `body`. */
function partialMessage(length: number, body: number): Buffer {
  const buffer = Buffer.alloc(5 + body, 0x04);
  buffer.set([0x30, 0x83, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff]);
  return buffer;
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

before(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', new URL('./flood-child.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const lines = createInterface({ input: child.stdout });
  port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`flood child exited (${code}): ${stderr}`)));
    lines.on('line', (line) => {
      const value = JSON.parse(line) as Record<string, number>;
      if (value.port !== undefined) resolve(value.port);
      else replies.shift()?.(value);
    });
  });
});

after(async () => {
  child.stdin.end();
  await new Promise((resolve) => child.once('exit', resolve));
});

describe('unauthenticated LDAP connections are bounded', { timeout: 120_000 }, () => {
  it(`${CONNECTIONS} unbound connections each sending a partial ~1 MiB message: RSS stays bounded and the server closes them`, async () => {
    const before = await rss();
    const payload = partialMessage(DECLARED, SENT - 5);
    const sockets: net.Socket[] = [];
    const closed = new Set<net.Socket>();
    for (let i = 0; i < CONNECTIONS; i += 1) {
      const socket = await connect();
      socket.on('error', () => {});
      socket.on('close', () => closed.add(socket));
      socket.on('data', () => {});
      socket.write(payload);
      sockets.push(socket);
    }
    // Give the server time to read what it will read.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const during = await rss();
    const grew = during - before;
    const stillOpen = sockets.filter((s) => !closed.has(s)).length;
    process.stdout.write(`# RSS before ${(before / 2 ** 20).toFixed(1)} MiB, after ${CONNECTIONS} partial messages ${(during / 2 ** 20).toFixed(1)} MiB (+${(grew / 2 ** 20).toFixed(1)} MiB); open: ${stillOpen}\n`);
    for (const socket of sockets) socket.destroy();
    assert.equal(stillOpen, 0, 'the server closes connections that announce a message above the unauthenticated cap');
    assert.ok(grew < 64 * 2 ** 20, `RSS grew by ${(grew / 2 ** 20).toFixed(1)} MiB`);
  });

  it(`${CONNECTIONS} clients each holding a partial message just under the 64 KiB cap: at most 100 per address, RSS bounded`, async () => {
    const before = await rss();
    const payload = partialMessage(60 * 1024, 60 * 1024 - 100);
    const sockets: net.Socket[] = [];
    const closed = new Set<net.Socket>();
    for (let i = 0; i < CONNECTIONS; i += 1) {
      const socket = await connect();
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.on('close', () => closed.add(socket));
      socket.write(payload);
      sockets.push(socket);
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const during = await rss();
    const grew = during - before;
    const held = sockets.length - closed.size;
    process.stdout.write(`# RSS before ${(before / 2 ** 20).toFixed(1)} MiB, ${CONNECTIONS} clients sending partial 60 KiB messages: ${held} held open, ${(during / 2 ** 20).toFixed(1)} MiB (+${(grew / 2 ** 20).toFixed(1)} MiB)\n`);
    for (const socket of sockets) socket.destroy();
    assert.ok(held <= 100, `one address holds at most 100 unbound connections (${held})`);
    // The worst an unbound client can hold: what is under the cap, per connection (they close after 30 s idle).
    assert.ok(grew < 64 * 2 ** 20, `RSS grew by ${(grew / 2 ** 20).toFixed(1)} MiB`);
  });

  it('a burst of malformed messages writes a bounded number of log lines', async () => {
    // Counted from the start: the oversized messages above are malformed messages too.
    const logged = (): number => stderr.split('\n').filter((line) => line.includes('malformed')).length;
    const garbage = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    for (let i = 0; i < 500; i += 1) {
      const socket = await connect();
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.end(garbage);
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const lines = logged();
    process.stdout.write(`# ${CONNECTIONS} oversized + 500 malformed messages → ${lines} log lines\n`);
    assert.ok(lines >= 1, 'malformed messages are still reported');
    assert.ok(lines <= 12, `${lines} log lines for ${CONNECTIONS + 500} malformed messages`);
  });
});
