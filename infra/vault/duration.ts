/**
 * Vault's duration parsing (`parseutil.ParseDurationSecond`), as used by the token endpoints for
 * `ttl`, `explicit_max_ttl`, `period` and `increment`:
 *
 * - JSON numbers and integer strings are seconds (`7200`, `"7200"`);
 * - strings ending in `s`, `m`, `h` (or `ms`, `us`, `ns`) are Go durations (`"2h"`, `"1h30m"`, `"7200s"`, `"1.5h"`);
 * - strings ending in `d` are whole days (`"2d"`);
 * - `""`, `null` and a missing value mean 0.
 *
 * Results are whole seconds (Vault truncates sub-second parts when it reports TTLs).
 */

export class DurationParseError extends Error {}

const GO_UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** Seconds in `value`, or throws {@link DurationParseError} with a message shaped like Vault's. */
export function parseDurationSeconds(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DurationParseError('could not parse duration from input');
    return Math.trunc(value);
  }
  if (typeof value !== 'string') throw new DurationParseError('could not parse duration from input');
  const input = value.trim();
  if (input === '') return 0;
  if (/[smh]$/.test(input)) return Math.trunc(parseGoDuration(input));
  if (input.endsWith('d')) {
    const days = input.slice(0, -1);
    if (!/^[+-]?\d+$/.test(days))
      throw new DurationParseError(`strconv.ParseInt: parsing "${days}": invalid syntax`);
    return Number.parseInt(days, 10) * 86_400;
  }
  if (!/^[+-]?\d+$/.test(input))
    throw new DurationParseError(`strconv.ParseInt: parsing "${input}": invalid syntax`);
  return Number.parseInt(input, 10);
}

/** Go's time.ParseDuration, in (fractional) seconds. */
function parseGoDuration(input: string): number {
  const invalid = () => new DurationParseError(`time: invalid duration "${input}"`);
  let rest = input;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let total = 0;
  const part = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/;
  while (rest.length > 0) {
    const m = part.exec(rest);
    if (!m) throw invalid();
    const [whole, num, unit] = m as unknown as [string, string, string];
    total += Number.parseFloat(num) * (GO_UNIT_SECONDS[unit] ?? 0);
    rest = rest.slice(whole.length);
  }
  return sign * total;
}

/** A human form of a duration, like Go's `time.Duration.String()` ("2h0m0s"), for warnings. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.trunc(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}
