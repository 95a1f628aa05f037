import { ConfigError } from '../protocols/index.ts';

/** Parses `k=v` pairs; values that look like numbers or booleans become numbers or booleans. */
export function parseKeyValues(pairs: string[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new ConfigError(`expected key=value, got ${JSON.stringify(p)}`);
    const k = p.slice(0, i);
    const v = p.slice(i + 1);
    out[k] =
      v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return out;
}
