/**
 * `${{ params.NAME }}` references: finding them, checking where typed values may go,
 * and substituting values.
 *
 * A string that is exactly one reference placed in a typed field (a number field such as
 * `timeoutMs`, or a value of `with:` / a pipeline task's `params`) takes the parameter's
 * value with its type. Anywhere else a reference is replaced by the value as text.
 */
import type { Path } from './source-locator.ts';
import type { Scalar } from './schema.ts';

const REF = /\$\{\{(.*?)\}\}/g;
const PARAM_EXPR = /^\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*$/;
const WHOLE_REF = /^\$\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;

export interface RefOccurrence {
  /** The reference as written, `${{ params.x }}`. */
  text: string;
  /** The parameter name; undefined when the expression is not `params.NAME`. */
  name: string | undefined;
}

export function findRefs(s: string): RefOccurrence[] {
  const out: RefOccurrence[] = [];
  for (const m of s.matchAll(REF)) {
    out.push({ text: m[0], name: PARAM_EXPR.exec(m[1] ?? '')?.[1] });
  }
  return out;
}

/** The parameter name when `s` is exactly one reference, else undefined. */
export function wholeRef(s: string): string | undefined {
  return WHOLE_REF.exec(s)?.[1];
}

export function hasRef(s: string): boolean {
  return s.includes('${{');
}

/** Number fields of a stage (relative to the stage) that accept a whole reference. */
const NUMERIC_FIELDS = new Set([
  'timeoutMs',
  'scheduleToStartMs',
  'retries.max',
  'retries.backoffMs',
  'retries.factor',
  'retries.maxBackoffMs',
  'task.ms',
  'task.timeoutMs',
  'task.maxOutputBytes',
  'task.expectStatus',
]);

/** True for a stage field that holds a number (and so takes a whole reference only). */
export function isNumericField(path: Path): boolean {
  return NUMERIC_FIELDS.has(path.map(String).join('.'));
}

/** True where a whole reference keeps the parameter's type. */
export function isTypedField(path: Path): boolean {
  if (isNumericField(path)) return true;
  return (
    (path.length === 2 && path[0] === 'with') ||
    (path.length === 3 && path[0] === 'task' && path[1] === 'params')
  );
}

/** Deep copy of `value` with every string passed through `fn` (with its path). */
export function mapStrings(value: unknown, fn: (s: string, path: Path) => unknown, path: Path = []): unknown {
  if (typeof value === 'string') return fn(value, path);
  if (Array.isArray(value)) return value.map((v, i) => mapStrings(v, fn, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapStrings(v, fn, [...path, k]);
    return out;
  }
  return value;
}

/** Calls `fn` for every string in `value`, with its path. */
export function forEachString(value: unknown, fn: (s: string, path: Path) => void): void {
  mapStrings(value, (s, p) => {
    fn(s, p);
    return s;
  });
}

/**
 * Replaces the references whose parameter `lookup` knows; others are left as written.
 * In a typed field a whole reference becomes the typed value.
 */
export function substitute(s: string, path: Path, lookup: (name: string) => Scalar | undefined): Scalar {
  if (!hasRef(s)) return s;
  const whole = wholeRef(s);
  if (whole !== undefined && isTypedField(path)) {
    const v = lookup(whole);
    return v === undefined ? s : v;
  }
  return s.replace(REF, (text, expr: string) => {
    const name = PARAM_EXPR.exec(expr)?.[1];
    const v = name === undefined ? undefined : lookup(name);
    return v === undefined ? text : String(v);
  });
}

/** Deep copy of a stage (or `uses:` entry) with references substituted. */
export function substituteDeep<T>(value: T, lookup: (name: string) => Scalar | undefined): T {
  return mapStrings(value, (s, p) => substitute(s, p, lookup)) as T;
}
