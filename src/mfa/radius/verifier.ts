/**
 * RADIUS MFA as Identity Center offers it for AD directories: after the password, the one-time
 * code goes to the organisation's RADIUS servers as the User-Password of an Access-Request, and
 * the answer becomes an outcome the sign-in's second step acts on. Servers are asked in order;
 * the next one only when a server gives no usable answer (silence, unreachable, or replies that
 * fail the authenticator checks). A Reject is an answer: it is never retried elsewhere.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AppError } from '#src/shared/errors.ts';
import { exchange, type ExchangeFailureCode, type ExchangeResult } from './exchange.ts';
import type { RadiusConfig, RadiusServer } from './options.ts';
import { MAX_ATTRIBUTE_VALUE_LENGTH, MAX_PASSWORD_LENGTH, RadiusCode, RadiusPacketError } from './packet.ts';

export type RadiusOutcome =
  | { kind: 'accept' }
  | { kind: 'reject'; reason?: string }
  | { kind: 'challenge'; message: string; state: Buffer }
  | { kind: 'unavailable'; error: string };

export interface RadiusVerifier {
  /**
   * `code` is what the person typed. `state` is the `state` of a `challenge` outcome, passed back
   * unchanged with the answer to that challenge: it is opaque (it also names the server that
   * asked), so keep it server-side with the pending sign-in.
   */
  verify(input: { username: string; code: string; state?: Buffer }): Promise<RadiusOutcome>;
}

/** The `error` of an `unavailable` outcome: a stable code. */
export type RadiusFailureCode = ExchangeFailureCode | 'radius_secret_unreadable' | 'radius_invalid_input';

/** pino's logger fits this. Nothing logged carries the secret, the code or the challenge state. */
export interface RadiusLogger {
  debug(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

export interface RadiusVerifierDeps {
  logger?: RadiusLogger;
  /** Milliseconds, for the durations in the logs. */
  now?: () => number;
}

const silentLogger: RadiusLogger = { debug() {}, warn() {} };

// The challenge state handed out: format version, index of the server that asked, its State.
const STATE_FORMAT = 1;

// When every server fails, the most telling reason is reported: a server that answered with
// packets we could not trust says more (likely a wrong shared secret) than silence does.
const FAILURE_RANK: readonly ExchangeFailureCode[] = [
  'radius_bad_authenticator',
  'radius_bad_message_authenticator',
  'radius_missing_message_authenticator',
  'radius_unexpected_code',
  'radius_attribute_malformed',
  'radius_length_mismatch',
  'radius_packet_too_long',
  'radius_packet_too_short',
  'radius_timeout',
  'radius_unreachable',
  'radius_unresolvable',
  'radius_socket_error',
];

/**
 * Reads the secret file once now, so that a missing or empty file stops the start-up with a
 * clear message, and again at every verification, so that a rotated secret is picked up.
 */
export function createRadiusVerifier(config: RadiusConfig, deps: RadiusVerifierDeps = {}): RadiusVerifier {
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? (() => performance.now());
  const secretPath = resolve(config.secretFile);
  const initial = readSecretSync(secretPath);
  if (!initial.ok) throw new AppError('config.invalid', `mfa.radius.secretFile: ${initial.problem} (${secretPath})`);

  return {
    async verify({ username, code, state }) {
      if (code.length === 0) return { kind: 'reject', reason: 'no code was entered' };
      if (Buffer.byteLength(code, 'utf8') > MAX_PASSWORD_LENGTH) return { kind: 'reject', reason: 'the code is too long' };
      if (username.length === 0 || Buffer.byteLength(username, 'utf8') > MAX_ATTRIBUTE_VALUE_LENGTH) {
        return { kind: 'unavailable', error: 'radius_invalid_input' };
      }
      let order = config.servers.map((_, index) => index);
      let radiusState: Buffer | undefined;
      if (state !== undefined) {
        const unwrapped = unwrapState(state, config.servers.length);
        if (unwrapped === undefined) return { kind: 'unavailable', error: 'radius_invalid_input' };
        radiusState = unwrapped.radiusState;
        // The server that asked knows the state; the others only if they share it, so they come after.
        order = [unwrapped.serverIndex, ...order.filter((index) => index !== unwrapped.serverIndex)];
      }
      const secret = await readSecret(secretPath);
      if (!secret.ok) {
        logger.warn({ error: 'radius_secret_unreadable', file: secretPath, problem: secret.problem }, 'RADIUS MFA: the shared secret cannot be read');
        return { kind: 'unavailable', error: 'radius_secret_unreadable' };
      }

      const failures: ExchangeFailureCode[] = [];
      for (const serverIndex of order) {
        const server = config.servers[serverIndex] as RadiusServer;
        const started = now();
        let result: ExchangeResult;
        try {
          result = await exchange({
            host: server.host,
            port: server.port,
            secret: secret.value,
            userName: username,
            password: code,
            nasIdentifier: config.nasIdentifier,
            state: radiusState,
            timeoutMs: config.timeoutMs,
            retries: config.retries,
            requireMessageAuthenticator: config.requireMessageAuthenticator,
          });
        } catch (error) {
          // Input the codec refuses (checked above already): no crash, and nothing was sent.
          if (error instanceof RadiusPacketError) return { kind: 'unavailable', error: 'radius_invalid_input' };
          throw error;
        }
        const ms = Math.round(now() - started);
        const where = `${server.host}:${server.port}`;
        if (!result.ok) {
          failures.push(result.error);
          logger.warn(
            { server: where, error: result.error, detail: result.detail, transmissions: result.transmissions, ms, ...hint(result.error) },
            'RADIUS MFA: no usable answer from this server',
          );
          continue;
        }
        const { reply } = result;
        logger.debug({ server: where, user: username, code: reply.code, transmissions: result.transmissions, ms }, 'RADIUS MFA: answer');
        switch (reply.code) {
          case RadiusCode.AccessAccept:
            return { kind: 'accept' };
          case RadiusCode.AccessReject:
            return reply.replyMessage === undefined ? { kind: 'reject' } : { kind: 'reject', reason: reply.replyMessage };
          case RadiusCode.AccessChallenge:
            return { kind: 'challenge', message: reply.replyMessage ?? '', state: wrapState(serverIndex, reply.state) };
        }
      }
      const error = FAILURE_RANK.find((code) => failures.includes(code)) ?? 'radius_timeout';
      return { kind: 'unavailable', error };
    },
  };
}

/** What an operator should check, for the failures whose cause is usually the same. */
function hint(error: ExchangeFailureCode): { hint?: string } {
  switch (error) {
    case 'radius_bad_authenticator':
    case 'radius_bad_message_authenticator':
      return { hint: 'the shared secret in mfa.radius.secretFile differs from the one the RADIUS server has for this client' };
    case 'radius_timeout':
      return { hint: 'the server is down or filtered, or it drops our requests: servers silently drop requests whose Message-Authenticator does not verify, so check the shared secret and the client entry (source address) too' };
    default:
      return {};
  }
}

type SecretRead = { ok: true; value: Buffer } | { ok: false; problem: string };

async function readSecret(path: string): Promise<SecretRead> {
  try {
    return secretFromBytes(await readFile(path));
  } catch (error) {
    return unreadable(error);
  }
}

function readSecretSync(path: string): SecretRead {
  try {
    return secretFromBytes(readFileSync(path));
  } catch (error) {
    return unreadable(error);
  }
}

function secretFromBytes(bytes: Buffer): SecretRead {
  // One trailing newline is the editor's, not the secret's.
  let end = bytes.length;
  if (bytes[end - 1] === 0x0a) end -= bytes[end - 2] === 0x0d ? 2 : 1;
  if (end <= 0) return { ok: false, problem: 'the file is empty' };
  return { ok: true, value: Buffer.from(bytes.subarray(0, end)) };
}

function unreadable(error: unknown): SecretRead {
  const code = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
  return { ok: false, problem: `cannot read the file (${code})` };
}

function wrapState(serverIndex: number, radiusState: Buffer | undefined): Buffer {
  return Buffer.concat([Buffer.from([STATE_FORMAT, serverIndex]), radiusState ?? Buffer.alloc(0)]);
}

function unwrapState(state: Buffer, servers: number): { serverIndex: number; radiusState: Buffer | undefined } | undefined {
  if (state.length < 2 || state[0] !== STATE_FORMAT) return undefined;
  const serverIndex = state[1]!;
  if (serverIndex >= servers) return undefined;
  const radiusState = state.subarray(2);
  if (radiusState.length > MAX_ATTRIBUTE_VALUE_LENGTH) return undefined;
  return { serverIndex, radiusState: radiusState.length === 0 ? undefined : Buffer.from(radiusState) };
}
