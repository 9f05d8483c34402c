/**
 * Shared fixtures for the server suites: a throwaway self-signed certificate made with the
 * openssl CLI, a started server around the stub backend, a raw-socket LDAP client that speaks
 * through our own codec, and a bounded runner for Debian's ldap-utils.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLdapServer } from '../../../src/directory/managed/server/index.ts';
import type { LdapServer, LdapServerLimits, LdapServerLogger } from '../../../src/directory/managed/server/index.ts';
import { decodeMessage, needMoreData } from '../../../src/directory/managed/protocol/index.ts';
import type { LdapMessage } from '../../../src/directory/managed/protocol/index.ts';
import { StubBackend } from './stub-backend.ts';

export interface TestCertificate {
  dir: string;
  key: string;
  cert: string;
  certFile: string;
  cleanup(): void;
}

export function makeCertificate(): TestCertificate {
  const dir = mkdtempSync(path.join(tmpdir(), 'portico-ldap-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile],
    { stdio: 'ignore', timeout: 10_000 },
  );
  return { dir, key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LogLine {
  level: string;
  details: Record<string, unknown>;
  message: string;
}

export function recordingLogger(lines: LogLine[]): LdapServerLogger {
  const at = (level: string) => (details: Record<string, unknown>, message: string) => lines.push({ level, details, message });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Harness {
  server: LdapServer;
  backend: StubBackend;
  logs: LogLine[];
  ldapUrl: string;
  ldapsUrl: string;
  port: number;
}

export async function startServer(certificate: TestCertificate | null, options: { allowPlainLdap?: boolean; limits?: Partial<LdapServerLimits> } = {}): Promise<Harness> {
  const backend = new StubBackend();
  const logs: LogLine[] = [];
  const server = await createLdapServer({
    backend,
    ...(certificate && { tls: { key: certificate.key, cert: certificate.cert } }),
    listen: { host: '127.0.0.1', port: 0, ...(certificate && { ldapsPort: 0 }) },
    allowPlainLdap: options.allowPlainLdap ?? false,
    limits: { idleTimeoutMs: 20_000, ...options.limits },
    logger: recordingLogger(logs),
  });
  const port = server.address().port;
  return { server, backend, logs, port, ldapUrl: `ldap://127.0.0.1:${port}`, ldapsUrl: `ldaps://127.0.0.1:${server.ldapsAddress()?.port ?? 0}` };
}

/** A raw TCP client: sends bytes, collects decoded messages, notices the close. */
export class RawClient {
  readonly messages: LdapMessage[] = [];
  closed = false;
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const decoded = decodeMessage(this.buffer, { maxMessageBytes: 64 * 1024 * 1024 });
        if (decoded === needMoreData) break;
        this.messages.push(decoded.message);
        this.buffer = this.buffer.subarray(decoded.bytesConsumed);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits until `predicate` holds, bounded by `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the server');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  response(messageId: number): LdapMessage | undefined {
    return this.messages.find((m) => m.messageId === messageId && m.protocolOp.op !== 'searchResultEntry');
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an ldap-utils command with a hard timeout; never throws on a non-zero exit. */
export function runCli(command: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 10_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
