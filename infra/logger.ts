/** Structured JSON-lines logger on stderr. Level from LOG_LEVEL (debug|info|warn|error|silent; default warn). */
import { readEnvironment } from './environment.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

function levelFromEnv(): LogLevel {
  const v = (readEnvironment().logLevel ?? 'warn').toLowerCase();
  return v in ORDER ? (v as LogLevel) : 'warn';
}

export function createLogger(bound: Record<string, unknown> = {}, level: LogLevel = levelFromEnv()): Logger {
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < ORDER[level]) return;
    process.stderr.write(
      `${JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...bound, ...fields })}\n`,
    );
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ ...bound, ...fields }, level),
  };
}
