/**
 * A scripted RADIUS server on loopback for the unit tests of the RADIUS client's own logic
 * (failover, retransmission, matching, secrets). It checks each request like a real server would
 * (Message-Authenticator, hidden password) and answers what the test's handler says. The real
 * peer, FreeRADIUS, is in test/mfa/radius.integration.test.ts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { decodePacket, encodeAccessReply, RadiusAttribute, RadiusCode, revealPassword } from '#src/mfa/radius/packet.ts';

export interface SeenRequest {
  raw: Buffer;
  identifier: number;
  authenticator: Buffer;
  userName: string;
  /** The revealed User-Password under the stand-in's secret. */
  password: string;
  nasIdentifier: string | undefined;
  state: Buffer | undefined;
  /** Whether the Message-Authenticator verified under the stand-in's secret. */
  messageAuthenticatorValid: boolean;
  attributeTypes: number[];
  from: RemoteInfo;
}

export type StandInAnswer =
  | { code: 'accept' | 'reject'; replyMessage?: string; messageAuthenticator?: boolean }
  | { code: 'challenge'; replyMessage?: string; state?: Buffer; messageAuthenticator?: boolean }
  /** Raw bytes sent back as they are, e.g. a broken packet. */
  | { raw: Buffer }
  | 'drop';

export interface RadiusStandIn {
  port: number;
  requests: SeenRequest[];
  socket: Socket;
  close(): Promise<void>;
}

export interface StandInOptions {
  secret: string;
  /** The secret the replies are signed with; the request secret by default. */
  replySecret?: string;
  handle(request: SeenRequest, index: number): StandInAnswer;
}

export async function startRadiusStandIn(options: StandInOptions): Promise<RadiusStandIn> {
  const secret = Buffer.from(options.secret);
  const replySecret = Buffer.from(options.replySecret ?? options.secret);
  const socket = createSocket('udp4');
  const requests: SeenRequest[] = [];
  socket.on('message', (raw, from) => {
    const packet = decodePacket(raw);
    if (packet.code !== RadiusCode.AccessRequest) return;
    const value = (type: number) => packet.attributes.find((a) => a.type === type)?.value;
    const messageAuthenticator = value(RadiusAttribute.MessageAuthenticator);
    let messageAuthenticatorValid = false;
    if (messageAuthenticator?.length === 16) {
      const offset = raw.indexOf(messageAuthenticator, 20);
      const zeroed = Buffer.from(raw);
      zeroed.fill(0, offset, offset + 16);
      messageAuthenticatorValid = timingSafeEqual(createHmac('md5', secret).update(zeroed).digest(), messageAuthenticator);
    }
    const hidden = value(RadiusAttribute.UserPassword);
    const request: SeenRequest = {
      raw: Buffer.from(raw),
      identifier: packet.identifier,
      authenticator: packet.authenticator,
      userName: value(RadiusAttribute.UserName)?.toString('utf8') ?? '',
      password: hidden === undefined ? '' : revealPassword(hidden, secret, packet.authenticator).toString('utf8'),
      nasIdentifier: value(RadiusAttribute.NasIdentifier)?.toString('utf8'),
      state: value(RadiusAttribute.State),
      messageAuthenticatorValid,
      attributeTypes: packet.attributes.map((a) => a.type),
      from,
    };
    requests.push(request);
    const answer = options.handle(request, requests.length - 1);
    if (answer === 'drop') return;
    let reply: Buffer;
    if ('raw' in answer) {
      reply = answer.raw;
    } else {
      const code = answer.code === 'accept' ? RadiusCode.AccessAccept : answer.code === 'reject' ? RadiusCode.AccessReject : RadiusCode.AccessChallenge;
      reply = encodeAccessReply({
        code,
        identifier: packet.identifier,
        requestAuthenticator: packet.authenticator,
        secret: replySecret,
        replyMessage: answer.replyMessage,
        state: answer.code === 'challenge' ? answer.state : undefined,
        messageAuthenticator: answer.messageAuthenticator ?? true,
      });
    }
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    requests,
    socket,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A loopback UDP port with nobody listening (bound, read, closed): the kernel answers port-unreachable. */
export async function closedUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
