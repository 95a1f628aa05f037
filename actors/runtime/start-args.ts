/**
 * Readers of an actor's start arguments (`ctx.args`, from the command line, a supervisor spec or
 * JSON): values arrive as strings, numbers, booleans or arrays, and a missing value means "default".
 */
import { ConfigError } from '../../protocols/errors.ts';

/** Where a durable JetStream consumer starts the first time: new messages only, or the whole stream. */
export type StartFrom = 'new' | 'all';

/** A non-empty string, else undefined. */
export function argString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * A positive number (a number or a numeric string); `def` when absent or empty.
 * @throws ConfigError for anything else.
 */
export function argPositiveNumber(v: unknown, def: number): number {
  if (v === undefined || v === '') return def;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new ConfigError(`expected a positive number, got ${JSON.stringify(v)}`);
  return n;
}

/** A list: an array (items as strings) or a comma-separated string; empty items dropped. */
export function argList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String).filter(Boolean);
  if (typeof v === 'string')
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return [];
}

/**
 * `new` (the default) or `all`.
 * @throws ConfigError for anything else.
 */
export function argStartFrom(v: unknown): StartFrom {
  const startFrom = argString(v) ?? 'new';
  if (startFrom !== 'new' && startFrom !== 'all')
    throw new ConfigError(`startFrom must be "new" or "all", got ${JSON.stringify(startFrom)}`);
  return startFrom;
}
