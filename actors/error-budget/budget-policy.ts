/**
 * Error-budget policies: what a pipeline declares, the defaults, and the compiled form
 * (bucket width, window list, thresholds) shared by the pure evaluator, the in-memory
 * store and the Redis/Dragonfly Lua script. See docs/error-budgets.md.
 */
import { ConfigError } from '../../protocols/index.ts';
import { budgetFraction } from './burn-rate.ts';

/** Result of evaluating a budget: within budget, close to it, or over it. */
export type BudgetVerdict = 'ok' | 'warn' | 'breach';

/** Severity of a burn-rate pair. */
export type BurnRateSeverity = 'warn' | 'breach';

/** One multi-window alert: both windows must burn faster than `burnRate`. */
export interface BurnRatePair {
  /** Long window, written for the 30-day reference period (scaled by periodMs / 30 d). */
  longWindowMs: number;
  /** Short window, written for the 30-day reference period (scaled by periodMs / 30 d). */
  shortWindowMs: number;
  /** Burn-rate threshold; both windows must be strictly above it. Not scaled. */
  burnRate: number;
  severity: BurnRateSeverity;
}

/** (a) At most `maxErrors` errors over a sliding `windowMs`. */
export interface CountBudgetPolicy {
  kind: 'count';
  /** Errors allowed in the window; error number maxErrors + 1 is the breach (count > maxErrors). */
  maxErrors: number;
  windowMs: number;
  /** Warn once errors reach this fraction of maxErrors (rounded up, at least 1). Default {@link DEFAULT_WARN_FRACTION}. */
  warnFraction?: number;
  /** Bucket width override; default derived from the window (see {@link bucketWidthMs}). */
  bucketMs?: number;
}

/** (b) An SLO over `periodMs`, alerted on with multi-window, multi-burn-rate pairs. */
export interface SloBudgetPolicy {
  kind: 'slo';
  /** Target success ratio, 0 < slo < 1 (e.g. 0.99). Error budget = 1 - slo. */
  slo: number;
  /** Budget period; default {@link DEFAULT_SLO_PERIOD_MS} (30 d). Pair windows scale by periodMs / 30 d. */
  periodMs?: number;
  /** A pair only fires when its long window holds at least this many events. Default {@link DEFAULT_MIN_EVENTS}. */
  minEvents?: number;
  /** Default {@link DEFAULT_BURN_RATE_PAIRS}. */
  pairs?: readonly BurnRatePair[];
  /** Bucket width override; default derived from the shortest window (see {@link bucketWidthMs}). */
  bucketMs?: number;
}

export type BudgetPolicy = CountBudgetPolicy | SloBudgetPolicy;

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Count budget: warn at 80 % of maxErrors. */
export const DEFAULT_WARN_FRACTION = 0.8;
/** SLO budget period: 30 days. */
export const DEFAULT_SLO_PERIOD_MS = 30 * DAY_MS;
/** The period the burn-rate pair windows are written for (SRE workbook): 30 days. */
export const DEFAULT_REFERENCE_PERIOD_MS = 30 * DAY_MS;
/** Low-traffic guard: a pair's long window needs this many events before it may fire. */
export const DEFAULT_MIN_EVENTS = 10;
/** Bucket width = shortest window / this. */
export const DEFAULT_BUCKETS_PER_SHORTEST_WINDOW = 10;
/** Bucket width never goes below this. */
export const DEFAULT_MIN_BUCKET_MS = 100;
/** The longest window never spans more buckets than this (the width grows instead). */
export const DEFAULT_MAX_BUCKETS = 10_000;
/** Prefix of every budget key in Redis/Dragonfly. */
export const DEFAULT_KEY_PREFIX = 'agov:budget';

/** SRE workbook, "Alerting on SLOs", multiwindow multi-burn-rate table for a 30-day budget. */
export const DEFAULT_BURN_RATE_PAIRS: readonly BurnRatePair[] = Object.freeze([
  { longWindowMs: 1 * HOUR_MS, shortWindowMs: 5 * MINUTE_MS, burnRate: 14.4, severity: 'breach' },
  { longWindowMs: 6 * HOUR_MS, shortWindowMs: 30 * MINUTE_MS, burnRate: 6, severity: 'breach' },
  { longWindowMs: 3 * DAY_MS, shortWindowMs: 6 * HOUR_MS, burnRate: 1, severity: 'warn' },
] as const);

/** A pair after scaling, with indexes into {@link CompiledBudget.windowsMs}. */
export interface CompiledPair {
  longWindowMs: number;
  shortWindowMs: number;
  longIndex: number;
  shortIndex: number;
  burnRate: number;
  severity: BurnRateSeverity;
}

interface CompiledCommon {
  /** Width of one time bucket. */
  bucketMs: number;
  /** Distinct window lengths, ascending. Counts are always reported in this order. */
  windowsMs: readonly number[];
  /** Buckets summed per window: ceil(windowMs / bucketMs). */
  windowBuckets: readonly number[];
  /** Key TTL: longest window + one bucket (garbage collection only; pruning uses Clock time). */
  ttlMs: number;
}

export interface CompiledCountBudget extends CompiledCommon {
  kind: 'count';
  maxErrors: number;
  windowMs: number;
  /** Verdict is warn at errors >= warnAt. */
  warnAt: number;
  /** Verdict is breach at errors >= breachAt (= maxErrors + 1). */
  breachAt: number;
}

export interface CompiledSloBudget extends CompiledCommon {
  kind: 'slo';
  slo: number;
  /** 1 - slo, rounded (see burn-rate.ts budgetFraction). The Lua script gets this, not slo. */
  budgetFraction: number;
  periodMs: number;
  minEvents: number;
  pairs: readonly CompiledPair[];
}

export type CompiledBudget = CompiledCountBudget | CompiledSloBudget;

/** Scales a window written for the reference period to `periodMs` (rounded, at least 1 ms). */
export function scaleWindowMs(
  windowMs: number,
  periodMs: number,
  referencePeriodMs = DEFAULT_REFERENCE_PERIOD_MS,
): number {
  return Math.max(1, Math.round((windowMs * periodMs) / referencePeriodMs));
}

/**
 * Bucket width for a set of windows: shortest / {@link DEFAULT_BUCKETS_PER_SHORTEST_WINDOW}, at least
 * {@link DEFAULT_MIN_BUCKET_MS} (but never wider than the shortest window), widened so the longest
 * window spans at most {@link DEFAULT_MAX_BUCKETS} buckets.
 */
export function bucketWidthMs(windowsMs: readonly number[]): number {
  const shortest = Math.min(...windowsMs);
  const longest = Math.max(...windowsMs);
  let width = Math.floor(shortest / DEFAULT_BUCKETS_PER_SHORTEST_WINDOW);
  width = Math.max(width, Math.min(DEFAULT_MIN_BUCKET_MS, shortest));
  width = Math.max(width, Math.ceil(longest / DEFAULT_MAX_BUCKETS));
  return Math.max(1, width);
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ConfigError(`error budget: ${name} must be a positive integer, got ${String(v)}`, {
      details: { [name]: v },
    });
  }
  return v;
}

function nonNegativeInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new ConfigError(`error budget: ${name} must be a non-negative integer, got ${String(v)}`, {
      details: { [name]: v },
    });
  }
  return v;
}

function fraction(name: string, v: unknown, { open }: { open: boolean }): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (open ? v > 0 && v < 1 : v > 0 && v <= 1);
  if (!ok) {
    throw new ConfigError(
      `error budget: ${name} must be a number in ${open ? '(0, 1)' : '(0, 1]'}, got ${String(v)}`,
      {
        details: { [name]: v },
      },
    );
  }
  return v as number;
}

function common(windows: number[], bucketOverride: number | undefined): CompiledCommon {
  const windowsMs = [...new Set(windows)].sort((a, b) => a - b);
  const bucketMs =
    bucketOverride === undefined ? bucketWidthMs(windowsMs) : positiveInt('bucketMs', bucketOverride);
  const windowBuckets = windowsMs.map((w) => Math.ceil(w / bucketMs));
  const longest = windowsMs[windowsMs.length - 1]!;
  return { bucketMs, windowsMs, windowBuckets, ttlMs: longest + bucketMs };
}

/**
 * Validates a policy, fills in defaults and derives everything the evaluator and the stores need.
 * Throws ConfigError (GOV_ERR_CONFIG) on an invalid policy.
 */
export function compileBudget(policy: BudgetPolicy): CompiledBudget {
  if (policy.kind === 'count') {
    const maxErrors = nonNegativeInt('maxErrors', policy.maxErrors);
    const windowMs = positiveInt('windowMs', policy.windowMs);
    const warnFraction = fraction('warnFraction', policy.warnFraction ?? DEFAULT_WARN_FRACTION, {
      open: false,
    });
    // 1e-9 absorbs float noise (0.3 * 10 = 3.0000000000000004 must give 3, not 4).
    const warnAt = Math.max(1, Math.ceil(warnFraction * maxErrors - 1e-9));
    return {
      kind: 'count',
      maxErrors,
      windowMs,
      warnAt,
      breachAt: maxErrors + 1,
      ...common([windowMs], policy.bucketMs),
    };
  }
  if (policy.kind === 'slo') {
    const slo = fraction('slo', policy.slo, { open: true });
    const periodMs = positiveInt('periodMs', policy.periodMs ?? DEFAULT_SLO_PERIOD_MS);
    const minEvents = nonNegativeInt('minEvents', policy.minEvents ?? DEFAULT_MIN_EVENTS);
    const rawPairs = policy.pairs ?? DEFAULT_BURN_RATE_PAIRS;
    if (rawPairs.length === 0)
      throw new ConfigError('error budget: an SLO budget needs at least one burn-rate pair');
    const scaled = rawPairs.map((p, i) => {
      positiveInt(`pairs[${i}].longWindowMs`, p.longWindowMs);
      positiveInt(`pairs[${i}].shortWindowMs`, p.shortWindowMs);
      if (!(typeof p.burnRate === 'number' && Number.isFinite(p.burnRate) && p.burnRate > 0)) {
        throw new ConfigError(`error budget: pairs[${i}].burnRate must be a positive number`, {
          details: { burnRate: p.burnRate },
        });
      }
      if (p.severity !== 'warn' && p.severity !== 'breach') {
        throw new ConfigError(`error budget: pairs[${i}].severity must be 'warn' or 'breach'`, {
          details: { severity: p.severity },
        });
      }
      return {
        longWindowMs: scaleWindowMs(p.longWindowMs, periodMs),
        shortWindowMs: scaleWindowMs(p.shortWindowMs, periodMs),
        burnRate: p.burnRate,
        severity: p.severity,
      };
    });
    const c = common(
      scaled.flatMap((p) => [p.longWindowMs, p.shortWindowMs]),
      policy.bucketMs,
    );
    const pairs = scaled.map((p) => ({
      ...p,
      longIndex: c.windowsMs.indexOf(p.longWindowMs),
      shortIndex: c.windowsMs.indexOf(p.shortWindowMs),
    }));
    return { kind: 'slo', slo, budgetFraction: budgetFraction(slo), periodMs, minEvents, pairs, ...c };
  }
  throw new ConfigError(`error budget: unknown kind ${String((policy as { kind: unknown }).kind)}`);
}
