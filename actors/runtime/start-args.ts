/**
 * Start arguments, Temporal style: options → defaults → compiled. Each actor kind declares one zod
 * schema for its arguments (`ActorKind.args`) with every default in it (a `DEFAULT_*` constant, unit
 * in the name); `runActor` parses the arguments with it before `start`, so a behaviour only ever sees
 * typed, complete arguments (`ctx.args`), and a bad value is a ConfigError at start naming the option
 * — never a NaN found later. What a kind derives from its arguments (paths resolved, lists split) is
 * computed from `ctx.args` in its own options file.
 *
 * Arguments come from a supervisor's child spec (JSON: numbers, booleans, arrays) or from
 * `agov actor --arg k=v` and the environment (text): the field builders below accept both, and an
 * empty or null value means "not given" (the default applies).
 */
import { z } from 'zod';
import { ConfigError } from '../../protocols/vocabulary/errors.ts';

/** Where a durable JetStream consumer starts the first time: new messages only, or the whole stream. */
export type StartFrom = 'new' | 'all';

/** Numeric text becomes its number; anything else is left for the schema to refuse as it is. */
const numeric = (v: unknown) => {
  if (typeof v !== 'string' || v.trim() === '') return v;
  const n = Number(v);
  return Number.isNaN(n) ? v : n;
};

/** Field builders for start-argument schemas. */
export const arg = {
  /** Non-empty text; a number (as `--arg k=123` parses it) counts as its text. */
  text: () =>
    z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string().min(1, 'must not be empty')),
  /** An integer in [min, max]; numeric text is accepted. */
  int: (min = 0, max = Number.MAX_SAFE_INTEGER) => z.preprocess(numeric, z.number().int().min(min).max(max)),
  /** A positive integer number of milliseconds (or of anything else counted). */
  positive: () => z.preprocess(numeric, z.number().int().positive()),
  /** true/false, also as the text `true`/`false`/`1`/`0`. */
  bool: () =>
    z.preprocess(
      (v) =>
        v === 'true' || v === '1' || v === 1 ? true : v === 'false' || v === '0' || v === 0 ? false : v,
      z.boolean(),
    ),
  /** A list of non-empty strings: an array, or comma-separated text (empty items dropped). */
  list: () =>
    z.preprocess(
      (v) =>
        typeof v === 'string'
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : v,
      z.array(z.string().min(1)),
    ),
  /** `new` (the default) or `all`. */
  startFrom: () => z.enum(['new', 'all']).default('new'),
};

/** The schema of a kind that takes no start arguments (any given is a mistake, and refused). */
export const NO_START_ARGS = z.strictObject({});

function describeIssue(
  issue: z.core.$ZodIssue,
  raw: Readonly<Record<string, unknown>>,
): {
  option: string;
  problem: string;
} {
  if (issue.code === 'unrecognized_keys')
    return { option: issue.keys.join(', '), problem: 'is not an option of this kind' };
  const message = issue.message.replace(/^Invalid input: /, '');
  const option = issue.path.map(String).join('.') || '(arguments)';
  const top = issue.path[0];
  const given = typeof top === 'string' && top in raw ? `, got ${JSON.stringify(raw[top])}` : '';
  return { option, problem: `${message}${given}` };
}

/**
 * Parses raw start arguments with a kind's schema: empty/null values dropped (they mean "default"),
 * then validated and completed with the defaults.
 * @throws ConfigError naming the first bad option (`details.option`), all problems in `details.issues`.
 */
export function parseStartArgs<A>(
  kind: string,
  schema: z.ZodType<A>,
  raw: Readonly<Record<string, unknown>> | undefined,
): A {
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw ?? {})) if (v !== undefined && v !== null && v !== '') given[k] = v;
  const r = schema.safeParse(given);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => describeIssue(i, given));
  const first = issues[0]!;
  throw new ConfigError(`actor kind ${kind}: option ${first.option}: ${first.problem}`, {
    details: { kind, option: first.option, issues },
  });
}
