/**
 * Audit events forwarded to syslog as they are recorded (RFC 5424 over UDP, one datagram per
 * event, the message being the event as `portico audit export` prints it). Fire and forget: the
 * audit log in the database stays the record; a syslog server that is down loses datagrams,
 * never a sign-in. Send errors are logged at most once a minute.
 */
import { createSocket, type Socket } from 'node:dgram';
import { hostname } from 'node:os';
import type { AuditEvent, AuditLog } from '#src/audit/index.ts';

export interface SyslogOptions {
  host: string;
  port: number;
  /** RFC 5424 facility number; 10 (authpriv) by default. */
  facility: number;
  appName: string;
}

const SEVERITY = { success: 6, failure: 5 } as const; // informational, notice
const printable = (text: string, max: number): string => (text.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-');

export function formatSyslog(event: AuditEvent, options: Pick<SyslogOptions, 'facility' | 'appName'>, host = hostname()): string {
  const pri = options.facility * 8 + SEVERITY[event.outcome];
  const message = JSON.stringify({ ...event, occurredAt: event.occurredAt.toISOString() });
  return `<${pri}>1 ${event.occurredAt.toISOString()} ${printable(host, 255)} ${printable(options.appName, 48)} ${process.pid} ${printable(event.action, 32)} - ${message}`;
}

export interface SyslogForwarder {
  send(event: AuditEvent): void;
  close(): Promise<void>;
}

export function createSyslogForwarder(options: SyslogOptions, warn: (message: string, error: unknown) => void): SyslogForwarder {
  const socket: Socket = createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
  socket.unref();
  let lastWarning = 0;
  const failed = (error: unknown): void => {
    if (Date.now() - lastWarning < 60_000) return;
    lastWarning = Date.now();
    warn(`audit events could not be sent to syslog at ${options.host}:${options.port}`, error);
  };
  socket.on('error', failed);
  return {
    send(event) {
      const datagram = Buffer.from(formatSyslog(event, options));
      socket.send(datagram, options.port, options.host, (error) => {
        if (error) failed(error);
      });
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** The audit log, each recorded event also sent to syslog. */
export function forwardedAuditLog(audit: AuditLog, forwarder: SyslogForwarder | null): AuditLog {
  if (forwarder === null) return audit;
  return {
    async record(event) {
      const recorded = await audit.record(event);
      forwarder.send(recorded);
      return recorded;
    },
    list: (query) => audit.list(query),
  };
}
