/**
 * A loopback TCP relay in front of the real DC, so that a test can take a "domain controller"
 * away and bring it back, and count the connections a client leaves open.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  /** Connections currently open through the relay. */
  openConnections(): number;
  /** Stops listening and cuts every relayed connection. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /**
   * The next answer from the server is dropped and that connection reset: the request reached
   * the server, the client never hears back (a connection dying mid-request).
   */
  cutNextReply(): void;
}

export async function startTcpProxy(target: { host: string; port: number }, scheme = 'ldaps'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  let cutArmed = false;

  const listen = async (): Promise<void> => {
    server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      sockets.add(client);
      const close = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        if (cutArmed) {
          cutArmed = false;
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        client.write(chunk);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server?.address() as net.AddressInfo).port;
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get url() {
      return `${scheme}://127.0.0.1:${port}`;
    },
    openConnections: () => [...sockets].filter((s) => !s.destroyed).length,
    async stop() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = null;
    },
    start: listen,
    cutNextReply: () => {
      cutArmed = true;
    },
  };
}

/** A server that accepts connections and never answers: a hung domain controller. */
export async function startBlackHole(): Promise<{ url: string; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `ldaps://127.0.0.1:${port}`,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
