import pino, { type Logger } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured JSON lines on stderr (stdout is kept for the CLI's own output). */
export function createLogger(level: LogLevel, destination: number | string = 2): Logger {
  return pino(
    { level, base: { service: 'ledgerctl' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destination, sync: false }),
  );
}
