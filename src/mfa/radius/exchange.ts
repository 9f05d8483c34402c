/**
 * One Access-Request to one RADIUS server over UDP: send, retransmit the same packet on each
 * timeout (RFC 5080 §2.2.1: same Identifier and Request Authenticator), and take the first reply
 * that comes from that server's address and port, carries our Identifier and passes the
 * authenticator checks. Anything else is discarded as RFC 2865 asks, but remembered, so that a
 * server that only ever answered with a wrong authenticator is reported as such and not as
 * silent. The socket is connected to the server, so an ICMP port-unreachable (nothing listens
 * there) ends the exchange at once instead of after the timeouts.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { decodeAccessReply, encodeAccessRequest, RadiusPacketError, type RadiusPacketErrorCode, type RadiusReply } from './packet.ts';

export interface ExchangeRequest {
  host: string;
  port: number;
  secret: Buffer;
  userName: string;
  password: string;
  nasIdentifier: string;
  state?: Buffer | undefined;
  timeoutMs: number;
  retries: number;
  requireMessageAuthenticator: boolean;
}

/** Why a server gave no usable answer. */
export type ExchangeFailureCode =
  | 'radius_timeout'
  | 'radius_unreachable'
  | 'radius_unresolvable'
  | 'radius_socket_error'
  | Exclude<RadiusPacketErrorCode, 'radius_invalid_request'>;

export type ExchangeResult =
  | { ok: true; reply: RadiusReply; transmissions: number }
  | { ok: false; error: ExchangeFailureCode; detail: string; transmissions: number };

export async function exchange(request: ExchangeRequest): Promise<ExchangeResult> {
  let address: string;
  let family: 4 | 6;
  try {
    const resolved = await lookup(request.host);
    address = resolved.address;
    family = resolved.family === 6 ? 6 : 4;
  } catch (error) {
    return { ok: false, error: 'radius_unresolvable', detail: `cannot resolve ${request.host} (${errorCode(error)})`, transmissions: 0 };
  }
  // A fresh socket per exchange: an unpredictable source port, and the Identifier is ours alone.
  const identifier = randomInt(256);
  const requestAuthenticator = randomBytes(16);
  // Bad input (an over-long code, an empty name) throws here, before anything is sent.
  const packet = encodeAccessRequest({
    identifier,
    requestAuthenticator,
    secret: request.secret,
    userName: request.userName,
    password: request.password,
    nasIdentifier: request.nasIdentifier,
    state: request.state,
  });
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    return await new Promise<ExchangeResult>((resolve) => {
      let transmissions = 0;
      let timer: NodeJS.Timeout | undefined;
      // The last reason a datagram from the server was discarded; reported if nothing better comes.
      let discarded: { error: ExchangeFailureCode; detail: string } | undefined;
      let done = false;
      const finish = (result: ExchangeResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(result);
      };
      const transmit = () => {
        transmissions += 1;
        socket.send(packet, (error) => {
          if (error) finish({ ok: false, error: 'radius_socket_error', detail: `sending to ${address}:${request.port}: ${errorCode(error)}`, transmissions });
        });
        timer = setTimeout(onTimeout, request.timeoutMs);
      };
      const onTimeout = () => {
        // A server that answered only with packets failing the checks: retransmitting gets the same.
        if (discarded !== undefined) return finish({ ok: false, ...discarded, transmissions });
        if (transmissions <= request.retries) return transmit();
        finish({ ok: false, error: 'radius_timeout', detail: `no answer in ${transmissions} × ${request.timeoutMs} ms`, transmissions });
      };
      socket.on('message', (datagram, from) => {
        // The socket is connected, so the kernel already passes only the server's datagrams; checked again all the same.
        if (from.address !== address || from.port !== request.port) return;
        if (datagram.length < 2 || datagram.readUInt8(1) !== identifier) return;
        try {
          const reply = decodeAccessReply(datagram, { requestAuthenticator, secret: request.secret, requireMessageAuthenticator: request.requireMessageAuthenticator });
          finish({ ok: true, reply, transmissions });
        } catch (error) {
          discarded =
            error instanceof RadiusPacketError && error.code !== 'radius_invalid_request'
              ? { error: error.code, detail: error.message }
              : { error: 'radius_attribute_malformed', detail: error instanceof Error ? error.message : String(error) };
        }
      });
      socket.on('error', (error) => {
        // A connected UDP socket learns of ICMP port-unreachable: nobody listens there, fail over now.
        const code = errorCode(error);
        finish({ ok: false, error: code === 'ECONNREFUSED' ? 'radius_unreachable' : 'radius_socket_error', detail: `${address}:${request.port}: ${code}`, transmissions });
      });
      socket.connect(request.port, address, () => transmit());
    });
  } finally {
    await closeSocket(socket);
  }
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // Already closed (an error closed it).
      resolve();
    }
  });
}

function errorCode(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
