/**
 * The instance's logger: JSON lines for machines (a service manager, a pipe, a log shipper), and
 * human-readable lines when a person watches a terminal. `log.format` ('auto', 'json', 'pretty')
 * overrides the guess; PORTICO_LOG__FORMAT sets it from the environment.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogFormat, LogLevel } from '#src/config/index.ts';

export function loggerFormat(format: LogFormat, isTerminal: boolean): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return isTerminal ? 'pretty' : 'json';
}

/**
 * With a destination given (tests, embedding) it is written to as is, in JSON unless 'pretty' is
 * asked for explicitly; otherwise standard output. Pretty output is written synchronously, so
 * that the last lines before an exit are not lost.
 */
export function createLogger(log: { level: LogLevel; format: LogFormat }, destination?: DestinationStream): Logger {
  const format = loggerFormat(log.format, destination === undefined && process.stdout.isTTY === true);
  if (format === 'pretty') {
    const stream = pretty({ colorize: destination === undefined && process.stdout.isTTY === true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', ...(destination ? { destination } : {}) });
    return pino({ level: log.level }, stream);
  }
  return pino({ level: log.level }, destination);
}
